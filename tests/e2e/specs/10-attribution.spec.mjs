// Input attribution, through window.loupe and through the page (tests/artifacts/attribution.png,
// attribution-compare.png). Runs last of the analyses: it puts the Eiffel prompt on the page.
// The first gradient call of a worker builds the f32 gradient model (seconds, once).

import {
  test,
  onMainPage,
  check,
  timings,
  uiRun,
  uiAnalysis,
  shoot,
  visible,
  reference,
  PROMPT,
  F32_LOGPROB_BOUND,
  IG_E2E,
  STEP_TIMEOUT_MS,
} from './fixtures.mjs';

let page;
onMainPage((main) => ({ page } = main));
const parisLogprob = reference().prompts[0].top10.find((t) => t.text === ' Paris').logprob;
const target = { type: 'logprob', token: ' Paris' };

// The explorer calls window.loupe.attribute like any host; wrapping it lets the test see
// the results behind the page.
test.beforeAll(async () => {
  await page.evaluate(() => {
    const attribute = window.loupe.attribute;
    window.e2eAttributions = [];
    window.loupe.attribute = (options, progress = {}) => {
      const record = { method: options.method, params: options.params, reports: [], t0: performance.now() };
      window.e2eAttributions.push(record);
      const onProgress = (p) => {
        record.reports.push([p.phase, p.done, p.total]);
        return progress.onProgress?.(p);
      };
      return attribute(options, { ...progress, onProgress }).then(
        (result) => Object.assign(record, { result, ms: performance.now() - record.t0 }) && result,
        (error) => {
          record.error = error.message;
          throw error;
        },
      );
    };
  });
});

test('API attribute saliency: one finite value per token, f(x) = log p(" Paris") of the f32 model', async () => {
  const r = await page.evaluate(
    async ({ prompt, target }) => {
      const phases = [];
      const t0 = performance.now();
      const a = await window.loupe.attribute({ prompt, target, method: 'saliency' }, { onProgress: (p) => void phases.push(p.phase) });
      return { ms: performance.now() - t0, phases, ...a };
    },
    { prompt: PROMPT, target },
  );
  timings.push([`API attribute saliency${r.phases.includes('prepare') ? ' (+ f32 model build)' : ''}`, Math.round(r.ms)]);
  const n = r.tokens?.length;
  check(n === 10, `saliency has ${n} tokens, expected 10`);
  check(r.signed?.length === n && r.l2?.length === n, `signed/l2 have ${r.signed?.length}/${r.l2?.length} values for ${n} tokens`);
  check(
    r.signed.every(Number.isFinite) && r.l2.every((v) => Number.isFinite(v) && v >= 0),
    'a saliency value is not finite (or an L2 norm is negative)',
  );
  check(
    r.signed.some((v) => v !== 0),
    'every saliency value is 0: the gradient did not reach the input',
  );
  check(r.finished === true && r.stopped === false, `finished = ${r.finished}, stopped = ${r.stopped}`);
  check(
    r.method === 'saliency' && r.target?.token?.text === ' Paris' && r.target.position === n - 1,
    `method/target ${JSON.stringify([r.method, r.target])}`,
  );
  check(
    Math.abs(r.value - parisLogprob) <= F32_LOGPROB_BOUND,
    `f(x) = ${r.value}, the reference log p(" Paris") = ${parisLogprob} (bound ${F32_LOGPROB_BOUND})`,
  );
  // 'prepare' comes only when this call builds the f32 model (attribution patching may have).
  check(
    r.phases.at(-1) === 'attribute' && r.phases.lastIndexOf('prepare') <= 0,
    `progress phases ${JSON.stringify(r.phases)}: expected ['prepare',] 'attribute'`,
  );
  console.log(`    f(x) ${r.value.toFixed(4)}; signed ${r.signed.map((v) => v.toFixed(2)).join(' ')}`);
});

test('API attribute integrated_gradients (8 steps, "<|endoftext|>" baseline): completeness error = |sum − delta| / |delta|', async () => {
  const r = await page.evaluate(
    async ({ prompt, target, params }) => {
      const reports = [];
      const t0 = performance.now();
      const a = await window.loupe.attribute(
        { prompt, target, method: 'integrated_gradients', params },
        { onProgress: (p) => void reports.push([p.done, p.total]) },
      );
      return { ms: performance.now() - t0, reports, ...a };
    },
    { prompt: PROMPT, target, params: IG_E2E },
  );
  timings.push(['API attribute IG, 8 steps (10 passes)', Math.round(r.ms)]);
  const ig = r.integratedGradients;
  check(ig && r.finished === true, `no integratedGradients report, or unfinished: ${JSON.stringify(ig)?.slice(0, 200)}`);
  const e = ig.completenessError;
  const expected = Math.abs(ig.sum - ig.delta) / Math.abs(ig.delta);
  check(
    Number.isFinite(e) && Math.abs(e - expected) <= 1e-3 * Math.max(1, expected),
    `completenessError ${e} ≠ |sum − delta| / |delta| = ${expected}`,
  );
  check(Math.abs(ig.delta - (r.value - ig.baselineValue)) <= 1e-3, `delta ${ig.delta} ≠ f(x) − f(x′) = ${r.value - ig.baselineValue}`);
  const total = r.signed.reduce((a, b) => a + b, 0);
  check(Math.abs(total - ig.sum) <= 1e-3 * Math.max(1, Math.abs(ig.sum)), `Σ signed = ${total} ≠ sum ${ig.sum}`);
  check(
    ig.rule === 'midpoint' && ig.alphas.length === 8 && ig.pathValues.length === 8 && ig.integrand.length === 8,
    `rule ${ig.rule}, ${ig.alphas.length} alphas, ${ig.pathValues.length} path values, ${ig.integrand.length} integrand values; expected midpoint, 8 each`,
  );
  check(ig.pathValues.every(Number.isFinite) && ig.integrand.every(Number.isFinite), 'a path value or integrand is not finite');
  check(r.reports.length >= 2 && r.reports.at(-1)[0] === r.reports.at(-1)[1], `progress reports ${JSON.stringify(r.reports)}`);
  console.log(
    `    Σ ${ig.sum.toFixed(3)} vs Δ ${ig.delta.toFixed(3)} (f(x′) ${ig.baselineValue.toFixed(3)}): completeness error ${(100 * e).toFixed(1)}%; progress ${JSON.stringify(r.reports)}`,
  );
});

test('API attribute occlusion: values per token; a window after the target changes nothing', async () => {
  const r = await page.evaluate(
    async ({ prompt, target }) => {
      const t0 = performance.now();
      const last = await window.loupe.attribute({ prompt, target, method: 'occlusion' });
      const ms = performance.now() - t0;
      const earlier = await window.loupe.attribute({ prompt, target: { ...target, position: -2 }, method: 'occlusion' });
      return { ms, last, earlier };
    },
    { prompt: PROMPT, target },
  );
  timings.push(['API attribute occlusion (10 windows)', Math.round(r.ms)]);
  const { last, earlier } = r;
  check(
    last.signed.length === 10 && last.signed.every(Number.isFinite) && last.signed.some((v) => v !== 0),
    `occlusion values ${JSON.stringify(last.signed)}`,
  );
  check(
    last.l2.every((v, i) => Math.abs(v - Math.abs(last.signed[i])) < 1e-6),
    'occlusion l2 is not |signed| (one value per token)',
  );
  check(
    earlier.target.position === 8 && earlier.signed[9] === 0,
    `target at position ${earlier.target.position}; the token after it got ${earlier.signed[9]}, expected exactly 0`,
  );
  console.log(`    occlusion ${last.signed.map((v) => v.toFixed(2)).join(' ')}`);
});

test('API attribute with a multi-token target: a clear error, the worker still usable', async () => {
  const r = await page.evaluate(async (prompt) => {
    const error = await window.loupe.attribute({ prompt, target: { type: 'logprob', token: ' Eiffel Tower' }, method: 'saliency' }).then(
      () => null,
      (e) => e.message,
    );
    const after = await window.loupe.attribute({ prompt, target: { type: 'logit', token: 7042 }, method: 'grad_x_input' });
    return { error, after: after.finished && after.target.token.text };
  }, PROMPT);
  check(/3 tokens/.test(r.error ?? '') && /not one/.test(r.error ?? ''), `a 3-token target gave ${JSON.stringify(r.error)}`);
  check(r.after === ' Paris', `after the error, an attribution by token id gave ${JSON.stringify(r.after)}`);
  console.log(`    ${r.error}`);
});

test('explorer input attribution: IG via the page; shaded tokens, completeness sentence, path plot', async () => {
  await uiRun(page, PROMPT);
  await page.click('#tab-attribution');
  check(
    (await page.inputValue('#attr-token')) === ' Paris',
    `the attribution token defaults to ${JSON.stringify(await page.inputValue('#attr-token'))}, expected the run's top-1 " Paris"`,
  );
  await page.selectOption('#attr-method', 'integrated_gradients');
  await page.selectOption('#attr-target', 'logprob');
  await page.fill('#attr-steps', String(IG_E2E.steps));
  await page.selectOption('#attr-baseline', 'token');
  check((await page.inputValue('#attr-baseline-token')) === IG_E2E.baseline.token, 'the baseline token does not default to <|endoftext|>');
  const ms = await uiAnalysis(page, 'attribution', '#attr-run');
  timings.push(['explorer input attribution (IG, 8 steps)', ms]);
  const record = await page.evaluate(() => window.e2eAttributions.at(-1));
  check(
    record.method === 'integrated_gradients' && record.params?.steps === IG_E2E.steps,
    `the page asked for ${JSON.stringify([record.method, record.params])}`,
  );
  const chips = await page.$$eval('#attr-tokens .chip', (cs) =>
    cs.map((c) => ({ text: c.textContent, title: c.title, bg: c.style.background, value: Number(c.dataset.value) })),
  );
  check(
    chips.map((c) => c.text).join('') === visible(PROMPT),
    `attribution chips ${JSON.stringify(chips.map((c) => c.text))} do not spell the prompt`,
  );
  check(
    chips.every((c) => /signed [+−]\d/.test(c.title) && /L2 \d/.test(c.title) && /rgb/.test(c.bg)),
    'attribution chips lack their values on hover or their shade',
  );
  check(
    chips.every((c, i) => Math.abs(c.value - record.result.signed[i]) < 1e-9),
    'the chips do not carry the signed attributions',
  );
  const summary = await page.textContent('#attr-summary');
  check(/log p\('·Paris'\) after position 9 '·of' = −0\.35/.test(summary), `attribution summary ${JSON.stringify(summary)}`);
  const sentence = await page.textContent('#attr-completeness');
  const error = record.result.integratedGradients.completenessError;
  check(
    /Attributions add up to/.test(sentence) &&
      /from the baseline/.test(sentence) &&
      (/completeness error/.test(sentence) || /whole change/.test(sentence)),
    `completeness sentence ${JSON.stringify(sentence)}`,
  );
  const p = 100 * error;
  const stated = `${p >= 100 ? p.toFixed(0) : p >= 10 ? p.toFixed(1) : p.toFixed(2)}%`;
  check(
    sentence.includes(error <= 0.01 ? `error ${stated}` : `${stated} completeness error`),
    `the sentence does not state the ${stated} error: ${JSON.stringify(sentence)}`,
  );
  const points = await page.$$eval('#attr-plot circle', (cs) => cs.length);
  check(
    points === 2 * IG_E2E.steps + 2,
    `the path plot has ${points} points, expected ${2 * IG_E2E.steps + 2} (f and the integrand at 8 α, and both ends)`,
  );
  await page.click('#attr-show-l2');
  const l2Low = await page.textContent('#attribution .legend span');
  const l2Values = await page.$$eval('#attr-tokens .chip', (cs) => cs.map((c) => Number(c.dataset.value)));
  check(
    l2Low === '0' && l2Values.every((v, i) => Math.abs(v - record.result.l2[i]) < 1e-9),
    `the L2 toggle shows ${JSON.stringify(l2Values)} from ${l2Low}`,
  );
  await page.click('#attr-show-signed');
  console.log(`    ${summary}\n    ${sentence}`);
  await shoot(page, 'attribution.png');
});

test('explorer compare methods: one shaded row per method', async () => {
  const t0 = Date.now();
  await page.click('#attr-compare');
  await page.waitForSelector('#attribution[data-state="ready"], #attribution[data-state="error"], #attribution[data-state="stopped"]', {
    timeout: STEP_TIMEOUT_MS,
  });
  timings.push(['explorer compare 5 methods (IG 8 steps)', Date.now() - t0]);
  const rows = await page.$$eval('#attr-compare-table tr', (rs) =>
    rs.map((r) => ({
      method: r.dataset.method,
      state: r.dataset.state,
      chips: r.querySelectorAll('.chip').length,
      scale: r.querySelector('.attr-scale')?.textContent ?? '',
    })),
  );
  const methods = ['saliency', 'grad_x_input', 'integrated_gradients', 'smoothgrad', 'occlusion'];
  check(JSON.stringify(rows.map((r) => r.method)) === JSON.stringify(methods), `compare rows ${JSON.stringify(rows.map((r) => r.method))}`);
  check(
    rows.every((r) => r.state === 'done' && r.chips === 10 && /max \|a\| \d/.test(r.scale)),
    `compare rows ${JSON.stringify(rows)}`,
  );
  console.log(`    ${rows.map((r) => `${r.method}: ${r.scale}`).join('; ')}`);
  await shoot(page, 'attribution-compare.png');
});

test('explorer attribution Stop during IG with 64 steps: stopped, partial result, page usable', async () => {
  await page.fill('#attr-steps', '64');
  await page.click('#attr-run');
  await page.waitForFunction(() => Number(document.querySelector('#attr-progress').value) >= 1, null, { timeout: STEP_TIMEOUT_MS });
  const t0 = Date.now();
  await page.click('#attr-stop');
  await page.waitForSelector('#attribution[data-state="stopped"], #attribution[data-state="ready"], #attribution[data-state="error"]', {
    timeout: STEP_TIMEOUT_MS,
  });
  timings.push(['attribution: Stop click → stopped', Date.now() - t0]);
  const record = await page.evaluate(() => window.e2eAttributions.at(-1));
  check(
    record.result?.stopped === true && record.result.finished === false && record.result.done < record.result.total,
    `after Stop: stopped = ${record.result?.stopped}, ${record.result?.done} of ${record.result?.total} passes`,
  );
  check(
    record.result?.signed.length === 10 && record.result.signed.every(Number.isFinite),
    'the stopped result has no finite partial attributions',
  );
  const summary = await page.textContent('#attr-summary');
  check(/stopped after \d+ of 66 passes/.test(summary), `summary after Stop: ${JSON.stringify(summary)}`);
  check(await page.isEnabled('#attr-run'), 'Attribute stays disabled after Stop');
  const top = await page.evaluate((prompt) => window.loupe.run({ prompt, topK: 1 }).then((r) => r.top[0].token), PROMPT);
  check(top === ' Paris', `after Stop, run gives ${JSON.stringify(top)}`);
  console.log(`    ${summary}; reports ${JSON.stringify(record.reports)}`);
  await page.fill('#attr-steps', '32');
});
