//! Requests of any size get an answer or a clear error, never a panic, an abort or an
//! allocation of the size they ask for: every analysis of the registry, through the same
//! JSON the page and `loupe call` send, on the in-memory tiny model (so this needs no
//! download). Bounds live in `loupe_interp::bounds`.

use loupe_interp::examples::example_requests;
use loupe_interp::registry::{self, Analysis, Stepped, Visitor};
use loupe_interp::session::{Limits, Session};
use loupe_model::synthetic::{tiny_llama_parts, write_gguf};
use loupe_model::{GgufFile, Llama, LoupeTokenizer, WeightMode};
use serde_json::{json, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The tiny model with this context length, as a session (gradients built from its file).
fn session(context: u32) -> Session {
    let (mut metadata, tensors) = tiny_llama_parts(5).expect("tiny model");
    for (k, v) in &mut metadata {
        if k == "llama.context_length" {
            *v = candle_core::quantized::gguf_file::Value::U32(context);
        }
    }
    let file = Rc::new(GgufFile::from_bytes(write_gguf(&metadata, &tensors).expect("written")).expect("loads"));
    let model = Llama::load(&file, WeightMode::Quantized).expect("model");
    let tok = LoupeTokenizer::from_gguf(&file).expect("tokenizer");
    let limits = Limits { max_prompt_tokens: model.cfg.context_length };
    Session::new(model, tok, limits).with_file(file)
}

/// Runs the analysis `name` on `request` as `loupe call` does: Ok(()) or the error's text.
struct Call<'a> {
    session: &'a Session,
    name: &'a str,
    request: Value,
    out: Option<Result<(), String>>,
}

impl Visitor for Call<'_> {
    fn call<A: Analysis>(&mut self) {
        if A::NAME == self.name {
            self.out = Some(match serde_json::from_value::<A::Request>(self.request.clone()) {
                Ok(r) => A::run(self.session, &r).map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(format!("bad request: {e}")),
            });
        }
    }
    fn job<A: Stepped>(&mut self) {
        if A::NAME == self.name {
            self.out = Some(match serde_json::from_value::<A::Request>(self.request.clone()) {
                Ok(r) => registry::run_to_end::<A>(self.session, &r).map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(format!("bad request: {e}")),
            });
        }
    }
}

/// The outcome of one request; a panic or a run over `limit` fails the test, naming it.
fn call(session: &Session, name: &str, request: Value, limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    let mut v = Call { session, name, request: request.clone(), out: None };
    let outcome = catch_unwind(AssertUnwindSafe(|| registry::visit(&mut v)));
    assert!(outcome.is_ok(), "{name} panicked on {request}");
    assert!(started.elapsed() < limit, "{name} took {:?} on {request}", started.elapsed());
    v.out.unwrap_or_else(|| panic!("no analysis named {name}"))
}

fn refused(session: &Session, name: &str, request: Value, fragments: &[&str]) {
    match call(session, name, request.clone(), Duration::from_secs(5)) {
        Ok(()) => panic!("{name} accepted {request}"),
        Err(m) => {
            for f in fragments {
                assert!(m.contains(f), "{name}: {m:?} should mention {f:?}");
            }
        }
    }
}

fn ig(params: Value) -> Value {
    json!({"prompt": "hello world", "target": {"type": "logit", "token": 104}, "method": "integrated_gradients", "params": params})
}

#[test]
fn work_amounts_above_their_bounds_are_refused_before_any_work() {
    let s = session(128);
    refused(&s, "attribute", ig(json!({"steps": 1_000_000_000_000u64})), &["steps", "1000000000000", "4096"]);
    refused(&s, "attribute", ig(json!({"adaptive": true, "maxPasses": 1_000_000_000_000u64})), &["maxPasses", "4096"]);
    let mut smooth = ig(json!({"samples": 1_000_000_000_000u64}));
    smooth["method"] = json!("smoothgrad");
    refused(&s, "attribute", smooth, &["samples", "4096"]);
    refused(
        &s,
        "trainProbes",
        json!({"positive": ["a b", "c d"], "negative": ["e f", "g h"], "iterations": 1_000_000_000_000u64}),
        &["iterations"],
    );
    let many: Vec<String> = (0..2000).map(|i| format!("p{i}")).collect();
    refused(&s, "steeringDirection", json!({"positive": many, "negative": ["x"], "layer": 0}), &["prompts", "1024"]);
    refused(&s, "detectHeads", json!({"prompt": "hello", "randomIds": vec![100; 100_000]}), &["random sequence", "100000"]);
    refused(&s, "detectHeads", json!({"prompt": "hello", "randomIds": [5000, 6000]}), &["outside the vocabulary"]);
}

#[test]
fn a_replacement_whose_shape_product_wraps_is_refused() {
    let s = session(128);
    let wraps = json!({"prompt": "hi", "interventions": [{"hook": "blocks.0.hook_resid_pre",
        "op": {"type": "replace", "shape": [4_294_967_296u64, 4_294_967_296u64, 1], "values": []}}]});
    refused(&s, "run", wraps, &["replacement", "too many"]);
}

#[test]
fn generation_lengths_near_the_integer_limit_are_an_error() {
    let s = session(128);
    let ids = s.tok.encode("hello", false).expect("tokens");
    let opts = loupe_model::GenerateOptions { max_tokens: usize::MAX, sampling: Default::default(), stop_token: None };
    let e = loupe_model::Generator::new(&s.model, &ids, opts).err().expect("refused");
    assert!(e.to_string().contains("exceed this model's context of 128"), "{e}");
}

fn every_request() -> Vec<(&'static str, Value)> {
    example_requests("hello world", "hello wurld")
}

#[test]
fn every_analysis_is_listed_here() {
    let listed: Vec<&str> = every_request().iter().map(|(n, _)| *n).collect();
    for entry in registry::catalogue() {
        assert!(listed.contains(&entry.name), "add a request for {} to every_request()", entry.name);
    }
}

#[test]
fn every_analysis_answers_on_a_normal_model() {
    // The requests above are sane: each runs (the SAE ones train their SAE first).
    let s = session(128);
    for (name, request) in every_request() {
        let r = call(&s, name, request.clone(), Duration::from_secs(60));
        assert!(r.is_ok() || name.starts_with("sae"), "{name} failed on {request}: {r:?}");
    }
}

#[test]
fn every_analysis_on_a_context_shorter_than_it_needs_errs_without_panicking() {
    // A model whose context is 1 to 4 tokens: too short for most requests here (head
    // detection repeats a sequence; patching needs two prompts...). Each answers or errs.
    for context in [1, 2, 3, 4] {
        let s = session(context);
        for (a, b) in [("h", "o"), ("hi", "ho"), ("hello world", "hello wurld")] {
            for (name, request) in example_requests(a, b) {
                let _ = call(&s, name, request, Duration::from_secs(30));
            }
        }
    }
}
