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

/**
 * @param {Document} doc
 * @param {{loupe: object, status: object}} deps  window.loupe and the header status view
 */
export function createExplorer(doc, { loupe, status }) {
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
    ],
    aside: ioiButton,
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
  pair.suggest(DEFAULT_PAIR); // the page starts on the default prompt

  let attention = null;
  let modelReady = false;
  let busy = 0; // tasks in flight
  let stopRequested = false;
  let patchAbort = null; // the AbortController of the patching sweep in progress
  let attributionAbort = null; // the AbortController of the attribution (or comparison) in progress
  let runCount = 0;

  function refresh() {
    const enabled = modelReady && busy === 0;
    for (const view of [promptPanel, generatePanel, lens, dla, attribution, patching, heads, ablation, pair, neuron]) view.setEnabled(enabled);
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

  /** Runs one analysis of the page prompt: `view` shows progress, the result or the error. */
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
    },
    /** The model is gone (crash, or a load failed): wait for the next setModel. */
    modelLost() {
      modelReady = false;
      refresh();
    },
  };
}

/** The generated text without the prompt, decoded (partial UTF-8 bytes joined) when the
 *  result carries it; otherwise the streamed token texts. */
function generatedText(result, prompt, streamed) {
  const text = result?.text;
  if (typeof text !== 'string') return streamed;
  if (text !== streamed && prompt && text.startsWith(prompt)) return text.slice(prompt.length);
  return text;
}
