// The Activation patching tab: the page prompt is the clean run, patched layer by layer from
// a corrupted prompt (a sweep with progress and Stop), with attribution patching's gradient
// estimate of every site at once shown beside it.

import { createPatchingView } from '../views/patching.js';

/** @type {import('./tab.js').Tab} */
export default {
  id: 'patching',
  title: 'Activation patching',
  create(panel, { loupe, runner, prompt: pagePrompt }) {
    const patching = createPatchingView(panel, { onRun: run, onEstimate: estimate, onStop: () => sweep.stop() });
    const sweep = runner.job('Activation patching', (message) => patching.fail(message));

    /** The sweep reports each layer and stops on request. */
    function run() {
      const { prompt, prependBos } = pagePrompt();
      const { corrupted, metric, site } = patching.value();
      patching.start();
      const started = performance.now();
      return sweep.start(async (signal) => {
        const request = { clean: prompt, corrupted, metric, site, prependBos, signal };
        const result = await loupe.patch(request, (partial) => patching.progress(partial));
        patching.finish(result, performance.now() - started);
      });
    }

    function estimate() {
      const { prompt, prependBos } = pagePrompt();
      const { corrupted, metric } = patching.value();
      patching.estimateStart();
      const started = performance.now();
      const fail = (message) => patching.estimateFail(message);
      return runner.attempt(
        'Attribution patching',
        async () => {
          const request = { clean: prompt, corrupted, metric, prependBos };
          const result = await loupe.attributionPatching(request, { onProgress: () => patching.estimatePreparing() });
          patching.estimateFinish(result, performance.now() - started);
        },
        fail,
      );
    }

    return {
      setEnabled: (enabled) => patching.setEnabled(enabled),
      onPrediction: ({ top }) => patching.suggest(top[0]?.token ?? '', top[1]?.token ?? ''),
      onIoiExample: (ioi) =>
        patching.setExample({
          corrupted: ioi.corrupted,
          metric: { type: 'logit_diff', token: ioi.token, minus: ioi.minus },
          site: 'head_z',
        }),
    };
  },
};
