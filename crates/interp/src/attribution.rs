//! Input attribution: how much each prompt token matters to a target (a logit, a log-prob
//! or a logit difference at one position). Gradient methods need a differentiable model
//! (`Llama::differentiable`); occlusion only runs forward passes.
//!
//! - saliency: ∂f/∂x (Simonyan et al. 2014);
//! - gradient × input: x ⊙ ∂f/∂x (Shrikumar et al. 2016);
//! - Integrated Gradients (Sundararajan et al. 2017): see `integrated_gradients`;
//! - SmoothGrad (Smilkov et al. 2017): the gradient averaged over n noisy copies of x,
//!   noise N(0, σ²) with σ = noise × (max x − min x), drawn from `SplitMix64::normals`;
//! - occlusion (Zeiler & Fergus 2014): f(x) − f(x with a window of tokens replaced by the
//!   baseline, or removed), each token getting the mean over the windows that cover it
//!   (Captum's `Occlusion`).
//!
//! Each per-dimension attribution `[pos, d_model]` is reduced per token two ways: `signed`
//! (the sum over dimensions: what adds up to f(x) − f(x′) for IG) and `l2` (its norm).
//!
//! A job advances one batch per `step`, so a front end can show progress and stop.

use crate::gradient::{ResolvedTarget, Target};
use crate::integrated_gradients::{IgReport, IntegratedGradients};
use crate::run::tokenize_checked;
use crate::target::TokenRef;
use candle_core::{DType, Device, IndexOp, Tensor};
use loupe_model::sampling::SplitMix64;
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{Llama, LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Saliency,
    GradXInput,
    IntegratedGradients,
    Smoothgrad,
    Occlusion,
}

/// What replaces the input: for IG the path's start, for occlusion the occluding embedding.
///
/// The zero embedding is a poor IG baseline for RMSNorm models: normalisation makes f(αx)
/// the same for every α not tiny, so the whole change happens in a sliver near α = 0 that
/// few quadrature steps see. The default is `<|endoftext|>`'s embedding (the choice).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Baseline {
    /// The zero embedding.
    Zero,
    /// One token's embedding at every position (a padding or "neutral" token).
    Token { token: TokenRef },
}

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", default)]
pub struct AttributionParams {
    /// IG: quadrature steps (fixed rule).
    #[cfg_attr(feature = "ts", ts(as = "Option<usize>", optional))]
    pub steps: usize,
    #[cfg_attr(feature = "ts", ts(as = "Option<Baseline>", optional))]
    pub baseline: Baseline,
    /// IG: the baseline keeps the first token (e.g. BOS) as it is, so it gets no attribution.
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub keep_first: bool,
    /// IG: refine the path where the integrand changes fastest (see `integrated_gradients`).
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub adaptive: bool,
    /// IG adaptive: target completeness error.
    #[cfg_attr(feature = "ts", ts(as = "Option<f64>", optional))]
    pub tolerance: f64,
    /// IG adaptive: most forward + backward passes to spend.
    #[cfg_attr(feature = "ts", ts(as = "Option<usize>", optional))]
    pub max_passes: usize,
    /// SmoothGrad.
    #[cfg_attr(feature = "ts", ts(as = "Option<usize>", optional))]
    pub samples: usize,
    #[cfg_attr(feature = "ts", ts(as = "Option<f64>", optional))]
    pub noise: f64,
    #[cfg_attr(feature = "ts", ts(as = "Option<u64>", optional))]
    pub seed: u64,
    /// Occlusion: tokens per window, and whether the window is removed rather than replaced.
    #[cfg_attr(feature = "ts", ts(as = "Option<usize>", optional))]
    pub window: usize,
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub remove: bool,
    /// Inputs per batched pass; by default about 256 tokens' worth.
    #[cfg_attr(feature = "ts", ts(optional))]
    pub batch: Option<usize>,
}

impl Default for AttributionParams {
    fn default() -> Self {
        Self {
            steps: 32,
            baseline: Baseline::Token { token: TokenRef::Text("<|endoftext|>".into()) },
            keep_first: false,
            adaptive: false,
            tolerance: 0.01,
            max_passes: 256,
            samples: 16,
            // σ = 0.02 × (max − min of the embeddings) ≈ 0.3 × their standard deviation for
            // the default model, whose few outlier dimensions make the range large; Smilkov
            // et al.'s 10–20% would swamp the input (f(x + ε) ≪ f(x)).
            noise: 0.02,
            seed: 0,
            window: 1,
            remove: false,
            batch: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AttributeRequest {
    pub prompt: String,
    pub target: Target,
    pub method: Method,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<AttributionParams>", optional))]
    pub params: AttributionParams,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Attribution {
    pub tokens: Vec<TokenInfo>,
    pub method: Method,
    pub target: ResolvedTarget,
    /// f(x): the target on the unmodified prompt.
    pub value: f32,
    pub signed: Vec<f32>,
    pub l2: Vec<f32>,
    pub integrated_gradients: Option<IgReport>,
    /// SmoothGrad's σ, in embedding units.
    pub sigma: Option<f64>,
    /// Forward (+ backward) passes spent, one per input row.
    pub passes: usize,
    pub done: usize,
    pub total: usize,
    pub finished: bool,
}

enum State {
    /// Saliency and gradient × input: one pass.
    Gradient {
        grad: Option<Tensor>,
    },
    Integrated(Box<IntegratedGradients>),
    Smooth {
        rng: SplitMix64,
        sigma: f64,
        samples: usize,
        grad_sum: Option<Tensor>,
        drawn: usize,
    },
    Occlusion {
        inputs: Vec<Option<Tensor>>,
        target_positions: Vec<usize>,
        deltas: Vec<Option<f32>>,
        next: usize,
    },
}

pub struct AttributionJob {
    method: Method,
    params: AttributionParams,
    tokens: Vec<TokenInfo>,
    target: ResolvedTarget,
    /// Input embeddings `[pos, d_model]`.
    x: Tensor,
    value: f32,
    batch: usize,
    state: State,
    passes: usize,
}

/// Positions' worth of one batched pass per thread when the caller does not say. The graph
/// of one forward + backward holds about 2.5 MB per position in f32 (measured natively), so
/// 128 positions keep it near 0.35 GB: with the q8 and f32 models both loaded the browser tab
/// peaks well under 2 GB (docs/BENCHMARKS.md). The threaded build splits a batch into one
/// part per thread (`ResolvedTarget::value_and_grad`), so it takes this many per thread:
/// each part's graph stays this size, and the weights are streamed (and transposed for the
/// input gradient) once per part instead of twice as often (IG-32 on 20 tokens, 2 threads,
/// Chromium: 4.1–4.8 s against 4.5–5.4 s with 128 positions in all; the page's peak memory
/// 1.02 GB against 0.82 GB).
const AUTO_BATCH_TOKENS: usize = 128;

impl AttributionJob {
    /// Tokenizes, checks every parameter, and evaluates f(x). `model` must be differentiable
    /// for the gradient methods.
    pub fn start(model: &Llama, tok: &LoupeTokenizer, req: &AttributeRequest, max_tokens: usize) -> Result<Self> {
        let ids = tokenize_checked(tok, &req.prompt, req.prepend_bos, max_tokens)?;
        let target = req.target.resolve(tok, ids.len())?;
        let p = &req.params;
        if req.method != Method::Occlusion && !model.is_differentiable() {
            return Err(LoupeError::BadInput("gradient methods need a differentiable f32 model".into()));
        }
        let x = model.embed(&Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?)?.squeeze(0)?;
        let value = target.eval(model, &x.unsqueeze(0)?)?[0];
        let auto = AUTO_BATCH_TOKENS * loupe_model::parallel::threads() / ids.len();
        let batch = p.batch.unwrap_or(auto).clamp(1, 64);
        let state = match req.method {
            Method::Saliency | Method::GradXInput => State::Gradient { grad: None },
            Method::IntegratedGradients => {
                let baseline = baseline_embeds(model, tok, &p.baseline, &x, p.keep_first)?;
                State::Integrated(Box::new(match p.adaptive {
                    true => IntegratedGradients::adaptive(x.clone(), baseline, p.tolerance, p.max_passes)?,
                    false => IntegratedGradients::midpoint(x.clone(), baseline, p.steps)?,
                }))
            }
            Method::Smoothgrad => {
                if p.samples == 0 || !(p.noise >= 0.0 && p.noise.is_finite()) {
                    return Err(LoupeError::BadInput("SmoothGrad needs ≥ 1 sample and a noise level ≥ 0".into()));
                }
                crate::bounds::at_most("samples", p.samples, crate::bounds::MAX_SMOOTHGRAD_SAMPLES)?;
                let range = (x.max_all()?.to_scalar::<f32>()? - x.min_all()?.to_scalar::<f32>()?) as f64;
                State::Smooth { rng: SplitMix64::new(p.seed), sigma: p.noise * range, samples: p.samples, grad_sum: None, drawn: 0 }
            }
            Method::Occlusion => occlusion_inputs(model, tok, p, &x, target.position)?,
        };
        Ok(Self { method: req.method, params: p.clone(), tokens: tok.token_infos(&ids), target, x, value, batch, state, passes: 1 })
    }

    pub fn is_done(&self) -> bool {
        match &self.state {
            State::Gradient { grad } => grad.is_some(),
            State::Integrated(ig) => ig.is_done(),
            State::Smooth { samples, drawn, .. } => drawn >= samples,
            State::Occlusion { inputs, next, .. } => *next >= inputs.len(),
        }
    }

    /// Runs one batch; returns whether work remains.
    pub fn step(&mut self, model: &Llama) -> Result<bool> {
        let pos = self.tokens.len();
        match &mut self.state {
            State::Gradient { grad } if grad.is_none() => {
                let (_, g) = self.target.value_and_grad(model, &self.x.unsqueeze(0)?)?;
                *grad = Some(g.squeeze(0)?);
                self.passes += 1;
            }
            State::Gradient { .. } => {}
            State::Integrated(ig) => {
                let before = ig.passes;
                ig.step(model, &self.target, self.batch)?;
                self.passes += ig.passes - before;
            }
            State::Smooth { rng, sigma, samples, grad_sum, drawn } => {
                let n = self.batch.min(*samples - *drawn);
                if n > 0 {
                    let d = self.x.dim(1)?;
                    let noise: Vec<f32> = rng.normals(n * pos * d).into_iter().map(|z| (*sigma * z) as f32).collect();
                    let noisy = Tensor::from_vec(noise, (n, pos, d), &Device::Cpu)?.broadcast_add(&self.x)?;
                    let (_, g) = self.target.value_and_grad(model, &noisy)?;
                    let g = g.sum(0)?;
                    *grad_sum = Some(match grad_sum.take() {
                        Some(s) => (s + g)?,
                        None => g,
                    });
                    *drawn += n;
                    self.passes += n;
                }
            }
            State::Occlusion { inputs, target_positions, deltas, next } => {
                // One batch of inputs with the same target position.
                while *next < inputs.len() && inputs[*next].is_none() {
                    *next += 1;
                }
                let first = *next;
                let mut rows = Vec::new();
                while *next < inputs.len() && rows.len() < self.batch {
                    match &inputs[*next] {
                        Some(t) if target_positions[*next] == target_positions[first] => rows.push(t.clone()),
                        Some(_) => break,
                        None => {}
                    }
                    *next += 1;
                }
                if !rows.is_empty() {
                    let at = ResolvedTarget { position: target_positions[first], ..self.target.clone() };
                    let values = at.eval(model, &Tensor::stack(&rows, 0)?)?;
                    let mut v = values.into_iter();
                    for i in first..*next {
                        if inputs[i].is_some() {
                            deltas[i] = v.next().map(|f| self.value - f);
                            inputs[i] = None; // free the copy
                        }
                    }
                    self.passes += rows.len();
                }
            }
        }
        Ok(!self.is_done())
    }

    /// (done, total) in passes, for a progress bar.
    pub fn progress(&self) -> (usize, usize) {
        match &self.state {
            State::Gradient { grad } => (grad.is_some() as usize, 1),
            State::Integrated(ig) => (ig.passes, ig.total()),
            State::Smooth { samples, drawn, .. } => (*drawn, *samples),
            State::Occlusion { inputs, next, .. } => (*next, inputs.len()),
        }
    }

    /// Per-dimension attributions `[pos, d_model]` so far (occlusion: per token only, `[pos, 1]`).
    pub fn attributions(&self) -> Result<Tensor> {
        let zeros = || Tensor::zeros(self.x.shape(), DType::F32, &Device::Cpu);
        Ok(match &self.state {
            State::Gradient { grad: Some(g) } => match self.method {
                Method::GradXInput => (g * &self.x)?,
                _ => g.clone(),
            },
            State::Gradient { grad: None } => zeros()?,
            State::Integrated(ig) => ig.attributions()?,
            State::Smooth { grad_sum: Some(s), drawn, .. } => (s / *drawn as f64)?,
            State::Smooth { grad_sum: None, .. } => zeros()?,
            State::Occlusion { deltas, .. } => {
                let per_token = occlusion_per_token(deltas, self.tokens.len(), self.params.window);
                Tensor::from_vec(per_token, (self.tokens.len(), 1), &Device::Cpu)?
            }
        })
    }

    pub fn result(&self) -> Result<Attribution> {
        let a = self.attributions()?;
        let signed: Vec<f32> = a.to_dtype(DType::F64)?.sum(1)?.to_dtype(DType::F32)?.to_vec1()?;
        let l2: Vec<f32> = a.sqr()?.sum(1)?.sqrt()?.to_vec1()?;
        let (done, total) = self.progress();
        Ok(Attribution {
            tokens: self.tokens.clone(),
            method: self.method,
            target: self.target.clone(),
            value: self.value,
            signed,
            l2,
            integrated_gradients: match &self.state {
                State::Integrated(ig) => Some(ig.report(&a)?),
                _ => None,
            },
            sigma: match &self.state {
                State::Smooth { sigma, .. } => Some(*sigma),
                _ => None,
            },
            passes: self.passes,
            done,
            total,
            finished: self.is_done(),
        })
    }
}

/// Runs a job to the end (CLI, tests).
pub fn attribute(model: &Llama, tok: &LoupeTokenizer, req: &AttributeRequest, max_tokens: usize) -> Result<(Attribution, Tensor)> {
    let mut job = AttributionJob::start(model, tok, req, max_tokens)?;
    while job.step(model)? {}
    Ok((job.result()?, job.attributions()?))
}

/// The baseline embeddings `[pos, d_model]`.
fn baseline_embeds(model: &Llama, tok: &LoupeTokenizer, baseline: &Baseline, x: &Tensor, keep_first: bool) -> Result<Tensor> {
    let (pos, _) = x.dims2()?;
    let base = match baseline {
        Baseline::Zero => x.zeros_like()?,
        Baseline::Token { token } => {
            let id = token.resolve(tok)?;
            model.embed(&Tensor::new(vec![id; pos], &Device::Cpu)?.unsqueeze(0)?)?.squeeze(0)?
        }
    };
    Ok(match keep_first && pos > 0 {
        true => Tensor::cat(&[&x.i(0..1)?, &base.i(1..)?], 0)?,
        false => base,
    })
}

/// Every occluded input (None where a window cannot change the target) and the position
/// the target is read at in it.
fn occlusion_inputs(model: &Llama, tok: &LoupeTokenizer, p: &AttributionParams, x: &Tensor, target: usize) -> Result<State> {
    let (pos, _) = x.dims2()?;
    let w = p.window;
    if w == 0 || w > pos {
        return Err(LoupeError::BadInput(format!("the occlusion window must be 1 to {pos} tokens")));
    }
    if p.remove && w >= pos {
        return Err(LoupeError::BadInput("removing every token leaves nothing to run".into()));
    }
    let base = baseline_embeds(model, tok, &p.baseline, x, false)?;
    let (mut inputs, mut target_positions, mut deltas) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..=pos - w {
        if i > target {
            // Causal attention: a window after the target cannot change it.
            inputs.push(None);
            target_positions.push(target);
            deltas.push(Some(0.0));
        } else if p.remove && i + w > target {
            // Removing the target's own position leaves nothing to read: no value.
            inputs.push(None);
            target_positions.push(target);
            deltas.push(None);
        } else if p.remove {
            inputs.push(Some(Tensor::cat(&[&x.i(..i)?, &x.i(i + w..)?], 0)?));
            target_positions.push(target - w);
            deltas.push(None);
        } else {
            inputs.push(Some(Tensor::cat(&[&x.i(..i)?, &base.i(i..i + w)?, &x.i(i + w..)?], 0)?));
            target_positions.push(target);
            deltas.push(None);
        }
    }
    Ok(State::Occlusion { inputs, target_positions, deltas, next: 0 })
}

/// Each token's mean Δ over the windows covering it.
fn occlusion_per_token(deltas: &[Option<f32>], pos: usize, window: usize) -> Vec<f32> {
    (0..pos)
        .map(|t| {
            let covering: Vec<f32> = (t.saturating_sub(window - 1)..=t).filter_map(|i| deltas.get(i).copied().flatten()).collect();
            match covering.len() {
                0 => 0.0,
                n => covering.iter().sum::<f32>() / n as f32,
            }
        })
        .collect()
}

/// Input attribution as a registered job: one batch of passes per step.
pub struct Attribute;

impl crate::registry::Stepped for Attribute {
    const NAME: &'static str = "attribute";
    const SUMMARY: &'static str = "Input attribution per token: saliency, gradient × input, Integrated Gradients, SmoothGrad, occlusion.";
    const GRADIENTS: bool = true;
    const PHASE: &'static str = "attribute";
    type Request = AttributeRequest;
    type Job = AttributionJob;
    type Partial = Attribution;
    type Output = Attribution;
    fn start(s: &crate::session::Session, req: &AttributeRequest) -> Result<AttributionJob> {
        AttributionJob::start(&*s.gradient_model()?, &s.tok, req, s.limits.max_prompt_tokens)
    }
    fn step(s: &crate::session::Session, job: &mut AttributionJob) -> Result<bool> {
        job.step(&*s.gradient_model()?)
    }
    fn progress(job: &AttributionJob) -> crate::registry::Progress {
        let (done, total) = job.progress();
        crate::registry::Progress { done, total }
    }
    fn partial(_: &crate::session::Session, job: &AttributionJob) -> Result<Attribution> {
        job.result()
    }
    fn finish(_: &crate::session::Session, job: &AttributionJob) -> Result<Attribution> {
        job.result()
    }
}
