// Principle 9: a Rust panic reaches the page as a message, the page recovers, the model comes
// back from the cache, and the SAE loaded by 12-features is loaded again. A new model that
// fails to load leaves the previous one answering.

import { test, onMainPage, check, timings, bannerText, PROMPT, STEP_TIMEOUT_MS } from './fixtures.mjs';

let page;
onMainPage((main) => ({ page } = main));

test('a Rust panic: message in the banner, worker restarted, model back from cache', async () => {
  const message = await page.evaluate(() =>
    window.loupe.debugPanic('e2e: deliberate panic').then(
      () => null,
      (e) => e.message,
    ),
  );
  check(/e2e: deliberate panic/.test(message ?? ''), `debugPanic should reject with the panic message, got ${JSON.stringify(message)}`);
  const banner = await bannerText(page);
  check(/crash|panic/i.test(banner), `banner after the panic: ${JSON.stringify(banner)}`);
  const t0 = Date.now();
  const top = await page.evaluate((prompt) => window.loupe.run({ prompt, topK: 1 }).then((r) => r.top[0].token), PROMPT);
  timings.push(['first run after a panic (restart + cache)', Date.now() - t0]);
  check(top === ' Paris', `after the panic, run gives ${JSON.stringify(top)}`);
  const loadInfo = await page.evaluate(() => window.loupe.loadInfo);
  check(loadInfo?.phase === 'cache', `the restarted worker loaded from ${loadInfo?.phase}, expected the cache`);
  await page.waitForSelector('#run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
  console.log(`    ${JSON.stringify(message)}`);
});

test('after the panic the SAE is loaded again: saeFeatures works', async ({ app }) => {
  if (!app.state.hasSae) throw new Error('no SAE was loaded earlier');
  const r = await page.evaluate(
    (prompt) =>
      window.loupe.saeFeatures({ prompt, topK: 4 }).then(
        (f) => f.l0.length,
        (e) => e.message,
      ),
    PROMPT,
  );
  check(r === 10, `saeFeatures after the restart gave ${JSON.stringify(r)}`);
});

test('a new model that fails to load leaves the previous one answering', async () => {
  const r = await page.evaluate(async (prompt) => {
    const bad = new URL('truncated.gguf', document.baseURI).href;
    const failed = await window.loupe.load({ url: bad, weights: 'quantized' }).then(
      () => null,
      (e) => e.message,
    );
    // Served after the previous model is loaded again (one command at a time, in order).
    const run = await window.loupe.run({ prompt });
    return { failed, top: run.top[0].token };
  }, PROMPT);
  check(/truncated\.gguf/.test(r.failed ?? ''), `the failed load says which file: ${r.failed}`);
  check(r.top === ' Paris', `the previous model answers again: top ${JSON.stringify(r.top)}`);
  await page.waitForSelector('#run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
  const banner = await bannerText(page);
  check(/truncated\.gguf/.test(banner) && /previous model .* is loaded again/.test(banner), `the page says so: ${JSON.stringify(banner)}`);
  console.log(`    banner: ${banner}\n    then: ${JSON.stringify(r.top)}`);
});
