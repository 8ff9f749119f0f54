// Generated from the Rust types by crates/interp/src/declarations.rs (ts-rs): do not edit.
// Regenerate: LOUPE_BLESS=1 cargo test -p loupe-interp --test declarations

export type AblateRequest = { prompt: string, component: Component, method: AblationMethod, metric: Metric, reference?: string, references?: Array<string>, prependBos?: boolean, };

export type AblateResult = { intervention: Intervention, cleanMetric: number, ablatedMetric: number, 
/**
 * KL(clean ‖ ablated) of the next-token distribution at the last position, in nats.
 */
kl: number, topClean: Array<TopToken>, topAblated: Array<TopToken>, };

export type AblationMethod = "zero" | "mean" | "resample" | "mean_reference";

export type ActiveFeature = { feature: number, activation: number, };

export type AdaptiveReport = { converged: boolean, tolerance: number, budget: number, 
/**
 * Σ|e| / |delta|: a bound on the completeness error that no cancellation can hide.
 */
localError: number, };

export type Architecture = "standard" | "jumprelu";

export type AttributeRequest = { prompt: string, target: Target, method: Method, params?: AttributionParams, prependBos?: boolean, };

export type Attribution = { tokens: Array<TokenInfo>, method: Method, target: ResolvedTarget, 
/**
 * f(x): the target on the unmodified prompt.
 */
value: number, signed: Array<number>, l2: Array<number>, integratedGradients: IgReport | null, 
/**
 * SmoothGrad's σ, in embedding units.
 */
sigma: number | null, 
/**
 * Forward (+ backward) passes spent, one per input row.
 */
passes: number, done: number, total: number, finished: boolean, };

export type AttributionParams = { 
/**
 * IG: quadrature steps (fixed rule).
 */
steps?: number, baseline?: Baseline, 
/**
 * IG: the baseline keeps the first token (e.g. BOS) as it is, so it gets no attribution.
 */
keepFirst?: boolean, 
/**
 * IG: refine the path where the integrand changes fastest (see `integrated_gradients`).
 */
adaptive?: boolean, 
/**
 * IG adaptive: target completeness error.
 */
tolerance?: number, 
/**
 * IG adaptive: most forward + backward passes to spend.
 */
maxPasses?: number, 
/**
 * SmoothGrad.
 */
samples?: number, noise?: number, seed?: number, 
/**
 * Occlusion: tokens per window, and whether the window is removed rather than replaced.
 */
window?: number, remove?: boolean, 
/**
 * Inputs per batched pass; by default about 256 tokens' worth.
 */
batch?: number, };

export type AttributionPatchRequest = { clean: string, corrupted: string, metric: Metric, prependBos?: boolean, };

export type AttributionPatchResult = { cleanTokens: Array<TokenInfo>, corruptedTokens: Array<TokenInfo>, cleanMetric: number, corruptedMetric: number, 
/**
 * `[n_layers][positions]` estimates, normalised, for `patching`'s sites of the same names.
 */
residPre: Array<Array<number>>, attnOut: Array<Array<number>>, mlpOut: Array<Array<number>>, 
/**
 * `[n_layers][heads]`: one head's z at every position.
 */
headZ: Array<Array<number>>, };

/**
 * What replaces the input: for IG the path's start, for occlusion the occluding embedding.
 *
 * The zero embedding is a poor IG baseline for RMSNorm models: normalisation makes f(αx)
 * the same for every α not tiny, so the whole change happens in a sliver near α = 0 that
 * few quadrature steps see. The default is `<|endoftext|>`'s embedding (the issue's choice).
 */
export type Baseline = { "type": "zero" } | { "type": "token", token: TokenRef, };

export type ClampRequest = { feature: number, value: number, 
/**
 * Token positions to clamp at; empty: every position.
 */
positions?: Array<number>, };

export type Component = { "kind": "head", layer: number, head: number, } | { "kind": "mlp", layer: number, } | { "kind": "neuron", layer: number, index: number, };

export type DetectRequest = { prompt: string, 
/**
 * Length of the random sequence that is repeated (default 20).
 */
randomLength?: number, 
/**
 * Seed of the random sequence (SplitMix64), or the ids themselves.
 */
seed?: number, randomIds?: Array<number>, prependBos?: boolean, };

export type DetectResult = { 
/**
 * `[n_layers][n_heads]` each.
 */
previousToken: Array<Array<number>>, duplicateToken: Array<Array<number>>, induction: Array<Array<number>>, randomIds: Array<number>, };

export type Direction = { layer: number, hook: string, 
/**
 * mean(positive) − mean(negative), `[d_model]`.
 */
vector: Array<number>, norm: number, 
/**
 * The layer's typical residual norm over these prompts, for scale.
 */
typicalNorm: number, };

export type DirectionRequest = { positive: Array<string>, negative: Array<string>, layer: number, reduce?: Reduce, prependBos?: boolean, };

export type DlaRequest = { prompt: string, 
/**
 * The token whose logit is explained…
 */
token: TokenRef, 
/**
 * …minus this one's, if given (a logit difference).
 */
minus?: TokenRef, 
/**
 * Position to explain; negative counts from the end (default −1, the last).
 */
position?: number, prependBos?: boolean, };

export type DlaResult = { tokens: Array<TokenInfo>, position: number, token: TokenInfo, minus: TokenInfo | null, 
/**
 * The logit (difference) read from the final residual through the final norm and the
 * f32 unembedding rows: what the parts decompose, so they sum to it up to float error.
 */
total: number, 
/**
 * embed + Σ heads + Σ mlp.
 */
sumOfParts: number, 
/**
 * The model's own logit (difference). Equal to `total` in f32 mode; in quantized modes
 * the unembedding also rounds its input to 8 bits, which moves it by a few 0.01.
 */
modelTotal: number, embed: number, 
/**
 * `[n_layers][n_heads]`
 */
heads: Array<Array<number>>, 
/**
 * `[n_layers]`
 */
mlp: Array<number>, };

export type FeatureInfo = { feature: number, decoderNorm: number, 
/**
 * Tokens the decoder direction promotes / suppresses directly (logit change per unit
 * of activation, in `prob`).
 */
promoted: Array<TopToken>, suppressed: Array<TopToken>, 
/**
 * W_dec[i], `[d_in]`: usable as a steering direction at the SAE's hook.
 */
decoder: Array<number>, };

export type FeatureInfoRequest = { feature: number, topK?: number, };

export type FeaturesRequest = { prompt: string, topK?: number, prependBos?: boolean, };

export type FeaturesResult = { tokens: Array<TokenInfo>, hook: string, 
/**
 * Per position, the strongest active features, strongest first.
 */
top: Array<Array<ActiveFeature>>, 
/**
 * Active features per position.
 */
l0: Array<number>, 
/**
 * Per position, ‖x − x̂‖² / ‖x‖².
 */
relativeError: Array<number>, };

export type GenerateRequest = { prompt?: string, maxTokens?: number, temperature?: number, topP?: number, seed?: number, prependBos?: boolean, 
/**
 * Stop at the end-of-turn token (`<|im_end|>`/EOS).
 */
stopAtEos?: boolean, interventions?: Array<Intervention>, };

export type GradientOutput = { tokens: Array<TokenInfo>, target: ResolvedTarget, value: number, };

/**
 * Gradient of a target with respect to hooked activations (`loupe grad`, `window.loupe.gradient`).
 */
export type GradientRequest = { prompt: string, target: Target, 
/**
 * Hook names or globs (`blocks.*.hook_resid_pre`); `hook_embed` is the input.
 */
hooks: Array<string>, prependBos?: boolean, };

export type IgReport = { baselineValue: number, 
/**
 * Σ attributions.
 */
sum: number, 
/**
 * f(x) − f(baseline).
 */
delta: number, 
/**
 * |sum − delta| / |delta|.
 */
completenessError: number, rule: string, 
/**
 * Path positions evaluated, ascending, with f and the integrand ∂f/∂x · (x − x′) there.
 */
alphas: Array<number>, pathValues: Array<number>, integrand: Array<number>, adaptive: AdaptiveReport | null, };

export type Intervention = { 
/**
 * A TransformerLens hook name or a glob over them.
 */
hook: string, 
/**
 * Absolute token positions (query positions for attention patterns); all if absent.
 */
positions?: Array<number> | null, 
/**
 * Head indices, for hooks with a head axis; all if absent.
 */
heads?: Array<number> | null, 
/**
 * Indices along the last axis (e.g. MLP neurons of `mlp.hook_post`); all if absent.
 */
features?: Array<number> | null, op: InterventionOp, };

export type InterventionOp = { "type": "zero" } | { "type": "mean" } | { "type": "scale", factor: number, } | { "type": "add", vector: Array<number>, } | { "type": "set", vector: Array<number>, } | { "type": "clamp_projection", direction: Array<number>, value: number, } | { "type": "remove_projection", direction: Array<number>, } | { "type": "clamp_feature", encoder: Array<number>, encoder_bias: number, input_bias: Array<number>, threshold: number, decoder: Array<number>, value: number, } | { "type": "replace", shape: Array<number>, values: Array<number>, };

export type LayerProbe = { layer: number, trainAccuracy: number, testAccuracy: number, 
/**
 * Weights in residual-stream units (`[d_model]`, applied to the raw activation) and bias.
 */
direction: Array<number>, bias: number, 
/**
 * mean(first set) − mean(second set) over the training prompts, `[d_model]`: the
 * direction to steer with.
 */
massMeanDirection: Array<number>, };

export type LensCell = { top: Array<TopToken>, 
/**
 * Log-probability and rank (tokens with a larger logit) of the target, when asked for.
 */
targetLogprob: number | null, targetRank: number | null, };

export type LensRequest = { prompt?: string, target?: TokenRef, topK?: number, prependBos?: boolean, };

export type LensResult = { tokens: Array<TokenInfo>, 
/**
 * Row labels: `blocks.L.hook_resid_pre` for every L, then the last `hook_resid_post`.
 */
rows: Array<string>, 
/**
 * `cells[row][position]`
 */
cells: Array<Array<LensCell>>, target: TokenInfo | null, };

export type Method = "saliency" | "grad_x_input" | "integrated_gradients" | "smoothgrad" | "occlusion";

export type Metric = { "type": "logit_diff", token: TokenRef, minus: TokenRef, } | { "type": "logprob", token: TokenRef, };

export type NeuronRequest = { prompt: string, layer: number, neuron: number, topK?: number, prependBos?: boolean, };

export type NeuronResult = { tokens: Array<TokenInfo>, 
/**
 * The activation at every position.
 */
activations: Array<number>, 
/**
 * Largest and smallest entries of W_U (w_ln ⊙ W_down[:, n]); `prob` holds the value.
 */
promoted: Array<TopToken>, suppressed: Array<TopToken>, };

export type PairRequest = { a: string, b: string, topK?: number, prependBos?: boolean, };

export type PairResult = { tokensA: Array<TokenInfo>, tokensB: Array<TokenInfo>, topA: Array<TopToken>, topB: Array<TopToken>, 
/**
 * The tokens whose probability rose most from a to b (prob = p_b − p_a), then fell most.
 */
rose: Array<TopToken>, fell: Array<TopToken>, klAb: number, klBa: number, 
/**
 * Per layer, at each prompt's last position, of `blocks.L.hook_resid_post`:
 * ‖r_a − r_b‖ / ‖r_a‖ and the cosine similarity.
 */
relDiff: Array<number>, cosine: Array<number>, };

export type PatchRequest = { clean: string, corrupted: string, metric: Metric, site: PatchSite, prependBos?: boolean, };

export type PatchResult = { cleanTokens: Array<TokenInfo>, corruptedTokens: Array<TokenInfo>, site: PatchSite, cleanMetric: number, corruptedMetric: number, 
/**
 * `[n_layers][positions]` (`[n_layers][heads]` for `head_z`, `[n_layers][heads × positions]`
 * head-major for `head_z_pos`), normalised; rows not yet computed are absent.
 */
values: Array<Array<number>>, layersDone: number, nLayers: number, };

export type PatchSite = "resid_pre" | "attn_out" | "mlp_out" | "head_z" | "head_z_pos";

export type ProbeRequest = { 
/**
 * Prompts with the concept (label 1) and without (label 0).
 */
positive?: Array<string>, negative?: Array<string>, 
/**
 * Layers to probe; all if empty.
 */
layers?: Array<number>, reduce?: Reduce, 
/**
 * Fraction of each class held out for testing (at least one prompt per class).
 */
testFraction?: number, l2?: number, iterations?: number, seed?: number, prependBos?: boolean, };

export type ProbeResult = { layers: Array<LayerProbe>, trainSize: number, testSize: number, 
/**
 * Which prompts were held out: indices into positive ++ negative.
 */
testIndices: Array<number>, };

export type Reduce = "last" | "mean";

/**
 * The target with token ids and an absolute position, as reported back.
 */
export type ResolvedTarget = { kind: TargetKind, token: TokenInfo, minus: TokenInfo | null, position: number, };

export type RunOutput = { tokens: Array<TokenInfo>, 
/**
 * Top-k next tokens at the last position.
 */
top: Array<TopToken>, };

export type RunRequest = { prompt?: string, 
/**
 * Hook names or globs to capture.
 */
capture?: Array<string>, topK?: number, prependBos?: boolean, interventions?: Array<Intervention>, 
/**
 * Logits at every position (`loupe capture` exports them). Otherwise only the last
 * position goes through the final norm and the unembedding — a fifth of a 64-token
 * forward is the 49152-row unembedding, and the top-k needs one row of it.
 */
allLogits?: boolean, };

/**
 * The `cfg.json` keys Loupe reads; others are ignored.
 */
export type SaeConfig = { d_in: number, d_sae: number, hook_name: string, architecture?: Architecture, apply_b_dec_to_input?: boolean, normalize_activations?: string, };

export type SaeTrainProgress = { tokens: number, step: number, steps: number, history: Array<TrainPoint>, finished: boolean, };

export type SaeTrainRequest = { prompts?: Array<string>, hook?: string, dSae?: number, 
/**
 * λ, the sparsity penalty (on inputs scaled to unit mean norm).
 */
l1?: number, steps?: number, batch?: number, lr?: number, seed?: number, prependBos?: boolean, };

export type SteerMode = { "type": "add", strength: number, } | { "type": "clamp", value: number, } | { "type": "ablate" };

export type SteerRequest = { prompt: string, steering: Steering, topK?: number, prependBos?: boolean, };

export type SteerResult = { tokens: Array<TokenInfo>, 
/**
 * The steering as interventions (pass them to `generate` for the steered continuation).
 */
interventions: Array<Intervention>, 
/**
 * Typical residual norm at each steered layer (what strengths are relative to).
 */
typicalNorms: Array<number>, topBase: Array<TopToken>, topSteered: Array<TopToken>, 
/**
 * Tokens whose next-token probability rose / fell most (value = p_steered − p_base).
 */
rose: Array<TopToken>, fell: Array<TopToken>, 
/**
 * KL(base ‖ steered) of the next-token distributions.
 */
kl: number, };

export type Steering = { direction: Array<number>, layers: Array<number>, 
/**
 * Absolute positions; all (including generated tokens) if absent.
 */
positions?: Array<number>, mode: SteerMode, };

/**
 * What is attributed: read from the logits at `position` (the prediction of the token after
 * it; −1 = the last position, the default).
 */
export type Target = { type: TargetKind, token: TokenRef, minus?: TokenRef, position?: number, };

export type TargetKind = "logit" | "logprob" | "logit_diff";

/**
 * One token of a prompt: its id and the exact bytes it stands for, as text.
 */
export type TokenInfo = { id: number, text: string, };

export type TokenRef = number | string;

/**
 * A token with a value: a probability in top-k lists, a change in probability in
 * `rose`/`fell` lists, a logit change per unit in direct-effect lists.
 */
export type TopToken = { token: string, id: number, prob: number, };

export type TrainPoint = { step: number, 
/**
 * On all the training tokens: 1 − Σ‖x − x̂‖² / Σ‖x − mean x‖².
 */
explainedVariance: number, 
/**
 * Mean active features per token.
 */
l0: number, };

/**
 * What SAE training resolves with: the trained SAE's config (it is now the loaded one)
 * and the final progress.
 */
export type TrainedSae = { cfg: SaeConfig, progress: SaeTrainProgress, };

/** Activations by hook name, as the page receives them beside a result. */
export type Activations = { [hook: string]: { shape: Array<number>, data: Float32Array } };

/** The one-shot analyses: `loupe.call(name, request)` resolves with `result`. */
export interface Calls {
  run: { request: RunRequest, result: RunOutput & { activations: Activations } };
  logitLens: { request: LensRequest, result: LensResult };
  dla: { request: DlaRequest, result: DlaResult };
  gradient: { request: GradientRequest, result: GradientOutput & { grads: Activations } };
  attributionPatching: { request: AttributionPatchRequest, result: AttributionPatchResult };
  detectHeads: { request: DetectRequest, result: DetectResult };
  ablate: { request: AblateRequest, result: AblateResult };
  minimalPair: { request: PairRequest, result: PairResult };
  neuronView: { request: NeuronRequest, result: NeuronResult };
  steeringDirection: { request: DirectionRequest, result: Direction };
  steer: { request: SteerRequest, result: SteerResult };
  saeFeatures: { request: FeaturesRequest, result: FeaturesResult };
  saeFeatureInfo: { request: FeatureInfoRequest, result: FeatureInfo };
  saeClamp: { request: ClampRequest, result: Intervention };
  trainProbes: { request: ProbeRequest, result: ProbeResult };
}

/** The stepped analyses: `loupe.start(name, request, {onProgress})` reports `partial` after
 *  each step and resolves with `result` (with `stopped: true` when stopped early). */
export interface Jobs {
  attribute: { request: AttributeRequest, partial: Attribution, result: Attribution & { stopped: boolean } };
  patch: { request: PatchRequest, partial: PatchResult, result: PatchResult & { stopped: boolean } };
  trainSae: { request: SaeTrainRequest, partial: SaeTrainProgress, result: TrainedSae & { stopped: boolean } };
}

export type Analyses = Calls & Jobs;
