//! The browser binding: the only cdylib. It runs inside a Web Worker (www/worker.js) and
//! only converts types and errors; all tensor work lives in loupe-model and loupe-interp
//! (candle-wasm-examples' split between a private impl and a thin `#[wasm_bindgen]` impl).
//!
//! Large arrays cross as `Float32Array`s, never JSON. Errors become `Error(message)` here
//! and nowhere else; panics are reported through `set_panic_reporter` before the trap.

mod convert;
mod js_bytes;
mod panic;
mod registry;

use convert::{to_js, JsResult};
// The threaded build's pool: JS calls `initThreadPool(n)` once after `init()`.
use loupe_interp::registry::Progress;
use loupe_interp::run::{GenerateRequest, TextGeneration};
use loupe_interp::sae::Sae;
use loupe_interp::{Limits, Session};
use loupe_model::{GgufFile, HookPoint, Llama, LoupeTokenizer, WeightMode};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
#[cfg(all(feature = "threads", target_arch = "wasm32"))]
pub use wasm_bindgen_rayon::init_thread_pool;

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
    /// Model, tokenizer, limits, the lazily built differentiable copy and the loaded SAE.
    session: Rc<Session>,
    /// The model generations use when `setFusedDecoding(false)` asked for the general path.
    general_decoding: RefCell<Option<Rc<Llama>>>,
}

/// A stepped analysis in progress (`Loupe.start`): `step()` runs one step (a layer, a batch
/// of passes, 20 optimiser steps), so the worker can report progress and stop between steps.
#[wasm_bindgen]
pub struct Job {
    session: Rc<Session>,
    inner: Box<dyn registry::ErasedJob>,
}

#[wasm_bindgen]
impl Job {
    /// Runs one step; returns whether steps remain.
    pub fn step(&mut self) -> JsResult<bool> {
        self.inner.step(&self.session)
    }

    /// `{done, total}` in the job's own units (layers, passes, optimiser steps).
    pub fn progress(&self) -> JsResult<JsValue> {
        let Progress { done, total } = self.inner.progress();
        to_js(&serde_json::json!({ "done": done, "total": total }))
    }

    /// The result so far, in the final result's shape.
    pub fn partial(&self) -> JsResult<JsValue> {
        self.inner.partial(&self.session)
    }

    /// Ends the job (finished or stopped) and returns what it resolves with.
    pub fn finish(&self) -> JsResult<JsValue> {
        self.inner.finish(&self.session)
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

#[wasm_bindgen]
impl Generation {
    /// The next token `{id, text}`, or `null` when the generation is over.
    #[allow(clippy::should_implement_trait)] // the JS method's name; JS has no Iterator to implement
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
        let session = Session::new(model, tok, Limits { max_prompt_tokens: MAX_PROMPT_TOKENS }).with_file(Rc::new(file));
        Ok(Loupe { session: Rc::new(session), general_decoding: RefCell::new(None) })
    }

    /// Every analysis the registry holds: `[{name, kind: 'call' | 'job', summary, gradients, phase?}]`.
    pub fn analyses() -> JsResult<JsValue> {
        to_js(&loupe_interp::registry::catalogue())
    }

    /// Runs the one-shot analysis `name` (see `analyses`) on `request`.
    pub fn call(&self, name: &str, request: JsValue) -> JsResult<JsValue> {
        registry::call(&self.session, name, request)
    }

    /// Starts the stepped analysis `name` (see `analyses`); see `Job`.
    pub fn start(&self, name: &str, request: JsValue) -> JsResult<Job> {
        Ok(Job { session: self.session.clone(), inner: registry::start(&self.session, name, request)? })
    }

    /// Loads a sparse autoencoder in SAELens format (the text of `cfg.json` and the bytes of
    /// its safetensors file), checked against this model: `{cfg}`.
    #[wasm_bindgen(js_name = loadSae)]
    pub fn load_sae(&self, cfg_json: &str, weights: Vec<u8>) -> JsResult<JsValue> {
        let sae = self.session.set_sae(Sae::load(cfg_json, &weights, &self.session.model.cfg)?);
        to_js(&serde_json::json!({ "cfg": sae.cfg }))
    }

    /// Whether the differentiable model is built (the first gradient request builds it).
    #[wasm_bindgen(js_name = hasGradientModel)]
    pub fn has_gradient_model(&self) -> bool {
        self.session.has_gradient_model()
    }

    /// `{config, weights, hooks: [name], maxPromptTokens, threads, simd}`
    pub fn info(&self) -> JsResult<JsValue> {
        let model = &self.session.model;
        let hooks: Vec<String> = HookPoint::all(model.cfg.n_layers).iter().map(|h| h.to_string()).collect();
        to_js(&serde_json::json!({
            "config": model.cfg,
            "weights": model.mode,
            "hooks": hooks,
            "maxPromptTokens": MAX_PROMPT_TOKENS,
            "threads": loupe_model::parallel::threads(),
            // Which SIMD the running build was compiled for (scripts/build-variants.sh).
            "simd": if loupe_model::gemm::RELAXED_SIMD { "relaxed" } else { "simd128" },
        }))
    }

    /// `[{id, text}]`
    pub fn tokenize(&self, prompt: &str, prepend_bos: bool) -> JsResult<JsValue> {
        let tok = &self.session.tok;
        to_js(&tok.token_infos(&tok.encode(prompt, prepend_bos)?))
    }

    /// The text of each token id (`\xNN` for a partial UTF-8 byte), e.g. for the token ids of
    /// an SAE dashboard's contexts: `[text]`.
    #[wasm_bindgen(js_name = tokenTexts)]
    pub fn token_texts(&self, ids: Vec<u32>) -> JsResult<JsValue> {
        let tok = &self.session.tok;
        let vocab = tok.vocab_size();
        if let Some(bad) = ids.iter().find(|&&i| i as usize >= vocab) {
            return Err(JsError::new(&format!("token id {bad} is outside the vocabulary ({vocab})")));
        }
        to_js(&ids.iter().map(|&i| tok.token_text(i)).collect::<Vec<_>>())
    }

    /// Starts a generation; see `Generation`.
    #[wasm_bindgen(js_name = startGeneration)]
    pub fn start_generation(&self, request: JsValue) -> JsResult<Generation> {
        let req: GenerateRequest = convert::from_js(request)?;
        let model = self.general_decoding.borrow().clone().unwrap_or_else(|| self.session.model.clone());
        let inner = TextGeneration::start(&model, &self.session.tok, &req, MAX_PROMPT_TOKENS)?;
        Ok(Generation { model, tok: self.session.tok.clone(), inner, made: Vec::new() })
    }

    /// Whether generated tokens take the fused decoding step (the default) or the general
    /// path it replaces (`loupe_model::llama::decode`): for measuring one against the other
    /// (bench/bench-page.js). Both make the same text up to float rounding (a few sums run in another order).
    #[wasm_bindgen(js_name = setFusedDecoding)]
    pub fn set_fused_decoding(&self, on: bool) {
        *self.general_decoding.borrow_mut() = (!on).then(|| Rc::new((*self.session.model).clone().with_fused_decoding(false)));
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
