// The page loads the real model from a plain static server (first from the network), the
// explorer gives " Paris" for the Eiffel Tower prompt, attention patterns are proper softmaxes,
// bad input reaches the banner, and tokens stream. Runs first: it loads the page that the
// later specs share (see fixtures.mjs).

import fs from 'node:fs';
import path from 'node:path';
import {
  test,
  check,
  timings,
  uiRun,
  hoverCell,
  bannerText,
  visible,
  awaitReady,
  reference,
  PROMPT,
  STEP_TIMEOUT_MS,
  QUANTIZED_LOGPROB_BOUND,
  ARTIFACTS,
} from './fixtures.mjs';

test.describe.configure({ mode: 'serial' });

let page;
let nLayers;
let nHeads;
test.beforeAll(async ({ app }) => {
  page = app.page;
});

// (c) ready: the default model downloads, compiles and parses.
test('model loads (network)', async ({ app }) => {
  const t0 = Date.now();
  await page.goto(app.server.url);
  const info = await awaitReady(page, app.log);
  timings.push(['ready (download + parse)', Date.now() - t0]);
  const loadInfo = await page.evaluate(() => window.loupe.loadInfo);
  check(loadInfo?.phase === 'download', `first load should come from the network, loadInfo = ${JSON.stringify(loadInfo)}`);
  check(info?.config?.n_layers > 0 && info?.config?.n_heads > 0, `info.config lacks n_layers/n_heads: ${JSON.stringify(info?.config)}`);
  check(Array.isArray(info?.hooks) && info.hooks.includes('blocks.0.attn.hook_pattern'), 'info.hooks lacks blocks.0.attn.hook_pattern');
  console.log(`    config ${JSON.stringify(info.config)}; ${info.hooks.length} hooks; loadInfo ${JSON.stringify(loadInfo)}`);
  if (!info) throw new Error('the model never became ready; nothing else can be tested');
  ({ n_layers: nLayers, n_heads: nHeads } = info.config);
});

// (c) the explorer: prompt → Run → tokens, top-k, attention.
test('explorer run shows " Paris" first', async () => {
  const ms = await uiRun(page, PROMPT);
  timings.push(['explorer run (tokenize + run, all patterns)', ms]);
  const first = await page.textContent('#topk tbody tr:first-child .chip');
  check(first === '·Paris', `first top-k row shows ${JSON.stringify(first)}, expected "·Paris"`);
  const chips = await page.$$eval('#tokens .chip', (els) => els.map((e) => e.textContent));
  check(chips.join('') === visible(PROMPT), `token chips ${JSON.stringify(chips)} do not spell the prompt exactly`);
  const titles = await page.$$eval('#tokens .chip', (els) => els.map((e) => e.title));
  check(
    titles.every((t) => /id \d+/.test(t)),
    'token chips lack their id on hover',
  );
  const rows = await page.$$eval('#topk tbody tr', (els) => els.length);
  check(rows === 10, `top-k shows ${rows} rows, expected 10`);
  await page.waitForSelector('#attention[data-state="ready"]', { timeout: STEP_TIMEOUT_MS });
  const layers = await page.$$eval('#attention-layer option', (o) => o.length);
  const heads = await page.$$eval('#attention-head option', (o) => o.length);
  check(layers === nLayers && heads === nHeads, `layer/head selects have ${layers}/${heads} options, expected ${nLayers}/${nHeads}`);
});

test('attention heatmap: switch layer/head without recomputing, hover value', async () => {
  const runsBefore = await page.getAttribute('main', 'data-run-count');
  await page.selectOption('#attention-layer', String(Math.min(5, nLayers - 1)));
  await page.selectOption('#attention-head', String(Math.min(3, nHeads - 1)));
  await page.waitForSelector('#attention[data-state="ready"]');
  check((await page.getAttribute('main', 'data-run-count')) === runsBefore, 'switching layers re-ran the prompt');
  const readout = await hoverCell(page, 'last', 0);
  check(
    /^query '.+' → key '.+': \d\.\d{3}$/.test(readout),
    `hover readout ${JSON.stringify(readout)} is not "query 'tok' → key 'tok': 0.123"`,
  );
  console.log(`    ${readout}`);
});

// (c) the same through the public API, checking the numbers themselves.
test('API run: top[0] " Paris", hook_pattern shape and row sums', async () => {
  const r = await page.evaluate(async (prompt) => {
    const t0 = performance.now();
    const run = await window.loupe.run({ prompt, capture: ['blocks.0.attn.hook_pattern'], topK: 5 });
    const ms = performance.now() - t0;
    const act = run.activations['blocks.0.attn.hook_pattern'];
    const [, heads, n] = act.shape;
    let worst = 0;
    for (let h = 0; h < heads; h++) {
      for (let q = 0; q < n; q++) {
        let sum = 0;
        for (let k = 0; k < n; k++) sum += act.data[(h * n + q) * n + k];
        worst = Math.max(worst, Math.abs(sum - 1));
      }
    }
    return {
      ms,
      top: run.top,
      tokens: run.tokens.length,
      shape: act.shape,
      isF32: act.data instanceof Float32Array,
      length: act.data.length,
      worst,
    };
  }, PROMPT);
  timings.push(['API run (1 pattern captured)', Math.round(r.ms)]);
  check(r.top.length === 5, `topK 5 gave ${r.top.length} entries`);
  check(r.top[0]?.token === ' Paris', `top[0].token = ${JSON.stringify(r.top[0]?.token)}, expected " Paris"`);
  // The browser's quantized numbers against HF transformers (f32), within the bound the
  // native tests state for the quantized modes (crates/model/tests/reference.rs).
  const refTop = reference().prompts[0].top10;
  for (const t of r.top) {
    const ref = refTop.find((x) => x.id === t.id);
    if (!ref) continue;
    const delta = Math.abs(Math.log(t.prob) - ref.logprob);
    check(
      delta <= QUANTIZED_LOGPROB_BOUND,
      `log p(${JSON.stringify(t.token)}) is ${delta.toFixed(3)} from the reference (bound ${QUANTIZED_LOGPROB_BOUND})`,
    );
  }
  const want = [1, nHeads, r.tokens, r.tokens];
  check(JSON.stringify(r.shape) === JSON.stringify(want), `shape ${JSON.stringify(r.shape)}, expected ${JSON.stringify(want)}`);
  check(r.isF32, 'activation data is not a Float32Array');
  check(r.length === want.reduce((a, b) => a * b), `data length ${r.length} does not match the shape`);
  check(r.worst <= 1e-4, `a pattern row sums to 1 ± ${r.worst.toExponential(2)} (tolerance 1e-4)`);
  console.log(
    `    top: ${r.top.map((t) => `${JSON.stringify(t.token)} ${(t.prob * 100).toFixed(1)}%`).join(', ')}; worst |row sum − 1| = ${r.worst.toExponential(1)}`,
  );
});

test('API run timing (3 runs, no capture)', async () => {
  const ms = await page.evaluate(async (prompt) => {
    const out = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await window.loupe.run({ prompt, capture: [], topK: 10 });
      out.push(Math.round(performance.now() - t0));
    }
    return out;
  }, PROMPT);
  timings.push(['API run, no capture (3 runs)', ms.join(' / ')]);
});

// (d) bad input: the error reaches the banner, and the page keeps working.
test('empty prompt: error in the banner, then a normal run works', async () => {
  await uiRun(page, '', { expect: 'error' });
  const banner = await bannerText(page);
  check(banner.length > 0, 'the banner is blank after an empty-prompt run');
  check(await page.isEnabled('#run'), 'Run stays disabled after an error');
  console.log(`    banner: ${JSON.stringify(banner)}`);
  const apiError = await page.evaluate(() =>
    window.loupe.run({ prompt: '' }).then(
      () => null,
      (e) => e instanceof Error && e.message,
    ),
  );
  check(
    typeof apiError === 'string' && apiError.length > 0,
    `loupe.run({prompt: ''}) should reject with an Error, got ${JSON.stringify(apiError)}`,
  );
  await uiRun(page, PROMPT);
  const first = await page.textContent('#topk tbody tr:first-child .chip');
  check(first === '·Paris', `after the error, first top-k row shows ${JSON.stringify(first)}`);
  check((await bannerText(page)) === '', 'the error banner stays after a successful run');
});

// (e) generation streams tokens.
// stopAtEos: false, because greedy SmolLM2 ends this sentence after " Paris, France."
test('API generate: 5 greedy tokens streamed to onToken', async () => {
  const g = await page.evaluate(async (prompt) => {
    const streamed = [];
    const t0 = performance.now();
    const result = await window.loupe.generate({ prompt, maxTokens: 5, temperature: 0, stopAtEos: false }, (t) => {
      streamed.push({ ...t, at: performance.now() - t0 });
    });
    return { streamed, result, ms: performance.now() - t0 };
  }, PROMPT);
  check(g.streamed.length === 5, `onToken got ${g.streamed.length} tokens, expected 5`);
  check(
    g.streamed.every((t) => Number.isInteger(t.id) && typeof t.text === 'string'),
    'streamed tokens are not {id, text}',
  );
  const spread = g.streamed.length > 1 ? g.streamed.at(-1).at - g.streamed[0].at : 0;
  check(spread > 0, 'tokens did not arrive one by one');
  timings.push(['API generate 5 tokens', `${Math.round(g.ms)} ms (${(5 / (g.ms / 1000)).toFixed(1)} tok/s incl. prompt)`]);
  console.log(`    streamed ${JSON.stringify(g.streamed.map((t) => t.text))}; result.text ${JSON.stringify(g.result.text)}`);
});

test('explorer generate: tokens appear, tokens/s shown', async () => {
  await page.fill('#max-tokens', '8');
  await page.fill('#temperature', '0');
  await page.click('#generate');
  await page.waitForSelector('#generate-panel[data-state="done"], #generate-panel[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
  const stats = await page.textContent('#gen-stats');
  const text = await page.textContent('#gen-output .gen-text');
  check(/tokens\/s/.test(stats), `generation stats ${JSON.stringify(stats)} lack tokens/s`);
  check(text.length > 0, 'no generated text shown');
  console.log(`    ${JSON.stringify(text)} — ${stats}`);
});

// (g) the screenshot: a fresh run, a hovered cell, the heatmap in view.
test('screenshot', async () => {
  await uiRun(page, PROMPT);
  await page.waitForSelector('#attention[data-state="ready"]');
  await hoverCell(page, 'last', 0);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, 'explorer.png');
  await page.screenshot({ path: file, fullPage: true });
  console.log(`    wrote ${file}`);
});
