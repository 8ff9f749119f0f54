//! Steering vectors (representation engineering): find a direction in the residual stream,
//! then push on it while the model runs.
//!
//! - A direction from contrastive prompts: the mean of `blocks.L.hook_resid_pre` over the
//!   positive prompts minus the mean over the negative ones, read at each prompt's last
//!   token (CAA, Rimsky et al. 2023) or averaged over its positions; one pair is ActAdd
//!   (Turner et al. 2023). Or any vector the user has (a probe's weights, an SAE feature's
//!   decoder row).
//! - Applied at chosen layers (`hook_resid_pre`) and positions as `add` (strength × the
//!   typical residual norm at that layer along the unit direction), `clamp` (the projection
//!   set to value × typical norm) or `ablate` (the projection removed). Strengths are
//!   relative to the layer's typical norm — the median ‖resid‖ over the prompt's positions
//!   after the first, whose norm is an outlier ("attention sink") — so 0.5 means the same
//!   push at every depth.
//!
//! A steering becomes ordinary `Intervention`s, so it runs in `run`, `generate` and anywhere
//! interventions do, and can be saved or shared as JSON.

use crate::capture::capture_one;
use crate::intervention::{Intervention, InterventionOp, Interventions};
use crate::numerics::{distribution_shift, kl_divergence, log_softmax};
use crate::run::tokenize_checked;
use crate::TopToken;
use candle_core::{Device, IndexOp, Tensor};
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{BlockSite, HookPoint, Llama, LoupeError, LoupeTokenizer, NoHooks, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Reduce {
    /// Each prompt's last token (CAA).
    #[default]
    Last,
    /// The mean over each prompt's positions.
    Mean,
}

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DirectionRequest {
    pub positive: Vec<String>,
    pub negative: Vec<String>,
    pub layer: usize,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<Reduce>", optional))]
    pub reduce: Reduce,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Direction {
    pub layer: usize,
    pub hook: String,
    /// mean(positive) − mean(negative), `[d_model]`.
    pub vector: Vec<f32>,
    pub norm: f32,
    /// The layer's typical residual norm over these prompts, for scale.
    pub typical_norm: f32,
}

fn resid_pre(layer: usize) -> HookPoint {
    HookPoint::Block(layer, BlockSite::ResidPre)
}

fn check_layer(model: &Llama, layer: usize) -> Result<()> {
    match layer < model.cfg.n_layers {
        true => Ok(()),
        false => Err(LoupeError::BadInput(format!("layer {layer} out of range: the model has {} layers", model.cfg.n_layers))),
    }
}

/// `blocks.L.hook_resid_pre` of a prompt, `[pos, d_model]`.
fn residual(model: &Llama, ids: &[u32], layer: usize) -> Result<Tensor> {
    capture_one(model, ids, resid_pre(layer))
}

/// The median of the per-position norms of `[pos, d]`, skipping position 0 when there are others.
fn typical_norm(resid: &[Tensor]) -> Result<f32> {
    let mut norms = Vec::new();
    for r in resid {
        let n: Vec<f32> = r.sqr()?.sum(1)?.sqrt()?.to_vec1()?;
        norms.extend(if n.len() > 1 { &n[1..] } else { &n[..] });
    }
    norms.sort_by(f32::total_cmp);
    Ok(norms.get(norms.len() / 2).copied().unwrap_or(0.0))
}

pub fn contrastive_direction(model: &Llama, tok: &LoupeTokenizer, req: &DirectionRequest, max_tokens: usize) -> Result<Direction> {
    check_layer(model, req.layer)?;
    if req.positive.is_empty() || req.negative.is_empty() {
        return Err(LoupeError::BadInput("a contrastive direction needs at least one positive and one negative prompt".into()));
    }
    crate::bounds::at_most("the number of prompts", req.positive.len() + req.negative.len(), crate::bounds::MAX_PROMPTS)?;
    let mut all = Vec::new();
    let mut mean_of = |prompts: &[String]| -> Result<Tensor> {
        let mut rows = Vec::with_capacity(prompts.len());
        for p in prompts {
            let r = residual(model, &tokenize_checked(tok, p, req.prepend_bos, max_tokens)?, req.layer)?;
            rows.push(match req.reduce {
                Reduce::Last => r.i(r.dim(0)? - 1)?,
                Reduce::Mean => r.mean(0)?,
            });
            all.push(r);
        }
        Ok(Tensor::stack(&rows, 0)?.mean(0)?)
    };
    let vector = (mean_of(&req.positive)? - mean_of(&req.negative)?)?;
    let norm = vector.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
    Ok(Direction {
        layer: req.layer,
        hook: resid_pre(req.layer).to_string(),
        vector: vector.to_vec1()?,
        norm,
        typical_norm: typical_norm(&all)?,
    })
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SteerMode {
    /// Add strength × typical norm along the unit direction.
    Add { strength: f32 },
    /// Set the projection on the unit direction to value × typical norm.
    Clamp { value: f32 },
    /// Remove the projection.
    Ablate,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Steering {
    pub direction: Vec<f32>,
    pub layers: Vec<usize>,
    /// Absolute positions; all (including generated tokens) if absent.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub positions: Option<Vec<usize>>,
    pub mode: SteerMode,
}

impl Steering {
    /// The interventions this steering means for a prompt (whose residual norms set the scale).
    pub fn interventions(&self, model: &Llama, ids: &[u32]) -> Result<(Vec<Intervention>, Vec<f32>)> {
        if self.layers.is_empty() {
            return Err(LoupeError::BadInput("choose at least one layer to steer".into()));
        }
        let d = model.cfg.d_model;
        if self.direction.len() != d {
            return Err(LoupeError::BadInput(format!("the direction has {} values; the residual stream has {d}", self.direction.len())));
        }
        let norm = self.direction.iter().map(|v| v * v).sum::<f32>().sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            return Err(LoupeError::BadInput("the direction is zero or not finite".into()));
        }
        let unit: Vec<f32> = self.direction.iter().map(|v| v / norm).collect();
        let mut out = Vec::new();
        let mut norms = Vec::new();
        for &layer in &self.layers {
            check_layer(model, layer)?;
            let scale = typical_norm(&[residual(model, ids, layer)?])?;
            norms.push(scale);
            let op = match self.mode {
                SteerMode::Add { strength } => InterventionOp::Add { vector: unit.iter().map(|u| u * strength * scale).collect() },
                SteerMode::Clamp { value } => InterventionOp::ClampProjection { direction: unit.clone(), value: value * scale },
                SteerMode::Ablate => InterventionOp::RemoveProjection { direction: unit.clone() },
            };
            out.push(Intervention {
                hook: resid_pre(layer).to_string(),
                positions: self.positions.clone(),
                heads: None,
                features: None,
                op,
            });
        }
        Ok((out, norms))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct SteerRequest {
    pub prompt: String,
    pub steering: Steering,
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
pub struct SteerResult {
    pub tokens: Vec<TokenInfo>,
    /// The steering as interventions (pass them to `generate` for the steered continuation).
    pub interventions: Vec<Intervention>,
    /// Typical residual norm at each steered layer (what strengths are relative to).
    pub typical_norms: Vec<f32>,
    pub top_base: Vec<TopToken>,
    pub top_steered: Vec<TopToken>,
    /// Tokens whose next-token probability rose / fell most (value = p_steered − p_base).
    pub rose: Vec<TopToken>,
    pub fell: Vec<TopToken>,
    /// KL(base ‖ steered) of the next-token distributions.
    pub kl: f32,
}

/// The shift a steering causes in the next-token distribution.
pub fn steer(model: &Llama, tok: &LoupeTokenizer, req: &SteerRequest, max_tokens: usize) -> Result<SteerResult> {
    let k = req.top_k.unwrap_or(10).clamp(1, 50);
    let ids = tokenize_checked(tok, &req.prompt, req.prepend_bos, max_tokens)?;
    let (interventions, typical_norms) = req.steering.interventions(model, &ids)?;
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
    let last = ids.len() - 1;
    // Only the last position through the unembedding, exactly as `run_prompt` does, so the
    // shift shown here is the one a run with these interventions gives.
    let embeds = model.embed(&input)?;
    let base = log_softmax(&model.forward_embeds_at(&embeds, &mut NoHooks, last)?.i(0)?)?;
    let mut hooks = Interventions::new(&interventions, &model.cfg)?;
    let steered = log_softmax(&model.forward_embeds_at(&embeds, &mut hooks, last)?.i(0)?)?;
    let shift = distribution_shift(tok, &base, &steered, k)?;
    Ok(SteerResult {
        tokens: tok.token_infos(&ids),
        top_base: shift.top_a,
        top_steered: shift.top_b,
        rose: shift.rose,
        fell: shift.fell,
        kl: kl_divergence(&base, &steered)?,
        interventions,
        typical_norms,
    })
}

/// A contrastive steering direction (mean difference of the residual stream, CAA).
pub struct SteeringDirection;

impl crate::registry::Analysis for SteeringDirection {
    const NAME: &'static str = "steeringDirection";
    const SUMMARY: &'static str = "A contrastive steering direction (mean difference of the residual stream, CAA).";
    type Request = DirectionRequest;
    type Output = Direction;
    fn run(s: &crate::session::Session, req: &DirectionRequest) -> Result<Direction> {
        contrastive_direction(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }
}

/// A steering's effect on the next token: top tokens with and without it, and their KL.
pub struct Steer;

impl crate::registry::Analysis for Steer {
    const NAME: &'static str = "steer";
    const SUMMARY: &'static str = "A steering's effect on the next token: top tokens with and without it, and their KL.";
    type Request = SteerRequest;
    type Output = SteerResult;
    fn run(s: &crate::session::Session, req: &SteerRequest) -> Result<SteerResult> {
        steer(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }
}
