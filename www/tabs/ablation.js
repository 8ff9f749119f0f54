// The Ablation tab: the page prompt with one component zeroed, or resampled from reference
// prompts (resample takes the reference prompt's activation, mean_reference the mean over them).

import { createAblationView } from '../views/ablation.js';

/** The ablation the IOI example sets up: the name-mover head with the largest direct effect. */
const IOI_ABLATION = Object.freeze({ component: { kind: 'head', layer: 23, head: 3 }, method: 'zero' });

/** @type {import('./tab.js').Tab} */
export default {
  id: 'ablation',
  title: 'Ablation',
  create(panel, { loupe, runner }) {
    const ablation = createAblationView(panel, {
      onRun: () => runner.run(ablation, 'Ablation', (request) => loupe.ablate({ ...request, ...ablation.value() })),
    });
    return {
      setEnabled: (enabled) => ablation.setEnabled(enabled),
      onPrediction: ({ top }) => ablation.suggest(top[0]?.token ?? '', top[1]?.token ?? ''),
      onIoiExample: (ioi) =>
        ablation.setExample({
          ...IOI_ABLATION,
          reference: ioi.corrupted,
          metric: { type: 'logit_diff', token: ioi.token, minus: ioi.minus },
        }),
    };
  },
};
