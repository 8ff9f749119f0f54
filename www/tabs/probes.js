// The Probes tab: a linear probe per layer separating two sets of prompts; a probe picked
// there can be handed to the Steering tab as a direction.

import { createProbesView } from '../views/probes.js';

/** @type {import('./tab.js').Tab} */
export default {
  id: 'probes',
  title: 'Probes',
  create(panel, { loupe, runner, tabs }) {
    const probes = createProbesView(panel, {
      onRun: () => runner.run(probes, 'Probes', ({ prependBos }) => loupe.trainProbes({ ...probes.value(), prependBos })),
      onUse: (probe, labels) => {
        tabs.steering().setVector({
          vector: probe.massMeanDirection,
          layer: probe.layer,
          note:
            `The layer-${probe.layer} probe from the Probes tab (held-out accuracy ${Math.round(probe.testAccuracy * 100)}%), ` +
            `as its mass-mean direction (the training sets’ mean difference; Marks & Tegmark 2023): + pushes towards ` +
            `${labels.positive}, − towards ${labels.negative}. The logistic regression’s own weights separate the sets but lean ` +
            'on dimensions that barely vary, and steer poorly (they are in the probe result as `direction`).',
        });
        tabs.select('steering');
      },
    });
    return { setEnabled: (enabled) => probes.setEnabled(enabled) };
  },
};
