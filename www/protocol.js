// The one message protocol between the page and the model worker.
//
// Mirrored once from the Rust side (crates/web): the names here are the wire names there.
// The page never touches wasm; it only speaks this protocol (STYLE.md, principle 9).
//
// Every analysis is a command named by its registry name (crates/interp/src/registry.rs;
// `{id, command: 'analyses'}` lists them with their kind): a `call` answers once, a `job`
// posts `{phase, loaded, total, partial}` after each step and resolves with `stopped`. The
// worker dispatches them generically (Loupe.call / Loupe.start); the other commands are its own.
//
// main → worker   {id, command, ...arguments}
//   {id, command: 'analyses'}                 → [{name, kind: 'call' | 'job', summary, gradients, phase?}]
//   {id, command: 'load', url, weights: 'quantized' | 'q8' | 'f32'}
//   {id, command: 'info'}
//   {id, command: 'tokenize', prompt, prependBos}
//   {id, command: 'run', prompt, capture, topK, prependBos, interventions}
//   {id, command: 'generate', prompt, maxTokens, temperature, topP, seed, prependBos, interventions}
//   {id, command: 'logitLens', prompt, target, topK, prependBos}
//   {id, command: 'dla', prompt, token, minus, position, prependBos}
//   {id, command: 'detectHeads', prompt, randomLength, seed, prependBos}
//   {id, command: 'patch', clean, corrupted, metric, site, prependBos}
//        metric: {type: 'logit_diff', token, minus} | {type: 'logprob', token};
//        site: 'resid_pre' | 'attn_out' | 'mlp_out' | 'head_z' | 'head_z_pos'
//   {id, command: 'ablate', prompt, component, method, metric, reference, references, prependBos}
//        component: {kind: 'head', layer, head} | {kind: 'mlp', layer} | {kind: 'neuron', layer, index};
//        method: 'zero' | 'mean' | 'resample' (reference: a prompt of the same token length)
//                | 'mean_reference' (references: prompts of any length, at least one)
//   {id, command: 'minimalPair', a, b, topK, prependBos}
//   {id, command: 'neuronView', prompt, layer, neuron, topK, prependBos}
//   {id, command: 'attribute', prompt, target, method, params, prependBos}
//        target: {type: 'logprob' | 'logit' | 'logit_diff', token, minus?, position?};
//        method: 'saliency' | 'grad_x_input' | 'integrated_gradients' | 'smoothgrad' | 'occlusion';
//        params: {steps, baseline: {type: 'zero'} | {type: 'token', token}, keepFirst, adaptive,
//                 tolerance, maxPasses, samples, noise, seed, window, remove, batch} (all optional)
//   {id, command: 'gradient', prompt, target, hooks, prependBos}
//   {id, command: 'attributionPatching', clean, corrupted, metric, prependBos}   (metric as for patch)
//   {id, command: 'steeringDirection', positive, negative, layer, reduce, prependBos}
//        reduce: 'last' | 'mean'
//   {id, command: 'steer', prompt, steering, topK, prependBos}
//        steering: {direction: [d_model], layers, positions?, mode: {type: 'add', strength} |
//                   {type: 'clamp', value} | {type: 'ablate'}}  (strength, value × typical ‖resid‖)
//   {id, command: 'steerGenerate', prompt, maxTokens, temperature, topP, seed, stopAtEos,
//        prependBos, interventions}   (two generations, without and with the interventions)
//   {id, command: 'loadSae', url} | {id, command: 'loadSae', cfgText, weights: ArrayBuffer}
//        url: a folder holding cfg.json and sae_weights.safetensors (SAELens format)
//   {id, command: 'saeFeatures', prompt, topK, prependBos}
//   {id, command: 'saeFeatureInfo', feature, topK}
//   {id, command: 'saeClamp', feature, value, positions}        (positions: [] = every position)
//   {id, command: 'trainSae', prompts, hook, dSae, l1, steps, batch, lr, seed, prependBos}
//        (all but prompts optional) trains an SAE on the prompts' activations at `hook`, then
//        makes it the loaded SAE (also when stopped: what was trained so far)
//   {id, command: 'trainProbes', positive, negative, layers, reduce, testFraction, seed, prependBos}
//   {id, command: 'tokenTexts', ids}
//   {command: 'stop', target}                 (ends generation, steerGenerate, patch, attribute
//                                              or trainSae `target` after its current token,
//                                              layer, batch of passes or 20 training steps;
//                                              not queued: it reaches the worker between steps)
//   {id, command: 'debugPanic', message}      (tests only: panics inside the wasm on purpose)
//
// worker → main
//   {id, status: 'progress', phase: 'compile' | 'cache' | 'download' | 'parse', loaded, total}
//   {id, status: 'progress', phase: 'patch', loaded, total, partial}
//        after each patched layer: loaded = layers done, total = layers, partial = the result
//        so far (the shape of the final result, with `values` holding the finished layers)
//   {id, status: 'progress', phase: 'prepare', loaded: 0, total: 0}
//        attribute, gradient, attributionPatching: sent first when the differentiable f32 copy
//        of the model is not built yet (the first gradient request builds it: ~650 MB, seconds)
//   {id, status: 'progress', phase: 'attribute', loaded, total, partial}
//        after each batch of passes: loaded = passes done, total = passes planned, partial = the
//        result so far (the shape of the final one, `finished: false` until the last batch)
//   {id, status: 'progress', phase: 'sae', file, loaded, total}
//        loadSae from a URL: download progress of each file ('cfg.json', 'sae_weights.safetensors')
//   {id, status: 'progress', phase: 'train-sae', loaded, total, partial}
//        trainSae, after every 20 optimiser steps: loaded = steps done, total = steps asked for,
//        partial = {tokens, step, steps, history: [{step, explainedVariance, l0}], finished}
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
export const PATCH_SITES = Object.freeze(['resid_pre', 'attn_out', 'mlp_out', 'head_z', 'head_z_pos']);

/** Input attribution methods (the wire names of Rust's attribution::Method), cheapest first. */
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
