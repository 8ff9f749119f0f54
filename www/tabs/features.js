// The Features tab: a sparse autoencoder read on the page prompt. Its SAE loads when the tab
// is first opened (with a model there to check it against), or from a URL or files, or is
// trained in the page; a feature's dashboard can clamp it in a generation, or hand its
// decoder row to the Steering tab.

import { createFeaturesView, readSaeFiles, FEATURES_PER_TOKEN } from '../views/features.js';
import { fetchDashboard, parseDashboard, checkDashboard, trainedDashboard } from '../saedashboard.js';

/** @type {import('./tab.js').Tab} */
export default {
  id: 'features',
  title: 'Features',
  create(panel, { loupe, status, runner, prompt: pagePrompt, tabs, saeUrl }) {
    const features = createFeaturesView(panel, {
      saeUrl,
      onLoadUrl: (url) => loadSae({ url }, { label: url }),
      onLoadFiles: loadSaeFiles,
      onRun: runFeatures,
      onSelect: showFeature,
      onClamp: () => clamp(),
      onAblate: () => clamp(0),
      onToSteer: toSteering,
      onStop: () => clampJob.stop(),
      onTrain: train,
      onTrainStop: () => trainJob.stop(),
    });
    const { training } = features;
    const clampJob = runner.job('Feature steering', (message) => features.dashboard.fail(message));
    const trainJob = runner.job('Training the SAE', (message) => training.fail(message));
    let wanted = false; // the tab has been opened: load its SAE once a model is ready
    let tried = false; // the first-use load has been started (it is not retried by itself)
    let sae = null; // the loaded SAE: {cfg, dashboard | null, trained?: true}
    let shown = null; // {feature, info} of the dashboard on show

    function runFeatures() {
      return runner.run(features, 'SAE features', (request) => loupe.saeFeatures({ ...request, topK: FEATURES_PER_TOKEN }));
    }

    function loadOnFirstUse() {
      if (!wanted || tried || sae || !runner.isReady()) return;
      tried = true;
      loadSae({ url: features.saeUrl() }, { label: features.saeUrl(), quiet: true });
    }

    /** Loads an SAE from a folder URL ({url}) or from files ({cfgText, weights, dashboardText}),
     *  with its dashboard.json if there is one, then reads the page prompt with it. Quiet: a
     *  failure shows in the tab only (the reader did not ask for this load). */
    async function loadSae(source, { label, quiet = false }) {
      features.saeLoading(label);
      const loadedOk = await runner.busy(async () => {
        try {
          const request = source.url !== undefined ? { url: source.url } : { cfgText: source.cfgText, weights: source.weights };
          const loaded = await loupe.loadSae(request, { onProgress: (p) => features.saeProgress(p) });
          if (source.url !== undefined) features.saeProgress({ file: 'dashboard.json', loaded: 0, total: 0 });
          const dash =
            source.url !== undefined ? await fetchDashboard(source.url) : parseDashboard(source.dashboardText, 'the chosen files');
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

    /** Trains an SAE on the tab's prompts (progress every 20 steps; Stop ends it and keeps
     *  what was trained), which becomes the loaded SAE; then finds each feature's top contexts
     *  in those prompts (Stop skips the prompts not read yet) and reads the page prompt with it. */
    async function train() {
      const { prependBos } = pagePrompt();
      await runner.busy(async () => {
        const dash = await trainJob.start(async (signal) => {
          const request = training.value();
          training.start(request);
          const started = performance.now();
          const result = await loupe.trainSae({ ...request, prependBos }, { signal, onProgress: (p) => training.progress(p) });
          const ms = performance.now() - started;
          training.trained(result, ms, request.prompts.length);
          const contexts = await trainedDashboard(loupe, {
            prompts: request.prompts,
            prependBos,
            cfg: result.cfg,
            signal: trainJob.renew(), // a Stop from now on ends the contexts only
            onPrompt: (done, total) => training.contexts(done, total),
          });
          sae = { cfg: result.cfg, dashboard: contexts.dashboard, trained: true };
          features.saeTrained(result, { ms, dashboard: contexts.dashboard, note: contexts.note });
          return contexts;
        });
        if (!dash) return;
        await runFeatures();
        training.finish(dash.note);
      });
    }

    /** A feature's dashboard: what it writes (saeFeatureInfo), and its top contexts from
     *  dashboard.json decoded to text (a trained SAE's come as text already). */
    function showFeature(feature) {
      return runner.attempt(`Feature ${feature}`, async () => {
        const info = await loupe.saeFeatureInfo({ feature, topK: 10 });
        const entry = features.dashboardEntry(feature);
        const top = entry?.top ?? [];
        const texts = top.length && !sae?.trained ? await loupe.tokenTexts(top.flatMap(([ids]) => ids)) : [];
        let at = 0;
        const contexts = sae?.trained
          ? top
          : top.map(([ids, activations, imax]) => {
              const tokens = texts.slice(at, at + ids.length);
              at += ids.length;
              return { tokens, activations, imax };
            });
        shown = { feature, info };
        features.showFeature({ feature, info, entry, contexts });
      });
    }

    /** The page prompt continued with the dashboard's feature clamped (to the slider's value,
     *  or to `value`), beside the unsteered text. */
    function clamp(value) {
      const { prompt, prependBos } = pagePrompt();
      const dash = features.dashboard;
      return clampJob.start(async (signal) => {
        const { feature, value: v, settings } = dash.clampValue(value);
        const label = v === 0 ? `feature ${feature} clamped to 0 (ablated)` : `feature ${feature} clamped to ${v.toFixed(2)}`;
        dash.start(prompt, label);
        const t0 = performance.now();
        const intervention = await loupe.saeClamp({ feature, value: v });
        const result = await loupe.steerGenerate(
          { prompt, prependBos, ...settings, interventions: [intervention], signal },
          (token, which) => dash.append(token, which),
        );
        dash.finish(result, performance.now() - t0, label);
      });
    }

    /** The dashboard's feature as a steering direction: its decoder row, at the SAE's layer. */
    function toSteering() {
      if (!shown) return;
      const layer = Number(/^blocks\.(\d+)\.hook_resid_pre$/.exec(sae?.cfg?.hook_name ?? '')?.[1] ?? 12);
      tabs.steering().setVector({
        vector: shown.info.decoder,
        layer,
        note:
          `SAE feature ${shown.feature}'s decoder row (W_dec[${shown.feature}], norm ` +
          `${shown.info.decoderNorm.toFixed(2)}) from the Features tab: adding it pushes the residual stream at ` +
          `${sae?.cfg?.hook_name ?? 'its hook'} the way the feature firing would.`,
      });
      tabs.select('steering');
    }

    return {
      setEnabled: (enabled) => features.setEnabled(enabled),
      onShow() {
        wanted = true;
        loadOnFirstUse();
      },
      onModel: () => loadOnFirstUse(),
      onSaeLost(message) {
        sae = null;
        features.saeLost(message);
      },
    };
  },
};
