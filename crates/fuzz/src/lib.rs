//! What the fuzz targets share: the tiny in-memory model as a session, and running any
//! analysis of the registry from JSON (as `loupe call` and the page do).

use loupe_interp::registry::{self, Analysis, Stepped, Visitor};
use loupe_interp::session::{Limits, Session};
use loupe_model::synthetic::tiny_llama_gguf;
use loupe_model::{GgufFile, Llama, LoupeTokenizer, WeightMode};
use std::rc::Rc;

/// The tiny model (2 layers, d_model 64, 259 tokens) with its file, so gradients work.
pub fn tiny_session() -> Session {
    let file = Rc::new(GgufFile::from_bytes(tiny_llama_gguf(7).expect("tiny model")).expect("loads"));
    let model = Llama::load(&file, WeightMode::Quantized).expect("model");
    let tok = LoupeTokenizer::from_gguf(&file).expect("tokenizer");
    // Short prompts keep each input fast; the bounds under test do not depend on length.
    let limits = Limits { max_prompt_tokens: 32 };
    Session::new(model, tok, limits).with_file(file)
}

/// Runs analysis `name` on `request`; what it answers does not matter, only that it answers.
pub fn call(session: &Session, name: &str, request: serde_json::Value) {
    struct Call<'a> {
        session: &'a Session,
        name: &'a str,
        request: serde_json::Value,
    }
    impl Visitor for Call<'_> {
        fn call<A: Analysis>(&mut self) {
            if A::NAME == self.name {
                if let Ok(r) = serde_json::from_value::<A::Request>(self.request.take()) {
                    let _ = A::run(self.session, &r);
                }
            }
        }
        fn job<A: Stepped>(&mut self) {
            if A::NAME == self.name {
                if let Ok(r) = serde_json::from_value::<A::Request>(self.request.take()) {
                    let _ = registry::run_to_end::<A>(self.session, &r);
                }
            }
        }
    }
    registry::visit(&mut Call { session, name, request });
}

/// The analyses' names, in registry order (the request target picks one by its first byte).
pub fn names() -> Vec<&'static str> {
    registry::catalogue().iter().map(|e| e.name).collect()
}

/// The tiny session with a small random SAE (16 features on blocks.1.hook_resid_pre) loaded,
/// so the SAE analyses run too.
pub fn tiny_session_with_sae() -> Session {
    use candle_core::{DType, Device, Tensor};
    use loupe_interp::sae::{Architecture, Sae, SaeConfig};
    let session = tiny_session();
    let d = session.model.cfg.d_model;
    let cfg = SaeConfig {
        d_in: d,
        d_sae: 16,
        hook_name: "blocks.1.hook_resid_pre".into(),
        architecture: Architecture::Standard,
        apply_b_dec_to_input: true,
        normalize_activations: None,
    };
    let cpu = &Device::Cpu;
    let w_enc = Tensor::randn(0f32, 0.1, (d, 16), cpu).expect("w_enc");
    let w_dec = Tensor::randn(0f32, 0.1, (16, d), cpu).expect("w_dec");
    let (b_enc, b_dec) = (Tensor::zeros(16, DType::F32, cpu).expect("b_enc"), Tensor::zeros(d, DType::F32, cpu).expect("b_dec"));
    session.set_sae(Sae::from_parts(cfg, w_enc, b_enc, w_dec, b_dec, None).expect("sae"));
    session
}
