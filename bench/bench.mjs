#!/usr/bin/env node
// Side-by-side benchmark, one invocation: our wasm in headless Chromium (each weight mode in
// a fresh page, so its wasm memory is its own peak) and our native CLI (`loupe bench`), on
// the same machine, same prompt, same model; prints a markdown table with the ratios.
//
//   node bench/bench.mjs [--reps 5] [--gen 32] [--modes quantized,q8,f32] [--attribution] [--native-threads 1]
// --attribution adds IG (32 steps) and SmoothGrad (16 samples) on a 20-token prompt, native
// (its own process, so its peak memory is its own) and in a fresh page (the page's quantized model + the f32
// gradient model, as the explorer runs it); --steering adds steered vs unsteered decode speed
// and the SAE's encode cost (--sae DIR, default the shipped SAE); --ceiling adds two
// single-thread decoders generating at once in two Workers against one alone (the most two
// threads can give decoding on this machine); --gen-context N decodes after a prompt of
// about N tokens (the wasm rows; native keeps its short one); --modes '' skips the
// forward/generation table; --threads adds each mode again with the threaded build on a
// cross-origin isolated page (one thread per core); --simd LIST picks the wasm builds
// (scripts/build-variants.sh): auto (default: relaxed SIMD where Chromium validates it, as the
// explorer's worker picks), relaxed, simd128, or several ("relaxed,simd128": every wasm run
// once per build, side by side; the first is the one compared with the references).
// --onnx [PATH[,PATH]], --stock and --torch add the references of issue 3 (onnxruntime-web on
// f32 ONNX exports, all positions' logits and the last one's, 1 and 2 threads; stock candle
// quantized_llama, native and wasm; PyTorch natively, 1 and 2 threads, when the Python
// reference environment is present): bench/references.mjs.
// --dist DIR measures another site build (default dist/; ours in the references too), e.g.
// another commit's. --busy N
// keeps N other processes busy (a spinning loop each) while the wasm pages run: the machine
// of a reader with other work on it (a busy tab, a build); 1 on this 2-core machine leaves
// one core to the page, which is what the threaded build's team must cope with.
// (scripts/bench.sh builds what it needs first.) Results go into docs/BENCHMARKS.md.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { serveStatic } from '../tests/e2e/server.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../tests/e2e/chromium.mjs';
import { referenceOptions, runReferences, referenceTable } from './references.mjs';

const require = createRequire(path.join(path.dirname(fileURLToPath(import.meta.url)), '../tests/e2e/package.json'));
const { chromium } = require('playwright-core');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const MODEL = 'models/SmolLM2-135M-Instruct.Q4_1.gguf';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const reps = Number(arg('reps', 5));
const gen = Number(arg('gen', 32));
const modes = arg('modes', 'quantized,q8,f32').split(',').filter(Boolean);
const attribution = process.argv.includes('--attribution');
const threadsAsked = process.argv.includes('--threads');
const steering = process.argv.includes('--steering');
const ceiling = process.argv.includes('--ceiling');
// --gen-context N: decode after a prompt of about N tokens instead of a 10-token one.
const genContext = Number(arg('gen-context', 0));
const saeDir = arg('sae', 'saes/smollm2-135m-instruct-l12-resid/');
const simds = arg('simd', 'auto').split(',').filter(Boolean);
const busy = Number(arg('busy', 0));
const DIST = path.resolve(ROOT, arg('dist', 'dist'));

// Native threads: 1 by default, the like-for-like comparison with single-threaded wasm (and
// candle's spinning thread pool is slower, not faster, on this 2-vCPU machine whenever the
// other core is busy). --native-threads 0 leaves candle's default.
const nativeThreads = Number(arg('native-threads', 1));
const nativeEnv = nativeThreads > 0 ? { ...process.env, RAYON_NUM_THREADS: String(nativeThreads) } : process.env;
const loupe = (args) =>
  JSON.parse(
    execFileSync(path.join(ROOT, 'target/release/loupe'), ['bench', '--model', path.join(ROOT, MODEL), ...args, '--json'], {
      encoding: 'utf8',
      env: nativeEnv,
    }),
  );
const native = modes.length ? loupe(['--reps', String(reps), '--gen', String(gen)]) : { results: [] };
const nativeAttribution = attribution ? loupe(['--attribution']) : null;
const saeExists = fs.existsSync(path.join(ROOT, saeDir, 'cfg.json'));
const nativeSteering = steering
  ? loupe(['--steering', '--gen', String(gen), ...(saeExists ? ['--sae', path.join(ROOT, saeDir)] : [])])
  : null;
// One native process per mode would give per-mode peaks; the CLI reports the process peak.
const benchPage = {
  'bench.html': () => Buffer.from('<!doctype html><meta charset="utf-8"><script type="module" src="bench-page.js"></script>'),
  'bench-page.js': () => fs.readFileSync(path.join(HERE, 'bench-page.js')),
};
const server = await serveStatic(DIST, {
  synthetic: {
    ...benchPage,
    // The SAE under test, whichever folder --sae names.
    'bench-sae/cfg.json': () => fs.readFileSync(path.join(ROOT, saeDir, 'cfg.json')),
    'bench-sae/sae_weights.safetensors': () => fs.readFileSync(path.join(ROOT, saeDir, 'sae_weights.safetensors')),
  },
});
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
/** Calls window[fn](args) in a fresh browser context on `url`bench.html. */
async function inFreshPage(url, fn, args) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${url}bench.html`);
    await page.waitForFunction((name) => typeof window[name] === 'function', fn);
    return await page.evaluate(([name, a]) => window[name](a), [fn, args]);
  } finally {
    await context.close();
  }
}
const wasm = [];
const wasmAttributions = [];
let wasmSteering = null;
let wasmCeiling = null;
// ── References (issue 3): --onnx [PATH], --stock; see bench/references.mjs ──
const referencesAsked = referenceOptions(process.argv);
let references;
// ── end references ──
// --busy: the spinning processes run from here to the end of the wasm runs.
const busyProcesses = Array.from({ length: busy }, () => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
const stopBusy = () => busyProcesses.splice(0).forEach((p) => p.kill('SIGKILL'));
try {
  for (const simd of simds) {
    for (const mode of modes) wasm.push(await inFreshPage(server.url, 'runBench', { mode, reps, gen, modelUrl: MODEL, simd, genContext }));
  }
  // --threads: the same runs with the threaded build, on a cross-origin isolated page (the
  // headers Trunk.toml's [serve] sends), in a Worker, as the explorer's worker would run it.
  const isolated = threadsAsked
    ? await serveStatic(DIST, {
        synthetic: benchPage,
        headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'credentialless' },
      })
    : null;
  try {
    for (const simd of simds) {
      if (isolated) {
        for (const mode of modes) {
          wasm.push(
            await inFreshPage(isolated.url, 'runInWorker', {
              fn: 'runBench',
              mode,
              reps,
              gen,
              modelUrl: MODEL,
              threads: true,
              simd,
              genContext,
            }),
          );
        }
      }
      if (attribution) wasmAttributions.push(await inFreshPage(server.url, 'runAttributionBench', { modelUrl: MODEL, simd }));
      if (attribution && isolated) {
        wasmAttributions.push(
          await inFreshPage(isolated.url, 'runInWorker', { fn: 'runAttributionBench', modelUrl: MODEL, threads: true, simd }),
        );
      }
    }
  } finally {
    await isolated?.close();
    stopBusy();
  }
  if (ceiling) {
    wasmCeiling = await inFreshPage(server.url, 'runPairBench', { modelUrl: MODEL, reps, gen, simd: simds[0] });
  }
  if (steering) {
    wasmSteering = await inFreshPage(server.url, 'runSteeringBench', {
      modelUrl: MODEL,
      gen,
      saeUrl: saeExists ? 'bench-sae/' : null,
      simd: simds[0],
    });
  }
  // ── References (issue 3) ──
  references = await runReferences({ options: referencesAsked, browser, ROOT, HERE, MODEL, reps, gen, modes, nativeEnv, DIST });
  // ── end references ──
} finally {
  stopBusy();
  await browser.close();
  await server.close();
}

const nat = Object.fromEntries(native.results.map((r) => [r.weights, r]));
const f = (x, d = 0) => (x === undefined ? '—' : x.toFixed(d));
// Which build a wasm row ran: threads, and the SIMD build when several were asked for.
const build = (w) => [w.threads > 1 ? `${w.threads} threads` : '', simds.length > 1 ? w.simd : ''].filter(Boolean).join(', ');
const wasmAttribution = wasmAttributions.find((w) => w.threads === 1);
const lines = [
  `Chromium ${browser.version()} (wasm32, simd128 ${[wasm[0], wasmAttribution, wasmSteering].find(Boolean)?.simd128 ? 'on' : 'OFF'}, build ${[...new Set([...wasm, ...wasmAttributions].map((w) => w.simd))].join(' and ')}, 1 thread unless a row says otherwise${busy ? `, beside ${busy} busy process(es)` : ''}) vs native x86-64 (candle CPU, ${nativeThreads > 0 ? nativeThreads : 'default'} thread(s) of ${os.cpus().length} cores), ${reps} reps, median`,
  '',
  '| weights | 64-token forward: wasm / native (ratio) | + capture all resid: wasm / native | decode tok/s: wasm / native (ratio) | patch resid 30×16: wasm / native | patch heads 30×9: wasm / native | load: wasm / native | peak wasm memory |',
  '|---|---|---|---|---|---|---|---|',
];
for (const w of wasm) {
  const n = nat[w.weights] ?? {};
  lines.push(
    `| ${[w.weights, build(w)].filter(Boolean).join(', ')} | ${f(w.forward64_ms)} ms / ${f(n.forward64_ms)} ms (${f(w.forward64_ms / n.forward64_ms, 2)}×) ` +
      `| ${f(w.forward64_capture_resid_ms)} ms / ${f(n.forward64_capture_resid_ms)} ms ` +
      `| ${f(w.decode_tok_per_s, 1)} / ${f(n.decode_tok_per_s, 1)} (${f(w.decode_tok_per_s / n.decode_tok_per_s, 2)}×) ` +
      `| ${f(w.patch_resid_30x16_s, 1)} s / ${f(n.patch_resid_30x16_s, 1)} s | ${f(w.patch_heads_30x9_s, 1)} s / ${f(n.patch_heads_30x9_s, 1)} s ` +
      `| ${f(w.load_ms)} ms / ${f(n.load_ms)} ms | ${f(w.wasm_memory_mb)} MB |`,
  );
}
// Decoding: the fused step against the general path it replaces (alternating generations in
// one page), and each threaded row against one thread: the single-thread row of its weights
// and build (another page, run minutes before), and the same page's generations on one
// thread of the threaded build, alternating with the threaded ones.
const oneThread = (w) => wasm.find((o) => o.threads === 1 && o.weights === w.weights && o.simd === w.simd);
lines.push(
  '',
  `| weights${genContext ? ` (decoding after a ${wasm[0]?.generate_prompt_tokens}-token prompt)` : ''} | decode tok/s: fused step / general path (ratio) | threads ÷ 1 thread (other page): fused / general | same page, alternating: threads / 1 thread (ratio) |`,
  '|---|---|---|---|',
  ...wasm.map((w) => {
    const one = w.threads > 1 ? oneThread(w) : undefined;
    const scaling = one
      ? `${f(w.decode_tok_per_s / one.decode_tok_per_s, 2)}× / ${f(w.decode_general_tok_per_s / one.decode_general_tok_per_s, 2)}×`
      : '—';
    const [poolSteps, oneSteps] = w.decode_steps_taken ?? [0, 0];
    const moved = poolSteps + oneSteps > 0 ? `; ${f((100 * oneSteps) / (poolSteps + oneSteps))}% of threaded steps on one thread` : '';
    const samePage = w.decode_one_thread_same_page_tok_per_s
      ? `${f(w.decode_tok_per_s, 1)} / ${f(w.decode_one_thread_same_page_tok_per_s, 1)} (${f(w.decode_tok_per_s / w.decode_one_thread_same_page_tok_per_s, 2)}×)${moved}`
      : '—';
    return `| ${[w.weights, build(w)].filter(Boolean).join(', ')} | ${f(w.decode_tok_per_s, 1)} / ${f(w.decode_general_tok_per_s, 1)} (${f(w.decode_tok_per_s / w.decode_general_tok_per_s, 2)}×) | ${scaling} | ${samePage} |`;
  }),
);
if (ceiling) {
  const c = wasmCeiling;
  lines.push(
    '',
    `| quantized, ${c.simd}, single-thread build, ${gen} tokens | decode tok/s |`,
    '|---|---|',
    `| one decoder alone | ${f(c.alone_tok_per_s, 1)} |`,
    `| two decoders at once (two Workers), summed | ${f(c.together_sum_tok_per_s, 1)} (${f(c.together_sum_tok_per_s / c.alone_tok_per_s, 2)}× one alone: this machine's ceiling for two threads) |`,
  );
}
if (attribution) {
  const w = wasmAttribution;
  const n = nativeAttribution;
  lines.push(
    '',
    '| 20-token prompt, f32 gradients | wasm (1 thread unless the row says otherwise) | native | ratio |',
    '|---|---|---|---|',
    ...wasmAttributions.flatMap((a) => {
      const which = build(a) ? `, ${build(a)}` : '';
      return [
        `| Integrated Gradients, 32 steps (${a.ig32_passes} passes)${which} | ${f(a.ig32_s, 2)} s | ${f(n.ig32_s, 2)} s | ${f(a.ig32_s / n.ig32_s, 2)}× |`,
        `| SmoothGrad, 16 samples (${a.smoothgrad16_passes} passes)${which} | ${f(a.smoothgrad16_s, 2)} s | ${f(n.smoothgrad16_s, 2)} s | ${f(a.smoothgrad16_s / n.smoothgrad16_s, 2)}× |`,
      ];
    }),
    `| first gradient request (builds the f32 model) | ${f(w.first_gradient_with_model_build_s, 2)} s | — | |`,
    `| peak memory | ${f(w.wasm_memory_mb)} MB wasm (quantized + f32 models) | ${f(n.peak_rss_mb)} MB RSS (f32 model alone: ${f(n.model_rss_mb)} MB), ${n.threads} thread(s) | |`,
  );
}
if (steering) {
  const w = wasmSteering;
  const n = nativeSteering;
  lines.push(
    '',
    `| quantized, ${gen} tokens, add at layer 12 | wasm (1 thread) | native |`,
    '|---|---|---|',
    `| decode tok/s unsteered | ${f(w.decode_tok_per_s_unsteered, 1)} | ${f(n.decode_tok_per_s_unsteered, 1)} |`,
    `| decode tok/s steered | ${f(w.decode_tok_per_s_steered, 1)} (${f(w.decode_tok_per_s_steered / w.decode_tok_per_s_unsteered, 2)}×) | ${f(n.decode_tok_per_s_steered, 1)} (${f(n.decode_tok_per_s_steered / n.decode_tok_per_s_unsteered, 2)}×) |`,
    `| SAE (${saeExists ? saeDir : 'none'}): encode per token | within timing noise (see below) | ${n.sae_encode_us_per_token == null ? '—' : f(n.sae_encode_us_per_token, 2) + ' µs'} |`,
    `| 64-token run, per token: plain forward / saeFeatures (forward + encode) | ${w.forward_ms_per_token == null ? '—' : `${f(w.forward_ms_per_token, 2)} / ${f(w.sae_features_ms_per_token, 2)} ms`} | |`,
  );
}
lines.push(
  '',
  `native peak RSS over all modes: ${f(native.peak_rss_mb)} MB; model file ${f(fs.statSync(path.join(ROOT, MODEL)).size / 2 ** 20, 1)} MB`,
);
console.log(lines.join('\n'));
console.log('\nraw:', JSON.stringify({ native, wasm, nativeAttribution, wasmAttributions, nativeSteering, wasmSteering, wasmCeiling }));
// ── References (issue 3) ──
if (references) {
  // The references are compared with the first build asked for.
  console.log(referenceTable(references, { wasm: wasm.filter((w) => w.simd === wasm[0]?.simd), native, nativeThreads }).join('\n'));
  console.log('\nraw references:', JSON.stringify(references));
}
// ── end references ──
