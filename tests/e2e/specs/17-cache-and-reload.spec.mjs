// (f) A reload takes the model from the Cache API, not the network.

import { test, onMainPage, check, timings, uiRun, awaitReady, PROMPT } from './fixtures.mjs';

let page;
onMainPage((main) => ({ page } = main));
const modelGets = (server) => server.requests.filter((r) => r.path.endsWith('.gguf') && r.path.includes('SmolLM2')).length;

test('reload: model comes from the Cache API', async ({ app }) => {
  const before = modelGets(app.server);
  const t0 = Date.now();
  await page.reload();
  await awaitReady(page, app.log);
  timings.push(['ready after reload (cache + parse)', Date.now() - t0]);
  const loadInfo = await page.evaluate(() => window.loupe.loadInfo);
  check(loadInfo?.phase === 'cache', `after reload loadInfo = ${JSON.stringify(loadInfo)}, expected phase 'cache'`);
  check(
    modelGets(app.server) === before,
    `the reload fetched the model over the network again (${modelGets(app.server) - before} request(s))`,
  );
  const ms = await uiRun(page, PROMPT);
  timings.push(['explorer run after reload', ms]);
  check((await page.textContent('#topk tbody tr:first-child .chip')) === '·Paris', 'after reload the run does not give ·Paris');
});
