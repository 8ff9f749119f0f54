//! A tiny Llama GGUF with deterministic pseudo-random weights, built in memory: lets tests
//! (native and wasm-in-Chromium) exercise loading and every hook in milliseconds, without
//! the 98 MB default model. Its vocabulary is the 256 byte-level tokens (no merges) plus
//! the control tokens `<|endoftext|>`, `<|im_start|>`, `<|im_end|>`.

use crate::error::Result;
use crate::sampling::SplitMix64;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

pub const N_LAYERS: usize = 2;
pub const D_MODEL: usize = 64;
pub const N_HEADS: usize = 4;
pub const N_KV_HEADS: usize = 2;
pub const D_MLP: usize = 96;

/// A GGUF file's contents before writing: metadata and tensors, in order.
pub type GgufParts = (Vec<(String, Value)>, Vec<(String, QTensor)>);

pub fn tiny_llama_gguf(seed: u64) -> Result<Vec<u8>> {
    let (metadata, tensors) = tiny_llama_parts(seed)?;
    write_gguf(&metadata, &tensors)
}

/// The tiny model's metadata and tensors, for tests that change them before writing (e.g.
/// the hostile files of tests/hostile.rs).
pub fn tiny_llama_parts(seed: u64) -> Result<GgufParts> {
    let mut rng = SplitMix64::new(seed);
    let mut tokens: Vec<String> = vec!["<|endoftext|>".into(), "<|im_start|>".into(), "<|im_end|>".into()];
    tokens.extend((0..=255u8).map(byte_level_char).map(String::from));
    let vocab = tokens.len();
    let mut types = vec![Value::I32(3); 3];
    types.extend(std::iter::repeat_n(Value::I32(1), 256));
    let d_head = D_MODEL / N_HEADS;
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut matrix = |name: &str, rows: usize, cols: usize, dtype: GgmlDType| -> Result<()> {
        let scale = 1.0 / (cols as f32).sqrt();
        let data: Vec<f32> = (0..rows * cols).map(|_| (rng.next_f64() as f32 * 2.0 - 1.0) * scale * 1.7).collect();
        let t = Tensor::from_vec(data, (rows, cols), &Device::Cpu)?;
        tensors.push((name.to_string(), QTensor::quantize(&t, dtype)?));
        Ok(())
    };
    matrix("token_embd.weight", vocab, D_MODEL, GgmlDType::Q8_0)?;
    for l in 0..N_LAYERS {
        matrix(&format!("blk.{l}.attn_q.weight"), N_HEADS * d_head, D_MODEL, GgmlDType::Q4_1)?;
        matrix(&format!("blk.{l}.attn_k.weight"), N_KV_HEADS * d_head, D_MODEL, GgmlDType::Q4_1)?;
        matrix(&format!("blk.{l}.attn_v.weight"), N_KV_HEADS * d_head, D_MODEL, GgmlDType::Q4_1)?;
        matrix(&format!("blk.{l}.attn_output.weight"), D_MODEL, N_HEADS * d_head, GgmlDType::Q4_1)?;
        matrix(&format!("blk.{l}.ffn_gate.weight"), D_MLP, D_MODEL, GgmlDType::Q4_1)?;
        matrix(&format!("blk.{l}.ffn_up.weight"), D_MLP, D_MODEL, GgmlDType::Q4_1)?;
        matrix(&format!("blk.{l}.ffn_down.weight"), D_MODEL, D_MLP, GgmlDType::Q8_0)?;
    }
    let ones = Tensor::ones(D_MODEL, candle_core::DType::F32, &Device::Cpu)?;
    for l in 0..N_LAYERS {
        for n in ["attn_norm", "ffn_norm"] {
            tensors.push((format!("blk.{l}.{n}.weight"), QTensor::quantize(&ones, GgmlDType::F32)?));
        }
    }
    tensors.push(("output_norm.weight".into(), QTensor::quantize(&ones, GgmlDType::F32)?));

    let s = |x: &str| Value::String(x.into());
    let u = |x: u32| Value::U32(x);
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", s("llama")),
        ("llama.block_count", u(N_LAYERS as u32)),
        ("llama.context_length", u(128)),
        ("llama.embedding_length", u(D_MODEL as u32)),
        ("llama.feed_forward_length", u(D_MLP as u32)),
        ("llama.attention.head_count", u(N_HEADS as u32)),
        ("llama.attention.head_count_kv", u(N_KV_HEADS as u32)),
        ("llama.rope.freq_base", Value::F32(10_000.0)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ("tokenizer.ggml.model", s("gpt2")),
        ("tokenizer.ggml.pre", s("smollm")),
        ("tokenizer.ggml.tokens", Value::Array(tokens.iter().map(|t| s(t)).collect())),
        ("tokenizer.ggml.token_type", Value::Array(types)),
        ("tokenizer.ggml.merges", Value::Array(vec![])),
        ("tokenizer.ggml.bos_token_id", u(1)),
        ("tokenizer.ggml.eos_token_id", u(2)),
    ];
    Ok((metadata.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), tensors))
}

/// Writes metadata and tensors as GGUF (version 3) bytes.
pub fn write_gguf(metadata: &[(String, Value)], tensors: &[(String, QTensor)]) -> Result<Vec<u8>> {
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut out = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut out, &md, &ts)?;
    Ok(out.into_inner())
}

/// GPT-2's `bytes_to_unicode`: printable bytes are themselves, others map from U+0100 on.
fn byte_level_char(b: u8) -> char {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    if printable(b) {
        return b as char;
    }
    let rank = (0..b).filter(|&x| !printable(x)).count() as u32;
    char::from_u32(256 + rank).unwrap_or('?')
}
