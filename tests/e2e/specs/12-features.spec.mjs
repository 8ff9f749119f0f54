// The Features tab: the SAE loads on first use (the default one, or — when dist/ has none —
// the tiny test SAE through the URL field), features per token, a feature's dashboard,
// feature steering (tests/artifacts/features.png), and clear errors for a corrupt SAE.

import fs from 'node:fs';
import path from 'node:path';
import {
  test,
  featureRows,
  onMainPage,
  check,
  timings,
  uiRun,
  shoot,
  clampRun,
  bannerText,
  visible,
  PROMPT,
  DEFAULT_SAE,
  TINY_SAE,
  STEP_TIMEOUT_MS,
  DIST,
} from './fixtures.mjs';

let page;
onMainPage((main) => ({ page } = main));
const hasDefault = fs.existsSync(path.join(DIST, DEFAULT_SAE, 'cfg.json'));

test(`explorer Features: ${hasDefault ? 'the default SAE' : 'no default SAE in dist/, so the tiny test SAE'} loads on first use; features per token`, async ({
  app,
}) => {
  await uiRun(page, PROMPT);
  const t0 = Date.now();
  await page.click('#tab-features');
  await page.waitForSelector('#features[data-sae="ready"], #features[data-sae="error"]', { timeout: STEP_TIMEOUT_MS });
  const first = await page.textContent('#sae-status');
  if (hasDefault) {
    check((await page.getAttribute('#features', 'data-sae')) === 'ready', `the default SAE did not load: ${first}`);
  } else {
    check(/404/.test(first) && /cfg\.json/.test(first), `without a default SAE the tab says ${JSON.stringify(first)}`);
    console.log(`    (no ${DEFAULT_SAE} in dist/: ${first}; loading tiny-sae/ instead)`);
    await page.fill('#sae-url', 'tiny-sae/');
    await page.click('#sae-load');
    await page.waitForSelector('#features[data-sae="ready"], #features[data-sae="error"]', { timeout: STEP_TIMEOUT_MS });
  }
  await page.waitForSelector('#features[data-state="ready"], #features[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
  timings.push([`explorer Features: load ${hasDefault ? 'default' : 'tiny'} SAE + features`, Date.now() - t0]);
  const saeStatus = await page.textContent('#sae-status');
  check(
    /features on blocks\.12\.hook_resid_pre/.test(saeStatus) && /dashboard: \d/.test(saeStatus),
    `SAE status ${JSON.stringify(saeStatus)}`,
  );
  const rows = await featureRows(page);
  check(
    rows.length === 10 && rows.map((r) => r.token).join('') === visible(PROMPT),
    `the feature table's tokens ${JSON.stringify(rows.map((r) => r.token))}`,
  );
  check(
    rows.every((r) => r.l0 >= 0 && r.chips === Math.min(8, r.l0)),
    `L0 / chips per row ${JSON.stringify(rows.map((r) => [r.l0, r.chips]))}`,
  );
  const summary = await page.textContent('#feat-summary');
  check(/mean L0 \d/.test(summary) && /reconstruction error/.test(summary), `features summary ${JSON.stringify(summary)}`);
  app.state.hasSae = (await page.getAttribute('#features', 'data-sae')) === 'ready';
  console.log(`    ${saeStatus}\n    ${summary}`);
});

test('API saeFeatures / saeFeatureInfo / saeClamp: sorted features, token effects, a clamp intervention that runs', async ({ app }) => {
  test.skip(!app.state.hasSae, 'no SAE loaded');
  const r = await page.evaluate(async (prompt) => {
    const t0 = performance.now();
    const f = await window.loupe.saeFeatures({ prompt, topK: 16 });
    const ms = performance.now() - t0;
    const feature = f.top[3][0].feature;
    const info = await window.loupe.saeFeatureInfo({ feature, topK: 10 });
    const clamp = await window.loupe.saeClamp({ feature, value: 0 });
    const bad = await window.loupe.saeFeatureInfo({ feature: 1e6 }).then(
      () => null,
      (e) => e.message,
    );
    const ablated = await window.loupe.run({ prompt, topK: 1, interventions: [clamp] });
    return {
      ms,
      f,
      feature,
      info,
      clamp: { hook: clamp.hook, type: clamp.op?.type, value: clamp.op?.value },
      bad,
      ablatedTop: ablated.top[0],
    };
  }, PROMPT);
  timings.push(['API saeFeatures', Math.round(r.ms)]);
  const { f } = r;
  check(f.top.length === 10 && f.l0.length === 10 && f.relativeError.length === 10, 'saeFeatures is not one entry per token');
  check(
    f.top.every(
      (list, p) =>
        list.length === Math.min(16, f.l0[p]) &&
        list.every((a, i) => a.activation > 0 && (i === 0 || a.activation <= list[i - 1].activation)),
    ),
    'saeFeatures lists are not the strongest active features, strongest first',
  );
  check(
    f.relativeError.every((e) => Number.isFinite(e) && e >= 0),
    `relativeError ${JSON.stringify(f.relativeError)}`,
  );
  check(
    r.info.feature === r.feature && r.info.promoted.length === 10 && r.info.suppressed.length === 10 && r.info.decoderNorm > 0,
    `saeFeatureInfo ${JSON.stringify(r.info).slice(0, 200)}`,
  );
  check(
    r.clamp.hook === 'blocks.12.hook_resid_pre' && r.clamp.type === 'clamp_feature' && r.clamp.value === 0,
    `saeClamp gave ${JSON.stringify(r.clamp)}`,
  );
  check(/out of range/.test(r.bad ?? ''), `a feature out of range gave ${JSON.stringify(r.bad)}`);
  check(Number.isFinite(r.ablatedTop?.prob), 'run with the clamp intervention failed');
  console.log(
    `    feature ${r.feature}: decoder norm ${r.info.decoderNorm.toFixed(3)}, promotes ${r.info.promoted
      .slice(0, 3)
      .map((t) => JSON.stringify(t.token))
      .join(' ')}; ablated top ${JSON.stringify(r.ablatedTop.token)}`,
  );
});

test('explorer feature dashboard: click a feature; prompt activations, contexts, histogram, token effects', async ({ app }) => {
  test.skip(!app.state.hasSae, 'no SAE loaded');
  const chip = page.locator('#feat-table tbody tr[data-position="3"] .feature-chip').first();
  const feature = Number(await chip.getAttribute('data-feature'));
  const t0 = Date.now();
  await chip.click();
  await page.waitForSelector(`#feature-dash[data-feature="${feature}"]`, { timeout: STEP_TIMEOUT_MS });
  await page.waitForSelector('#feature-clamp-run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
  timings.push(['explorer feature dashboard', Date.now() - t0]);
  check((await page.textContent('#feature-title')) === `Feature ${feature}`, 'the dashboard shows another feature');
  const stats = await page.textContent('#feature-stats');
  check(/fires on [\d.e+-]+% of/.test(stats) && /max activation \d/.test(stats), `dashboard stats ${JSON.stringify(stats)}`);
  const prompt = await page.$$eval('#feature-prompt .chip', (cs) =>
    cs.map((c) => ({ text: c.textContent, a: Number(c.dataset.activation), bg: c.style.background })),
  );
  check(
    prompt.map((c) => c.text).join('') === visible(PROMPT) && prompt[3].a > 0 && prompt.every((c) => /rgb/.test(c.bg)),
    'the prompt tokens are not shaded by the feature',
  );
  const contexts = await page.$$eval('#feature-contexts li', (ls) =>
    ls.map((l) => ({
      text: [...l.querySelectorAll('.ctx-token')].map((c) => c.textContent).join(''),
      max: l.querySelectorAll('.max-token').length,
    })),
  );
  check(contexts.length > 0 && contexts.every((c) => c.max === 1 && c.text.length > 0), `top contexts ${JSON.stringify(contexts)}`);
  if (!hasDefault)
    check(
      contexts[0].text === visible(PROMPT),
      `the synthetic context decodes to ${JSON.stringify(contexts[0].text)}, expected the default prompt`,
    );
  check((await page.$$eval('#feature-histogram rect', (r) => r.length)) === 16, 'the histogram does not have 16 bins');
  check((await page.$$eval('#feature-promoted tbody tr', (r) => r.length)) === 10, 'promoted tokens missing');
  check((await page.$$eval('#feat-table .feature-chip.selected', (c) => c.length)) >= 1, 'the chosen feature is not marked in the table');
  console.log(`    Feature ${feature}: ${stats}\n    top context: ${contexts[0]?.text}`);
});

test('explorer feature steering: clamped and unsteered continuations, clamp to 0', async ({ app }) => {
  test.skip(!app.state.hasSae, 'no SAE loaded');
  const ms = await clampRun(page, '#feature-clamp-run');
  timings.push(['explorer feature clamp, 2 × 20 tokens', ms]);
  const base = await page.textContent('#feature-base .gen-text');
  const steered = await page.textContent('#feature-steered .gen-text');
  const summary = await page.textContent('#feature-clamp-summary');
  check(base.length > 0 && steered.length > 0, `continuations ${JSON.stringify([base, steered])}`);
  check(/^feature \d+ clamped to \d/.test(summary), `clamp summary ${JSON.stringify(summary)}`);
  console.log(`    ${summary}\n    unsteered ${JSON.stringify(base)}\n    clamped   ${JSON.stringify(steered)}`);
  await page.locator('#feature-dash').scrollIntoViewIfNeeded();
  await shoot(page, 'features.png');
  await clampRun(page, '#feature-ablate');
  const ablated = await page.textContent('#feature-clamp-summary');
  check(/clamped to 0 \(ablated\)/.test(ablated), `clamp-to-0 summary ${JSON.stringify(ablated)}`);
});

test("explorer feature → steering: the decoder row becomes the Steering tab's direction", async ({ app }) => {
  test.skip(!app.state.hasSae, 'no SAE loaded');
  await page.click('#feature-to-steer');
  await page.waitForFunction(() => document.querySelector('#steer-source')?.value === 'vector', null, { timeout: STEP_TIMEOUT_MS });
  const vector = JSON.parse(await page.inputValue('#steer-vector'));
  check(Array.isArray(vector) && vector.length === 576 && vector.every(Number.isFinite), `decoder row of ${vector.length} values`);
  check((await page.inputValue('#steer-layers')) === '12', "the steered layer is not the SAE's layer 12");
  check(/decoder row/.test(await page.textContent('#steer-vector-note')), 'the steering tab does not say where the vector came from');
  await page.click('#tab-features');
});

test('a corrupt SAE: clear errors (API and files), the loaded SAE stays; local files load', async ({ app }) => {
  test.skip(!app.state.hasSae, 'no SAE loaded');
  const message = await page.evaluate(() =>
    window.loupe.loadSae({ url: 'corrupt-sae/' }).then(
      () => null,
      (e) => e.message,
    ),
  );
  check(/corrupt-sae/.test(message ?? '') && /safetensors/.test(message ?? ''), `a truncated weights file gave ${JSON.stringify(message)}`);
  const cfg = fs.readFileSync(path.join(TINY_SAE, 'cfg.json'));
  const weights = fs.readFileSync(path.join(TINY_SAE, 'sae_weights.safetensors'));
  await page.setInputFiles('#sae-files', [
    { name: 'cfg.json', mimeType: 'application/json', buffer: Buffer.from(cfg.toString().replace('"d_in": 576', '"d_in": 512')) },
    { name: 'sae_weights.safetensors', mimeType: 'application/octet-stream', buffer: weights },
  ]);
  await page.waitForFunction(() => /another model/.test(document.querySelector('[role="alert"]')?.textContent ?? ''), null, {
    timeout: STEP_TIMEOUT_MS,
  });
  const banner = await bannerText(page);
  check(/d_in = 512/.test(banner), `a cfg.json for another model gave ${JSON.stringify(banner)}`);
  check(/previous SAE stays loaded/.test(await page.textContent('#sae-status')), 'the SAE status does not say the previous SAE stays');
  const still = await page.evaluate(
    (prompt) =>
      window.loupe.saeFeatures({ prompt, topK: 1 }).then(
        (f) => f.l0.length,
        (e) => e.message,
      ),
    PROMPT,
  );
  check(still === 10, `after the failed loads, saeFeatures gave ${JSON.stringify(still)}`);
  await page.setInputFiles('#sae-files', [path.join(TINY_SAE, 'cfg.json'), path.join(TINY_SAE, 'sae_weights.safetensors')]);
  await page.waitForFunction(() => /from local files/.test(document.querySelector('#sae-status')?.textContent ?? ''), null, {
    timeout: STEP_TIMEOUT_MS,
  });
  await page.waitForSelector('#features[data-state="ready"]', { timeout: STEP_TIMEOUT_MS });
  const status = await page.textContent('#sae-status');
  check(/^64 features/.test(status) && /no dashboard\.json/.test(status), `local files: ${JSON.stringify(status)}`);
  console.log(`    ${message}\n    ${banner}\n    ${status}`);
});
