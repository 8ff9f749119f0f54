//! What the integration tests share: the default model (f32, loaded once per test binary)
//! and the PyTorch fixtures under tests/fixtures/.
#![allow(dead_code)] // each test binary uses a different part

use candle_core::{DType, Device, IndexOp, Tensor};
use loupe_model::{GgufFile, Llama, LoupeTokenizer, WeightMode};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// The default model with f32 weights, and its tokenizer.
pub fn setup() -> &'static (Llama, LoupeTokenizer) {
    static M: OnceLock<(Llama, LoupeTokenizer)> = OnceLock::new();
    M.get_or_init(|| {
        let file = GgufFile::read_path(&repo("models/SmolLM2-135M-Instruct.Q4_1.gguf")).expect("run scripts/setup.sh model");
        (Llama::load(&file, WeightMode::F32).expect("model"), LoupeTokenizer::from_gguf(&file).expect("tok"))
    })
}

/// Tensors of a fixture file (`tests/fixtures/<name>.safetensors`), loaded once per name.
pub fn fixtures(name: &'static str) -> &'static HashMap<String, Tensor> {
    static F: OnceLock<std::sync::Mutex<HashMap<&'static str, &'static HashMap<String, Tensor>>>> = OnceLock::new();
    let mut all = F.get_or_init(Default::default).lock().expect("fixture lock");
    all.entry(name).or_insert_with(|| {
        let path = repo(&format!("tests/fixtures/{name}.safetensors"));
        Box::leak(Box::new(candle_core::safetensors::load(path, &Device::Cpu).expect("fixtures")))
    })
}

pub fn tensor(file: &'static str, key: &str) -> Tensor {
    fixtures(file).get(key).unwrap_or_else(|| panic!("fixture {key} missing from {file}")).clone()
}

pub fn matrix_of(file: &'static str, key: &str) -> Vec<Vec<f32>> {
    tensor(file, key).to_dtype(DType::F32).and_then(|t| t.to_vec2()).expect("2-D fixture")
}

pub fn vector_of(file: &'static str, key: &str) -> Vec<f32> {
    tensor(file, key).to_dtype(DType::F32).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1()).expect("fixture")
}

pub fn scalar_of(file: &'static str, key: &str) -> f32 {
    tensor(file, key).flatten_all().and_then(|t| t.i(0)).and_then(|t| t.to_dtype(DType::F32)).and_then(|t| t.to_scalar()).expect("scalar")
}

/// The JSON beside a fixture file.
pub fn json(name: &'static str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo(&format!("tests/fixtures/{name}.json"))).expect("fixture json");
    serde_json::from_str(&text).expect("fixture json parses")
}

pub fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len(), "rows");
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len(), "columns");
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}
