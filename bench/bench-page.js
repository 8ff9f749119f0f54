// The wasm half of the benchmark, run in a page (main thread is fine for timing) with the
// same loupe-web build the explorer uses. Driven by bench/bench.mjs; mirrors `loupe bench`.
import init, { Loupe } from './loupe-web.js';

const BENCH_PROMPT = 'The quick brown fox jumps over the lazy dog. '.repeat(6) + 'The quick brown fox';
const GEN_PROMPT = 'The Eiffel Tower is located in the city of';

window.runBench = async ({ mode, reps, gen, modelUrl }) => {
  const wasm = await init();
  const bytes = new Uint8Array(await (await fetch(modelUrl)).arrayBuffer());
  let t = performance.now();
  const m = Loupe.load(bytes, mode);
  const loadMs = performance.now() - t;
  const n = m.tokenize(BENCH_PROMPT, false).length;
  if (n !== 64) throw new Error(`bench prompt is ${n} tokens, expected 64`);
  const timed = (capture) => {
    m.run({ prompt: BENCH_PROMPT, capture, topK: 10 }); // warm-up
    const ms = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      m.run({ prompt: BENCH_PROMPT, capture, topK: 10 });
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    return ms[Math.floor(ms.length / 2)];
  };
  const forward64 = timed([]);
  const forward64Capture = timed(['blocks.*.hook_resid_pre', 'blocks.*.hook_resid_post']);
  const g = m.startGeneration({ prompt: GEN_PROMPT, maxTokens: gen, stopAtEos: false });
  t = performance.now();
  let made = 0;
  let first = null;
  while (g.next() !== null) {
    made += 1;
    if (first === null) first = performance.now();
  }
  const end = performance.now();
  g.free();
  const sweep = (site) => {
    const t0 = performance.now();
    const p = m.startPatching({
      clean: 'When Mary and John went to the store yesterday, John gave a cold drink to',
      corrupted: 'When Mary and John went to the store yesterday, Mary gave a cold drink to',
      metric: { type: 'logit_diff', token: ' Mary', minus: ' John' },
      site,
    });
    while (p.step()) {}
    p.free();
    return (performance.now() - t0) / 1e3;
  };
  const patchResid = sweep('resid_pre');
  const patchHeads = sweep('head_z');
  return {
    weights: mode,
    patch_resid_30x16_s: patchResid,
    patch_heads_30x9_s: patchHeads,
    load_ms: loadMs,
    forward64_ms: forward64,
    forward64_capture_resid_ms: forward64Capture,
    generate_tokens: made,
    generate_total_s: (end - t) / 1e3,
    decode_tok_per_s: (made - 1) / ((end - first) / 1e3),
    wasm_memory_mb: wasm.memory.buffer.byteLength / 2 ** 20,
    simd128: WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11])),
  };
};
