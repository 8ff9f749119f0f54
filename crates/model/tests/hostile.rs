//! Crafted GGUF files are refused with an error naming the field and its value, before
//! anything is allocated from them: never a panic, an abort or an allocation of their
//! declared size. Two kinds: headers written byte by byte (what candle's parser would get
//! wrong, caught by gguf_check), and the tiny model with one hyper-parameter changed (caught
//! by LlamaConfig). The page and the CLI load through the same code.

use candle_core::quantized::gguf_file::Value;
use loupe_model::synthetic::{tiny_llama_parts, write_gguf};
use loupe_model::{GgufFile, Llama, LoupeError, LoupeTokenizer, WeightMode, MAX_CONTEXT, METADATA_MEMORY_LIMIT};

// ----------------------------------------------------------------------------------------
// Headers written byte by byte (GGUF v3: ggml's docs/gguf.md).

enum Raw {
    U32(u32),
    Str(&'static str),
    /// An array of `n` u8 values.
    Bytes(u64),
}

struct Tensor {
    name: &'static str,
    dims: Vec<u64>,
    dtype: u32,
    offset: u64,
}

fn f32_tensor(name: &'static str, dims: &[u64]) -> Tensor {
    Tensor { name, dims: dims.to_vec(), dtype: 0, offset: 0 }
}

/// A GGUF file with these metadata and tensor infos, then `data` zero bytes of tensor data.
fn raw_gguf(kvs: &[(&str, Raw)], tensors: &[Tensor], data: usize) -> Vec<u8> {
    let mut b = Vec::new();
    let string = |b: &mut Vec<u8>, s: &str| {
        b.extend((s.len() as u64).to_le_bytes());
        b.extend(s.as_bytes());
    };
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    b.extend((tensors.len() as u64).to_le_bytes());
    b.extend((kvs.len() as u64).to_le_bytes());
    for (key, value) in kvs {
        string(&mut b, key);
        match value {
            Raw::U32(v) => {
                b.extend(4u32.to_le_bytes());
                b.extend(v.to_le_bytes());
            }
            Raw::Str(s) => {
                b.extend(8u32.to_le_bytes());
                string(&mut b, s);
            }
            Raw::Bytes(n) => {
                b.extend(9u32.to_le_bytes());
                b.extend(0u32.to_le_bytes());
                b.extend(n.to_le_bytes());
                b.resize(b.len() + *n as usize, 1);
            }
        }
    }
    for t in tensors {
        string(&mut b, t.name);
        b.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            b.extend(d.to_le_bytes());
        }
        b.extend(t.dtype.to_le_bytes());
        b.extend(t.offset.to_le_bytes());
    }
    b.resize(b.len().div_ceil(32) * 32 + data, 0);
    b
}

/// The message of the error loading these bytes gives; fails the test on success.
fn rejected(bytes: Vec<u8>) -> String {
    match GgufFile::from_bytes(bytes) {
        Ok(_) => panic!("a hostile file was accepted"),
        Err(e @ LoupeError::InvalidModel(_)) => e.to_string(),
        Err(e) => panic!("expected an invalid-model error, got {e:?}"),
    }
}

fn assert_says(message: &str, fragments: &[&str]) {
    for f in fragments {
        assert!(message.contains(f), "{message:?} should mention {f:?}");
    }
}

#[test]
fn a_well_formed_raw_header_loads() {
    // The writer above is right: the same file with sane values is accepted.
    let file = GgufFile::from_bytes(raw_gguf(&[("general.architecture", Raw::Str("llama"))], &[f32_tensor("w", &[4, 2])], 32));
    assert!(file.is_ok(), "{:?}", file.err());
}

#[test]
fn dimensions_whose_product_overflows_are_refused() {
    let m = rejected(raw_gguf(&[], &[f32_tensor("w", &[1 << 33, 1 << 33])], 0));
    assert_says(&m, &["tensor 'w'", "too many elements"]);
    // Overflowing only after the block division would once wrap silently.
    let m = rejected(raw_gguf(&[], &[f32_tensor("w", &[u64::MAX, 2])], 0));
    assert_says(&m, &["tensor 'w'"]);
}

#[test]
fn zero_dimensions_and_zero_rows_are_refused() {
    let m = rejected(raw_gguf(&[], &[f32_tensor("w", &[])], 0));
    assert_says(&m, &["tensor 'w' has 0 dimensions"]);
    let m = rejected(raw_gguf(&[], &[f32_tensor("w", &[64, 0])], 0));
    assert_says(&m, &["tensor 'w' has shape [64, 0]", "at least 1"]);
    let m = rejected(raw_gguf(&[], &[f32_tensor("w", &[1, 1, 1, 1, 1])], 0));
    assert_says(&m, &["5 dimensions"]);
}

#[test]
fn an_alignment_of_zero_or_not_a_power_of_two_is_refused() {
    for a in [0, 3, 1 << 30] {
        let m = rejected(raw_gguf(&[("general.alignment", Raw::U32(a))], &[f32_tensor("w", &[4])], 64));
        assert_says(&m, &["general.alignment", &a.to_string()]);
    }
}

#[test]
fn tensors_past_the_end_of_the_file_are_refused() {
    let mut t = f32_tensor("w", &[16]);
    t.offset = u64::MAX - 8;
    assert_says(&rejected(raw_gguf(&[], &[t], 64)), &["tensor 'w'", "truncated"]);
    assert_says(&rejected(raw_gguf(&[], &[f32_tensor("w", &[1024])], 64)), &["tensor 'w'", "truncated"]);
}

#[test]
fn unknown_tensor_types_and_partial_blocks_are_refused() {
    let mut t = f32_tensor("w", &[32]);
    t.dtype = 999;
    assert_says(&rejected(raw_gguf(&[], &[t], 256)), &["tensor 'w' has an unknown type 999"]);
    let mut t = f32_tensor("q", &[33]);
    t.dtype = 8; // Q8_0: 32-element blocks
    assert_says(&rejected(raw_gguf(&[], &[t], 256)), &["tensor 'q'", "33 elements", "32-element"]);
}

#[test]
fn counts_beyond_what_the_file_can_hold_are_refused() {
    let mut b = raw_gguf(&[], &[], 0);
    b[8..16].copy_from_slice(&(1u64 << 40).to_le_bytes()); // tensor count
    assert_says(&rejected(b), &["1099511627776 tensors"]);
}

#[test]
fn a_metadata_array_that_would_cost_many_times_its_size_in_memory_is_refused() {
    // Each element becomes a 32-byte Value in candle's parsed metadata: about 30× its size
    // on disk. The check runs before the parser, so nothing of that size is allocated.
    let n = METADATA_MEMORY_LIMIT / 16;
    let m = rejected(raw_gguf(&[("junk", Raw::Bytes(n))], &[], 0));
    assert_says(&m, &["MB in memory", "'junk'"]);
    // A vocabulary-sized array is fine.
    assert!(GgufFile::from_bytes(raw_gguf(&[("tokens", Raw::Bytes(300_000))], &[], 0)).is_ok());
}

#[test]
fn truncation_anywhere_in_the_header_is_an_error() {
    let full = raw_gguf(&[("general.architecture", Raw::Str("llama")), ("a", Raw::Bytes(100))], &[f32_tensor("w", &[4, 2])], 32);
    for cut in 4..full.len() - 32 {
        let r = GgufFile::from_bytes(full[..cut].to_vec());
        assert!(r.is_err(), "cut at {cut} of {} was accepted", full.len());
    }
}

// ----------------------------------------------------------------------------------------
// The tiny model with one hyper-parameter changed.

fn tiny_with(key: &str, value: Option<Value>) -> Vec<u8> {
    let (mut metadata, tensors) = tiny_llama_parts(3).expect("tiny model");
    metadata.retain(|(k, _)| k != key);
    if let Some(v) = value {
        metadata.push((key.to_string(), v));
    }
    write_gguf(&metadata, &tensors).expect("written")
}

fn load(bytes: Vec<u8>) -> loupe_model::Result<Llama> {
    let file = GgufFile::from_bytes(bytes)?;
    LoupeTokenizer::from_gguf(&file)?;
    Llama::load(&file, WeightMode::Quantized)
}

fn model_rejected(key: &str, value: Value) -> String {
    match load(tiny_with(key, Some(value.clone()))) {
        Ok(_) => panic!("{key} = {value:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_unchanged_tiny_model_loads() {
    assert!(load(tiny_with("none", None)).is_ok());
}

#[test]
fn a_zero_width_or_head_count_is_refused() {
    for key in ["llama.feed_forward_length", "llama.embedding_length", "llama.attention.head_count", "llama.block_count"] {
        let m = model_rejected(key, Value::U32(0));
        assert_says(&m, &[key, "is 0"]);
    }
}

#[test]
fn a_block_count_beyond_the_tensors_present_is_refused_before_allocating() {
    assert_says(&model_rejected("llama.block_count", Value::U64(1 << 40)), &["llama.block_count", "1099511627776"]);
    assert_says(&model_rejected("llama.block_count", Value::U32(3)), &["llama.block_count", "no block 2"]);
}

#[test]
fn a_huge_context_length_is_capped_and_a_zero_one_refused() {
    let model = load(tiny_with("llama.context_length", Some(Value::U64(1 << 31)))).unwrap();
    assert_eq!(model.cfg.context_length, MAX_CONTEXT, "RoPE tables are built for the positions this build runs");
    assert_says(&model_rejected("llama.context_length", Value::U32(0)), &["llama.context_length", "is 0"]);
}

#[test]
fn non_finite_zero_or_negative_rope_base_and_norm_epsilon_are_refused() {
    for key in ["llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon"] {
        for v in [f32::NAN, f32::INFINITY, 0.0, -1.0] {
            let m = model_rejected(key, Value::F32(v));
            assert_says(&m, &[key, "finite number above 0"]);
        }
    }
    // f64 values too small for the f32 arithmetic are zero there.
    assert_says(&model_rejected("llama.attention.layer_norm_rms_epsilon", Value::F64(1e-60)), &["layer_norm_rms_epsilon"]);
}

#[test]
fn heads_that_do_not_divide_the_width_are_refused() {
    assert_says(&model_rejected("llama.attention.head_count", Value::U32(5)), &["inconsistent heads"]);
    assert_says(&model_rejected("llama.attention.head_count_kv", Value::U32(3)), &["inconsistent heads"]);
}
