//! The `loupe` binary's exact interface: outputs, and one-line errors with a non-zero exit
//! for bad input (truncated/corrupt/unsupported model files, empty or over-long prompts).

use std::path::PathBuf;
use std::process::{Command, Output};

fn model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn loupe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loupe")).args(args).output().expect("binary runs")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loupe-cli-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir.join(name)
}

/// Asserts failure with exactly one clear line on stderr containing `needle`.
fn assert_one_line_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("loupe: error: "), "{stderr:?}");
    assert!(stderr.contains(needle), "{stderr:?} should mention {needle:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn capture_writes_hooks_tokens_and_logits() {
    let out_path = tmp("capture.safetensors");
    let m = model();
    let out = loupe(&[
        "capture",
        "--model",
        m.to_str().expect("utf8"),
        "--prompt",
        "The Eiffel Tower is located in the city of",
        "--hooks",
        "blocks.*.hook_resid_pre,blocks.3.attn.hook_pattern",
        "--out",
        out_path.to_str().expect("utf8"),
        "--weights",
        "f32",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&out_path).expect("written");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
    let shape = |n: &str| st.tensor(n).unwrap_or_else(|_| panic!("{n} present")).shape().to_vec();
    assert_eq!(st.len(), 30 + 1 + 2);
    assert_eq!(shape("blocks.0.hook_resid_pre"), vec![1, 10, 576]);
    assert_eq!(shape("blocks.3.attn.hook_pattern"), vec![1, 9, 10, 10]);
    assert_eq!(shape("tokens"), vec![1, 10]);
    assert_eq!(st.tensor("tokens").expect("tokens").dtype(), safetensors::Dtype::I64);
    assert_eq!(shape("logits"), vec![1, 10, 49152]);
    // The first token is "The" (id 504), as in the reference fixtures.
    let tokens = st.tensor("tokens").expect("tokens");
    assert_eq!(i64::from_le_bytes(tokens.data()[..8].try_into().expect("8 bytes")), 504);
}

#[test]
fn generate_and_hooks_print_what_they_say() {
    let m = model();
    let m = m.to_str().expect("utf8");
    let out = loupe(&["generate", "--model", m, "--prompt", "The Eiffel Tower is located in the city of", "--max-tokens", "3"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(" Paris"));
    let seeded = |seed: &str| {
        let o = loupe(&[
            "generate",
            "--model",
            m,
            "--prompt",
            "Once upon a time",
            "--max-tokens",
            "8",
            "--temperature",
            "0.9",
            "--top-p",
            "0.95",
            "--seed",
            seed,
        ]);
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert_eq!(seeded("7"), seeded("7"), "same seed, same text");
    let hooks = loupe(&["hooks", "--model", m, "--pos", "4"]);
    let listing = String::from_utf8_lossy(&hooks.stdout);
    assert_eq!(listing.lines().count(), 633);
    assert!(listing.contains("blocks.29.attn.hook_pattern\t[1, 9, 4, 4]"));
}

#[test]
fn bad_model_files_get_one_clear_line() {
    let bytes = std::fs::read(model()).expect("model");
    let truncated = tmp("truncated.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let out = loupe(&["run", "--model", truncated.to_str().expect("utf8"), "--prompt", "hi"]);
    assert_one_line_error(&out, "file is truncated");

    let header_cut = tmp("header-cut.gguf");
    std::fs::write(&header_cut, &bytes[..100_000]).expect("write");
    assert_one_line_error(&loupe(&["run", "--model", header_cut.to_str().expect("utf8"), "--prompt", "hi"]), "truncated");

    let not_gguf = tmp("not.gguf");
    std::fs::write(&not_gguf, b"<html>404 Not Found</html>").expect("write");
    assert_one_line_error(&loupe(&["run", "--model", not_gguf.to_str().expect("utf8"), "--prompt", "hi"]), "not a GGUF file");

    // A valid GGUF of another architecture.
    let other = tmp("gpt2.gguf");
    let mut f = std::fs::File::create(&other).expect("create");
    let arch = candle_core::quantized::gguf_file::Value::String("gpt2".into());
    candle_core::quantized::gguf_file::write(&mut f, &[("general.architecture", &arch)], &[]).expect("write gguf");
    drop(f);
    assert_one_line_error(
        &loupe(&["run", "--model", other.to_str().expect("utf8"), "--prompt", "hi"]),
        "unsupported model: architecture 'gpt2'",
    );

    assert_one_line_error(&loupe(&["run", "--model", "/nonexistent.gguf", "--prompt", "hi"]), "cannot read /nonexistent.gguf");
}

#[test]
fn bad_prompts_and_flags_get_one_clear_line() {
    let m = model();
    let m = m.to_str().expect("utf8");
    assert_one_line_error(&loupe(&["run", "--model", m, "--prompt", ""]), "the prompt is empty");
    let long = "word ".repeat(9000);
    assert_one_line_error(&loupe(&["run", "--model", m, "--prompt", &long]), "the prompt has 9001 tokens; at most 8192 fit here");
    assert_one_line_error(
        &loupe(&["capture", "--model", m, "--prompt", "hi", "--hooks", "blocks.*.hook_nope", "--out", "/tmp/x.st"]),
        "no hook matches 'blocks.*.hook_nope'",
    );
    assert_one_line_error(&loupe(&["run", "--model", m, "--prompt", "hi", "--weights", "f16"]), "unknown weight mode 'f16'");
    assert_one_line_error(&loupe(&["run", "--model", m, "--promt", "hi"]), "unknown option '--promt'");
    assert_one_line_error(&loupe(&["generate", "--model", m, "--prompt", "hi", "--top-p", "0"]), "top_p must be in (0, 1]");
}

#[test]
fn attribute_grad_and_attrpatch_write_what_they_say() {
    let m = model();
    let m = m.to_str().expect("utf8");
    let p0 = "The Eiffel Tower is located in the city of";
    let out = loupe(&[
        "attribute",
        "--model",
        m,
        "--prompt",
        p0,
        "--token",
        " Paris",
        "--method",
        "integrated_gradients",
        "--steps",
        "4",
        "--baseline",
        "#0",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["signed"].as_array().expect("signed").len(), 10);
    assert_eq!(json["integratedGradients"]["alphas"].as_array().expect("alphas").len(), 4);
    assert!(json["integratedGradients"]["completenessError"].as_f64().expect("error").is_finite());
    assert_eq!(json["target"]["token"]["id"], 7042, "' Paris'");

    let grads = tmp("grads.safetensors");
    let out = loupe(&[
        "grad",
        "--model",
        m,
        "--prompt",
        p0,
        "--token",
        " Paris",
        "--hooks",
        "blocks.*.hook_resid_pre",
        "--out",
        grads.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&grads).expect("written");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
    assert_eq!(st.len(), 30);
    assert_eq!(st.tensor("blocks.7.hook_resid_pre").expect("present").shape(), [1, 10, 576]);

    let out = loupe(&[
        "attrpatch",
        "--model",
        m,
        "--clean",
        "When Mary and John went to the store, John gave a drink to",
        "--corrupted",
        "When Mary and John went to the store, Mary gave a drink to",
        "--token",
        " Mary",
        "--minus",
        " John",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["residPre"].as_array().expect("rows").len(), 30);
    assert_eq!(json["headZ"][0].as_array().expect("heads").len(), 9);
}

#[test]
fn bad_attribution_requests_get_one_clear_line() {
    let m = model();
    let m = m.to_str().expect("utf8");
    let p0 = "The Eiffel Tower is located in the city of";
    assert_one_line_error(&loupe(&["attribute", "--model", m, "--prompt", p0, "--token", " Eiffel Tower"]), "is 3 tokens");
    assert_one_line_error(&loupe(&["attribute", "--model", m, "--prompt", p0, "--token", " Paris", "--method", "lime"]), "--method 'lime'");
    assert_one_line_error(
        &loupe(&["attribute", "--model", m, "--prompt", p0, "--token", " Paris", "--position", "10"]),
        "position 10 is outside",
    );
    assert_one_line_error(
        &loupe(&["attribute", "--model", m, "--prompt", p0, "--token", " Paris", "--kind", "logit_diff"]),
        "needs a second token",
    );
    assert_one_line_error(
        &loupe(&["attribute", "--model", m, "--prompt", p0, "--token", " Paris", "--method", "occlusion", "--window", "11"]),
        "window must be 1 to 10",
    );
    assert_one_line_error(&loupe(&["attribute", "--model", m, "--prompt", p0, "--token", " Paris", "--steps", "0"]), "at least one step");
    assert_one_line_error(
        &loupe(&["attrpatch", "--model", m, "--clean", "a b", "--corrupted", "a b c", "--token", " Mary"]),
        "same token length",
    );
}

#[test]
fn steering_sae_and_probe_commands_write_what_they_say() {
    let m = model();
    let m = m.to_str().expect("utf8");
    let pos = "I love this movie, it is wonderful|What a fantastic and happy day";
    let neg = "I hate this movie, it is terrible|What an awful and sad day";
    let out = loupe(&["direction", "--model", m, "--positive", pos, "--negative", neg, "--layer", "12"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(dir["vector"].as_array().expect("vector").len(), 576);
    let dir_path = tmp("direction.json");
    std::fs::write(&dir_path, &out.stdout).expect("write");

    let film = "I went to see the film last night and I thought it was";
    let out = loupe(&[
        "steer",
        "--model",
        m,
        "--prompt",
        film,
        "--layers",
        "12",
        "--direction",
        dir_path.to_str().expect("utf8"),
        "--strength=-0.3",
        "--max-tokens",
        "6",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(json["shift"]["kl"].as_f64().expect("kl") > 0.01);
    assert_ne!(json["generation"]["steered"], json["generation"]["unsteered"]);

    let sae = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny_sae");
    let out = loupe(&["sae", "--model", m, "--sae", sae.to_str().expect("utf8"), "--prompt", film, "--feature", "3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["features"]["l0"].as_array().expect("l0").len(), 13);
    assert_eq!(json["feature"]["promoted"].as_array().expect("promoted").len(), 8);

    let out = loupe(&[
        "probe",
        "--model",
        m,
        "--positive",
        &format!("{pos}|This is the best meal I have ever had"),
        "--negative",
        &format!("{neg}|This is the worst meal I have ever had"),
        "--layers",
        "3,12",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["layers"].as_array().expect("layers").len(), 2);
    assert_eq!(json["layers"][1]["massMeanDirection"].as_array().expect("direction").len(), 576);

    assert_one_line_error(
        &loupe(&["steer", "--model", m, "--prompt", film, "--layers", "40", "--direction", dir_path.to_str().expect("utf8")]),
        "layer 40 out of range",
    );
    assert_one_line_error(&loupe(&["sae", "--model", m, "--sae", "/nonexistent", "--prompt", film]), "reading /nonexistent/cfg.json");
}

#[test]
fn call_runs_any_registered_analysis_with_the_pages_request() {
    let m = model();
    let m = m.to_str().expect("utf8");
    let list = loupe(&["analyses", "--json"]);
    assert!(list.status.success());
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json list");
    let names: Vec<&str> = list.as_array().expect("array").iter().map(|e| e["name"].as_str().expect("name")).collect();
    assert!(names.contains(&"neuronView") && names.contains(&"patch"), "{names:?}");

    // The generic entry gives exactly what the named subcommand gives (one implementation).
    let prompt = "The Eiffel Tower is located in the city of";
    let request = serde_json::json!({ "prompt": prompt, "layer": 3, "neuron": 7 }).to_string();
    let called = loupe(&["call", "neuronView", "--model", m, "--request", &request]);
    assert!(called.status.success(), "{}", String::from_utf8_lossy(&called.stderr));
    let named = loupe(&["neuron", "--model", m, "--prompt", prompt, "--layer", "3", "--neuron", "7"]);
    assert!(named.status.success(), "{}", String::from_utf8_lossy(&named.stderr));
    let called: serde_json::Value = serde_json::from_slice(&called.stdout).expect("json");
    let named: serde_json::Value = serde_json::from_slice(&named.stdout).expect("json");
    assert_eq!(called, named);
    assert_eq!(called["activations"].as_array().map(Vec::len), Some(10));

    // A stepped job runs to its end.
    let request = serde_json::json!({ "clean": "When Mary and John went to the store, John gave a drink to",
        "corrupted": "When Mary and John went to the store, Mary gave a drink to",
        "metric": { "type": "logit_diff", "token": " Mary", "minus": " John" }, "site": "resid_pre" });
    let path = tmp("patch-request.json");
    std::fs::write(&path, request.to_string()).expect("written");
    let out = loupe(&["call", "patch", "--model", m, "--request", &format!("@{}", path.display())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let patch: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(patch["layersDone"], patch["nLayers"]);

    assert_one_line_error(&loupe(&["call", "noSuch", "--model", m]), "unknown analysis 'noSuch'");
    assert_one_line_error(&loupe(&["call", "neuronView", "--model", m, "--request", "{\"prompt\":"]), "not valid JSON");
    assert_one_line_error(&loupe(&["call", "neuronView", "--model", m, "--request", "{\"prompt\":\"a\"}"]), "bad request for neuronView");
}
