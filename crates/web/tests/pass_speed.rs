//! Time of one batched gradient pass (what IG and SmoothGrad run) on the default model in
//! V8, split into forward and backward, and of single-token decoding — printed, not asserted
//! (speed lives in docs/BENCHMARKS.md). Runs in Node, reading the model from `LOUPE_MODEL` (skipped when
//! unset), so it can be profiled with `NODE_OPTIONS=--cpu-prof`:
//! `LOUPE_MODEL=$PWD/models/SmolLM2-135M-Instruct.Q4_1.gguf cargo test --release --target wasm32-unknown-unknown -p loupe-web --test pass_speed -- --nocapture`.
#![cfg(target_arch = "wasm32")]

use candle_core::{Device, Tensor, Var};
use loupe_interp::gradient::{ResolvedTarget, TargetKind};
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{GenerateOptions, Generator, GgufFile, Llama, NoHooks, WeightMode};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

#[wasm_bindgen(module = "fs")]
extern "C" {
    #[wasm_bindgen(js_name = readFileSync)]
    fn read_file_sync(path: &str) -> Vec<u8>;
}

fn model_path() -> Option<String> {
    let process = js_sys::Reflect::get(&js_sys::global(), &"process".into()).ok()?;
    let env = js_sys::Reflect::get(&process, &"env".into()).ok()?;
    js_sys::Reflect::get(&env, &"LOUPE_MODEL".into()).ok()?.as_string()
}

/// The model named by `LOUPE_MODEL` in `mode`, or None (said once) when it is not set.
fn model(mode: WeightMode) -> Option<Llama> {
    let Some(path) = model_path() else {
        console_log!("LOUPE_MODEL not set: skipped");
        return None;
    };
    let file = GgufFile::from_bytes(read_file_sync(&path)).expect("gguf");
    Some(Llama::load(&file, mode).expect("load"))
}

fn now() -> f64 {
    js_sys::Date::now()
}

#[wasm_bindgen_test]
fn gradient_pass_speed() {
    let Some(model) = model(WeightMode::F32) else { return };
    let model = model.differentiable().expect("differentiable");
    let target = ResolvedTarget {
        kind: TargetKind::Logprob,
        token: TokenInfo { id: 1000, text: String::new() },
        minus: None,
        position: 19,
    };
    for batch in [12usize, 1] {
        let x = Tensor::randn(0f32, 0.1, (batch, 20, 576), &Device::Cpu).expect("x");
        for rep in 0..3 {
            let t0 = now();
            let input = Var::from_tensor(&x).expect("var");
            let logits = model.forward_embeds_at(input.as_tensor(), &mut NoHooks, 19).expect("fwd");
            let values = target.value(&logits).expect("value");
            let t1 = now();
            let grads = values.sum_all().and_then(|s| s.backward()).expect("bwd");
            let g = grads.get(input.as_tensor()).expect("grad").clone();
            let t2 = now();
            drop(grads);
            // ~106 M multiply-adds per token in the 30 blocks' products, forward and backward.
            let flops = 2.0 * 2.0 * 106e6 * (batch * 20) as f64;
            console_log!(
                "batch {batch:2} rep {rep}: forward {:7.1} ms, backward {:7.1} ms, {:5.1} GFLOP/s overall {:?}",
                t1 - t0,
                t2 - t1,
                flops / (t2 - t0) / 1e6,
                g.dims()
            );
        }
    }
}

#[wasm_bindgen_test]
fn decode_speed() {
    let Some(fused) = model(WeightMode::Quantized) else { return };
    let general = fused.clone().with_fused_decoding(false);
    let prompt: Vec<u32> = (0..20).map(|i| 1000 + i).collect();
    // Alternating, so both see the same moments of a noisy machine.
    for (rep, (path, model)) in [("fused", &fused), ("general", &general)].into_iter().cycle().take(6).enumerate() {
        let opts = GenerateOptions { max_tokens: 64, sampling: Default::default(), stop_token: None };
        let mut g = Generator::new(model, &prompt, opts).expect("generator");
        g.next(model, &mut NoHooks).expect("prefill");
        let t0 = now();
        let mut made = 0;
        while g.next(model, &mut NoHooks).expect("step").is_some() {
            made += 1;
        }
        console_log!("decode rep {rep}, {path} step: {:.1} tok/s over {made} tokens", made as f64 / (now() - t0) * 1e3);
    }
}
