//! Gradients of a scalar read from the logits — a token's logit or log-prob, or the
//! difference of two logits, at one position — with respect to the input embeddings or to
//! any hooked activation.
//!
//! Needs a model from `Llama::differentiable()`: f32 weights, and only ops with a backward
//! pass. candle's fused softmax, RoPE and quantized matmul have none and would cut the
//! graph without an error (candle issues #2168, #3011); a missing gradient is reported here
//! as an error instead of a silent zero.

use crate::capture::ActivationCache;
use crate::pattern::resolve_patterns;
use crate::run::tokenize_checked;
use crate::target::{resolve_position, TokenRef};
use candle_core::{DType, Device, IndexOp, Tensor, Var, D};
use loupe_model::parallel;
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{HookPoint, Hooks, Llama, LoupeError, LoupeTokenizer, NoHooks, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Logit,
    Logprob,
    /// logit(token) − logit(minus).
    LogitDiff,
}

/// What is attributed: read from the logits at `position` (the prediction of the token after
/// it; −1 = the last position, the default).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: TargetKind,
    pub token: TokenRef,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub minus: Option<TokenRef>,
    #[serde(default = "last_position")]
    #[cfg_attr(feature = "ts", ts(as = "Option<i64>", optional))]
    pub position: i64,
}

fn last_position() -> i64 {
    -1
}

/// The target with token ids and an absolute position, as reported back.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ResolvedTarget {
    pub kind: TargetKind,
    pub token: TokenInfo,
    pub minus: Option<TokenInfo>,
    pub position: usize,
}

impl Target {
    pub fn resolve(&self, tok: &LoupeTokenizer, len: usize) -> Result<ResolvedTarget> {
        let info = |t: &TokenRef| -> Result<TokenInfo> {
            let id = t.resolve(tok)?;
            Ok(TokenInfo { id, text: tok.token_text(id) })
        };
        let minus = match (self.kind, &self.minus) {
            (TargetKind::LogitDiff, Some(m)) => Some(info(m)?),
            (TargetKind::LogitDiff, None) => return Err(LoupeError::BadInput("a logit_diff target needs a second token ('minus')".into())),
            (_, _) => None,
        };
        let token = info(&self.token)?;
        if minus.as_ref().is_some_and(|m| m.id == token.id) {
            return Err(LoupeError::BadInput("the target's two tokens are the same".into()));
        }
        Ok(ResolvedTarget { kind: self.kind, token, minus, position: resolve_position(self.position, len)? })
    }
}

impl ResolvedTarget {
    /// The target of each row of logits `[batch, vocab]`, as a differentiable `[batch]`.
    pub fn value(&self, logits: &Tensor) -> Result<Tensor> {
        let logit = |id: u32| logits.i((.., id as usize));
        Ok(match self.kind {
            TargetKind::Logit => logit(self.token.id)?,
            TargetKind::Logprob => {
                // log p = logit − logsumexp; the detached max only keeps exp finite.
                let max = logits.max_keepdim(D::Minus1)?.detach();
                let lse = (logits.broadcast_sub(&max)?.exp()?.sum_keepdim(D::Minus1)?.log()? + max)?;
                (logit(self.token.id)? - lse.squeeze(1)?)?
            }
            TargetKind::LogitDiff => {
                let minus = self.minus.as_ref().map(|m| m.id).unwrap_or(self.token.id);
                (logit(self.token.id)? - logit(minus)?)?
            }
        })
    }

    /// Target values for a batch of input embeddings `[batch, pos, d_model]`, forward only.
    pub fn eval(&self, model: &Llama, x: &Tensor) -> Result<Vec<f32>> {
        let logits = model.forward_embeds_at(x, &mut NoHooks, self.position)?;
        Ok(self.value(&logits)?.to_vec1()?)
    }

    /// Target values and their gradients with respect to each row's own input embeddings
    /// `[batch, pos, d_model]` (rows are independent, so the gradient of the sum is the
    /// per-row gradient).
    /// With threads (the browser's threaded build) the batch is split into one part per
    /// thread, each with its own forward, graph and backward: the whole pass runs in
    /// parallel, not only its matrix products.
    pub fn value_and_grad(&self, model: &Llama, x: &Tensor) -> Result<(Vec<f32>, Tensor)> {
        let batch = x.dim(0)?;
        let parts = parallel::threads().min(batch);
        if parts <= 1 {
            return self.value_and_grad_of(model, x);
        }
        let per = batch.div_ceil(parts);
        let ranges: Vec<(usize, usize)> = (0..batch).step_by(per).map(|s| (s, per.min(batch - s))).collect();
        let pieces = parallel::map(&ranges, |&(s, n)| self.value_and_grad_of(model, &x.narrow(0, s, n)?))?;
        let values = pieces.iter().flat_map(|(v, _)| v.iter().copied()).collect();
        let grads: Vec<&Tensor> = pieces.iter().map(|(_, g)| g).collect();
        Ok((values, Tensor::cat(&grads, 0)?))
    }

    fn value_and_grad_of(&self, model: &Llama, x: &Tensor) -> Result<(Vec<f32>, Tensor)> {
        let input = Var::from_tensor(x)?;
        let logits = model.forward_embeds_at(input.as_tensor(), &mut NoHooks, self.position)?;
        let values = self.value(&logits)?;
        let grads = values.sum_all()?.backward()?;
        let grad = grads.get(input.as_tensor()).ok_or_else(cut_graph)?;
        Ok((values.to_vec1()?, grad.clone()))
    }
}

fn cut_graph() -> LoupeError {
    LoupeError::BadInput("the gradient did not reach this activation: the model was not built with differentiable ops".into())
}

/// Hooks that let gradients be read at chosen hook points: each wanted activation `a`
/// flows on as `a + z` with `z` a zero variable, so ∂f/∂z = ∂f/∂a while the graph upstream
/// of `a` stays intact (a detached copy would cut it).
pub struct GradTaps {
    wanted: HashSet<HookPoint>,
    pub taps: Vec<(HookPoint, Var)>,
    /// The activations themselves, in forward order (what attribution patching multiplies).
    pub values: ActivationCache,
}

impl GradTaps {
    pub fn new(points: impl IntoIterator<Item = HookPoint>) -> Self {
        Self { wanted: points.into_iter().collect(), taps: Vec::new(), values: ActivationCache::default() }
    }

    /// ∂(sum of `values`)/∂activation at every tapped point, in forward order.
    pub fn backward(&self, values: &Tensor) -> Result<ActivationCache> {
        let grads = values.sum_all()?.backward()?;
        let mut out = ActivationCache::default();
        for (point, var) in &self.taps {
            let g = grads.get(var.as_tensor()).ok_or_else(cut_graph)?;
            out.entries.push((*point, g.clone()));
        }
        Ok(out)
    }
}

impl Hooks for GradTaps {
    fn on(&mut self, point: HookPoint, act: Tensor, _offset: usize) -> Result<Tensor> {
        if !self.wanted.contains(&point) {
            return Ok(act);
        }
        let zero = Var::zeros(act.shape(), DType::F32, &Device::Cpu)?;
        let out = act.add(zero.as_tensor())?;
        self.values.entries.push((point, act.detach()));
        self.taps.push((point, zero));
        Ok(out)
    }
    fn wants(&self, point: HookPoint) -> bool {
        self.wanted.contains(&point)
    }
}

/// Gradient of a target with respect to hooked activations (`loupe grad`, `window.loupe.gradient`).
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GradientRequest {
    pub prompt: String,
    pub target: Target,
    /// Hook names or globs (`blocks.*.hook_resid_pre`); `hook_embed` is the input.
    pub hooks: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

#[derive(Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GradientOutput {
    pub tokens: Vec<TokenInfo>,
    pub target: ResolvedTarget,
    pub value: f32,
    /// ∂target/∂activation, `[1, …]` in each hook's own layout.
    #[serde(skip)]
    pub grads: ActivationCache,
}

pub fn gradient(model: &Llama, tok: &LoupeTokenizer, req: &GradientRequest, max_tokens: usize) -> Result<GradientOutput> {
    let ids = tokenize_checked(tok, &req.prompt, req.prepend_bos, max_tokens)?;
    let target = req.target.resolve(tok, ids.len())?;
    let points = resolve_patterns(&req.hooks, model.cfg.n_layers)?;
    if points.is_empty() {
        return Err(LoupeError::BadInput("name at least one hook to take the gradient at".into()));
    }
    let x = model.embed(&Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?)?;
    let mut taps = GradTaps::new(points);
    let logits = model.forward_embeds_at(&x, &mut taps, target.position)?;
    let values = target.value(&logits)?;
    let grads = taps.backward(&values)?;
    Ok(GradientOutput { tokens: tok.token_infos(&ids), value: values.to_vec1::<f32>()?[0], target, grads })
}

/// The gradient of a target (logit, log-prob, logit difference) with respect to hooked activations.
pub struct Gradient;

impl crate::registry::Analysis for Gradient {
    const NAME: &'static str = "gradient";
    const SUMMARY: &'static str = "The gradient of a target (logit, log-prob, logit difference) with respect to hooked activations.";
    const GRADIENTS: bool = true;
    type Request = GradientRequest;
    type Output = GradientOutput;
    fn run(s: &crate::session::Session, req: &GradientRequest) -> Result<GradientOutput> {
        gradient(&*s.gradient_model()?, &s.tok, req, s.limits.max_prompt_tokens)
    }

    const TENSORS: &'static [&'static str] = &["grads"];
    fn tensors(out: &GradientOutput) -> Vec<(&'static str, &ActivationCache)> {
        vec![(Self::TENSORS[0], &out.grads)]
    }
}
