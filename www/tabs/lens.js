// The Logit lens tab: each layer's residual stream read through the unembedding.

import { createLensView } from '../views/lens.js';

/** @type {import('./tab.js').Tab} */
export default {
  id: 'lens',
  title: 'Logit lens',
  create(panel, { loupe, runner }) {
    const lens = createLensView(panel, { onRun: run });

    function run() {
      const { target } = lens.value();
      return runner.run(lens, 'Logit lens', (request) => loupe.logitLens({ ...request, ...(target ? { target } : {}) }));
    }

    return {
      setEnabled: (enabled) => lens.setEnabled(enabled),
      onPrediction: ({ top }) => lens.suggestTarget(top[0]?.token ?? ''),
      onIoiExample: (ioi) => lens.setTarget(ioi.token),
    };
  },
};
