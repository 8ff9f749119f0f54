//! Every analysis against PyTorch on the same GGUF (dequantized), from fixtures made by
//! tests/fixtures/make_analysis_fixtures.py, in f32 mode. Tolerances are the issue's: logit
//! lens and DLA 1e-3, patching metrics 1e-3, detector scores 1e-4; DLA parts sum to the
//! logit difference within 1e-3; patching a position with its own clean activation gives
//! exactly the clean metric.

use candle_core::Tensor;
use loupe_interp::detectors::{detect_heads, DetectRequest};
use loupe_interp::dla::{direct_logit_attribution, DlaRequest};
use loupe_interp::lens::{logit_lens, LensRequest};
use loupe_interp::patching::{Metric, PatchRequest, PatchSite, PatchSweep};
use loupe_interp::target::TokenRef;

const P0: &str = "The Eiffel Tower is located in the city of";
const CLEAN: &str = "When Mary and John went to the store, John gave a drink to";
const CORRUPT: &str = "When Mary and John went to the store, Mary gave a drink to";

mod common;
use common::{max_diff, setup};

fn matrix(name: &str) -> Vec<Vec<f32>> {
    common::matrix_of("analysis", name)
}

fn scalar(name: &str) -> f32 {
    common::scalar_of("analysis", name)
}

fn fixture(name: &str) -> Tensor {
    common::tensor("analysis", name)
}

fn text(s: &str) -> TokenRef {
    TokenRef::Text(s.into())
}

#[test]
fn logit_lens_matches_pytorch() {
    let (m, t) = setup();
    let req = LensRequest { prompt: P0.into(), target: Some(text(" Paris")), top_k: Some(3), prepend_bos: false };
    let out = logit_lens(m, t, &req, 1024).expect("lens");
    assert_eq!(out.rows.len(), 31);
    assert_eq!(out.rows[30], "blocks.29.hook_resid_post");
    let ours: Vec<Vec<f32>> = out.cells.iter().map(|r| r.iter().map(|c| c.target_logprob.expect("target")).collect()).collect();
    let d = max_diff(&ours, &matrix("lens.target_logprob"));
    println!("logit lens: max |Δ target log-prob| = {d:.2e}");
    assert!(d <= 1e-3, "{d}");
    let top1: Vec<Vec<i64>> = fixture("lens.top1").to_vec2().expect("top1");
    let ranks: Vec<Vec<i64>> = fixture("lens.target_rank").to_vec2().expect("ranks");
    let mut top1_agree = 0;
    for (r, row) in out.cells.iter().enumerate() {
        for (p, cell) in row.iter().enumerate() {
            top1_agree += (cell.top[0].id as i64 == top1[r][p]) as usize;
            // Ranks may differ by ties/float noise only where logits are within 1e-3.
            assert!((cell.target_rank.expect("rank") as i64 - ranks[r][p]).abs() <= 2, "rank at {r},{p}");
        }
    }
    let cells = 31 * out.tokens.len();
    assert!(top1_agree * 100 >= cells * 97, "top-1 agrees on {top1_agree}/{cells} cells");
    // The last row, last position is the model's own prediction.
    assert_eq!(out.cells[30].last().expect("cell").top[0].token, " Paris");
}

#[test]
fn dla_matches_pytorch_and_sums_to_the_logit_difference() {
    let (m, t) = setup();
    let req = DlaRequest { prompt: CLEAN.into(), token: text(" Mary"), minus: Some(text(" John")), position: -1, prepend_bos: false };
    let out = direct_logit_attribution(m, t, &req, 1024).expect("dla");
    let d_heads = max_diff(&out.heads, &matrix("dla.heads"));
    let d_mlp = max_diff(std::slice::from_ref(&out.mlp), &[fixture("dla.mlp").to_vec1().expect("mlp")]);
    let d_embed = (out.embed - scalar("dla.embed")).abs();
    let d_total = (out.total - scalar("dla.total")).abs();
    println!(
        "DLA: max |Δ| heads {d_heads:.2e}, mlp {d_mlp:.2e}, embed {d_embed:.2e}, total {d_total:.2e}; parts − total = {:.2e}",
        out.sum_of_parts - out.total
    );
    assert!(d_heads <= 1e-3 && d_mlp <= 1e-3 && d_embed <= 1e-3 && d_total <= 1e-3);
    assert!((out.sum_of_parts - out.total).abs() <= 1e-3);
    // In f32 mode the decomposed total is the model's own logit difference.
    assert!((out.model_total - out.total).abs() <= 1e-3, "{} vs {}", out.model_total, out.total);
}

fn sweep(site: PatchSite) -> loupe_interp::patching::PatchResult {
    let (m, t) = setup();
    let req = PatchRequest {
        clean: CLEAN.into(),
        corrupted: CORRUPT.into(),
        metric: Metric::LogitDiff { token: text(" Mary"), minus: text(" John") },
        site,
        prepend_bos: false,
    };
    let mut s = PatchSweep::start(m, t, &req, 1024).expect("start");
    while s.step(m).expect("step") {}
    s.result()
}

#[test]
fn patching_sweeps_match_pytorch() {
    for (site, name) in [
        (PatchSite::ResidPre, "patch.resid_pre"),
        (PatchSite::AttnOut, "patch.attn_out"),
        (PatchSite::MlpOut, "patch.mlp_out"),
        (PatchSite::HeadZ, "patch.head_z"),
        (PatchSite::HeadZPos, "patch.head_z_pos"),
    ] {
        let out = sweep(site);
        assert!((out.clean_metric - scalar("patch.clean_metric")).abs() <= 1e-3);
        assert!((out.corrupted_metric - scalar("patch.corrupt_metric")).abs() <= 1e-3);
        let d = max_diff(&out.values, &matrix(name));
        println!("{name}: max |Δ normalised metric| = {d:.2e}");
        assert!(d <= 1e-3, "{name}: {d}");
        if site == PatchSite::ResidPre {
            // Positions before the first difference (the 10th token, " John"/" Mary") carry
            // identical activations in both runs: patching them changes nothing.
            let first_diff = out.clean_tokens.iter().zip(&out.corrupted_tokens).position(|(a, b)| a != b).expect("a difference");
            for layer in &out.values {
                for v in &layer[..first_diff] {
                    assert_eq!(*v, 0.0);
                }
            }
            // At layer 0 the differing token *is* the whole difference: patching it restores
            // the clean run, i.e. exactly the clean metric.
            assert!((out.values[0][first_diff] - 1.0).abs() <= 1e-5, "{}", out.values[0][first_diff]);
        }
    }
}

#[test]
fn mismatched_lengths_are_explained() {
    let (m, t) = setup();
    let req = PatchRequest {
        clean: CLEAN.into(),
        corrupted: "When Mary and John went to the store, the old man gave a drink to".into(),
        metric: Metric::Logprob { token: text(" Mary") },
        site: PatchSite::ResidPre,
        prepend_bos: false,
    };
    let err = PatchSweep::start(m, t, &req, 1024).err().expect("rejected").to_string();
    assert!(err.contains("same token length"), "{err}");
    let multi = LensRequest { prompt: P0.into(), target: Some(text(" Eiffel Tower")), top_k: None, prepend_bos: false };
    let err = logit_lens(m, t, &multi, 1024).map(|_| ()).expect_err("rejected").to_string();
    assert!(err.contains("not one"), "{err}");
}

#[test]
fn head_detectors_match_pytorch() {
    let (m, t) = setup();
    let random: Vec<i64> = fixture("detect.random_ids").to_vec1().expect("ids");
    let req = DetectRequest {
        prompt: P0.into(),
        random_length: None,
        seed: None,
        random_ids: Some(random.iter().map(|&x| x as u32).collect()),
        prepend_bos: false,
    };
    let out = detect_heads(m, t, &req, 1024).expect("detect");
    for (ours, name) in
        [(&out.previous_token, "detect.prev_token"), (&out.duplicate_token, "detect.duplicate"), (&out.induction, "detect.induction")]
    {
        let d = max_diff(ours, &matrix(name));
        println!("{name}: max |Δ| = {d:.2e}");
        assert!(d <= 1e-4, "{name}: {d}");
    }
}

#[test]
fn ablations_match_pytorch() {
    use loupe_interp::ablation::{ablate, AblateRequest, AblationMethod, Component};
    let (m, t) = setup();
    let cases = [
        (Component::Head { layer: 23, head: 3 }, AblationMethod::Zero),
        (Component::Head { layer: 23, head: 3 }, AblationMethod::Mean),
        (Component::Head { layer: 23, head: 3 }, AblationMethod::Resample),
        (Component::Mlp { layer: 28 }, AblationMethod::Zero),
        (Component::Mlp { layer: 28 }, AblationMethod::Mean),
        (Component::Neuron { layer: 20, index: 100 }, AblationMethod::Zero),
        (Component::Neuron { layer: 20, index: 100 }, AblationMethod::Mean),
    ];
    let want_metric: Vec<f32> = fixture("ablate.metric").to_vec1().expect("metric");
    let want_kl: Vec<f32> = fixture("ablate.kl").to_vec1().expect("kl");
    for (i, (component, method)) in cases.into_iter().enumerate() {
        let req = AblateRequest {
            prompt: CLEAN.into(),
            component,
            method,
            metric: Metric::LogitDiff { token: text(" Mary"), minus: text(" John") },
            reference: Some(CORRUPT.into()),
            references: vec![],
            prepend_bos: false,
        };
        let out = ablate(m, t, &req, 1024).expect("ablate");
        let (dm, dk) = ((out.ablated_metric - want_metric[i]).abs(), (out.kl - want_kl[i]).abs());
        println!("ablation {i} {component:?} {method:?}: metric {:.5} (Δ {dm:.1e}), KL {:.5} (Δ {dk:.1e})", out.ablated_metric, out.kl);
        assert!((out.clean_metric - scalar("ablate.clean_metric")).abs() <= 1e-3);
        // KL is compared relative to its size: row 4's is 6 nats.
        assert!(dm <= 1e-3 && dk <= 1e-3 * want_kl[i].max(1.0), "ablation {i}: Δmetric {dm}, ΔKL {dk}");
    }
}

#[test]
fn minimal_pair_and_neuron_view_match_pytorch() {
    use loupe_interp::neuron::{neuron_view, NeuronRequest};
    use loupe_interp::pairs::{minimal_pair, PairRequest};
    let (m, t) = setup();
    let pair = minimal_pair(
        m,
        t,
        &PairRequest { a: P0.into(), b: "The Colosseum is located in the city of".into(), top_k: Some(5), prepend_bos: false },
        1024,
    )
    .expect("pair");
    let dk = (pair.kl_ab - scalar("pair.kl")).abs();
    let d_rel = max_diff(std::slice::from_ref(&pair.rel_diff), &[fixture("pair.rel_diff").to_vec1().expect("rel")]);
    let d_cos = max_diff(std::slice::from_ref(&pair.cosine), &[fixture("pair.cosine").to_vec1().expect("cos")]);
    println!("pair: KL {:.4} (Δ {dk:.1e}), max Δ rel_diff {d_rel:.1e}, cosine {d_cos:.1e}", pair.kl_ab);
    assert!(dk <= 1e-3 * scalar("pair.kl").max(1.0) && d_rel <= 1e-4 && d_cos <= 1e-4);
    let ids = |v: &[loupe_interp::TopToken]| v.iter().map(|t| t.id as i64).collect::<Vec<_>>();
    assert_eq!(ids(&pair.top_a), fixture("pair.top5_p0").to_vec1::<i64>().expect("top5"));
    assert_eq!(ids(&pair.top_b), fixture("pair.top5_alt").to_vec1::<i64>().expect("top5"));

    let n = neuron_view(m, t, &NeuronRequest { prompt: P0.into(), layer: 20, neuron: 100, top_k: Some(10), prepend_bos: false }, 1024)
        .expect("neuron");
    let d_act = max_diff(std::slice::from_ref(&n.activations), &[fixture("neuron.acts").to_vec1().expect("acts")]);
    assert!(d_act <= 1e-4, "neuron activations differ by {d_act}");
    assert_eq!(ids(&n.promoted), fixture("neuron.top_ids").to_vec1::<i64>().expect("top"));
    assert_eq!(ids(&n.suppressed), fixture("neuron.bottom_ids").to_vec1::<i64>().expect("bottom"));
    let vals = |v: &[loupe_interp::TopToken]| vec![v.iter().map(|t| t.prob).collect::<Vec<f32>>()];
    let d_vals = max_diff(&vals(&n.promoted), &[fixture("neuron.top_vals").to_vec1().expect("v")])
        .max(max_diff(&vals(&n.suppressed), &[fixture("neuron.bottom_vals").to_vec1().expect("v")]));
    assert!(d_vals <= 1e-3, "logit effects differ by {d_vals}");
}

#[test]
fn mean_ablation_over_the_prompt_itself_equals_mean_ablation() {
    // A reference set made of the prompt alone has the prompt's own positional mean, so the
    // two methods must agree (mean ablation itself is checked against PyTorch above).
    use loupe_interp::ablation::{ablate, AblateRequest, AblationMethod, Component};
    let (m, t) = setup();
    let run = |method, references: Vec<String>| {
        let req = AblateRequest {
            prompt: CLEAN.into(),
            component: Component::Head { layer: 23, head: 3 },
            method,
            metric: Metric::LogitDiff { token: text(" Mary"), minus: text(" John") },
            reference: None,
            references,
            prepend_bos: false,
        };
        ablate(m, t, &req, 1024)
    };
    let mean = run(AblationMethod::Mean, vec![]).expect("mean");
    let reference = run(AblationMethod::MeanReference, vec![CLEAN.into()]).expect("mean over references");
    assert!((mean.ablated_metric - reference.ablated_metric).abs() <= 1e-4, "{} vs {}", mean.ablated_metric, reference.ablated_metric);
    let err = run(AblationMethod::MeanReference, vec!["  ".into()]).map(|_| ()).expect_err("rejected").to_string();
    assert!(err.contains("at least one reference prompt"), "{err}");
}
