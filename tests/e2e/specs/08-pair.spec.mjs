// Minimal pairs, through window.loupe and through the page (tests/artifacts/pair.png).

import { test, onMainPage, check, timings, uiRun, uiAnalysis, shoot, PROMPT, PAIR_B } from './fixtures.mjs';

let page, nLayers;
onMainPage((main) => ({ page, nLayers } = main));

test('API minimalPair: Eiffel → " Paris", Colosseum → " Rome", per-layer distances', async () => {
  const r = await page.evaluate(
    async ([a, b]) => {
      const t0 = performance.now();
      const p = await window.loupe.minimalPair({ a, b });
      return { ms: performance.now() - t0, ...p };
    },
    [PROMPT, PAIR_B],
  );
  timings.push(['API minimalPair (Eiffel / Colosseum)', Math.round(r.ms)]);
  check(r.topA?.[0]?.token === ' Paris', `topA[0] ${JSON.stringify(r.topA?.[0])}, expected " Paris"`);
  check(r.topB?.[0]?.token === ' Rome', `topB[0] ${JSON.stringify(r.topB?.[0])}, expected " Rome"`);
  check(r.klAb > 1, `KL(A ‖ B) = ${r.klAb}, expected > 1`);
  check(r.klBa > 0, `KL(B ‖ A) = ${r.klBa}, expected > 0`);
  check(
    r.relDiff?.length === nLayers && r.cosine?.length === nLayers,
    `relDiff/cosine have ${r.relDiff?.length}/${r.cosine?.length} layers, expected ${nLayers}`,
  );
  check(r.rose?.length > 0 && r.fell?.length > 0, 'rose/fell are empty');
  check(
    r.rose?.some((t) => t.token === ' Rome') && r.fell?.some((t) => t.token === ' Paris'),
    `" Rome" did not rise or " Paris" did not fall: rose ${JSON.stringify(r.rose?.map((t) => t.token))}, fell ${JSON.stringify(r.fell?.map((t) => t.token))}`,
  );
  console.log(`    KL ${r.klAb.toFixed(3)} / ${r.klBa.toFixed(3)}; relDiff ${r.relDiff.map((v) => v.toFixed(2)).join(' ')}`);
});

test('explorer minimal pair: default B for the Eiffel prompt; both lists, chart', async () => {
  await uiRun(page, PROMPT);
  check(
    (await page.inputValue('#pair-b')) === PAIR_B,
    `prompt B is ${JSON.stringify(await page.inputValue('#pair-b'))}, expected the Colosseum prompt`,
  );
  await page.click('#tab-pair');
  const ms = await uiAnalysis(page, 'pair', '#pair-run');
  timings.push(['explorer minimal pair', ms]);
  check((await page.textContent('#pair-top-a tbody tr:first-child .chip')) === '·Paris', "A's top-1 is not ·Paris");
  check((await page.textContent('#pair-top-b tbody tr:first-child .chip')) === '·Rome', "B's top-1 is not ·Rome");
  const rows = [await page.$$eval('#pair-top-a tbody tr', (r) => r.length), await page.$$eval('#pair-top-b tbody tr', (r) => r.length)];
  check(rows[0] === 10 && rows[1] === 10, `top-10 tables have ${rows} rows`);
  check(await page.isVisible('#pair canvas.bars'), 'the per-layer chart is not shown');
  const summary = await page.textContent('#pair-summary');
  check(/KL\(A ‖ B\)/.test(summary) && /KL\(B ‖ A\)/.test(summary), `pair summary ${JSON.stringify(summary)}`);
  const hoverBars = async () => {
    const canvas = await page.$('#pair canvas.bars');
    await canvas.hover({ position: { x: 48 + 20.5 * 22, y: 60 } });
  };
  await shoot(page, 'pair.png', hoverBars);
  const readout = (await page.textContent('#pair-readout')).trim();
  check(/^layer 20: /.test(readout), `hovering layer 20 of the chart reads ${JSON.stringify(readout)}`);
  console.log(`    ${summary}\n    ${readout}`);
});
