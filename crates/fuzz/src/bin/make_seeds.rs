//! Writes the seed corpora under crates/fuzz/corpus/ (committed; re-run after changing the
//! tiny model or the example requests): `cargo run --release --manifest-path
//! crates/fuzz/Cargo.toml --target-dir target/fuzz --bin make-seeds`.

use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for target in ["gguf", "sae", "request"] {
        std::fs::create_dir_all(corpus.join(target))?;
    }
    // A whole valid model: the fuzzer mutates its way into every part of the header.
    std::fs::write(corpus.join("gguf/tiny.gguf"), loupe_model::synthetic::tiny_llama_gguf(7)?)?;

    // A valid SAE for the tiny model: cfg.json, NUL, safetensors.
    let cpu = &Device::Cpu;
    let (d, m) = (loupe_model::synthetic::D_MODEL, 8);
    let tensors: HashMap<String, Tensor> = [
        ("W_enc", Tensor::ones((d, m), DType::F32, cpu)?),
        ("b_enc", Tensor::zeros(m, DType::F32, cpu)?),
        ("W_dec", Tensor::ones((m, d), DType::F32, cpu)?),
        ("b_dec", Tensor::zeros(d, DType::F32, cpu)?),
        ("threshold", Tensor::zeros(m, DType::F32, cpu)?),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let file = std::env::temp_dir().join("loupe-fuzz-sae.safetensors");
    candle_core::safetensors::save(&tensors, &file)?;
    let weights = std::fs::read(&file)?;
    for (name, arch) in [("standard", "standard"), ("jumprelu", "jumprelu")] {
        let cfg = format!(r#"{{"d_in": {d}, "d_sae": {m}, "hook_name": "blocks.1.hook_resid_pre", "architecture": "{arch}"}}"#);
        let mut seed = cfg.into_bytes();
        seed.push(0);
        seed.extend(&weights);
        std::fs::write(corpus.join(format!("sae/{name}")), seed)?;
    }

    // One request per analysis: its registry index, then its JSON.
    let names = loupe_fuzz::names();
    for (name, request) in loupe_interp::examples::example_requests("hello world", "hello wurld") {
        let index = names.iter().position(|n| *n == name).ok_or("an example for an unregistered analysis")?;
        let mut seed = vec![index as u8];
        seed.extend(serde_json::to_vec(&request)?);
        std::fs::write(corpus.join(format!("request/{name}.json")), seed)?;
    }
    println!("wrote {}", corpus.display());
    Ok(())
}
