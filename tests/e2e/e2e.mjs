#!/usr/bin/env node
// End-to-end test of the built site (trunk build → dist/) in headless Chromium.
//
//   node tests/e2e/e2e.mjs [DIST_DIR]        (default: ../../dist relative to this file)
//
// What only a browser shows: the page loads the real model from a plain static server,
// the explorer gives " Paris" for the Eiffel Tower prompt, patterns are proper softmaxes,
// errors reach the banner instead of a blank page, tokens stream, and a reload takes the
// model from the Cache API; the analyses (logit lens, direct logit attribution, input
// attribution, activation and attribution patching, head detectors, ablation, minimal pairs,
// single neurons) give the known answers through window.loupe and the page; steering,
// SAE features (the default SAE when dist/ has it, else the tiny test SAE), an SAE trained in
// the page on the reader's prompts, and probes work through both.
// Exits non-zero, with the reasons, on any failure.
// Writes tests/artifacts/explorer.png, lens.png, dla.png, attribution.png,
// attribution-compare.png, patching.png, attribution-patching.png, heads.png, ablation.png,
// pair.png, neuron.png, steering.png, features.png, sae-training.png and probes.png.

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
/** Indirect object identification (Wang et al. 2022), as the page's IOI example button has it. */
const IOI = {
  clean: 'When Mary and John went to the store, John gave a drink to',
  corrupted: 'When Mary and John went to the store, Mary gave a drink to',
  token: ' Mary',
  minus: ' John',
};
/** The head with the largest direct effect on logit(" Mary") − logit(" John") in the IOI
 *  prompt: a name mover (tests/fixtures, crates/interp tests). */
const IOI_TOP_HEAD = [23, 3];
/** DLA parts must add up to the decomposed logit difference within this (the issue's 1e-3)… */
const DLA_SUM_TOLERANCE = 1e-3;
/** …which may differ from the model's own logits where a quantized unembedding rounds its
 *  input to 8 bits: prompts under 8 tokens, or q8 before 2026-11-25 (0.045 on IOI). */
const DLA_MODEL_TOLERANCE = 0.1;
/** Patching one head's output must restore at least this much of the IOI logit difference
 *  for some head (name movers restore about half of it). */
const PATCH_HEAD_MIN = 0.3;
/** The default prompt's minimal-pair partner, as the page's Minimal pair tab has it. */
const PAIR_B = 'The Colosseum is located in the city of';
/** Zero-ablating the name mover must cut the IOI logit difference by more than this. */
const ABLATE_HEAD_MIN_DROP = 1;
/** Attribution runs on the f32 model: its log p(" Paris") must match HF transformers (f32)
 *  this closely (the native gradient tests' parity bound). */
const F32_LOGPROB_BOUND = 1e-3;
/** Integrated Gradients in the e2e test: few steps (each is a forward + backward pass), from
 *  the end-of-text token's embedding. */
const IG_E2E = { steps: 8, baseline: { type: 'token', token: '<|endoftext|>' } };
/** Attribution patching must agree with real head patching on the IOI prompt at least this
 *  well (Pearson r over heads × layers; measured 0.97). */
const ATTRIBUTION_PATCHING_MIN_R = 0.8;
/** The Steering tab's sentiment example (www/views/steering.js) and the prompt it shows best on. */
const SENTIMENT = {
  positive: ['I love this movie, it is wonderful', 'What a fantastic and happy day', 'This is the best meal I have ever had'],
  negative: ['I hate this movie, it is terrible', 'What an awful and sad day', 'This is the worst meal I have ever had'],
};
const FILM = 'I went to see the film last night and I thought it was';
/** The SAE trained for the default model, if the build has it (scripts/train_sae.py). */
const DEFAULT_SAE = 'saes/smollm2-135m-instruct-l12-resid/';
/** The tiny SAE of the native tests (d_sae 64, blocks.12.hook_resid_pre), served by the test
 *  when dist/ has no default SAE, with a synthetic dashboard whose contexts are the default
 *  prompt's token ids. */
const TINY_SAE = path.join(HERE, '..', 'fixtures', 'tiny_sae');
const PROMPT_IDS = [504, 414, 46682, 18669, 314, 3807, 281, 260, 2240, 282];
/** SAE training in the page: the short run's steps (a measured point every 20), the explained
 *  variance it must reach on the Features tab's prompts (measured: about 0.9), and the long run
 *  that Stop ends. */
const SAE_TRAIN_STEPS = 100;
const SAE_TRAIN_MIN_EV = 0.5;
const SAE_TRAIN_LONG_STEPS = 2000;

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
  const tinyCfg = fs.readFileSync(path.join(TINY_SAE, 'cfg.json'));
  const tinyWeights = fs.readFileSync(path.join(TINY_SAE, 'sae_weights.safetensors'));
  const server = await serveStatic(DIST, {
    prefix: PREFIX,
    synthetic: {
      // The first 1 MB of the real model: a valid GGUF header, then nothing.
      'truncated.gguf': () => modelBytes.subarray(0, 1 << 20),
      'tiny-sae/cfg.json': () => tinyCfg,
      'tiny-sae/sae_weights.safetensors': () => tinyWeights,
      'tiny-sae/dashboard.json': () => Buffer.from(JSON.stringify(tinyDashboard())),
      // A real cfg.json with its weights cut short.
      'corrupt-sae/cfg.json': () => tinyCfg,
      'corrupt-sae/sae_weights.safetensors': () => tinyWeights.subarray(0, 4096),
    },
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
  // The same site again with cross-origin isolation headers (as `trunk serve` sends them):
  // there the worker takes the threaded build.
  const isolated = await serveStatic(DIST, {
    prefix: PREFIX,
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'credentialless' },
  });
  // Both again with the relaxed-SIMD builds missing (404), as on a browser without relaxed
  // SIMD: the worker must fall back to the plain simd128 builds.
  const withoutRelaxed = (relative) => /^(relaxed|threads-relaxed)\//.test(relative);
  const plain = await serveStatic(DIST, { prefix: PREFIX, hidden: withoutRelaxed });
  const plainIsolated = await serveStatic(DIST, {
    prefix: PREFIX,
    hidden: withoutRelaxed,
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'credentialless' },
  });
  // Zero network besides the site itself: any other request is a failure.
  const origins = [server, isolated, plain, plainIsolated].map((s) => new URL(s.url).origin);
  context.on('request', (request) => {
    const url = request.url();
    if (!origins.some((o) => url.startsWith(o)) && !url.startsWith('data:') && !url.startsWith('blob:')) {
      failures.push(`unexpected network request to ${url}`);
    }
  });

  try {
    await mainPage(context, server);
    await errorPages(context, server);
    await wasmBuilds(context, { server, isolated, plain, plainIsolated });
  } finally {
    await context.close().catch(() => {});
    await server.close();
    await isolated.close();
    await plain.close();
    await plainIsolated.close();
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

  await analyses(page, { nLayers, nHeads });
  await steeringChecks(page);
  const hasSae = await featureChecks(page);
  await probeChecks(page, { nLayers });

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

  await step('after the panic the SAE is loaded again: saeFeatures works', async () => {
    if (!hasSae) throw new Error('no SAE was loaded earlier');
    const r = await page.evaluate((prompt) => window.loupe.saeFeatures({ prompt, topK: 4 }).then((f) => f.l0.length, (e) => e.message), PROMPT);
    check(r === 10, `saeFeatures after the restart gave ${JSON.stringify(r)}`);
  });

  await saeTrainingChecks(page);

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

// -----------------------------------------------------------------------------------------
// The analyses, through window.loupe and through the page. Each leaves a screenshot.

async function analyses(page, { nLayers, nHeads }) {
  await step('API logitLens: " Paris" at rank 0 in the last row, last position', async () => {
    const r = await page.evaluate(async (prompt) => {
      const t0 = performance.now();
      const lens = await window.loupe.logitLens({ prompt, target: ' Paris' });
      const ms = performance.now() - t0;
      return {
        ms,
        rows: lens.rows,
        n: lens.tokens.length,
        widths: lens.cells.map((row) => row.length),
        last: lens.cells.at(-1)?.at(-1),
        ranks: lens.cells.map((row) => row.at(-1)?.targetRank),
        target: lens.target,
      };
    }, PROMPT);
    timings.push(['API logitLens (Eiffel prompt, 10 tokens)', Math.round(r.ms)]);
    check(r.rows.length === nLayers + 1, `logitLens gave ${r.rows.length} rows, expected ${nLayers + 1}`);
    check(
      r.rows[0] === 'blocks.0.hook_resid_pre' && r.rows.at(-1) === `blocks.${nLayers - 1}.hook_resid_post`,
      `logitLens rows run ${JSON.stringify(r.rows[0])} … ${JSON.stringify(r.rows.at(-1))}`,
    );
    check(r.widths.length === r.rows.length && r.widths.every((w) => w === r.n), `cells are not [${r.rows.length}][${r.n}]: widths ${r.widths}`);
    check(r.target?.text === ' Paris', `target ${JSON.stringify(r.target)}, expected " Paris"`);
    check(r.last?.targetRank === 0, `" Paris" has rank ${r.last?.targetRank} at the last row and position, expected 0`);
    check(r.last?.top?.[0]?.token === ' Paris', `the last cell's top-1 is ${JSON.stringify(r.last?.top?.[0])}`);
    const p = Math.exp(r.last?.targetLogprob);
    check(Math.abs(p - r.last?.top?.[0]?.prob) < 1e-4, `exp(targetLogprob) = ${p} differs from the top-1 prob ${r.last?.top?.[0]?.prob}`);
    console.log(`    rank of " Paris" at the last position, row by row: ${r.ranks.join(' ')}; final p = ${p.toFixed(3)}`);
  });

  await step('API logitLens: a target that is not one token is refused, naming its pieces', async () => {
    const message = await page.evaluate((prompt) => window.loupe.logitLens({ prompt, target: 'Paris France' }).then(() => null, (e) => e.message), PROMPT);
    check(/not one/.test(message ?? '') && /France/.test(message ?? ''), `logitLens with a 2-token target: ${JSON.stringify(message)}`);
  });

  await step('explorer logit lens: default target " Paris", grid, hover top-5', async () => {
    await uiRun(page, PROMPT);
    await page.click('#tab-lens');
    const target = await page.inputValue('#lens-target');
    check(target === ' Paris', `the lens target defaults to ${JSON.stringify(target)}, expected the run's top-1 " Paris"`);
    const ms = await uiAnalysis(page, 'lens', '#lens-run');
    timings.push(['explorer logit lens', ms]);
    const grid = await gridOf(page, '#lens canvas.heatmap');
    check(grid.rows === nLayers + 1 && grid.cols === 10, `lens grid is ${grid.rows} × ${grid.cols}, expected ${nLayers + 1} × 10`);
    const readout = await hoverGrid(page, '#lens canvas.heatmap', grid.rows - 1, grid.cols - 1, '#lens-readout');
    check(/·Paris/.test(readout) && /rank 1\b/.test(readout), `lens hover readout ${JSON.stringify(readout)} lacks ·Paris at rank 1`);
    console.log(`    ${readout.replaceAll('\n', ' | ')}`);
    await shoot(page, 'lens.png', () => hoverGrid(page, '#lens canvas.heatmap', grid.rows - 1, grid.cols - 1, '#lens-readout'));
  });

  await step('API dla on IOI: parts add up to the logit difference; L23 H3 leads', async () => {
    const r = await page.evaluate(async ({ clean, token, minus }) => {
      const t0 = performance.now();
      const dla = await window.loupe.dla({ prompt: clean, token, minus });
      return { ms: performance.now() - t0, ...dla };
    }, IOI);
    timings.push(['API dla (IOI, 14 tokens)', Math.round(r.ms)]);
    check(r.heads.length === nLayers && r.heads.every((h) => h.length === nHeads), `dla heads are not [${nLayers}][${nHeads}]`);
    check(r.mlp.length === nLayers, `dla mlp has ${r.mlp.length} layers`);
    check(r.token?.text === IOI.token && r.minus?.text === IOI.minus, `dla tokens ${JSON.stringify([r.token, r.minus])}`);
    check(r.position === r.tokens.length - 1, `dla position ${r.position}, expected the last (${r.tokens.length - 1})`);
    const gap = Math.abs(r.total - r.sumOfParts);
    check(gap <= DLA_SUM_TOLERANCE, `|total − sumOfParts| = |${r.total.toFixed(4)} − ${r.sumOfParts.toFixed(4)}| = ${gap.toFixed(4)} > ${DLA_SUM_TOLERANCE}`);
    const modelGap = Math.abs(r.total - r.modelTotal);
    check(modelGap <= DLA_MODEL_TOLERANCE, `|total − modelTotal| = ${modelGap.toFixed(4)} > ${DLA_MODEL_TOLERANCE}`);
    let best = [0, 0];
    r.heads.forEach((row, l) => row.forEach((v, h) => {
      if (Math.abs(v) > Math.abs(r.heads[best[0]][best[1]])) best = [l, h];
    }));
    check(best[0] === IOI_TOP_HEAD[0] && best[1] === IOI_TOP_HEAD[1], `the largest |head| is L${best[0]} H${best[1]}, expected L${IOI_TOP_HEAD[0]} H${IOI_TOP_HEAD[1]}`);
    console.log(`    total ${r.total.toFixed(4)}, sum of parts ${r.sumOfParts.toFixed(4)}, L${best[0]} H${best[1]} = ${r.heads[best[0]][best[1]].toFixed(3)}`);
  });

  await step('explorer IOI example fills the analyses; attribution chart and heatmap', async () => {
    const count = Number(await page.getAttribute('main', 'data-run-count'));
    await page.click('#ioi-example');
    await page.waitForFunction((c) => Number(document.querySelector('main').dataset.runCount) > c, count, { timeout: STEP_TIMEOUT_MS });
    await page.waitForSelector('#run:not([disabled])');
    check((await page.inputValue('#prompt')) === IOI.clean, 'the IOI example did not put its prompt on the page');
    check((await page.inputValue('#dla-token')) === IOI.token && (await page.inputValue('#dla-minus')) === IOI.minus, 'the IOI example did not set the DLA tokens');
    check((await page.inputValue('#patch-corrupted')) === IOI.corrupted, 'the IOI example did not set the corrupted prompt');
    check((await page.inputValue('#patch-site')) === 'head_z', 'the IOI example did not select head patching');
    await page.click('#tab-dla');
    const ms = await uiAnalysis(page, 'dla', '#dla-run');
    timings.push(['explorer logit attribution', ms]);
    const summary = await page.textContent('#dla-summary');
    check(/sum of parts/.test(summary) && /·Mary/.test(summary), `dla summary ${JSON.stringify(summary)}`);
    const grid = await gridOf(page, '#dla canvas.heatmap');
    check(grid.rows === nHeads && grid.cols === nLayers, `dla heatmap is ${grid.rows} × ${grid.cols}, expected ${nHeads} × ${nLayers}`);
    const readout = await hoverGrid(page, '#dla canvas.heatmap', IOI_TOP_HEAD[1], IOI_TOP_HEAD[0], '#dla-readout');
    check(/^L23 H3: \+\d/.test(readout), `hovering L23 H3 reads ${JSON.stringify(readout)}`);
    console.log(`    ${summary}\n    ${readout}`);
    await shoot(page, 'dla.png', () => hoverGrid(page, '#dla canvas.heatmap', IOI_TOP_HEAD[1], IOI_TOP_HEAD[0], '#dla-readout'));
  });

  // The explorer calls window.loupe.patch like any host; wrapping it lets the test see the
  // numbers behind the heatmap and when each layer arrived.
  await page.evaluate(() => {
    const patch = window.loupe.patch;
    window.e2ePatches = [];
    window.loupe.patch = (options, onProgress) => {
      const record = { site: options.site, layers: [], t0: performance.now() };
      window.e2ePatches.push(record);
      return patch(options, (partial) => {
        record.layers.push(Math.round(performance.now() - record.t0));
        return onProgress?.(partial);
      }).then(
        (result) => Object.assign(record, { result, ms: performance.now() - record.t0 }) && result,
        (error) => {
          record.error = error.message;
          throw error;
        },
      );
    };
  });

  await step('API patch: onProgress after each layer; returning false stops mid-sweep', async () => {
    const r = await page.evaluate(async ({ clean, corrupted, token, minus }) => {
      const seen = [];
      const result = await window.loupe.patch(
        { clean, corrupted, metric: { type: 'logit_diff', token, minus }, site: 'head_z' },
        (partial) => {
          seen.push([partial.layersDone, partial.nLayers, partial.values.length]);
          return partial.layersDone >= 2 ? false : undefined;
        },
      );
      return { seen, result };
    }, IOI);
    const { result, seen } = r;
    check(result.stopped === true, `a stopped sweep resolved with stopped = ${result.stopped}`);
    check(result.layersDone >= 2 && result.layersDone < nLayers, `stopped after ${result.layersDone} layers`);
    check(result.values.length === result.layersDone && result.values.every((row) => row.length === nHeads), 'partial values do not match layersDone × heads');
    check(seen.every(([done, n, len], i) => done === i + 1 && n === nLayers && len === done), `progress reports ${JSON.stringify(seen)}`);
    check(result.cleanMetric > result.corruptedMetric, `clean metric ${result.cleanMetric} is not above the corrupted ${result.corruptedMetric}`);
    console.log(`    stopped after ${result.layersDone} of ${result.nLayers} layers; progress ${JSON.stringify(seen)}`);
  });

  await step('API registry: loupe.analyses lists every analysis; loupe.call / loupe.start run any by name', async () => {
    const r = await page.evaluate(async ({ clean, corrupted, token, minus }) => {
      const list = await window.loupe.analyses();
      const request = { prompt: clean, layer: 20, neuron: 100 };
      const [called, named] = await Promise.all([window.loupe.call('neuronView', request), window.loupe.neuronView(request)]);
      const seen = [];
      const patch = await window.loupe.start(
        'patch',
        { clean, corrupted, metric: { type: 'logit_diff', token, minus }, site: 'resid_pre' },
        {
          onProgress: ({ phase, done, total, partial }) => {
            seen.push({ phase, done, total, layersDone: partial.layersDone });
            return done >= 1 ? false : undefined;
          },
        },
      );
      const refuse = (promise) => promise.then(() => null, (e) => e.message);
      return {
        list,
        same: JSON.stringify(called) === JSON.stringify(named),
        seen,
        patch: { stopped: patch.stopped, layersDone: patch.layersDone },
        notAnalysis: await refuse(window.loupe.call('load', {})),
        unknown: await refuse(window.loupe.call('noSuchAnalysis', {})),
      };
    }, IOI);
    const names = r.list.map((e) => e.name);
    for (const name of ['run', 'logitLens', 'dla', 'attribute', 'patch', 'neuronView', 'saeFeatures', 'trainSae', 'trainProbes']) {
      check(names.includes(name), `loupe.analyses() lacks ${name}: ${names.join(', ')}`);
    }
    check(r.list.every((e) => (e.kind === 'job') === (typeof e.phase === 'string') && typeof e.summary === 'string' && e.summary.length > 0), 'a catalogue entry lacks its summary or a job its phase');
    check(r.same, 'loupe.call(\'neuronView\') and loupe.neuronView gave different results');
    check(r.seen.length >= 1 && r.seen[0].phase === 'patch' && r.seen[0].done === 1 && r.seen[0].total === nLayers && r.seen[0].layersDone === 1, `start('patch') progress ${JSON.stringify(r.seen)}`);
    check(r.patch.stopped === true && r.patch.layersDone >= 1 && r.patch.layersDone < nLayers, `a stopped start('patch') resolved with ${JSON.stringify(r.patch)}`);
    check(/not an analysis/.test(r.notAnalysis ?? ''), `loupe.call('load') gave ${JSON.stringify(r.notAnalysis)}`);
    check(/unknown command "noSuchAnalysis"/.test(r.unknown ?? ''), `an unknown analysis gave ${JSON.stringify(r.unknown)}`);
    console.log(`    ${names.length} analyses; start('patch') stopped after ${r.patch.layersDone} layer(s)`);
  });

  await step('API patch head_z_pos: head-major values per layer; stopped after 2 layers', async () => {
    const r = await page.evaluate(async ({ clean, corrupted, token, minus }) => {
      const t0 = performance.now();
      const result = await window.loupe.patch(
        { clean, corrupted, metric: { type: 'logit_diff', token, minus }, site: 'head_z_pos' },
        (partial) => (partial.layersDone >= 2 ? false : undefined),
      );
      return { ms: performance.now() - t0, result };
    }, IOI);
    const { result } = r;
    const positions = result.cleanTokens.length;
    timings.push(['API patch head_z_pos, IOI (2 layers, then stopped)', Math.round(r.ms)]);
    check(result.site === 'head_z_pos', `site ${JSON.stringify(result.site)}`);
    check(result.stopped === true && result.layersDone >= 2 && result.layersDone < nLayers, `stopped = ${result.stopped} after ${result.layersDone} layers`);
    check(positions === 14, `the IOI prompt is ${positions} tokens, expected 14`);
    check(result.values.length === result.layersDone && result.values.every((row) => row.length === nHeads * positions),
      `values[0] has ${result.values[0]?.length} entries, expected ${nHeads} × ${positions} = ${nHeads * positions}`);
    check(result.values.flat().every(Number.isFinite), 'some head_z_pos value is not finite');
    // Positions before the first changed token cannot carry the difference: exactly 0.
    const first = result.cleanTokens.findIndex((t, i) => t.id !== result.corruptedTokens[i].id);
    const early = result.values.flatMap((row) => Array.from({ length: nHeads }, (_, h) => row.slice(h * positions, h * positions + first)).flat());
    check(first > 0 && early.every((v) => v === 0), `values before the first changed position (${first}) are not all 0`);
    console.log(`    ${result.layersDone} layers × ${nHeads} heads × ${positions} positions in ${Math.round(r.ms)} ms; first changed position ${first}`);
  });

  await step('explorer patching head_z on IOI: progress, full sweep, heatmap', async () => {
    await page.click('#tab-patching');
    await page.click('#patch-run');
    await page.waitForFunction(() => Number(document.querySelector('#patch-progress').value) >= 1, null, { timeout: STEP_TIMEOUT_MS });
    await page.waitForSelector('#patching[data-state="ready"], #patching[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
    const run = await page.evaluate(() => window.e2ePatches.at(-1));
    check(!run.error, `the sweep failed: ${run.error}`);
    const { result } = run;
    check(result.values.length === nLayers && result.values.every((row) => row.length === nHeads), `values are not [${nLayers}][${nHeads}]`);
    check(result.values.flat().every(Number.isFinite), 'some patched value is not finite');
    let best = [0, 0];
    result.values.forEach((row, l) => row.forEach((v, h) => {
      if (v > result.values[best[0]][best[1]]) best = [l, h];
    }));
    const top = result.values[best[0]][best[1]];
    check(top >= PATCH_HEAD_MIN, `no head restores ≥ ${PATCH_HEAD_MIN} of the logit difference (best L${best[0]} H${best[1]} = ${top.toFixed(3)})`);
    const steps = run.layers.map((t, i) => t - (run.layers[i - 1] ?? 0));
    timings.push(['explorer patching head_z, IOI (30 layers)', `${Math.round(run.ms)} (first layer ${steps[0]}, slowest ${Math.max(...steps)}, last ${steps.at(-1)})`]);
    const summary = await page.textContent('#patch-summary');
    check(/clean metric/.test(summary) && /corrupted/.test(summary), `patching summary ${JSON.stringify(summary)}`);
    const grid = await gridOf(page, '#patching canvas.heatmap');
    check(grid.rows === nHeads && grid.cols === nLayers, `patching heatmap is ${grid.rows} × ${grid.cols}`);
    const readout = await hoverGrid(page, '#patching canvas.heatmap', best[1], best[0], '#patch-readout');
    check(readout.startsWith(`L${best[0]} H${best[1]}: ${top.toFixed(3)}`), `hover readout ${JSON.stringify(readout)}`);
    console.log(`    ${summary}\n    ${readout}; per-layer ms ${steps.join(' ')}`);
    await shoot(page, 'patching.png', () => hoverGrid(page, '#patching canvas.heatmap', best[1], best[0], '#patch-readout'));
  });

  await step('API attributionPatching on IOI: [30][14] per-position estimates, [30][9] heads, L23 H3 leads', async () => {
    const r = await page.evaluate(async ({ clean, corrupted, token, minus }) => {
      const phases = [];
      const t0 = performance.now();
      const metric = { type: 'logit_diff', token, minus };
      const a = await window.loupe.attributionPatching({ clean, corrupted, metric }, { onProgress: (p) => void phases.push(p.phase) });
      return { ms: performance.now() - t0, phases, ...a };
    }, IOI);
    timings.push([`API attributionPatching (IOI, 14 tokens)${r.phases.includes('prepare') ? ' + f32 model build' : ''}`, Math.round(r.ms)]);
    const positions = r.cleanTokens?.length;
    check(positions === 14 && r.corruptedTokens?.length === 14, `attributionPatching tokens ${positions} / ${r.corruptedTokens?.length}, expected 14`);
    for (const key of ['residPre', 'attnOut', 'mlpOut']) {
      check(r[key]?.length === nLayers && r[key].every((row) => row.length === positions), `${key} is not [${nLayers}][${positions}]`);
      check(r[key]?.flat().every(Number.isFinite), `${key} has a value that is not finite`);
    }
    check(r.headZ?.length === nLayers && r.headZ.every((row) => row.length === nHeads), `headZ is not [${nLayers}][${nHeads}]`);
    check(r.cleanMetric > r.corruptedMetric, `clean metric ${r.cleanMetric} is not above the corrupted ${r.corruptedMetric}`);
    let best = [0, 0];
    r.headZ.forEach((row, l) => row.forEach((v, h) => {
      if (v > r.headZ[best[0]][best[1]]) best = [l, h];
    }));
    check(best[0] === IOI_TOP_HEAD[0] && best[1] === IOI_TOP_HEAD[1], `the largest head estimate is L${best[0]} H${best[1]}, expected L${IOI_TOP_HEAD[0]} H${IOI_TOP_HEAD[1]}`);
    console.log(`    clean ${r.cleanMetric.toFixed(3)}, corrupted ${r.corruptedMetric.toFixed(3)}; L${best[0]} H${best[1]} estimate ${r.headZ[best[0]][best[1]].toFixed(3)}`);
  });

  await step('explorer attribution patching beside the head_z sweep: heatmap, Pearson r, largest disagreement', async () => {
    const t0 = Date.now();
    await page.click('#patch-estimate');
    await page.waitForSelector('#patch-estimate-map[data-state="ready"], #patch-estimate-map[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
    timings.push(['explorer attribution patching', Date.now() - t0]);
    check((await page.getAttribute('#patch-estimate-map', 'data-state')) === 'ready', `the estimate failed: ${await page.textContent('#patch-estimate-note')}`);
    const grid = await gridOf(page, '#patch-estimate-map canvas.heatmap');
    check(grid.rows === nHeads && grid.cols === nLayers, `the estimate heatmap is ${grid.rows} × ${grid.cols}, expected ${nHeads} × ${nLayers}`);
    const real = await gridOf(page, '#patching canvas.heatmap');
    check(real.rows === nHeads && real.cols === nLayers && real.cellWidth === grid.cellWidth, 'the real and estimated maps do not share their shape and column width');
    const agreement = await page.textContent('#patch-agreement');
    const r = Number(await page.getAttribute('#patch-agreement', 'data-r'));
    check(/Pearson r = \d\.\d{3}/.test(agreement) && /largest disagreement at L\d+ H\d+/.test(agreement), `agreement line ${JSON.stringify(agreement)}`);
    check(r >= ATTRIBUTION_PATCHING_MIN_R, `Pearson r between patching and its estimate is ${r}, expected ≥ ${ATTRIBUTION_PATCHING_MIN_R}`);
    const [l, h] = IOI_TOP_HEAD;
    const readout = await hoverGrid(page, '#patch-estimate-map canvas.heatmap', h, l, '#patch-readout');
    check(readout.startsWith(`estimate L${l} H${h}: `) && /\(patching: /.test(readout), `hovering the estimate's L${l} H${h} reads ${JSON.stringify(readout)}`);
    console.log(`    ${agreement}\n    ${readout}`);
    await shoot(page, 'attribution-patching.png', () => hoverGrid(page, '#patch-estimate-map canvas.heatmap', h, l, '#patch-readout'));
    await page.selectOption('#patch-site', 'head_z_pos');
    check(/head_z_pos/.test(await page.textContent('#patch-estimate-note')), 'head_z_pos does not say it has no estimate');
    await page.selectOption('#patch-site', 'head_z');
  });

  await step('explorer patching Stop: partial result, stopped, page usable', async () => {
    await page.selectOption('#patch-site', 'resid_pre');
    await page.click('#patch-run');
    await page.waitForFunction(() => Number(document.querySelector('#patch-progress').value) >= 1, null, { timeout: STEP_TIMEOUT_MS });
    const t0 = Date.now();
    await page.click('#patch-stop');
    await page.waitForSelector('#patching[data-state="stopped"], #patching[data-state="ready"], #patching[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
    timings.push(['patching: Stop click → stopped', Date.now() - t0]);
    const run = await page.evaluate(() => window.e2ePatches.at(-1));
    check(run.result?.stopped === true && run.result.layersDone < nLayers, `after Stop: stopped = ${run.result?.stopped}, ${run.result?.layersDone} layers`);
    check(run.result?.values.every((row) => row.length === run.result.cleanTokens.length), 'resid_pre rows are not one value per position');
    const summary = await page.textContent('#patch-summary');
    check(/stopped after \d+ of 30 layers/.test(summary), `summary after Stop: ${JSON.stringify(summary)}`);
    const grid = await gridOf(page, '#patching canvas.heatmap');
    check(grid.rows === run.result.cleanTokens.length && grid.cols === nLayers, `resid_pre grid is ${grid.rows} × ${grid.cols}`);
    check(await page.isEnabled('#patch-run'), 'Patch stays disabled after Stop');
    console.log(`    ${summary}`);
  });

  await step('patching prompts of different lengths: clear message in the banner, page usable', async () => {
    await page.fill('#patch-corrupted', 'When Mary and John went to the big store, Mary gave a drink to');
    await page.click('#patch-run');
    await page.waitForSelector('#patching[data-state="error"], #patching[data-state="ready"]', { timeout: STEP_TIMEOUT_MS });
    const banner = await bannerText(page);
    check(/15 tokens|14 tokens/.test(banner) && /same/.test(banner), `banner for prompts of different lengths: ${JSON.stringify(banner)}`);
    check(await page.isEnabled('#patch-run'), 'Patch stays disabled after the error');
    console.log(`    banner: ${JSON.stringify(banner)}`);
    await uiRun(page, IOI.clean);
    check((await bannerText(page)) === '', 'the banner stays after a successful run');
    check((await page.textContent('#topk tbody tr:first-child .chip')) === '·Mary', 'after the error, the IOI run does not give ·Mary');
    await page.fill('#patch-corrupted', IOI.corrupted);
    await page.selectOption('#patch-site', 'head_z');
  });

  let inductionHead = [Math.min(5, nLayers - 1), 0]; // replaced by the strongest one found
  await step('API detectHeads: three [30][9] maps with scores in [0, 1]', async () => {
    const r = await page.evaluate(async (prompt) => {
      const t0 = performance.now();
      const d = await window.loupe.detectHeads({ prompt });
      return { ms: performance.now() - t0, ...d };
    }, IOI.clean);
    timings.push(['API detectHeads (IOI prompt + 2 × 20 random)', Math.round(r.ms)]);
    for (const key of ['previousToken', 'duplicateToken', 'induction']) {
      const m = r[key];
      check(m?.length === nLayers && m.every((row) => row.length === nHeads), `${key} is not [${nLayers}][${nHeads}]`);
      check(m.flat().every((v) => v >= 0 && v <= 1 + 1e-6), `${key} has a score outside [0, 1]`);
      const [l, h, v] = m.flatMap((row, l) => row.map((v, h) => [l, h, v])).sort((a, b) => b[2] - a[2])[0];
      console.log(`    ${key}: strongest L${l} H${h} ${v.toFixed(3)}`);
      if (key === 'induction') inductionHead = [l, h];
    }
    check(r.randomIds.length === 20, `randomIds has ${r.randomIds.length} tokens, expected the default 20`);
  });

  await step('explorer head detectors: three maps; clicking a head shows it in the attention view', async () => {
    await page.click('#tab-heads');
    const ms = await uiAnalysis(page, 'heads', '#heads-run');
    timings.push(['explorer head detectors', ms]);
    for (const id of ['heads-previous', 'heads-duplicate', 'heads-induction']) {
      const grid = await gridOf(page, `#${id} canvas.heatmap`);
      check(grid.rows === nHeads && grid.cols === nLayers, `#${id} is ${grid.rows} × ${grid.cols}`);
    }
    const [layer, head] = inductionHead;
    await hoverGrid(page, '#heads-induction canvas.heatmap', head, layer, '#heads-readout', { click: true });
    await page.waitForSelector('#attention[data-state="ready"]', { timeout: STEP_TIMEOUT_MS });
    const selected = [await page.inputValue('#attention-layer'), await page.inputValue('#attention-head')];
    check(selected[0] === String(layer) && selected[1] === String(head), `clicking L${layer} H${head} selected layer/head ${selected}`);
    const best = await page.textContent('#heads-induction .best');
    console.log(`    induction ${best}`);
    await shoot(page, 'heads.png', () => hoverGrid(page, '#heads-induction canvas.heatmap', head, layer, '#heads-readout'));
  });

  const api = {}; // API results the page must agree with
  await step('API ablate: zeroing L23 H3 cuts the IOI logit difference', async () => {
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
    check(r.ablatedMetric < r.cleanMetric - ABLATE_HEAD_MIN_DROP, `ablated metric ${r.ablatedMetric} is not below the clean ${r.cleanMetric} − ${ABLATE_HEAD_MIN_DROP}`);
    check(r.kl > 0, `KL(clean ‖ ablated) = ${r.kl}, expected > 0`);
    check(r.topClean?.[0]?.token === IOI.token, `clean top-1 ${JSON.stringify(r.topClean?.[0])}, expected " Mary"`);
    check(r.topAblated?.length > 0 && r.intervention && typeof r.intervention === 'object', 'ablate lacks topAblated or its intervention');
    check(typeof r.resample === 'string' && !r.resample.startsWith('resolved'), `resampling from a shorter reference should reject, got ${JSON.stringify(r.resample)}`);
    console.log(`    clean ${r.cleanMetric.toFixed(3)} → ablated ${r.ablatedMetric.toFixed(3)}, KL ${r.kl.toFixed(4)}; intervention ${JSON.stringify(r.intervention)}`);
    console.log(`    short reference: ${r.resample}`);
  });

  await step('API ablate mean_reference: L23 H3 set to its mean over reference prompts cuts the IOI logit difference', async () => {
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
    check(typeof r.empty === 'string' && !r.empty.startsWith('resolved') && r.empty.length > 0, `mean_reference with no references should reject, got ${JSON.stringify(r.empty)}`);
    console.log(`    clean ${r.cleanMetric.toFixed(3)} → ablated ${r.ablatedMetric.toFixed(3)}, KL ${r.kl.toFixed(4)}; no references: ${r.empty}`);
  });

  await step('explorer ablation: the IOI example fills the form; clean vs ablated, intervention JSON', async () => {
    // Later runs suggest their own top tokens, as for the other tabs: set the example again.
    const count = Number(await page.getAttribute('main', 'data-run-count'));
    await page.click('#ioi-example');
    await page.waitForFunction((c) => Number(document.querySelector('main').dataset.runCount) > c, count, { timeout: STEP_TIMEOUT_MS });
    await page.waitForSelector('#run:not([disabled])');
    check((await page.inputValue('#ablate-kind')) === 'head', 'the IOI example did not select a head');
    check((await page.inputValue('#ablate-layer')) === '23' && (await page.inputValue('#ablate-head')) === '3', 'the IOI example did not select L23 H3');
    check((await page.inputValue('#ablate-method')) === 'zero', 'the IOI example did not select zero ablation');
    check((await page.inputValue('#ablate-reference')) === IOI.corrupted, 'the IOI example did not set the reference prompt');
    check((await page.inputValue('#ablate-token')) === IOI.token && (await page.inputValue('#ablate-minus')) === IOI.minus, 'the IOI example did not set the ablation metric tokens');
    await page.click('#tab-ablation');
    const ms = await uiAnalysis(page, 'ablation', '#ablate-run');
    timings.push(['explorer ablation', ms]);
    const summary = await page.textContent('#ablate-summary');
    check(/clean/.test(summary) && /ablated/.test(summary) && /KL/.test(summary), `ablation summary ${JSON.stringify(summary)}`);
    const rows = [await page.$$eval('#ablate-top-clean tbody tr', (r) => r.length), await page.$$eval('#ablate-top-ablated tbody tr', (r) => r.length)];
    check(rows[0] === 5 && rows[1] === 5, `top-5 tables have ${rows} rows`);
    check((await page.textContent('#ablate-top-clean tbody tr:first-child .chip')) === '·Mary', 'the clean top-1 is not ·Mary');
    let json = null;
    try {
      json = JSON.parse(await page.textContent('#ablate-intervention'));
    } catch (error) {
      failures.push(`the intervention <pre> is not JSON: ${error.message}`);
    }
    check(json && /23/.test(JSON.stringify(json)), `intervention ${JSON.stringify(json)} does not name layer 23`);
    console.log(`    ${summary}`);
    check(summary.includes(`clean ${api.ablate?.cleanMetric.toFixed(3)}`), `the page's clean metric differs from the API's ${api.ablate?.cleanMetric}`);
    await shoot(page, 'ablation.png');
  });

  await step('API minimalPair: Eiffel → " Paris", Colosseum → " Rome", per-layer distances', async () => {
    const r = await page.evaluate(async ([a, b]) => {
      const t0 = performance.now();
      const p = await window.loupe.minimalPair({ a, b });
      return { ms: performance.now() - t0, ...p };
    }, [PROMPT, PAIR_B]);
    timings.push(['API minimalPair (Eiffel / Colosseum)', Math.round(r.ms)]);
    check(r.topA?.[0]?.token === ' Paris', `topA[0] ${JSON.stringify(r.topA?.[0])}, expected " Paris"`);
    check(r.topB?.[0]?.token === ' Rome', `topB[0] ${JSON.stringify(r.topB?.[0])}, expected " Rome"`);
    check(r.klAb > 1, `KL(A ‖ B) = ${r.klAb}, expected > 1`);
    check(r.klBa > 0, `KL(B ‖ A) = ${r.klBa}, expected > 0`);
    check(r.relDiff?.length === nLayers && r.cosine?.length === nLayers, `relDiff/cosine have ${r.relDiff?.length}/${r.cosine?.length} layers, expected ${nLayers}`);
    check(r.rose?.length > 0 && r.fell?.length > 0, 'rose/fell are empty');
    check(r.rose?.some((t) => t.token === ' Rome') && r.fell?.some((t) => t.token === ' Paris'), `" Rome" did not rise or " Paris" did not fall: rose ${JSON.stringify(r.rose?.map((t) => t.token))}, fell ${JSON.stringify(r.fell?.map((t) => t.token))}`);
    console.log(`    KL ${r.klAb.toFixed(3)} / ${r.klBa.toFixed(3)}; relDiff ${r.relDiff.map((v) => v.toFixed(2)).join(' ')}`);
  });

  await step('explorer minimal pair: default B for the Eiffel prompt; both lists, chart', async () => {
    await uiRun(page, PROMPT);
    check((await page.inputValue('#pair-b')) === PAIR_B, `prompt B is ${JSON.stringify(await page.inputValue('#pair-b'))}, expected the Colosseum prompt`);
    await page.click('#tab-pair');
    const ms = await uiAnalysis(page, 'pair', '#pair-run');
    timings.push(['explorer minimal pair', ms]);
    check((await page.textContent('#pair-top-a tbody tr:first-child .chip')) === '·Paris', 'A\'s top-1 is not ·Paris');
    check((await page.textContent('#pair-top-b tbody tr:first-child .chip')) === '·Rome', 'B\'s top-1 is not ·Rome');
    const rows = [await page.$$eval('#pair-top-a tbody tr', (r) => r.length), await page.$$eval('#pair-top-b tbody tr', (r) => r.length)];
    check(rows[0] === 10 && rows[1] === 10, `top-10 tables have ${rows} rows`);
    check(await page.isVisible('#pair canvas.bars'), 'the per-layer chart is not shown');
    const summary = await page.textContent('#pair-summary');
    check(/KL\(A ‖ B\)/.test(summary) && /KL\(B ‖ A\)/.test(summary), `pair summary ${JSON.stringify(summary)}`);
    const hoverBars = async () => {
      const canvas = await page.$('#pair canvas.bars');
      await canvas.hover({ position: { x: 48 + 20.5 * 22, y: 60 } });
    };
    await shoot(page, 'pair.png', hoverBars);
    const readout = (await page.textContent('#pair-readout')).trim();
    check(/^layer 20: /.test(readout), `hovering layer 20 of the chart reads ${JSON.stringify(readout)}`);
    console.log(`    ${summary}\n    ${readout}`);
  });

  await step('API neuronView: L20 N100 on the Eiffel prompt', async () => {
    const r = await page.evaluate(async (prompt) => {
      const t0 = performance.now();
      const n = await window.loupe.neuronView({ prompt, layer: 20, neuron: 100 });
      let bad = null;
      try {
        await window.loupe.neuronView({ prompt, layer: 20, neuron: 1e6 });
      } catch (error) {
        bad = error.message;
      }
      return { ms: performance.now() - t0, ...n, bad };
    }, PROMPT);
    timings.push(['API neuronView', Math.round(r.ms)]);
    check(r.activations?.length === r.tokens?.length, `${r.activations?.length} activations for ${r.tokens?.length} tokens`);
    check(r.activations.every(Number.isFinite), 'some activation is not finite');
    check(r.promoted?.length === 10 && r.suppressed?.length === 10, `promoted/suppressed have ${r.promoted?.length}/${r.suppressed?.length} tokens, expected 10`);
    check(r.promoted[0].prob >= r.promoted.at(-1).prob && r.suppressed[0].prob <= r.suppressed.at(-1).prob, 'promoted/suppressed are not sorted by effect');
    check(/does not exist/.test(r.bad ?? ''), `a neuron out of range should reject, got ${JSON.stringify(r.bad)}`);
    console.log(`    activations ${r.activations.map((v) => v.toFixed(2)).join(' ')}; promoted ${r.promoted.slice(0, 3).map((t) => JSON.stringify(t.token)).join(' ')}`);
  });

  await step('explorer neuron: tokens shaded by activation, promoted/suppressed lists', async () => {
    await page.click('#tab-neuron');
    check((await page.inputValue('#neuron-layer')) === '20' && (await page.inputValue('#neuron-index')) === '100', 'the neuron inputs do not default to L20 N100');
    const ms = await uiAnalysis(page, 'neuron', '#neuron-run');
    timings.push(['explorer neuron', ms]);
    const chips = await page.$$eval('#neuron-tokens .chip', (cs) => cs.map((c) => ({ text: c.textContent, title: c.title, bg: c.style.background })));
    check(chips.map((c) => c.text).join('') === visible(PROMPT), `neuron chips ${JSON.stringify(chips.map((c) => c.text))} do not spell the prompt`);
    check(chips.every((c) => /activation [+−]\d/.test(c.title) && /rgb/.test(c.bg)), 'neuron chips lack their activation on hover or their shade');
    const rows = [await page.$$eval('#neuron-promoted tbody tr', (r) => r.length), await page.$$eval('#neuron-suppressed tbody tr', (r) => r.length)];
    check(rows[0] === 10 && rows[1] === 10, `promoted/suppressed tables have ${rows} rows`);
    const summary = await page.textContent('#neuron-summary');
    check(/^L20 N100: /.test(summary), `neuron summary ${JSON.stringify(summary)}`);
    console.log(`    ${summary}`);
    await shoot(page, 'neuron.png');
  });

  await attribution(page);
}

// -----------------------------------------------------------------------------------------
// Input attribution, through window.loupe and through the page. Runs last of the analyses:
// it puts the Eiffel prompt on the page. The first gradient call of a worker builds the f32
// gradient model (seconds, once).

async function attribution(page) {
  // The explorer calls window.loupe.attribute like any host; wrapping it lets the test see
  // the results behind the page.
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
  const reference = JSON.parse(fs.readFileSync(path.join(HERE, '..', 'fixtures', 'reference.json'), 'utf8'));
  const parisLogprob = reference.prompts[0].top10.find((t) => t.text === ' Paris').logprob;
  const target = { type: 'logprob', token: ' Paris' };

  await step('API attribute saliency: one finite value per token, f(x) = log p(" Paris") of the f32 model', async () => {
    const r = await page.evaluate(async ({ prompt, target }) => {
      const phases = [];
      const t0 = performance.now();
      const a = await window.loupe.attribute({ prompt, target, method: 'saliency' }, { onProgress: (p) => void phases.push(p.phase) });
      return { ms: performance.now() - t0, phases, ...a };
    }, { prompt: PROMPT, target });
    timings.push([`API attribute saliency${r.phases.includes('prepare') ? ' (+ f32 model build)' : ''}`, Math.round(r.ms)]);
    const n = r.tokens?.length;
    check(n === 10, `saliency has ${n} tokens, expected 10`);
    check(r.signed?.length === n && r.l2?.length === n, `signed/l2 have ${r.signed?.length}/${r.l2?.length} values for ${n} tokens`);
    check(r.signed.every(Number.isFinite) && r.l2.every((v) => Number.isFinite(v) && v >= 0), 'a saliency value is not finite (or an L2 norm is negative)');
    check(r.signed.some((v) => v !== 0), 'every saliency value is 0: the gradient did not reach the input');
    check(r.finished === true && r.stopped === false, `finished = ${r.finished}, stopped = ${r.stopped}`);
    check(r.method === 'saliency' && r.target?.token?.text === ' Paris' && r.target.position === n - 1, `method/target ${JSON.stringify([r.method, r.target])}`);
    check(Math.abs(r.value - parisLogprob) <= F32_LOGPROB_BOUND, `f(x) = ${r.value}, the reference log p(" Paris") = ${parisLogprob} (bound ${F32_LOGPROB_BOUND})`);
    // 'prepare' comes only when this call builds the f32 model (attribution patching may have).
    check(r.phases.at(-1) === 'attribute' && r.phases.lastIndexOf('prepare') <= 0, `progress phases ${JSON.stringify(r.phases)}: expected ['prepare',] 'attribute'`);
    console.log(`    f(x) ${r.value.toFixed(4)}; signed ${r.signed.map((v) => v.toFixed(2)).join(' ')}`);
  });

  await step('API attribute integrated_gradients (8 steps, "<|endoftext|>" baseline): completeness error = |sum − delta| / |delta|', async () => {
    const r = await page.evaluate(async ({ prompt, target, params }) => {
      const reports = [];
      const t0 = performance.now();
      const a = await window.loupe.attribute({ prompt, target, method: 'integrated_gradients', params }, { onProgress: (p) => void reports.push([p.done, p.total]) });
      return { ms: performance.now() - t0, reports, ...a };
    }, { prompt: PROMPT, target, params: IG_E2E });
    timings.push(['API attribute IG, 8 steps (10 passes)', Math.round(r.ms)]);
    const ig = r.integratedGradients;
    check(ig && r.finished === true, `no integratedGradients report, or unfinished: ${JSON.stringify(ig)?.slice(0, 200)}`);
    const e = ig.completenessError;
    const expected = Math.abs(ig.sum - ig.delta) / Math.abs(ig.delta);
    check(Number.isFinite(e) && Math.abs(e - expected) <= 1e-3 * Math.max(1, expected), `completenessError ${e} ≠ |sum − delta| / |delta| = ${expected}`);
    check(Math.abs(ig.delta - (r.value - ig.baselineValue)) <= 1e-3, `delta ${ig.delta} ≠ f(x) − f(x′) = ${r.value - ig.baselineValue}`);
    const total = r.signed.reduce((a, b) => a + b, 0);
    check(Math.abs(total - ig.sum) <= 1e-3 * Math.max(1, Math.abs(ig.sum)), `Σ signed = ${total} ≠ sum ${ig.sum}`);
    check(ig.rule === 'midpoint' && ig.alphas.length === 8 && ig.pathValues.length === 8 && ig.integrand.length === 8, `rule ${ig.rule}, ${ig.alphas.length} alphas, ${ig.pathValues.length} path values, ${ig.integrand.length} integrand values; expected midpoint, 8 each`);
    check(ig.pathValues.every(Number.isFinite) && ig.integrand.every(Number.isFinite), 'a path value or integrand is not finite');
    check(r.reports.length >= 2 && r.reports.at(-1)[0] === r.reports.at(-1)[1], `progress reports ${JSON.stringify(r.reports)}`);
    console.log(`    Σ ${ig.sum.toFixed(3)} vs Δ ${ig.delta.toFixed(3)} (f(x′) ${ig.baselineValue.toFixed(3)}): completeness error ${(100 * e).toFixed(1)}%; progress ${JSON.stringify(r.reports)}`);
  });

  await step('API attribute occlusion: values per token; a window after the target changes nothing', async () => {
    const r = await page.evaluate(async ({ prompt, target }) => {
      const t0 = performance.now();
      const last = await window.loupe.attribute({ prompt, target, method: 'occlusion' });
      const ms = performance.now() - t0;
      const earlier = await window.loupe.attribute({ prompt, target: { ...target, position: -2 }, method: 'occlusion' });
      return { ms, last, earlier };
    }, { prompt: PROMPT, target });
    timings.push(['API attribute occlusion (10 windows)', Math.round(r.ms)]);
    const { last, earlier } = r;
    check(last.signed.length === 10 && last.signed.every(Number.isFinite) && last.signed.some((v) => v !== 0), `occlusion values ${JSON.stringify(last.signed)}`);
    check(last.l2.every((v, i) => Math.abs(v - Math.abs(last.signed[i])) < 1e-6), 'occlusion l2 is not |signed| (one value per token)');
    check(earlier.target.position === 8 && earlier.signed[9] === 0, `target at position ${earlier.target.position}; the token after it got ${earlier.signed[9]}, expected exactly 0`);
    console.log(`    occlusion ${last.signed.map((v) => v.toFixed(2)).join(' ')}`);
  });

  await step('API attribute with a multi-token target: a clear error, the worker still usable', async () => {
    const r = await page.evaluate(async (prompt) => {
      const error = await window.loupe.attribute({ prompt, target: { type: 'logprob', token: ' Eiffel Tower' }, method: 'saliency' }).then(() => null, (e) => e.message);
      const after = await window.loupe.attribute({ prompt, target: { type: 'logit', token: 7042 }, method: 'grad_x_input' });
      return { error, after: after.finished && after.target.token.text };
    }, PROMPT);
    check(/3 tokens/.test(r.error ?? '') && /not one/.test(r.error ?? ''), `a 3-token target gave ${JSON.stringify(r.error)}`);
    check(r.after === ' Paris', `after the error, an attribution by token id gave ${JSON.stringify(r.after)}`);
    console.log(`    ${r.error}`);
  });

  await step('explorer input attribution: IG via the page; shaded tokens, completeness sentence, path plot', async () => {
    await uiRun(page, PROMPT);
    await page.click('#tab-attribution');
    check((await page.inputValue('#attr-token')) === ' Paris', `the attribution token defaults to ${JSON.stringify(await page.inputValue('#attr-token'))}, expected the run's top-1 " Paris"`);
    await page.selectOption('#attr-method', 'integrated_gradients');
    await page.selectOption('#attr-target', 'logprob');
    await page.fill('#attr-steps', String(IG_E2E.steps));
    await page.selectOption('#attr-baseline', 'token');
    check((await page.inputValue('#attr-baseline-token')) === IG_E2E.baseline.token, 'the baseline token does not default to <|endoftext|>');
    const ms = await uiAnalysis(page, 'attribution', '#attr-run');
    timings.push(['explorer input attribution (IG, 8 steps)', ms]);
    const record = await page.evaluate(() => window.e2eAttributions.at(-1));
    check(record.method === 'integrated_gradients' && record.params?.steps === IG_E2E.steps, `the page asked for ${JSON.stringify([record.method, record.params])}`);
    const chips = await page.$$eval('#attr-tokens .chip', (cs) => cs.map((c) => ({ text: c.textContent, title: c.title, bg: c.style.background, value: Number(c.dataset.value) })));
    check(chips.map((c) => c.text).join('') === visible(PROMPT), `attribution chips ${JSON.stringify(chips.map((c) => c.text))} do not spell the prompt`);
    check(chips.every((c) => /signed [+−]\d/.test(c.title) && /L2 \d/.test(c.title) && /rgb/.test(c.bg)), 'attribution chips lack their values on hover or their shade');
    check(chips.every((c, i) => Math.abs(c.value - record.result.signed[i]) < 1e-9), 'the chips do not carry the signed attributions');
    const summary = await page.textContent('#attr-summary');
    check(/log p\('·Paris'\) after position 9 '·of' = −0\.35/.test(summary), `attribution summary ${JSON.stringify(summary)}`);
    const sentence = await page.textContent('#attr-completeness');
    const error = record.result.integratedGradients.completenessError;
    check(/Attributions add up to/.test(sentence) && /from the baseline/.test(sentence) && (/completeness error/.test(sentence) || /whole change/.test(sentence)), `completeness sentence ${JSON.stringify(sentence)}`);
    const p = 100 * error;
    const stated = `${p >= 100 ? p.toFixed(0) : p >= 10 ? p.toFixed(1) : p.toFixed(2)}%`;
    check(sentence.includes(error <= 0.01 ? `error ${stated}` : `${stated} completeness error`), `the sentence does not state the ${stated} error: ${JSON.stringify(sentence)}`);
    const points = await page.$$eval('#attr-plot circle', (cs) => cs.length);
    check(points === 2 * IG_E2E.steps + 2, `the path plot has ${points} points, expected ${2 * IG_E2E.steps + 2} (f and the integrand at 8 α, and both ends)`);
    await page.click('#attr-show-l2');
    const l2Low = await page.textContent('#attribution .legend span');
    const l2Values = await page.$$eval('#attr-tokens .chip', (cs) => cs.map((c) => Number(c.dataset.value)));
    check(l2Low === '0' && l2Values.every((v, i) => Math.abs(v - record.result.l2[i]) < 1e-9), `the L2 toggle shows ${JSON.stringify(l2Values)} from ${l2Low}`);
    await page.click('#attr-show-signed');
    console.log(`    ${summary}\n    ${sentence}`);
    await shoot(page, 'attribution.png');
  });

  await step('explorer compare methods: one shaded row per method', async () => {
    const t0 = Date.now();
    await page.click('#attr-compare');
    await page.waitForSelector('#attribution[data-state="ready"], #attribution[data-state="error"], #attribution[data-state="stopped"]', { timeout: STEP_TIMEOUT_MS });
    timings.push(['explorer compare 5 methods (IG 8 steps)', Date.now() - t0]);
    const rows = await page.$$eval('#attr-compare-table tr', (rs) => rs.map((r) => ({ method: r.dataset.method, state: r.dataset.state, chips: r.querySelectorAll('.chip').length, scale: r.querySelector('.attr-scale')?.textContent ?? '' })));
    const methods = ['saliency', 'grad_x_input', 'integrated_gradients', 'smoothgrad', 'occlusion'];
    check(JSON.stringify(rows.map((r) => r.method)) === JSON.stringify(methods), `compare rows ${JSON.stringify(rows.map((r) => r.method))}`);
    check(rows.every((r) => r.state === 'done' && r.chips === 10 && /max \|a\| \d/.test(r.scale)), `compare rows ${JSON.stringify(rows)}`);
    console.log(`    ${rows.map((r) => `${r.method}: ${r.scale}`).join('; ')}`);
    await shoot(page, 'attribution-compare.png');
  });

  await step('explorer attribution Stop during IG with 64 steps: stopped, partial result, page usable', async () => {
    await page.fill('#attr-steps', '64');
    await page.click('#attr-run');
    await page.waitForFunction(() => Number(document.querySelector('#attr-progress').value) >= 1, null, { timeout: STEP_TIMEOUT_MS });
    const t0 = Date.now();
    await page.click('#attr-stop');
    await page.waitForSelector('#attribution[data-state="stopped"], #attribution[data-state="ready"], #attribution[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
    timings.push(['attribution: Stop click → stopped', Date.now() - t0]);
    const record = await page.evaluate(() => window.e2eAttributions.at(-1));
    check(record.result?.stopped === true && record.result.finished === false && record.result.done < record.result.total, `after Stop: stopped = ${record.result?.stopped}, ${record.result?.done} of ${record.result?.total} passes`);
    check(record.result?.signed.length === 10 && record.result.signed.every(Number.isFinite), 'the stopped result has no finite partial attributions');
    const summary = await page.textContent('#attr-summary');
    check(/stopped after \d+ of 66 passes/.test(summary), `summary after Stop: ${JSON.stringify(summary)}`);
    check(await page.isEnabled('#attr-run'), 'Attribute stays disabled after Stop');
    const top = await page.evaluate((prompt) => window.loupe.run({ prompt, topK: 1 }).then((r) => r.top[0].token), PROMPT);
    check(top === ' Paris', `after Stop, run gives ${JSON.stringify(top)}`);
    console.log(`    ${summary}; reports ${JSON.stringify(record.reports)}`);
    await page.fill('#attr-steps', '32');
  });
}

// -----------------------------------------------------------------------------------------
// Steering, SAE features and probes, through window.loupe and through the page.

async function steeringChecks(page) {
  const direction = await step('API steeringDirection: 576 finite values at blocks.12.hook_resid_pre', async () => {
    const r = await page.evaluate(async (sets) => {
      const t0 = performance.now();
      const d = await window.loupe.steeringDirection({ ...sets, layer: 12 });
      return { ms: performance.now() - t0, ...d };
    }, SENTIMENT);
    timings.push(['API steeringDirection (3 + 3 prompts)', Math.round(r.ms)]);
    check(r.vector?.length === 576 && r.vector.every(Number.isFinite), `the direction has ${r.vector?.length} values, or some are not finite`);
    check(r.hook === 'blocks.12.hook_resid_pre' && r.layer === 12, `hook ${r.hook}, layer ${r.layer}`);
    const norm = Math.hypot(...r.vector);
    check(Math.abs(norm - r.norm) <= 1e-3 * norm && r.norm > 0, `norm ${r.norm} ≠ ‖vector‖ ${norm}`);
    check(r.typicalNorm > r.norm, `typical ‖resid‖ ${r.typicalNorm} is not above the direction's norm ${r.norm}`);
    console.log(`    ‖v‖ ${r.norm.toFixed(2)}, typical ‖resid‖ ${r.typicalNorm.toFixed(1)}`);
    return r.vector;
  });

  await step('API steer: add −0.2 at layer 12 on the film prompt shifts the next token; run with its interventions agrees', async () => {
    if (!direction) throw new Error('no direction');
    const r = await page.evaluate(async ({ prompt, direction }) => {
      const t0 = performance.now();
      const s = await window.loupe.steer({ prompt, steering: { direction, layers: [12], mode: { type: 'add', strength: -0.2 } } });
      const ms = performance.now() - t0;
      const run = await window.loupe.run({ prompt, topK: 3, interventions: s.interventions });
      return { ms, ...s, runTop: run.top };
    }, { prompt: FILM, direction });
    timings.push(['API steer (2 forward passes + typical norm)', Math.round(r.ms)]);
    check(r.kl > 0 && Number.isFinite(r.kl), `KL(base ‖ steered) = ${r.kl}, expected > 0`);
    check(r.interventions?.length === 1 && r.interventions[0].hook === 'blocks.12.hook_resid_pre' && r.interventions[0].op?.type === 'add',
      `interventions ${JSON.stringify(r.interventions?.map((i) => [i.hook, i.op?.type]))}`);
    check(r.typicalNorms?.length === 1 && r.typicalNorms[0] > 0, `typicalNorms ${JSON.stringify(r.typicalNorms)}`);
    check(r.topBase?.length === 10 && r.topSteered?.length === 10 && r.rose?.length > 0 && r.fell?.length > 0, 'topBase/topSteered/rose/fell are incomplete');
    check(r.runTop[0]?.id === r.topSteered[0]?.id && Math.abs(r.runTop[0].prob - r.topSteered[0].prob) < 1e-4,
      `run with the interventions gives ${JSON.stringify(r.runTop[0])}, steer's top is ${JSON.stringify(r.topSteered[0])}`);
    console.log(`    KL ${r.kl.toFixed(3)} nats; top ${JSON.stringify(r.topBase[0].token)} ${(100 * r.topBase[0].prob).toFixed(1)}% → ` +
      `${JSON.stringify(r.topSteered[0].token)} ${(100 * r.topSteered[0].prob).toFixed(1)}%; ‖resid‖ at L12 ${r.typicalNorms[0].toFixed(1)}`);
  });

  await step('API steerGenerate: both sides stream, the texts differ, the base equals generate; returning false stops both', async () => {
    if (!direction) throw new Error('no direction');
    const r = await page.evaluate(async ({ prompt, direction }) => {
      const { interventions } = await window.loupe.steer({ prompt, steering: { direction, layers: [12], mode: { type: 'add', strength: -0.3 } } });
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
    }, { prompt: FILM, direction });
    timings.push(['API steerGenerate 2 × 12 tokens', Math.round(r.ms)]);
    check(r.seen.base === r.both.base.tokens.length && r.seen.steered === r.both.steered.tokens.length && r.seen.base > 0 && r.seen.steered > 0,
      `streamed ${r.seen.base} + ${r.seen.steered} tokens for results of ${r.both.base.tokens.length} + ${r.both.steered.tokens.length}`);
    check(/^(bs)+/.test(r.seen.order), `the sides were not interleaved: ${r.seen.order}`);
    check(r.both.base.text !== r.both.steered.text, `the steered text equals the unsteered one: ${JSON.stringify(r.both.base.text)}`);
    check(r.both.base.text === r.plain, `the unsteered side ${JSON.stringify(r.both.base.text)} differs from generate's ${JSON.stringify(r.plain)}`);
    check(r.both.stopped === false, 'a finished steerGenerate says stopped');
    check(r.stopped.stopped === true && r.stopped.base.tokens.length < 50 && r.stopped.steered.tokens.length < 50,
      `returning false: stopped = ${r.stopped.stopped}, ${r.stopped.base.tokens.length} + ${r.stopped.steered.tokens.length} of 200 tokens`);
    console.log(`    base ${JSON.stringify(r.both.base.text)}\n    steered ${JSON.stringify(r.both.steered.text)}`);
  });

  await step('explorer steering: film prompt, sentiment direction; next-token shift, both continuations, Stop', async () => {
    await page.click('#tab-steering');
    await page.waitForSelector('#steer-example:not([disabled])', { timeout: STEP_TIMEOUT_MS });
    const count = Number(await page.getAttribute('main', 'data-run-count'));
    await page.click('#steer-example');
    await page.waitForFunction((c) => Number(document.querySelector('main').dataset.runCount) > c, count, { timeout: STEP_TIMEOUT_MS });
    check((await page.inputValue('#prompt')) === FILM, 'the film example did not put its prompt on the page');
    check((await page.inputValue('#steer-layers')) === '12' && (await page.inputValue('#steer-mode')) === 'add', 'the steering does not default to add at layer 12');
    const ms = await uiAnalysis(page, 'steering', '#steer-run');
    timings.push(['explorer steering (direction, shift, 2 × 20 tokens)', ms]);
    const summary = await page.textContent('#steer-summary');
    check(/^add −0\.\d+ × ‖resid‖ at layer 12 · KL\(base ‖ steered\) \d\.\d{3} nats/.test(summary), `steering summary ${JSON.stringify(summary)}`);
    const scale = await page.textContent('#steer-scale');
    check(/^× \d+\.\d = typical ‖resid‖ at layer 12$/.test(scale), `the strength's scale reads ${JSON.stringify(scale)}`);
    check((await page.$$eval('#steer-top-base tbody tr', (r) => r.length)) === 5 && (await page.$$eval('#steer-top-steered tbody tr', (r) => r.length)) === 5, 'the next-token tables do not have 5 rows each');
    const base = await page.textContent('#steer-base .gen-text');
    const steered = await page.textContent('#steer-steered .gen-text');
    check(base.length > 0 && steered.length > 0 && base !== steered, `continuations ${JSON.stringify([base, steered])}`);
    check(/unsteered \d+ tokens · steered \d+ tokens/.test(await page.textContent('#steer-gen-stats')), 'the generation stats are missing');
    console.log(`    ${summary}\n    unsteered ${JSON.stringify(base)}\n    steered   ${JSON.stringify(steered)}`);
    await shoot(page, 'steering.png');

    await page.fill('#steer-max-tokens', '200');
    await page.click('#steer-run');
    await page.waitForFunction(() => document.querySelector('#steer-steered .gen-text')?.childNodes.length >= 2, null, { timeout: STEP_TIMEOUT_MS });
    const t0 = Date.now();
    await page.click('#steer-stop');
    await page.waitForSelector('#steering[data-state="stopped"], #steering[data-state="ready"], #steering[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
    timings.push(['steering: Stop click → stopped', Date.now() - t0]);
    const stats = await page.textContent('#steer-gen-stats');
    const made = Number(/steered (\d+) token/.exec(stats)?.[1]);
    check((await page.getAttribute('#steering', 'data-state')) === 'stopped' && /stopped/.test(stats) && made < 100, `after Stop: ${JSON.stringify(stats)}`);
    check(await page.isEnabled('#steer-run'), 'Steer stays disabled after Stop');
    await page.fill('#steer-max-tokens', '20');
    console.log(`    after Stop: ${stats}`);
  });
}

/** The Features tab: the SAE loads on first use (the default one, or — when dist/ has none —
 *  the tiny test SAE through the URL field), features per token, a feature's dashboard,
 *  feature steering, and clear errors for a corrupt SAE. Returns whether an SAE is loaded. */
async function featureChecks(page) {
  const hasDefault = fs.existsSync(path.join(DIST, DEFAULT_SAE, 'cfg.json'));
  let loaded = false;
  await step(`explorer Features: ${hasDefault ? 'the default SAE' : 'no default SAE in dist/, so the tiny test SAE'} loads on first use; features per token`, async () => {
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
    check(/features on blocks\.12\.hook_resid_pre/.test(saeStatus) && /dashboard: \d/.test(saeStatus), `SAE status ${JSON.stringify(saeStatus)}`);
    const rows = await page.$$eval('#feat-table tbody tr', (rs) => rs.map((r) => ({
      token: r.querySelector('.chip')?.textContent,
      l0: Number(r.cells[2].textContent),
      chips: r.querySelectorAll('.feature-chip').length,
    })));
    check(rows.length === 10 && rows.map((r) => r.token).join('') === visible(PROMPT), `the feature table's tokens ${JSON.stringify(rows.map((r) => r.token))}`);
    check(rows.every((r) => r.l0 >= 0 && r.chips === Math.min(8, r.l0)), `L0 / chips per row ${JSON.stringify(rows.map((r) => [r.l0, r.chips]))}`);
    const summary = await page.textContent('#feat-summary');
    check(/mean L0 \d/.test(summary) && /reconstruction error/.test(summary), `features summary ${JSON.stringify(summary)}`);
    loaded = (await page.getAttribute('#features', 'data-sae')) === 'ready';
    console.log(`    ${saeStatus}\n    ${summary}`);
  });
  if (!loaded) return false;

  await step('API saeFeatures / saeFeatureInfo / saeClamp: sorted features, token effects, a clamp intervention that runs', async () => {
    const r = await page.evaluate(async (prompt) => {
      const t0 = performance.now();
      const f = await window.loupe.saeFeatures({ prompt, topK: 16 });
      const ms = performance.now() - t0;
      const feature = f.top[3][0].feature;
      const info = await window.loupe.saeFeatureInfo({ feature, topK: 10 });
      const clamp = await window.loupe.saeClamp({ feature, value: 0 });
      const bad = await window.loupe.saeFeatureInfo({ feature: 1e6 }).then(() => null, (e) => e.message);
      const ablated = await window.loupe.run({ prompt, topK: 1, interventions: [clamp] });
      return { ms, f, feature, info, clamp: { hook: clamp.hook, type: clamp.op?.type, value: clamp.op?.value }, bad, ablatedTop: ablated.top[0] };
    }, PROMPT);
    timings.push(['API saeFeatures', Math.round(r.ms)]);
    const { f } = r;
    check(f.top.length === 10 && f.l0.length === 10 && f.relativeError.length === 10, 'saeFeatures is not one entry per token');
    check(f.top.every((list, p) => list.length === Math.min(16, f.l0[p]) && list.every((a, i) => a.activation > 0 && (i === 0 || a.activation <= list[i - 1].activation))),
      'saeFeatures lists are not the strongest active features, strongest first');
    check(f.relativeError.every((e) => Number.isFinite(e) && e >= 0), `relativeError ${JSON.stringify(f.relativeError)}`);
    check(r.info.feature === r.feature && r.info.promoted.length === 10 && r.info.suppressed.length === 10 && r.info.decoderNorm > 0, `saeFeatureInfo ${JSON.stringify(r.info).slice(0, 200)}`);
    check(r.clamp.hook === 'blocks.12.hook_resid_pre' && r.clamp.type === 'clamp_feature' && r.clamp.value === 0, `saeClamp gave ${JSON.stringify(r.clamp)}`);
    check(/out of range/.test(r.bad ?? ''), `a feature out of range gave ${JSON.stringify(r.bad)}`);
    check(Number.isFinite(r.ablatedTop?.prob), 'run with the clamp intervention failed');
    console.log(`    feature ${r.feature}: decoder norm ${r.info.decoderNorm.toFixed(3)}, promotes ${r.info.promoted.slice(0, 3).map((t) => JSON.stringify(t.token)).join(' ')}; ablated top ${JSON.stringify(r.ablatedTop.token)}`);
  });

  await step('explorer feature dashboard: click a feature; prompt activations, contexts, histogram, token effects', async () => {
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
    const prompt = await page.$$eval('#feature-prompt .chip', (cs) => cs.map((c) => ({ text: c.textContent, a: Number(c.dataset.activation), bg: c.style.background })));
    check(prompt.map((c) => c.text).join('') === visible(PROMPT) && prompt[3].a > 0 && prompt.every((c) => /rgb/.test(c.bg)), 'the prompt tokens are not shaded by the feature');
    const contexts = await page.$$eval('#feature-contexts li', (ls) => ls.map((l) => ({ text: [...l.querySelectorAll('.ctx-token')].map((c) => c.textContent).join(''), max: l.querySelectorAll('.max-token').length })));
    check(contexts.length > 0 && contexts.every((c) => c.max === 1 && c.text.length > 0), `top contexts ${JSON.stringify(contexts)}`);
    if (!hasDefault) check(contexts[0].text === visible(PROMPT), `the synthetic context decodes to ${JSON.stringify(contexts[0].text)}, expected the default prompt`);
    check((await page.$$eval('#feature-histogram rect', (r) => r.length)) === 16, 'the histogram does not have 16 bins');
    check((await page.$$eval('#feature-promoted tbody tr', (r) => r.length)) === 10, 'promoted tokens missing');
    check((await page.$$eval('#feat-table .feature-chip.selected', (c) => c.length)) >= 1, 'the chosen feature is not marked in the table');
    console.log(`    Feature ${feature}: ${stats}\n    top context: ${contexts[0]?.text}`);
  });

  await step('explorer feature steering: clamped and unsteered continuations, clamp to 0', async () => {
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

  await step('explorer feature → steering: the decoder row becomes the Steering tab\'s direction', async () => {
    await page.click('#feature-to-steer');
    await page.waitForFunction(() => document.querySelector('#steer-source')?.value === 'vector', null, { timeout: STEP_TIMEOUT_MS });
    const vector = JSON.parse(await page.inputValue('#steer-vector'));
    check(Array.isArray(vector) && vector.length === 576 && vector.every(Number.isFinite), `decoder row of ${vector.length} values`);
    check((await page.inputValue('#steer-layers')) === '12', 'the steered layer is not the SAE\'s layer 12');
    check(/decoder row/.test(await page.textContent('#steer-vector-note')), 'the steering tab does not say where the vector came from');
    await page.click('#tab-features');
  });

  await step('a corrupt SAE: clear errors (API and files), the loaded SAE stays; local files load', async () => {
    const message = await page.evaluate(() => window.loupe.loadSae({ url: 'corrupt-sae/' }).then(() => null, (e) => e.message));
    check(/corrupt-sae/.test(message ?? '') && /safetensors/.test(message ?? ''), `a truncated weights file gave ${JSON.stringify(message)}`);
    const cfg = fs.readFileSync(path.join(TINY_SAE, 'cfg.json'));
    const weights = fs.readFileSync(path.join(TINY_SAE, 'sae_weights.safetensors'));
    await page.setInputFiles('#sae-files', [
      { name: 'cfg.json', mimeType: 'application/json', buffer: Buffer.from(cfg.toString().replace('"d_in": 576', '"d_in": 512')) },
      { name: 'sae_weights.safetensors', mimeType: 'application/octet-stream', buffer: weights },
    ]);
    await page.waitForFunction(() => /another model/.test(document.querySelector('[role="alert"]')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT_MS });
    const banner = await bannerText(page);
    check(/d_in = 512/.test(banner), `a cfg.json for another model gave ${JSON.stringify(banner)}`);
    check(/previous SAE stays loaded/.test(await page.textContent('#sae-status')), 'the SAE status does not say the previous SAE stays');
    const still = await page.evaluate((prompt) => window.loupe.saeFeatures({ prompt, topK: 1 }).then((f) => f.l0.length, (e) => e.message), PROMPT);
    check(still === 10, `after the failed loads, saeFeatures gave ${JSON.stringify(still)}`);
    await page.setInputFiles('#sae-files', [path.join(TINY_SAE, 'cfg.json'), path.join(TINY_SAE, 'sae_weights.safetensors')]);
    await page.waitForFunction(() => /from local files/.test(document.querySelector('#sae-status')?.textContent ?? ''), null, { timeout: STEP_TIMEOUT_MS });
    await page.waitForSelector('#features[data-state="ready"]', { timeout: STEP_TIMEOUT_MS });
    const status = await page.textContent('#sae-status');
    check(/^64 features/.test(status) && /no dashboard\.json/.test(status), `local files: ${JSON.stringify(status)}`);
    console.log(`    ${message}\n    ${banner}\n    ${status}`);
  });
  return true;
}

/** Training an SAE in the page on the Features tab's prompts: progress as it trains, the
 *  trained SAE loaded (status line, features per token, a dashboard with contexts from the
 *  prompts, clamping), the same through window.loupe, Stop keeping a usable SAE, clear errors,
 *  and a crash saying the trained SAE is gone. */
async function saeTrainingChecks(page) {
  await page.click('#tab-features');
  await page.waitForSelector('#features[data-sae="ready"], #features[data-sae="error"]', { timeout: STEP_TIMEOUT_MS });
  const prompts = (await page.inputValue('#sae-train-prompts')).split('\n').filter((l) => l.trim());

  await step(`explorer SAE training: ${SAE_TRAIN_STEPS} steps on the prefilled prompts; progress, EV plot, the SAE loaded, features, a dashboard`, async () => {
    check(prompts.length >= 20, `the training prompts are prefilled with ${prompts.length} lines`);
    await page.click('#sae-train > summary');
    await page.fill('#sae-train-steps', String(SAE_TRAIN_STEPS));
    // Every progress report shows in the step count: record what it says.
    await page.evaluate(() => {
      const count = document.querySelector('#sae-train-count');
      window.e2eTrainCounts = [];
      new MutationObserver(() => window.e2eTrainCounts.push(count.textContent)).observe(count, { childList: true, characterData: true, subtree: true });
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
    check(measured.every((n) => counts.includes(`${n} / ${SAE_TRAIN_STEPS} steps`)), `progress reports seen: ${JSON.stringify([...new Set(counts)])}`);
    const points = await page.$$eval('#sae-train-plot circle', (cs) => cs.map((c) => ({ series: c.dataset.series, step: Number(c.dataset.step), value: Number(c.dataset.value) })));
    const ev = points.filter((p) => p.series === 'ev');
    check(ev.map((p) => p.step).join() === measured.join(), `EV plot points at steps ${JSON.stringify(ev.map((p) => p.step))}`);
    check(points.filter((p) => p.series === 'l0').length === ev.length, 'the L0 series does not have a point per EV point');
    check(ev.at(-1)?.value > SAE_TRAIN_MIN_EV, `final explained variance ${ev.at(-1)?.value} (want > ${SAE_TRAIN_MIN_EV})`);
    check(new RegExp(`^Trained ${SAE_TRAIN_STEPS} steps on \\d+ tokens of ${prompts.length} prompts`).test(summary) && /top contexts from your \d+ prompts/.test(summary), `training summary ${JSON.stringify(summary)}`);
    const saeStatus = await page.textContent('#sae-status');
    check(/trained in the page on \d+ tokens of your prompts \(d_sae 256, EV [\d.]+%, L0 [\d.]+\)/.test(saeStatus), `SAE status after training ${JSON.stringify(saeStatus)}`);
    // The page prompt, read with the trained SAE.
    const rows = await page.$$eval('#feat-table tbody tr', (rs) => rs.map((r) => ({ token: r.querySelector('.chip')?.textContent, l0: Number(r.cells[2].textContent), chips: r.querySelectorAll('.feature-chip').length })));
    check(rows.length === 10 && rows.map((r) => r.token).join('') === visible(PROMPT) && rows.slice(1).every((r) => r.l0 > 0 && r.chips > 0), `features per token after training ${JSON.stringify(rows)}`);
    check(/blocks\.12\.hook_resid_pre · mean L0/.test(await page.textContent('#feat-summary')), 'the features summary does not describe the trained SAE');
    // A feature's dashboard: statistics and contexts from the training prompts.
    const chip = page.locator('#feat-table tbody tr[data-position="3"] .feature-chip').first();
    const feature = Number(await chip.getAttribute('data-feature'));
    const t1 = Date.now();
    await chip.click();
    await page.waitForSelector(`#feature-dash[data-feature="${feature}"]`, { timeout: STEP_TIMEOUT_MS });
    await page.waitForSelector('#feature-clamp-run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
    timings.push(['explorer trained-SAE feature dashboard', Date.now() - t1]);
    const stats = await page.textContent('#feature-stats');
    check(/no corpus dashboard: trained on your prompts/.test(stats) && /fires on [\d.e+-]+% of \d+ tokens of your prompts/.test(stats), `trained dashboard stats ${JSON.stringify(stats)}`);
    const contexts = await page.$$eval('#feature-contexts li', (ls) => ls.map((l) => ({ text: [...l.querySelectorAll('.ctx-token')].map((c) => c.textContent).join(''), max: l.querySelectorAll('.max-token').length })));
    const spelled = prompts.map((p) => visible(p));
    check(contexts.length > 0 && contexts.length <= 5 && contexts.every((c) => c.max === 1 && spelled.some((p) => p.includes(c.text))), `contexts are not windows of the training prompts: ${JSON.stringify(contexts)}`);
    check(/over your prompts/.test(await page.textContent('#feature-dash .histogram-figure figcaption')), 'the histogram is not described as over the prompts');
    await shoot(page, 'sae-training.png');
    const ms = await clampRun(page, '#feature-clamp-run');
    timings.push(['explorer trained-SAE feature clamp, 2 × 20 tokens', ms]);
    check(/^feature \d+ clamped to \d/.test(await page.textContent('#feature-clamp-summary')), 'clamping a trained feature did not finish');
    console.log(`    ${summary}\n    ${saeStatus}\n    Feature ${feature}: ${stats}\n    top context: ${contexts[0]?.text}`);
  });

  await step('API trainSae: a progress report every 20 steps, the SAE loaded, clear errors that keep it', async () => {
    const r = await page.evaluate(async (prompts) => {
      const reports = [];
      const t0 = performance.now();
      const result = await window.loupe.trainSae({ prompts, steps: 60 }, { onProgress: (p) => void reports.push({ step: p.step, steps: p.steps, points: p.history.length, tokens: p.tokens }) });
      const ms = performance.now() - t0;
      const tooSmall = await window.loupe.trainSae({ prompts: ['Hello there', 'OK'] }).then(() => null, (e) => e.message);
      const badHook = await window.loupe.trainSae({ prompts, hook: 'blocks.99.hook_resid_pre' }).then(() => null, (e) => e.message);
      const badSize = await window.loupe.trainSae({ prompts, dSae: 4 }).then(() => null, (e) => e.message);
      const f = await window.loupe.saeFeatures({ prompt: prompts[0], topK: 4 });
      return { ms, reports, cfg: result.cfg, progress: result.progress, stopped: result.stopped, tooSmall, badHook, badSize, l0: f.l0 };
    }, prompts);
    timings.push(['API trainSae, 60 steps (22 prompts)', Math.round(r.ms)]);
    check(JSON.stringify(r.reports.map((p) => [p.step, p.steps, p.points])) === '[[20,60,1],[40,60,2],[60,60,3]]', `onProgress reports ${JSON.stringify(r.reports)}`);
    check(r.stopped === false && r.progress.finished && r.progress.history.length === 3 && r.progress.tokens === r.reports[0].tokens, `result ${JSON.stringify({ stopped: r.stopped, progress: r.progress })}`);
    check(r.cfg.d_sae === 256 && r.cfg.d_in === 576 && r.cfg.hook_name === 'blocks.12.hook_resid_pre', `cfg ${JSON.stringify(r.cfg)}`);
    check(/only \d+ training tokens?/.test(r.tooSmall ?? '') && /16/.test(r.tooSmall ?? ''), `too few tokens gave ${JSON.stringify(r.tooSmall)}`);
    check(/blocks\.99\.hook_resid_pre/.test(r.badHook ?? ''), `a bad hook gave ${JSON.stringify(r.badHook)}`);
    check(/d_sae/.test(r.badSize ?? ''), `dSae 4 gave ${JSON.stringify(r.badSize)}`);
    check(r.l0.length > 1 && r.l0.slice(1).every((n) => n > 0), `after the rejected requests saeFeatures gave L0 ${JSON.stringify(r.l0)}`);
    console.log(`    ${r.tooSmall}\n    ${r.badHook}\n    ${r.badSize}`);
  });

  await step(`explorer SAE training: Stop ends a ${SAE_TRAIN_LONG_STEPS}-step run; the partly trained SAE is loaded and usable`, async () => {
    await page.fill('#sae-train-steps', String(SAE_TRAIN_LONG_STEPS));
    await page.waitForSelector('#sae-train-run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
    await page.click('#sae-train-run');
    await page.waitForFunction(() => document.querySelector('#sae-train-progress').value >= 40, null, { timeout: STEP_TIMEOUT_MS });
    const t0 = Date.now();
    await page.click('#sae-train-stop');
    await page.waitForFunction(() => /^Stopped at step/.test(document.querySelector('#sae-train-summary').textContent), null, { timeout: 30_000 });
    timings.push(['SAE training: Stop click → stopped', Date.now() - t0]);
    await page.waitForSelector('#sae-train[data-state="stopped"], #sae-train[data-state="ready"], #sae-train[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
    const summary = await page.textContent('#sae-train-summary');
    check((await page.getAttribute('#sae-train', 'data-state')) === 'stopped', `after Stop the training is ${await page.getAttribute('#sae-train', 'data-state')}: ${summary}`);
    const stoppedAt = Number(new RegExp(`^Stopped at step (\\d+) of ${SAE_TRAIN_LONG_STEPS}`).exec(summary)?.[1]);
    check(stoppedAt >= 40 && stoppedAt < SAE_TRAIN_LONG_STEPS / 2, `Stop let the training run to step ${stoppedAt}: ${JSON.stringify(summary)}`);
    const saeStatus = await page.textContent('#sae-status');
    check(/trained in the page/.test(saeStatus) && new RegExp(`stopped at step ${stoppedAt} of ${SAE_TRAIN_LONG_STEPS}`).test(saeStatus), `SAE status after Stop ${JSON.stringify(saeStatus)}`);
    check((await page.getAttribute('#features', 'data-state')) === 'ready' && (await page.$$eval('#feat-table tbody tr', (rs) => rs.length)) === 10, 'the page prompt was not read with the stopped SAE');
    const l0 = await page.evaluate((prompt) => window.loupe.saeFeatures({ prompt, topK: 4 }).then((f) => f.l0, (e) => e.message), PROMPT);
    check(Array.isArray(l0) && l0.length === 10, `saeFeatures with the stopped SAE gave ${JSON.stringify(l0)}`);
    console.log(`    ${summary}`);
  });

  await step('explorer SAE training: too few tokens is a clear error in the view; the trained SAE stays', async () => {
    await page.fill('#sae-train-prompts', 'Hello there\nOK');
    await page.fill('#sae-train-steps', String(SAE_TRAIN_STEPS));
    await page.waitForSelector('#sae-train-run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
    await page.click('#sae-train-run');
    await page.waitForSelector('#sae-train[data-state="error"], #sae-train[data-state="ready"]', { timeout: STEP_TIMEOUT_MS });
    const summary = await page.textContent('#sae-train-summary');
    check((await page.getAttribute('#sae-train', 'data-state')) === 'error' && /^Failed: only \d+ training tokens?/.test(summary), `too few tokens: ${JSON.stringify(summary)}`);
    check(/only \d+ training tokens?/.test(await bannerText(page)), 'the banner does not carry the error');
    check(/trained in the page/.test(await page.textContent('#sae-status')), 'a failed training replaced the trained SAE in the status line');
    await page.fill('#sae-train-prompts', prompts.join('\n'));
    console.log(`    ${summary}`);
  });

  await step('a crash loses the trained SAE: the Features tab says so, and the API has no SAE', async () => {
    const message = await page.evaluate(() => window.loupe.debugPanic('e2e: panic with a trained SAE').then(() => null, (e) => e.message));
    check(/panic with a trained SAE/.test(message ?? ''), `debugPanic gave ${JSON.stringify(message)}`);
    await page.waitForSelector('#run:not([disabled])', { timeout: STEP_TIMEOUT_MS });
    const saeStatus = await page.textContent('#sae-status');
    check(/trained in the page was lost when the model restarted/.test(saeStatus) && /train it again/.test(saeStatus), `SAE status after the crash ${JSON.stringify(saeStatus)}`);
    check((await page.getAttribute('#features', 'data-sae')) === 'none' && (await page.getAttribute('#sae-train', 'data-state')) === 'lost', 'the Features tab still acts as if an SAE were loaded');
    check(await page.isDisabled('#feat-run'), '“Show features” is enabled without an SAE');
    check(await page.isHidden('#feat-table') && await page.isHidden('#feature-dash'), 'results of the lost SAE are still on show');
    const r = await page.evaluate((prompt) => window.loupe.saeFeatures({ prompt }).then(() => null, (e) => e.message), PROMPT);
    check(/no sparse autoencoder is loaded/.test(r ?? ''), `saeFeatures after the crash gave ${JSON.stringify(r)}`);
    console.log(`    ${saeStatus}`);
  });
}

/** Clicks a feature-steering button and waits for both continuations; returns the duration. */
async function clampRun(page, button) {
  await page.waitForSelector(`${button}:not([disabled])`, { timeout: STEP_TIMEOUT_MS });
  const t0 = Date.now();
  await page.click(button);
  await page.waitForSelector('#feature-dash[data-state="ready"], #feature-dash[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
  if ((await page.getAttribute('#feature-dash', 'data-state')) !== 'ready') throw new Error(`feature steering failed: ${await page.textContent('#feature-clamp-summary')}`);
  return Date.now() - t0;
}

async function probeChecks(page, { nLayers }) {
  await step('explorer Probes: train on every layer, 30 + 30 accuracy points, use a probe as the steering direction', async () => {
    await page.click('#tab-probes');
    const ms = await uiAnalysis(page, 'probes', '#probe-run');
    timings.push(['explorer probes (16 prompts, 30 layers)', ms]);
    const points = await page.$$eval('#probe-plot circle', (cs) => cs.map((c) => ({ series: c.dataset.series, layer: Number(c.dataset.layer), value: Number(c.dataset.value) })));
    for (const series of ['train', 'held-out']) {
      const of = points.filter((p) => p.series === series);
      check(of.length === nLayers && of.every((p, i) => p.layer === i && p.value >= 0 && p.value <= 1), `${series}: ${of.length} points, expected ${nLayers} in [0, 1]`);
    }
    const summary = await page.textContent('#probe-summary');
    check(/12 training prompts, 4 held out/.test(summary) && /noisy/.test(summary), `probe summary ${JSON.stringify(summary)}`);
    await shoot(page, 'probes.png');
    await page.locator('#probe-plot rect.plot-hit[data-layer="12"]').click();
    check((await page.inputValue('#probe-layer')) === '12', 'clicking layer 12 did not pick its probe');
    check(/^layer 12: train \d+%, held-out \d+%/.test(await page.textContent('#probe-readout')), 'the readout does not describe layer 12');
    await page.click('#probe-use');
    check((await page.getAttribute('#tab-steering', 'aria-selected')) === 'true', 'the Steering tab is not on show');
    check((await page.inputValue('#steer-source')) === 'vector' && (await page.inputValue('#steer-layers')) === '12', 'the steering source is not the probe at layer 12');
    const vector = JSON.parse(await page.inputValue('#steer-vector'));
    check(Array.isArray(vector) && vector.length === 576 && vector.every(Number.isFinite), `the pasted vector has ${vector?.length} values`);
    check(/layer-12 probe/.test(await page.textContent('#steer-vector-note')), 'the steering tab does not say where the vector came from');
    console.log(`    ${summary}`);
  });
}

/** A dashboard.json for the tiny test SAE, in the format scripts/train_sae.py writes, with
 *  made-up statistics; each feature's top context is the default prompt's tokens. */
function tinyDashboard() {
  const features = Array.from({ length: 64 }, (_, j) => {
    const mx = 50 + j;
    const acts = PROMPT_IDS.map((_, i) => Number(((mx * (i + 1)) / PROMPT_IDS.length).toFixed(2)));
    return {
      fr: 0.01,
      mx,
      he: Array.from({ length: 17 }, (_, k) => (mx * k) / 16),
      hc: Array.from({ length: 16 }, (_, k) => 1000 >> Math.min(10, k)),
      top: [[PROMPT_IDS, acts, PROMPT_IDS.length - 1], [PROMPT_IDS.slice(2), acts.slice(2).map((a) => a / 2), 7]],
    };
  });
  return { format: 'e2e: synthetic statistics for the tiny test SAE', hook_name: 'blocks.12.hook_resid_pre', d_sae: 64, n_tokens: 1000, context_size: 128, features };
}

/** The four wasm builds (scripts/build-variants.sh), as the worker picks them: relaxed SIMD
 *  where Chromium validates it, threads on a cross-origin isolated page, the plain simd128
 *  builds where the relaxed ones cannot load. All must give the same numbers (same
 *  algorithms; fused multiply-adds round once instead of twice, work split by rows). */
async function wasmBuilds(context, { server, isolated, plain, plainIsolated }) {
  await step('wasm builds: relaxed SIMD and threads where available, plain fallback; same top-5 and greedy tokens', async () => {
    const probe = async (url) => {
      const page = await context.newPage();
      watchConsole(page);
      await page.goto(url);
      const out = await page.evaluate(async () => {
        const info = await window.loupe.ready;
        // 41 tokens: enough rows that the threaded build splits every matrix product.
        const run = await window.loupe.run({
          prompt: 'In 1889 the engineer Gustave Eiffel finished a tower of iron for the World Fair. Today millions of tourists visit it every year. The Eiffel Tower is located in the city of',
          topK: 5,
        });
        const tokens = [];
        await window.loupe.generate({ prompt: 'The Eiffel Tower is located in the city of', maxTokens: 5, temperature: 0, stopAtEos: false }, (t) => {
          tokens.push(t.id);
        });
        const status = document.getElementById('status')?.textContent ?? '';
        return { threads: info.threads, simd: info.simd, isolated: self.crossOriginIsolated, top: run.top, tokens: JSON.stringify(tokens), status };
      });
      await page.close();
      return out;
    };
    const cores = await context.pages()[0]?.evaluate(() => navigator.hardwareConcurrency).catch(() => 2);
    const pool = Math.min(cores ?? 2, 8);
    const builds = [
      { name: 'relaxed, 1 thread', url: server.url, threads: 1, simd: 'relaxed', isolated: false },
      { name: 'relaxed, threads', url: isolated.url, threads: pool, simd: 'relaxed', isolated: true },
      { name: 'plain, 1 thread', url: plain.url, threads: 1, simd: 'simd128', isolated: false },
      { name: 'plain, threads', url: plainIsolated.url, threads: pool, simd: 'simd128', isolated: true },
    ];
    const results = [];
    for (const b of builds) {
      const got = await probe(b.url);
      results.push(got);
      check(got.isolated === b.isolated && got.threads === b.threads && got.simd === b.simd,
        `${b.name}: got ${JSON.stringify({ threads: got.threads, simd: got.simd, isolated: got.isolated })}`);
      const said = b.threads === 1 ? '1 thread' : `${b.threads} threads`;
      check(got.status.includes(`${said}, ${b.simd === 'relaxed' ? 'relaxed SIMD' : 'SIMD128'}`), `${b.name}: the status line does not say which build runs: ${got.status}`);
      check(got.top[0]?.token === ' Paris', `${b.name}: top[0] ${JSON.stringify(got.top[0])}`);
    }
    const [first] = results;
    const worst = Math.max(...results.flatMap((r) => first.top.map((t, i) => Math.abs(t.prob - (r.top[i]?.prob ?? -1)))));
    check(worst < 1e-4, `top-5 probabilities differ between builds by ${worst}`);
    for (const [i, r] of results.entries()) check(r.tokens === first.tokens, `greedy tokens differ: ${builds[i].name} ${r.tokens} vs ${first.tokens}`);
    console.log(`    ${builds.map((b) => b.name).join(' / ')}: top-5 probabilities within ${worst.toExponential(1)} of each other`);
  });
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

  await step('?sae=tiny-sae/: fetched only once the Features tab is opened, then loaded; a bad ?sae= is reported', async () => {
    const page = await context.newPage();
    const fetched = () => server.requests.filter((r) => r.path.includes('/tiny-sae/')).length;
    const start = fetched(); // the main page's Features checks fetched it too
    await page.goto(`${server.url}?sae=tiny-sae/`);
    await page.evaluate(() => window.loupe.ready);
    const before = fetched() - start;
    await page.click('#tab-features');
    await page.waitForSelector('#features[data-state="ready"], #features[data-sae="error"]', { timeout: STEP_TIMEOUT_MS });
    const status = await page.textContent('#sae-status');
    check(before === 0 && fetched() - start > 0, `SAE requests before / after opening the tab: ${before} / ${fetched() - start}`);
    check(/from tiny-sae\//.test(status), `?sae=tiny-sae/ gave ${JSON.stringify(status)}`);
    await page.goto(`${server.url}?sae=ftp://example.com/sae/`);
    const banner = await bannerText(page);
    check(/\?sae=/.test(banner), `a bad ?sae= gave the banner ${JSON.stringify(banner)}`);
    await page.close();
  });

  await step('?weights=f64: reported, defaults used, page usable', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}?weights=f64`);
    const banner = await bannerText(page);
    check(/weights/.test(banner), `banner ${JSON.stringify(banner)} does not mention the bad weights value`);
    const info = await page.evaluate(() => window.loupe.ready);
    check(info?.weights === 'quantized', `fell back to weights ${JSON.stringify(info?.weights)}, expected the default 'quantized'`);
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
      { cause: error },
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

/** Clicks an analysis's button and waits for its view to finish; returns the duration. */
async function uiAnalysis(page, view, button) {
  await page.waitForSelector(`${button}:not([disabled])`, { timeout: STEP_TIMEOUT_MS });
  const t0 = Date.now();
  await page.click(button);
  await page.waitForSelector(`#${view}[data-state="ready"], #${view}[data-state="error"]`, { timeout: STEP_TIMEOUT_MS });
  const ms = Date.now() - t0;
  const state = await page.getAttribute(`#${view}`, 'data-state');
  if (state !== 'ready') throw new Error(`${view} ended in '${state}': ${await bannerText(page)}`);
  return ms;
}

/** The grid geometry an analysis heatmap publishes on its canvas. */
async function gridOf(page, selector) {
  const g = await page.$eval(selector, (c) => ({ ...c.dataset }));
  return Object.fromEntries(Object.entries(g).map(([k, v]) => [k, Number(v)]));
}

/** Hovers (or clicks) cell (row, col) of an analysis heatmap; returns the readout text. */
async function hoverGrid(page, selector, row, col, readout, { click = false } = {}) {
  const g = await gridOf(page, selector);
  const position = { x: g.left + (col + 0.5) * g.cellWidth, y: g.top + (row + 0.5) * g.cellHeight };
  const canvas = await page.$(selector);
  await canvas.scrollIntoViewIfNeeded();
  await (click ? canvas.click({ position }) : canvas.hover({ position }));
  return (await page.textContent(readout)).trim();
}

/** Screenshots the analyses panel (the tab on show) into tests/artifacts/, after `pose`
 *  (e.g. hovering a cell) once the panel is in view, so the screenshot keeps the hover. */
async function shoot(page, name, pose = async () => {}) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  const panel = page.locator('.analyses-panel');
  await panel.scrollIntoViewIfNeeded();
  await pose();
  await panel.screenshot({ path: file });
  console.log(`    wrote ${file}`);
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
