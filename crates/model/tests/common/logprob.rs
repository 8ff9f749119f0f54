//! The log-prob measure that tests of quantized paths share: the default model's logits
//! against an exact reference's, by max |Δ log-prob| over the reference's top 10. Plain
//! slices and no dependencies, so test crates of other packages include this file with
//! `#[path]` (crates/web/tests/pass_speed.rs measures decoding in the browser with it).

/// Log-softmax of one position's logits, the log-sum-exp in f64 (49152 terms).
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = max + logits.iter().map(|x| ((x - max) as f64).exp()).sum::<f64>().ln() as f32;
    logits.iter().map(|x| x - lse).collect()
}

/// max |Δ log-prob| of the logits `ours` against `exact` over `exact`'s 10 most likely
/// tokens.
pub fn top10_logprob_error(ours: &[f32], exact: &[f32]) -> f32 {
    let (ours, exact) = (log_softmax(ours), log_softmax(exact));
    let mut top: Vec<usize> = (0..exact.len()).collect();
    top.sort_by(|&a, &b| exact[b].total_cmp(&exact[a]));
    top[..10].iter().map(|&i| (ours[i] - exact[i]).abs()).fold(0f32, f32::max)
}
