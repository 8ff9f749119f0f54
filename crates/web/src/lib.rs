//! The browser binding: the only cdylib. It runs inside a Web Worker (www/worker.js) and
//! only converts types and errors; all tensor work lives in loupe-model and loupe-interp
//! (candle-wasm-examples' split between a private impl and a thin `#[wasm_bindgen]` impl).
//!
//! Large arrays cross as `Float32Array`s, never JSON. Errors become `Error(message)` here
//! and nowhere else; panics are reported through `set_panic_reporter` before the trap.

mod convert;
mod panic;

use convert::{activations_to_js, to_js, JsResult};
use loupe_interp::run::{generate_text, run_prompt, GenerateRequest, RunRequest};
use loupe_model::{GgufFile, HookPoint, Llama, LoupeTokenizer, WeightMode};
use wasm_bindgen::prelude::*;

pub use panic::{debug_panic, set_panic_reporter};

/// Prompts longer than this are refused with a message: a 30-layer attention pattern over
/// more tokens would not fit comfortably in a browser tab's memory.
pub const MAX_PROMPT_TOKENS: usize = 1024;

#[wasm_bindgen]
pub struct Loupe {
    model: Llama,
    tok: LoupeTokenizer,
}

#[wasm_bindgen]
impl Loupe {
    /// Parses a GGUF file and builds the model in the chosen weight mode
    /// (`"quantized"` or `"f32"`).
    pub fn load(bytes: Vec<u8>, weights: &str) -> JsResult<Loupe> {
        panic::install();
        let mode: WeightMode = weights.parse()?;
        let file = GgufFile::from_bytes(bytes)?;
        let model = Llama::load(&file, mode)?;
        let tok = LoupeTokenizer::from_gguf(&file)?;
        Ok(Loupe { model, tok })
    }

    /// `{config, weights, hooks: [name], maxPromptTokens}`
    pub fn info(&self) -> JsResult<JsValue> {
        let hooks: Vec<String> = HookPoint::all(self.model.cfg.n_layers).iter().map(|h| h.to_string()).collect();
        to_js(&serde_json::json!({
            "config": self.model.cfg,
            "weights": self.model.mode,
            "hooks": hooks,
            "maxPromptTokens": MAX_PROMPT_TOKENS,
        }))
    }

    /// `[{id, text}]`
    pub fn tokenize(&self, prompt: &str, prepend_bos: bool) -> JsResult<JsValue> {
        let ids = self.tok.encode(prompt, prepend_bos)?;
        to_js(&self.tok.token_infos(&ids))
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

    /// Streams each new token `{id, text}` to `on_token` (return `false` to stop) and
    /// returns `{tokens, text}`.
    pub fn generate(&self, request: JsValue, on_token: &js_sys::Function) -> JsResult<JsValue> {
        let req: GenerateRequest = convert::from_js(request)?;
        let mut callback_error = None;
        let tokens = generate_text(&self.model, &self.tok, &req, MAX_PROMPT_TOKENS, |t| {
            let arg = match to_js(&t) {
                Ok(v) => v,
                Err(_) => return false,
            };
            match on_token.call1(&JsValue::NULL, &arg) {
                Ok(v) => v.as_bool() != Some(false),
                Err(e) => {
                    callback_error = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = callback_error {
            return Err(JsError::new(&format!("onToken threw: {}", convert::js_error_message(&e))));
        }
        let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
        to_js(&serde_json::json!({ "tokens": tokens, "text": self.tok.decode(&ids) }))
    }
}
