// Reference runs served from dist/ beside bench-page.js (driven by bench/references.mjs):
//  - oursReference: the benchmark prompts' token ids from our own tokenizer (loupe-web, the
//    explorer's wasm) and our greedy next token in each weight mode, so the references get the
//    exact same ids and their top-1 can be checked against ours;
//  - runStockBench: stock candle-transformers 0.11.1 quantized_llama (crates/stock-bench, built
//    by wasm-bindgen into target/stock-bench-web/, served at stock/) on the same GGUF.
import init, { Loupe } from './loupe-web.js';
import { simd128 } from './www/wasm-features.js';

// The same prompts as bench-page.js and `loupe bench`.
const BENCH_PROMPT = 'The quick brown fox jumps over the lazy dog. '.repeat(6) + 'The quick brown fox';
const GEN_PROMPT = 'The Eiffel Tower is located in the city of';

window.oursReference = async ({ modelUrl, modes }) => {
  await init();
  const bytes = new Uint8Array(await (await fetch(modelUrl)).arrayBuffer());
  const top1 = {};
  let ids = null;
  let genIds = null;
  for (const mode of modes) {
    const m = Loupe.load(bytes, mode);
    ids ??= m.tokenize(BENCH_PROMPT, false).map((t) => t.id);
    genIds ??= m.tokenize(GEN_PROMPT, false).map((t) => t.id);
    top1[mode] = m.run({ prompt: BENCH_PROMPT, capture: [], topK: 1 }).top[0].id;
    m.free();
  }
  if (ids.length !== 64) throw new Error(`bench prompt is ${ids.length} tokens, expected 64`);
  return { ids, genIds, top1 };
};

window.runStockBench = async ({ modelUrl, ids, genIds, reps, gen }) => {
  // Imported here, not above: without --stock the stock wasm need not be built.
  const { default: initStock, StockLlama } = await import('./stock/stock_bench.js');
  const wasm = await initStock();
  const bytes = new Uint8Array(await (await fetch(modelUrl)).arrayBuffer());
  let t = performance.now();
  const m = new StockLlama(bytes);
  const loadMs = performance.now() - t;
  const prompt = Uint32Array.from(ids);
  const top1 = m.forward(prompt, 0); // warm-up
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    m.forward(prompt, 0);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  // Greedy decode as `loupe bench`: the prefill gives the first token, the gen − 1 single-token
  // steps after it are timed.
  const generated = [m.forward(Uint32Array.from(genIds), 0)];
  t = performance.now();
  for (let i = 1; i < gen; i++) generated.push(m.forward(Uint32Array.of(generated[i - 1]), genIds.length + i - 1));
  const decodeS = (performance.now() - t) / 1e3;
  m.free();
  return {
    load_ms: loadMs,
    forward64_ms: ms[Math.floor(ms.length / 2)],
    top1,
    decode_tok_per_s: (gen - 1) / decodeS,
    generated,
    wasm_memory_mb: wasm.memory.buffer.byteLength / 2 ** 20,
    simd128: simd128(),
  };
};
