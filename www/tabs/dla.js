// The Logit attribution tab: each component's direct effect on a token's logit.

import { createDlaView } from '../views/dla.js';

/** @type {import('./tab.js').Tab} */
export default {
  id: 'dla',
  title: 'Logit attribution',
  create(panel, { loupe, runner }) {
    const dla = createDlaView(panel, { onRun: run });

    function run() {
      const { token, minus } = dla.value();
      return runner.run(dla, 'Logit attribution', (request) => loupe.dla({ ...request, token, ...(minus ? { minus } : {}) }));
    }

    return {
      setEnabled: (enabled) => dla.setEnabled(enabled),
      onPrediction: ({ top }) => dla.suggest(top[0]?.token ?? '', top[1]?.token ?? ''),
      onIoiExample: (ioi) => dla.set(ioi.token, ioi.minus),
    };
  },
};
