// Steering, through window.loupe and through the page (tests/artifacts/steering.png).

import { test, onMainPage, check, timings, uiAnalysis, shoot, SENTIMENT, FILM, STEP_TIMEOUT_MS } from './fixtures.mjs';

let page;
onMainPage((main) => ({ page } = main));
let direction;

test('API steeringDirection: 576 finite values at blocks.12.hook_resid_pre', async () => {
  const r = await page.evaluate(async (sets) => {
    const t0 = performance.now();
    const d = await window.loupe.steeringDirection({ ...sets, layer: 12 });
    return { ms: performance.now() - t0, ...d };
  }, SENTIMENT);
  timings.push(['API steeringDirection (3 + 3 prompts)', Math.round(r.ms)]);
  check(
    r.vector?.length === 576 && r.vector.every(Number.isFinite),
    `the direction has ${r.vector?.length} values, or some are not finite`,
  );
  check(r.hook === 'blocks.12.hook_resid_pre' && r.layer === 12, `hook ${r.hook}, layer ${r.layer}`);
  const norm = Math.hypot(...r.vector);
  check(Math.abs(norm - r.norm) <= 1e-3 * norm && r.norm > 0, `norm ${r.norm} ≠ ‖vector‖ ${norm}`);
  check(r.typicalNorm > r.norm, `typical ‖resid‖ ${r.typicalNorm} is not above the direction's norm ${r.norm}`);
  console.log(`    ‖v‖ ${r.norm.toFixed(2)}, typical ‖resid‖ ${r.typicalNorm.toFixed(1)}`);
  direction = r.vector;
});

test('API steer: add −0.2 at layer 12 on the film prompt shifts the next token; run with its interventions agrees', async () => {
  if (!direction) throw new Error('no direction');
  const r = await page.evaluate(
    async ({ prompt, direction }) => {
      const t0 = performance.now();
      const s = await window.loupe.steer({ prompt, steering: { direction, layers: [12], mode: { type: 'add', strength: -0.2 } } });
      const ms = performance.now() - t0;
      const run = await window.loupe.run({ prompt, topK: 3, interventions: s.interventions });
      return { ms, ...s, runTop: run.top };
    },
    { prompt: FILM, direction },
  );
  timings.push(['API steer (2 forward passes + typical norm)', Math.round(r.ms)]);
  check(r.kl > 0 && Number.isFinite(r.kl), `KL(base ‖ steered) = ${r.kl}, expected > 0`);
  check(
    r.interventions?.length === 1 && r.interventions[0].hook === 'blocks.12.hook_resid_pre' && r.interventions[0].op?.type === 'add',
    `interventions ${JSON.stringify(r.interventions?.map((i) => [i.hook, i.op?.type]))}`,
  );
  check(r.typicalNorms?.length === 1 && r.typicalNorms[0] > 0, `typicalNorms ${JSON.stringify(r.typicalNorms)}`);
  check(
    r.topBase?.length === 10 && r.topSteered?.length === 10 && r.rose?.length > 0 && r.fell?.length > 0,
    'topBase/topSteered/rose/fell are incomplete',
  );
  check(
    r.runTop[0]?.id === r.topSteered[0]?.id && Math.abs(r.runTop[0].prob - r.topSteered[0].prob) < 1e-4,
    `run with the interventions gives ${JSON.stringify(r.runTop[0])}, steer's top is ${JSON.stringify(r.topSteered[0])}`,
  );
  console.log(
    `    KL ${r.kl.toFixed(3)} nats; top ${JSON.stringify(r.topBase[0].token)} ${(100 * r.topBase[0].prob).toFixed(1)}% → ` +
      `${JSON.stringify(r.topSteered[0].token)} ${(100 * r.topSteered[0].prob).toFixed(1)}%; ‖resid‖ at L12 ${r.typicalNorms[0].toFixed(1)}`,
  );
});

test('API steerGenerate: both sides stream, the texts differ, the base equals generate; returning false stops both', async () => {
  if (!direction) throw new Error('no direction');
  const r = await page.evaluate(
    async ({ prompt, direction }) => {
      const { interventions } = await window.loupe.steer({
        prompt,
        steering: { direction, layers: [12], mode: { type: 'add', strength: -0.3 } },
      });
      const settings = { prompt, maxTokens: 12, temperature: 0, seed: 7 };
      const seen = { base: 0, steered: 0, order: '' };
      const t0 = performance.now();
      const both = await window.loupe.steerGenerate({ ...settings, interventions }, (token, which) => {
        seen[which] += 1;
        seen.order += which[0];
      });
      const ms = performance.now() - t0;
      const plain = await window.loupe.generate(settings);
      const counts = { base: 0, steered: 0 };
      const stopped = await window.loupe.steerGenerate({ ...settings, maxTokens: 200, stopAtEos: false, interventions }, (token, which) => {
        counts[which] += 1;
        return counts.base + counts.steered >= 6 ? false : undefined;
      });
      return { ms, seen, both, plain: plain.text, stopped, counts };
    },
    { prompt: FILM, direction },
  );
  timings.push(['API steerGenerate 2 × 12 tokens', Math.round(r.ms)]);
  check(
    r.seen.base === r.both.base.tokens.length && r.seen.steered === r.both.steered.tokens.length && r.seen.base > 0 && r.seen.steered > 0,
    `streamed ${r.seen.base} + ${r.seen.steered} tokens for results of ${r.both.base.tokens.length} + ${r.both.steered.tokens.length}`,
  );
  check(/^(bs)+/.test(r.seen.order), `the sides were not interleaved: ${r.seen.order}`);
  check(r.both.base.text !== r.both.steered.text, `the steered text equals the unsteered one: ${JSON.stringify(r.both.base.text)}`);
  check(
    r.both.base.text === r.plain,
    `the unsteered side ${JSON.stringify(r.both.base.text)} differs from generate's ${JSON.stringify(r.plain)}`,
  );
  check(r.both.stopped === false, 'a finished steerGenerate says stopped');
  check(
    r.stopped.stopped === true && r.stopped.base.tokens.length < 50 && r.stopped.steered.tokens.length < 50,
    `returning false: stopped = ${r.stopped.stopped}, ${r.stopped.base.tokens.length} + ${r.stopped.steered.tokens.length} of 200 tokens`,
  );
  console.log(`    base ${JSON.stringify(r.both.base.text)}\n    steered ${JSON.stringify(r.both.steered.text)}`);
});

test('explorer steering: film prompt, sentiment direction; next-token shift, both continuations, Stop', async () => {
  await page.click('#tab-steering');
  await page.waitForSelector('#steer-example:not([disabled])', { timeout: STEP_TIMEOUT_MS });
  const count = Number(await page.getAttribute('main', 'data-run-count'));
  await page.click('#steer-example');
  await page.waitForFunction((c) => Number(document.querySelector('main').dataset.runCount) > c, count, { timeout: STEP_TIMEOUT_MS });
  check((await page.inputValue('#prompt')) === FILM, 'the film example did not put its prompt on the page');
  check(
    (await page.inputValue('#steer-layers')) === '12' && (await page.inputValue('#steer-mode')) === 'add',
    'the steering does not default to add at layer 12',
  );
  const ms = await uiAnalysis(page, 'steering', '#steer-run');
  timings.push(['explorer steering (direction, shift, 2 × 20 tokens)', ms]);
  const summary = await page.textContent('#steer-summary');
  check(
    /^add −0\.\d+ × ‖resid‖ at layer 12 · KL\(base ‖ steered\) \d\.\d{3} nats/.test(summary),
    `steering summary ${JSON.stringify(summary)}`,
  );
  const scale = await page.textContent('#steer-scale');
  check(/^× \d+\.\d = typical ‖resid‖ at layer 12$/.test(scale), `the strength's scale reads ${JSON.stringify(scale)}`);
  check(
    (await page.$$eval('#steer-top-base tbody tr', (r) => r.length)) === 5 &&
      (await page.$$eval('#steer-top-steered tbody tr', (r) => r.length)) === 5,
    'the next-token tables do not have 5 rows each',
  );
  const base = await page.textContent('#steer-base .gen-text');
  const steered = await page.textContent('#steer-steered .gen-text');
  check(base.length > 0 && steered.length > 0 && base !== steered, `continuations ${JSON.stringify([base, steered])}`);
  check(/unsteered \d+ tokens · steered \d+ tokens/.test(await page.textContent('#steer-gen-stats')), 'the generation stats are missing');
  console.log(`    ${summary}\n    unsteered ${JSON.stringify(base)}\n    steered   ${JSON.stringify(steered)}`);
  await shoot(page, 'steering.png');

  await page.fill('#steer-max-tokens', '200');
  await page.click('#steer-run');
  await page.waitForFunction(() => document.querySelector('#steer-steered .gen-text')?.childNodes.length >= 2, null, {
    timeout: STEP_TIMEOUT_MS,
  });
  const t0 = Date.now();
  await page.click('#steer-stop');
  await page.waitForSelector('#steering[data-state="stopped"], #steering[data-state="ready"], #steering[data-state="error"]', {
    timeout: STEP_TIMEOUT_MS,
  });
  timings.push(['steering: Stop click → stopped', Date.now() - t0]);
  const stats = await page.textContent('#steer-gen-stats');
  const made = Number(/steered (\d+) token/.exec(stats)?.[1]);
  check(
    (await page.getAttribute('#steering', 'data-state')) === 'stopped' && /stopped/.test(stats) && made < 100,
    `after Stop: ${JSON.stringify(stats)}`,
  );
  check(await page.isEnabled('#steer-run'), 'Steer stays disabled after Stop');
  await page.fill('#steer-max-tokens', '20');
  console.log(`    after Stop: ${stats}`);
});
