//! Minimal pairs (behavioural): two prompts that differ in one detail, side by side — their
//! next-token distributions, the tokens whose probability moved most, the KL divergence, and
//! where in depth their last-position residual streams part ways.

use crate::capture::Capture;
use crate::numerics::{distribution_shift, kl_divergence, log_softmax};
use crate::run::tokenize_checked;
use crate::TopToken;
use candle_core::{Device, IndexOp, Tensor};
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{BlockSite, HookPoint, Llama, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PairRequest {
    pub a: String,
    pub b: String,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub top_k: Option<usize>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PairResult {
    pub tokens_a: Vec<TokenInfo>,
    pub tokens_b: Vec<TokenInfo>,
    pub top_a: Vec<TopToken>,
    pub top_b: Vec<TopToken>,
    /// The tokens whose probability rose most from a to b (prob = p_b − p_a), then fell most.
    pub rose: Vec<TopToken>,
    pub fell: Vec<TopToken>,
    pub kl_ab: f32,
    pub kl_ba: f32,
    /// Per layer, at each prompt's last position, of `blocks.L.hook_resid_post`:
    /// ‖r_a − r_b‖ / ‖r_a‖ and the cosine similarity.
    pub rel_diff: Vec<f32>,
    pub cosine: Vec<f32>,
}

pub fn minimal_pair(model: &Llama, tok: &LoupeTokenizer, req: &PairRequest, max_tokens: usize) -> Result<PairResult> {
    let k = req.top_k.unwrap_or(10).clamp(1, 50);
    let points: Vec<HookPoint> = (0..model.cfg.n_layers).map(|l| HookPoint::Block(l, BlockSite::ResidPost)).collect();
    let run = |prompt: &str| -> Result<(Vec<u32>, Tensor, Vec<Tensor>)> {
        let ids = tokenize_checked(tok, prompt, req.prepend_bos, max_tokens)?;
        let mut capture = Capture::new(points.clone());
        let logits = model.forward(&Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?, &mut capture, None)?;
        let last = ids.len() - 1;
        let lp = log_softmax(&logits.i((0, last))?)?;
        let resid = capture.cache.entries.iter().map(|(_, t)| t.i((0, last))).collect::<candle_core::Result<_>>()?;
        Ok((ids, lp, resid))
    };
    let (ids_a, lp_a, res_a) = run(&req.a)?;
    let (ids_b, lp_b, res_b) = run(&req.b)?;
    let shift = distribution_shift(tok, &lp_a, &lp_b, k)?;
    let mut rel_diff = Vec::with_capacity(points.len());
    let mut cosine = Vec::with_capacity(points.len());
    for (a, b) in res_a.iter().zip(&res_b) {
        let norm = |t: &Tensor| -> Result<f32> { Ok(t.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?) };
        let dot = (a * b)?.sum_all()?.to_scalar::<f32>()?;
        rel_diff.push(norm(&(a - b)?)? / norm(a)?);
        cosine.push(dot / (norm(a)? * norm(b)?));
    }
    Ok(PairResult {
        tokens_a: tok.token_infos(&ids_a),
        tokens_b: tok.token_infos(&ids_b),
        top_a: shift.top_a,
        top_b: shift.top_b,
        rose: shift.rose,
        fell: shift.fell,
        kl_ab: kl_divergence(&lp_a, &lp_b)?,
        kl_ba: kl_divergence(&lp_b, &lp_a)?,
        rel_diff,
        cosine,
    })
}

/// Minimal pair: two prompts' next-token distributions and residual streams compared.
pub struct MinimalPair;

impl crate::registry::Analysis for MinimalPair {
    const NAME: &'static str = "minimalPair";
    const SUMMARY: &'static str = "Minimal pair: two prompts' next-token distributions and residual streams compared.";
    type Request = PairRequest;
    type Output = PairResult;
    fn run(s: &crate::session::Session, req: &PairRequest) -> Result<PairResult> {
        minimal_pair(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }
}
