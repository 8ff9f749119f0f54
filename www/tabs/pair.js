// The Minimal pair tab: the page prompt (prompt A) against a prompt B that differs a little.

import { createPairView } from '../views/pair.js';
import { DEFAULT_PAIR, DEFAULT_PROMPT } from '../examples.js';

/** @type {import('./tab.js').Tab} */
export default {
  id: 'pair',
  title: 'Minimal pair',
  create(panel, { loupe, runner }) {
    const pair = createPairView(panel, {
      onRun: () =>
        runner.run(pair, 'Minimal pair', ({ prompt, prependBos }) => loupe.minimalPair({ a: prompt, b: pair.value().b, prependBos })),
    });
    pair.suggest(DEFAULT_PAIR); // the page starts on the default prompt
    return {
      setEnabled: (enabled) => pair.setEnabled(enabled),
      onPrediction: ({ prompt }) => {
        if (prompt === DEFAULT_PROMPT) pair.suggest(DEFAULT_PAIR);
      },
      onIoiExample: (ioi) => pair.suggest(ioi.corrupted),
    };
  },
};
