// onnxruntime-web (the wasm execution provider, SIMD build) on the f32 ONNX export of the same
// weights (scripts/export_onnx.py). Driven by bench/references.mjs; served from bench/ with
// COOP/COEP so that the page is crossOriginIsolated and ORT may start worker threads. Either
// export: logits at every position [1, seq, vocab], or (--last-only) the last one's [1, 1, vocab].
import * as ort from './node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';

window.runOrtBench = async ({ modelUrl, ids, reps, threads }) => {
  ort.env.wasm.numThreads = threads; // 1: no worker thread is started
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false; // run on this thread, as our bench page does
  const bytes = new Uint8Array(await (await fetch(modelUrl)).arrayBuffer());
  const t = performance.now();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const sessionMs = performance.now() - t;
  const input = new ort.Tensor(
    'int64',
    BigInt64Array.from(ids, (i) => BigInt(i)),
    [1, ids.length],
  );
  let positions = null;
  const forward = async () => {
    const { logits } = await session.run({ input_ids: input });
    const vocab = logits.dims[2];
    positions = logits.dims[1];
    const last = logits.data.subarray((positions - 1) * vocab, positions * vocab);
    let best = 0;
    for (let i = 1; i < vocab; i++) if (last[i] > last[best]) best = i;
    logits.dispose();
    return best;
  };
  const top1 = await forward(); // warm-up
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await forward();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  await session.release();
  return {
    threads,
    cross_origin_isolated: self.crossOriginIsolated,
    session_create_ms: sessionMs,
    forward64_ms: ms[Math.floor(ms.length / 2)],
    top1,
    logits_positions: positions,
    ort_version: ort.env.versions?.web ?? null,
  };
};
