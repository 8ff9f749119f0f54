//! Direct logit attribution (Elhage et al. 2021; TransformerLens `decompose_resid` +
//! `logit_attrs`): the final residual at one position is the embedding plus every head's
//! output plus every MLP's output; each part is projected on a logit direction through the
//! final norm with its scale frozen at the real value, so the parts add up to the logit
//! (difference) the model actually produced.

use crate::capture::Capture;
use crate::run::tokenize_checked;
use crate::target::{resolve_position, TokenRef};
use candle_core::{Device, IndexOp, Tensor};
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{BlockSite, HookPoint, Llama, LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DlaRequest {
    pub prompt: String,
    /// The token whose logit is explained…
    pub token: TokenRef,
    /// …minus this one's, if given (a logit difference).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub minus: Option<TokenRef>,
    /// Position to explain; negative counts from the end (default −1, the last).
    #[serde(default = "last")]
    #[cfg_attr(feature = "ts", ts(as = "Option<i64>", optional))]
    pub position: i64,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

fn last() -> i64 {
    -1
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DlaResult {
    pub tokens: Vec<TokenInfo>,
    pub position: usize,
    pub token: TokenInfo,
    pub minus: Option<TokenInfo>,
    /// The logit (difference) read from the final residual through the final norm and the
    /// f32 unembedding rows: what the parts decompose, so they sum to it up to float error.
    pub total: f32,
    /// embed + Σ heads + Σ mlp.
    pub sum_of_parts: f32,
    /// The model's own logit (difference). Equal to `total` in f32 mode; in quantized modes
    /// the unembedding also rounds its input to 8 bits, which moves it by a few 0.01.
    pub model_total: f32,
    pub embed: f32,
    /// `[n_layers][n_heads]`
    pub heads: Vec<Vec<f32>>,
    /// `[n_layers]`
    pub mlp: Vec<f32>,
}

pub fn direct_logit_attribution(model: &Llama, tok: &LoupeTokenizer, req: &DlaRequest, max_tokens: usize) -> Result<DlaResult> {
    let ids = tokenize_checked(tok, &req.prompt, req.prepend_bos, max_tokens)?;
    let p = resolve_position(req.position, ids.len())?;
    let a = req.token.resolve(tok)?;
    let b = req.minus.as_ref().map(|m| m.resolve(tok)).transpose()?;
    if Some(a) == b {
        return Err(LoupeError::BadInput("the two tokens are the same: their logit difference is 0".into()));
    }
    let n = model.cfg.n_layers;
    let mut points = vec![HookPoint::Embed, HookPoint::LnFinalScale, HookPoint::Block(n - 1, BlockSite::ResidPost)];
    for l in 0..n {
        points.push(HookPoint::Block(l, BlockSite::Result));
        points.push(HookPoint::Block(l, BlockSite::MlpOut));
    }
    let mut capture = Capture::new(points);
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
    let logits = model.forward(&input, &mut capture, None)?.i((0, p))?;
    let get = |point: HookPoint| capture.cache.get(point).cloned().ok_or_else(|| LoupeError::BadInput(format!("{point} not captured")));

    // The direction in the residual stream: w_ln ⊙ (u_a − u_b) / scale.
    let rows = model.unembed_rows(&[a, b.unwrap_or(a)])?;
    let u = match b {
        Some(_) => (rows.i(0)? - rows.i(1)?)?,
        None => rows.i(0)?,
    };
    let scale = get(HookPoint::LnFinalScale)?.i((0, p, 0))?.to_scalar::<f32>()?;
    let direction = (u * model.ln_final_weight())?.affine(1.0 / scale as f64, 0.0)?; // [d]
    let project = |t: &Tensor| -> Result<Tensor> { Ok(t.broadcast_mul(&direction)?.sum(candle_core::D::Minus1)?) };

    let embed = project(&get(HookPoint::Embed)?.i((0, p))?)?.to_scalar::<f32>()?;
    let mut heads = Vec::with_capacity(n);
    let mut mlp = Vec::with_capacity(n);
    for l in 0..n {
        heads.push(project(&get(HookPoint::Block(l, BlockSite::Result))?.i((0, p))?)?.to_vec1::<f32>()?);
        mlp.push(project(&get(HookPoint::Block(l, BlockSite::MlpOut))?.i((0, p))?)?.to_scalar::<f32>()?);
    }
    let logit = |id: u32| -> Result<f32> { Ok(logits.i(id as usize)?.to_scalar::<f32>()?) };
    let model_total = logit(a)? - b.map(logit).transpose()?.unwrap_or(0.0);
    let total = project(&get(HookPoint::Block(n - 1, BlockSite::ResidPost))?.i((0, p))?)?.to_scalar::<f32>()?;
    let sum_of_parts = embed + heads.iter().flatten().sum::<f32>() + mlp.iter().sum::<f32>();
    Ok(DlaResult {
        tokens: tok.token_infos(&ids),
        position: p,
        token: tok.token_infos(&[a]).remove(0),
        minus: b.map(|b| tok.token_infos(&[b]).remove(0)),
        total,
        sum_of_parts,
        model_total,
        embed,
        heads,
        mlp,
    })
}

/// Direct logit attribution: each head's and MLP's direct contribution to a logit (difference).
pub struct Dla;

impl crate::registry::Analysis for Dla {
    const NAME: &'static str = "dla";
    const SUMMARY: &'static str = "Direct logit attribution: each head's and MLP's direct contribution to a logit (difference).";
    type Request = DlaRequest;
    type Output = DlaResult;
    fn run(s: &crate::session::Session, req: &DlaRequest) -> Result<DlaResult> {
        direct_logit_attribution(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }
}
