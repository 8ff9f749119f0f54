// Shared by every spec: the constants and tolerances of the end-to-end test, the static servers
// and the browser (worker-scoped fixtures: one set per worker, and the config runs one worker),
// the main page, and the helpers that drive it.
//
// The spec files run in their numbered order on ONE page of the explorer (`app.page`), as the
// checks did in the single script they came from: later views build on the state earlier ones
// leave (the IOI example's form values, the loaded SAE, the model in the Cache API). A spec
// that finds the page not yet loaded (a fresh worker after a failure) loads it first.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test as base, expect, chromium } from '@playwright/test';
import { serveStatic } from '../server.mjs';

export { expect };

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const E2E_DIR = path.resolve(HERE, '..');
/** The built site: $LOUPE_DIST (relative to the working directory), else the repository's dist/. */
export const DIST = process.env.LOUPE_DIST ? path.resolve(process.env.LOUPE_DIST) : path.resolve(E2E_DIR, '..', '..', 'dist');
export const ARTIFACTS = path.resolve(E2E_DIR, '..', 'artifacts');
export const FIXTURES = path.resolve(E2E_DIR, '..', 'fixtures');
export const MODEL_FILE = 'models/SmolLM2-135M-Instruct.Q4_1.gguf';
export const PROMPT = 'The Eiffel Tower is located in the city of';
export const READY_TIMEOUT_MS = 5 * 60_000;
export const STEP_TIMEOUT_MS = 3 * 60_000;
export const VIEWPORT = { width: 1440, height: 1100 };
/** Same bound as the native quantized-mode parity test (crates/model/tests/reference.rs). */
export const QUANTIZED_LOGPROB_BOUND = 0.5;
export const PREFIX = '/loupe/'; // served under a sub-path: every URL in the site must be relative
/** Indirect object identification (Wang et al. 2022), as the page's IOI example button has it. */
export const IOI = {
  clean: 'When Mary and John went to the store, John gave a drink to',
  corrupted: 'When Mary and John went to the store, Mary gave a drink to',
  token: ' Mary',
  minus: ' John',
};
/** The head with the largest direct effect on logit(" Mary") − logit(" John") in the IOI
 *  prompt: a name mover (tests/fixtures, crates/interp tests). */
export const IOI_TOP_HEAD = [23, 3];
/** DLA parts must add up to the decomposed logit difference within this (the 1e-3)… */
export const DLA_SUM_TOLERANCE = 1e-3;
/** …which may differ from the model's own logits where a quantized unembedding rounds its
 *  input to 8 bits: prompts under 8 tokens, or q8 before 2026-11-25 (0.045 on IOI). */
export const DLA_MODEL_TOLERANCE = 0.1;
/** Patching one head's output must restore at least this much of the IOI logit difference
 *  for some head (name movers restore about half of it). */
export const PATCH_HEAD_MIN = 0.3;
/** The default prompt's minimal-pair partner, as the page's Minimal pair tab has it. */
export const PAIR_B = 'The Colosseum is located in the city of';
/** Zero-ablating the name mover must cut the IOI logit difference by more than this. */
export const ABLATE_HEAD_MIN_DROP = 1;
/** Attribution runs on the f32 model: its log p(" Paris") must match HF transformers (f32)
 *  this closely (the native gradient tests' parity bound). */
export const F32_LOGPROB_BOUND = 1e-3;
/** Integrated Gradients in the e2e test: few steps (each is a forward + backward pass), from
 *  the end-of-text token's embedding. */
export const IG_E2E = { steps: 8, baseline: { type: 'token', token: '<|endoftext|>' } };
/** Attribution patching must agree with real head patching on the IOI prompt at least this
 *  well (Pearson r over heads × layers; measured 0.97). */
export const ATTRIBUTION_PATCHING_MIN_R = 0.8;
/** The Steering tab's sentiment example (www/views/steering.js) and the prompt it shows best on. */
export const SENTIMENT = {
  positive: ['I love this movie, it is wonderful', 'What a fantastic and happy day', 'This is the best meal I have ever had'],
  negative: ['I hate this movie, it is terrible', 'What an awful and sad day', 'This is the worst meal I have ever had'],
};
export const FILM = 'I went to see the film last night and I thought it was';
/** The SAE trained for the default model, if the build has it (scripts/train_sae.py). */
export const DEFAULT_SAE = 'saes/smollm2-135m-instruct-l12-resid/';
/** The tiny SAE of the native tests (d_sae 64, blocks.12.hook_resid_pre), served by the test
 *  when dist/ has no default SAE, with a synthetic dashboard whose contexts are the default
 *  prompt's token ids. */
export const TINY_SAE = path.join(FIXTURES, 'tiny_sae');
export const PROMPT_IDS = [504, 414, 46682, 18669, 314, 3807, 281, 260, 2240, 282];
/** SAE training in the page: the short run's steps (a measured point every 20), the explained
 *  variance it must reach on the Features tab's prompts (measured: about 0.9), and the long run
 *  that Stop ends. */
export const SAE_TRAIN_STEPS = 100;
export const SAE_TRAIN_MIN_EV = 0.5;
export const SAE_TRAIN_LONG_STEPS = 2000;

/** The HF transformers reference numbers (tests/fixtures/reference.json). */
export function reference() {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, 'reference.json'), 'utf8'));
}

// -----------------------------------------------------------------------------------------
// fixtures

/**
 * `app` (worker-scoped): the four static servers of the site, one persistent Chromium profile
 * (so the Cache API outlives pages and reloads), the main page (blank until the first spec
 * loads it), the failures that the network and page watchers record, and the timings.
 * An automatic per-test fixture fails a test in which such a failure was recorded.
 */
export const test = base.extend({
  app: [
    async ({ launchOptions }, use) => {
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
      const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-'));
      console.log(`serving ${DIST} at ${server.url}\nchromium ${launchOptions.executablePath}, profile ${userDataDir}`);
      const context = await chromium.launchPersistentContext(userDataDir, { ...launchOptions, viewport: VIEWPORT });
      const failures = [];
      const timings = [];
      // Zero network besides the site itself: any other request is a failure.
      const origins = [server, isolated, plain, plainIsolated].map((s) => new URL(s.url).origin);
      context.on('request', (request) => {
        const url = request.url();
        if (!origins.some((o) => url.startsWith(o)) && !url.startsWith('data:') && !url.startsWith('blob:')) {
          failures.push(`unexpected network request to ${url}`);
        }
      });
      const page = await context.newPage();
      const log = watchConsole(page, failures);
      const app = { server, isolated, plain, plainIsolated, context, page, log, failures, timings, state: {} };
      try {
        await use(app);
      } finally {
        const errors = log.errors();
        if (errors.length) console.log(`    console errors on the main page (informational):\n      ${errors.join('\n      ')}`);
        printTimings(timings);
        await context.close().catch(() => {});
        await server.close();
        await isolated.close();
        await plain.close();
        await plainIsolated.close();
        fs.rmSync(userDataDir, { recursive: true, force: true });
      }
    },
    { scope: 'worker', timeout: 120_000 },
  ],
  watchFailures: [
    async ({ app }, use) => {
      currentTimings = app.timings;
      await use();
      const recorded = app.failures.splice(0);
      expect(recorded, 'failures recorded by the page and network watchers').toEqual([]);
    },
    { auto: true },
  ],
});

let currentTimings = [];

/** The old script's `timings.push([what, ms])`: a test annotation, a console line, and a row
 *  of the table printed when the worker ends. */
export const timings = {
  push([what, ms]) {
    currentTimings.push([what, ms]);
    test.info().annotations.push({ type: 'timing', description: `${what}: ${ms}` });
    console.log(`    ⏱ ${what}: ${ms}`);
  },
};

/** The main page, loaded (and the model ready) if no earlier spec loaded it in this worker. */
export async function mainPage(app) {
  if (!app.page.url().startsWith(app.server.url)) {
    await app.page.goto(app.server.url);
    await awaitReady(app.page, app.log);
  }
  return app.page;
}

/**
 * What most spec files start with: their tests run in order on the shared explorer page, and
 * `use` receives {page, nLayers, nHeads} before the first one, e.g.
 * `onMainPage((main) => ({ page, nLayers } = main));`.
 * @param {(main: {page: import('@playwright/test').Page, nLayers: number, nHeads: number}) => void} use
 */
export function onMainPage(use) {
  test.describe.configure({ mode: 'serial' });
  test.beforeAll(async ({ app }) => {
    const page = await mainPage(app);
    use({ page, ...(await modelShape(page)) });
  });
}

/** The model's layer and head counts, as window.loupe.ready reports them. */
export async function modelShape(page) {
  const info = await page.evaluate(() => window.loupe.ready);
  return { nLayers: info.config.n_layers, nHeads: info.config.n_heads };
}

// -----------------------------------------------------------------------------------------
// helpers

/** The Features tab's per-token table: each row's token text, L0 and feature chips shown. */
export function featureRows(page) {
  return page.$$eval('#feat-table tbody tr', (rs) =>
    rs.map((r) => ({
      token: r.querySelector('.chip')?.textContent,
      l0: Number(r.cells[2].textContent),
      chips: r.querySelectorAll('.feature-chip').length,
    })),
  );
}

/** A check that records its failure and lets the test go on, as the old script's did. */
export function check(condition, message) {
  expect.soft(Boolean(condition), message).toBe(true);
}

export async function awaitReady(page, log) {
  const ticker = setInterval(async () => {
    const status = await page.textContent('#status').catch(() => '?');
    console.log(`    … ${status.replace(/\s+/g, ' ').trim()}`);
  }, 15_000);
  try {
    return await withTimeout(
      page.evaluate(() => window.loupe.ready),
      READY_TIMEOUT_MS,
      'window.loupe.ready',
    );
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
export async function uiRun(page, prompt, { expect = 'done' } = {}) {
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
  if (state !== expect)
    throw new Error(`run of ${JSON.stringify(prompt)} ended in '${state}', expected '${expect}': ${await bannerText(page)}`);
  await page.waitForSelector('#run:not([disabled])');
  return ms;
}

/** Clicks an analysis's button and waits for its view to finish; returns the duration. */
export async function uiAnalysis(page, view, button) {
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
export async function gridOf(page, selector) {
  const g = await page.$eval(selector, (c) => ({ ...c.dataset }));
  return Object.fromEntries(Object.entries(g).map(([k, v]) => [k, Number(v)]));
}

/** Hovers (or clicks) cell (row, col) of an analysis heatmap; returns the readout text. */
export async function hoverGrid(page, selector, row, col, readout, { click = false } = {}) {
  const g = await gridOf(page, selector);
  const position = { x: g.left + (col + 0.5) * g.cellWidth, y: g.top + (row + 0.5) * g.cellHeight };
  const canvas = await page.$(selector);
  await canvas.scrollIntoViewIfNeeded();
  await (click ? canvas.click({ position }) : canvas.hover({ position }));
  return (await page.textContent(readout)).trim();
}

/** Screenshots the analyses panel (the tab on show) into tests/artifacts/, after `pose`
 *  (e.g. hovering a cell) once the panel is in view, so the screenshot keeps the hover. */
export async function shoot(page, name, pose = async () => {}) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  const panel = page.locator('.analyses-panel');
  await panel.scrollIntoViewIfNeeded();
  await pose();
  await panel.screenshot({ path: file });
  console.log(`    wrote ${file}`);
}

/** Hovers heatmap cell (q, k) ('last' = last query) and returns the readout text. */
export async function hoverCell(page, q, k) {
  const canvas = await page.$('#attention canvas.heatmap');
  const g = await canvas.evaluate((c) => ({ ...c.dataset }));
  const [left, top, cell, n] = [g.left, g.top, g.cell, g.n].map(Number);
  const row = q === 'last' ? n - 1 : q;
  await canvas.hover({ position: { x: left + (k + 0.5) * cell, y: top + (row + 0.5) * cell } });
  return (await page.textContent('#attention .readout')).trim();
}

/** Clicks a feature-steering button and waits for both continuations; returns the duration. */
export async function clampRun(page, button) {
  await page.waitForSelector(`${button}:not([disabled])`, { timeout: STEP_TIMEOUT_MS });
  const t0 = Date.now();
  await page.click(button);
  await page.waitForSelector('#feature-dash[data-state="ready"], #feature-dash[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
  if ((await page.getAttribute('#feature-dash', 'data-state')) !== 'ready')
    throw new Error(`feature steering failed: ${await page.textContent('#feature-clamp-summary')}`);
  return Date.now() - t0;
}

export async function bannerText(page) {
  const banner = await page.$('[role="alert"]');
  if (!banner || !(await banner.isVisible())) return '';
  return (await banner.textContent()).trim();
}

/** Records the page's console errors; an uncaught exception or a crash is a failure. */
export function watchConsole(page, failures) {
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

export function visible(text) {
  return text.replaceAll(' ', '·').replaceAll('\n', '↵').replaceAll('\t', '→');
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function printTimings(rows) {
  if (!rows.length) return;
  console.log('\ntimings (ms):');
  for (const [what, ms] of rows) console.log(`  ${what.padEnd(44)} ${ms}`);
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
      top: [
        [PROMPT_IDS, acts, PROMPT_IDS.length - 1],
        [PROMPT_IDS.slice(2), acts.slice(2).map((a) => a / 2), 7],
      ],
    };
  });
  return {
    format: 'e2e: synthetic statistics for the tiny test SAE',
    hook_name: 'blocks.12.hook_resid_pre',
    d_sae: 64,
    n_tokens: 1000,
    context_size: 128,
    features,
  };
}
