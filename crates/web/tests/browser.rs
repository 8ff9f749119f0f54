//! The binding in a real browser (headless Chromium via wasm-bindgen-test-runner): typed
//! arrays out, `Error(message)` for bad input, streamed tokens. (A panic traps the
//! instance, so panic reporting is checked page-level, in tests/e2e/specs/15-panic-recovery.spec.mjs.)
//! Uses the in-memory tiny model, so it needs no download.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Float32Array, Function, Reflect};
use loupe_model::synthetic::tiny_llama_gguf;
use loupe_web::Loupe;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).expect("property")
}

fn tiny() -> Loupe {
    Loupe::load(js_sys::Uint8Array::from(&tiny_llama_gguf(3).expect("tiny model")[..]), "quantized").map_err(JsValue::from).expect("loads")
}

fn request(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("json")
}

#[wasm_bindgen_test]
fn run_returns_float32_arrays_with_transformerlens_shapes() {
    let m = tiny();
    let out = m
        .call("run", request(r#"{"prompt":"abc","capture":["blocks.*.attn.hook_pattern","hook_embed"],"topK":3}"#))
        .map_err(JsValue::from)
        .expect("run");
    let tokens = Array::from(&get(&out, "tokens"));
    assert_eq!(tokens.length(), 3);
    assert_eq!(get(&tokens.get(0), "text").as_string().as_deref(), Some("a"));
    assert_eq!(Array::from(&get(&out, "top")).length(), 3);
    let acts = get(&out, "activations");
    let pattern = get(&acts, "blocks.1.attn.hook_pattern");
    let shape: Vec<u32> = Array::from(&get(&pattern, "shape")).iter().map(|v| v.as_f64().expect("n") as u32).collect();
    assert_eq!(shape, vec![1, 4, 3, 3]);
    let data = get(&pattern, "data").dyn_into::<Float32Array>().expect("a Float32Array");
    assert_eq!(data.length(), 36);
    // Each query row of an attention pattern sums to 1.
    let v = data.to_vec();
    for row in v.chunks(3) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    let keys = js_sys::Object::keys(acts.unchecked_ref::<js_sys::Object>());
    assert_eq!(keys.get(0).as_string().as_deref(), Some("hook_embed"), "forward order");
}

#[wasm_bindgen_test]
fn bad_input_becomes_error_messages() {
    let err = Loupe::load(js_sys::Uint8Array::from(&b"<html>not found</html>"[..]), "quantized").err().expect("rejected");
    let msg = get(&JsValue::from(err), "message").as_string().expect("message");
    assert!(msg.contains("not a GGUF file"), "{msg}");

    let mut bytes = tiny_llama_gguf(3).expect("tiny");
    bytes.truncate(bytes.len() - 100);
    let err = Loupe::load(js_sys::Uint8Array::from(&bytes[..]), "quantized").err().expect("rejected");
    let msg = get(&JsValue::from(err), "message").as_string().expect("message");
    assert!(msg.contains("truncated"), "{msg}");

    let m = tiny();
    for (req, needle) in [
        (r#"{"prompt":""}"#, "empty"),
        (r#"{"prompt":"a","capture":["blocks.9.*"]}"#, "no hook matches"),
        (r#"{"prompt":"a","topK":"ten"}"#, "bad request"),
    ] {
        let err = m.call("run", request(req)).err().expect("rejected");
        let msg = get(&JsValue::from(err), "message").as_string().expect("message");
        assert!(msg.contains(needle), "{req}: {msg}");
    }
}

#[wasm_bindgen_test]
fn generate_streams_tokens_and_can_be_stopped() {
    let m = tiny();
    let seen = Array::new();
    let seen2 = seen.clone();
    let cb = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |t: JsValue| {
        seen2.push(&t);
        JsValue::from_bool(seen2.length() < 3) // stop after the third token
    });
    let out = m
        .generate(request(r#"{"prompt":"ab","maxTokens":10,"stopAtEos":false}"#), cb.as_ref().unchecked_ref::<Function>())
        .map_err(JsValue::from)
        .expect("generate");
    assert_eq!(seen.length(), 3);
    assert_eq!(Array::from(&get(&out, "tokens")).length(), 3);
}

#[wasm_bindgen_test]
fn gradients_run_in_wasm_and_integrated_gradients_are_complete() {
    // "quantized" weights: the first gradient request builds the f32 differentiable copy.
    let m = tiny();
    assert!(!m.has_gradient_model());
    let mut job = m
        .start(
            "attribute",
            request(r#"{"prompt":"abcab","target":{"type":"logprob","token":1},"method":"integrated_gradients","params":{"steps":64,"batch":16,"baseline":{"type":"token","token":2}}}"#),
        )
        .map_err(JsValue::from)
        .expect("start");
    assert!(m.has_gradient_model());
    let mut steps = 0;
    while job.step().map_err(JsValue::from).expect("step") {
        steps += 1;
    }
    assert!(steps >= 4, "batches of 16 make several steps: {steps}");
    let progress = job.progress().map_err(JsValue::from).expect("progress");
    assert_eq!(get(&progress, "done").as_f64(), get(&progress, "total").as_f64());
    let out = job.finish().map_err(JsValue::from).expect("finish");
    let ig = get(&out, "integratedGradients");
    let err = get(&ig, "completenessError").as_f64().expect("error");
    let signed: Vec<f64> = Array::from(&get(&out, "signed")).iter().map(|v| v.as_f64().expect("n")).collect();
    let delta = get(&ig, "delta").as_f64().expect("delta");
    // Between two token embeddings the tiny model's path is smooth (a zero baseline is not:
    // RMSNorm makes f(αx) flat except for α near 0), so 64 midpoint steps account for
    // f(x) − f(x′) — which only correct gradients can do.
    assert!(err < 0.01, "completeness error {err}");
    assert!((signed.iter().sum::<f64>() - delta).abs() < 0.01 * delta.abs());
    assert_eq!(get(&out, "finished").as_bool(), Some(true));

    let err = m
        .start("attribute", request(r#"{"prompt":"ab","target":{"type":"logit_diff","token":1},"method":"saliency"}"#))
        .err()
        .expect("rejected");
    let msg = get(&JsValue::from(err), "message").as_string().expect("message");
    assert!(msg.contains("needs a second token"), "{msg}");
}

#[wasm_bindgen_test]
fn the_registry_lists_and_dispatches_every_analysis_by_name() {
    let list = Array::from(&Loupe::analyses().map_err(JsValue::from).expect("analyses"));
    let names: Vec<String> = list.iter().map(|e| get(&e, "name").as_string().expect("name")).collect();
    for needed in ["run", "logitLens", "attribute", "patch", "trainSae"] {
        assert!(names.iter().any(|n| n == needed), "{needed} missing from {names:?}");
    }
    let patch = list.iter().find(|e| get(e, "name").as_string().as_deref() == Some("patch")).expect("patch");
    assert_eq!(get(&patch, "kind").as_string().as_deref(), Some("job"));

    let m = tiny();
    let lens = m.call("logitLens", request(r#"{"prompt":"abc"}"#)).map_err(JsValue::from).expect("logit lens");
    let rows = Array::from(&get(&lens, "rows"));
    assert_eq!(rows.length(), 3, "two blocks: two resid_pre rows and the last resid_post");
    let err = m.call("noSuchAnalysis", request("{}")).err().expect("rejected");
    let msg = get(&JsValue::from(err), "message").as_string().expect("message");
    assert!(msg.contains("noSuchAnalysis") && msg.contains("logitLens"), "{msg}");
    // A job's name is not a call's and vice versa: each says which entry point to use.
    let err = m.call("patch", request("{}")).err().expect("rejected");
    let msg = get(&JsValue::from(err), "message").as_string().expect("message");
    assert!(msg.contains("loupe.start"), "{msg}");
    assert!(m.start("run", request(r#"{"prompt":"a"}"#)).is_err());
}
