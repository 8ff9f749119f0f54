//! Parity with HF transformers on the same GGUF (dequantized to f32), from fixtures made by
//! tests/fixtures/make_fixtures.py. Tolerances are the issue's: in f32 mode, identical ids,
//! max |Δ logit| ≤ 1e-3, max |Δ pattern| ≤ 1e-4, max |Δ resid| / ‖resid‖ ≤ 1e-4; in
//! quantized mode, the same top-1 and a measured bound on |Δ log-prob| of the reference top-10.

mod common;

use candle_core::{DType, Device, IndexOp, Tensor, D};
use common::*;
use loupe_model::hooks::{BlockSite, HookPoint, Hooks};
use loupe_model::{NoHooks, Result, WeightMode};

/// Records resid_pre and patterns, as HF's `output_hidden_states`/`output_attentions` do.
/// Records `hook_resid_pre` and `hook_pattern`, and asks for nothing else: the forward pass
/// runs the fused kernels (loupe_model::fused).
#[derive(Default)]
struct Record(Vec<(HookPoint, Tensor)>);

impl Hooks for Record {
    fn on(&mut self, point: HookPoint, act: Tensor, _offset: usize) -> Result<Tensor> {
        if self.wants(point) {
            self.0.push((point, act.clone()));
        }
        Ok(act)
    }
    fn wants(&self, point: HookPoint) -> bool {
        matches!(point, HookPoint::Block(_, BlockSite::ResidPre | BlockSite::Pattern))
    }
}

/// Asks for every hook point: the forward pass runs the plain ops the fused kernels skip.
struct WantsAll;

impl Hooks for WantsAll {
    fn on(&mut self, _point: HookPoint, act: Tensor, _offset: usize) -> Result<Tensor> {
        Ok(act)
    }
}

fn prompts() -> Vec<(String, Vec<u32>)> {
    fixtures().json["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .map(|p| {
            let ids = p["ids"].as_array().expect("ids").iter().map(|v| v.as_u64().expect("id") as u32).collect();
            (p["text"].as_str().expect("text").to_string(), ids)
        })
        .collect()
}

fn tensor(name: &str) -> &'static Tensor {
    fixtures().tensors.get(name).unwrap_or_else(|| panic!("fixture {name} missing"))
}

fn forward(mode: WeightMode, ids: &[u32], hooks: &mut dyn Hooks) -> Tensor {
    let input = Tensor::new(ids, &Device::Cpu).and_then(|t| t.unsqueeze(0)).expect("ids");
    model(mode).forward(&input, hooks, None).expect("forward").squeeze(0).expect("batch 1")
}

#[test]
fn token_ids_match_the_reference() {
    for (i, (text, ids)) in prompts().iter().enumerate() {
        let ours = tokenizer().encode(text, false).expect("encode");
        assert_eq!(&ours, ids, "prompt {i}: {text:?}");
        let want: Vec<i64> = tensor(&format!("p{i}.ids")).to_vec1().expect("ids");
        assert_eq!(ours.iter().map(|&x| x as i64).collect::<Vec<_>>(), want);
    }
}

#[test]
fn f32_logits_resid_and_patterns_match_transformers() {
    for (i, (_, ids)) in prompts().iter().enumerate() {
        let mut rec = Record::default();
        let logits = forward(WeightMode::F32, ids, &mut rec);
        let pos = ids.len();

        // Full vocabulary at the last position.
        let last = logits.get(pos - 1).expect("last");
        let d_last = max_abs_diff(&last, tensor(&format!("p{i}.logits_last")));
        // A 256-token subset (each position's top-20 plus random ids) at every position.
        let subset = tensor(&format!("p{i}.subset_ids")).to_dtype(DType::U32).expect("u32");
        let ours_subset = logits.index_select(&subset, 1).expect("subset");
        let d_subset = max_abs_diff(&ours_subset, tensor(&format!("p{i}.logits_subset")));
        println!("prompt {i}: max |Δ logit| last {d_last:.2e}, subset {d_subset:.2e}");
        assert!(d_last <= 1e-3 && d_subset <= 1e-3, "prompt {i}: logits differ by {d_last} / {d_subset}");
        // The plain-op path (every hook wanted) against the same reference.
        let plain = forward(WeightMode::F32, ids, &mut WantsAll).get(pos - 1).expect("last");
        let d_plain = max_abs_diff(&plain, tensor(&format!("p{i}.logits_last")));
        println!("prompt {i}: plain ops, max |Δ logit| last {d_plain:.2e}");
        assert!(d_plain <= 1e-3, "prompt {i}: plain-op logits differ by {d_plain}");

        let ref_resid = tensor(&format!("p{i}.resid_pre"));
        let ref_pattern = tensor(&format!("p{i}.pattern"));
        let (mut worst_resid, mut worst_pattern) = (0f32, 0f32);
        for (point, act) in &rec.0 {
            let HookPoint::Block(l, site) = *point else { continue };
            let act = act.squeeze(0).expect("batch 1");
            match site {
                BlockSite::ResidPre => {
                    let r = ref_resid.i(l).expect("layer");
                    // Relative to the residual norm at each position (it grows with depth).
                    let norm = r.sqr().and_then(|x| x.sum_keepdim(D::Minus1)).and_then(|x| x.sqrt()).expect("norm");
                    let rel = (&act - &r)
                        .and_then(|d| d.abs())
                        .and_then(|d| d.broadcast_div(&norm))
                        .and_then(|d| d.flatten_all())
                        .and_then(|d| d.max(0))
                        .and_then(|d| d.to_scalar::<f32>())
                        .expect("rel");
                    worst_resid = worst_resid.max(rel);
                }
                BlockSite::Pattern => {
                    worst_pattern = worst_pattern.max(max_abs_diff(&act, &ref_pattern.i(l).expect("layer")));
                }
                _ => {}
            }
        }
        println!("prompt {i}: max |Δ resid|/‖resid‖ {worst_resid:.2e}, max |Δ pattern| {worst_pattern:.2e}");
        assert_eq!(rec.0.len(), 2 * model(WeightMode::F32).cfg.n_layers);
        assert!(worst_resid <= 1e-4, "prompt {i}: resid differs by {worst_resid} of its norm");
        assert!(worst_pattern <= 1e-4, "prompt {i}: pattern differs by {worst_pattern}");
    }
}

/// The bound stated in docs/BENCHMARKS.md ("Accuracy of the quantized modes"). Measured
/// natively on the fixture prompts (2026-12-01): 0.0000 with the file's Q4_1 weights — prompts
/// of `GEMM_MIN_ROWS` tokens or more run dequantize-then-GEMM, f32 math on the very weights
/// the reference dequantized (on 2026-11-24, with candle's 8-bit-activation kernels, 0.163,
/// 0.363, 0.207) — and 0.247, 0.161, 0.075 with the Q8 re-encoding, printed by this test.
const QUANTIZED_LOGPROB_BOUND: f32 = 0.5;

#[test]
fn quantized_modes_keep_top1_and_bounded_logprobs() {
    for mode in [WeightMode::Quantized, WeightMode::Q8] {
        for (i, (_, ids)) in prompts().iter().enumerate() {
            let logits = forward(mode, ids, &mut NoHooks);
            let last = logits.get(ids.len() - 1).expect("last");
            let logp = logprob::log_softmax(&last.to_vec1::<f32>().expect("logits"));
            let top10: Vec<i64> = tensor(&format!("p{i}.top10_ids")).to_vec1().expect("ids");
            let ref_logp: Vec<f32> = tensor(&format!("p{i}.top10_logprobs")).to_vec1().expect("lp");
            let ours_top1 = loupe_model::sampling::argmax(&logp);
            assert_eq!(ours_top1 as i64, top10[0], "{mode:?} prompt {i}: top-1 differs");
            let worst = top10.iter().zip(&ref_logp).map(|(&id, &lp)| (logp[id as usize] - lp).abs()).fold(0f32, f32::max);
            println!("{mode:?} prompt {i}: max |Δ log-prob| over reference top-10 = {worst:.4}");
            assert!(worst <= QUANTIZED_LOGPROB_BOUND, "{mode:?} prompt {i}: {worst}");
        }
    }
}

#[test]
fn f32_greedy_continuation_matches_transformers() {
    let greedy = &fixtures().json["greedy"];
    let want: Vec<u32> = greedy["ids"].as_array().expect("ids").iter().map(|v| v.as_u64().expect("id") as u32).collect();
    let (_, prompt) = &prompts()[greedy["prompt"].as_u64().expect("prompt index") as usize];
    let opts = loupe_model::GenerateOptions {
        max_tokens: want.len(),
        sampling: Default::default(),
        stop_token: None, // the reference ignores end-of-sequence too
    };
    let got = loupe_model::generate(model(WeightMode::F32), prompt, &opts, &mut NoHooks, |_| true).expect("generate");
    assert_eq!(got, want, "ours: {:?}", tokenizer().decode(&got));
}

#[test]
fn kv_cached_steps_match_a_full_forward() {
    // The last position's logits after prefill + 3 cached single-token steps must equal
    // those of one forward pass over the whole sequence.
    let m = model(WeightMode::F32);
    let ids: Vec<u32> = prompts()[2].1.clone();
    let full = forward(WeightMode::F32, &ids, &mut NoHooks);
    let mut cache = loupe_model::KvCache::new(m.cfg.n_layers);
    let split = ids.len() - 3;
    let mut last = None;
    for chunk in [&ids[..split], &ids[split..split + 1], &ids[split + 1..split + 2], &ids[split + 2..]] {
        let input = Tensor::new(chunk, &Device::Cpu).and_then(|t| t.unsqueeze(0)).expect("ids");
        last = Some(m.forward(&input, &mut NoHooks, Some(&mut cache)).expect("step"));
    }
    let last = last.expect("steps ran").squeeze(0).and_then(|t| t.get(0)).expect("last");
    let d = max_abs_diff(&last, &full.get(ids.len() - 1).expect("last"));
    assert!(d <= 1e-4, "cached vs full differ by {d}");
    assert_eq!(cache.len(), ids.len());
}

#[test]
fn a_run_after_a_cached_prefix_matches_the_whole_run_from_a_layer() {
    // What patching sweeps rely on: from layer l, the positions after a prefix, given the
    // prefix's keys and values, end in the same last-position logits as the whole run.
    let m = model(WeightMode::F32);
    let ids: Vec<u32> = prompts()[0].1.clone();
    let input = Tensor::new(ids.as_slice(), &Device::Cpu).and_then(|t| t.unsqueeze(0)).expect("ids");
    // The whole run's cache, cut to each prefix (as patching sweeps do).
    let mut cache = loupe_model::KvCache::new(m.cfg.n_layers);
    m.forward(&input, &mut NoHooks, Some(&mut cache)).expect("cache");
    assert!(cache.prefix(ids.len() + 1).is_err());
    for (layer, start) in [(0, 0), (0, 4), (7, 5), (29, ids.len() - 1)] {
        let resid = m.resid_pre(&input, layer, &mut NoHooks).expect("resid");
        let whole = m.forward_from_layer(layer, &resid, &mut NoHooks, true).expect("whole");
        let prefix = cache.prefix(start).expect("prefix");
        assert_eq!(prefix.len(), start);
        // Two identical rows: the batch-1 prefix is shared by every row.
        let tail = resid.narrow(1, start, ids.len() - start).and_then(|t| Tensor::cat(&[&t, &t], 0)).expect("tail");
        let after = m.forward_from_layer_after(layer, &tail, &prefix, &mut NoHooks, true).expect("after");
        for row in 0..2 {
            let d = max_abs_diff(&after.get(row).expect("row"), &whole.get(0).expect("row"));
            assert!(d <= 1e-4, "layer {layer}, start {start}, row {row}: differ by {d}");
        }
    }
}
