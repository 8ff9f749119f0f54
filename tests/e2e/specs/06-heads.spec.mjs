// Head detectors, through window.loupe and through the page (tests/artifacts/heads.png).

import { test, onMainPage, check, timings, uiAnalysis, gridOf, hoverGrid, shoot, IOI, STEP_TIMEOUT_MS } from './fixtures.mjs';

let page;
let nLayers;
let nHeads;
let inductionHead; // the strongest induction head found
onMainPage((main) => ({ page, nLayers, nHeads } = main));
test.beforeAll(async () => {
  inductionHead = [Math.min(5, nLayers - 1), 0]; // replaced by the strongest one found
});

test('API detectHeads: three [30][9] maps with scores in [0, 1]', async () => {
  const r = await page.evaluate(async (prompt) => {
    const t0 = performance.now();
    const d = await window.loupe.detectHeads({ prompt });
    return { ms: performance.now() - t0, ...d };
  }, IOI.clean);
  timings.push(['API detectHeads (IOI prompt + 2 × 20 random)', Math.round(r.ms)]);
  for (const key of ['previousToken', 'duplicateToken', 'induction']) {
    const m = r[key];
    check(m?.length === nLayers && m.every((row) => row.length === nHeads), `${key} is not [${nLayers}][${nHeads}]`);
    check(
      m.flat().every((v) => v >= 0 && v <= 1 + 1e-6),
      `${key} has a score outside [0, 1]`,
    );
    const [l, h, v] = m.flatMap((row, l) => row.map((v, h) => [l, h, v])).sort((a, b) => b[2] - a[2])[0];
    console.log(`    ${key}: strongest L${l} H${h} ${v.toFixed(3)}`);
    if (key === 'induction') inductionHead = [l, h];
  }
  check(r.randomIds.length === 20, `randomIds has ${r.randomIds.length} tokens, expected the default 20`);
});

test('explorer head detectors: three maps; clicking a head shows it in the attention view', async () => {
  await page.click('#tab-heads');
  const ms = await uiAnalysis(page, 'heads', '#heads-run');
  timings.push(['explorer head detectors', ms]);
  for (const id of ['heads-previous', 'heads-duplicate', 'heads-induction']) {
    const grid = await gridOf(page, `#${id} canvas.heatmap`);
    check(grid.rows === nHeads && grid.cols === nLayers, `#${id} is ${grid.rows} × ${grid.cols}`);
  }
  const [layer, head] = inductionHead;
  await hoverGrid(page, '#heads-induction canvas.heatmap', head, layer, '#heads-readout', { click: true });
  await page.waitForSelector('#attention[data-state="ready"]', { timeout: STEP_TIMEOUT_MS });
  const selected = [await page.inputValue('#attention-layer'), await page.inputValue('#attention-head')];
  check(selected[0] === String(layer) && selected[1] === String(head), `clicking L${layer} H${head} selected layer/head ${selected}`);
  const best = await page.textContent('#heads-induction .best');
  console.log(`    induction ${best}`);
  await shoot(page, 'heads.png', () => hoverGrid(page, '#heads-induction canvas.heatmap', head, layer, '#heads-readout'));
});
