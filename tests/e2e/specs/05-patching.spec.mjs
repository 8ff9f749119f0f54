// Activation patching and attribution patching on the IOI prompt, through window.loupe and
// through the page (tests/artifacts/patching.png, attribution-patching.png), Stop, and prompts
// of different lengths. Uses the IOI example's form values (03-dla).

import {
  test,
  onMainPage,
  check,
  timings,
  uiRun,
  gridOf,
  hoverGrid,
  shoot,
  bannerText,
  IOI,
  IOI_TOP_HEAD,
  PATCH_HEAD_MIN,
  ATTRIBUTION_PATCHING_MIN_R,
  STEP_TIMEOUT_MS,
} from './fixtures.mjs';

let page, nLayers, nHeads;
onMainPage((main) => ({ page, nLayers, nHeads } = main));

// The explorer calls window.loupe.patch like any host; wrapping it lets the test see the
// numbers behind the heatmap and when each layer arrived.
test.beforeAll(async () => {
  await page.evaluate(() => {
    const patch = window.loupe.patch;
    window.e2ePatches = [];
    window.loupe.patch = (options, onProgress) => {
      const record = { site: options.site, layers: [], t0: performance.now() };
      window.e2ePatches.push(record);
      return patch(options, (partial) => {
        record.layers.push(Math.round(performance.now() - record.t0));
        return onProgress?.(partial);
      }).then(
        (result) => Object.assign(record, { result, ms: performance.now() - record.t0 }) && result,
        (error) => {
          record.error = error.message;
          throw error;
        },
      );
    };
  });
});

test('API patch: onProgress after each layer; returning false stops mid-sweep', async () => {
  const r = await page.evaluate(async ({ clean, corrupted, token, minus }) => {
    const seen = [];
    const result = await window.loupe.patch(
      { clean, corrupted, metric: { type: 'logit_diff', token, minus }, site: 'head_z' },
      (partial) => {
        seen.push([partial.layersDone, partial.nLayers, partial.values.length]);
        return partial.layersDone >= 2 ? false : undefined;
      },
    );
    return { seen, result };
  }, IOI);
  const { result, seen } = r;
  check(result.stopped === true, `a stopped sweep resolved with stopped = ${result.stopped}`);
  check(result.layersDone >= 2 && result.layersDone < nLayers, `stopped after ${result.layersDone} layers`);
  check(
    result.values.length === result.layersDone && result.values.every((row) => row.length === nHeads),
    'partial values do not match layersDone × heads',
  );
  check(
    seen.every(([done, n, len], i) => done === i + 1 && n === nLayers && len === done),
    `progress reports ${JSON.stringify(seen)}`,
  );
  check(
    result.cleanMetric > result.corruptedMetric,
    `clean metric ${result.cleanMetric} is not above the corrupted ${result.corruptedMetric}`,
  );
  console.log(`    stopped after ${result.layersDone} of ${result.nLayers} layers; progress ${JSON.stringify(seen)}`);
});

test('API patch head_z_pos: head-major values per layer; stopped after 2 layers', async () => {
  const r = await page.evaluate(async ({ clean, corrupted, token, minus }) => {
    const t0 = performance.now();
    const result = await window.loupe.patch(
      { clean, corrupted, metric: { type: 'logit_diff', token, minus }, site: 'head_z_pos' },
      (partial) => (partial.layersDone >= 2 ? false : undefined),
    );
    return { ms: performance.now() - t0, result };
  }, IOI);
  const { result } = r;
  const positions = result.cleanTokens.length;
  timings.push(['API patch head_z_pos, IOI (2 layers, then stopped)', Math.round(r.ms)]);
  check(result.site === 'head_z_pos', `site ${JSON.stringify(result.site)}`);
  check(
    result.stopped === true && result.layersDone >= 2 && result.layersDone < nLayers,
    `stopped = ${result.stopped} after ${result.layersDone} layers`,
  );
  check(positions === 14, `the IOI prompt is ${positions} tokens, expected 14`);
  check(
    result.values.length === result.layersDone && result.values.every((row) => row.length === nHeads * positions),
    `values[0] has ${result.values[0]?.length} entries, expected ${nHeads} × ${positions} = ${nHeads * positions}`,
  );
  check(result.values.flat().every(Number.isFinite), 'some head_z_pos value is not finite');
  // Positions before the first changed token cannot carry the difference: exactly 0.
  const first = result.cleanTokens.findIndex((t, i) => t.id !== result.corruptedTokens[i].id);
  const early = result.values.flatMap((row) =>
    Array.from({ length: nHeads }, (_, h) => row.slice(h * positions, h * positions + first)).flat(),
  );
  check(first > 0 && early.every((v) => v === 0), `values before the first changed position (${first}) are not all 0`);
  console.log(
    `    ${result.layersDone} layers × ${nHeads} heads × ${positions} positions in ${Math.round(r.ms)} ms; first changed position ${first}`,
  );
});

test('explorer patching head_z on IOI: progress, full sweep, heatmap', async () => {
  await page.click('#tab-patching');
  await page.click('#patch-run');
  await page.waitForFunction(() => Number(document.querySelector('#patch-progress').value) >= 1, null, { timeout: STEP_TIMEOUT_MS });
  await page.waitForSelector('#patching[data-state="ready"], #patching[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
  const run = await page.evaluate(() => window.e2ePatches.at(-1));
  check(!run.error, `the sweep failed: ${run.error}`);
  const { result } = run;
  check(result.values.length === nLayers && result.values.every((row) => row.length === nHeads), `values are not [${nLayers}][${nHeads}]`);
  check(result.values.flat().every(Number.isFinite), 'some patched value is not finite');
  let best = [0, 0];
  result.values.forEach((row, l) =>
    row.forEach((v, h) => {
      if (v > result.values[best[0]][best[1]]) best = [l, h];
    }),
  );
  const top = result.values[best[0]][best[1]];
  check(
    top >= PATCH_HEAD_MIN,
    `no head restores ≥ ${PATCH_HEAD_MIN} of the logit difference (best L${best[0]} H${best[1]} = ${top.toFixed(3)})`,
  );
  const steps = run.layers.map((t, i) => t - (run.layers[i - 1] ?? 0));
  timings.push([
    'explorer patching head_z, IOI (30 layers)',
    `${Math.round(run.ms)} (first layer ${steps[0]}, slowest ${Math.max(...steps)}, last ${steps.at(-1)})`,
  ]);
  const summary = await page.textContent('#patch-summary');
  check(/clean metric/.test(summary) && /corrupted/.test(summary), `patching summary ${JSON.stringify(summary)}`);
  const grid = await gridOf(page, '#patching canvas.heatmap');
  check(grid.rows === nHeads && grid.cols === nLayers, `patching heatmap is ${grid.rows} × ${grid.cols}`);
  const readout = await hoverGrid(page, '#patching canvas.heatmap', best[1], best[0], '#patch-readout');
  check(readout.startsWith(`L${best[0]} H${best[1]}: ${top.toFixed(3)}`), `hover readout ${JSON.stringify(readout)}`);
  console.log(`    ${summary}\n    ${readout}; per-layer ms ${steps.join(' ')}`);
  await shoot(page, 'patching.png', () => hoverGrid(page, '#patching canvas.heatmap', best[1], best[0], '#patch-readout'));
});

test('API attributionPatching on IOI: [30][14] per-position estimates, [30][9] heads, L23 H3 leads', async () => {
  const r = await page.evaluate(async ({ clean, corrupted, token, minus }) => {
    const phases = [];
    const t0 = performance.now();
    const metric = { type: 'logit_diff', token, minus };
    const a = await window.loupe.attributionPatching({ clean, corrupted, metric }, { onProgress: (p) => void phases.push(p.phase) });
    return { ms: performance.now() - t0, phases, ...a };
  }, IOI);
  timings.push([`API attributionPatching (IOI, 14 tokens)${r.phases.includes('prepare') ? ' + f32 model build' : ''}`, Math.round(r.ms)]);
  const positions = r.cleanTokens?.length;
  check(
    positions === 14 && r.corruptedTokens?.length === 14,
    `attributionPatching tokens ${positions} / ${r.corruptedTokens?.length}, expected 14`,
  );
  for (const key of ['residPre', 'attnOut', 'mlpOut']) {
    check(r[key]?.length === nLayers && r[key].every((row) => row.length === positions), `${key} is not [${nLayers}][${positions}]`);
    check(r[key]?.flat().every(Number.isFinite), `${key} has a value that is not finite`);
  }
  check(r.headZ?.length === nLayers && r.headZ.every((row) => row.length === nHeads), `headZ is not [${nLayers}][${nHeads}]`);
  check(r.cleanMetric > r.corruptedMetric, `clean metric ${r.cleanMetric} is not above the corrupted ${r.corruptedMetric}`);
  let best = [0, 0];
  r.headZ.forEach((row, l) =>
    row.forEach((v, h) => {
      if (v > r.headZ[best[0]][best[1]]) best = [l, h];
    }),
  );
  check(
    best[0] === IOI_TOP_HEAD[0] && best[1] === IOI_TOP_HEAD[1],
    `the largest head estimate is L${best[0]} H${best[1]}, expected L${IOI_TOP_HEAD[0]} H${IOI_TOP_HEAD[1]}`,
  );
  console.log(
    `    clean ${r.cleanMetric.toFixed(3)}, corrupted ${r.corruptedMetric.toFixed(3)}; L${best[0]} H${best[1]} estimate ${r.headZ[best[0]][best[1]].toFixed(3)}`,
  );
});

test('explorer attribution patching beside the head_z sweep: heatmap, Pearson r, largest disagreement', async () => {
  const t0 = Date.now();
  await page.click('#patch-estimate');
  await page.waitForSelector('#patch-estimate-map[data-state="ready"], #patch-estimate-map[data-state="error"]', {
    timeout: STEP_TIMEOUT_MS,
  });
  timings.push(['explorer attribution patching', Date.now() - t0]);
  check(
    (await page.getAttribute('#patch-estimate-map', 'data-state')) === 'ready',
    `the estimate failed: ${await page.textContent('#patch-estimate-note')}`,
  );
  const grid = await gridOf(page, '#patch-estimate-map canvas.heatmap');
  check(
    grid.rows === nHeads && grid.cols === nLayers,
    `the estimate heatmap is ${grid.rows} × ${grid.cols}, expected ${nHeads} × ${nLayers}`,
  );
  const real = await gridOf(page, '#patching canvas.heatmap');
  check(
    real.rows === nHeads && real.cols === nLayers && real.cellWidth === grid.cellWidth,
    'the real and estimated maps do not share their shape and column width',
  );
  const agreement = await page.textContent('#patch-agreement');
  const r = Number(await page.getAttribute('#patch-agreement', 'data-r'));
  check(
    /Pearson r = \d\.\d{3}/.test(agreement) && /largest disagreement at L\d+ H\d+/.test(agreement),
    `agreement line ${JSON.stringify(agreement)}`,
  );
  check(r >= ATTRIBUTION_PATCHING_MIN_R, `Pearson r between patching and its estimate is ${r}, expected ≥ ${ATTRIBUTION_PATCHING_MIN_R}`);
  const [l, h] = IOI_TOP_HEAD;
  const readout = await hoverGrid(page, '#patch-estimate-map canvas.heatmap', h, l, '#patch-readout');
  check(
    readout.startsWith(`estimate L${l} H${h}: `) && /\(patching: /.test(readout),
    `hovering the estimate's L${l} H${h} reads ${JSON.stringify(readout)}`,
  );
  console.log(`    ${agreement}\n    ${readout}`);
  await shoot(page, 'attribution-patching.png', () => hoverGrid(page, '#patch-estimate-map canvas.heatmap', h, l, '#patch-readout'));
  await page.selectOption('#patch-site', 'head_z_pos');
  check(/head_z_pos/.test(await page.textContent('#patch-estimate-note')), 'head_z_pos does not say it has no estimate');
  await page.selectOption('#patch-site', 'head_z');
});

test('explorer patching Stop: partial result, stopped, page usable', async () => {
  await page.selectOption('#patch-site', 'resid_pre');
  await page.click('#patch-run');
  await page.waitForFunction(() => Number(document.querySelector('#patch-progress').value) >= 1, null, { timeout: STEP_TIMEOUT_MS });
  const t0 = Date.now();
  await page.click('#patch-stop');
  await page.waitForSelector('#patching[data-state="stopped"], #patching[data-state="ready"], #patching[data-state="error"]', {
    timeout: STEP_TIMEOUT_MS,
  });
  timings.push(['patching: Stop click → stopped', Date.now() - t0]);
  const run = await page.evaluate(() => window.e2ePatches.at(-1));
  check(
    run.result?.stopped === true && run.result.layersDone < nLayers,
    `after Stop: stopped = ${run.result?.stopped}, ${run.result?.layersDone} layers`,
  );
  check(
    run.result?.values.every((row) => row.length === run.result.cleanTokens.length),
    'resid_pre rows are not one value per position',
  );
  const summary = await page.textContent('#patch-summary');
  check(/stopped after \d+ of 30 layers/.test(summary), `summary after Stop: ${JSON.stringify(summary)}`);
  const grid = await gridOf(page, '#patching canvas.heatmap');
  check(grid.rows === run.result.cleanTokens.length && grid.cols === nLayers, `resid_pre grid is ${grid.rows} × ${grid.cols}`);
  check(await page.isEnabled('#patch-run'), 'Patch stays disabled after Stop');
  console.log(`    ${summary}`);
});

test('patching prompts of different lengths: clear message in the banner, page usable', async () => {
  await page.fill('#patch-corrupted', 'When Mary and John went to the big store, Mary gave a drink to');
  await page.click('#patch-run');
  await page.waitForSelector('#patching[data-state="error"], #patching[data-state="ready"]', { timeout: STEP_TIMEOUT_MS });
  const banner = await bannerText(page);
  check(/15 tokens|14 tokens/.test(banner) && /same/.test(banner), `banner for prompts of different lengths: ${JSON.stringify(banner)}`);
  check(await page.isEnabled('#patch-run'), 'Patch stays disabled after the error');
  console.log(`    banner: ${JSON.stringify(banner)}`);
  await uiRun(page, IOI.clean);
  check((await bannerText(page)) === '', 'the banner stays after a successful run');
  check((await page.textContent('#topk tbody tr:first-child .chip')) === '·Mary', 'after the error, the IOI run does not give ·Mary');
  await page.fill('#patch-corrupted', IOI.corrupted);
  await page.selectOption('#patch-site', 'head_z');
});
