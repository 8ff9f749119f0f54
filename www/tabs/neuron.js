// The Neuron tab: one MLP neuron's activation on each token of the page prompt.

import { createNeuronView } from '../views/neuron.js';

/** @type {import('./tab.js').Tab} */
export default {
  id: 'neuron',
  title: 'Neuron',
  create(panel, { loupe, runner }) {
    const neuron = createNeuronView(panel, {
      onRun: () => runner.run(neuron, 'Neuron view', (request) => loupe.neuronView({ ...request, ...neuron.value() })),
    });
    return { setEnabled: (enabled) => neuron.setEnabled(enabled) };
  },
};
