//! Every analysis against PyTorch on the same GGUF (dequantized), from fixtures made by
//! tests/fixtures/make_analysis_fixtures.py, in f32 mode. Tolerances are the issue's: logit
//! lens and DLA 1e-3, patching metrics 1e-3, detector scores 1e-4; DLA parts sum to the
//! logit difference within 1e-3; patching a position with its own clean activation gives
//! exactly the clean metric.

use candle_core::{IndexOp, Tensor};
use loupe_interp::detectors::{detect_heads, DetectRequest};
use loupe_interp::dla::{direct_logit_attribution, DlaRequest};
use loupe_interp::lens::{logit_lens, LensRequest};
use loupe_interp::patching::{Metric, PatchRequest, PatchSite, PatchSweep};
use loupe_interp::target::TokenRef;
use loupe_model::{GgufFile, Llama, LoupeTokenizer, WeightMode};
use std::collections::HashMap;
use std::sync::OnceLock;

const P0: &str = "The Eiffel Tower is located in the city of";
const CLEAN: &str = "When Mary and John went to the store, John gave a drink to";
const CORRUPT: &str = "When Mary and John went to the store, Mary gave a drink to";

fn setup() -> &'static (Llama, LoupeTokenizer) {
    static M: OnceLock<(Llama, LoupeTokenizer)> = OnceLock::new();
    M.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
        let file = GgufFile::read_path(&path).expect("run scripts/setup.sh model");
        (Llama::load(&file, WeightMode::F32).expect("model"), LoupeTokenizer::from_gguf(&file).expect("tok"))
    })
}

fn fixture(name: &str) -> Tensor {
    static F: OnceLock<HashMap<String, Tensor>> = OnceLock::new();
    let all = F.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/analysis.safetensors");
        candle_core::safetensors::load(path, &candle_core::Device::Cpu).expect("analysis fixtures")
    });
    all.get(name).unwrap_or_else(|| panic!("fixture {name} missing")).clone()
}

fn matrix(name: &str) -> Vec<Vec<f32>> {
    fixture(name).to_dtype(candle_core::DType::F32).and_then(|t| t.to_vec2()).expect("2-D fixture")
}

fn scalar(name: &str) -> f32 {
    fixture(name).flatten_all().and_then(|t| t.i(0)).and_then(|t| t.to_dtype(candle_core::DType::F32)).and_then(|t| t.to_scalar()).expect("scalar")
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len(), "rows");
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len(), "columns");
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
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
    let d_mlp = max_diff(&[out.mlp.clone()], &[fixture("dla.mlp").to_vec1().expect("mlp")]);
    let d_embed = (out.embed - scalar("dla.embed")).abs();
    let d_total = (out.total - scalar("dla.total")).abs();
    println!("DLA: max |Δ| heads {d_heads:.2e}, mlp {d_mlp:.2e}, embed {d_embed:.2e}, total {d_total:.2e}; parts − total = {:.2e}", out.sum_of_parts - out.total);
    assert!(d_heads <= 1e-3 && d_mlp <= 1e-3 && d_embed <= 1e-3 && d_total <= 1e-3);
    assert!((out.sum_of_parts - out.total).abs() <= 1e-3);
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
    let err = logit_lens(m, t, &multi, 1024).err().expect("rejected").to_string();
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
    for (ours, name) in [(&out.previous_token, "detect.prev_token"), (&out.duplicate_token, "detect.duplicate"), (&out.induction, "detect.induction")] {
        let d = max_diff(ours, &matrix(name));
        println!("{name}: max |Δ| = {d:.2e}");
        assert!(d <= 1e-4, "{name}: {d}");
    }
}
