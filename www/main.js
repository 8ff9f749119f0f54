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
 *                           maxPromptTokens, threads, simd}>
 *       hooks: every TransformerLens hook name, in order (e.g. 'blocks.3.attn.hook_pattern').
 *       threads: the worker pool's size (1 unless the page is cross-origin isolated);
 *       simd: 'relaxed' (fused multiply-add build) or 'simd128', whichever the browser runs.
 *   loupe.analyses() : Promise<[{name, kind: 'call' | 'job', summary, gradients, phase?}]>
 *       Every analysis of the registry (crates/interp/src/registry.rs): the named functions
 *       below are convenience names for these.
 *   loupe.call(name, request) : Promise<result>
 *   loupe.start(name, request, {onProgress?, signal?}?) : Promise<result & {stopped}>
 *       Any analysis by name, with the request and result of its named function below. A job
 *       reports onProgress({phase, done, total, partial}) after each step; returning false, or
 *       aborting signal, stops it with what it finished.
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
 *   loupe.logitLens({prompt, target?, topK?, prependBos?})
 *       : Promise<{tokens, rows: string[], cells: [row][position] of {top: [{token, id, prob}],
 *                  targetLogprob?, targetRank?}, target: {id, text} | null}>
 *       The logit lens: the residual stream entering every block ('blocks.L.hook_resid_pre')
 *       and leaving the last ('blocks.29.hook_resid_post'), read through the final norm and
 *       the unembedding. target (a token's exact text, " Paris", or its id) adds its
 *       log-probability and rank (0 = top-1) to every cell; topK defaults to 5.
 *   loupe.dla({prompt, token, minus?, position?, prependBos?})
 *       : Promise<{tokens, position, token: {id, text}, minus, total, sumOfParts, embed,
 *                  heads: [layer][head], mlp: [layer]}>
 *       Direct logit attribution of logit(token) − logit(minus) at position (default −1, the
 *       last) to the embedding, every head and every MLP; total is the model's own value.
 *   loupe.detectHeads({prompt, randomLength?, seed?, prependBos?})
 *       : Promise<{previousToken, duplicateToken, induction: [layer][head] in [0, 1], randomIds}>
 *       Mean attention on the key each mechanism predicts: previous-token on the prompt,
 *       duplicate-token and induction on a random sequence repeated twice (randomIds).
 *   loupe.patch({clean, corrupted, metric, site, prependBos?}, onProgress?)
 *       : Promise<{cleanTokens, corruptedTokens, site, cleanMetric, corruptedMetric,
 *                  values: [layer][position | head | head × position],
 *                  layersDone, nLayers, stopped}>
 *       Activation patching: runs the corrupted prompt with one clean activation patched in
 *       at a time; values are normalised so clean = 1 and corrupted = 0.
 *       metric: {type: 'logit_diff', token, minus} | {type: 'logprob', token}, at the last
 *       position. site: 'resid_pre' | 'attn_out' | 'mlp_out' (per layer and position),
 *       'head_z' (per layer and head, all positions at once) or 'head_z_pos' (one head at one
 *       position: values[layer] is head-major, n_heads × positions long, entry
 *       [h * positions + p]; positions before the first one where the prompts differ are
 *       exactly 0 and not computed). The prompts must have the same number of tokens.
 *       The sweep runs one layer at a time: onProgress(partial) gets the result so far after
 *       each layer; returning false stops the sweep, which then resolves with the finished
 *       layers and `stopped: true` (false when every layer was done). An AbortSignal as
 *       options.signal stops it too, after the layer in progress (generate takes one as well).
 *   loupe.ablate({prompt, component, method, metric, reference?, references?, prependBos?})
 *       : Promise<{intervention, cleanMetric, ablatedMetric, kl, topClean: [{token, id, prob}],
 *                  topAblated: [{token, id, prob}]}>
 *       Knocks out one component and measures the metric at the last position with and
 *       without it. component: {kind: 'head', layer, head} | {kind: 'mlp', layer} |
 *       {kind: 'neuron', layer, index}; method: 'zero' | 'mean' (its mean over the prompt's
 *       positions) | 'resample' (the component's activation on `reference`, a prompt with the
 *       same number of tokens) | 'mean_reference' (its mean over every position of every
 *       prompt in `references: string[]`, prompts of any length; rejects if the list is
 *       empty); metric as for patch. kl is KL(clean ‖ ablated) of the next-token distribution, in nats; intervention
 *       is the JSON intervention used, which run and generate accept as they are.
 *   loupe.minimalPair({a, b, topK?, prependBos?})
 *       : Promise<{tokensA, tokensB, topA, topB, rose: [{token, id, prob}], fell, klAb, klBa,
 *                  relDiff: [layer], cosine: [layer]}>
 *       Compares the next-token distributions of two prompts: rose / fell hold the tokens whose
 *       probability changed most from a to b (prob = p_b − p_a); klAb = KL(a ‖ b), klBa =
 *       KL(b ‖ a). relDiff and cosine compare 'blocks.L.hook_resid_post' at each prompt's last
 *       position (‖b − a‖ / ‖a‖ and the cosine similarity), one value per layer.
 *   loupe.neuronView({prompt, layer, neuron, topK?, prependBos?})
 *       : Promise<{tokens, activations: [position], promoted: [{token, id, prob}], suppressed}>
 *       One MLP neuron ('blocks.L.mlp.hook_post'[…, neuron]): its activation at every position,
 *       and the tokens its output weights push up (promoted) and down (suppressed) through the
 *       unembedding, prob holding that logit effect (topK each, default 10).
 *   loupe.attribute({prompt, target, method, params?, prependBos?}, {onProgress?, signal?}?)
 *       : Promise<{tokens, method, target: {kind, token: {id, text}, minus, position}, value,
 *                  signed: [position], l2: [position], integratedGradients, sigma, passes,
 *                  done, total, finished, stopped}>
 *       Input attribution: how much each prompt token matters to the target, read at
 *       target.position (default −1, the last; negative counts from the end).
 *       target: {type: 'logprob' | 'logit' | 'logit_diff', token, minus?} (tokens by exact
 *       text, " Paris", or id; minus for logit_diff). method: 'saliency' (∂f/∂x),
 *       'grad_x_input', 'integrated_gradients', 'smoothgrad' or 'occlusion'. params (all
 *       optional): IG steps (32), baseline ({type: 'token', token} | {type: 'zero'}; default the
 *       '<|endoftext|>' token; also what occlusion puts in), keepFirst, adaptive, tolerance
 *       (0.01), maxPasses (256); SmoothGrad samples (16), noise (0.02, × the range of the
 *       embedding values: sigma), seed; occlusion window (1), remove (false: replace by the
 *       baseline). value is f(x); signed sums each token's attribution over the embedding
 *       dimensions, l2 is its norm. integratedGradients:
 *       {baselineValue, sum, delta, completenessError = |sum − delta| / |delta|, rule,
 *       alphas, pathValues, integrand, adaptive: {converged, tolerance, budget, localError} |
 *       null}, null for other methods. Gradients run on an f32 copy of the model, built on the
 *       first call (about 650 MB, a second or two): onProgress({phase: 'prepare'}) says so.
 *       onProgress({phase: 'attribute', done, total, partial}) follows each batch of passes;
 *       returning false, or aborting `signal`, stops the run after the batch in progress: it
 *       resolves with `finished: false` and `stopped: true`.
 *   loupe.gradient({prompt, target, hooks, prependBos?}, {onProgress?}?)
 *       : Promise<{tokens, target, value, grads: {[hookName]: {shape, data: Float32Array}}}>
 *       ∂target/∂activation at every hook named (names or globs, as run's capture;
 *       'hook_embed' is the input), laid out as run's activations. target as for attribute.
 *   loupe.attributionPatching({clean, corrupted, metric, prependBos?}, {onProgress?}?)
 *       : Promise<{cleanTokens, corruptedTokens, cleanMetric, corruptedMetric,
 *                  residPre: [layer][position], attnOut, mlpOut, headZ: [layer][head]}>
 *       Attribution patching (Nanda 2023): the linear estimate (clean − corrupted) · ∂metric/∂a
 *       of what patch would give at every site at once, from one backward pass on the
 *       corrupted run; normalised as patch (clean = 1, corrupted = 0); metric as for patch.
 *   loupe.steeringDirection({positive: string[], negative: string[], layer, reduce?, prependBos?})
 *       : Promise<{layer, hook, vector: number[], norm, typicalNorm}>
 *       A contrastive steering direction (CAA, Rimsky et al. 2023): the mean of
 *       'blocks.L.hook_resid_pre' over the positive prompts minus its mean over the negative
 *       ones, read at each prompt's last token (reduce 'last', the default) or averaged over
 *       its positions ('mean'); vector has d_model values; typicalNorm is the layer's median
 *       residual norm over these prompts, for scale.
 *   loupe.steer({prompt, steering, topK?, prependBos?})
 *       : Promise<{tokens, interventions, typicalNorms: [per layer], topBase: [{token, id, prob}],
 *                  topSteered, rose, fell, kl}>
 *       steering: {direction: number[d_model], layers: number[], positions?: number[] (absent:
 *       every position, generated tokens included), mode: {type: 'add', strength} |
 *       {type: 'clamp', value} | {type: 'ablate'}}. strength and value are relative to each
 *       layer's typical residual norm on the prompt (typicalNorms), so 0.3 is the same push at
 *       every depth (useful range about −1…1). The next-token distribution without and with
 *       the steering: rose / fell hold p_steered − p_base, kl = KL(base ‖ steered) in nats.
 *       interventions is the steering as plain intervention JSON: pass it to run or generate.
 *   loupe.steerGenerate({prompt, maxTokens, temperature, topP, seed, prependBos?, stopAtEos?,
 *                        interventions}, onToken?)
 *       : Promise<{base: {tokens, text}, steered: {tokens, text}, stopped}>
 *       Two generations of the prompt with the same settings and seed, without and with
 *       `interventions`, a token of each in turn: onToken({id, text}, which) gets every token,
 *       which = 'base' | 'steered'. Returning false (or aborting options.signal) stops both.
 *   loupe.loadSae({url} | {cfgText, weights: ArrayBuffer}, {onProgress?}?)
 *       : Promise<{cfg: {d_in, d_sae, hook_name, architecture, …}, bytes, source, ms}>
 *       Loads a sparse autoencoder in SAELens's format: url is a folder holding cfg.json and
 *       sae_weights.safetensors (f32 or f16), fetched with onProgress({file, loaded, total});
 *       or the text of cfg.json and the weights' bytes. Rejects with the reason when the SAE
 *       does not fit this model (its hook, d_in, a tensor's shape) or a file is unreadable.
 *       One SAE at a time; it is loaded again after a crash (one trained with trainSae is not).
 *   loupe.saeFeatures({prompt, topK?, prependBos?})
 *       : Promise<{tokens, hook, top: [position][{feature, activation}], l0: [position],
 *                  relativeError: [position]}>
 *       The loaded SAE on every token: its strongest active features (topK, default 8, at most
 *       64), how many are active (l0) and ‖x − x̂‖² / ‖x‖² of its reconstruction.
 *   loupe.saeFeatureInfo({feature, topK?})
 *       : Promise<{feature, decoderNorm, promoted: [{token, id, prob}], suppressed, decoder: number[d_in]}>
 *       What a feature writes: its decoder row through the final norm and the unembedding;
 *       prob holds the logit change per unit of activation (topK each, default 10).
 *   loupe.saeClamp({feature, value, positions?}) : Promise<intervention>
 *       The intervention that clamps the feature to `value` (at `positions`, or everywhere):
 *       x ← x + (value − f(x)) · W_dec[feature]. Pass it to run, generate or steerGenerate
 *       as interventions: [it]; value 0 ablates the feature.
 *   loupe.trainSae({prompts: string[], hook?, dSae?, l1?, steps?, batch?, lr?, seed?, prependBos?},
 *                  {onProgress?, signal?}?)
 *       : Promise<{cfg: {d_in, d_sae, hook_name, architecture, …},
 *                  progress: {tokens, step, steps, history: [{step, explainedVariance, l0}],
 *                             finished}, stopped}>
 *       Trains a small sparse autoencoder in the page on the prompts' activations at hook
 *       (default 'blocks.12.hook_resid_pre'; any [batch, pos, d] hook) at every position but
 *       each prompt's first (the attention sink): a ReLU SAE of dSae features (256), loss
 *       ‖x − x̂‖² + l1 · Σ f_i ‖W_dec[i]‖ (l1 0.03, on inputs scaled to unit mean norm), AdamW
 *       (lr 0.002) on steps (400) minibatches of batch (128) tokens drawn with seed (0).
 *       tokens counts the training tokens; history holds the explained variance
 *       (1 − Σ‖x − x̂‖² / Σ‖x − mean x‖², over all of them) and L0 (mean active features per
 *       token) every 20 steps and at the end. onProgress(progress) follows every 20 steps;
 *       returning false, or aborting `signal`, stops the training after the steps in progress.
 *       Finished or stopped, the SAE trained so far becomes the loaded SAE (replacing any) for
 *       saeFeatures, saeFeatureInfo and saeClamp. It exists only in the worker: after a crash
 *       no SAE is loaded. Rejects when the prompts give fewer than 16 tokens (after dropping
 *       each one's first), on a bad hook or bad sizes (8 ≤ dSae ≤ 8192).
 *   loupe.trainProbes({positive: string[], negative: string[], layers?, reduce?, testFraction?,
 *                      seed?, prependBos?})
 *       : Promise<{layers: [{layer, trainAccuracy, testAccuracy, direction: number[d_model],
 *                            bias, massMeanDirection: number[d_model]}], trainSize, testSize, testIndices}>
 *       A logistic-regression probe per layer (all if layers is absent) on
 *       'blocks.L.hook_resid_pre' at the last token (or the mean, reduce 'mean'), with a
 *       held-out share of each class (testFraction, default 0.25; testIndices index
 *       positive ++ negative). direction applies to the raw residual: a steering direction
 *       towards the positive class.
 *   loupe.tokenTexts(ids: number[]) : Promise<string[]>
 *       The exact text of each token id (as tokenize gives it), e.g. for an SAE dashboard.
 *   loupe.load({url, weights}) : Promise<{info, source, bytes, ms, phases, url, weights}>
 *       Replaces the model (weights: 'quantized' keeps the GGUF blocks (the default), 'q8'
 *       re-encodes them to Q8_0 at load, 'f32' dequantizes).
 *
 * If the model panics, pending calls reject with the panic message, the page shows it, and the
 * worker is restarted with the model reloaded from the cache; later calls work again.
 * loupe.debugPanic(message) (tests only) makes the wasm panic on purpose to exercise this.
 *
 * Page URL parameters: ?model=URL (http(s), or a path relative to the page),
 * ?weights=quantized|q8|f32, and ?sae=URL (the folder of the SAE the Features tab loads on
 * first use; default saes/smollm2-135m-instruct-l12-resid/). Invalid values are reported in
 * the banner and the defaults used.
 */

import { ModelClient } from './client.js';
import { modelFromParams, modelName, saeFromParams } from './params.js';
import { createStatus } from './views/status.js';
import { createExplorer } from './explorer.js';

const { url, weights, warnings } = modelFromParams(location.search, document.baseURI);
const sae = saeFromParams(location.search, document.baseURI);
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
  onSaeLost: (message) => explorer?.saeLost(message),
});

const loupe = {
  ready: null,
  loadInfo: null,
  info: () => client.info(),
  analyses: () => client.analyses(),
  call: (name, request) => client.analysis(name, request),
  start: (name, request, progress) => client.analysis(name, request, progress),
  tokenize: (options) => client.tokenize(options),
  run: (options) => client.run(options),
  generate: (options, onToken) => client.generate(options, onToken),
  logitLens: (options) => client.logitLens(options),
  dla: (options) => client.dla(options),
  detectHeads: (options) => client.detectHeads(options),
  patch: (options, onProgress) => client.patch(options, onProgress),
  ablate: (options) => client.ablate(options),
  minimalPair: (options) => client.minimalPair(options),
  neuronView: (options) => client.neuronView(options),
  attribute: (options, progress) => client.attribute(options, progress),
  gradient: (options, progress) => client.gradient(options, progress),
  attributionPatching: (options, progress) => client.attributionPatching(options, progress),
  steeringDirection: (options) => client.steeringDirection(options),
  steer: (options) => client.steer(options),
  steerGenerate: (options, onToken) => client.steerGenerate(options, onToken),
  loadSae: (options, progress) => client.loadSae(options, progress),
  saeFeatures: (options) => client.saeFeatures(options),
  saeFeatureInfo: (options) => client.saeFeatureInfo(options),
  saeClamp: (options) => client.saeClamp(options),
  trainSae: (options, progress) => client.trainSae(options, progress),
  trainProbes: (options) => client.trainProbes(options),
  tokenTexts: (ids) => client.tokenTexts(ids),
  load: (options) => client.load(options),
  debugPanic: (message) => client.debugPanic(message),
};
loupe.ready = client.load({ url, weights }).then((loaded) => loaded.info);
/** @type {any} */ (window).loupe = loupe;

explorer = createExplorer(document, { loupe, status, saeUrl: sae.url });
loupe.ready.catch(() => {}); // shown by onLoadFailed; this only marks the rejection handled
if (warnings.length || sae.warnings.length) status.notice([...warnings, ...sae.warnings].join(' '));
