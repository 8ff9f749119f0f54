// Probes on every layer, and a probe as the steering direction (tests/artifacts/probes.png).

import { test, onMainPage, check, timings, uiAnalysis, shoot } from './fixtures.mjs';

let page, nLayers;
onMainPage((main) => ({ page, nLayers } = main));

test('explorer Probes: train on every layer, 30 + 30 accuracy points, use a probe as the steering direction', async () => {
  await page.click('#tab-probes');
  const ms = await uiAnalysis(page, 'probes', '#probe-run');
  timings.push(['explorer probes (16 prompts, 30 layers)', ms]);
  const points = await page.$$eval('#probe-plot circle', (cs) =>
    cs.map((c) => ({ series: c.dataset.series, layer: Number(c.dataset.layer), value: Number(c.dataset.value) })),
  );
  for (const series of ['train', 'held-out']) {
    const of = points.filter((p) => p.series === series);
    check(
      of.length === nLayers && of.every((p, i) => p.layer === i && p.value >= 0 && p.value <= 1),
      `${series}: ${of.length} points, expected ${nLayers} in [0, 1]`,
    );
  }
  const summary = await page.textContent('#probe-summary');
  check(/12 training prompts, 4 held out/.test(summary) && /noisy/.test(summary), `probe summary ${JSON.stringify(summary)}`);
  await shoot(page, 'probes.png');
  await page.locator('#probe-plot rect.plot-hit[data-layer="12"]').click();
  check((await page.inputValue('#probe-layer')) === '12', 'clicking layer 12 did not pick its probe');
  check(/^layer 12: train \d+%, held-out \d+%/.test(await page.textContent('#probe-readout')), 'the readout does not describe layer 12');
  await page.click('#probe-use');
  check((await page.getAttribute('#tab-steering', 'aria-selected')) === 'true', 'the Steering tab is not on show');
  check(
    (await page.inputValue('#steer-source')) === 'vector' && (await page.inputValue('#steer-layers')) === '12',
    'the steering source is not the probe at layer 12',
  );
  const vector = JSON.parse(await page.inputValue('#steer-vector'));
  check(Array.isArray(vector) && vector.length === 576 && vector.every(Number.isFinite), `the pasted vector has ${vector?.length} values`);
  check(/layer-12 probe/.test(await page.textContent('#steer-vector-note')), 'the steering tab does not say where the vector came from');
  console.log(`    ${summary}`);
});
