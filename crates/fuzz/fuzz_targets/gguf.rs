//! Any bytes as a model file: parse the header, read the config and the tokenizer, build
//! the model and run two tokens through it. Each may fail; none may panic, abort or hang.
#![no_main]

use candle_core::{Device, Tensor};
use libfuzzer_sys::fuzz_target;
use loupe_model::{GgufFile, Llama, LlamaConfig, LoupeTokenizer, NoHooks, WeightMode};

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::from_bytes(data.to_vec()) else { return };
    let _ = LlamaConfig::from_gguf(&file);
    if let Ok(tok) = LoupeTokenizer::from_gguf(&file) {
        let _ = tok.encode("héllo <|im_end|> wörld", true);
    }
    if let Ok(model) = Llama::load(&file, WeightMode::Quantized) {
        if let Ok(ids) = Tensor::new(&[0u32, 0], &Device::Cpu).and_then(|t| t.unsqueeze(0)) {
            let _ = model.forward(&ids, &mut NoHooks, None);
        }
    }
});
