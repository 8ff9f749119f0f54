// The analysis registry of window.loupe: analyses(), call() and start() by name.

import { test, onMainPage, check, IOI } from './fixtures.mjs';

let page, nLayers;
onMainPage((main) => ({ page, nLayers } = main));

test('API registry: loupe.analyses lists every analysis; loupe.call / loupe.start run any by name', async () => {
  const r = await page.evaluate(async ({ clean, corrupted, token, minus }) => {
    const list = await window.loupe.analyses();
    const request = { prompt: clean, layer: 20, neuron: 100 };
    const [called, named] = await Promise.all([window.loupe.call('neuronView', request), window.loupe.neuronView(request)]);
    const seen = [];
    const patch = await window.loupe.start(
      'patch',
      { clean, corrupted, metric: { type: 'logit_diff', token, minus }, site: 'resid_pre' },
      {
        onProgress: ({ phase, done, total, partial }) => {
          seen.push({ phase, done, total, layersDone: partial.layersDone });
          return done >= 1 ? false : undefined;
        },
      },
    );
    const refuse = (promise) =>
      promise.then(
        () => null,
        (e) => e.message,
      );
    return {
      list,
      same: JSON.stringify(called) === JSON.stringify(named),
      seen,
      patch: { stopped: patch.stopped, layersDone: patch.layersDone },
      notAnalysis: await refuse(window.loupe.call('load', {})),
      unknown: await refuse(window.loupe.call('noSuchAnalysis', {})),
    };
  }, IOI);
  const names = r.list.map((e) => e.name);
  for (const name of ['run', 'logitLens', 'dla', 'attribute', 'patch', 'neuronView', 'saeFeatures', 'trainSae', 'trainProbes']) {
    check(names.includes(name), `loupe.analyses() lacks ${name}: ${names.join(', ')}`);
  }
  check(
    r.list.every((e) => (e.kind === 'job') === (typeof e.phase === 'string') && typeof e.summary === 'string' && e.summary.length > 0),
    'a catalogue entry lacks its summary or a job its phase',
  );
  check(r.same, "loupe.call('neuronView') and loupe.neuronView gave different results");
  check(
    r.seen.length >= 1 && r.seen[0].phase === 'patch' && r.seen[0].done === 1 && r.seen[0].total === nLayers && r.seen[0].layersDone === 1,
    `start('patch') progress ${JSON.stringify(r.seen)}`,
  );
  check(
    r.patch.stopped === true && r.patch.layersDone >= 1 && r.patch.layersDone < nLayers,
    `a stopped start('patch') resolved with ${JSON.stringify(r.patch)}`,
  );
  check(/not an analysis/.test(r.notAnalysis ?? ''), `loupe.call('load') gave ${JSON.stringify(r.notAnalysis)}`);
  check(/unknown command "noSuchAnalysis"/.test(r.unknown ?? ''), `an unknown analysis gave ${JSON.stringify(r.unknown)}`);
  console.log(`    ${names.length} analyses; start('patch') stopped after ${r.patch.layersDone} layer(s)`);
});
