//! Steering vectors and sparse autoencoders against PyTorch forward hooks on the same GGUF
//! (dequantized), from tests/fixtures/make_steering_fixtures.py, in f32: directions, the
//! typical-norm scale, steered logits (add, clamp, ablate), steered greedy generation, SAE
//! encode/decode/splice and feature clamping, all within 1e-3; clamping a feature to its own
//! value changes nothing.

mod common;

use candle_core::{Device, IndexOp, Tensor};
use loupe_interp::intervention::{Intervention, InterventionOp, Interventions};
use loupe_interp::run::{generate_text, GenerateRequest};
use loupe_interp::sae::Sae;
use loupe_interp::steering::{contrastive_direction, steer, DirectionRequest, Reduce, SteerMode, SteerRequest, Steering};
use loupe_model::NoHooks;

const S: &str = "I went to see the film last night and I thought it was";
const POSITIVE: [&str; 3] =
    ["I love this movie, it is wonderful", "What a fantastic and happy day", "This is the best meal I have ever had"];
const NEGATIVE: [&str; 3] = ["I hate this movie, it is terrible", "What an awful and sad day", "This is the worst meal I have ever had"];

fn reference(key: &str) -> Vec<f32> {
    common::vector_of("steering", key)
}

fn ids(key: &str) -> Vec<u32> {
    common::tensor("steering", key)
        .to_dtype(candle_core::DType::I64)
        .and_then(|t| t.to_vec1::<i64>())
        .expect("ids")
        .into_iter()
        .map(|i| i as u32)
        .collect()
}

fn assert_close(what: &str, ours: &[f32], theirs: &[f32], tolerance: f32) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    let err = ours.iter().zip(theirs).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    println!("{what}: max |Δ| {err:.2e}");
    assert!(err <= tolerance, "{what}: max |Δ| {err} > {tolerance}");
}

/// Last-position logits of S under interventions.
fn last_logits(interventions: &[Intervention]) -> Tensor {
    let (m, tok) = common::setup();
    let ids = tok.encode(S, false).expect("ids");
    let input = Tensor::new(ids.as_slice(), &Device::Cpu).and_then(|t| t.unsqueeze(0)).expect("input ids");
    let logits = match interventions.is_empty() {
        true => m.forward(&input, &mut NoHooks, None),
        false => m.forward(&input, &mut Interventions::new(interventions, &m.cfg).expect("valid"), None),
    };
    logits.expect("forward").i((0, ids.len() - 1)).expect("last")
}

/// Compares a run's last-position logits with a stored readout (`X.top_ids/top_logits`,
/// `X.fixed_logits`, `X.city_logits`).
fn assert_readout(prefix: &str, logits: &Tensor) {
    let at = |ids: &[u32]| -> Vec<f32> { ids.iter().map(|&i| logits.i(i as usize).and_then(|t| t.to_scalar()).expect("logit")).collect() };
    assert_close(
        &format!("{prefix} top-20 logits"),
        &at(&ids(&format!("{prefix}.top_ids"))),
        &reference(&format!("{prefix}.top_logits")),
        1e-3,
    );
    assert_close(&format!("{prefix} fixed logits"), &at(&ids("steer.fixed_ids")), &reference(&format!("{prefix}.fixed_logits")), 1e-3);
    assert_close(&format!("{prefix} city logits"), &at(&ids("steer.city_ids")), &reference(&format!("{prefix}.city_logits")), 1e-3);
}

fn direction() -> Vec<f32> {
    reference("dir.vector")
}

#[test]
fn contrastive_directions_match_pytorch() {
    let (m, tok) = common::setup();
    for (reduce, key) in [(Reduce::Last, "dir"), (Reduce::Mean, "dir_mean")] {
        let req = DirectionRequest {
            positive: POSITIVE.map(String::from).to_vec(),
            negative: NEGATIVE.map(String::from).to_vec(),
            layer: 12,
            reduce,
            prepend_bos: false,
        };
        let d = contrastive_direction(m, tok, &req, 1024).expect("direction");
        assert_close(&format!("{key}.vector"), &d.vector, &reference(&format!("{key}.vector")), 1e-3);
        assert!((d.norm - reference(&format!("{key}.norm"))[0]).abs() < 1e-3);
        if reduce == Reduce::Last {
            assert!((d.typical_norm - reference("dir.typical_norm")[0]).abs() < 1e-3, "typical norm {}", d.typical_norm);
        }
    }
}

#[test]
fn steered_logits_and_greedy_text_match_pytorch() {
    let (m, tok) = common::setup();
    assert_readout("steer.base", &last_logits(&[]));
    for (name, mode) in
        [("add", SteerMode::Add { strength: -0.2 }), ("clamp", SteerMode::Clamp { value: -0.2 }), ("ablate", SteerMode::Ablate)]
    {
        let req = SteerRequest {
            prompt: S.into(),
            steering: Steering { direction: direction(), layers: vec![12], positions: None, mode },
            top_k: Some(5),
            prepend_bos: false,
        };
        let shift = steer(m, tok, &req, 1024).expect("steer");
        assert!((shift.typical_norms[0] - reference("steer.typical_norm")[0]).abs() < 1e-3);
        assert_readout(&format!("steer.{name}"), &last_logits(&shift.interventions));
        let kl = reference(&format!("steer.{name}.kl"))[0];
        println!("{name}: KL ours {:.5}, PyTorch {kl:.5}", shift.kl);
        assert!((shift.kl - kl).abs() < 1e-3);
        if name == "add" {
            let generate = |interventions: Vec<Intervention>| -> Vec<u32> {
                let req = GenerateRequest { prompt: S.into(), max_tokens: 12, stop_at_eos: false, interventions, ..Default::default() };
                generate_text(m, tok, &req, 1024, |_| true).expect("generate").iter().map(|t| t.id).collect()
            };
            assert_eq!(generate(vec![]), ids("steer.base.generated"), "unsteered greedy text");
            assert_eq!(generate(shift.interventions.clone()), ids("steer.add.generated"), "steered greedy text");
        }
    }
}

fn tiny_sae() -> Sae {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny_sae");
    let cfg = std::fs::read_to_string(dir.join("cfg.json")).expect("cfg");
    let weights = std::fs::read(dir.join("sae_weights.safetensors")).expect("weights");
    Sae::load(&cfg, &weights, &common::setup().0.cfg).expect("tiny SAE loads")
}

#[test]
fn sae_encode_decode_splice_and_clamp_match_pytorch() {
    let sae = tiny_sae();
    let x = common::tensor("steering", "sae.input");
    let f = sae.encode(&x).expect("encode");
    let flat = |t: &Tensor| t.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("flat");
    // Position 0's residual has norm ~24 000 (an attention sink), so its features are in the
    // hundreds: the bar is 1e-3 of the largest value (a relative 1e-3 for the big ones).
    let scale = |v: &[f32]| v.iter().fold(1f32, |m, x| m.max(x.abs()));
    let want = reference("sae.features");
    assert_close("SAE features", &flat(&f), &want, 1e-3 * scale(&want));
    let l0: Vec<f32> =
        f.gt(0.0).and_then(|t| t.to_dtype(candle_core::DType::F32)).and_then(|t| t.sum(1)).and_then(|t| t.to_vec1()).expect("l0");
    assert_eq!(l0, reference("sae.l0"));
    let x_hat = sae.decode(&f).expect("decode");
    let want = reference("sae.reconstruction");
    assert_close("SAE reconstruction", &flat(&x_hat), &want, 1e-3 * scale(&want));

    // The splice: the reconstruction replaces blocks.12.hook_resid_pre at every position.
    let splice = Intervention {
        hook: "blocks.12.hook_resid_pre".into(),
        positions: None,
        heads: None,
        features: None,
        op: InterventionOp::Replace { shape: vec![1, 13, 576], values: flat(&x_hat) },
    };
    assert_readout("sae.spliced", &last_logits(&[splice]));

    let j = reference("sae.clamp.feature")[0] as usize;
    let clamp = sae.clamp_intervention(j, 3.0, None).expect("clamp");
    assert_readout("sae.clamp", &last_logits(&[clamp]));

    // Clamping to its own current value (here at the last position) changes nothing.
    let own = f.i((12, j)).and_then(|t| t.to_scalar::<f32>()).expect("own value");
    let same = sae.clamp_intervention(j, own, Some(vec![12])).expect("clamp");
    let diff = (last_logits(&[same]) - last_logits(&[]))
        .and_then(|d| d.abs())
        .and_then(|d| d.max_all())
        .and_then(|d| d.to_scalar::<f32>())
        .expect("diff");
    println!("clamp to own value: max |Δ logit| {diff:.2e}");
    assert!(diff < 1e-4, "{diff}");
}

#[test]
fn mismatched_saes_get_clear_errors() {
    let cfg = common::setup().0.cfg.clone();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny_sae");
    let weights = std::fs::read(dir.join("sae_weights.safetensors")).expect("weights");
    let text = std::fs::read_to_string(dir.join("cfg.json")).expect("cfg");
    let err = |cfg_text: &str, bytes: &[u8]| Sae::load(cfg_text, bytes, &cfg).map(|_| ()).expect_err("rejected").to_string();
    assert!(err(&text.replace("blocks.12.hook_resid_pre", "blocks.40.hook_resid_pre"), &weights).contains("has 30 layers"));
    assert!(err(&text.replace("blocks.12.hook_resid_pre", "blocks.12.hook_nope"), &weights).contains("not a hook"));
    assert!(err(&text.replace("\"d_in\": 576", "\"d_in\": 512"), &weights).contains("another model"));
    assert!(err(&text.replace("\"d_sae\": 64", "\"d_sae\": 65"), &weights).contains("cfg.json implies"));
    assert!(err(&text, &weights[..1000]).contains("not a valid safetensors"));
    assert!(err("{", &weights).contains("cfg.json is not valid"));
}

#[test]
fn an_sae_trained_on_a_few_prompts_learns_and_exports_to_raw_activations() {
    use loupe_interp::sae_train::{SaeTrainRequest, SaeTraining};
    let (m, tok) = common::setup();
    let prompts: Vec<String> = [
        "The Eiffel Tower is located in the city of Paris, the capital of France.",
        "When Mary and John went to the store, John gave a drink to Mary.",
        "I went to see the film last night and I thought it was a great movie.",
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "Photosynthesis converts light energy into chemical energy in plants.",
        "In 1969 the first humans walked on the surface of the Moon.",
    ]
    .map(String::from)
    .to_vec();
    let req = SaeTrainRequest { prompts: prompts.clone(), d_sae: 128, steps: 200, batch: 64, ..Default::default() };
    let mut training = SaeTraining::start(m, tok, &req, 1024).expect("start");
    while training.step(25).expect("step") {}
    let progress = training.progress().expect("progress");
    let (first, last) = (&progress.history[0], progress.history.last().expect("history"));
    println!(
        "SAE training on {} tokens: EV {:.3} → {:.3}, L0 {:.1} → {:.1}",
        progress.tokens, first.explained_variance, last.explained_variance, first.l0, last.l0
    );
    assert!(progress.finished && last.step == 200);
    assert!(last.explained_variance > first.explained_variance && last.explained_variance > 0.5, "{last:?}");
    assert!(last.l0 < 32.0, "sparse: {last:?}");
    // The exported SAE works on raw activations exactly as training saw scaled ones.
    let sae = training.sae().expect("export");
    let mut rows = Vec::new();
    for p in &prompts {
        let ids = tok.encode(p, false).expect("ids");
        let act = loupe_interp::capture::capture_one(m, &ids, "blocks.12.hook_resid_pre".parse().expect("hook")).expect("capture");
        rows.push(act.narrow(0, 1, ids.len() - 1).expect("rows"));
    }
    let x = Tensor::cat(&rows, 0).expect("cat");
    let x_hat = sae.decode(&sae.encode(&x).expect("encode")).expect("decode");
    let err = (x_hat - &x).and_then(|d| d.sqr()).and_then(|d| d.sum_all()).and_then(|d| d.to_scalar::<f32>()).expect("err");
    let var = x
        .broadcast_sub(&x.mean_keepdim(0).expect("mean"))
        .and_then(|d| d.sqr())
        .and_then(|d| d.sum_all())
        .and_then(|d| d.to_scalar::<f32>())
        .expect("var");
    assert!((1.0 - err / var - last.explained_variance).abs() < 1e-3, "exported EV {} vs {}", 1.0 - err / var, last.explained_variance);
    let norm = sae.decoder_row(5).and_then(|r| Ok(r.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?)).expect("norm");
    assert!((norm - 1.0).abs() < 1e-4, "decoder rows have unit norm: {norm}");
}

#[test]
fn the_shipped_sae_loads_and_reconstructs_held_out_text() {
    // saes/smollm2-135m-instruct-l12-resid (scripts/train_sae.py; float16 weights). Its
    // measured held-out quality is in docs/SAE.md; here, on a prompt outside its corpus,
    // positions ≥ 1 (it is not trained on the attention sink at position 0).
    use loupe_interp::sae::{sae_features, FeaturesRequest};
    let (m, tok) = common::setup();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../saes/smollm2-135m-instruct-l12-resid");
    let cfg = std::fs::read_to_string(dir.join("cfg.json")).expect("cfg");
    let sae = Sae::load(&cfg, &std::fs::read(dir.join("sae_weights.safetensors")).expect("weights"), &m.cfg).expect("loads");
    assert_eq!((sae.cfg.d_in, sae.cfg.d_sae), (576, 2048));
    let req =
        FeaturesRequest { prompt: "When Mary and John went to the store, John gave a drink to".into(), top_k: Some(5), prepend_bos: false };
    let (out, _) = sae_features(m, tok, &sae, &req, 1024).expect("features");
    let n = out.l0.len() - 1;
    let l0 = out.l0[1..].iter().sum::<usize>() as f32 / n as f32;
    let err = out.relative_error[1..].iter().sum::<f32>() / n as f32;
    println!("shipped SAE on the IOI prompt: mean L0 {l0:.1}, mean ‖x − x̂‖²/‖x‖² {err:.3}");
    assert!((5.0..=120.0).contains(&l0), "L0 {l0}");
    assert!(err < 0.35, "relative reconstruction error {err}");
}
