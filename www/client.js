// The page's side of the worker protocol (./protocol.js): one promise per request, token
// streaming, and recovery. When the wasm instance dies (a Rust panic arrives as `fatal`),
// every pending call is rejected with the panic message, the worker is replaced, and the
// last model is loaded again (from the Cache API, so this takes seconds, not a download),
// with the last SAE loaded from a URL or files; an SAE trained in the page cannot be
// restored, and hooks.onSaeLost says so.

import { Command, Status, Phase } from './protocol.js';

// Request and result types are generated from the Rust types (www/types/analyses.d.ts).
/** @typedef {import('./types/analyses').Calls} Calls */
/** @typedef {import('./types/analyses').Jobs} Jobs */
/** @typedef {import('./types/analyses').Analyses} Analyses */

/** More fatal errors than this within RESTART_WINDOW_MS means restarting does not help. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

export class ModelClient {
  /**
   * @param {object} hooks  all optional:
   *   onProgress({phase, loaded, total})  load progress of the current model
   *   onLoaded({info, source, bytes, ms, url, weights})
   *   onLoadFailed(Error, {url, weights})
   *   onFatal(message, willRestart)       the worker died; pending calls are being rejected
   *   onSaeLost(message)                  the restarted worker has no SAE: the one loaded was
   *                                       trained in the page and died with the old worker
   */
  constructor(hooks = {}) {
    this.hooks = hooks;
    this.nextId = 1;
    /** id → {command, resolve, reject, onToken, tokens, args} */
    this.pending = new Map();
    this.lastLoad = null;
    /** The last SAE loaded successfully ({url} or {cfgText, weights}), to load again after a crash. */
    this.lastSae = null;
    /** The loaded SAE was trained in the page (trainSae): it cannot be loaded again after a crash. */
    this.trainedSae = false;
    this.restarts = [];
    /** @type {Worker} the model worker; after a fatal error that is not restarted, a stand-in
     *  with postMessage and terminate only (see die) */
    this.worker = null;
    this.start();
  }

  start() {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event) => this.receive(event.data);
    // Fires when worker.js or loupe-web.js cannot be fetched or parsed, or on an uncaught
    // error in the worker: either way the worker is unusable.
    this.worker.onerror = (event) => {
      event.preventDefault();
      const detail = event.message ? `: ${event.message}` : '';
      this.die(
        `The model worker failed to start or crashed${detail}. ` +
          'Check that the site was built (trunk build) and that www/worker.js and loupe-web.js are served.',
        false,
      );
    };
    this.worker.onmessageerror = () => this.die('A message from the model worker could not be read.', true);
  }

  /** Loads a model. Resolves with its info. Only a model that loaded is remembered (the one a
   *  restart after a crash loads again), so a file that crashes the worker is never retried
   *  in a loop; when a new model fails, the previous one is loaded again. */
  load({ url, weights }) {
    const started = performance.now();
    const phases = [];
    return this.call(
      Command.Load,
      { url, weights },
      {
        onProgress: (p) => {
          if (phases.at(-1) !== p.phase) phases.push(p.phase);
          this.hooks.onProgress?.(p);
        },
      },
    ).then(
      (result) => {
        this.lastLoad = { url, weights };
        const loaded = { ...result, phases, ms: Math.round(performance.now() - started), url, weights };
        this.hooks.onLoaded?.(loaded);
        return loaded;
      },
      (error) => {
        this.hooks.onLoadFailed?.(error, { url, weights });
        // A crash restarts the worker with the previous model itself (die → replaceWorker).
        const previous = this.lastLoad;
        if (!error?.fatal && previous && (previous.url !== url || previous.weights !== weights)) {
          this.load(previous).catch(() => {}); // reported through the hooks
        }
        throw error;
      },
    );
  }

  info() {
    return this.call(Command.Info, {});
  }

  /** The registry's analyses: [{name, kind: 'call' | 'job', summary, gradients, phase?}]. */
  analyses() {
    return this.call(Command.Analyses, {});
  }

  /** Any registered analysis by name. onProgress({phase, done, total, partial}) after each
   *  step of a job (and {phase: 'prepare'} first when the gradient model is being built);
   *  returning false from it, or aborting `signal`, stops a job, which then resolves with what
   *  it finished and `stopped: true`.
   *  @template {keyof Analyses} N
   *  @param {N} name
   *  @param {Analyses[N]['request']} [options]
   *  @param {{onProgress?: (progress: any) => boolean | void, signal?: AbortSignal}} [callbacks]
   *  @returns {Promise<Analyses[N]['result']>} */
  analysis(name, options = {}, { onProgress, signal } = {}) {
    if (typeof name !== 'string' || WORKER_COMMANDS.has(name)) {
      return Promise.reject(new Error(`${JSON.stringify(name)} is not an analysis (see loupe.analyses())`));
    }
    if (name === Command.TrainSae) return this.trainSae(/** @type {Jobs['trainSae']['request']} */ (options), { onProgress, signal });
    return this.call(name, signal ? { ...options, signal } : options, { onProgress: steps(onProgress) });
  }

  /** A one-shot analysis by name, typed by its request and result.
   *  @template {keyof Calls} N
   *  @param {N} name
   *  @param {Calls[N]['request'] & {signal?: AbortSignal}} request
   *  @param {object} [hooks]
   *  @returns {Promise<Calls[N]['result']>} */
  request(name, request, hooks) {
    return this.call(name, request, hooks);
  }

  /** A stepped analysis by name: `onPartial(partial)` after each step (false stops it).
   *  @template {keyof Jobs} N
   *  @param {N} name
   *  @param {Jobs[N]['request'] & {signal?: AbortSignal}} request
   *  @param {object} [hooks]
   *  @returns {Promise<Jobs[N]['result']>} */
  job(name, request, hooks) {
    return this.call(name, request, hooks);
  }

  tokenize({ prompt, prependBos }) {
    return this.call(Command.Tokenize, { prompt, prependBos });
  }

  /** @param {Calls['run']['request']} options */
  run(options) {
    return this.request(Command.Run, options);
  }

  /** Streams each new token to onToken; returning false from onToken stops the generation
   *  and resolves with what was generated so far ({tokens, text, stopped: true}).
   *  @param {import('./types/analyses').GenerateRequest & {signal?: AbortSignal}} options
   *  @param {(token: {id: number, text: string}) => boolean | void} [onToken] */
  generate(options, onToken) {
    return this.call(Command.Generate, options, { onToken });
  }

  /** @param {Calls['logitLens']['request']} options */
  logitLens(options) {
    return this.request(Command.LogitLens, options);
  }

  /** @param {Calls['dla']['request']} options */
  dla(options) {
    return this.request(Command.Dla, options);
  }

  /** @param {Calls['detectHeads']['request']} options */
  detectHeads(options) {
    return this.request(Command.DetectHeads, options);
  }

  /** Reports the result so far to onProgress after each patched layer; returning false from
   *  onProgress stops the sweep, which then resolves with the finished layers and
   *  `stopped: true`. */
  /** @param {Jobs['patch']['request']} options
   *  @param {(partial: Jobs['patch']['partial']) => boolean | void} [onProgress] */
  patch(options, onProgress) {
    return this.job(Command.Patch, options, { onProgress: (message) => onProgress?.(message.partial) });
  }

  /** @param {Calls['ablate']['request']} options */
  ablate(options) {
    return this.request(Command.Ablate, options);
  }

  /** @param {Calls['minimalPair']['request']} options */
  minimalPair(options) {
    return this.request(Command.MinimalPair, options);
  }

  /** @param {Calls['neuronView']['request']} options */
  neuronView(options) {
    return this.request(Command.NeuronView, options);
  }

  /** Input attribution. onProgress({phase: 'prepare'}) is called once if the f32 gradient
   *  model has to be built first, then onProgress({phase: 'attribute', done, total, partial})
   *  after each batch of passes; returning false from it, or aborting `signal`, stops the run,
   *  which then resolves with the passes finished so far and `stopped: true`.
   *  @param {Jobs['attribute']['request']} options
   *  @param {{onProgress?: Function, signal?: AbortSignal}} [callbacks] */
  attribute(options, { onProgress, signal } = {}) {
    const args = signal ? { ...options, signal } : options;
    return this.job(Command.Attribute, args, { onProgress: steps(onProgress) });
  }

  /** onProgress({phase: 'prepare'}) says the f32 gradient model is being built first.
   *  @param {Calls['gradient']['request']} options
   *  @param {{onProgress?: Function}} [callbacks] */
  gradient(options, { onProgress } = {}) {
    return this.request(Command.Gradient, options, { onProgress: preparing(onProgress) });
  }

  /** onProgress({phase: 'prepare'}) says the f32 gradient model is being built first.
   *  @param {Calls['attributionPatching']['request']} options
   *  @param {{onProgress?: Function}} [callbacks] */
  attributionPatching(options, { onProgress } = {}) {
    return this.request(Command.AttributionPatching, options, { onProgress: preparing(onProgress) });
  }

  /** @param {Calls['steeringDirection']['request']} options */
  steeringDirection(options) {
    return this.request(Command.SteeringDirection, options);
  }

  /** @param {Calls['steer']['request']} options */
  steer(options) {
    return this.request(Command.Steer, options);
  }

  /** Streams the tokens of both generations to onToken(token, which), which = 'base' or
   *  'steered'; returning false from onToken (or aborting options.signal) stops both, and the
   *  call resolves with what was made so far ({base, steered, stopped: true}).
   *  @param {import('./types/analyses').GenerateRequest & {signal?: AbortSignal}} options
   *  @param {(token: {id: number, text: string}, which: 'base' | 'steered') => boolean | void} [onToken] */
  steerGenerate(options, onToken) {
    return this.call(Command.SteerGenerate, options, { onToken });
  }

  /** Loads a sparse autoencoder: {url} (a folder with cfg.json and sae_weights.safetensors,
   *  absolute or relative to the page) or {cfgText, weights: ArrayBuffer};
   *  onProgress({file, loaded, total}) during downloads.
   *  @param {{url?: string | URL, cfgText?: string, weights?: ArrayBuffer}} options
   *  @param {{onProgress?: Function}} [callbacks] */
  loadSae(options, { onProgress } = {}) {
    // A relative folder resolves against the page (the worker's own URL is www/worker.js).
    const source =
      options.url !== undefined
        ? { url: new URL(String(options.url), document.baseURI).href }
        : { cfgText: options.cfgText, weights: options.weights };
    const started = performance.now();
    return this.call(Command.LoadSae, source, {
      onProgress: (message) => void onProgress?.({ file: message.file, loaded: message.loaded, total: message.total }),
    }).then((result) => {
      this.lastSae = source;
      this.trainedSae = false;
      return { ...result, ms: Math.round(performance.now() - started) };
    });
  }

  /** Trains an SAE on options.prompts and makes it the loaded SAE. onProgress(progress) after
   *  every 20 steps, progress = {tokens, step, steps, history, finished}; returning false from
   *  it, or aborting `signal`, stops the training, which then resolves with what was trained so
   *  far (loaded all the same) and `stopped: true`.
   *  @param {Jobs['trainSae']['request']} options
   *  @param {{onProgress?: (partial: Jobs['trainSae']['partial']) => boolean | void, signal?: AbortSignal}} [callbacks] */
  trainSae(options, { onProgress, signal } = {}) {
    const args = signal ? { ...options, signal } : options;
    return this.job(Command.TrainSae, args, { onProgress: (message) => onProgress?.(message.partial) }).then((result) => {
      // It replaced whatever was loaded, and lives only in this worker's memory.
      this.lastSae = null;
      this.trainedSae = true;
      return result;
    });
  }

  /** @param {Calls['saeFeatures']['request']} options */
  saeFeatures(options) {
    return this.request(Command.SaeFeatures, options);
  }

  /** @param {Calls['saeFeatureInfo']['request']} options */
  saeFeatureInfo(options) {
    return this.request(Command.SaeFeatureInfo, options);
  }

  /** @param {Calls['saeClamp']['request']} options */
  saeClamp(options) {
    return this.request(Command.SaeClamp, options);
  }

  /** @param {Calls['trainProbes']['request']} options */
  trainProbes(options) {
    return this.request(Command.TrainProbes, options);
  }

  tokenTexts(ids) {
    return this.call(Command.TokenTexts, { ids: Array.from(ids) });
  }

  /** Tests only: makes the wasm panic, to check that panics reach the page and are survived. */
  debugPanic(message) {
    return this.call(Command.DebugPanic, { message });
  }

  /** Posts one request. `args.signal` (an AbortSignal, for generate, patch, attribute and
   *  trainSae) is kept here: aborting it asks the worker to stop at once, without waiting for
   *  the next report.
   *  @param {string} command
   *  @param {{signal?: AbortSignal, [arg: string]: any}} [args]  the request's fields
   *  @param {object} [extra]  the call's hooks (onProgress, onToken) */
  call(command, { signal, ...args } = {}, extra = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { command, args, resolve, reject, tokens: [], ...extra });
      this.worker.postMessage({ id, command, ...args });
      const stop = () => {
        const call = this.pending.get(id);
        if (call && !call.stopping) this.stop(id, call);
      };
      if (signal?.aborted) stop();
      else signal?.addEventListener('abort', stop, { once: true });
    });
  }

  receive(message) {
    if (message.status === Status.Fatal) {
      this.die(message.message, true);
      return;
    }
    const call = this.pending.get(message.id);
    if (!call) return; // a request that was stopped or rejected already
    switch (message.status) {
      case Status.Progress:
        if (call.stopping) break; // layers already reported when Stop was asked for
        if (call.onProgress?.(message) === false) this.stop(message.id, call);
        break;
      case Status.Token:
        if (call.stopping) break; // tokens already in flight when Stop was asked for
        call.tokens.push(message.token);
        if (call.onToken?.(message.token, message.which) === false) this.stop(message.id, call);
        break;
      case Status.Done:
        this.pending.delete(message.id);
        call.resolve(message.result);
        break;
      case Status.Error:
        this.pending.delete(message.id);
        call.reject(new Error(message.message));
        break;
      default:
        break;
    }
  }

  /** Asks the worker to end a generation, patching sweep, attribution or SAE training `id`
   *  after the token, layer, batch or 20 steps it is making now; the call then resolves with what was made so far and
   *  `stopped: true`. The worker checks for a stop between steps (it yields to its event loop
   *  after each one). */
  stop(id, call) {
    call.stopping = true;
    this.worker.postMessage({ command: Command.Stop, target: id });
  }

  /** The worker is gone: reject everything pending, then restart it unless that keeps failing. */
  die(message, restartable) {
    const now = performance.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    const willRestart = restartable && this.lastLoad !== null && this.restarts.length < MAX_RESTARTS;
    this.worker.terminate();
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.hooks.onFatal?.(message, willRestart);
    for (const call of pending) call.reject(Object.assign(new Error(message), { fatal: true }));
    if (willRestart) {
      this.restarts.push(now);
      this.replaceWorker();
    } else {
      // Keep answering calls, with the reason, instead of leaving them hanging forever.
      this.worker = /** @type {Worker} */ ({
        postMessage: ({ id }) => queueMicrotask(() => this.receive({ id, status: Status.Error, message })),
        terminate() {},
      });
    }
  }

  replaceWorker() {
    this.worker.terminate();
    for (const call of this.pending.values()) call.reject(new Error('The model worker was restarted.'));
    this.pending.clear();
    this.start();
    this.load(this.lastLoad).catch(() => {}); // reported through hooks.onLoadFailed
    // Served after the model (one command at a time, in order); a failure shows on first use.
    if (this.lastSae) this.loadSae(this.lastSae).catch(() => {});
    if (this.trainedSae) {
      this.trainedSae = false;
      this.hooks.onSaeLost?.(
        'The SAE trained in the page was lost when the model restarted (it lived only in the crashed worker’s memory).',
      );
    }
  }
}

/** The commands the worker serves itself; every other command is an analysis of the registry.
 *  @type {Set<string>} */
const WORKER_COMMANDS = new Set([
  Command.Load,
  Command.Analyses,
  Command.Info,
  Command.Tokenize,
  Command.Generate,
  Command.SteerGenerate,
  Command.LoadSae,
  Command.TokenTexts,
  Command.Stop,
  Command.DebugPanic,
]);

/** A progress hook for a job: {phase, done, total, partial} after each step, whose `false`
 *  stops it; the `prepare` notice before the gradient model is built cannot stop anything. */
function steps(onProgress) {
  return (message) =>
    message.phase === Phase.Prepare
      ? void onProgress?.({ phase: message.phase })
      : onProgress?.({ phase: message.phase, done: message.loaded, total: message.total, partial: message.partial });
}

/** A progress hook for calls that cannot be stopped: it passes on the phase only and never
 *  returns false (which would ask the worker to stop a call that does not listen). */
function preparing(onProgress) {
  return (message) => void onProgress?.({ phase: message.phase });
}
