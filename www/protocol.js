// The one message protocol between the page and the model worker.
//
// The wire names are the Rust side's: analysis names come from the registry
// (crates/interp/src/registry.rs), and every analysis's request, partial and result are the
// Rust types, generated into ./types/analyses.d.ts (Calls and Jobs) and type-checked here.
// The page never touches wasm; it only speaks this protocol (STYLE.md, principle 9).
//
// Every analysis is a command named by its registry name (`{id, command: 'analyses'}` lists
// them with their kind): a `call` answers once, a `job` posts `{phase, loaded, total,
// partial}` after each step and resolves with `stopped`. The worker dispatches them
// generically (Loupe.call / Loupe.start); the other commands are its own.
//
// main → worker   {id, command, ...arguments}
//   {id, command: NAME, ...request}           any analysis: Calls[NAME] / Jobs[NAME] request
//   {id, command: 'analyses'}                 → [{name, kind: 'call' | 'job', summary, gradients, phase?}]
//   {id, command: 'load', url, weights: 'quantized' | 'q8' | 'f32'}
//   {id, command: 'info'}
//   {id, command: 'tokenize', prompt, prependBos}
//   {id, command: 'generate', ...GenerateRequest}
//   {id, command: 'steerGenerate', ...GenerateRequest}   (two generations, without and with
//                                              the interventions)
//   {id, command: 'loadSae', url} | {id, command: 'loadSae', cfgText, weights: ArrayBuffer}
//        url: a folder holding cfg.json and sae_weights.safetensors (SAELens format)
//   {id, command: 'tokenTexts', ids}
//   {command: 'stop', target}                 (ends generation, steerGenerate or job `target`
//                                              after its current token or step; not queued:
//                                              it reaches the worker between steps)
//   {id, command: 'debugPanic', message}      (tests only: panics inside the wasm on purpose)
//
// worker → main
//   {id, status: 'progress', phase: 'compile' | 'cache' | 'download' | 'parse', loaded, total}
//   {id, status: 'progress', phase, loaded, total, partial}
//        a job's step is done (phase: the registry's, e.g. 'patch' per layer, 'attribute' per
//        batch of passes, 'train-sae' per 20 optimiser steps): loaded = steps done, total =
//        steps planned, partial = the result so far (Jobs[NAME].partial)
//   {id, status: 'progress', phase: 'prepare', loaded: 0, total: 0}
//        an analysis with `gradients`: sent first when the differentiable f32 copy
//        of the model is not built yet (the first gradient request builds it: ~650 MB, seconds)
//   {id, status: 'progress', phase: 'sae', file, loaded, total}
//        loadSae from a URL: download progress of each file ('cfg.json', 'sae_weights.safetensors')
//   {id, status: 'token', token: {id, text}}          (generate only, one per new token)
//   {id, status: 'token', which: 'base' | 'steered', token: {id, text}}
//        steerGenerate: the two generations' tokens, interleaved
//   {id, status: 'done', result}                      (Float32Arrays travel in the transfer list)
//   {id, status: 'error', message}                    (the worker is still usable)
//   {status: 'fatal', message}                        (the wasm instance is dead: restart the worker)

export const Command = Object.freeze({
  Load: 'load',
  Analyses: 'analyses',
  Info: 'info',
  Tokenize: 'tokenize',
  Run: 'run',
  Generate: 'generate',
  LogitLens: 'logitLens',
  Dla: 'dla',
  DetectHeads: 'detectHeads',
  Patch: 'patch',
  Ablate: 'ablate',
  MinimalPair: 'minimalPair',
  NeuronView: 'neuronView',
  Attribute: 'attribute',
  Gradient: 'gradient',
  AttributionPatching: 'attributionPatching',
  SteeringDirection: 'steeringDirection',
  Steer: 'steer',
  SteerGenerate: 'steerGenerate',
  LoadSae: 'loadSae',
  SaeFeatures: 'saeFeatures',
  SaeFeatureInfo: 'saeFeatureInfo',
  SaeClamp: 'saeClamp',
  TrainSae: 'trainSae',
  TrainProbes: 'trainProbes',
  TokenTexts: 'tokenTexts',
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

/** Progress phases: the load's, in the order they happen (`cache` and `download` are
 *  alternatives), `patch` for an activation-patching sweep, `prepare` and `attribute`
 *  for the gradient methods, `sae` for the files of a sparse autoencoder and `train-sae`
 *  for one trained in the page. */
export const Phase = Object.freeze({
  Compile: 'compile', // compiling and instantiating the wasm module
  Cache: 'cache', // reading the model bytes from the Cache API
  Download: 'download', // fetching the model bytes from the network
  Parse: 'parse', // Loupe.load: parsing GGUF, building the model
  Patch: 'patch', // not a load phase: one layer of an activation-patching sweep is done
  Prepare: 'prepare', // building the differentiable f32 model (first gradient request only)
  Attribute: 'attribute', // one batch of an input attribution's passes is done
  Sae: 'sae', // downloading one file of a sparse autoencoder
  TrainSae: 'train-sae', // 20 more optimiser steps of an SAE trained on the page's prompts
});

/** Where a patching sweep swaps in clean activations (the wire names of Rust's PatchSite):
 *  blocks.L.hook_resid_pre / hook_attn_out / hook_mlp_out per position, attn.hook_z per head
 *  (head_z) or per head and position (head_z_pos). */
/** @type {readonly import('./types/analyses').PatchSite[]} */
export const PATCH_SITES = Object.freeze(['resid_pre', 'attn_out', 'mlp_out', 'head_z', 'head_z_pos']);

/** Input attribution methods (the wire names of Rust's attribution::Method), cheapest first. */
/** @type {readonly import('./types/analyses').Method[]} */
export const ATTRIBUTION_METHODS = Object.freeze(['saliency', 'grad_x_input', 'integrated_gradients', 'smoothgrad', 'occlusion']);

export const WEIGHTS = Object.freeze(['quantized', 'q8', 'f32']);

/** The files of a sparse autoencoder in SAELens's format, fetched from its folder URL. */
export const SAE_FILES = Object.freeze({ cfg: 'cfg.json', weights: 'sae_weights.safetensors' });

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
