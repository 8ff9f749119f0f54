// The Input attribution tab: how much each input token matters to a target, by one method
// (batches of passes with progress; Stop ends the run after the batch in progress) or by
// every method in turn (Stop ends the method in progress and skips the rest).

import { createAttributionView } from '../views/attribution.js';

/** Inputs per batched pass: few, so the progress bar moves and Stop answers within a second
 *  or two, and at most about 256 tokens' worth (what the wasm side batches by itself when
 *  not told, for memory). */
const BATCH = 8;
const BATCH_TOKENS = 256;

/** @type {import('./tab.js').Tab} */
export default {
  id: 'attribution',
  title: 'Input attribution',
  create(panel, { loupe, runner, prompt: pagePrompt }) {
    const attribution = createAttributionView(panel, { onRun: run, onCompare: compare, onStop: () => job.stop() });
    // One job for both: the tab has one Stop button.
    const job = runner.job('Attribution', (message) => attribution.fail(message));

    function run() {
      return withPrompt(async (attribute, signal, started) => {
        const request = attribution.value();
        attribution.start(request);
        attribution.finish(await attribute(request, (p) => attribution.progress(p)), performance.now() - started);
      });
    }

    /** Every method on the page prompt and the same target, one row each. */
    function compare() {
      return withPrompt(async (attribute, signal, started) => {
        const requests = attribution.compareRequests();
        attribution.startCompare(requests);
        for (const [i, request] of requests.entries()) {
          if (signal.aborted) break;
          attribution.compareRow(i, await attribute(request, (p) => attribution.compareProgress(i, p)));
        }
        attribution.finishCompare(performance.now() - started, signal.aborted);
      });
    }

    /** Runs body as the tab's job with `attribute(request, onProgress)`: the view's request on
     *  the page prompt, in batches sized to it (tokenized once, at the first call, so the view
     *  shows it is running at once). */
    function withPrompt(body) {
      const { prompt, prependBos } = pagePrompt();
      const started = performance.now();
      return job.start(async (signal) => {
        let batch;
        const attribute = async (request, onProgress) => {
          batch ??= await batchFor(prompt, prependBos);
          return loupe.attribute({ prompt, prependBos, ...request, params: { ...request.params, batch } }, { signal, onProgress });
        };
        await body(attribute, signal, started);
      });
    }

    async function batchFor(prompt, prependBos) {
      const tokens = await loupe.tokenize({ prompt, prependBos });
      return Math.max(1, Math.min(BATCH, Math.floor(BATCH_TOKENS / Math.max(1, tokens.length))));
    }

    return {
      setEnabled: (enabled) => attribution.setEnabled(enabled),
      onPrediction: ({ top }) => attribution.suggest(top[0]?.token ?? '', top[1]?.token ?? ''),
      onIoiExample: (ioi) => attribution.setTarget({ type: 'logit_diff', token: ioi.token, minus: ioi.minus }),
    };
  },
};
