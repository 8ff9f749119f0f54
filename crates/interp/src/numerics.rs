//! Numerics shared by the analyses: log-softmax, KL divergence, the top tokens of a
//! distribution and how one distribution moved from another. One copy each, so every
//! analysis (and every front end) reports the same numbers the same way.

use candle_core::{Tensor, D};
use loupe_model::{LoupeTokenizer, Result};
use serde::Serialize;

/// A token with a value: a probability in top-k lists, a change in probability in
/// `rose`/`fell` lists, a logit change per unit in direct-effect lists.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TopToken {
    pub token: String,
    pub id: u32,
    pub prob: f32,
}

/// Log-softmax over the last dimension, shifted by the maximum for stability.
pub fn log_softmax(logits: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?;
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(shifted.broadcast_sub(&lse)?)
}

/// KL(P‖Q) in nats from log-probabilities `[vocab]`: Σ p (log p − log q).
pub fn kl_divergence(log_p: &Tensor, log_q: &Tensor) -> Result<f32> {
    Ok((log_p.exp()? * (log_p - log_q)?)?.sum_all()?.to_scalar::<f32>()?)
}

/// The `k` most probable tokens of one position's logits `[vocab]`.
pub fn top_k(tok: &LoupeTokenizer, logits: &Tensor, k: usize) -> Result<Vec<TopToken>> {
    let probs: Vec<f32> = log_softmax(logits)?.exp()?.to_vec1()?;
    let mut order: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(order.into_iter().take(k).map(|(id, prob)| TopToken { token: tok.token_text(id as u32), id: id as u32, prob }).collect())
}

/// The `k` token ids with the highest `score`, each reported with `value` (ties by id).
pub fn ranked_tokens(
    tok: &LoupeTokenizer,
    vocab: usize,
    k: usize,
    score: impl Fn(usize) -> f32,
    value: impl Fn(usize) -> f32,
) -> Vec<TopToken> {
    let mut order: Vec<usize> = (0..vocab).collect();
    order.sort_by(|&x, &y| score(y).total_cmp(&score(x)).then(x.cmp(&y)));
    order.into_iter().take(k).map(|i| TopToken { token: tok.token_text(i as u32), id: i as u32, prob: value(i) }).collect()
}

/// How a next-token distribution moved from `a` to `b` (log-probs `[vocab]`): each side's
/// top `k`, and the tokens whose probability rose / fell most (`prob` = p_b − p_a).
pub struct Shift {
    pub top_a: Vec<TopToken>,
    pub top_b: Vec<TopToken>,
    pub rose: Vec<TopToken>,
    pub fell: Vec<TopToken>,
}

pub fn distribution_shift(tok: &LoupeTokenizer, log_a: &Tensor, log_b: &Tensor, k: usize) -> Result<Shift> {
    let pa: Vec<f32> = log_a.exp()?.to_vec1()?;
    let pb: Vec<f32> = log_b.exp()?.to_vec1()?;
    let ranked = |score: &dyn Fn(usize) -> f32, value: &dyn Fn(usize) -> f32| ranked_tokens(tok, pa.len(), k, score, value);
    Ok(Shift {
        top_a: ranked(&|i| pa[i], &|i| pa[i]),
        top_b: ranked(&|i| pb[i], &|i| pb[i]),
        rose: ranked(&|i| pb[i] - pa[i], &|i| pb[i] - pa[i]),
        fell: ranked(&|i| pa[i] - pb[i], &|i| pb[i] - pa[i]),
    })
}
