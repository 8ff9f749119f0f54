// The model worker: the only importer of the wasm module (STYLE.md, principle 9).
//
// It owns one `Loupe` handle, answers the commands of ./protocol.js one at a time, caches
// model files with the Cache API (as candle's wasm examples do), and reports Rust panics as
// `fatal`: after a panic the wasm instance is dead, and since a module built with
// `--target web` cannot be instantiated twice, the page replaces the whole worker.

import { Command, Status, Phase, WEIGHTS, MODEL_CACHE, SAE_FILES, transferables } from './protocol.js';
import { relaxedSimd } from './wasm-features.js';

/** @type {import('../loupe-web.js').Loupe | null} */
let model = null;
/** Why the last load failed, so later commands can say why there is no model. */
let loadError = null;
/** Set once the wasm instance has trapped; every later command is refused. */
let dead = false;
let wasmReady = null;
/** The wasm module's namespace once started (optional exports are looked up on it, so a
 *  build without them still starts). */
let bindings = null;

// Four builds of the same module (scripts/build-variants.sh), tried best first:
// - threads: ../threads*/ split the big matrix products across a worker pool
//   (wasm-bindgen-rayon) and need SharedArrayBuffer, which browsers give only to cross-origin
//   isolated pages (COOP + COEP headers);
// - relaxed SIMD: ../*relaxed/ use f32x4.relaxed_madd (one fused multiply-add where the CPU
//   has FMA) in the f32 products, ~25% faster there (docs/BENCHMARKS.md); a browser without
//   relaxed SIMD cannot even compile them, so they are tried only where a probe validates;
// - ../ is single-threaded plain simd128 and runs anywhere.
// Any failure of one falls back to the next.
async function startWasm() {
  const cores = Math.min(navigator.hardwareConcurrency ?? 1, 8);
  const threads = self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function' && cores > 1;
  const relaxed = relaxedSimd();
  const builds = [
    ...(threads && relaxed ? ['../threads-relaxed/loupe-web.js'] : []),
    ...(threads ? ['../threads/loupe-web.js'] : []),
    ...(relaxed ? ['../relaxed/loupe-web.js'] : []),
  ];
  for (const url of builds) {
    try {
      const module = await import(url);
      await module.default();
      if (typeof module.initThreadPool === 'function') await module.initThreadPool(cores);
      return module;
    } catch (error) {
      console.warn(`wasm build ${url} unavailable, trying the next: ${messageOf(error)}`);
    }
  }
  const plain = await import('../loupe-web.js');
  await plain.default();
  return plain;
}

// Commands are served strictly in order: `load` awaits the network, and a `run` that arrives
// meanwhile must wait for the model rather than find none.
let queue = Promise.resolve();
/** Generations, patching sweeps, attributions and SAE trainings asked to stop; checked
 *  between steps. */
const stopRequests = new Set();
self.onmessage = (event) => {
  const message = event.data;
  if (message.command === Command.Stop) {
    stopRequests.add(message.target); // not queued: the command it targets is running
    return;
  }
  queue = queue.then(() => serve(message));
};

async function serve({ id, command, ...args }) {
  if (dead) return; // the page has been told (fatal) and will terminate this worker
  try {
    const { result, transfer } = await dispatch(id, command, args);
    self.postMessage({ id, status: Status.Done, result }, transfer);
  } catch (error) {
    if (dead) return; // the panic reporter has already said why
    if (error instanceof WebAssembly.RuntimeError) {
      // A trap without a panic message (out of memory, unreachable): the instance is dead too.
      fatal(error.message);
    } else {
      self.postMessage({ id, status: Status.Error, message: messageOf(error) });
    }
  }
}

async function dispatch(id, command, args) {
  switch (command) {
    case Command.Load:
      return { result: await load(id, args), transfer: [] };
    case Command.Analyses:
      loaded();
      return { result: [...catalogue().values()], transfer: [] };
    case Command.Info:
      return { result: loaded().info(), transfer: [] };
    case Command.Tokenize:
      return { result: loaded().tokenize(String(args.prompt ?? ''), args.prependBos === true), transfer: [] };
    case Command.Generate:
      return { result: await generate(id, args), transfer: [] };
    case Command.SteerGenerate:
      return { result: await steerGenerate(id, args), transfer: [] };
    case Command.LoadSae:
      return { result: await loadSae(id, args), transfer: [] };
    case Command.TokenTexts:
      return { result: loaded().tokenTexts(Uint32Array.from(args.ids ?? [], (t) => index(t, 'token id'))), transfer: [] };
    case Command.DebugPanic:
      if (!wasmReady) throw new Error('the wasm module is not started yet');
      await wasmReady;
      if (typeof bindings.debug_panic !== 'function') throw new Error('this build has no debug_panic');
      bindings.debug_panic(String(args.message ?? 'debug panic'));
      throw new Error('debug_panic returned without panicking');
    default:
      return analysis(id, command, args);
  }
}

/** One token per step, yielding to the event loop between steps so a `stop` message gets in. */
async function generate(id, args) {
  const generation = loaded().startGeneration(args);
  try {
    for (;;) {
      if (stopRequests.has(id)) break;
      const token = generation.next();
      if (token === null) break;
      self.postMessage({ id, status: Status.Token, token });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return { ...generation.result(), stopped: stopRequests.has(id) };
  } finally {
    generation.free();
    stopRequests.delete(id);
  }
}

/** Two generations of the same prompt with the same settings, one without and one with the
 *  request's interventions, a token of each in turn (so both sides grow together on the page
 *  and Stop ends both at the same point); yields between steps so a `stop` gets in. */
async function steerGenerate(id, { interventions, ...args }) {
  const m = loaded();
  const sides = [];
  try {
    sides.push({ which: 'base', generation: m.startGeneration({ ...args, interventions: [] }) });
    sides.push({ which: 'steered', generation: m.startGeneration({ ...args, interventions: interventions ?? [] }) });
    let live = sides;
    while (live.length && !stopRequests.has(id)) {
      live = live.filter(({ which, generation }) => {
        const token = generation.next();
        if (token !== null) self.postMessage({ id, status: Status.Token, which, token });
        return token !== null;
      });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const [base, steered] = sides.map((s) => s.generation.result());
    return { base, steered, stopped: stopRequests.has(id) };
  } finally {
    for (const { generation } of sides) generation.free();
    stopRequests.delete(id);
  }
}

/** Every analysis of the registry (crates/interp/src/registry.rs), by its wire name: a call
 *  answers at once; a job runs step by step (a layer, a batch of passes, 20 optimiser steps),
 *  posting `{phase, loaded: done, total, partial}` after each step and yielding between steps
 *  so a `stop` gets in. A stopped job resolves with what it finished and `stopped: true`; at
 *  least one step runs, so there is always something measured. */
async function analysis(id, name, args) {
  const m = loaded();
  const entry = catalogue().get(name);
  if (!entry) throw new Error(`unknown command ${JSON.stringify(name)}`);
  if (entry.gradients && !m.hasGradientModel()) {
    // The first gradient request builds the differentiable f32 copy: say so before it starts.
    self.postMessage({ id, status: Status.Progress, phase: Phase.Prepare, loaded: 0, total: 0 });
  }
  if (entry.kind === 'call') {
    const result = m.call(name, args);
    return { result, transfer: [...transferables(result)] };
  }
  let job = null;
  try {
    job = m.start(name, args);
    let more = true;
    do {
      more = job.step();
      const { done, total } = job.progress();
      self.postMessage({ id, status: Status.Progress, phase: entry.phase, loaded: done, total, partial: job.partial() });
      await new Promise((resolve) => setTimeout(resolve, 0));
    } while (more && !stopRequests.has(id));
    return { result: { ...job.finish(), stopped: more }, transfer: [] };
  } finally {
    job?.free();
    stopRequests.delete(id);
  }
}

/** name → {name, kind, summary, gradients, phase} of every registered analysis. */
let analyses = null;
function catalogue() {
  analyses ??= new Map(bindings.Loupe.analyses().map((entry) => [entry.name, entry]));
  return analyses;
}

function loaded() {
  if (model) return model;
  throw new Error(loadError ? `No model is loaded: ${loadError}` : 'No model is loaded yet.');
}

function fatal(message) {
  dead = true;
  self.postMessage({ status: Status.Fatal, message: `The model crashed: ${message || 'unknown error'}` });
}

/** A whole number ≥ 0 for an argument the wasm takes as usize; throws, naming `what`. */
function index(value, what) {
  if (!Number.isInteger(value) || value < 0) throw new Error(`${what} must be a whole number ≥ 0, not ${JSON.stringify(value)}`);
  return value;
}

// ---------------------------------------------------------------------------------------
// loadSae: cfg.json + sae_weights.safetensors (from a folder URL, or from the page's files)
// → Loupe.loadSae, which checks them against the model. Not cached: a few MB.

async function loadSae(id, { url, cfgText, weights }) {
  const m = loaded();
  let source = 'files';
  if (typeof url === 'string' && url !== '') {
    const folder = url.endsWith('/') ? url : `${url}/`;
    source = folder;
    const fetchFile = (file) =>
      download(`${folder}${file}`, (phase, loaded, total) => self.postMessage({ id, status: Status.Progress, phase: Phase.Sae, file, loaded, total }), `the SAE's ${file}`);
    cfgText = new TextDecoder().decode(await fetchFile(SAE_FILES.cfg));
    weights = await fetchFile(SAE_FILES.weights);
  } else if (typeof cfgText !== 'string' || !(weights instanceof ArrayBuffer || ArrayBuffer.isView(weights))) {
    throw new Error(`loadSae: give {url} (a folder with ${SAE_FILES.cfg} and ${SAE_FILES.weights}) or {cfgText, weights: ArrayBuffer}`);
  }
  const bytes = weights instanceof ArrayBuffer ? new Uint8Array(weights) : new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
  try {
    return { ...m.loadSae(cfgText, bytes), bytes: bytes.length, source };
  } catch (error) {
    if (dead || error instanceof WebAssembly.RuntimeError) throw error;
    const from = source === 'files' ? 'the chosen files' : source;
    const size = bytes.length < 1e5 ? `${bytes.length} bytes` : formatMB(bytes.length);
    throw new Error(`Could not load the SAE from ${from} (${size} of weights): ${messageOf(error)}`);
  }
}

// ---------------------------------------------------------------------------------------
// load: compile wasm → model bytes (cache or network) → Loupe.load

async function load(id, { url, weights }) {
  const progress = (phase, loaded = 0, total = 0) =>
    self.postMessage({ id, status: Status.Progress, phase, loaded, total });
  if (typeof url !== 'string' || url === '') throw new Error('load: no model URL given');
  if (!WEIGHTS.includes(weights)) throw new Error(`load: weights must be one of ${WEIGHTS.join(', ')}`);

  if (!wasmReady) {
    progress(Phase.Compile);
    wasmReady = startWasm().then(
      (module) => {
        bindings = module;
        bindings.set_panic_reporter((message) => fatal(message));
      },
      (error) => {
        throw new Error(`Could not start the wasm module (loupe-web_bg.wasm): ${messageOf(error)}`);
      },
    );
  }
  await wasmReady;

  // Free the previous model first: two models at once may not fit in 4 GiB of wasm memory.
  model?.free();
  model = null;
  loadError = null;
  try {
    const cache = await openCache();
    let bytes = await readCached(cache, url, progress);
    const source = bytes ? Phase.Cache : Phase.Download;
    if (!bytes) {
      bytes = await download(url, progress);
      await store(cache, url, bytes);
    }
    progress(Phase.Parse, bytes.length, bytes.length);
    const size = bytes.length;
    try {
      model = bindings.Loupe.load(bytes, weights);
    } catch (error) {
      if (dead || error instanceof WebAssembly.RuntimeError) throw error;
      // A file that does not parse must not stay cached, or every reload would fail again.
      await cache?.delete(url).catch(() => {});
      throw new Error(`Could not read the model file ${fileName(url)} (${formatMB(size)}): ${messageOf(error)}`);
    }
    // The model keeps `bytes` (JS heap, outside wasm memory) and copies tensors out of it
    // as it needs them: on load, and for the f32 gradient model on the first gradient request.
    return { info: model.info(), source, bytes: size };
  } catch (error) {
    loadError = messageOf(error);
    throw error;
  }
}

async function openCache() {
  // The Cache API exists only in secure contexts (https, localhost); elsewhere load uncached.
  if (!self.caches) return null;
  try {
    return await self.caches.open(MODEL_CACHE);
  } catch {
    return null;
  }
}

async function readCached(cache, url, progress) {
  const response = await cache?.match(url).catch(() => undefined);
  if (!response) return null;
  try {
    return await readBody(response, (loaded, total) => progress(Phase.Cache, loaded, total));
  } catch {
    await cache.delete(url).catch(() => {});
    return null; // unreadable entry: fall back to the network
  }
}

async function download(url, progress, what = 'the model') {
  progress(Phase.Download, 0, 0);
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    // fetch rejects without detail on network errors, including a cross-origin URL without CORS.
    throw new Error(`Could not download ${what} from ${url}: ${messageOf(error)} (network error, or the server does not allow cross-origin requests)`);
  }
  if (!response.ok) {
    throw new Error(`Could not download ${what} from ${url}: HTTP ${response.status} ${response.statusText}`.trim());
  }
  try {
    return await readBody(response, (loaded, total) => progress(Phase.Download, loaded, total));
  } catch (error) {
    throw new Error(`The download of ${what} from ${url} failed: ${messageOf(error)}`);
  }
}

/**
 * Reads a response body into one Uint8Array, reporting progress at most every 1 MB.
 * Throws when the body ends before its Content-Length (a partial file).
 */
async function readBody(response, onProgress) {
  const header = response.headers.get('content-length');
  // With content-encoding, Content-Length counts compressed bytes: use it only as a hint.
  const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const expected = header !== null && /^\d+$/.test(header) ? Number(header) : 0;
  const reader = response.body.getReader();
  let buffer = new Uint8Array(expected && !encoded ? expected : 1 << 20);
  let loaded = 0;
  let reported = 0;
  onProgress(0, expected);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > buffer.length) {
      const grown = new Uint8Array(Math.max(buffer.length * 2, loaded + value.length));
      grown.set(buffer.subarray(0, loaded));
      buffer = grown;
    }
    buffer.set(value, loaded);
    loaded += value.length;
    if (loaded - reported >= 1 << 20) {
      reported = loaded;
      onProgress(loaded, Math.max(expected, loaded));
    }
  }
  if (expected && !encoded && loaded !== expected) {
    throw new Error(`incomplete: received ${loaded} of ${expected} bytes`);
  }
  onProgress(loaded, loaded);
  return loaded === buffer.length ? buffer : buffer.slice(0, loaded);
}

/** Caches a complete download; a failure to cache (quota) only costs the next load time. */
async function store(cache, url, bytes) {
  if (!cache) return;
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) };
  await cache.put(url, new Response(bytes, { headers })).catch(() => {});
}

function messageOf(error) {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === 'string' && error ? error : String(error);
}

function fileName(url) {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop()) || url;
  } catch {
    return url;
  }
}

function formatMB(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
