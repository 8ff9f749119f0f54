// Reference runtimes for bench/bench.mjs (issue 3), measured on the same machine right after
// our pages and printed beside them:
//   --onnx [PATH[,PATH]]  onnxruntime-web (npm, pinned in bench/package.json; wasm EP, SIMD) in
//                  the same headless Chromium, on f32 ONNX exports of the same weights
//                  (scripts/export_onnx.py). Without a path: models/smollm2-135m-f32.onnx (logits
//                  at all 64 positions) and models/smollm2-135m-f32-last.onnx (--last-only: the
//                  last position's logits, as ours computes in `run`), whichever exist. 1 and 2
//                  threads each; the page is served with COOP/COEP (crossOriginIsolated) so that
//                  ORT may start its worker threads. 64-token forward and session creation.
//   --stock        stock candle-transformers 0.11.1 quantized_llama (crates/stock-bench) on the
//                  same GGUF: natively (target/release/stock-bench) and as wasm
//                  (target/stock-bench-web/, built by scripts/bench.sh --stock): 64-token forward
//                  and greedy decode tok/s.
//   --torch        PyTorch natively (HF transformers on the GGUF dequantized to f32, eager
//                  attention; scripts/bench_torch.py) with 1 and 2 threads: 64-token forward
//                  (last position's logits, and all positions'), greedy decode tok/s with the KV
//                  cache. Runs with $LOUPE_REF_PYTHON (default /tmp/ref/bin/python) when that
//                  interpreter exists and imports torch + transformers; skipped with a message
//                  otherwise.
// Every reference gets the token ids of our own tokenizer (loupe-web in a page), and its greedy
// next token is checked against ours.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { serveStatic } from '../tests/e2e/server.mjs';

// The all-logits export first, then the last-position one (scripts/export_onnx.py --last-only).
const DEFAULT_ONNX = ['models/smollm2-135m-f32.onnx', 'models/smollm2-135m-f32-last.onnx'];
const DEFAULT_PYTHON = '/tmp/ref/bin/python';

/** `--onnx [PATH[,PATH]]`, `--stock` and `--torch` from argv. */
export function referenceOptions(argv) {
  const i = argv.indexOf('--onnx');
  const given = i >= 0 && argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[i + 1].split(',').filter(Boolean) : null;
  return {
    onnx: i < 0 ? null : (given ?? DEFAULT_ONNX),
    onnxDefault: i >= 0 && !given,
    stock: argv.includes('--stock'),
    torch: argv.includes('--torch'),
  };
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
export async function runReferences({ options, browser, ROOT, HERE, MODEL, reps, gen, modes, nativeEnv, DIST = path.join(ROOT, 'dist') }) {
  /** The flags that give every native reference the same work: model, prompt ids, reps. */
  const sameWork = () => [
    '--model',
    path.join(ROOT, MODEL),
    '--ids',
    out.ids.join(','),
    '--gen-ids',
    out.genIds.join(','),
    '--reps',
    String(reps),
    '--gen',
    String(gen),
  ];
  if (!options.onnx && !options.stock && !options.torch) return null;
  // The 1-minute load average around each measurement: with 2 threads on a 2-core machine,
  // anything else running moves the numbers a lot.
  const load = () => Number(os.loadavg()[0].toFixed(2));
  const out = { skipped: [], ort: [], stockNative: null, stockWasm: null, torch: null, load: { start: load() } };
  const stockWeb = path.join(ROOT, 'target/stock-bench-web');
  const dist = await serveStatic(DIST, {
    synthetic: {
      'ref.html': html('ref-page.js'),
      'ref-page.js': () => fs.readFileSync(path.join(HERE, 'ref-page.js')),
      'stock/stock_bench.js': () => fs.readFileSync(path.join(stockWeb, 'stock_bench.js')),
      'stock/stock_bench_bg.wasm': () => fs.readFileSync(path.join(stockWeb, 'stock_bench_bg.wasm')),
    },
  });
  try {
    const oursModes = [...new Set([...modes, ...(options.onnx || options.torch ? ['f32'] : []), ...(options.stock ? ['quantized'] : [])])];
    Object.assign(out, await inFreshPage(browser, `${dist.url}ref.html`, 'oursReference', { modelUrl: MODEL, modes: oursModes }));

    if (options.onnx) {
      const ortDist = path.join(HERE, 'node_modules/onnxruntime-web/dist/ort.wasm.min.mjs');
      const files = options.onnx.filter((file) => {
        if (fs.existsSync(path.resolve(ROOT, file))) return true;
        const how = file.endsWith('-last.onnx') ? ' --last-only' : '';
        out.skipped.push(
          `--onnx: ${file} not found; export it with /tmp/ref/bin/python scripts/export_onnx.py${how} (needs onnx, onnxruntime, onnxscript)`,
        );
        return false;
      });
      if (files.length && !fs.existsSync(ortDist)) {
        out.skipped.push('--onnx: onnxruntime-web is not installed; run `npm ci` in bench/');
      } else {
        out.onnx_files = [];
        for (const file of files) {
          const onnxPath = path.resolve(ROOT, file);
          let bytes = null;
          const ort = await serveStatic(HERE, {
            headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
            synthetic: {
              'ort.html': html('ort-page.js'),
              'model.onnx': () => (bytes ??= fs.readFileSync(onnxPath)),
            },
          });
          try {
            out.onnx_files.push({ file, mb: fs.statSync(onnxPath).size / 2 ** 20 });
            for (const threads of [1, 2]) {
              const r = await inFreshPage(browser, `${ort.url}ort.html`, 'runOrtBench', {
                modelUrl: 'model.onnx',
                ids: out.ids,
                reps,
                threads,
              });
              out.ort.push({ ...r, onnx_file: file, load_after: load() });
            }
          } finally {
            await ort.close();
          }
        }
      }
    }

    if (options.stock) {
      const bin = path.join(ROOT, 'target/release/stock-bench');
      if (!fs.existsSync(bin)) {
        out.skipped.push(
          '--stock: target/release/stock-bench not built (cargo build --release -p stock-bench, or scripts/bench.sh --stock)',
        );
      } else {
        out.stockNative = JSON.parse(execFileSync(bin, sameWork(), { encoding: 'utf8', env: nativeEnv }));
        out.stockNative.load_after = load();
      }
      if (!fs.existsSync(path.join(stockWeb, 'stock_bench_bg.wasm'))) {
        out.skipped.push('--stock: target/stock-bench-web/ not built (scripts/bench.sh --stock builds it)');
      } else {
        out.stockWasm = await inFreshPage(browser, `${dist.url}ref.html`, 'runStockBench', {
          modelUrl: MODEL,
          ids: out.ids,
          genIds: out.genIds,
          reps,
          gen,
        });
        out.stockWasm.load_after = load();
      }
    }
  } finally {
    await dist.close();
  }

  if (options.torch) {
    const python = process.env.LOUPE_REF_PYTHON ?? DEFAULT_PYTHON;
    if (!fs.existsSync(python)) {
      out.skipped.push(
        `--torch: no Python reference environment at ${python} (set LOUPE_REF_PYTHON, or create it as ../shared/TOOLCHAIN.md §5 says); PyTorch not measured`,
      );
    } else {
      try {
        out.torch = JSON.parse(
          execFileSync(python, [path.join(ROOT, 'scripts/bench_torch.py'), ...sameWork(), '--threads', '1,2'], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
            maxBuffer: 1 << 24,
          }),
        );
        out.torch.python = python;
        out.torch.load_after = load();
      } catch (e) {
        const why = String(e.stderr ?? e.message)
          .trim()
          .split('\n')
          .slice(-3)
          .join(' / ');
        out.skipped.push(`--torch: ${python} scripts/bench_torch.py failed (needs torch, transformers, gguf): ${why}`);
      }
    }
  }
  return out;
}

/** Markdown lines: ours (each mode and thread count run) beside the references, with ratios. */
export function referenceTable(ref, { wasm, native, nativeThreads }) {
  const f = (x, d = 0) => (x === undefined || x === null || Number.isNaN(x) ? '—' : x.toFixed(d));
  const plural = (n) => `${n} thread${n > 1 ? 's' : ''}`;
  // Our wasm rows by thread count (single-threaded rows may lack the field), then by weights.
  const threadsOf = (w) => w.threads ?? 1;
  const oursAt = (threads) => wasm.filter((w) => threadsOf(w) === threads);
  const ours = (threads, weights) => oursAt(threads).find((w) => w.weights === weights);
  const nativeRows = native.results ?? [];
  const oursNative = Object.fromEntries(nativeRows.map((r) => [r.weights, r]));
  const ratio = (a, b) => (a && b ? `${f(a / b, 2)}×` : '—');
  // Ours at its best among the given rows (same runtime, same thread count): the fastest weight
  // mode, for the forward and for decoding.
  const fastest = (rows, key, better) => rows.reduce((best, r) => (r[key] && (!best || better(r[key], best[key])) ? r : best), null);
  const vsFastest = (x, rows, key, better) => {
    const b = fastest(rows, key, better);
    return b ? `${ratio(x, b[key])} (${b.weights})` : '—';
  };
  const faster = (a, b) => a < b;
  const top = (id, mode) =>
    id === undefined || id === null
      ? '—'
      : ref.top1?.[mode] === undefined
        ? String(id)
        : id === ref.top1[mode]
          ? `${id} (= ours ${mode})`
          : `**${id} ≠ ours ${mode} ${ref.top1[mode]}**`;
  const lines = [
    '',
    `References (issue 3), same 64-token ids as ours (${ref.ids?.slice(0, 4).join(',')},… from loupe-web's tokenizer). ` +
      `Ours' \`run\` computes the last position's logits only (RunRequest.all_logits is false by default: the page needs only the next token), ` +
      `as the last-position ONNX export (scripts/export_onnx.py --last-only) and PyTorch's logits_to_keep=1 do; the all-logits ONNX export unembeds all 64 positions. ` +
      `"÷ ours" = reference time / ours (below 1: the reference is faster), against ours in the like-for-like weights on the same number of threads ` +
      `(f32 for ONNX and PyTorch, the file's Q4_1 blocks for stock candle; "—" when this run has no such row of ours) and against ours' fastest weight mode on that many threads in the same runtime; decode ratios are speed / speed.`,
    '',
    '| runtime | weights | 64-token forward | ÷ ours like-for-like | ÷ ours fastest | decode tok/s | load / session creation | top-1 next token |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const w of wasm) {
    lines.push(
      `| ours, wasm (${plural(threadsOf(w))}) | ${w.weights} | ${f(w.forward64_ms)} ms | | | ${f(w.decode_tok_per_s, 1)} | ${f(w.load_ms)} ms | ${ref.top1?.[w.weights] ?? '—'} |`,
    );
  }
  for (const o of ref.ort) {
    const logits = o.logits_positions === 1 ? "last position's logits" : `all ${o.logits_positions ?? ''} positions' logits`;
    lines.push(
      `| onnxruntime-web ${o.ort_version ?? ''}, wasm EP, ${plural(o.threads)}${o.cross_origin_isolated ? '' : ' (NOT crossOriginIsolated)'} | f32 ONNX, ${logits} | ${f(o.forward64_ms)} ms ` +
        `| ${ratio(o.forward64_ms, ours(o.threads, 'f32')?.forward64_ms)} | ${vsFastest(o.forward64_ms, oursAt(o.threads), 'forward64_ms', faster)} | — (no KV cache) | ${f(o.session_create_ms)} ms | ${top(o.top1, 'f32')} |`,
    );
  }
  const s = ref.stockWasm;
  if (s) {
    const q = ours(1, 'quantized');
    lines.push(
      `| stock candle quantized_llama, wasm (1 thread) | Q4_1 (file) | ${f(s.forward64_ms)} ms | ${ratio(s.forward64_ms, q?.forward64_ms)} | ${vsFastest(s.forward64_ms, oursAt(1), 'forward64_ms', faster)} ` +
        `| ${f(s.decode_tok_per_s, 1)} (${ratio(s.decode_tok_per_s, q?.decode_tok_per_s)} ours quantized; ours fastest: ${vsFastest(s.decode_tok_per_s, oursAt(1), 'decode_tok_per_s', (a, b) => a > b)}) | ${f(s.load_ms)} ms | ${top(s.top1, 'quantized')} |`,
    );
  }
  const n = ref.stockNative;
  const t = ref.torch;
  const nThreads = nativeThreads > 0 ? nativeThreads : null; // null: candle's default pool
  if (n || t) {
    for (const r of nativeRows) {
      lines.push(
        `| ours, native (${nThreads ? plural(nThreads) : 'default threads'}) | ${r.weights} | ${f(r.forward64_ms)} ms | | | ${f(r.decode_tok_per_s, 1)} | ${f(r.load_ms)} ms | |`,
      );
    }
  }
  if (n) {
    lines.push(
      `| stock candle quantized_llama, native (${nThreads ? plural(nThreads) : 'default threads'}) | Q4_1 (file) | ${f(n.forward64_ms)} ms | ${ratio(n.forward64_ms, oursNative.quantized?.forward64_ms)} | ${vsFastest(n.forward64_ms, nativeRows, 'forward64_ms', faster)} ` +
        `| ${f(n.decode_tok_per_s, 1)} (${ratio(n.decode_tok_per_s, oursNative.quantized?.decode_tok_per_s)} ours quantized; ours fastest: ${vsFastest(n.decode_tok_per_s, nativeRows, 'decode_tok_per_s', (a, b) => a > b)}) | ${f(n.load_ms)} ms | ${top(n.top1, 'quantized')} |`,
    );
  }
  if (t) {
    for (const r of t.results) {
      // Ours native only ran with nativeThreads; compare with the PyTorch row of that count.
      const same = r.threads === nThreads;
      lines.push(
        `| PyTorch ${t.torch_version} (transformers ${t.transformers_version}, ${t.attn_implementation} attention), native, ${plural(r.threads)} | f32 (GGUF dequantized) | ${f(r.forward64_ms)} ms last position's logits; ${f(r.forward64_all_logits_ms)} ms all positions' ` +
          `| ${same ? ratio(r.forward64_ms, oursNative.f32?.forward64_ms) : '—'} | ${same ? vsFastest(r.forward64_ms, nativeRows, 'forward64_ms', faster) : '—'} ` +
          `| ${f(r.decode_tok_per_s, 1)}${same ? ` (${ratio(r.decode_tok_per_s, oursNative.f32?.decode_tok_per_s)} ours f32)` : ''}; generate(): ${f(r.decode_generate_tok_per_s, 1)} | ${f(t.load_s * 1e3)} ms | ${top(t.top1, 'f32')} |`,
      );
    }
  }
  if (s && n && s.generated.join() !== n.generated.join()) lines.push('', '**stock candle: wasm and native greedy continuations differ**');
  if (t) {
    // Ours in the browser against PyTorch natively, thread count for thread count.
    lines.push(
      '',
      "Ours in wasm / PyTorch native (time ratios: above 1, ours is slower; decode: speed ratios, below 1, ours is slower); PyTorch forward with the last position's logits (logits_to_keep=1), as ours",
      '',
      '| threads | 64-token forward: ours f32 / PyTorch | ours quantized / PyTorch | decode: ours f32 / PyTorch | ours quantized / PyTorch |',
      '|---|---|---|---|---|',
    );
    for (const r of t.results) {
      const o32 = ours(r.threads, 'f32');
      const oq = ours(r.threads, 'quantized');
      lines.push(
        `| ${r.threads} | ${ratio(o32?.forward64_ms, r.forward64_ms)} | ${ratio(oq?.forward64_ms, r.forward64_ms)} | ${ratio(o32?.decode_tok_per_s, r.decode_tok_per_s)} | ${ratio(oq?.decode_tok_per_s, r.decode_tok_per_s)} |`,
      );
    }
    const g = t.results.map((r) => r.generated.join());
    if (new Set(g).size > 1) lines.push('', '**PyTorch: greedy continuations differ between thread counts**');
    if (t.results.some((r) => r.generate_matches_loop === false))
      lines.push('', '**PyTorch: generate() and the hand-written decode loop continue differently**');
    if (s && g[0] !== s.generated.join())
      lines.push(
        '',
        `PyTorch's greedy continuation (f32) differs from stock candle's (Q4_1): ${t.results[0].generated.join(',')} vs ${s.generated.join(',')}`,
      );
  }
  const after = [...ref.ort, ref.stockWasm, ref.stockNative, ref.torch].filter(Boolean).map((r) => r.load_after);
  lines.push(
    '',
    `1-minute load average (${os.cpus().length} cores): ${ref.load?.start} before the references; after each: ${after.join(', ')}`,
  );
  for (const o of ref.onnx_files ?? []) lines.push('', `ONNX file: ${o.file} (${f(o.mb, 1)} MiB)`);
  for (const m of ref.skipped) lines.push('', `skipped ${m}`);
  return lines;
}
