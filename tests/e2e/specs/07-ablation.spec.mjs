// Ablation, through window.loupe and through the page (tests/artifacts/ablation.png).

import { test, onMainPage, check, timings, uiAnalysis, shoot, IOI, ABLATE_HEAD_MIN_DROP, STEP_TIMEOUT_MS } from './fixtures.mjs';

let page;
onMainPage((main) => ({ page } = main));
const api = {}; // API results the page must agree with

test('API ablate: zeroing L23 H3 cuts the IOI logit difference', async () => {
  const r = await page.evaluate(async (ioi) => {
    const t0 = performance.now();
    const a = await window.loupe.ablate({
      prompt: ioi.clean,
      component: { kind: 'head', layer: 23, head: 3 },
      method: 'zero',
      metric: { type: 'logit_diff', token: ioi.token, minus: ioi.minus },
    });
    let resample;
    try {
      const b = await window.loupe.ablate({
        prompt: ioi.clean,
        component: { kind: 'mlp', layer: 0 },
        method: 'resample',
        reference: 'too short',
        metric: { type: 'logprob', token: ioi.token },
      });
      resample = `resolved: ${JSON.stringify(b.kl)}`;
    } catch (error) {
      resample = error.message;
    }
    return { ms: performance.now() - t0, ...a, resample };
  }, IOI);
  timings.push(['API ablate (IOI, head 23.3, zero)', Math.round(r.ms)]);
  api.ablate = r;
  check(
    r.ablatedMetric < r.cleanMetric - ABLATE_HEAD_MIN_DROP,
    `ablated metric ${r.ablatedMetric} is not below the clean ${r.cleanMetric} − ${ABLATE_HEAD_MIN_DROP}`,
  );
  check(r.kl > 0, `KL(clean ‖ ablated) = ${r.kl}, expected > 0`);
  check(r.topClean?.[0]?.token === IOI.token, `clean top-1 ${JSON.stringify(r.topClean?.[0])}, expected " Mary"`);
  check(r.topAblated?.length > 0 && r.intervention && typeof r.intervention === 'object', 'ablate lacks topAblated or its intervention');
  check(
    typeof r.resample === 'string' && !r.resample.startsWith('resolved'),
    `resampling from a shorter reference should reject, got ${JSON.stringify(r.resample)}`,
  );
  console.log(
    `    clean ${r.cleanMetric.toFixed(3)} → ablated ${r.ablatedMetric.toFixed(3)}, KL ${r.kl.toFixed(4)}; intervention ${JSON.stringify(r.intervention)}`,
  );
  console.log(`    short reference: ${r.resample}`);
});

test('API ablate mean_reference: L23 H3 set to its mean over reference prompts cuts the IOI logit difference', async () => {
  const r = await page.evaluate(async (ioi) => {
    const t0 = performance.now();
    const a = await window.loupe.ablate({
      prompt: ioi.clean,
      component: { kind: 'head', layer: 23, head: 3 },
      method: 'mean_reference',
      references: ['The cat sat on the mat.', 'Yesterday I went to the market and bought apples.'],
      metric: { type: 'logit_diff', token: ioi.token, minus: ioi.minus },
    });
    const ms = performance.now() - t0;
    let empty;
    try {
      const b = await window.loupe.ablate({
        prompt: ioi.clean,
        component: { kind: 'head', layer: 23, head: 3 },
        method: 'mean_reference',
        references: [],
        metric: { type: 'logprob', token: ioi.token },
      });
      empty = `resolved: ${JSON.stringify(b.kl)}`;
    } catch (error) {
      empty = error.message;
    }
    return { ms, ...a, empty };
  }, IOI);
  timings.push(['API ablate (IOI, head 23.3, mean_reference, 2 prompts)', Math.round(r.ms)]);
  check(r.ablatedMetric < r.cleanMetric - 1, `ablated metric ${r.ablatedMetric} is not below the clean ${r.cleanMetric} − 1`);
  check(Number.isFinite(r.kl) && r.kl > 0, `KL(clean ‖ ablated) = ${r.kl}, expected > 0`);
  check(
    typeof r.empty === 'string' && !r.empty.startsWith('resolved') && r.empty.length > 0,
    `mean_reference with no references should reject, got ${JSON.stringify(r.empty)}`,
  );
  console.log(
    `    clean ${r.cleanMetric.toFixed(3)} → ablated ${r.ablatedMetric.toFixed(3)}, KL ${r.kl.toFixed(4)}; no references: ${r.empty}`,
  );
});

test('explorer ablation: the IOI example fills the form; clean vs ablated, intervention JSON', async () => {
  // Later runs suggest their own top tokens, as for the other tabs: set the example again.
  const count = Number(await page.getAttribute('main', 'data-run-count'));
  await page.click('#ioi-example');
  await page.waitForFunction((c) => Number(document.querySelector('main').dataset.runCount) > c, count, { timeout: STEP_TIMEOUT_MS });
  await page.waitForSelector('#run:not([disabled])');
  check((await page.inputValue('#ablate-kind')) === 'head', 'the IOI example did not select a head');
  check(
    (await page.inputValue('#ablate-layer')) === '23' && (await page.inputValue('#ablate-head')) === '3',
    'the IOI example did not select L23 H3',
  );
  check((await page.inputValue('#ablate-method')) === 'zero', 'the IOI example did not select zero ablation');
  check((await page.inputValue('#ablate-reference')) === IOI.corrupted, 'the IOI example did not set the reference prompt');
  check(
    (await page.inputValue('#ablate-token')) === IOI.token && (await page.inputValue('#ablate-minus')) === IOI.minus,
    'the IOI example did not set the ablation metric tokens',
  );
  await page.click('#tab-ablation');
  const ms = await uiAnalysis(page, 'ablation', '#ablate-run');
  timings.push(['explorer ablation', ms]);
  const summary = await page.textContent('#ablate-summary');
  check(/clean/.test(summary) && /ablated/.test(summary) && /KL/.test(summary), `ablation summary ${JSON.stringify(summary)}`);
  const rows = [
    await page.$$eval('#ablate-top-clean tbody tr', (r) => r.length),
    await page.$$eval('#ablate-top-ablated tbody tr', (r) => r.length),
  ];
  check(rows[0] === 5 && rows[1] === 5, `top-5 tables have ${rows} rows`);
  check((await page.textContent('#ablate-top-clean tbody tr:first-child .chip')) === '·Mary', 'the clean top-1 is not ·Mary');
  let json = null;
  try {
    json = JSON.parse(await page.textContent('#ablate-intervention'));
  } catch (error) {
    check(false, `the intervention <pre> is not JSON: ${error.message}`);
  }
  check(json && /23/.test(JSON.stringify(json)), `intervention ${JSON.stringify(json)} does not name layer 23`);
  console.log(`    ${summary}`);
  check(
    summary.includes(`clean ${api.ablate?.cleanMetric.toFixed(3)}`),
    `the page's clean metric differs from the API's ${api.ablate?.cleanMetric}`,
  );
  await shoot(page, 'ablation.png');
});
