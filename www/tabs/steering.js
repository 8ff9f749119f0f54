// The Steering tab: a direction (found from contrastive prompts, or given: by a probe or an
// SAE feature through setVector) added to the residual stream of the page prompt; the
// next-token shift, then both continuations streamed side by side. Stop ends the generation.

import { createSteeringView } from '../views/steering.js';
import { FILM_PROMPT } from '../examples.js';

/** @type {import('./tab.js').Tab} */
export default {
  id: 'steering',
  title: 'Steering',
  /** @returns {import('./tab.js').SteeringTab} */
  create(panel, { loupe, runner, prompt: pagePrompt, usePrompt }) {
    const steering = createSteeringView(panel, {
      onRun: run,
      onStop: () => job.stop(),
      onExample: () => usePrompt(FILM_PROMPT),
      example: FILM_PROMPT,
    });
    const job = runner.job('Steering', (message) => steering.fail(message));

    function run() {
      const { prompt, prependBos } = pagePrompt();
      const started = performance.now();
      return job.start(async (signal) => {
        const request = steering.value();
        steering.start();
        const given = request.direction;
        let vector = 'vector' in given ? given.vector : null;
        if (!('vector' in given)) {
          const found = await loupe.steeringDirection({ ...given, prependBos });
          steering.direction(found);
          vector = found.vector;
        }
        const shift = await loupe.steer({
          prompt,
          prependBos,
          topK: 10,
          steering: { direction: vector, layers: request.layers, mode: request.mode },
        });
        steering.shift(shift);
        let result = null;
        let generating = 0;
        if (!signal.aborted) {
          steering.generating(prompt);
          const t0 = performance.now();
          result = await loupe.steerGenerate(
            { prompt, prependBos, ...request.settings, interventions: shift.interventions, signal },
            (token, which) => steering.append(token, which),
          );
          generating = performance.now() - t0;
        }
        steering.finish(result, performance.now() - started, generating);
      });
    }

    return {
      setEnabled: (enabled) => steering.setEnabled(enabled),
      setVector: (vector) => steering.setVector(vector),
    };
  },
};
