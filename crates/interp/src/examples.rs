//! One example request per analysis, as the JSON the page and `loupe call` send: the seeds
//! of the request fuzz target (crates/fuzz) and the cases of tests/hostile_requests.rs.

use serde_json::{json, Value};

/// A request for every analysis of the registry on prompts `a` and `b` (of the same token
/// length), with token ids below 260 and layer 1 / width 64, so they suit the in-memory
/// tiny model (`loupe_model::synthetic`) as well as the default one.
pub fn example_requests(a: &str, b: &str) -> Vec<(&'static str, Value)> {
    let logit_diff = json!({"type": "logit_diff", "token": 104, "minus": 105});
    let target = json!({"type": "logprob", "token": 104});
    vec![
        ("run", json!({"prompt": a, "capture": ["blocks.*.attn.hook_pattern"]})),
        ("logitLens", json!({"prompt": a})),
        ("dla", json!({"prompt": a, "token": 104})),
        ("attribute", json!({"prompt": a, "target": target, "method": "integrated_gradients", "params": {"steps": 4}})),
        ("gradient", json!({"prompt": a, "target": target, "hooks": ["blocks.0.hook_resid_pre"]})),
        ("patch", json!({"clean": a, "corrupted": b, "metric": logit_diff, "site": "head_z_pos"})),
        ("attributionPatching", json!({"clean": a, "corrupted": b, "metric": logit_diff})),
        ("detectHeads", json!({"prompt": a})),
        ("ablate", json!({"prompt": a, "component": {"kind": "head", "layer": 1, "head": 0}, "method": "zero", "metric": logit_diff})),
        ("minimalPair", json!({"a": a, "b": b})),
        ("neuronView", json!({"prompt": a, "layer": 1, "neuron": 3})),
        ("steeringDirection", json!({"positive": [a], "negative": [b], "layer": 1})),
        ("steer", json!({"prompt": a, "steering": {"direction": vec![0.1; 64], "layers": [1], "mode": {"type": "add", "strength": 2.0}}})),
        ("saeFeatures", json!({"prompt": a})),
        ("saeFeatureInfo", json!({"feature": 0})),
        ("saeClamp", json!({"feature": 0, "value": 1.0})),
        (
            "trainSae",
            json!({"prompts": ["hello world, hello world, hello world", "the cat sat on the mat, twice over"], "hook": "blocks.1.hook_resid_pre", "dSae": 8, "steps": 2}),
        ),
        ("trainProbes", json!({"positive": ["a cat", "a dog"], "negative": ["a car", "a bus"], "iterations": 10})),
    ]
}
