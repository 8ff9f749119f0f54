// The logit lens, through window.loupe and through the page (tests/artifacts/lens.png).

import { test, onMainPage, check, timings, uiRun, uiAnalysis, gridOf, hoverGrid, shoot, PROMPT } from './fixtures.mjs';

let page, nLayers;
onMainPage((main) => ({ page, nLayers } = main));

test('API logitLens: " Paris" at rank 0 in the last row, last position', async () => {
  const r = await page.evaluate(async (prompt) => {
    const t0 = performance.now();
    const lens = await window.loupe.logitLens({ prompt, target: ' Paris' });
    const ms = performance.now() - t0;
    return {
      ms,
      rows: lens.rows,
      n: lens.tokens.length,
      widths: lens.cells.map((row) => row.length),
      last: lens.cells.at(-1)?.at(-1),
      ranks: lens.cells.map((row) => row.at(-1)?.targetRank),
      target: lens.target,
    };
  }, PROMPT);
  timings.push(['API logitLens (Eiffel prompt, 10 tokens)', Math.round(r.ms)]);
  check(r.rows.length === nLayers + 1, `logitLens gave ${r.rows.length} rows, expected ${nLayers + 1}`);
  check(
    r.rows[0] === 'blocks.0.hook_resid_pre' && r.rows.at(-1) === `blocks.${nLayers - 1}.hook_resid_post`,
    `logitLens rows run ${JSON.stringify(r.rows[0])} … ${JSON.stringify(r.rows.at(-1))}`,
  );
  check(
    r.widths.length === r.rows.length && r.widths.every((w) => w === r.n),
    `cells are not [${r.rows.length}][${r.n}]: widths ${r.widths}`,
  );
  check(r.target?.text === ' Paris', `target ${JSON.stringify(r.target)}, expected " Paris"`);
  check(r.last?.targetRank === 0, `" Paris" has rank ${r.last?.targetRank} at the last row and position, expected 0`);
  check(r.last?.top?.[0]?.token === ' Paris', `the last cell's top-1 is ${JSON.stringify(r.last?.top?.[0])}`);
  const p = Math.exp(r.last?.targetLogprob);
  check(Math.abs(p - r.last?.top?.[0]?.prob) < 1e-4, `exp(targetLogprob) = ${p} differs from the top-1 prob ${r.last?.top?.[0]?.prob}`);
  console.log(`    rank of " Paris" at the last position, row by row: ${r.ranks.join(' ')}; final p = ${p.toFixed(3)}`);
});

test('API logitLens: a target that is not one token is refused, naming its pieces', async () => {
  const message = await page.evaluate(
    (prompt) =>
      window.loupe.logitLens({ prompt, target: 'Paris France' }).then(
        () => null,
        (e) => e.message,
      ),
    PROMPT,
  );
  check(/not one/.test(message ?? '') && /France/.test(message ?? ''), `logitLens with a 2-token target: ${JSON.stringify(message)}`);
});

test('explorer logit lens: default target " Paris", grid, hover top-5', async () => {
  await uiRun(page, PROMPT);
  await page.click('#tab-lens');
  const target = await page.inputValue('#lens-target');
  check(target === ' Paris', `the lens target defaults to ${JSON.stringify(target)}, expected the run's top-1 " Paris"`);
  const ms = await uiAnalysis(page, 'lens', '#lens-run');
  timings.push(['explorer logit lens', ms]);
  const grid = await gridOf(page, '#lens canvas.heatmap');
  check(grid.rows === nLayers + 1 && grid.cols === 10, `lens grid is ${grid.rows} × ${grid.cols}, expected ${nLayers + 1} × 10`);
  const readout = await hoverGrid(page, '#lens canvas.heatmap', grid.rows - 1, grid.cols - 1, '#lens-readout');
  check(/·Paris/.test(readout) && /rank 1\b/.test(readout), `lens hover readout ${JSON.stringify(readout)} lacks ·Paris at rank 1`);
  console.log(`    ${readout.replaceAll('\n', ' | ')}`);
  await shoot(page, 'lens.png', () => hoverGrid(page, '#lens canvas.heatmap', grid.rows - 1, grid.cols - 1, '#lens-readout'));
});
