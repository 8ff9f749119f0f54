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

/// The measure of the model crate's tests (max |Δ log-prob| over the exact model's top 10).
#[path = "../../model/tests/common/logprob.rs"]
mod logprob;

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
    let target =
        ResolvedTarget { kind: TargetKind::Logprob, token: TokenInfo { id: 1000, text: String::new() }, minus: None, position: 19 };
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

/// Decoding's accuracy in this build (16-bit activations in the few-rows kernels): every
/// step of the quantized model, fed the f32 model's greedy tokens, against the f32 model's
/// log-probs over its top 10 (the measure of crates/model/tests/decode.rs, where candle's
/// 8-bit kernels average 0.17–0.23 nats natively).
#[wasm_bindgen_test]
fn decode_accuracy_against_f32() {
    use loupe_model::KvCache;
    let Some(quantized) = model(WeightMode::Quantized) else { return };
    let Some(exact) = model(WeightMode::F32) else { return };
    let step = |m: &Llama, ids: &[u32], cache: &mut KvCache| -> Tensor {
        let input = Tensor::new(ids, &Device::Cpu).and_then(|t| t.unsqueeze(0)).expect("ids");
        m.forward(&input, &mut NoHooks, Some(cache)).and_then(|l| Ok(l.squeeze(0)?.get(ids.len() - 1)?)).expect("step")
    };
    let mut errors = Vec::new();
    for prompt in [vec![504u32, 2365, 6354, 16438, 27003, 690, 260, 23790, 2767, 975], vec![1, 4093, 198, 19161, 253, 33760, 2]] {
        let (mut a, mut c) = (KvCache::new(30), KvCache::new(30));
        step(&quantized, &prompt, &mut a);
        let mut next = step(&exact, &prompt, &mut c).argmax(0).and_then(|t| t.to_scalar::<u32>()).expect("argmax");
        for _ in 0..24 {
            let (la, lc) = (step(&quantized, &[next], &mut a), step(&exact, &[next], &mut c));
            let v = |t: &Tensor| -> Vec<f32> { t.to_vec1().expect("logits") };
            errors.push(logprob::top10_logprob_error(&v(&la), &v(&lc)));
            next = lc.argmax(0).and_then(|t| t.to_scalar::<u32>()).expect("argmax");
        }
    }
    let mean = errors.iter().sum::<f32>() / errors.len() as f32;
    let worst = errors.iter().copied().fold(0f32, f32::max);
    console_log!("decoding steps against f32 ({} steps): max |Δ log-prob| over the top 10, mean {mean:.4}, worst {worst:.4}", errors.len());
    // Measured 2026-12-02: mean 0.0009, worst 0.0018–0.0038 (docs/BENCHMARKS.md); 8-bit activations: ~0.2, up to 1.
    assert!(mean < 0.005 && worst < 0.02, "mean {mean}, worst {worst}");
}
