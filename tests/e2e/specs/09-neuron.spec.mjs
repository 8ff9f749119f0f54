// Single neurons, through window.loupe and through the page (tests/artifacts/neuron.png).

import { test, onMainPage, check, timings, uiAnalysis, shoot, visible, PROMPT } from './fixtures.mjs';

let page;
onMainPage((main) => ({ page } = main));

test('API neuronView: L20 N100 on the Eiffel prompt', async () => {
  const r = await page.evaluate(async (prompt) => {
    const t0 = performance.now();
    const n = await window.loupe.neuronView({ prompt, layer: 20, neuron: 100 });
    let bad = null;
    try {
      await window.loupe.neuronView({ prompt, layer: 20, neuron: 1e6 });
    } catch (error) {
      bad = error.message;
    }
    return { ms: performance.now() - t0, ...n, bad };
  }, PROMPT);
  timings.push(['API neuronView', Math.round(r.ms)]);
  check(r.activations?.length === r.tokens?.length, `${r.activations?.length} activations for ${r.tokens?.length} tokens`);
  check(r.activations.every(Number.isFinite), 'some activation is not finite');
  check(
    r.promoted?.length === 10 && r.suppressed?.length === 10,
    `promoted/suppressed have ${r.promoted?.length}/${r.suppressed?.length} tokens, expected 10`,
  );
  check(
    r.promoted[0].prob >= r.promoted.at(-1).prob && r.suppressed[0].prob <= r.suppressed.at(-1).prob,
    'promoted/suppressed are not sorted by effect',
  );
  check(/does not exist/.test(r.bad ?? ''), `a neuron out of range should reject, got ${JSON.stringify(r.bad)}`);
  console.log(
    `    activations ${r.activations.map((v) => v.toFixed(2)).join(' ')}; promoted ${r.promoted
      .slice(0, 3)
      .map((t) => JSON.stringify(t.token))
      .join(' ')}`,
  );
});

test('explorer neuron: tokens shaded by activation, promoted/suppressed lists', async () => {
  await page.click('#tab-neuron');
  check(
    (await page.inputValue('#neuron-layer')) === '20' && (await page.inputValue('#neuron-index')) === '100',
    'the neuron inputs do not default to L20 N100',
  );
  const ms = await uiAnalysis(page, 'neuron', '#neuron-run');
  timings.push(['explorer neuron', ms]);
  const chips = await page.$$eval('#neuron-tokens .chip', (cs) =>
    cs.map((c) => ({ text: c.textContent, title: c.title, bg: c.style.background })),
  );
  check(
    chips.map((c) => c.text).join('') === visible(PROMPT),
    `neuron chips ${JSON.stringify(chips.map((c) => c.text))} do not spell the prompt`,
  );
  check(
    chips.every((c) => /activation [+−]\d/.test(c.title) && /rgb/.test(c.bg)),
    'neuron chips lack their activation on hover or their shade',
  );
  const rows = [
    await page.$$eval('#neuron-promoted tbody tr', (r) => r.length),
    await page.$$eval('#neuron-suppressed tbody tr', (r) => r.length),
  ];
  check(rows[0] === 10 && rows[1] === 10, `promoted/suppressed tables have ${rows} rows`);
  const summary = await page.textContent('#neuron-summary');
  check(/^L20 N100: /.test(summary), `neuron summary ${JSON.stringify(summary)}`);
  console.log(`    ${summary}`);
  await shoot(page, 'neuron.png');
});
