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
    /// Positions this build runs: the file's context length, at most [`MAX_CONTEXT`] (fewer
    /// for heads so wide that their RoPE tables would pass 64 MB).
    pub context_length: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f32,
}

/// The most positions this build runs, whatever the file's context length says: RoPE tables
/// are built for this many at the most (a crafted `context_length` of 2^31 once meant 8 GB
/// of tables before anything was checked), and every prompt and generation is held to it.
pub const MAX_CONTEXT: usize = 32_768;
/// Bounds on the other hyper-parameters, far above any model a browser tab can hold; they
/// only stop a crafted header from sizing allocations before the tensors are checked.
const MAX_LAYERS: usize = 1024;
/// The RoPE tables (cos and sin, f32, positions × d_head / 2 each) stay under this: a model
/// with very wide heads runs fewer positions rather than allocating gigabytes of them.
const ROPE_TABLE_BYTES: usize = 64 << 20;
const MAX_WIDTH: usize = 1 << 20;

impl LlamaConfig {
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let arch = file.metadata_str("general.architecture")?;
        if arch != "llama" {
            return Err(LoupeError::Unsupported(format!("architecture '{arch}' (Loupe runs Llama-family models, e.g. SmolLM2)")));
        }
        // A count in 1..=max, or an error naming the key and its value.
        let count = |key: &str, max: usize| -> Result<usize> {
            let v = file.metadata_u64(&format!("llama.{key}"))?;
            match usize::try_from(v) {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(LoupeError::InvalidModel(format!("metadata 'llama.{key}' is {v} (expected 1 to {max})"))),
            }
        };
        let d_model = count("embedding_length", MAX_WIDTH)?;
        let n_heads = count("attention.head_count", MAX_WIDTH)?;
        let n_kv_heads = match file.metadata("llama.attention.head_count_kv") {
            Ok(_) => count("attention.head_count_kv", MAX_WIDTH)?,
            Err(_) => n_heads,
        };
        if !d_model.is_multiple_of(n_heads) || !n_heads.is_multiple_of(n_kv_heads) || !(d_model / n_heads).is_multiple_of(2) {
            return Err(LoupeError::InvalidModel(format!(
                "inconsistent heads: d_model {d_model}, {n_heads} heads, {n_kv_heads} kv heads (each head's width must be even for RoPE)"
            )));
        }
        let vocab_size = match file.metadata("llama.vocab_size") {
            Ok(_) => count("vocab_size", 1 << 24)?,
            Err(_) => file.metadata_array_len("tokenizer.ggml.tokens")?,
        };
        if vocab_size == 0 {
            return Err(LoupeError::InvalidModel("the vocabulary is empty".into()));
        }
        let n_layers = count("block_count", MAX_LAYERS)?;
        // Every block's tensors are checked as the model is built; this one check first keeps
        // a block count beyond the tensors present from sizing anything.
        file.tensor_info(&format!("blk.{}.attn_q.weight", n_layers - 1)).map_err(|_| {
            LoupeError::InvalidModel(format!("metadata 'llama.block_count' is {n_layers} but the file has no block {}", n_layers - 1))
        })?;
        let d_head = d_model / n_heads;
        let context_length = match file.metadata("llama.context_length") {
            Ok(_) => count("context_length", usize::MAX)?,
            Err(_) => 2048,
        }
        .min(MAX_CONTEXT)
        .min(ROPE_TABLE_BYTES / (d_head * 4));
        Ok(Self {
            n_layers,
            d_model,
            n_heads,
            n_kv_heads,
            d_head,
            d_mlp: count("feed_forward_length", MAX_WIDTH * 8)?,
            vocab_size,
            context_length,
            rms_norm_eps: positive(file, "llama.attention.layer_norm_rms_epsilon", None)?,
            rope_theta: positive(file, "llama.rope.freq_base", Some(10_000.0))? as f32,
        })
    }
}

/// A finite, positive float hyper-parameter (NaN, ∞, 0 or a negative value make every
/// output uniform nonsense, silently), or `default` when the key is absent.
fn positive(file: &GgufFile, key: &str, default: Option<f64>) -> Result<f64> {
    let v = match (file.metadata(key), default) {
        (Err(_), Some(d)) => return Ok(d),
        _ => file.metadata_f64(key)?,
    };
    if v.is_finite() && v > 0.0 && (v as f32).is_finite() && (v as f32) > 0.0 {
        Ok(v)
    } else {
        Err(LoupeError::InvalidModel(format!("metadata '{key}' is {v} (expected a finite number above 0)")))
    }
}
