// The explorer: wires the views to window.loupe. It holds no model logic; every number it
// shows comes from a call of the public API, exactly as an embedding host would make it.

import { renderTokens } from './views/tokens.js';
import { renderTopK } from './views/topk.js';
import { createAttentionView } from './views/attention.js';
import { createPromptPanel } from './views/prompt.js';
import { createGeneratePanel } from './views/generate.js';
import { createTabs } from './views/tabs.js';
import { createLensView } from './views/lens.js';
import { createDlaView } from './views/dla.js';
import { createPatchingView } from './views/patching.js';
import { createHeadsView } from './views/heads.js';
import { createAblationView } from './views/ablation.js';
import { createPairView } from './views/pair.js';
import { createNeuronView } from './views/neuron.js';
import { createAttributionView } from './views/attribution.js';
import { createSteeringView } from './views/steering.js';
import { createFeaturesView, readSaeFiles, FEATURES_PER_TOKEN } from './views/features.js';
import { promptDashboard } from './views/saetrain.js';
import { createProbesView } from './views/probes.js';
import { el } from './views/format.js';

export const DEFAULT_PROMPT = 'The Eiffel Tower is located in the city of';
const TOP_K = 10;
const ALL_PATTERNS = 'blocks.*.attn.hook_pattern';
const patternName = (layer) => `blocks.${layer}.attn.hook_pattern`;
/** Up to this many tokens, one run captures every layer's pattern (30 × 9 × n² floats:
 *  ~70 MB at 256); longer prompts fetch one layer at a time, on demand. */
const CAPTURE_ALL_MAX_TOKENS = 256;
/** Indirect object identification (Wang et al. 2022): the model should answer " Mary"; the
 *  corrupted prompt swaps the repeated name, so the same circuit now points at " John". */
export const IOI_EXAMPLE = Object.freeze({
  clean: 'When Mary and John went to the store, John gave a drink to',
  corrupted: 'When Mary and John went to the store, Mary gave a drink to',
  token: ' Mary',
  minus: ' John',
});
/** The minimal-pair partner of the default prompt: the same sentence about another landmark. */
export const DEFAULT_PAIR = 'The Colosseum is located in the city of';
/** Inputs per batched pass of an attribution in the explorer: few, so the progress bar moves
 *  and Stop answers within a second or two, and at most about 256 tokens' worth (what the
 *  wasm side batches by itself when not told, for memory). */
const ATTRIBUTION_BATCH = 8;
const ATTRIBUTION_BATCH_TOKENS = 256;
/** The ablation the IOI example sets up: the name-mover head with the largest direct effect. */
const IOI_ABLATION = Object.freeze({ component: { kind: 'head', layer: 23, head: 3 }, method: 'zero' });
/** A prompt whose continuation carries a sentiment, for the Steering tab's example direction. */
export const FILM_PROMPT = 'I went to see the film last night and I thought it was';

/**
 * @param {Document} doc
 * @param {{loupe: import('./api.js').Loupe, status: object, saeUrl: string}} deps  window.loupe, the header
 *   status view, and the folder of the SAE the Features tab loads on first use
 */
export function createExplorer(doc, { loupe, status, saeUrl }) {
  const root = doc.querySelector('main');
  const tokensView = doc.getElementById('tokens');
  const topkView = doc.getElementById('topk');
  const attentionContainer = doc.getElementById('attention');
  const promptPanel = createPromptPanel(doc.getElementById('prompt-panel'), {
    prompt: DEFAULT_PROMPT,
    // SmolLM2's tokenizer adds no BOS, and the reference numbers (" Paris", p ≈ 0.70) are
    // without one; TransformerLens's habit of prepending it is one click away.
    prependBos: false,
    onRun: run,
  });
  const generatePanel = createGeneratePanel(doc.getElementById('generate-panel'), {
    onGenerate: generate,
    onStop: () => {
      stopRequested = true;
    },
  });

  // The analyses: each reads the page prompt, so one prompt can be seen through all of them.
  const ioiButton = el('button', { type: 'button', id: 'ioi-example', disabled: true, title: IOI_EXAMPLE.clean }, 'Try the IOI example');
  ioiButton.onclick = () => ioiExample();
  const tabs = createTabs(doc.getElementById('analyses'), {
    tabs: [
      { id: 'lens', title: 'Logit lens' },
      { id: 'dla', title: 'Logit attribution' },
      { id: 'attribution', title: 'Input attribution' },
      { id: 'patching', title: 'Activation patching' },
      { id: 'heads', title: 'Head detectors' },
      { id: 'ablation', title: 'Ablation' },
      { id: 'pair', title: 'Minimal pair' },
      { id: 'neuron', title: 'Neuron' },
      { id: 'steering', title: 'Steering' },
      { id: 'features', title: 'Features' },
      { id: 'probes', title: 'Probes' },
    ],
    aside: ioiButton,
    onSelect: (id) => {
      if (id !== 'features') return;
      saeWanted = true;
      loadSaeOnFirstUse();
    },
  });
  const lens = createLensView(tabs.panels.lens, { onRun: runLens });
  const dla = createDlaView(tabs.panels.dla, { onRun: runDla });
  const attribution = createAttributionView(tabs.panels.attribution, {
    onRun: runAttribution,
    onCompare: compareAttributions,
    onStop: () => attributionAbort?.abort(),
  });
  const patching = createPatchingView(tabs.panels.patching, {
    onRun: runPatching,
    onEstimate: runAttributionPatching,
    onStop: () => patchAbort?.abort(),
  });
  const heads = createHeadsView(tabs.panels.heads, {
    onRun: runHeads,
    onSelect: (layer, head) => {
      attentionContainer.scrollIntoView({ block: 'nearest' });
      attention?.select(layer, head);
    },
  });
  const ablation = createAblationView(tabs.panels.ablation, { onRun: runAblation });
  const pair = createPairView(tabs.panels.pair, { onRun: runPair });
  const neuron = createNeuronView(tabs.panels.neuron, { onRun: runNeuron });
  const steering = createSteeringView(tabs.panels.steering, {
    onRun: runSteering,
    onStop: () => steerAbort?.abort(),
    onExample: async () => {
      promptPanel.setPrompt(FILM_PROMPT);
      await run();
    },
    example: FILM_PROMPT,
  });
  const features = createFeaturesView(tabs.panels.features, {
    saeUrl,
    onLoadUrl: (url) => loadSae({ url }, { label: url }),
    onLoadFiles: loadSaeFiles,
    onRun: runFeatures,
    onSelect: showFeature,
    onClamp: () => runFeatureClamp(),
    onAblate: () => runFeatureClamp(0),
    onToSteer: () => {
      if (!shownFeature) return;
      const layer = Number(/^blocks\.(\d+)\.hook_resid_pre$/.exec(sae?.cfg?.hook_name ?? '')?.[1] ?? 12);
      steering.setVector({
        vector: shownFeature.info.decoder,
        layer,
        note: `SAE feature ${shownFeature.feature}'s decoder row (W_dec[${shownFeature.feature}], norm ` +
          `${shownFeature.info.decoderNorm.toFixed(2)}) from the Features tab: adding it pushes the residual stream at ` +
          `${sae?.cfg?.hook_name ?? 'its hook'} the way the feature firing would.`,
      });
      tabs.select('steering');
    },
    onStop: () => featureAbort?.abort(),
    onTrain: trainSae,
    onTrainStop: () => trainAbort?.abort(),
  });
  const probes = createProbesView(tabs.panels.probes, {
    onRun: runProbes,
    onUse: (probe, labels) => {
      steering.setVector({
        vector: probe.massMeanDirection,
        layer: probe.layer,
        note: `The layer-${probe.layer} probe from the Probes tab (held-out accuracy ${Math.round(probe.testAccuracy * 100)}%), ` +
          `as its mass-mean direction (the training sets’ mean difference; Marks & Tegmark 2023): + pushes towards ` +
          `${labels.positive}, − towards ${labels.negative}. The logistic regression’s own weights separate the sets but lean ` +
          'on dimensions that barely vary, and steer poorly (they are in the probe result as `direction`).',
      });
      tabs.select('steering');
    },
  });
  pair.suggest(DEFAULT_PAIR); // the page starts on the default prompt

  let attention = null;
  let modelReady = false;
  let busy = 0; // tasks in flight
  let stopRequested = false;
  let patchAbort = null; // the AbortController of the patching sweep in progress
  let attributionAbort = null; // the AbortController of the attribution (or comparison) in progress
  let steerAbort = null; // the AbortController of the steering run in progress
  let featureAbort = null; // the AbortController of the feature-clamped generation in progress
  let trainAbort = null; // the AbortController of the SAE training in progress
  let saeWanted = false; // the Features tab has been opened: load its SAE once a model is ready
  let saeTried = false; // the first-use load has been started (it is not retried by itself)
  let sae = null; // the loaded SAE: {cfg, dashboard | null, trained?: true}
  let shownFeature = null; // {feature, info} of the dashboard on show
  let runCount = 0;

  function refresh() {
    const enabled = modelReady && busy === 0;
    for (const view of [promptPanel, generatePanel, lens, dla, attribution, patching, heads, ablation, pair, neuron, steering, features, probes]) view.setEnabled(enabled);
    ioiButton.disabled = !enabled;
    root.dataset.busy = String(busy > 0);
    root.setAttribute('aria-busy', String(busy > 0));
  }

  async function run() {
    const { prompt, prependBos } = promptPanel.value();
    root.dataset.runState = 'running';
    promptPanel.setTiming('Running…');
    const started = performance.now();
    await whileBusy(async () => {
      try {
        const tokens = await loupe.tokenize({ prompt, prependBos });
        renderTokens(tokensView, tokens);
        // Long prompts capture only the layer on show; others are fetched when selected.
        const layer = attention?.layer() ?? 0;
        const capture = [tokens.length <= CAPTURE_ALL_MAX_TOKENS ? ALL_PATTERNS : patternName(layer)];
        const result = await loupe.run({ prompt, prependBos, topK: TOP_K, capture });
        const ms = performance.now() - started;
        renderTokens(tokensView, result.tokens);
        renderTopK(topkView, result.top);
        // The analyses default to the prediction just made: its top-1 (against its top-2).
        const [first, second] = result.top.map((t) => t.token);
        lens.suggestTarget(first ?? '');
        dla.suggest(first ?? '', second ?? '');
        attribution.suggest(first ?? '', second ?? '');
        patching.suggest(first ?? '', second ?? '');
        ablation.suggest(first ?? '', second ?? '');
        if (prompt === DEFAULT_PROMPT) pair.suggest(DEFAULT_PAIR);
        status.clear();
        promptPanel.setTiming(`${result.tokens.length} tokens · ${Math.round(ms)} ms`);
        root.dataset.runState = 'done';
        root.dataset.runCount = String(++runCount);
        const patterns = new Map();
        for (const [name, activation] of Object.entries(result.activations ?? {})) {
          const match = /^blocks\.(\d+)\.attn\.hook_pattern$/.exec(name);
          if (match) patterns.set(Number(match[1]), activation);
        }
        await attention?.show({
          tokens: result.tokens,
          pattern: async (l) => patterns.get(l) ?? (await whileBusy(() => patternOf(l, prompt, prependBos))),
        });
      } catch (error) {
        status.error(`Run failed: ${error.message}`);
        promptPanel.setTiming('');
        root.dataset.runState = 'error';
      }
    });
  }

  /** Runs `task` with Run/Generate disabled; nests (a layer fetched during a run). */
  async function whileBusy(task) {
    busy += 1;
    refresh();
    try {
      return await task();
    } finally {
      busy -= 1;
      refresh();
    }
  }

  async function patternOf(layer, prompt, prependBos) {
    const result = await loupe.run({ prompt, prependBos, topK: 1, capture: [patternName(layer)] });
    return result.activations[patternName(layer)];
  }

  async function generate(settings) {
    const { prompt, prependBos } = promptPanel.value();
    stopRequested = false;
    generatePanel.start(prompt);
    let count = 0;
    let streamed = '';
    const started = performance.now();
    await whileBusy(async () => {
      try {
        const result = await loupe.generate({ prompt, prependBos, ...settings }, (token) => {
          count += 1;
          streamed += token.text;
          generatePanel.append(token);
          return stopRequested ? false : undefined;
        });
        status.clear();
        generatePanel.finish({
          text: generatedText(result, prompt, streamed),
          count,
          ms: performance.now() - started,
          stopped: Boolean(result.stopped),
          maxTokens: settings.maxTokens,
        });
      } catch (error) {
        status.error(`Generation failed: ${error.message}`);
        generatePanel.fail(error.message);
      }
    });
  }

  /** Runs one analysis of the page prompt: `view` shows progress, the result or the error.
   *  @param {{running: Function, show: Function, fail: Function}} view
   *  @param {string} name
   *  @param {(request: {prompt: string, prependBos: boolean}) => Promise<any>} task */
  async function analysis(view, name, task) {
    const { prompt, prependBos } = promptPanel.value();
    view.running();
    const started = performance.now();
    await whileBusy(async () => {
      try {
        const result = await task({ prompt, prependBos });
        status.clear();
        view.show(result, performance.now() - started);
      } catch (error) {
        status.error(`${name} failed: ${error.message}`);
        view.fail(error.message);
      }
    });
  }

  function runLens() {
    const { target } = lens.value();
    return analysis(lens, 'Logit lens', (request) => loupe.logitLens({ ...request, ...(target ? { target } : {}) }));
  }

  function runDla() {
    const { token, minus } = dla.value();
    return analysis(dla, 'Logit attribution', (request) => loupe.dla({ ...request, token, ...(minus ? { minus } : {}) }));
  }

  function runHeads() {
    return analysis(heads, 'Head detection', (request) => loupe.detectHeads(request));
  }

  /** The page prompt is the one ablated; resample takes the reference prompt's activation,
   *  mean_reference the mean over the reference prompts. */
  function runAblation() {
    return analysis(ablation, 'Ablation', (request) => loupe.ablate({ ...request, ...ablation.value() }));
  }

  /** The page prompt is prompt A. */
  function runPair() {
    return analysis(pair, 'Minimal pair', ({ prompt, prependBos }) => loupe.minimalPair({ a: prompt, b: pair.value().b, prependBos }));
  }

  function runNeuron() {
    return analysis(neuron, 'Neuron view', (request) => loupe.neuronView({ ...request, ...neuron.value() }));
  }

  /** The page prompt is the clean run; the sweep reports each layer and stops on request. */
  async function runPatching() {
    const { prompt, prependBos } = promptPanel.value();
    const { corrupted, metric, site } = patching.value();
    patchAbort = new AbortController();
    const { signal } = patchAbort;
    patching.start();
    const started = performance.now();
    await whileBusy(async () => {
      try {
        const request = { clean: prompt, corrupted, metric, site, prependBos, signal };
        const result = await loupe.patch(request, (partial) => patching.progress(partial));
        status.clear();
        patching.finish(result, performance.now() - started);
      } catch (error) {
        status.error(`Activation patching failed: ${error.message}`);
        patching.fail(error.message);
      }
    });
  }

  /** The page prompt is attributed; each batch of passes is reported, and Stop ends the run
   *  after the batch in progress. */
  async function runAttribution() {
    const { prompt, prependBos } = promptPanel.value();
    attributionAbort = new AbortController();
    const { signal } = attributionAbort;
    const started = performance.now();
    await whileBusy(async () => {
      try {
        const request = attribution.value();
        attribution.start(request);
        const batch = await attributionBatch(prompt, prependBos);
        const result = await loupe.attribute(
          { prompt, prependBos, ...request, params: { ...request.params, batch } },
          { signal, onProgress: (p) => attribution.progress(p) },
        );
        status.clear();
        attribution.finish(result, performance.now() - started);
      } catch (error) {
        status.error(`Attribution failed: ${error.message}`);
        attribution.fail(error.message);
      }
    });
  }

  /** Every attribution method in turn on the page prompt and the same target, one row each;
   *  Stop ends the method in progress and skips the rest. */
  async function compareAttributions() {
    const { prompt, prependBos } = promptPanel.value();
    attributionAbort = new AbortController();
    const { signal } = attributionAbort;
    const started = performance.now();
    await whileBusy(async () => {
      try {
        const requests = attribution.compareRequests();
        attribution.startCompare(requests);
        const batch = await attributionBatch(prompt, prependBos);
        for (const [i, request] of requests.entries()) {
          if (signal.aborted) break;
          const onProgress = (p) => attribution.compareProgress(i, p);
          const result = await loupe.attribute({ prompt, prependBos, ...request, params: { ...request.params, batch } }, { signal, onProgress });
          attribution.compareRow(i, result);
        }
        status.clear();
        attribution.finishCompare(performance.now() - started, signal.aborted);
      } catch (error) {
        status.error(`Attribution failed: ${error.message}`);
        attribution.fail(error.message);
      }
    });
  }

  async function attributionBatch(prompt, prependBos) {
    const tokens = await loupe.tokenize({ prompt, prependBos });
    return Math.max(1, Math.min(ATTRIBUTION_BATCH, Math.floor(ATTRIBUTION_BATCH_TOKENS / Math.max(1, tokens.length))));
  }

  /** Attribution patching of the patching tab's prompts and metric: the gradient estimate of
   *  every site at once, shown beside the real sweep. */
  async function runAttributionPatching() {
    const { prompt, prependBos } = promptPanel.value();
    const { corrupted, metric } = patching.value();
    patching.estimateStart();
    const started = performance.now();
    await whileBusy(async () => {
      try {
        const request = { clean: prompt, corrupted, metric, prependBos };
        const result = await loupe.attributionPatching(request, { onProgress: () => patching.estimatePreparing() });
        status.clear();
        patching.estimateFinish(result, performance.now() - started);
      } catch (error) {
        status.error(`Attribution patching failed: ${error.message}`);
        patching.estimateFail(error.message);
      }
    });
  }

  /** Steers the page prompt: the direction (found from the contrastive prompts, or given),
   *  the next-token shift, then both continuations streamed; Stop ends the generation. */
  async function runSteering() {
    const { prompt, prependBos } = promptPanel.value();
    steerAbort = new AbortController();
    const { signal } = steerAbort;
    const started = performance.now();
    await whileBusy(async () => {
      try {
        const request = steering.value();
        steering.start();
        const given = request.direction;
        let vector = 'vector' in given ? given.vector : null;
        if (!('vector' in given)) {
          const found = await loupe.steeringDirection({ ...given, prependBos });
          steering.direction(found);
          vector = found.vector;
        }
        const shift = await loupe.steer({ prompt, prependBos, topK: 10, steering: { direction: vector, layers: request.layers, mode: request.mode } });
        steering.shift(shift);
        let result = null;
        let generating = 0;
        if (!signal.aborted) {
          steering.generating(prompt);
          const t0 = performance.now();
          result = await loupe.steerGenerate(
            { prompt, prependBos, ...request.settings, interventions: shift.interventions, signal },
            (token, which) => steering.append(token, which),
          );
          generating = performance.now() - t0;
        }
        status.clear();
        steering.finish(result, performance.now() - started, generating);
      } catch (error) {
        status.error(`Steering failed: ${error.message}`);
        steering.fail(error.message);
      }
    });
  }

  /** The Features tab was opened: load its SAE, once, when a model is there to check it against. */
  function loadSaeOnFirstUse() {
    if (!saeWanted || saeTried || sae || !modelReady) return;
    saeTried = true;
    loadSae({ url: features.saeUrl() }, { label: features.saeUrl(), quiet: true });
  }

  /** Loads an SAE from a folder URL ({url}) or from files ({cfgText, weights, dashboardText}),
   *  with its dashboard.json if there is one, then reads the page prompt with it. Quiet: a
   *  failure shows in the tab only (the reader did not ask for this load). */
  async function loadSae(source, { label, quiet = false }) {
    features.saeLoading(label);
    const loadedOk = await whileBusy(async () => {
      try {
        const request = source.url !== undefined ? { url: source.url } : { cfgText: source.cfgText, weights: source.weights };
        const loaded = await loupe.loadSae(request, { onProgress: (p) => features.saeProgress(p) });
        if (source.url !== undefined) features.saeProgress({ file: 'dashboard.json', loaded: 0, total: 0 });
        const dash = source.url !== undefined ? await fetchDashboard(source.url) : parseDashboard(source.dashboardText, 'the chosen files');
        sae = { cfg: loaded.cfg, dashboard: checkDashboard(dash, loaded.cfg) };
        features.saeLoaded(loaded, { dashboard: sae.dashboard, note: dash.note });
        if (!quiet) status.clear();
        return true;
      } catch (error) {
        if (!quiet) status.error(`Loading the SAE failed: ${error.message}`);
        features.saeFailed(error.message);
        return false;
      }
    });
    if (loadedOk) await runFeatures();
  }

  async function loadSaeFiles(files) {
    try {
      const source = await readSaeFiles(files);
      await loadSae(source, { label: files.map((f) => f.name).join(', ') });
    } catch (error) {
      status.error(`Loading the SAE failed: ${error.message}`);
      features.saeFailed(error.message);
    }
  }

  function runFeatures() {
    return analysis(features, 'SAE features', (request) => loupe.saeFeatures({ ...request, topK: FEATURES_PER_TOKEN }));
  }

  /** Trains an SAE on the Features tab's prompts (progress after every 20 steps; Stop ends it
   *  and keeps what was trained), which becomes the loaded SAE; then finds each feature's top
   *  contexts in those prompts (Stop skips the prompts not read yet) and reads the page prompt
   *  with it. */
  async function trainSae() {
    const { prependBos } = promptPanel.value();
    const { training } = features;
    trainAbort = new AbortController();
    const { signal } = trainAbort;
    await whileBusy(async () => {
      try {
        const request = training.value();
        training.start(request);
        const started = performance.now();
        const result = await loupe.trainSae({ ...request, prependBos }, { signal, onProgress: (p) => training.progress(p) });
        const ms = performance.now() - started;
        training.trained(result, ms, request.prompts.length);
        trainAbort = new AbortController(); // a Stop from now on ends the contexts only
        const dash = await trainedDashboard(request.prompts, prependBos, result.cfg, trainAbort.signal);
        sae = { cfg: result.cfg, dashboard: dash.dashboard, trained: true };
        features.saeTrained(result, { ms, dashboard: dash.dashboard, note: dash.note });
        status.clear();
        await runFeatures();
        training.finish(dash.note);
      } catch (error) {
        status.error(`Training the SAE failed: ${error.message}`);
        training.fail(error.message);
      }
    });
  }

  /** A trained SAE's firing statistics and top contexts, from saeFeatures on each training
   *  prompt (one call each) until `signal` is aborted; {dashboard: null} with the reason if
   *  that fails or no prompt was read. */
  async function trainedDashboard(prompts, prependBos, cfg, signal) {
    const started = performance.now();
    try {
      const results = [];
      for (const prompt of prompts) {
        if (signal.aborted) break;
        features.training.contexts(results.length, prompts.length);
        results.push(await loupe.saeFeatures({ prompt, prependBos, topK: FEATURES_PER_TOKEN }));
      }
      if (!results.length) return { dashboard: null, note: 'top contexts skipped' };
      const dashboard = promptDashboard(results, cfg.d_sae);
      const which = results.length < prompts.length ? `the first ${results.length} of your ${prompts.length} prompts (stopped)` : `your ${prompts.length} prompts`;
      const partial = dashboard.partial ? ` (${dashboard.partial} tokens have over ${FEATURES_PER_TOKEN} active features: their weakest are left out)` : '';
      return { dashboard, note: `top contexts from ${which} in ${((performance.now() - started) / 1000).toFixed(1)} s${partial}` };
    } catch (error) {
      return { dashboard: null, note: `no top contexts: ${error.message}` };
    }
  }

  /** A feature's dashboard: what it writes (saeFeatureInfo), and its top contexts from
   *  dashboard.json decoded to text (a trained SAE's come as text already). */
  async function showFeature(feature) {
    await whileBusy(async () => {
      try {
        const info = await loupe.saeFeatureInfo({ feature, topK: 10 });
        const entry = features.dashboardEntry(feature);
        const top = entry?.top ?? [];
        const texts = top.length && !sae?.trained ? await loupe.tokenTexts(top.flatMap(([ids]) => ids)) : [];
        let at = 0;
        const contexts = sae?.trained ? top : top.map(([ids, activations, imax]) => {
          const tokens = texts.slice(at, at + ids.length);
          at += ids.length;
          return { tokens, activations, imax };
        });
        status.clear();
        shownFeature = { feature, info };
        features.showFeature({ feature, info, entry, contexts });
      } catch (error) {
        status.error(`Feature ${feature} failed: ${error.message}`);
      }
    });
  }

  /** The page prompt continued with the dashboard's feature clamped (to the slider's value,
   *  or to `value`), beside the unsteered text. */
  async function runFeatureClamp(value) {
    const { prompt, prependBos } = promptPanel.value();
    const dash = features.dashboard;
    featureAbort = new AbortController();
    const { signal } = featureAbort;
    await whileBusy(async () => {
      try {
        const { feature, value: v, settings } = dash.clampValue(value);
        const label = v === 0 ? `feature ${feature} clamped to 0 (ablated)` : `feature ${feature} clamped to ${v.toFixed(2)}`;
        dash.start(prompt, label);
        const t0 = performance.now();
        const intervention = await loupe.saeClamp({ feature, value: v });
        const result = await loupe.steerGenerate(
          { prompt, prependBos, ...settings, interventions: [intervention], signal },
          (token, which) => dash.append(token, which),
        );
        status.clear();
        dash.finish(result, performance.now() - t0, label);
      } catch (error) {
        status.error(`Feature steering failed: ${error.message}`);
        dash.fail(error.message);
      }
    });
  }

  function runProbes() {
    return analysis(probes, 'Probes', ({ prependBos }) => loupe.trainProbes({ ...probes.value(), prependBos }));
  }

  /** Puts the IOI prompt on the page, runs it, and sets every analysis up for it. */
  async function ioiExample() {
    promptPanel.setPrompt(IOI_EXAMPLE.clean);
    await run();
    lens.setTarget(IOI_EXAMPLE.token);
    dla.set(IOI_EXAMPLE.token, IOI_EXAMPLE.minus);
    attribution.setTarget({ type: 'logit_diff', token: IOI_EXAMPLE.token, minus: IOI_EXAMPLE.minus });
    patching.setExample({
      corrupted: IOI_EXAMPLE.corrupted,
      metric: { type: 'logit_diff', token: IOI_EXAMPLE.token, minus: IOI_EXAMPLE.minus },
      site: 'head_z',
    });
    ablation.setExample({
      ...IOI_ABLATION,
      reference: IOI_EXAMPLE.corrupted,
      metric: { type: 'logit_diff', token: IOI_EXAMPLE.token, minus: IOI_EXAMPLE.minus },
    });
    pair.suggest(IOI_EXAMPLE.corrupted);
  }

  return {
    /** A model is loaded (first time, or again after a crash). */
    setModel(info) {
      const { n_layers: nLayers, n_heads: nHeads } = info.config;
      attention = createAttentionView(attentionContainer, { nLayers, nHeads });
      modelReady = true;
      refresh();
      loadSaeOnFirstUse();
    },
    /** The model is gone (crash, or a load failed): wait for the next setModel. */
    modelLost() {
      modelReady = false;
      refresh();
    },
    /** The restarted worker has no SAE: the one trained in the page died with the old one. */
    saeLost(message) {
      sae = null;
      features.saeLost(message);
    },
  };
}

/** dashboard.json next to an SAE, or null (with a note saying why) when there is none. */
async function fetchDashboard(folder) {
  const url = new URL('dashboard.json', folder).href;
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    return { dashboard: null, note: `dashboard.json could not be fetched (${error.message}): no corpus statistics` };
  }
  if (!response.ok) return { dashboard: null, note: `no dashboard.json (HTTP ${response.status}): no corpus statistics or top contexts` };
  return parseDashboard(await response.text(), url);
}

function parseDashboard(text, where) {
  if (text === null || text === undefined) return { dashboard: null, note: 'no dashboard.json: no corpus statistics or top contexts' };
  try {
    return { dashboard: JSON.parse(text), note: '' };
  } catch (error) {
    return { dashboard: null, note: `dashboard.json from ${where} is not JSON (${error.message}): ignored` };
  }
}

/** The dashboard if it describes this SAE's features; else null, and the note says why. */
function checkDashboard(dash, cfg) {
  const features = dash.dashboard?.features;
  if (!dash.dashboard) return null;
  if (!Array.isArray(features) || features.length !== cfg.d_sae) {
    dash.note = `dashboard.json describes ${Array.isArray(features) ? features.length : 'no'} features but the SAE has ${cfg.d_sae}: ignored`;
    return null;
  }
  const n = dash.dashboard.n_tokens;
  dash.note = `dashboard: ${features.length.toLocaleString('en')} features${n ? ` over ${n.toLocaleString('en')} corpus tokens` : ''}`;
  return dash.dashboard;
}

/** The generated text without the prompt, decoded (partial UTF-8 bytes joined) when the
 *  result carries it; otherwise the streamed token texts. */
function generatedText(result, prompt, streamed) {
  const text = result?.text;
  if (typeof text !== 'string') return streamed;
  if (text !== streamed && prompt && text.startsWith(prompt)) return text.slice(prompt.length);
  return text;
}
