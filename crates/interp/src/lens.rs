//! The logit lens (nostalgebraist 2020; TransformerLens `accumulated_resid` +
//! `apply_ln_to_stack`): the residual stream entering every block, and leaving the last,
//! read through the final norm — each vector with its own scale — and the unembedding.

use crate::capture::Capture;
use crate::numerics::{log_softmax, TopToken};
use crate::run::tokenize_checked;
use crate::target::TokenRef;
use candle_core::{Device, Tensor};
use loupe_model::{BlockSite, HookPoint, Llama, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", default)]
pub struct LensRequest {
    #[cfg_attr(feature = "ts", ts(as = "Option<String>", optional))]
    pub prompt: String,
    #[cfg_attr(feature = "ts", ts(optional))]
    pub target: Option<TokenRef>,
    #[cfg_attr(feature = "ts", ts(optional))]
    pub top_k: Option<usize>,
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LensCell {
    pub top: Vec<TopToken>,
    /// Log-probability and rank (tokens with a larger logit) of the target, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_logprob: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rank: Option<u32>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LensResult {
    pub tokens: Vec<loupe_model::tokenizer::TokenInfo>,
    /// Row labels: `blocks.L.hook_resid_pre` for every L, then the last `hook_resid_post`.
    pub rows: Vec<String>,
    /// `cells[row][position]`
    pub cells: Vec<Vec<LensCell>>,
    pub target: Option<loupe_model::tokenizer::TokenInfo>,
}

pub fn logit_lens(model: &Llama, tok: &LoupeTokenizer, req: &LensRequest, max_tokens: usize) -> Result<LensResult> {
    let ids = tokenize_checked(tok, &req.prompt, req.prepend_bos, max_tokens)?;
    let target = req.target.as_ref().map(|t| t.resolve(tok)).transpose()?;
    let k = req.top_k.unwrap_or(5).clamp(1, 50);
    let n = model.cfg.n_layers;
    let mut points: Vec<HookPoint> = (0..n).map(|l| HookPoint::Block(l, BlockSite::ResidPre)).collect();
    points.push(HookPoint::Block(n - 1, BlockSite::ResidPost));
    let mut capture = Capture::new(points.clone());
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
    model.forward(&input, &mut capture, None)?;
    let mut cells = Vec::with_capacity(points.len());
    for point in &points {
        let resid = capture.cache.get(*point).ok_or_else(|| missing(*point))?.squeeze(0)?; // [pos, d]
                                                                                           // One row at a time: [pos, vocab] logits, never [rows, pos, vocab].
        let logp = log_softmax(&model.read_out(&resid)?)?;
        let rows: Vec<Vec<f32>> = logp.to_vec2()?;
        cells.push(rows.iter().map(|lp| cell(tok, lp, k, target)).collect());
    }
    Ok(LensResult {
        tokens: tok.token_infos(&ids),
        rows: points.iter().map(|p| p.to_string()).collect(),
        cells,
        target: target.map(|t| tok.token_infos(&[t]).remove(0)),
    })
}

fn missing(point: HookPoint) -> loupe_model::LoupeError {
    loupe_model::LoupeError::BadInput(format!("{point} was not captured"))
}

fn cell(tok: &LoupeTokenizer, logp: &[f32], k: usize, target: Option<u32>) -> LensCell {
    let mut order: Vec<usize> = (0..logp.len()).collect();
    let k = k.min(order.len());
    order.select_nth_unstable_by(k - 1, |&a, &b| logp[b].total_cmp(&logp[a]).then(a.cmp(&b)));
    order.truncate(k);
    order.sort_by(|&a, &b| logp[b].total_cmp(&logp[a]).then(a.cmp(&b)));
    LensCell {
        top: order.into_iter().map(|i| TopToken { token: tok.token_text(i as u32), id: i as u32, prob: logp[i].exp() }).collect(),
        target_logprob: target.map(|t| logp[t as usize]),
        target_rank: target.map(|t| logp.iter().filter(|&&x| x > logp[t as usize]).count() as u32),
    }
}

/// Logit lens: each layer's residual stream read through the final norm and the unembedding.
pub struct LogitLens;

impl crate::registry::Analysis for LogitLens {
    const NAME: &'static str = "logitLens";
    const SUMMARY: &'static str = "Logit lens: each layer's residual stream read through the final norm and the unembedding.";
    type Request = LensRequest;
    type Output = LensResult;
    fn run(s: &crate::session::Session, req: &LensRequest) -> Result<LensResult> {
        logit_lens(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }
}
