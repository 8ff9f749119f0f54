// Training an SAE in the page on the Features tab's prompts: progress as it trains, the
// trained SAE loaded (status line, features per token, a dashboard with contexts from the
// prompts, clamping; tests/artifacts/sae-training.png), the same through window.loupe, Stop
// keeping a usable SAE, clear errors, and a crash saying the trained SAE is gone.

import {
  test,
  featureRows,
  onMainPage,
  check,
  timings,
  shoot,
  clampRun,
  bannerText,
  visible,
  PROMPT,
  SAE_TRAIN_STEPS,
  SAE_TRAIN_MIN_EV,
  SAE_TRAIN_LONG_STEPS,
  STEP_TIMEOUT_MS,
} from './fixtures.mjs';

let page, prompts;
onMainPage((main) => ({ page } = main));
test.beforeAll(async () => {
  await page.click('#tab-features');
  await page.waitForSelector('#features[data-sae="ready"], #features[data-sae="error"]', { timeout: STEP_TIMEOUT_MS });
  prompts = (await page.inputValue('#sae-train-prompts')).split('\n').filter((l) => l.trim());
});

test(`explorer SAE training: ${SAE_TRAIN_STEPS} steps on the prefilled prompts; progress, EV plot, the SAE loaded, features, a dashboard`, async () => {
  check(prompts.length >= 20, `the training prompts are prefilled with ${prompts.length} lines`);
  await page.click('#sae-train > summary');
  await page.fill('#sae-train-steps', String(SAE_TRAIN_STEPS));
  // Every progress report shows in the step count: record what it says.
  await page.evaluate(() => {
    const count = document.querySelector('#sae-train-count');
    window.e2eTrainCounts = [];
    new MutationObserver(() => window.e2eTrainCounts.push(count.textContent)).observe(count, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  await page.waitForSelector('#sae-train-run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
  const t0 = Date.now();
  await page.click('#sae-train-run');
  await page.waitForSelector('#sae-train[data-state="ready"], #sae-train[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
  timings.push([`explorer SAE training, ${SAE_TRAIN_STEPS} steps + contexts + features`, Date.now() - t0]);
  const summary = await page.textContent('#sae-train-summary');
  if ((await page.getAttribute('#sae-train', 'data-state')) !== 'ready') throw new Error(`training failed: ${summary}`);
  const counts = await page.evaluate(() => window.e2eTrainCounts);
  const measured = Array.from({ length: SAE_TRAIN_STEPS / 20 }, (_, i) => 20 * (i + 1));
  check(
    measured.every((n) => counts.includes(`${n} / ${SAE_TRAIN_STEPS} steps`)),
    `progress reports seen: ${JSON.stringify([...new Set(counts)])}`,
  );
  const points = await page.$$eval('#sae-train-plot circle', (cs) =>
    cs.map((c) => ({ series: c.dataset.series, step: Number(c.dataset.step), value: Number(c.dataset.value) })),
  );
  const ev = points.filter((p) => p.series === 'ev');
  check(ev.map((p) => p.step).join() === measured.join(), `EV plot points at steps ${JSON.stringify(ev.map((p) => p.step))}`);
  check(points.filter((p) => p.series === 'l0').length === ev.length, 'the L0 series does not have a point per EV point');
  check(ev.at(-1)?.value > SAE_TRAIN_MIN_EV, `final explained variance ${ev.at(-1)?.value} (want > ${SAE_TRAIN_MIN_EV})`);
  check(
    new RegExp(`^Trained ${SAE_TRAIN_STEPS} steps on \\d+ tokens of ${prompts.length} prompts`).test(summary) &&
      /top contexts from your \d+ prompts/.test(summary),
    `training summary ${JSON.stringify(summary)}`,
  );
  const saeStatus = await page.textContent('#sae-status');
  check(
    /trained in the page on \d+ tokens of your prompts \(d_sae 256, EV [\d.]+%, L0 [\d.]+\)/.test(saeStatus),
    `SAE status after training ${JSON.stringify(saeStatus)}`,
  );
  // The page prompt, read with the trained SAE.
  const rows = await featureRows(page);
  check(
    rows.length === 10 && rows.map((r) => r.token).join('') === visible(PROMPT) && rows.slice(1).every((r) => r.l0 > 0 && r.chips > 0),
    `features per token after training ${JSON.stringify(rows)}`,
  );
  check(
    /blocks\.12\.hook_resid_pre · mean L0/.test(await page.textContent('#feat-summary')),
    'the features summary does not describe the trained SAE',
  );
  // A feature's dashboard: statistics and contexts from the training prompts.
  const chip = page.locator('#feat-table tbody tr[data-position="3"] .feature-chip').first();
  const feature = Number(await chip.getAttribute('data-feature'));
  const t1 = Date.now();
  await chip.click();
  await page.waitForSelector(`#feature-dash[data-feature="${feature}"]`, { timeout: STEP_TIMEOUT_MS });
  await page.waitForSelector('#feature-clamp-run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
  timings.push(['explorer trained-SAE feature dashboard', Date.now() - t1]);
  const stats = await page.textContent('#feature-stats');
  check(
    /no corpus dashboard: trained on your prompts/.test(stats) && /fires on [\d.e+-]+% of \d+ tokens of your prompts/.test(stats),
    `trained dashboard stats ${JSON.stringify(stats)}`,
  );
  const contexts = await page.$$eval('#feature-contexts li', (ls) =>
    ls.map((l) => ({
      text: [...l.querySelectorAll('.ctx-token')].map((c) => c.textContent).join(''),
      max: l.querySelectorAll('.max-token').length,
    })),
  );
  const spelled = prompts.map((p) => visible(p));
  check(
    contexts.length > 0 && contexts.length <= 5 && contexts.every((c) => c.max === 1 && spelled.some((p) => p.includes(c.text))),
    `contexts are not windows of the training prompts: ${JSON.stringify(contexts)}`,
  );
  check(
    /over your prompts/.test(await page.textContent('#feature-dash .histogram-figure figcaption')),
    'the histogram is not described as over the prompts',
  );
  await shoot(page, 'sae-training.png');
  const ms = await clampRun(page, '#feature-clamp-run');
  timings.push(['explorer trained-SAE feature clamp, 2 × 20 tokens', ms]);
  check(/^feature \d+ clamped to \d/.test(await page.textContent('#feature-clamp-summary')), 'clamping a trained feature did not finish');
  console.log(`    ${summary}\n    ${saeStatus}\n    Feature ${feature}: ${stats}\n    top context: ${contexts[0]?.text}`);
});

test('API trainSae: a progress report every 20 steps, the SAE loaded, clear errors that keep it', async () => {
  const r = await page.evaluate(async (prompts) => {
    const reports = [];
    const t0 = performance.now();
    const result = await window.loupe.trainSae(
      { prompts, steps: 60 },
      { onProgress: (p) => void reports.push({ step: p.step, steps: p.steps, points: p.history.length, tokens: p.tokens }) },
    );
    const ms = performance.now() - t0;
    const tooSmall = await window.loupe.trainSae({ prompts: ['Hello there', 'OK'] }).then(
      () => null,
      (e) => e.message,
    );
    const badHook = await window.loupe.trainSae({ prompts, hook: 'blocks.99.hook_resid_pre' }).then(
      () => null,
      (e) => e.message,
    );
    const badSize = await window.loupe.trainSae({ prompts, dSae: 4 }).then(
      () => null,
      (e) => e.message,
    );
    const f = await window.loupe.saeFeatures({ prompt: prompts[0], topK: 4 });
    return { ms, reports, cfg: result.cfg, progress: result.progress, stopped: result.stopped, tooSmall, badHook, badSize, l0: f.l0 };
  }, prompts);
  timings.push(['API trainSae, 60 steps (22 prompts)', Math.round(r.ms)]);
  check(
    JSON.stringify(r.reports.map((p) => [p.step, p.steps, p.points])) === '[[20,60,1],[40,60,2],[60,60,3]]',
    `onProgress reports ${JSON.stringify(r.reports)}`,
  );
  check(
    r.stopped === false && r.progress.finished && r.progress.history.length === 3 && r.progress.tokens === r.reports[0].tokens,
    `result ${JSON.stringify({ stopped: r.stopped, progress: r.progress })}`,
  );
  check(r.cfg.d_sae === 256 && r.cfg.d_in === 576 && r.cfg.hook_name === 'blocks.12.hook_resid_pre', `cfg ${JSON.stringify(r.cfg)}`);
  check(
    /only \d+ training tokens?/.test(r.tooSmall ?? '') && /16/.test(r.tooSmall ?? ''),
    `too few tokens gave ${JSON.stringify(r.tooSmall)}`,
  );
  check(/blocks\.99\.hook_resid_pre/.test(r.badHook ?? ''), `a bad hook gave ${JSON.stringify(r.badHook)}`);
  check(/d_sae/.test(r.badSize ?? ''), `dSae 4 gave ${JSON.stringify(r.badSize)}`);
  check(r.l0.length > 1 && r.l0.slice(1).every((n) => n > 0), `after the rejected requests saeFeatures gave L0 ${JSON.stringify(r.l0)}`);
  console.log(`    ${r.tooSmall}\n    ${r.badHook}\n    ${r.badSize}`);
});

test(`explorer SAE training: Stop ends a ${SAE_TRAIN_LONG_STEPS}-step run; the partly trained SAE is loaded and usable`, async () => {
  await page.fill('#sae-train-steps', String(SAE_TRAIN_LONG_STEPS));
  await page.waitForSelector('#sae-train-run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
  await page.click('#sae-train-run');
  await page.waitForFunction(() => document.querySelector('#sae-train-progress').value >= 40, null, { timeout: STEP_TIMEOUT_MS });
  const t0 = Date.now();
  await page.click('#sae-train-stop');
  await page.waitForFunction(() => /^Stopped at step/.test(document.querySelector('#sae-train-summary').textContent), null, {
    timeout: 30_000,
  });
  timings.push(['SAE training: Stop click → stopped', Date.now() - t0]);
  await page.waitForSelector('#sae-train[data-state="stopped"], #sae-train[data-state="ready"], #sae-train[data-state="error"]', {
    timeout: STEP_TIMEOUT_MS,
  });
  const summary = await page.textContent('#sae-train-summary');
  check(
    (await page.getAttribute('#sae-train', 'data-state')) === 'stopped',
    `after Stop the training is ${await page.getAttribute('#sae-train', 'data-state')}: ${summary}`,
  );
  const stoppedAt = Number(new RegExp(`^Stopped at step (\\d+) of ${SAE_TRAIN_LONG_STEPS}`).exec(summary)?.[1]);
  check(
    stoppedAt >= 40 && stoppedAt < SAE_TRAIN_LONG_STEPS / 2,
    `Stop let the training run to step ${stoppedAt}: ${JSON.stringify(summary)}`,
  );
  const saeStatus = await page.textContent('#sae-status');
  check(
    /trained in the page/.test(saeStatus) && new RegExp(`stopped at step ${stoppedAt} of ${SAE_TRAIN_LONG_STEPS}`).test(saeStatus),
    `SAE status after Stop ${JSON.stringify(saeStatus)}`,
  );
  check(
    (await page.getAttribute('#features', 'data-state')) === 'ready' &&
      (await page.$$eval('#feat-table tbody tr', (rs) => rs.length)) === 10,
    'the page prompt was not read with the stopped SAE',
  );
  const l0 = await page.evaluate(
    (prompt) =>
      window.loupe.saeFeatures({ prompt, topK: 4 }).then(
        (f) => f.l0,
        (e) => e.message,
      ),
    PROMPT,
  );
  check(Array.isArray(l0) && l0.length === 10, `saeFeatures with the stopped SAE gave ${JSON.stringify(l0)}`);
  console.log(`    ${summary}`);
});

test('explorer SAE training: too few tokens is a clear error in the view; the trained SAE stays', async () => {
  await page.fill('#sae-train-prompts', 'Hello there\nOK');
  await page.fill('#sae-train-steps', String(SAE_TRAIN_STEPS));
  await page.waitForSelector('#sae-train-run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
  await page.click('#sae-train-run');
  await page.waitForSelector('#sae-train[data-state="error"], #sae-train[data-state="ready"]', { timeout: STEP_TIMEOUT_MS });
  const summary = await page.textContent('#sae-train-summary');
  check(
    (await page.getAttribute('#sae-train', 'data-state')) === 'error' && /^Failed: only \d+ training tokens?/.test(summary),
    `too few tokens: ${JSON.stringify(summary)}`,
  );
  check(/only \d+ training tokens?/.test(await bannerText(page)), 'the banner does not carry the error');
  check(/trained in the page/.test(await page.textContent('#sae-status')), 'a failed training replaced the trained SAE in the status line');
  await page.fill('#sae-train-prompts', prompts.join('\n'));
  console.log(`    ${summary}`);
});

test('a crash loses the trained SAE: the Features tab says so, and the API has no SAE', async () => {
  const message = await page.evaluate(() =>
    window.loupe.debugPanic('e2e: panic with a trained SAE').then(
      () => null,
      (e) => e.message,
    ),
  );
  check(/panic with a trained SAE/.test(message ?? ''), `debugPanic gave ${JSON.stringify(message)}`);
  await page.waitForSelector('#run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
  const saeStatus = await page.textContent('#sae-status');
  check(
    /trained in the page was lost when the model restarted/.test(saeStatus) && /train it again/.test(saeStatus),
    `SAE status after the crash ${JSON.stringify(saeStatus)}`,
  );
  check(
    (await page.getAttribute('#features', 'data-sae')) === 'none' && (await page.getAttribute('#sae-train', 'data-state')) === 'lost',
    'the Features tab still acts as if an SAE were loaded',
  );
  check(await page.isDisabled('#feat-run'), '“Show features” is enabled without an SAE');
  check((await page.isHidden('#feat-table')) && (await page.isHidden('#feature-dash')), 'results of the lost SAE are still on show');
  const r = await page.evaluate(
    (prompt) =>
      window.loupe.saeFeatures({ prompt }).then(
        () => null,
        (e) => e.message,
      ),
    PROMPT,
  );
  check(/no sparse autoencoder is loaded/.test(r ?? ''), `saeFeatures after the crash gave ${JSON.stringify(r)}`);
  console.log(`    ${saeStatus}`);
});
