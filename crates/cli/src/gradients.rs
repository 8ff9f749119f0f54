//! Gradient subcommands: `attribute` (input attribution), `grad` (gradients at any hook),
//! `attrpatch` (attribution patching). All run the f32 differentiable model, so none takes
//! `--weights`.

use crate::shared::{Common, ModelFile, ModelPrompt, Patching, PromptAnalysis};
use crate::values;
use anyhow::Result;
use clap::Args;
use loupe_interp::attribution::{attribute as run_attribution, AttributeRequest, AttributionParams, Baseline, Method};
use loupe_interp::attribution_patching::{attribution_patching, AttributionPatchRequest};
use loupe_interp::gradient::{gradient, GradientRequest, Target, TargetKind};
use loupe_interp::target::TokenRef;
use std::path::PathBuf;

/// What the gradients are of: a token's log-prob, logit, or a logit difference.
#[derive(Args)]
struct TargetArgs {
    /// The target token
    #[arg(long, value_name = "TOK", value_parser = values::token)]
    token: TokenRef,
    /// A second token: the target becomes logit(token) − logit(minus)
    #[arg(long, value_name = "TOK", value_parser = values::token)]
    minus: Option<TokenRef>,
    /// logprob, logit or logit_diff [default: logit_diff with --minus, else logprob]
    #[arg(long, value_name = "KIND", value_parser = values::serde_enum::<TargetKind>)]
    kind: Option<TargetKind>,
    /// The position whose prediction is read (-1: the last)
    #[arg(long, value_name = "P", default_value_t = -1)]
    position: i64,
}

impl TargetArgs {
    fn target(self) -> Target {
        let default = if self.minus.is_some() { TargetKind::LogitDiff } else { TargetKind::Logprob };
        Target { kind: self.kind.unwrap_or(default), token: self.token, minus: self.minus, position: self.position }
    }
}

#[derive(Args)]
pub struct AttributeArgs {
    #[command(flatten)]
    input: PromptAnalysis<ModelFile>,
    #[command(flatten)]
    target: TargetArgs,
    /// saliency, grad_x_input, integrated_gradients (or ig; the default), smoothgrad or occlusion
    #[arg(long, value_name = "METHOD", value_parser = values::method)]
    method: Option<Method>,
    /// Integrated gradients: quadrature steps
    #[arg(long, value_name = "N", default_value_t = AttributionParams::default().steps)]
    steps: usize,
    /// Integrated gradients' path start, occlusion's replacement: zero, or a token's embedding [default: '<|endoftext|>']
    #[arg(long, value_name = "zero|TOK", value_parser = values::baseline)]
    baseline: Option<Baseline>,
    /// Integrated gradients: the baseline keeps the first token (e.g. BOS) as it is
    #[arg(long)]
    keep_first: bool,
    /// Integrated gradients: refine the path where the integrand changes fastest
    #[arg(long)]
    adaptive: bool,
    /// Adaptive: the completeness error aimed at
    #[arg(long, value_name = "E", default_value_t = AttributionParams::default().tolerance)]
    tolerance: f64,
    /// Adaptive: most forward + backward passes
    #[arg(long, value_name = "N", default_value_t = AttributionParams::default().max_passes)]
    max_passes: usize,
    /// SmoothGrad: noisy samples
    #[arg(long, value_name = "N", default_value_t = AttributionParams::default().samples)]
    samples: usize,
    /// SmoothGrad: the noise's scale
    #[arg(long, value_name = "S", default_value_t = AttributionParams::default().noise)]
    noise: f64,
    /// SmoothGrad: the noise's seed
    #[arg(long, value_name = "S", default_value_t = AttributionParams::default().seed)]
    seed: u64,
    /// Occlusion: tokens per window
    #[arg(long, value_name = "W", default_value_t = AttributionParams::default().window)]
    window: usize,
    /// Occlusion: remove the window instead of replacing it with the baseline
    #[arg(long)]
    remove: bool,
    /// Inputs per batched pass [default: about 256 tokens' worth]
    #[arg(long, value_name = "N")]
    batch: Option<usize>,
}

pub fn attribute(a: AttributeArgs) -> Result<()> {
    let params = AttributionParams {
        steps: a.steps,
        baseline: a.baseline.unwrap_or_else(|| AttributionParams::default().baseline),
        keep_first: a.keep_first,
        adaptive: a.adaptive,
        tolerance: a.tolerance,
        max_passes: a.max_passes,
        samples: a.samples,
        noise: a.noise,
        seed: a.seed,
        window: a.window,
        remove: a.remove,
        batch: a.batch,
    };
    let prepend_bos = a.input.prepend_bos();
    let req = AttributeRequest {
        prompt: a.input.prompt.prompt,
        target: a.target.target(),
        method: a.method.unwrap_or(Method::IntegratedGradients),
        params,
        prepend_bos,
    };
    a.input.common.run(|model, tok, limit| run_attribution(model, tok, &req, limit).map(|(result, _)| result))
}

#[derive(Args)]
pub struct GradArgs {
    #[command(flatten)]
    input: ModelPrompt<ModelFile>,
    #[command(flatten)]
    target: TargetArgs,
    /// Hook-name patterns, comma-separated, e.g. 'blocks.*.hook_resid_pre'
    #[arg(long, value_name = "PATTERNS", required = true, value_delimiter = ',', value_parser = values::trimmed::<String>)]
    hooks: Vec<String>,
    /// The safetensors file written, keyed by hook name
    #[arg(long, value_name = "GRADS.safetensors")]
    out: PathBuf,
}

/// Writes the gradients to `--out` (safetensors, keyed by hook name) and prints a summary.
pub fn grad(a: GradArgs) -> Result<()> {
    let req =
        GradientRequest { prompt: a.input.prompt.prompt, target: a.target.target(), hooks: a.hooks, prepend_bos: a.input.bos.prepend_bos };
    let (model, tok) = a.input.model.load_differentiable()?;
    let out = gradient(&model, &tok, &req, model.cfg.context_length)?;
    let mut summary = Vec::new();
    let mut tensors = std::collections::HashMap::new();
    for (point, g) in &out.grads.entries {
        let norm = g.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
        summary.push(serde_json::json!({ "hook": point.to_string(), "shape": g.dims(), "norm": norm }));
        tensors.insert(point.to_string(), g.clone());
    }
    candle_core::safetensors::save(&tensors, &a.out)?;
    let json = serde_json::json!({ "tokens": out.tokens, "target": out.target, "value": out.value, "grads": summary, "out": a.out.display().to_string() });
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}

#[derive(Args)]
pub struct AttrpatchArgs {
    #[command(flatten)]
    common: Common<ModelFile>,
    #[command(flatten)]
    patching: Patching,
}

pub fn attrpatch(a: AttrpatchArgs) -> Result<()> {
    let Patching { clean, corrupted, metric } = a.patching;
    let req = AttributionPatchRequest { clean, corrupted, metric: metric.metric(), prepend_bos: a.common.prepend_bos() };
    a.common.run(|model, tok, limit| attribution_patching(model, tok, &req, limit))
}
