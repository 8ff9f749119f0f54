// The wasm half of the benchmark, run in a page (main thread is fine for timing) with the
// same loupe-web builds the explorer uses. Driven by bench/bench.mjs; mirrors `loupe bench`.
import { relaxedSimd, simd128 } from './www/wasm-features.js';

const BENCH_PROMPT = 'The quick brown fox jumps over the lazy dog. '.repeat(6) + 'The quick brown fox';
const GEN_PROMPT = 'The Eiffel Tower is located in the city of';

// One of the four builds of dist/ (scripts/build-variants.sh): `simd` 'relaxed' or 'simd128'
// ('auto': relaxed where the browser validates it, as the explorer's worker picks), threaded
// (a pool of one thread per core; needs a cross-origin isolated page) or not.
async function start(threads, simd = 'auto') {
  const relaxed = simd === 'relaxed' || (simd === 'auto' && relaxedSimd());
  if (threads && !self.crossOriginIsolated) throw new Error('threads need a cross-origin isolated page (COOP/COEP)');
  const dir = threads ? (relaxed ? './threads-relaxed/' : './threads/') : relaxed ? './relaxed/' : './';
  const mod = await import(`${dir}loupe-web.js`);
  const wasm = await mod.default();
  const n = threads ? navigator.hardwareConcurrency : 1;
  if (threads) await mod.initThreadPool(n);
  return {
    wasm,
    Loupe: mod.Loupe,
    threads: n,
    simd: relaxed ? 'relaxed' : 'simd128',
    setMaxThreads: mod.setMaxThreads,
    decodeStepsTaken: mod.decodeStepsTaken,
  };
}

// The middle element of `xs` by `key` (the upper of the two middles for an even count);
// undefined for none.
const median = (xs, key = (x) => x) => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)];

// A long context for decoding (`--gen-context N`): attention then reads N cached positions
// per head and layer at every step.
const longPrompt = (sentences) => 'The quick brown fox jumps over the lazy dog. '.repeat(sentences);

// One greedy generation after `prompt`: tokens/s after the first token (the prefill).
function timedGeneration(m, maxTokens, prompt = GEN_PROMPT) {
  const g = m.startGeneration({ prompt, maxTokens, stopAtEos: false });
  const t0 = performance.now();
  let made = 0;
  let first = null;
  while (g.next() !== null) {
    made += 1;
    if (first === null) first = performance.now();
  }
  const end = performance.now();
  g.free();
  return { made, total_s: (end - t0) / 1e3, tok_per_s: (made - 1) / ((end - first) / 1e3) };
}

self.runBench = async ({ mode, reps, gen, modelUrl, threads = false, simd = 'auto', genContext = 0 }) => {
  const { wasm, Loupe, threads: nThreads, simd: build, setMaxThreads, decodeStepsTaken } = await start(threads, simd);
  const bytes = new Uint8Array(await (await fetch(modelUrl)).arrayBuffer());
  const t = performance.now();
  const m = Loupe.load(bytes, mode);
  const loadMs = performance.now() - t;
  // wasm memory (it only grows) after each stage: which workload sets the peak.
  const mib = () => wasm.memory.buffer.byteLength / 2 ** 20;
  const memoryAfter = { load: mib() };
  const n = m.tokenize(BENCH_PROMPT, false).length;
  if (n !== 64) throw new Error(`bench prompt is ${n} tokens, expected 64`);
  const timed = (capture) => {
    m.call('run', { prompt: BENCH_PROMPT, capture, topK: 10 }); // warm-up
    const ms = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      m.call('run', { prompt: BENCH_PROMPT, capture, topK: 10 });
      ms.push(performance.now() - t0);
    }
    return median(ms);
  };
  const forward64 = timed([]);
  memoryAfter.forward64 = mib();
  const forward64Capture = timed(['blocks.*.hook_resid_pre', 'blocks.*.hook_resid_post']);
  memoryAfter.capture = mib();
  // Decode speed: the median of `reps` generations after a warm-up one (in V8 the
  // single-token kernels first run in baseline code until the optimizing tier-up lands).
  // One generation alone was at the mercy of the machine's moment: five in a row in one
  // page measured 29–44 tok/s on one thread (2026-12-01).
  // About 10 tokens per sentence of the long prompt.
  const genPrompt = genContext > 0 ? longPrompt(Math.ceil(genContext / 10)) : GEN_PROMPT;
  const generation = (maxTokens) => timedGeneration(m, maxTokens, genPrompt);
  generation(gen); // warm-up
  // The fused decoding step (the default) and the general path it replaces, alternating so
  // both see the same moments of the machine; in the threaded build also the fused step on
  // one thread of the same build (`setMaxThreads(1)`), so the thread scaling is measured
  // between generations seconds apart, not between pages minutes apart.
  // (Builds before 2026-12-02 have no setFusedDecoding or setMaxThreads: `--dist` of an
  // older commit.)
  const medianGeneration = (gs) => median(gs, (g) => g.tok_per_s) ?? {};
  const gens = [];
  const gensGeneral = [];
  const gensOneThread = [];
  for (let i = 0; i < reps; i++) {
    gens.push(generation(gen));
    if (m.setFusedDecoding) {
      m.setFusedDecoding(false);
      gensGeneral.push(generation(gen));
      m.setFusedDecoding(true);
    }
    if (nThreads > 1 && setMaxThreads) {
      setMaxThreads(1);
      gensOneThread.push(generation(gen));
      setMaxThreads(nThreads);
    }
  }
  const decode = medianGeneration(gens);
  const decodeGeneral = medianGeneration(gensGeneral);
  const decodeOneThread = medianGeneration(gensOneThread);
  memoryAfter.generate = mib();
  const sweep = (site) => {
    const t0 = performance.now();
    const p = m.start('patch', {
      clean: 'When Mary and John went to the store yesterday, John gave a cold drink to',
      corrupted: 'When Mary and John went to the store yesterday, Mary gave a cold drink to',
      metric: { type: 'logit_diff', token: ' Mary', minus: ' John' },
      site,
    });
    while (p.step()) {
      // one layer per step
    }
    p.free();
    return (performance.now() - t0) / 1e3;
  };
  const patchResid = sweep('resid_pre');
  memoryAfter.patch_resid = mib();
  const patchHeads = sweep('head_z');
  memoryAfter.patch_heads = mib();
  return {
    weights: mode,
    threads: nThreads,
    simd: build,
    patch_resid_30x16_s: patchResid,
    patch_heads_30x9_s: patchHeads,
    load_ms: loadMs,
    wasm_memory_after_mb: memoryAfter,
    forward64_ms: forward64,
    forward64_capture_resid_ms: forward64Capture,
    generate_prompt_tokens: m.tokenize(genPrompt, false).length,
    generate_tokens: decode.made,
    generate_total_s: decode.total_s,
    decode_tok_per_s: decode.tok_per_s,
    decode_tok_per_s_all: gens.map((d) => d.tok_per_s),
    decode_general_tok_per_s: decodeGeneral.tok_per_s,
    decode_general_tok_per_s_all: gensGeneral.map((d) => d.tok_per_s),
    decode_one_thread_same_page_tok_per_s: decodeOneThread.tok_per_s,
    // Threaded builds: decoding steps the build ran on [all its threads, one thread] (it
    // moves them to one thread while that is faster), over the whole page.
    decode_steps_taken: decodeStepsTaken ? [...decodeStepsTaken()] : null,
    decode_one_thread_same_page_tok_per_s_all: gensOneThread.map((d) => d.tok_per_s),
    wasm_memory_mb: wasm.memory.buffer.byteLength / 2 ** 20,
    simd128: simd128(),
  };
};

// Attribution in the page's own flow: the explorer's default model (quantized), then the f32
// differentiable copy built by the first gradient request, then IG and SmoothGrad.
const ATTRIBUTION_PROMPT = 'The Eiffel Tower is in Paris, and the famous Colosseum is located in the city of';

self.runAttributionBench = async ({ modelUrl, threads = false, simd = 'auto' }) => {
  const { wasm, Loupe, threads: nThreads, simd: build } = await start(threads, simd);
  const bytes = new Uint8Array(await (await fetch(modelUrl)).arrayBuffer());
  const m = Loupe.load(bytes, 'quantized');
  if (m.tokenize(ATTRIBUTION_PROMPT, false).length !== 20) throw new Error('attribution prompt is not 20 tokens');
  const target = { type: 'logprob', token: ' Rome' };
  const run = (method, params) => {
    const t0 = performance.now();
    const job = m.start('attribute', { prompt: ATTRIBUTION_PROMPT, target, method, params });
    while (job.step()) {
      // one batch of passes per step
    }
    const result = job.finish();
    job.free();
    return { s: (performance.now() - t0) / 1e3, passes: result.passes };
  };
  const first = run('saliency', {}); // includes building the f32 model
  const ig = run('integrated_gradients', { steps: 32 });
  const sg = run('smoothgrad', { samples: 16 });
  return {
    threads: nThreads,
    simd: build,
    first_gradient_with_model_build_s: first.s,
    ig32_s: ig.s,
    ig32_passes: ig.passes,
    smoothgrad16_s: sg.s,
    smoothgrad16_passes: sg.passes,
    wasm_memory_mb: wasm.memory.buffer.byteLength / 2 ** 20,
    simd128: simd128(),
  };
};

// Steered vs unsteered generation (quantized, a contrastive direction added at layer 12 at every
// position) and the SAE's encode cost per token, as `loupe bench --steering`.
self.runSteeringBench = async ({ modelUrl, gen, saeUrl, simd = 'auto' }) => {
  const { Loupe, simd: build } = await start(false, simd);
  const bytes = new Uint8Array(await (await fetch(modelUrl)).arrayBuffer());
  const m = Loupe.load(bytes, 'quantized');
  const prompt = 'I went to see the film last night and I thought it was';
  const direction = m.steeringDirection({
    positive: ['I love this movie, it is wonderful', 'What a fantastic and happy day'],
    negative: ['I hate this movie, it is terrible', 'What an awful and sad day'],
    layer: 12,
  });
  const { interventions } = m.steer({
    prompt,
    steering: { direction: direction.vector, layers: [12], mode: { type: 'add', strength: -0.2 } },
  });
  const tokensPerS = (ivs) => {
    const g = m.startGeneration({ prompt, maxTokens: gen, stopAtEos: false, interventions: ivs });
    let made = 0;
    let first = null;
    while (g.next() !== null) {
      made += 1;
      if (first === null) first = performance.now();
    }
    g.free();
    return (made - 1) / ((performance.now() - first) / 1e3);
  };
  tokensPerS([]); // warm-up (JIT, allocator)
  const unsteered = tokensPerS([]);
  const steered = tokensPerS(interventions);
  // The encoder is ~1% of a forward pass, below the noise of timing the two apart, so this
  // reports the whole per-token cost of `saeFeatures` (forward + encode) beside a plain run.
  let saeFeaturesMsPerToken = null;
  let forwardMsPerToken = null;
  if (saeUrl) {
    const cfg = await (await fetch(`${saeUrl}cfg.json`)).text();
    const weights = new Uint8Array(await (await fetch(`${saeUrl}sae_weights.safetensors`)).arrayBuffer());
    m.loadSae(cfg, weights);
    const long = 'The quick brown fox jumps over the lazy dog. '.repeat(6) + 'The quick brown fox';
    // The median of 5 runs after a warm-up one, per token of the 64-token prompt.
    const msPerToken = (fn) => {
      fn();
      return (
        median(
          [0, 1, 2, 3, 4].map(() => {
            const t0 = performance.now();
            fn();
            return performance.now() - t0;
          }),
        ) / 64
      );
    };
    forwardMsPerToken = msPerToken(() => m.run({ prompt: long, capture: [], topK: 1 }));
    saeFeaturesMsPerToken = msPerToken(() => m.saeFeatures({ prompt: long }));
  }
  return {
    decode_tok_per_s_unsteered: unsteered,
    decode_tok_per_s_steered: steered,
    sae_features_ms_per_token: saeFeaturesMsPerToken,
    forward_ms_per_token: forwardMsPerToken,
    simd: build,
    simd128: simd128(),
  };
};

// The machine's own ceiling for threaded decoding (`--ceiling`): two single-thread decoders
// in two Workers (each its own wasm instance and model), generating at the same time,
// against one of them alone, alternating. Their summed tokens/s over one alone is what two
// cores give this workload with no sharing at all (memory bandwidth, caches, the other
// core's load), so no threading of one generation can beat it on this machine.
let pairModel = null;
self.pairLoad = async ({ modelUrl, simd = 'auto' }) => {
  const { Loupe, simd: build } = await start(false, simd);
  pairModel = Loupe.load(new Uint8Array(await (await fetch(modelUrl)).arrayBuffer()), 'quantized');
  return build;
};
self.pairGenerate = ({ gen }) => timedGeneration(pairModel, gen).tok_per_s;

// The threaded build must run where the explorer runs it: in a Worker, which may block while
// the pool works (a page's main thread may not, so rayon would spin there and compete with
// the pool for the cores). `runInWorker({fn, ...args})` runs one of the functions above in a
// module Worker started from this same file.
if (typeof window === 'undefined') {
  self.onmessage = async ({ data }) => {
    try {
      self.postMessage({ result: await self[data.fn](data) });
    } catch (error) {
      self.postMessage({ error: String(error?.stack ?? error) });
    }
  };
} else {
  window.runPairBench = async ({ modelUrl, reps, gen, simd = 'auto' }) => {
    // A Worker of this file kept for several calls: `call(args)` runs self[args.fn](args).
    const spawn = () => {
      const worker = new Worker(new URL(import.meta.url), { type: 'module' });
      let pending = null;
      worker.onmessage = ({ data }) => (data.error ? pending.reject(new Error(data.error)) : pending.resolve(data.result));
      worker.onerror = (e) => pending?.reject(new Error(`pair worker: ${e.message}`));
      const call = (args) =>
        new Promise((resolve, reject) => {
          pending = { resolve, reject };
          worker.postMessage(args);
        });
      return { call, worker };
    };
    const pair = [spawn(), spawn()];
    try {
      const [build] = await Promise.all(pair.map((p) => p.call({ fn: 'pairLoad', modelUrl, simd })));
      const both = () => Promise.all(pair.map((p) => p.call({ fn: 'pairGenerate', gen })));
      await both(); // warm-up
      const alone = [];
      const together = [];
      for (let i = 0; i < reps; i++) {
        alone.push(await pair[0].call({ fn: 'pairGenerate', gen }));
        together.push(await both());
      }
      const sums = together.map(([a, b]) => a + b);
      return {
        simd: build,
        alone_tok_per_s: median(alone),
        together_sum_tok_per_s: median(sums),
        alone_all: alone,
        together_all: together,
      };
    } finally {
      pair.forEach((p) => p.worker.terminate());
    }
  };
  window.runInWorker = (args) =>
    new Promise((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), { type: 'module' });
      worker.onmessage = ({ data }) => {
        worker.terminate();
        if (data.error) reject(new Error(data.error));
        else resolve(data.result);
      };
      worker.onerror = (e) => reject(new Error(`bench worker: ${e.message}`));
      worker.postMessage(args);
    });
}
