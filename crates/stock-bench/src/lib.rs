//! The stock-candle reference of docs/BENCHMARKS.md: `candle_transformers::models::
//! quantized_llama::ModelWeights` (candle-transformers 0.11.1, unmodified) loaded from the same
//! GGUF as Loupe, with the file's own blocks (Q4_1, token embedding / tied output Q8_0).
//! There is no tokenizer here: callers pass token ids (bench/bench.mjs takes them from Loupe's).
//! Timing is done by the caller (`performance.now()` in the page, `Instant` in the bin).

use candle_core::quantized::gguf_file;
use candle_core::{Device, Result, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;
use std::io::Cursor;
use wasm_bindgen::prelude::*;

/// The stock model and nothing else.
pub struct Stock {
    model: ModelWeights,
    device: Device,
}

impl Stock {
    /// Parses a GGUF held in memory and builds the stock model on the CPU.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let device = Device::Cpu;
        let mut reader = Cursor::new(bytes);
        let content = gguf_file::Content::read(&mut reader)?;
        let model = ModelWeights::from_gguf(content, &mut reader, &device)?;
        Ok(Self { model, device })
    }

    /// Runs `ids` starting at position `index_pos` (0 starts afresh: the KV cache is replaced;
    /// otherwise the ids are appended to it) and returns the argmax of the last position's
    /// logits.
    pub fn forward_top1(&mut self, ids: &[u32], index_pos: usize) -> Result<u32> {
        let x = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let logits: Vec<f32> = self.model.forward(&x, index_pos)?.squeeze(0)?.to_vec1()?;
        let mut best = 0;
        for (i, &l) in logits.iter().enumerate() {
            if l > logits[best] {
                best = i;
            }
        }
        Ok(best as u32)
    }
}

/// `new StockLlama(bytes)` in JS; `forward(ids, indexPos)` returns the greedy next token.
#[wasm_bindgen]
pub struct StockLlama {
    inner: Stock,
}

fn js_error(e: candle_core::Error) -> JsValue {
    js_sys::Error::new(&e.to_string()).into()
}

#[wasm_bindgen]
impl StockLlama {
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> std::result::Result<StockLlama, JsValue> {
        Ok(Self { inner: Stock::from_bytes(bytes).map_err(js_error)? })
    }

    /// Argmax of the last position's logits after running `ids` from position `index_pos`.
    pub fn forward(&mut self, ids: Vec<u32>, index_pos: usize) -> std::result::Result<u32, JsValue> {
        self.inner.forward_top1(&ids, index_pos).map_err(js_error)
    }
}
