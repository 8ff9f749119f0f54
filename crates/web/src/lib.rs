//! The browser binding: the only cdylib. It runs inside a Web Worker (www/worker.js) and
//! only converts types and errors; all tensor work lives in loupe-model and loupe-interp
//! (candle-wasm-examples' split between a private impl and a thin `#[wasm_bindgen]` impl).
//!
//! Large arrays cross as `Float32Array`s, never JSON. Errors become `Error(message)` here
//! and nowhere else; panics are reported through `set_panic_reporter` before the trap.

mod convert;
mod js_bytes;
mod panic;

use convert::{activations_to_js, to_js, JsResult};
// The threaded build's pool: JS calls `initThreadPool(n)` once after `init()`.
#[cfg(all(feature = "threads", target_arch = "wasm32"))]
pub use wasm_bindgen_rayon::init_thread_pool;
use loupe_interp::ablation::{ablate, AblateRequest};
use loupe_interp::attribution::{AttributeRequest, AttributionJob};
use loupe_interp::attribution_patching::{attribution_patching, AttributionPatchRequest};
use loupe_interp::gradient::{gradient, GradientRequest};
use loupe_interp::probe::{train_probes, ProbeRequest};
use loupe_interp::sae_train::{SaeTrainRequest, SaeTraining};
use loupe_interp::sae::{feature_info, sae_features, FeaturesRequest, Sae};
use loupe_interp::steering::{contrastive_direction, steer, DirectionRequest, SteerRequest};
use loupe_interp::detectors::{detect_heads, DetectRequest};
use loupe_interp::neuron::{neuron_view, NeuronRequest};
use loupe_interp::pairs::{minimal_pair, PairRequest};
use loupe_interp::dla::{direct_logit_attribution, DlaRequest};
use loupe_interp::lens::{logit_lens, LensRequest};
use loupe_interp::patching::{PatchRequest, PatchSweep};
use loupe_interp::run::{run_prompt, GenerateRequest, RunRequest, TextGeneration};
use loupe_model::{GgufFile, HookPoint, Llama, LoupeTokenizer, WeightMode};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

pub use panic::{debug_panic, set_panic_reporter};

/// Splits later work across at most `n` of the pool's threads (1: all on the calling
/// thread, as the single-threaded build runs) and returns how many that is; 1 always in
/// the single-threaded build. The benchmark alternates 1 and all in one page
/// (bench/bench-page.js).
#[wasm_bindgen(js_name = setMaxThreads)]
pub fn set_max_threads(n: usize) -> usize {
    loupe_model::parallel::set_max_threads(n)
}

/// Decoding steps taken so far on `[all the pool's threads, one thread]`: the threaded
/// build times its steps and moves them to one thread while that is faster (a busy
/// machine; `loupe_model::parallel::decode_step`). For the benchmark's report.
#[wasm_bindgen(js_name = decodeStepsTaken)]
pub fn decode_steps_taken() -> Vec<f64> {
    let (pool, one) = loupe_model::parallel::decode_steps_taken();
    vec![pool as f64, one as f64]
}

/// `performance.now()` of the worker (ms; 5 µs resolution where cross-origin isolated), the
/// clock decoding steps are timed with; 0 where there is none.
#[cfg(target_arch = "wasm32")]
fn performance_now() -> f64 {
    thread_local! {
        static NOW: Option<(JsValue, js_sys::Function)> = {
            let performance = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance")).ok();
            performance.and_then(|p| {
                let now = js_sys::Reflect::get(&p, &JsValue::from_str("now")).ok()?;
                Some((p, now.dyn_into::<js_sys::Function>().ok()?))
            })
        };
    }
    NOW.with(|now| now.as_ref().and_then(|(p, f)| f.call0(p).ok()).and_then(|t| t.as_f64()).unwrap_or(0.0))
}

/// Prompts longer than this are refused with a message: a 30-layer attention pattern over
/// more tokens would not fit comfortably in a browser tab's memory.
pub const MAX_PROMPT_TOKENS: usize = 1024;

#[wasm_bindgen]
pub struct Loupe {
    model: Rc<Llama>,
    tok: Rc<LoupeTokenizer>,
    /// The file, kept so the f32 model gradients need can be built on first use.
    file: Rc<GgufFile>,
    /// The differentiable f32 model, built lazily (about 650 MB): most sessions never need it.
    grad_model: RefCell<Option<Rc<Llama>>>,
    /// The sparse autoencoder loaded with `loadSae`, if any.
    sae: RefCell<Option<Rc<Sae>>>,
    /// The model generations use when `setFusedDecoding(false)` asked for the general path.
    general_decoding: RefCell<Option<Rc<Llama>>>,
}

/// An attribution in progress (`Loupe.startAttribution`): `step()` runs one batch of
/// forward/backward passes, so the worker can report progress and stop between batches.
#[wasm_bindgen]
pub struct Attributing {
    model: Rc<Llama>,
    job: AttributionJob,
}

/// An SAE being trained on the user's prompts (`Loupe.startSaeTraining`): `step(n)` runs n
/// optimiser steps, so the worker can report progress and stop between calls.
#[wasm_bindgen]
pub struct TrainingSae {
    training: SaeTraining,
}

#[wasm_bindgen]
impl TrainingSae {
    /// Runs up to `n` steps; returns whether steps remain.
    pub fn step(&mut self, n: usize) -> JsResult<bool> {
        Ok(self.training.step(n)?)
    }

    /// `{tokens, step, steps, history: [{step, explainedVariance, l0}], finished}`
    pub fn progress(&self) -> JsResult<JsValue> {
        to_js(&self.training.progress()?)
    }
}

#[wasm_bindgen]
impl Attributing {
    /// Runs one batch; returns whether work remains.
    pub fn step(&mut self) -> JsResult<bool> {
        Ok(self.job.step(&self.model)?)
    }

    /// `{tokens, method, target, value, signed, l2, integratedGradients?, sigma?, passes,
    /// done, total, finished}` (partial until `finished`).
    pub fn result(&self) -> JsResult<JsValue> {
        to_js(&self.job.result()?)
    }
}

/// A generation in progress (`Loupe.startGeneration`): `next()` makes one token, so the
/// worker can stream tokens and honour a Stop between any two of them.
#[wasm_bindgen]
pub struct Generation {
    model: Rc<Llama>,
    tok: Rc<LoupeTokenizer>,
    inner: TextGeneration,
    made: Vec<u32>,
}

/// An activation-patching sweep in progress: `step()` patches one layer (returns whether
/// layers remain), so the worker can report progress and cancel between layers.
#[wasm_bindgen]
pub struct Patching {
    model: Rc<Llama>,
    sweep: PatchSweep,
}

#[wasm_bindgen]
impl Patching {
    pub fn step(&mut self) -> JsResult<bool> {
        Ok(self.sweep.step(&self.model)?)
    }

    /// `{cleanTokens, corruptedTokens, site, cleanMetric, corruptedMetric, values[layer][…],
    /// layersDone, nLayers}`
    pub fn result(&self) -> JsResult<JsValue> {
        to_js(&self.sweep.result())
    }
}

#[wasm_bindgen]
impl Generation {
    /// The next token `{id, text}`, or `null` when the generation is over.
    pub fn next(&mut self) -> JsResult<JsValue> {
        match self.inner.next(&self.model, &self.tok)? {
            Some(t) => {
                self.made.push(t.id);
                to_js(&t)
            }
            None => Ok(JsValue::NULL),
        }
    }

    /// Everything made so far: `{tokens, text}`.
    pub fn result(&self) -> JsResult<JsValue> {
        to_js(&serde_json::json!({ "tokens": self.tok.token_infos(&self.made), "text": self.tok.decode(&self.made) }))
    }
}

#[wasm_bindgen]
impl Loupe {
    /// Parses a GGUF file and builds the model in the chosen weight mode
    /// (`"quantized"`, `"q8"` or `"f32"`). The bytes stay in JavaScript (see `js_bytes`); the
    /// caller must not detach their buffer while this model is alive.
    pub fn load(bytes: js_sys::Uint8Array, weights: &str) -> JsResult<Loupe> {
        panic::install();
        #[cfg(target_arch = "wasm32")]
        loupe_model::parallel::set_clock(performance_now);
        let mode: WeightMode = weights.parse()?;
        let file = GgufFile::from_source(Box::new(js_bytes::JsBytes(bytes)))?;
        let model = Llama::load(&file, mode)?;
        let tok = LoupeTokenizer::from_gguf(&file)?;
        Ok(Loupe { model: Rc::new(model), tok: Rc::new(tok), file: Rc::new(file), grad_model: RefCell::new(None), sae: RefCell::new(None), general_decoding: RefCell::new(None) })
    }

    /// A contrastive steering direction: `{layer, hook, vector, norm, typicalNorm}`.
    #[wasm_bindgen(js_name = steeringDirection)]
    pub fn steering_direction(&self, request: JsValue) -> JsResult<JsValue> {
        let req: DirectionRequest = convert::from_js(request)?;
        to_js(&contrastive_direction(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)?)
    }

    /// A steering's effect on the next token: `{tokens, interventions, typicalNorms, topBase,
    /// topSteered, rose, fell, kl}`; pass `interventions` to `startGeneration` for the steered text.
    pub fn steer(&self, request: JsValue) -> JsResult<JsValue> {
        let req: SteerRequest = convert::from_js(request)?;
        to_js(&steer(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)?)
    }

    /// Linear probes per layer: `{layers: [{layer, trainAccuracy, testAccuracy, direction, bias}],
    /// trainSize, testSize, testIndices}`.
    #[wasm_bindgen(js_name = trainProbes)]
    pub fn train_probes(&self, request: JsValue) -> JsResult<JsValue> {
        let req: ProbeRequest = convert::from_js(request)?;
        to_js(&train_probes(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)?)
    }

    /// Loads a sparse autoencoder in SAELens format (the text of `cfg.json` and the bytes of
    /// its safetensors file), checked against this model: `{cfg}`.
    #[wasm_bindgen(js_name = loadSae)]
    pub fn load_sae(&self, cfg_json: &str, weights: Vec<u8>) -> JsResult<JsValue> {
        let sae = Sae::load(cfg_json, &weights, &self.model.cfg)?;
        let cfg = to_js(&serde_json::json!({ "cfg": sae.cfg }))?;
        *self.sae.borrow_mut() = Some(Rc::new(sae));
        Ok(cfg)
    }

    fn loaded_sae(&self) -> JsResult<Rc<Sae>> {
        self.sae.borrow().clone().ok_or_else(|| JsError::new("no sparse autoencoder is loaded (loadSae first)"))
    }

    /// Starts training a small SAE on the user's prompts (activations from the page's model):
    /// `{prompts, hook?, dSae?, l1?, steps?, batch?, lr?, seed?}`; see `TrainingSae`.
    #[wasm_bindgen(js_name = startSaeTraining)]
    pub fn start_sae_training(&self, request: JsValue) -> JsResult<TrainingSae> {
        let req: SaeTrainRequest = convert::from_js(request)?;
        Ok(TrainingSae { training: SaeTraining::start(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)? })
    }

    /// Makes the SAE trained so far the loaded one (for `saeFeatures`, `saeClamp`, …): `{cfg}`.
    #[wasm_bindgen(js_name = useTrainedSae)]
    pub fn use_trained_sae(&self, training: &TrainingSae) -> JsResult<JsValue> {
        let sae = training.training.sae()?;
        let cfg = to_js(&serde_json::json!({ "cfg": sae.cfg }))?;
        *self.sae.borrow_mut() = Some(Rc::new(sae));
        Ok(cfg)
    }

    /// SAE features per token: `{tokens, hook, top[pos]: [{feature, activation}], l0, relativeError}`.
    #[wasm_bindgen(js_name = saeFeatures)]
    pub fn sae_features(&self, request: JsValue) -> JsResult<JsValue> {
        let req: FeaturesRequest = convert::from_js(request)?;
        to_js(&sae_features(&self.model, &self.tok, &*self.loaded_sae()?, &req, MAX_PROMPT_TOKENS)?.0)
    }

    /// What one feature writes: `{feature, decoderNorm, promoted, suppressed}`.
    #[wasm_bindgen(js_name = saeFeatureInfo)]
    pub fn sae_feature_info(&self, feature: usize, top_k: usize) -> JsResult<JsValue> {
        to_js(&feature_info(&self.model, &self.tok, &*self.loaded_sae()?, feature, top_k)?)
    }

    /// The intervention that clamps a feature to `value` (at `positions`, or all when empty):
    /// pass it to `startGeneration`/`run` to steer with the feature.
    #[wasm_bindgen(js_name = saeClamp)]
    pub fn sae_clamp(&self, feature: usize, value: f32, positions: Vec<usize>) -> JsResult<JsValue> {
        let positions = (!positions.is_empty()).then_some(positions);
        to_js(&self.loaded_sae()?.clamp_intervention(feature, value, positions)?)
    }

    /// Whether the differentiable model is built (the first gradient request builds it).
    #[wasm_bindgen(js_name = hasGradientModel)]
    pub fn has_gradient_model(&self) -> bool {
        self.grad_model.borrow().is_some()
    }

    fn gradient_model(&self) -> JsResult<Rc<Llama>> {
        if let Some(m) = self.grad_model.borrow().as_ref() {
            return Ok(m.clone());
        }
        let model = match self.model.mode {
            WeightMode::F32 => self.model.differentiable()?,
            _ => Llama::load(&self.file, WeightMode::F32)?.differentiable()?,
        };
        let model = Rc::new(model);
        *self.grad_model.borrow_mut() = Some(model.clone());
        Ok(model)
    }

    /// Starts an input attribution (saliency, gradient × input, Integrated Gradients,
    /// SmoothGrad, occlusion) on the f32 differentiable model; see `Attributing`.
    #[wasm_bindgen(js_name = startAttribution)]
    pub fn start_attribution(&self, request: JsValue) -> JsResult<Attributing> {
        let req: AttributeRequest = convert::from_js(request)?;
        let model = self.gradient_model()?;
        let job = AttributionJob::start(&model, &self.tok, &req, MAX_PROMPT_TOKENS)?;
        Ok(Attributing { model, job })
    }

    /// Gradient of a target with respect to hooked activations:
    /// `{tokens, target, value, grads: {name: {shape, data: Float32Array}}}`.
    pub fn gradient(&self, request: JsValue) -> JsResult<JsValue> {
        let req: GradientRequest = convert::from_js(request)?;
        let model = self.gradient_model()?;
        let out = gradient(&model, &self.tok, &req, MAX_PROMPT_TOKENS)?;
        let result = to_js(&serde_json::json!({ "tokens": out.tokens, "target": out.target, "value": out.value }))?;
        js_sys::Reflect::set(&result, &"grads".into(), &activations_to_js(&out.grads)?)
            .map_err(|_| JsError::new("could not build the result object"))?;
        Ok(result)
    }

    /// Attribution patching: `{cleanTokens, corruptedTokens, cleanMetric, corruptedMetric,
    /// residPre[layer][pos], attnOut, mlpOut, headZ[layer][head]}`, normalised as patching is.
    #[wasm_bindgen(js_name = attributionPatching)]
    pub fn attribution_patching(&self, request: JsValue) -> JsResult<JsValue> {
        let req: AttributionPatchRequest = convert::from_js(request)?;
        let model = self.gradient_model()?;
        to_js(&attribution_patching(&model, &self.tok, &req, MAX_PROMPT_TOKENS)?)
    }

    /// `{config, weights, hooks: [name], maxPromptTokens}`
    pub fn info(&self) -> JsResult<JsValue> {
        let hooks: Vec<String> = HookPoint::all(self.model.cfg.n_layers).iter().map(|h| h.to_string()).collect();
        to_js(&serde_json::json!({
            "config": self.model.cfg,
            "weights": self.model.mode,
            "hooks": hooks,
            "maxPromptTokens": MAX_PROMPT_TOKENS,
            "threads": loupe_model::parallel::threads(),
            // Which SIMD the running build was compiled for (scripts/build-variants.sh).
            "simd": if cfg!(target_feature = "relaxed-simd") { "relaxed" } else { "simd128" },
        }))
    }

    /// `[{id, text}]`
    pub fn tokenize(&self, prompt: &str, prepend_bos: bool) -> JsResult<JsValue> {
        let ids = self.tok.encode(prompt, prepend_bos)?;
        to_js(&self.tok.token_infos(&ids))
    }

    /// The text of each token id (`\xNN` for a partial UTF-8 byte), e.g. for the token ids of
    /// an SAE dashboard's contexts: `[text]`.
    #[wasm_bindgen(js_name = tokenTexts)]
    pub fn token_texts(&self, ids: Vec<u32>) -> JsResult<JsValue> {
        let vocab = self.tok.vocab_size();
        if let Some(bad) = ids.iter().find(|&&i| i as usize >= vocab) {
            return Err(JsError::new(&format!("token id {bad} is outside the vocabulary ({vocab})")));
        }
        to_js(&ids.iter().map(|&i| self.tok.token_text(i)).collect::<Vec<_>>())
    }

    /// `{tokens, top, activations: {name: {shape, data: Float32Array}}}`
    pub fn run(&self, request: JsValue) -> JsResult<JsValue> {
        let req: RunRequest = convert::from_js(request)?;
        let out = run_prompt(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)?;
        let result = to_js(&serde_json::json!({ "tokens": out.tokens, "top": out.top }))?;
        js_sys::Reflect::set(&result, &"activations".into(), &activations_to_js(&out.cache)?)
            .map_err(|_| JsError::new("could not build the result object"))?;
        Ok(result)
    }

    /// Logit lens: `{tokens, rows, cells[row][pos]: {top, targetLogprob?, targetRank?}, target}`.
    #[wasm_bindgen(js_name = logitLens)]
    pub fn logit_lens(&self, request: JsValue) -> JsResult<JsValue> {
        let req: LensRequest = convert::from_js(request)?;
        to_js(&logit_lens(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)?)
    }

    /// Direct logit attribution: `{tokens, position, token, minus, total, sumOfParts, embed,
    /// heads[layer][head], mlp[layer]}`.
    pub fn dla(&self, request: JsValue) -> JsResult<JsValue> {
        let req: DlaRequest = convert::from_js(request)?;
        to_js(&direct_logit_attribution(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)?)
    }

    /// Head detector scores: `{previousToken, duplicateToken, induction}` as `[layer][head]`.
    #[wasm_bindgen(js_name = detectHeads)]
    pub fn detect_heads(&self, request: JsValue) -> JsResult<JsValue> {
        let req: DetectRequest = convert::from_js(request)?;
        to_js(&detect_heads(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)?)
    }

    /// Ablates one component: `{intervention, cleanMetric, ablatedMetric, kl, topClean, topAblated}`.
    pub fn ablate(&self, request: JsValue) -> JsResult<JsValue> {
        let req: AblateRequest = convert::from_js(request)?;
        to_js(&ablate(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)?)
    }

    /// Minimal pair: `{tokensA, tokensB, topA, topB, rose, fell, klAb, klBa, relDiff, cosine}`.
    #[wasm_bindgen(js_name = minimalPair)]
    pub fn minimal_pair(&self, request: JsValue) -> JsResult<JsValue> {
        let req: PairRequest = convert::from_js(request)?;
        to_js(&minimal_pair(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)?)
    }

    /// Neuron view: `{tokens, activations, promoted, suppressed}`.
    #[wasm_bindgen(js_name = neuronView)]
    pub fn neuron_view(&self, request: JsValue) -> JsResult<JsValue> {
        let req: NeuronRequest = convert::from_js(request)?;
        to_js(&neuron_view(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)?)
    }

    /// Starts an activation-patching sweep; see `Patching`.
    #[wasm_bindgen(js_name = startPatching)]
    pub fn start_patching(&self, request: JsValue) -> JsResult<Patching> {
        let req: PatchRequest = convert::from_js(request)?;
        let sweep = PatchSweep::start(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS)?;
        Ok(Patching { model: self.model.clone(), sweep })
    }

    /// Starts a generation; see `Generation`.
    #[wasm_bindgen(js_name = startGeneration)]
    pub fn start_generation(&self, request: JsValue) -> JsResult<Generation> {
        let req: GenerateRequest = convert::from_js(request)?;
        let model = self.general_decoding.borrow().clone().unwrap_or_else(|| self.model.clone());
        let inner = TextGeneration::start(&model, &self.tok, &req, MAX_PROMPT_TOKENS)?;
        Ok(Generation { model, tok: self.tok.clone(), inner, made: Vec::new() })
    }

    /// Whether generated tokens take the fused decoding step (the default) or the general
    /// path it replaces (`loupe_model::llama::decode`): for measuring one against the other
    /// (bench/bench-page.js). Both make the same text up to float rounding (a few sums run in another order).
    #[wasm_bindgen(js_name = setFusedDecoding)]
    pub fn set_fused_decoding(&self, on: bool) {
        *self.general_decoding.borrow_mut() = (!on).then(|| Rc::new((*self.model).clone().with_fused_decoding(false)));
    }

    /// Streams each new token `{id, text}` to `on_token` (return `false` to stop) and
    /// returns `{tokens, text}`.
    pub fn generate(&self, request: JsValue, on_token: &js_sys::Function) -> JsResult<JsValue> {
        let mut generation = self.start_generation(request)?;
        loop {
            let token = generation.next()?;
            if token.is_null() {
                break;
            }
            let keep_going = on_token
                .call1(&JsValue::NULL, &token)
                .map_err(|e| JsError::new(&format!("onToken threw: {}", convert::js_error_message(&e))))?;
            if keep_going.as_bool() == Some(false) {
                break;
            }
        }
        generation.result()
    }
}
