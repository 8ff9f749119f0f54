// Direct logit attribution on the IOI prompt, through window.loupe and through the page
// (tests/artifacts/dla.png). The IOI example button fills the forms the later specs use.

import {
  test,
  onMainPage,
  check,
  timings,
  uiAnalysis,
  gridOf,
  hoverGrid,
  shoot,
  IOI,
  IOI_TOP_HEAD,
  DLA_SUM_TOLERANCE,
  DLA_MODEL_TOLERANCE,
  STEP_TIMEOUT_MS,
} from './fixtures.mjs';

let page, nLayers, nHeads;
onMainPage((main) => ({ page, nLayers, nHeads } = main));

test('API dla on IOI: parts add up to the logit difference; L23 H3 leads', async () => {
  const r = await page.evaluate(async ({ clean, token, minus }) => {
    const t0 = performance.now();
    const dla = await window.loupe.dla({ prompt: clean, token, minus });
    return { ms: performance.now() - t0, ...dla };
  }, IOI);
  timings.push(['API dla (IOI, 14 tokens)', Math.round(r.ms)]);
  check(r.heads.length === nLayers && r.heads.every((h) => h.length === nHeads), `dla heads are not [${nLayers}][${nHeads}]`);
  check(r.mlp.length === nLayers, `dla mlp has ${r.mlp.length} layers`);
  check(r.token?.text === IOI.token && r.minus?.text === IOI.minus, `dla tokens ${JSON.stringify([r.token, r.minus])}`);
  check(r.position === r.tokens.length - 1, `dla position ${r.position}, expected the last (${r.tokens.length - 1})`);
  const gap = Math.abs(r.total - r.sumOfParts);
  check(
    gap <= DLA_SUM_TOLERANCE,
    `|total − sumOfParts| = |${r.total.toFixed(4)} − ${r.sumOfParts.toFixed(4)}| = ${gap.toFixed(4)} > ${DLA_SUM_TOLERANCE}`,
  );
  const modelGap = Math.abs(r.total - r.modelTotal);
  check(modelGap <= DLA_MODEL_TOLERANCE, `|total − modelTotal| = ${modelGap.toFixed(4)} > ${DLA_MODEL_TOLERANCE}`);
  let best = [0, 0];
  r.heads.forEach((row, l) =>
    row.forEach((v, h) => {
      if (Math.abs(v) > Math.abs(r.heads[best[0]][best[1]])) best = [l, h];
    }),
  );
  check(
    best[0] === IOI_TOP_HEAD[0] && best[1] === IOI_TOP_HEAD[1],
    `the largest |head| is L${best[0]} H${best[1]}, expected L${IOI_TOP_HEAD[0]} H${IOI_TOP_HEAD[1]}`,
  );
  console.log(
    `    total ${r.total.toFixed(4)}, sum of parts ${r.sumOfParts.toFixed(4)}, L${best[0]} H${best[1]} = ${r.heads[best[0]][best[1]].toFixed(3)}`,
  );
});

test('explorer IOI example fills the analyses; attribution chart and heatmap', async () => {
  const count = Number(await page.getAttribute('main', 'data-run-count'));
  await page.click('#ioi-example');
  await page.waitForFunction((c) => Number(document.querySelector('main').dataset.runCount) > c, count, { timeout: STEP_TIMEOUT_MS });
  await page.waitForSelector('#run:not([disabled])');
  check((await page.inputValue('#prompt')) === IOI.clean, 'the IOI example did not put its prompt on the page');
  check(
    (await page.inputValue('#dla-token')) === IOI.token && (await page.inputValue('#dla-minus')) === IOI.minus,
    'the IOI example did not set the DLA tokens',
  );
  check((await page.inputValue('#patch-corrupted')) === IOI.corrupted, 'the IOI example did not set the corrupted prompt');
  check((await page.inputValue('#patch-site')) === 'head_z', 'the IOI example did not select head patching');
  await page.click('#tab-dla');
  const ms = await uiAnalysis(page, 'dla', '#dla-run');
  timings.push(['explorer logit attribution', ms]);
  const summary = await page.textContent('#dla-summary');
  check(/sum of parts/.test(summary) && /·Mary/.test(summary), `dla summary ${JSON.stringify(summary)}`);
  const grid = await gridOf(page, '#dla canvas.heatmap');
  check(grid.rows === nHeads && grid.cols === nLayers, `dla heatmap is ${grid.rows} × ${grid.cols}, expected ${nHeads} × ${nLayers}`);
  const readout = await hoverGrid(page, '#dla canvas.heatmap', IOI_TOP_HEAD[1], IOI_TOP_HEAD[0], '#dla-readout');
  check(/^L23 H3: \+\d/.test(readout), `hovering L23 H3 reads ${JSON.stringify(readout)}`);
  console.log(`    ${summary}\n    ${readout}`);
  await shoot(page, 'dla.png', () => hoverGrid(page, '#dla canvas.heatmap', IOI_TOP_HEAD[1], IOI_TOP_HEAD[0], '#dla-readout'));
});
