// The explorer's Stop ends a long generation; the next run still works.

import { test, onMainPage, check, timings, PROMPT, STEP_TIMEOUT_MS } from './fixtures.mjs';

let page;
onMainPage((main) => ({ page } = main));

test('explorer Stop ends a long generation; the next run still works', async () => {
  await page.fill('#max-tokens', '200');
  await page.uncheck('#stop-at-eos'); // else greedy SmolLM2 ends after " Paris, France."
  await page.click('#generate');
  await page.waitForFunction(() => document.querySelector('#gen-output .gen-text')?.childNodes.length >= 2, null, {
    timeout: STEP_TIMEOUT_MS,
  });
  await page.click('#stop');
  await page.waitForSelector('#generate-panel[data-state="done"]', { timeout: 30_000 });
  const stats = await page.textContent('#gen-stats');
  check(/stopped/.test(stats), `stats after Stop: ${JSON.stringify(stats)}`);
  const made = Number(/^(\d+) token/.exec(stats)?.[1]);
  check(made >= 2 && made < 50, `Stop let ${made} of 200 tokens through`);
  console.log(`    ${stats}`);
  const t0 = Date.now();
  const top = await page.evaluate((prompt) => window.loupe.run({ prompt, topK: 1 }).then((r) => r.top[0].token), PROMPT);
  timings.push(['first run after Stop', Date.now() - t0]);
  check(top === ' Paris', `after Stop, run gives ${JSON.stringify(top)}`);
  await page.fill('#max-tokens', '20');
  await page.check('#stop-at-eos');
});
