// Reference runtimes for bench/bench.mjs (issue 3), measured in the same headless Chromium as
// our wasm and printed beside it:
//   --onnx [PATH]  onnxruntime-web (npm, pinned in bench/package.json; wasm EP, SIMD) on an f32
//                  ONNX export of the same weights (scripts/export_onnx.py; default
//                  models/smollm2-135m-f32.onnx), with 1 and with 2 threads. The page is served
//                  with COOP/COEP (crossOriginIsolated) so that ORT may start its worker threads.
//                  64-token forward (logits at every position, as ours) and session creation.
//   --stock        stock candle-transformers 0.11.1 quantized_llama (crates/stock-bench) on the
//                  same GGUF: natively (target/release/stock-bench) and as wasm
//                  (target/stock-bench-web/, built by scripts/bench.sh --stock): 64-token forward
//                  and greedy decode tok/s.
// Every reference gets the token ids of our own tokenizer (loupe-web in a page), and its greedy
// next token is checked against ours.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { serveStatic } from '../tests/e2e/server.mjs';

const DEFAULT_ONNX = 'models/smollm2-135m-f32.onnx';

/** `--onnx [PATH]` and `--stock` from argv. */
export function referenceOptions(argv) {
  const i = argv.indexOf('--onnx');
  const onnx = i < 0 ? null : argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[i + 1] : DEFAULT_ONNX;
  return { onnx, stock: argv.includes('--stock') };
}

const html = (script) => () => Buffer.from(`<!doctype html><meta charset="utf-8"><script type="module" src="${script}"></script>`);

async function inFreshPage(browser, url, fn, args) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction((name) => typeof window[name] === 'function', fn);
    return await page.evaluate(([name, a]) => window[name](a), [fn, args]);
  } finally {
    await context.close();
  }
}

/**
 * Runs the references asked for in `options`; returns null when none was.
 * `modes` are the weight modes bench.mjs ran (ours' top-1 is read in those, plus f32 for the
 * ONNX comparison and quantized for stock candle).
 */
export async function runReferences({ options, browser, ROOT, HERE, MODEL, reps, gen, modes, nativeEnv }) {
  if (!options.onnx && !options.stock) return null;
  // The 1-minute load average around each measurement: with 2 threads on a 2-core machine,
  // anything else running moves the numbers a lot.
  const load = () => Number(os.loadavg()[0].toFixed(2));
  const out = { skipped: [], ort: [], stockNative: null, stockWasm: null, load: { start: load() } };
  const stockWeb = path.join(ROOT, 'target/stock-bench-web');
  const dist = await serveStatic(path.join(ROOT, 'dist'), {
    synthetic: {
      'ref.html': html('ref-page.js'),
      'ref-page.js': () => fs.readFileSync(path.join(HERE, 'ref-page.js')),
      'stock/stock_bench.js': () => fs.readFileSync(path.join(stockWeb, 'stock_bench.js')),
      'stock/stock_bench_bg.wasm': () => fs.readFileSync(path.join(stockWeb, 'stock_bench_bg.wasm')),
    },
  });
  try {
    const oursModes = [...new Set([...modes, ...(options.onnx ? ['f32'] : []), ...(options.stock ? ['quantized'] : [])])];
    Object.assign(out, await inFreshPage(browser, `${dist.url}ref.html`, 'oursReference', { modelUrl: MODEL, modes: oursModes }));

    if (options.onnx) {
      const onnxPath = path.resolve(ROOT, options.onnx);
      const ortDist = path.join(HERE, 'node_modules/onnxruntime-web/dist/ort.wasm.min.mjs');
      if (!fs.existsSync(onnxPath)) {
        out.skipped.push(`--onnx: ${options.onnx} not found; export it with /tmp/ref/bin/python scripts/export_onnx.py (needs onnx, onnxruntime, onnxscript)`);
      } else if (!fs.existsSync(ortDist)) {
        out.skipped.push('--onnx: onnxruntime-web is not installed; run `npm ci` in bench/');
      } else {
        let bytes = null;
        const ort = await serveStatic(HERE, {
          headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
          synthetic: {
            'ort.html': html('ort-page.js'),
            'model.onnx': () => (bytes ??= fs.readFileSync(onnxPath)),
          },
        });
        try {
          out.onnx_file = options.onnx;
          out.onnx_mb = fs.statSync(onnxPath).size / 2 ** 20;
          for (const threads of [1, 2]) {
            const r = await inFreshPage(browser, `${ort.url}ort.html`, 'runOrtBench', { modelUrl: 'model.onnx', ids: out.ids, reps, threads });
            out.ort.push({ ...r, load_after: load() });
          }
        } finally {
          await ort.close();
        }
      }
    }

    if (options.stock) {
      const bin = path.join(ROOT, 'target/release/stock-bench');
      if (!fs.existsSync(bin)) {
        out.skipped.push('--stock: target/release/stock-bench not built (cargo build --release -p stock-bench, or scripts/bench.sh --stock)');
      } else {
        out.stockNative = JSON.parse(
          execFileSync(bin, ['--model', path.join(ROOT, MODEL), '--ids', out.ids.join(','), '--gen-ids', out.genIds.join(','), '--reps', String(reps), '--gen', String(gen)], { encoding: 'utf8', env: nativeEnv }),
        );
        out.stockNative.load_after = load();
      }
      if (!fs.existsSync(path.join(stockWeb, 'stock_bench_bg.wasm'))) {
        out.skipped.push('--stock: target/stock-bench-web/ not built (scripts/bench.sh --stock builds it)');
      } else {
        out.stockWasm = await inFreshPage(browser, `${dist.url}ref.html`, 'runStockBench', { modelUrl: MODEL, ids: out.ids, genIds: out.genIds, reps, gen });
        out.stockWasm.load_after = load();
      }
    }
  } finally {
    await dist.close();
  }
  return out;
}

/** Markdown lines: ours (each mode run) beside the references, with ratios. */
export function referenceTable(ref, { wasm, native, nativeThreads }) {
  const f = (x, d = 0) => (x === undefined || x === null || Number.isNaN(x) ? '—' : x.toFixed(d));
  const ours = Object.fromEntries(wasm.map((w) => [w.weights, w]));
  const oursNative = Object.fromEntries((native.results ?? []).map((r) => [r.weights, r]));
  const ratio = (a, b) => (a && b ? `${f(a / b, 2)}×` : '—');
  // Ours at its best: the fastest weight mode run, for the forward and for decoding.
  const fastest = (rows, key, better) => rows.reduce((best, r) => (r[key] && (!best || better(r[key], best[key])) ? r : best), null);
  const vsFastest = (x, rows, key, better) => {
    const b = fastest(rows, key, better);
    return b ? `${ratio(x, b[key])} (${b.weights})` : '—';
  };
  const nativeRows = native.results ?? [];
  const top = (id, mode) => (id === undefined || id === null ? '—' : ref.top1?.[mode] === undefined ? String(id) : id === ref.top1[mode] ? `${id} (= ours ${mode})` : `**${id} ≠ ours ${mode} ${ref.top1[mode]}**`);
  const lines = [
    '',
    `References (issue 3), same 64-token ids as ours (${ref.ids?.slice(0, 4).join(',')},… from loupe-web's tokenizer); "÷ ours" = reference time / ours in the like-for-like weights (f32 for ONNX, the file's Q4_1 blocks for stock candle) and / ours in its fastest weight mode of this run (same runtime: wasm or native)`,
    '',
    '| runtime | weights | 64-token forward | ÷ ours like-for-like | ÷ ours fastest | decode tok/s | load / session creation | top-1 next token |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const w of wasm) {
    lines.push(`| ours, wasm (1 thread) | ${w.weights} | ${f(w.forward64_ms)} ms | | | ${f(w.decode_tok_per_s, 1)} | ${f(w.load_ms)} ms | ${ref.top1?.[w.weights] ?? '—'} |`);
  }
  for (const o of ref.ort) {
    lines.push(
      `| onnxruntime-web ${o.ort_version ?? ''}, wasm EP, ${o.threads} thread${o.threads > 1 ? 's' : ''}${o.cross_origin_isolated ? '' : ' (NOT crossOriginIsolated)'} | f32 ONNX | ${f(o.forward64_ms)} ms ` +
        `| ${ratio(o.forward64_ms, ours.f32?.forward64_ms)} | ${vsFastest(o.forward64_ms, wasm, 'forward64_ms', (a, b) => a < b)} | — (no KV cache) | ${f(o.session_create_ms)} ms | ${top(o.top1, 'f32')} |`,
    );
  }
  const s = ref.stockWasm;
  if (s) {
    lines.push(
      `| stock candle quantized_llama, wasm (1 thread) | Q4_1 (file) | ${f(s.forward64_ms)} ms | ${ratio(s.forward64_ms, ours.quantized?.forward64_ms)} | ${vsFastest(s.forward64_ms, wasm, 'forward64_ms', (a, b) => a < b)} ` +
        `| ${f(s.decode_tok_per_s, 1)} (${ratio(s.decode_tok_per_s, ours.quantized?.decode_tok_per_s)} ours quantized; ours fastest: ${vsFastest(s.decode_tok_per_s, wasm, 'decode_tok_per_s', (a, b) => a > b)}) | ${f(s.load_ms)} ms | ${top(s.top1, 'quantized')} |`,
    );
  }
  const n = ref.stockNative;
  if (n) {
    const threads = nativeThreads > 0 ? `${nativeThreads} thread${nativeThreads > 1 ? 's' : ''}` : 'default threads';
    for (const r of nativeRows) {
      lines.push(`| ours, native (${threads}) | ${r.weights} | ${f(r.forward64_ms)} ms | | | ${f(r.decode_tok_per_s, 1)} | ${f(r.load_ms)} ms | |`);
    }
    lines.push(
      `| stock candle quantized_llama, native (${threads}) | Q4_1 (file) | ${f(n.forward64_ms)} ms | ${ratio(n.forward64_ms, oursNative.quantized?.forward64_ms)} | ${vsFastest(n.forward64_ms, nativeRows, 'forward64_ms', (a, b) => a < b)} ` +
        `| ${f(n.decode_tok_per_s, 1)} (${ratio(n.decode_tok_per_s, oursNative.quantized?.decode_tok_per_s)} ours quantized; ours fastest: ${vsFastest(n.decode_tok_per_s, nativeRows, 'decode_tok_per_s', (a, b) => a > b)}) | ${f(n.load_ms)} ms | ${top(n.top1, 'quantized')} |`,
    );
  }
  if (s && n && s.generated.join() !== n.generated.join()) lines.push('', '**stock candle: wasm and native greedy continuations differ**');
  const after = [...ref.ort, ref.stockWasm, ref.stockNative].filter(Boolean).map((r) => r.load_after);
  lines.push('', `1-minute load average (${os.cpus().length} cores): ${ref.load?.start} before the references; after each: ${after.join(', ')}`);
  if (ref.onnx_file) lines.push('', `ONNX file: ${ref.onnx_file} (${f(ref.onnx_mb, 1)} MiB)`);
  for (const m of ref.skipped) lines.push('', `skipped ${m}`);
  return lines;
}
