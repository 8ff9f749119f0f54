#!/usr/bin/env node
// End-to-end test of the built site (trunk build → dist/) in headless Chromium.
//
//   node tests/e2e/e2e.mjs [DIST_DIR]        (default: ../../dist relative to this file)
//
// What only a browser shows: the page loads the real model from a plain static server,
// the explorer gives " Paris" for the Eiffel Tower prompt, patterns are proper softmaxes,
// errors reach the banner instead of a blank page, tokens stream, and a reload takes the
// model from the Cache API. Exits non-zero, with the reasons, on any failure.
// Writes tests/artifacts/explorer.png.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveStatic } from './server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.resolve(process.argv[2] ?? path.join(HERE, '..', '..', 'dist'));
const ARTIFACTS = path.resolve(HERE, '..', 'artifacts');
const MODEL_FILE = 'models/SmolLM2-135M-Instruct.Q4_1.gguf';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PROMPT = 'The Eiffel Tower is located in the city of';
const READY_TIMEOUT_MS = 5 * 60_000;
const STEP_TIMEOUT_MS = 3 * 60_000;
/** Same bound as the native quantized-mode parity test (crates/model/tests/reference.rs). */
const QUANTIZED_LOGPROB_BOUND = 0.5;
const PREFIX = '/loupe/'; // served under a sub-path: every URL in the site must be relative

const failures = [];
const timings = [];

main().then(
  () => {
    printTimings();
    if (failures.length) {
      console.error(`\nFAILED: ${failures.length} check(s)`);
      for (const f of failures) console.error(`  ✗ ${f}`);
      process.exit(1);
    }
    console.log('\nall e2e checks passed');
    process.exit(0);
  },
  (error) => {
    printTimings();
    console.error(`\nFAILED (aborted): ${error.stack ?? error}`);
    for (const f of failures) console.error(`  ✗ ${f}`);
    process.exit(1);
  },
);

async function main() {
  for (const needed of ['index.html', 'loupe-web.js', 'www/main.js', MODEL_FILE]) {
    if (!fs.existsSync(path.join(DIST, needed))) {
      throw new Error(`${path.join(DIST, needed)} is missing: build the site first (trunk build --release)`);
    }
  }
  const modelBytes = fs.readFileSync(path.join(DIST, MODEL_FILE));
  const server = await serveStatic(DIST, {
    prefix: PREFIX,
    // The first 1 MB of the real model: a valid GGUF header, then nothing.
    synthetic: { 'truncated.gguf': () => modelBytes.subarray(0, 1 << 20) },
  });
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-'));
  console.log(`serving ${DIST} at ${server.url}\nchromium ${CHROMIUM}, profile ${userDataDir}`);

  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 1100 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // Zero network besides the site itself: any other request is a failure.
  const origin = new URL(server.url).origin;
  context.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) {
      failures.push(`unexpected network request to ${url}`);
    }
  });

  try {
    await mainPage(context, server);
    await errorPages(context, server);
  } finally {
    await context.close().catch(() => {});
    await server.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

// -----------------------------------------------------------------------------------------

async function mainPage(context, server) {
  const page = await context.newPage();
  const log = watchConsole(page);
  const modelGets = () => server.requests.filter((r) => r.path.endsWith('.gguf') && r.path.includes('SmolLM2')).length;

  // (c) ready: the default model downloads, compiles and parses.
  const info = await step('model loads (network)', async () => {
    const t0 = Date.now();
    await page.goto(server.url);
    const info = await awaitReady(page, log);
    timings.push(['ready (download + parse)', Date.now() - t0]);
    const loadInfo = await page.evaluate(() => window.loupe.loadInfo);
    check(loadInfo?.phase === 'download', `first load should come from the network, loadInfo = ${JSON.stringify(loadInfo)}`);
    check(info?.config?.n_layers > 0 && info?.config?.n_heads > 0, `info.config lacks n_layers/n_heads: ${JSON.stringify(info?.config)}`);
    check(Array.isArray(info?.hooks) && info.hooks.includes('blocks.0.attn.hook_pattern'), 'info.hooks lacks blocks.0.attn.hook_pattern');
    console.log(`    config ${JSON.stringify(info.config)}; ${info.hooks.length} hooks; loadInfo ${JSON.stringify(loadInfo)}`);
    return info;
  });
  if (!info) throw new Error('the model never became ready; nothing else can be tested');
  const { n_layers: nLayers, n_heads: nHeads } = info.config;

  // (c) the explorer: prompt → Run → tokens, top-k, attention.
  await step('explorer run shows " Paris" first', async () => {
    const ms = await uiRun(page, PROMPT);
    timings.push(['explorer run (tokenize + run, all patterns)', ms]);
    const first = await page.textContent('#topk tbody tr:first-child .chip');
    check(first === '·Paris', `first top-k row shows ${JSON.stringify(first)}, expected "·Paris"`);
    const chips = await page.$$eval('#tokens .chip', (els) => els.map((e) => e.textContent));
    check(chips.join('') === visible(PROMPT), `token chips ${JSON.stringify(chips)} do not spell the prompt exactly`);
    const titles = await page.$$eval('#tokens .chip', (els) => els.map((e) => e.title));
    check(titles.every((t) => /id \d+/.test(t)), 'token chips lack their id on hover');
    const rows = await page.$$eval('#topk tbody tr', (els) => els.length);
    check(rows === 10, `top-k shows ${rows} rows, expected 10`);
    await page.waitForSelector('#attention[data-state="ready"]', { timeout: STEP_TIMEOUT_MS });
    const layers = await page.$$eval('#attention-layer option', (o) => o.length);
    const heads = await page.$$eval('#attention-head option', (o) => o.length);
    check(layers === nLayers && heads === nHeads, `layer/head selects have ${layers}/${heads} options, expected ${nLayers}/${nHeads}`);
  });

  await step('attention heatmap: switch layer/head without recomputing, hover value', async () => {
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
  await step('API run: top[0] " Paris", hook_pattern shape and row sums', async () => {
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
    const reference = JSON.parse(fs.readFileSync(path.join(HERE, '..', 'fixtures', 'reference.json'), 'utf8'));
    const refTop = reference.prompts[0].top10;
    for (const t of r.top) {
      const ref = refTop.find((x) => x.id === t.id);
      if (!ref) continue;
      const delta = Math.abs(Math.log(t.prob) - ref.logprob);
      check(delta <= QUANTIZED_LOGPROB_BOUND, `log p(${JSON.stringify(t.token)}) is ${delta.toFixed(3)} from the reference (bound ${QUANTIZED_LOGPROB_BOUND})`);
    }
    const want = [1, nHeads, r.tokens, r.tokens];
    check(JSON.stringify(r.shape) === JSON.stringify(want), `shape ${JSON.stringify(r.shape)}, expected ${JSON.stringify(want)}`);
    check(r.isF32, 'activation data is not a Float32Array');
    check(r.length === want.reduce((a, b) => a * b), `data length ${r.length} does not match the shape`);
    check(r.worst <= 1e-4, `a pattern row sums to 1 ± ${r.worst.toExponential(2)} (tolerance 1e-4)`);
    console.log(`    top: ${r.top.map((t) => `${JSON.stringify(t.token)} ${(t.prob * 100).toFixed(1)}%`).join(', ')}; worst |row sum − 1| = ${r.worst.toExponential(1)}`);
  });

  await step('API run timing (3 runs, no capture)', async () => {
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
  await step('empty prompt: error in the banner, then a normal run works', async () => {
    await uiRun(page, '', { expect: 'error' });
    const banner = await bannerText(page);
    check(banner.length > 0, 'the banner is blank after an empty-prompt run');
    check(await page.isEnabled('#run'), 'Run stays disabled after an error');
    console.log(`    banner: ${JSON.stringify(banner)}`);
    const apiError = await page.evaluate(() => window.loupe.run({ prompt: '' }).then(() => null, (e) => e instanceof Error && e.message));
    check(typeof apiError === 'string' && apiError.length > 0, `loupe.run({prompt: ''}) should reject with an Error, got ${JSON.stringify(apiError)}`);
    await uiRun(page, PROMPT);
    const first = await page.textContent('#topk tbody tr:first-child .chip');
    check(first === '·Paris', `after the error, first top-k row shows ${JSON.stringify(first)}`);
    check((await bannerText(page)) === '', 'the error banner stays after a successful run');
  });

  // (e) generation streams tokens.
  // stopAtEos: false, because greedy SmolLM2 ends this sentence after " Paris, France."
  await step('API generate: 5 greedy tokens streamed to onToken', async () => {
    const g = await page.evaluate(async (prompt) => {
      const streamed = [];
      const t0 = performance.now();
      const result = await window.loupe.generate({ prompt, maxTokens: 5, temperature: 0, stopAtEos: false }, (t) => {
        streamed.push({ ...t, at: performance.now() - t0 });
      });
      return { streamed, result, ms: performance.now() - t0 };
    }, PROMPT);
    check(g.streamed.length === 5, `onToken got ${g.streamed.length} tokens, expected 5`);
    check(g.streamed.every((t) => Number.isInteger(t.id) && typeof t.text === 'string'), 'streamed tokens are not {id, text}');
    const spread = g.streamed.length > 1 ? g.streamed.at(-1).at - g.streamed[0].at : 0;
    check(spread > 0, 'tokens did not arrive one by one');
    timings.push(['API generate 5 tokens', `${Math.round(g.ms)} ms (${(5 / (g.ms / 1000)).toFixed(1)} tok/s incl. prompt)`]);
    console.log(`    streamed ${JSON.stringify(g.streamed.map((t) => t.text))}; result.text ${JSON.stringify(g.result.text)}`);
  });

  await step('explorer generate: tokens appear, tokens/s shown', async () => {
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
  await step('screenshot', async () => {
    await uiRun(page, PROMPT);
    await page.waitForSelector('#attention[data-state="ready"]');
    await hoverCell(page, 'last', 0);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, 'explorer.png');
    await page.screenshot({ path: file, fullPage: true });
    console.log(`    wrote ${file}`);
  });

  await step('explorer Stop ends a long generation; the next run still works', async () => {
    await page.fill('#max-tokens', '200');
    await page.uncheck('#stop-at-eos'); // else greedy SmolLM2 ends after " Paris, France."
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelector('#gen-output .gen-text')?.childNodes.length >= 2, null, { timeout: STEP_TIMEOUT_MS });
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

  // Principle 9: a Rust panic reaches the page as a message, and the page recovers.
  await step('a Rust panic: message in the banner, worker restarted, model back from cache', async () => {
    const message = await page.evaluate(() =>
      window.loupe.debugPanic('e2e: deliberate panic').then(() => null, (e) => e.message),
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

  // (f) a reload takes the model from the Cache API, not the network.
  await step('reload: model comes from the Cache API', async () => {
    const before = modelGets();
    const t0 = Date.now();
    await page.reload();
    await awaitReady(page, log);
    timings.push(['ready after reload (cache + parse)', Date.now() - t0]);
    const loadInfo = await page.evaluate(() => window.loupe.loadInfo);
    check(loadInfo?.phase === 'cache', `after reload loadInfo = ${JSON.stringify(loadInfo)}, expected phase 'cache'`);
    check(modelGets() === before, `the reload fetched the model over the network again (${modelGets() - before} request(s))`);
    const ms = await uiRun(page, PROMPT);
    timings.push(['explorer run after reload', ms]);
    check((await page.textContent('#topk tbody tr:first-child .chip')) === '·Paris', 'after reload the run does not give ·Paris');
  });

  const errors = log.errors();
  if (errors.length) console.log(`    console errors on the main page (informational):\n      ${errors.join('\n      ')}`);
  await page.close();
}

async function errorPages(context, server) {
  // (d) a truncated model: a clear message, not a blank page.
  await step('?model=truncated.gguf: clear error in the banner', async () => {
    const page = await context.newPage();
    watchConsole(page);
    await page.goto(`${server.url}?model=truncated.gguf`);
    const message = await page.evaluate(() =>
      window.loupe.ready.then(
        () => null,
        (e) => (e instanceof Error ? e.message : `not an Error: ${String(e)}`),
      ),
    );
    check(typeof message === 'string' && message.length > 10, `ready should reject with a message, got ${JSON.stringify(message)}`);
    const banner = await bannerText(page);
    check(banner.length > 0 && banner.includes(message ?? '\u0000'), `banner ${JSON.stringify(banner)} does not show the error`);
    check(await page.isVisible('h1'), 'the page is blank');
    check(server.requests.some((r) => r.path.endsWith('/truncated.gguf') && r.status === 200), 'truncated.gguf was never requested');
    const cached = await page.evaluate(async () => {
      const cache = await caches.open('loupe-models-v1');
      return Boolean(await cache.match(new URL('truncated.gguf', document.baseURI).href));
    });
    check(!cached, 'the truncated file stayed in the Cache API after failing to parse');
    console.log(`    banner: ${JSON.stringify(banner)}`);
    await page.close();
  });

  await step('?model=missing.gguf: HTTP status in the banner', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}?model=missing.gguf`);
    const message = await page.evaluate(() => window.loupe.ready.then(() => null, (e) => e.message));
    check(/404/.test(message ?? ''), `ready should reject mentioning HTTP 404, got ${JSON.stringify(message)}`);
    check((await bannerText(page)).includes('404'), 'banner does not show the HTTP status');
    await page.close();
  });

  await step('?weights=f64: reported, defaults used, page usable', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}?weights=f64`);
    const banner = await bannerText(page);
    check(/weights/.test(banner), `banner ${JSON.stringify(banner)} does not mention the bad weights value`);
    const info = await page.evaluate(() => window.loupe.ready);
    check(info?.weights === 'q8', `fell back to weights ${JSON.stringify(info?.weights)}, expected the default 'q8'`);
    await page.close();
  });
}

// -----------------------------------------------------------------------------------------
// helpers

/** Runs `fn` as a named check; a thrown error or failed check() is recorded, not fatal. */
async function step(name, fn) {
  const t0 = Date.now();
  const before = failures.length;
  try {
    const value = await withTimeout(fn(), STEP_TIMEOUT_MS * 2, name);
    const ok = failures.length === before;
    console.log(`${ok ? '✓' : '✗'} ${name} (${Date.now() - t0} ms)`);
    return value;
  } catch (error) {
    failures.push(`${name}: ${error.message}`);
    console.log(`✗ ${name} (${Date.now() - t0} ms): ${error.message}`);
    return undefined;
  }
}

function check(condition, message) {
  if (!condition) failures.push(message);
}

async function awaitReady(page, log) {
  const ticker = setInterval(async () => {
    const status = await page.textContent('#status').catch(() => '?');
    console.log(`    … ${status.replace(/\s+/g, ' ').trim()}`);
  }, 15_000);
  try {
    return await withTimeout(page.evaluate(() => window.loupe.ready), READY_TIMEOUT_MS, 'window.loupe.ready');
  } catch (error) {
    const status = await page.textContent('#status').catch(() => '(no #status)');
    throw new Error(
      `${error.message}\n      status: ${status.replace(/\s+/g, ' ').trim()}\n      console: ${log.errors().join('\n        ') || '(none)'}`,
    );
  } finally {
    clearInterval(ticker);
  }
}

/** Types the prompt, clicks Run, waits for the run to finish; returns its duration. */
async function uiRun(page, prompt, { expect = 'done' } = {}) {
  await page.waitForSelector('#run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
  const count = Number(await page.getAttribute('main', 'data-run-count'));
  await page.fill('#prompt', prompt);
  const t0 = Date.now();
  await page.click('#run');
  await page.waitForFunction(
    (c) => {
      const main = document.querySelector('main');
      return main.dataset.runState === 'error' || Number(main.dataset.runCount) > c;
    },
    count,
    { timeout: STEP_TIMEOUT_MS },
  );
  const ms = Date.now() - t0;
  const state = await page.getAttribute('main', 'data-run-state');
  if (state !== expect) throw new Error(`run of ${JSON.stringify(prompt)} ended in '${state}', expected '${expect}': ${await bannerText(page)}`);
  await page.waitForSelector('#run:not([disabled])');
  return ms;
}

/** Hovers heatmap cell (q, k) ('last' = last query) and returns the readout text. */
async function hoverCell(page, q, k) {
  const canvas = await page.$('#attention canvas.heatmap');
  const g = await canvas.evaluate((c) => ({ ...c.dataset }));
  const [left, top, cell, n] = [g.left, g.top, g.cell, g.n].map(Number);
  const row = q === 'last' ? n - 1 : q;
  await canvas.hover({ position: { x: left + (k + 0.5) * cell, y: top + (row + 0.5) * cell } });
  return (await page.textContent('#attention .readout')).trim();
}

async function bannerText(page) {
  const banner = await page.$('[role="alert"]');
  if (!banner || !(await banner.isVisible())) return '';
  return (await banner.textContent()).trim();
}

function watchConsole(page) {
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text().split('\n')[0]);
  });
  page.on('pageerror', (e) => {
    errors.push(`uncaught: ${e.message}`);
    failures.push(`uncaught exception in the page: ${e.message}`);
  });
  page.on('crash', () => failures.push('the page crashed'));
  return { errors: () => errors };
}

function visible(text) {
  return text.replaceAll(' ', '·').replaceAll('\n', '↵').replaceAll('\t', '→');
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function printTimings() {
  if (!timings.length) return;
  console.log('\ntimings (ms):');
  for (const [what, ms] of timings) console.log(`  ${what.padEnd(44)} ${ms}`);
}
