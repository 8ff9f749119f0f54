//! Shared by the integration tests: the default model (fetched by scripts/setup.sh) and the
//! reference fixtures made by tests/fixtures/make_fixtures.py.
#![allow(dead_code)]

// A file of its own (not a test target: cargo takes only tests/*.rs), shared by path with
// crates/web/tests/pass_speed.rs; relative to tests/, since this file is also a crate root.
#[path = "common/logprob.rs"]
pub mod logprob;

use loupe_model::{GgufFile, Llama, LoupeTokenizer, WeightMode};
use std::path::PathBuf;
use std::sync::OnceLock;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn model_path() -> PathBuf {
    let p = repo_root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(p.exists(), "{} is missing: run scripts/setup.sh model", p.display());
    p
}

fn file() -> &'static GgufFile {
    static FILE: OnceLock<GgufFile> = OnceLock::new();
    FILE.get_or_init(|| GgufFile::read_path(&model_path()).expect("default model loads"))
}

pub fn model(mode: WeightMode) -> &'static Llama {
    static Q: OnceLock<Llama> = OnceLock::new();
    static Q8: OnceLock<Llama> = OnceLock::new();
    static F: OnceLock<Llama> = OnceLock::new();
    let cell = match mode {
        WeightMode::Quantized => &Q,
        WeightMode::Q8 => &Q8,
        WeightMode::F32 => &F,
    };
    cell.get_or_init(|| Llama::load(file(), mode).expect("model builds"))
}

pub fn tokenizer() -> &'static LoupeTokenizer {
    static T: OnceLock<LoupeTokenizer> = OnceLock::new();
    T.get_or_init(|| LoupeTokenizer::from_gguf(file()).expect("tokenizer builds"))
}

pub struct Fixtures {
    pub json: serde_json::Value,
    pub tensors: std::collections::HashMap<String, candle_core::Tensor>,
}

pub fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let dir = repo_root().join("tests/fixtures");
        let json = std::fs::read_to_string(dir.join("reference.json")).expect("reference.json");
        let tensors =
            candle_core::safetensors::load(dir.join("reference.safetensors"), &candle_core::Device::Cpu).expect("reference.safetensors");
        Fixtures { json: serde_json::from_str(&json).expect("valid json"), tensors }
    })
}

pub fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .expect("same shapes")
}
