//! Ablation: knock out one component — a head, an MLP layer, one neuron — by zeroing it,
//! replacing it with its mean over the prompt's positions or over a reference set of
//! prompts, or resampling it from another prompt (Chan et al. 2022, causal scrubbing), and measure the effect on a metric and on
//! the whole next-token distribution. Each ablation is an ordinary `Intervention`, which
//! the result returns so it can be replayed or shared.

use crate::capture::Capture;
use crate::intervention::{Intervention, InterventionOp};
use crate::metric::Metric;
use crate::numerics::{kl_divergence, log_softmax};
use crate::run::{run_prompt, tokenize_checked, RunRequest};
use crate::TopToken;
use candle_core::{Device, Tensor};
use loupe_model::{HookPoint, Llama, LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Component {
    /// One attention head (its `hook_z`, at every position).
    Head { layer: usize, head: usize },
    /// A whole MLP layer (`hook_mlp_out`).
    Mlp { layer: usize },
    /// One MLP neuron (`mlp.hook_post[…, index]`).
    Neuron { layer: usize, index: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AblationMethod {
    Zero,
    Mean,
    /// The component's activation on `reference` (same token length).
    Resample,
    /// Its mean over every position of every prompt in `references` (any lengths): the
    /// "typical" value, without this prompt's own information.
    MeanReference,
}

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AblateRequest {
    pub prompt: String,
    pub component: Component,
    pub method: AblationMethod,
    pub metric: Metric,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub reference: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<String>>", optional))]
    pub references: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AblateResult {
    pub intervention: Intervention,
    pub clean_metric: f32,
    pub ablated_metric: f32,
    /// KL(clean ‖ ablated) of the next-token distribution at the last position, in nats.
    pub kl: f32,
    pub top_clean: Vec<TopToken>,
    pub top_ablated: Vec<TopToken>,
}

impl Component {
    fn site(self) -> (String, Option<Vec<usize>>, Option<Vec<usize>>) {
        match self {
            Component::Head { layer, head } => (format!("blocks.{layer}.attn.hook_z"), Some(vec![head]), None),
            Component::Mlp { layer } => (format!("blocks.{layer}.hook_mlp_out"), None, None),
            Component::Neuron { layer, index } => (format!("blocks.{layer}.mlp.hook_post"), None, Some(vec![index])),
        }
    }
}

pub fn ablate(model: &Llama, tok: &LoupeTokenizer, req: &AblateRequest, max_tokens: usize) -> Result<AblateResult> {
    let (hook, heads, features) = req.component.site();
    let op = match req.method {
        AblationMethod::Zero => InterventionOp::Zero,
        AblationMethod::Mean => InterventionOp::Mean,
        AblationMethod::Resample => {
            let reference = req
                .reference
                .as_deref()
                .filter(|r| !r.is_empty())
                .ok_or_else(|| LoupeError::BadInput("resample ablation needs a reference prompt to take the activation from".into()))?;
            let prompt_len = tokenize_checked(tok, &req.prompt, req.prepend_bos, max_tokens)?.len();
            let ref_ids = tokenize_checked(tok, reference, req.prepend_bos, max_tokens)?;
            if ref_ids.len() != prompt_len {
                return Err(LoupeError::BadInput(format!(
                    "the reference prompt has {} tokens and the prompt {prompt_len}: resampling position by position needs equal lengths (or use mean ablation)",
                    ref_ids.len()
                )));
            }
            let point: HookPoint = hook.parse()?;
            let mut capture = Capture::new([point]);
            model.forward(&Tensor::new(ref_ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?, &mut capture, None)?;
            let act = capture.cache.get(point).ok_or_else(|| LoupeError::BadInput(format!("{point} not captured")))?;
            InterventionOp::Replace { shape: act.dims().to_vec(), values: act.flatten_all()?.to_vec1()? }
        }
        AblationMethod::MeanReference => {
            crate::bounds::at_most("the number of reference prompts", req.references.len(), crate::bounds::MAX_PROMPTS)?;
            let prompts: Vec<&str> = req.references.iter().map(|r| r.trim()).filter(|r| !r.is_empty()).collect();
            if prompts.is_empty() {
                return Err(LoupeError::BadInput("mean ablation over a reference set needs at least one reference prompt".into()));
            }
            let point: HookPoint = hook.parse()?;
            let mut sum: Option<Tensor> = None;
            let mut count = 0usize;
            for prompt in prompts {
                let ids = tokenize_checked(tok, prompt, req.prepend_bos, max_tokens)?;
                let mut capture = Capture::new([point]);
                model.forward(&Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?, &mut capture, None)?;
                let act = capture.cache.get(point).ok_or_else(|| LoupeError::BadInput(format!("{point} not captured")))?;
                let total = act.sum(1)?.squeeze(0)?; // over positions: [d] or [head, d]
                count += ids.len();
                sum = Some(match sum {
                    Some(s) => (s + total)?,
                    None => total,
                });
            }
            let mean = (sum.ok_or_else(|| LoupeError::BadInput("no reference activations".into()))? / count as f64)?;
            // A head's mean is its own d_head vector; other sites keep their last axis.
            let vector = match req.component {
                Component::Head { head, .. } => mean.get(head)?,
                _ => mean,
            };
            InterventionOp::Set { vector: vector.to_vec1()? }
        }
    };
    let intervention = Intervention { hook, positions: None, heads, features, op };
    let metric = req.metric.resolve(tok)?;
    let run = |interventions: Vec<Intervention>| -> Result<(f32, Tensor, Vec<TopToken>)> {
        let r = RunRequest {
            prompt: req.prompt.clone(),
            capture: vec![],
            top_k: 5,
            prepend_bos: req.prepend_bos,
            interventions,
            all_logits: false,
        };
        let out = run_prompt(model, tok, &r, max_tokens)?;
        let last = out.last_logits()?; // [1, vocab]
        Ok((metric.eval(&last)?[0], log_softmax(&last.squeeze(0)?)?, out.top))
    };
    let (clean_metric, clean_lp, top_clean) = run(vec![])?;
    let (ablated_metric, ablated_lp, top_ablated) = run(vec![intervention.clone()])?;
    Ok(AblateResult { intervention, clean_metric, ablated_metric, kl: kl_divergence(&clean_lp, &ablated_lp)?, top_clean, top_ablated })
}

/// Ablates a head, an MLP or a neuron (zero, mean, resample): the effect on a metric and the distribution.
pub struct Ablate;

impl crate::registry::Analysis for Ablate {
    const NAME: &'static str = "ablate";
    const SUMMARY: &'static str = "Ablates a head, an MLP or a neuron (zero, mean, resample): the effect on a metric and the distribution.";
    type Request = AblateRequest;
    type Output = AblateResult;
    fn run(s: &crate::session::Session, req: &AblateRequest) -> Result<AblateResult> {
        ablate(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }
}
