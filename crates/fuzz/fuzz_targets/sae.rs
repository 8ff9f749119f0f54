//! Any bytes as an SAE: cfg.json text, a NUL byte, then the safetensors weights (as the page
//! and `--sae` read them), checked against the tiny model and used to encode.
#![no_main]

use candle_core::{DType, Device, Tensor};
use libfuzzer_sys::fuzz_target;
use loupe_interp::sae::Sae;
use loupe_model::LlamaConfig;
use std::sync::OnceLock;

fn model() -> &'static LlamaConfig {
    static CFG: OnceLock<LlamaConfig> = OnceLock::new();
    CFG.get_or_init(|| loupe_fuzz::tiny_session().model.cfg.clone())
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let Ok(cfg) = std::str::from_utf8(&data[..split]) else { return };
    let weights = data.get(split + 1..).unwrap_or(&[]);
    if let Ok(sae) = Sae::load(cfg, weights, model()) {
        if let Ok(x) = Tensor::ones((2, sae.cfg.d_in), DType::F32, &Device::Cpu) {
            let _ = sae.encode(&x);
        }
    }
});
