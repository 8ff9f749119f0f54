//! Hyper-parameters of a Llama-family model, read from GGUF metadata (`llama.*` keys).

use crate::error::{LoupeError, Result};
use crate::gguf::GgufFile;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LlamaConfig {
    pub n_layers: usize,
    pub d_model: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub d_head: usize,
    pub d_mlp: usize,
    pub vocab_size: usize,
    pub context_length: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f32,
}

impl LlamaConfig {
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let arch = file.metadata_str("general.architecture")?;
        if arch != "llama" {
            return Err(LoupeError::Unsupported(format!("architecture '{arch}' (Loupe runs Llama-family models, e.g. SmolLM2)")));
        }
        let u = |key: &str| file.metadata_u64(&format!("llama.{key}")).map(|v| v as usize);
        let d_model = u("embedding_length")?;
        let n_heads = u("attention.head_count")?;
        let n_kv_heads = u("attention.head_count_kv").unwrap_or(n_heads);
        if n_heads == 0 || n_kv_heads == 0 || d_model % n_heads != 0 || n_heads % n_kv_heads != 0 {
            return Err(LoupeError::InvalidModel(format!("inconsistent heads: d_model {d_model}, {n_heads} heads, {n_kv_heads} kv heads")));
        }
        let vocab_size = match u("vocab_size") {
            Ok(v) => v,
            Err(_) => file.metadata_array_len("tokenizer.ggml.tokens")?,
        };
        Ok(Self {
            n_layers: u("block_count")?,
            d_model,
            n_heads,
            n_kv_heads,
            d_head: d_model / n_heads,
            d_mlp: u("feed_forward_length")?,
            vocab_size,
            context_length: u("context_length").unwrap_or(2048),
            rms_norm_eps: file.metadata_f64("llama.attention.layer_norm_rms_epsilon")?,
            rope_theta: file.metadata_f64("llama.rope.freq_base").unwrap_or(10_000.0) as f32,
        })
    }
}
