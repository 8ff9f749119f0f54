//! Interventions on the real default model: the interpretability contract that capture +
//! write-back is the identity, and that sites, positions and heads select what they say.

use candle_core::{Device, Tensor};
use loupe_interp::run::{generate_text, run_prompt, GenerateRequest, RunRequest};
use loupe_interp::{Capture, Chain, Intervention, InterventionOp, Interventions};
use loupe_model::{HookPoint, NoHooks};

const PROMPT: &str = "When Mary and John went to the store, John gave a drink to";

mod common;
use common::setup;

fn run(capture: &[&str], interventions: Vec<Intervention>) -> loupe_interp::RunOutput {
    let (m, t) = setup();
    let req = RunRequest {
        prompt: PROMPT.into(),
        capture: capture.iter().map(|s| s.to_string()).collect(),
        top_k: 5,
        prepend_bos: false,
        interventions,
        all_logits: true, // the causality test reads every position
    };
    run_prompt(m, t, &req, 1024).expect("run")
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).and_then(|d| d.abs()).and_then(|d| d.flatten_all()).and_then(|d| d.max(0)).and_then(|d| d.to_scalar()).expect("diff")
}

fn replace_with(hook: &str, act: &Tensor) -> Intervention {
    Intervention {
        hook: hook.into(),
        positions: None,
        heads: None,
        features: None,
        op: InterventionOp::Replace { shape: act.dims().to_vec(), values: act.flatten_all().and_then(|t| t.to_vec1()).expect("values") },
    }
}

#[test]
fn capturing_then_writing_back_every_activation_leaves_logits_unchanged() {
    let clean = run(&["*"], vec![]);
    assert_eq!(clean.cache.entries.len(), 633, "every hook captured");
    // Write back a spread of sites, including the −∞-masked scores and per-head results.
    let sites = [
        "hook_embed",
        "blocks.0.attn.hook_attn_scores",
        "blocks.3.attn.hook_result",
        "blocks.7.attn.hook_rot_k",
        "blocks.12.hook_resid_mid",
        "blocks.20.mlp.hook_post",
        "blocks.29.hook_resid_post",
        "ln_final.hook_scale",
    ];
    let ivs = sites.iter().map(|s| replace_with(s, clean.cache.get(s.parse::<HookPoint>().expect("name")).expect("captured"))).collect();
    let patched = run(&[], ivs);
    assert_eq!(max_diff(&clean.logits, &patched.logits), 0.0);
}

#[test]
fn per_head_results_sum_to_the_attention_output() {
    let out = run(&["blocks.5.attn.hook_result", "blocks.5.hook_attn_out"], vec![]);
    let result = out.cache.get("blocks.5.attn.hook_result".parse().expect("name")).expect("result");
    let attn_out = out.cache.get("blocks.5.hook_attn_out".parse().expect("name")).expect("out");
    assert_eq!(result.dims(), &[1, 14, 9, 576]);
    let d = max_diff(&result.sum(2).expect("sum"), attn_out);
    assert!(d < 1e-4, "Σ heads of hook_result differs from hook_attn_out by {d}");
    // And computing hook_result does not change the model's output.
    let plain = run(&[], vec![]);
    assert!(max_diff(&plain.logits, &out.logits) < 1e-4);
}

#[test]
fn zeroing_a_heads_z_equals_zeroing_its_result() {
    let zero =
        |hook: &str| Intervention { hook: hook.into(), positions: None, heads: Some(vec![4]), features: None, op: InterventionOp::Zero };
    let via_z = run(&[], vec![zero("blocks.9.attn.hook_z")]);
    let via_result = run(&[], vec![zero("blocks.9.attn.hook_result")]);
    let clean = run(&[], vec![]);
    assert!(max_diff(&via_z.logits, &via_result.logits) < 1e-4);
    assert!(max_diff(&via_z.logits, &clean.logits) > 1e-3, "the ablation must do something");
}

#[test]
fn a_position_restricted_intervention_is_causal() {
    let d_model = setup().0.cfg.d_model;
    let steer = Intervention {
        hook: "blocks.6.hook_resid_pre".into(),
        positions: Some(vec![5]),
        heads: None,
        features: None,
        op: InterventionOp::Add { vector: vec![2.0; d_model] },
    };
    let clean = run(&[], vec![]);
    let steered = run(&[], vec![steer]);
    let before = |t: &Tensor| t.narrow(1, 0, 5).expect("narrow");
    let after = |t: &Tensor| t.narrow(1, 5, 9).expect("narrow");
    // Positions before 5 cannot see position 5: exactly unchanged.
    assert_eq!(max_diff(&before(&clean.logits), &before(&steered.logits)), 0.0);
    assert!(max_diff(&after(&clean.logits), &after(&steered.logits)) > 1e-2);
}

#[test]
fn bad_interventions_get_clear_errors() {
    let cfg = &setup().0.cfg;
    let check = |iv: Intervention, needle: &str| {
        let err = Interventions::new(&[iv], cfg).err().expect("must be rejected").to_string();
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    };
    let base =
        Intervention { hook: "blocks.0.hook_resid_pre".into(), positions: None, heads: None, features: None, op: InterventionOp::Zero };
    check(Intervention { hook: "blocks.99.hook_resid_pre".into(), ..base.clone() }, "no hook matches");
    check(Intervention { heads: Some(vec![0]), ..base.clone() }, "no head axis");
    check(Intervention { positions: Some(vec![]), ..base.clone() }, "selects no positions");
    check(Intervention { op: InterventionOp::Add { vector: vec![1.0; 3] }, ..base.clone() }, "needs 576");
    check(Intervention { hook: "blocks.0.attn.hook_z".into(), heads: Some(vec![9]), ..base.clone() }, "head 9 out of range");
    // Interventions are data: they round-trip through JSON.
    let json = serde_json::to_string(&base).expect("ser");
    assert_eq!(json, r#"{"hook":"blocks.0.hook_resid_pre","op":{"type":"zero"}}"#);
    assert_eq!(serde_json::from_str::<Intervention>(&json).expect("de"), base);
}

#[test]
fn interventions_apply_during_generation() {
    let (m, t) = setup();
    let req = GenerateRequest { prompt: "The Eiffel Tower is located in the city of".into(), max_tokens: 4, ..Default::default() };
    let plain = generate_text(m, t, &req, 1024, |_| true).expect("generate");
    // Zeroing the MLP output of layers 20–29 at every position changes the continuation.
    let ablate =
        Intervention { hook: "blocks.2?.hook_mlp_out".into(), positions: None, heads: None, features: None, op: InterventionOp::Zero };
    let req2 = GenerateRequest { interventions: vec![ablate], ..req.clone() };
    let ablated = generate_text(m, t, &req2, 1024, |_| true).expect("generate");
    assert_eq!(plain[0].text, " Paris");
    assert_ne!(plain, ablated);
    // With a position-restricted intervention past the prompt (position 12 is the 3rd new
    // token), the first two generated tokens are unchanged.
    let late = Intervention {
        hook: "blocks.*.hook_resid_post".into(),
        positions: Some(vec![12]),
        heads: None,
        features: None,
        op: InterventionOp::Zero,
    };
    let req3 = GenerateRequest { interventions: vec![late], stop_at_eos: false, max_tokens: 4, ..req };
    let plain3 = generate_text(m, t, &GenerateRequest { interventions: vec![], ..req3.clone() }, 1024, |_| true).expect("g");
    let late_out = generate_text(m, t, &req3, 1024, |_| true).expect("generate");
    assert_eq!(plain3[..2], late_out[..2]);
    assert_ne!(plain3[2..], late_out[2..]);
}

#[test]
fn capture_works_with_the_plain_forward_pass_too() {
    let (m, t) = setup();
    let ids = t.encode(PROMPT, false).expect("ids");
    let input = Tensor::new(ids.as_slice(), &Device::Cpu).and_then(|x| x.unsqueeze(0)).expect("input");
    let mut hooks = Chain(Interventions::none(), Capture::new([HookPoint::Embed]));
    let a = m.forward(&input, &mut hooks, None).expect("fwd");
    let b = m.forward(&input, &mut NoHooks, None).expect("fwd");
    assert_eq!(max_diff(&a, &b), 0.0);
    assert_eq!(hooks.1.cache.entries[0].1.dims(), &[1, ids.len(), 576]);
}

#[test]
fn last_position_logits_equal_the_last_row_of_a_full_forward() {
    let (m, t) = setup();
    let req = |all_logits| RunRequest { prompt: PROMPT.into(), top_k: 5, all_logits, ..Default::default() };
    let last = run_prompt(m, t, &req(false), 1024).expect("run");
    let all = run_prompt(m, t, &req(true), 1024).expect("run");
    assert_eq!(last.logits.dims()[1], 1);
    assert!(max_diff(&last.last_logits().expect("last"), &all.last_logits().expect("last")) < 1e-4);
    for (a, b) in last.top.iter().zip(&all.top) {
        assert_eq!(a.id, b.id);
        assert!((a.prob - b.prob).abs() < 1e-5, "{a:?} vs {b:?}"); // one row vs 14: GEMM rounding
    }
    // Capturing the final norm needs it at every position, so every position gets logits.
    let r = RunRequest { capture: vec!["ln_final.hook_scale".into()], ..req(false) };
    let hooked = run_prompt(m, t, &r, 1024).expect("run");
    assert_eq!(hooked.logits.dims()[1], all.logits.dims()[1]);
}
