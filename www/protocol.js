// The one message protocol between the page and the model worker.
//
// Mirrored once from the Rust side (crates/web): the names here are the wire names there.
// The page never touches wasm; it only speaks this protocol (STYLE.md, principle 9).
//
// main → worker   {id, command, ...arguments}
//   {id, command: 'load', url, weights: 'quantized' | 'q8' | 'f32'}
//   {id, command: 'info'}
//   {id, command: 'tokenize', prompt, prependBos}
//   {id, command: 'run', prompt, capture, topK, prependBos, interventions}
//   {id, command: 'generate', prompt, maxTokens, temperature, topP, seed, prependBos, interventions}
//   {command: 'stop', target}                 (ends generation `target` after its current token;
//                                              not queued: it reaches the worker between tokens)
//   {id, command: 'debugPanic', message}      (tests only: panics inside the wasm on purpose)
//
// worker → main
//   {id, status: 'progress', phase: 'compile' | 'cache' | 'download' | 'parse', loaded, total}
//   {id, status: 'token', token: {id, text}}          (generate only, one per new token)
//   {id, status: 'done', result}                      (Float32Arrays travel in the transfer list)
//   {id, status: 'error', message}                    (the worker is still usable)
//   {status: 'fatal', message}                        (the wasm instance is dead: restart the worker)

export const Command = Object.freeze({
  Load: 'load',
  Info: 'info',
  Tokenize: 'tokenize',
  Run: 'run',
  Generate: 'generate',
  Stop: 'stop',
  DebugPanic: 'debugPanic',
});

export const Status = Object.freeze({
  Progress: 'progress',
  Token: 'token',
  Done: 'done',
  Error: 'error',
  Fatal: 'fatal',
});

/** Load phases, in the order they happen. `cache` and `download` are alternatives. */
export const Phase = Object.freeze({
  Compile: 'compile', // compiling and instantiating the wasm module
  Cache: 'cache', // reading the model bytes from the Cache API
  Download: 'download', // fetching the model bytes from the network
  Parse: 'parse', // Loupe.load: parsing GGUF, building the model
});

export const WEIGHTS = Object.freeze(['quantized', 'q8', 'f32']);

/** Cache API cache holding complete, successfully parsed model files, keyed by absolute URL. */
export const MODEL_CACHE = 'loupe-models-v1';

/**
 * ArrayBuffers to transfer (not copy) when posting `value`: the buffers of every typed array
 * found in it, each once. A typed array that is only a view of a larger buffer (for instance
 * of wasm memory, which cannot be transferred) is replaced in place by a compact copy first.
 */
export function transferables(value, out = new Set()) {
  if (value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      if (ArrayBuffer.isView(v)) value[i] = compact(v);
      transferables(value[i], out);
    });
    return out;
  }
  if (ArrayBuffer.isView(value)) {
    out.add(value.buffer);
    return out;
  }
  for (const key of Object.keys(value)) {
    if (ArrayBuffer.isView(value[key])) value[key] = compact(value[key]);
    transferables(value[key], out);
  }
  return out;
}

function compact(view) {
  const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
  return whole && view.buffer instanceof ArrayBuffer ? view : view.slice();
}
