/**
 * window.loupe — the API for embedding hosts (and the explorer itself).
 *
 * All compute runs in a Web Worker; every method returns a Promise and never blocks the page.
 * Calls are served one at a time, in order. Errors reject with an `Error` whose message is
 * meant for people ("prompt is empty", "unknown hook name …").
 *
 * Requests and results are the Rust types, generated into www/types/analyses.d.ts: the
 * analysis `name` takes `Calls[name].request` (or `Jobs[name].request`) and resolves with its
 * `result`; field docs live there, on the Rust side. Tokens are named by their exact text
 * (" Paris", leading space kept) or by id. Hook names are TransformerLens's
 * ('blocks.3.attn.hook_pattern'); globs ('blocks.*.hook_resid_pre') pick several.
 *
 *   loupe.ready : Promise<info>          the page's model, loaded (rejects saying why not)
 *   loupe.loadInfo : {phase, phases, ms, bytes, url, weights} | null
 *       phase: where the bytes came from, 'cache' (Cache API 'loupe-models-v1') or 'download';
 *       phases: every phase seen ('compile', 'cache' | 'download', 'parse').
 *   loupe.info() : Promise<{config, weights, hooks: string[], maxPromptTokens, threads, simd}>
 *       threads: the worker pool's size (1 unless the page is cross-origin isolated);
 *       simd: 'relaxed' (fused multiply-add build) or 'simd128', whichever the browser runs.
 *   loupe.analyses() : Promise<[{name, kind: 'call' | 'job', summary, gradients, phase?}]>
 *   loupe.call(name, request) : Promise<result>
 *   loupe.start(name, request, {onProgress?, signal?}?) : Promise<result & {stopped}>
 *       Any analysis of the registry by name. A job reports onProgress({phase, done, total,
 *       partial}) after each step; returning false, or aborting signal, stops it after the
 *       step in progress, and it resolves with what it finished and `stopped: true`.
 *       Analyses with `gradients` run on an f32 copy of the model built on first use (about
 *       650 MB, a second or two): onProgress({phase: 'prepare'}) says so.
 *
 * Convenience names for the analyses (the same requests and results):
 *   run, logitLens, dla, detectHeads, ablate, minimalPair, neuronView, steeringDirection,
 *   steer, saeFeatures, saeFeatureInfo, saeClamp, trainProbes (request) : Promise<result>
 *   gradient, attributionPatching (request, {onProgress?}?)      onProgress({phase: 'prepare'})
 *   patch (request, onProgress?)       onProgress(partial) after each layer; false stops
 *   attribute (request, {onProgress?, signal?}?)   onProgress({phase, done, total, partial})
 *   trainSae (request, {onProgress?, signal?}?)    onProgress(partial) every 20 steps; what was
 *       trained (finished or stopped) becomes the loaded SAE; it lives only in the worker
 *
 * The worker's own commands:
 *   loupe.tokenize({prompt, prependBos}) : Promise<[{id, text}]>
 *       text is the token's exact text; partial UTF-8 bytes appear as "\xNN".
 *   loupe.generate(GenerateRequest, onToken?) : Promise<{tokens: [{id, text}], text, stopped?}>
 *       temperature 0 is greedy; stopAtEos (default true) ends at the end-of-turn token.
 *       onToken({id, text}) for every new token; returning false (or aborting
 *       request.signal) stops it with what was made so far.
 *   loupe.steerGenerate(GenerateRequest, onToken?) : Promise<{base, steered, stopped}>
 *       Two generations with the same settings and seed, without and with `interventions`,
 *       a token of each in turn: onToken({id, text}, which = 'base' | 'steered').
 *   loupe.loadSae({url} | {cfgText, weights: ArrayBuffer}, {onProgress?}?)
 *       : Promise<{cfg: SaeConfig, bytes, source, ms}>
 *       A sparse autoencoder in SAELens's format: url is a folder holding cfg.json and
 *       sae_weights.safetensors (f32 or f16), fetched with onProgress({file, loaded, total}).
 *       Rejects with the reason when it does not fit this model. One SAE at a time; it is
 *       loaded again after a crash (one trained with trainSae is not).
 *   loupe.tokenTexts(ids: number[]) : Promise<string[]>
 *   loupe.load({url, weights}) : Promise<{info, source, bytes, ms, phases, url, weights}>
 *       Replaces the model (weights: 'quantized' keeps the GGUF blocks (the default), 'q8'
 *       re-encodes them to Q8_0 at load, 'f32' dequantizes).
 *
 * If the model panics, pending calls reject with the panic message, the page shows it, and the
 * worker is restarted with the model reloaded from the cache; later calls work again.
 * loupe.debugPanic(message) (tests only) makes the wasm panic on purpose to exercise this.
 */

/**
 * @param {import('./client.js').ModelClient} client
 */
export function createApi(client) {
  // bind keeps each method's declared types (tsconfig: strictBindCallApply).
  return {
    /** @type {Promise<object> | null} */
    ready: null,
    /** @type {object | null} */
    loadInfo: null,
    info: client.info.bind(client),
    analyses: client.analyses.bind(client),
    /** @type {typeof client.analysis} */
    call: (name, request) => client.analysis(name, request),
    /** @type {typeof client.analysis} */
    start: (name, request, progress) => client.analysis(name, request, progress),
    tokenize: client.tokenize.bind(client),
    run: client.run.bind(client),
    generate: client.generate.bind(client),
    logitLens: client.logitLens.bind(client),
    dla: client.dla.bind(client),
    detectHeads: client.detectHeads.bind(client),
    patch: client.patch.bind(client),
    ablate: client.ablate.bind(client),
    minimalPair: client.minimalPair.bind(client),
    neuronView: client.neuronView.bind(client),
    attribute: client.attribute.bind(client),
    gradient: client.gradient.bind(client),
    attributionPatching: client.attributionPatching.bind(client),
    steeringDirection: client.steeringDirection.bind(client),
    steer: client.steer.bind(client),
    steerGenerate: client.steerGenerate.bind(client),
    loadSae: client.loadSae.bind(client),
    saeFeatures: client.saeFeatures.bind(client),
    saeFeatureInfo: client.saeFeatureInfo.bind(client),
    saeClamp: client.saeClamp.bind(client),
    trainSae: client.trainSae.bind(client),
    trainProbes: client.trainProbes.bind(client),
    tokenTexts: client.tokenTexts.bind(client),
    load: client.load.bind(client),
    debugPanic: client.debugPanic.bind(client),
  };
}

/** @typedef {ReturnType<typeof createApi>} Loupe */
