/**
 * Loupe — page entry: starts the model worker, exposes `window.loupe`, starts the explorer.
 *
 * ## window.loupe — the API for embedding hosts (and the explorer itself)
 *
 * All compute runs in a Web Worker; every method returns a Promise and never blocks the page.
 * Calls are served one at a time, in order. Errors reject with an `Error` whose message is
 * meant for people ("prompt is empty", "unknown hook name …").
 *
 *   loupe.ready : Promise<info>
 *       Resolves with the model's info once the page's model is loaded; rejects with an Error
 *       saying why not (HTTP status, truncated or invalid file, …).
 *   loupe.loadInfo : {phase, phases, ms, bytes, url, weights} | null
 *       How the current model was loaded: phase is where the bytes came from,
 *       'cache' (Cache API 'loupe-models-v1') or 'download'; phases lists every phase seen
 *       ('compile', 'cache' | 'download', 'parse'); ms is the whole load, bytes the file size.
 *   loupe.info() : Promise<{config: {n_layers, d_model, n_heads, n_kv_heads, d_head, d_mlp,
 *                                    vocab_size, context_length, …}, weights, hooks: string[],
 *                           maxPromptTokens}>
 *       hooks: every TransformerLens hook name, in order (e.g. 'blocks.3.attn.hook_pattern').
 *   loupe.tokenize({prompt, prependBos}) : Promise<[{id, text}]>
 *       text is the token's exact text: leading spaces kept (" Paris"); partial UTF-8 bytes
 *       appear as "\xNN".
 *   loupe.run({prompt, capture?, topK?, prependBos?, interventions?})
 *       : Promise<{tokens: [{id, text}], top: [{token, id, prob}],
 *                  activations: {[hookName]: {shape: number[], data: Float32Array}}}>
 *       capture: hook names or globs ('blocks.*.attn.hook_pattern'); top: next-token
 *       distribution at the last position; activations are row-major, e.g. hook_pattern is
 *       [batch, head_index, query_pos, key_pos].
 *   loupe.generate({prompt, maxTokens, temperature, topP, seed, prependBos?, stopAtEos?,
 *                   interventions?}, onToken?) : Promise<{tokens: [{id, text}], text, stopped?}>
 *       temperature 0 is greedy; stopAtEos (default true) ends at the end-of-turn token.
 *       onToken({id, text}) is called for every new token as it is made; returning false
 *       stops the generation, which then resolves with what was made so far and
 *       `stopped: true`.
 *   loupe.load({url, weights}) : Promise<{info, source, bytes, ms, phases, url, weights}>
 *       Replaces the model (weights: 'quantized' keeps the GGUF blocks, 'q8' re-encodes them to
 *       Q8_0 at load (the default: SIMD kernels), 'f32' dequantizes).
 *
 * If the model panics, pending calls reject with the panic message, the page shows it, and the
 * worker is restarted with the model reloaded from the cache; later calls work again.
 * loupe.debugPanic(message) (tests only) makes the wasm panic on purpose to exercise this.
 *
 * Page URL parameters: ?model=URL (http(s), or a path relative to the page) and
 * ?weights=quantized|q8|f32. Invalid values are reported in the banner and the defaults used.
 */

import { ModelClient } from './client.js';
import { modelFromParams, modelName } from './params.js';
import { createStatus } from './views/status.js';
import { createExplorer } from './explorer.js';

const { url, weights, warnings } = modelFromParams(location.search, document.baseURI);
const status = createStatus(document.getElementById('status'), { modelName: modelName(url) });
let explorer = null;
let restarting = false;

const client = new ModelClient({
  onProgress: (p) => status.progress(p),
  onLoaded(loaded) {
    loupe.loadInfo = {
      phase: loaded.source,
      phases: loaded.phases,
      ms: loaded.ms,
      bytes: loaded.bytes,
      url: loaded.url,
      weights: loaded.weights,
    };
    status.loaded(loaded);
    if (restarting) status.notice('The model crashed and was reloaded; you can continue.');
    restarting = false;
    explorer?.setModel(loaded.info);
  },
  onLoadFailed(error) {
    status.loadFailed();
    status.error(error.message);
    explorer?.modelLost();
  },
  onFatal(message, willRestart) {
    restarting = willRestart;
    status.error(willRestart ? `${message} — restarting the model…` : message);
    explorer?.modelLost();
  },
});

const loupe = {
  ready: null,
  loadInfo: null,
  info: () => client.info(),
  tokenize: (options) => client.tokenize(options),
  run: (options) => client.run(options),
  generate: (options, onToken) => client.generate(options, onToken),
  load: (options) => client.load(options),
  debugPanic: (message) => client.debugPanic(message),
};
loupe.ready = client.load({ url, weights }).then((loaded) => loaded.info);
window.loupe = loupe;

explorer = createExplorer(document, { loupe, status });
loupe.ready.catch(() => {}); // shown by onLoadFailed; this only marks the rejection handled
if (warnings.length) status.notice(warnings.join(' '));
