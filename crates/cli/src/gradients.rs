//! Gradient subcommands: `attribute` (input attribution), `grad` (gradients at any hook),
//! `attrpatch` (attribution patching). All run the f32 differentiable model.

use crate::analyses::{flags, metric, token, write_json};
use crate::args::Args;
use crate::commands::load_file;
use anyhow::{bail, Result};
use loupe_interp::attribution::{attribute as run_attribution, AttributeRequest, AttributionParams, Baseline, Method};
use loupe_interp::attribution_patching::{attribution_patching, AttributionPatchRequest};
use loupe_interp::gradient::{gradient, GradientRequest, Target, TargetKind};
use loupe_model::{Llama, LoupeTokenizer, WeightMode};

fn load_differentiable(args: &Args) -> Result<(Llama, LoupeTokenizer)> {
    let file = load_file(args)?;
    let model = Llama::load(&file, WeightMode::F32)?.differentiable()?;
    Ok((model, LoupeTokenizer::from_gguf(&file)?))
}

/// `--token T [--minus M] [--kind logprob|logit|logit_diff] [--position P]`; with `--minus`
/// the kind defaults to logit_diff, otherwise to logprob.
fn target(args: &Args) -> Result<Target> {
    let minus = args.optional("minus").map(token);
    let kind = match (args.optional("kind"), &minus) {
        (Some("logprob"), _) => TargetKind::Logprob,
        (Some("logit"), _) => TargetKind::Logit,
        (Some("logit_diff"), _) | (None, Some(_)) => TargetKind::LogitDiff,
        (None, None) => TargetKind::Logprob,
        (Some(other), _) => bail!("--kind '{other}': use logprob, logit or logit_diff"),
    };
    Ok(Target { kind, token: token(args.required("token")?), minus, position: args.get("position", -1)? })
}

const TARGET_FLAGS: [&str; 4] = ["token", "minus", "kind", "position"];

pub fn attribute(raw: &[String]) -> Result<()> {
    let mut allowed = flags(&["method", "steps", "baseline", "tolerance", "max-passes", "samples", "noise", "seed", "window", "batch"]);
    allowed.extend(TARGET_FLAGS);
    let args = Args::parse(raw, &allowed, &["prepend-bos", "keep-first", "adaptive", "remove"])?;
    let method = match args.optional("method").unwrap_or("integrated_gradients") {
        "saliency" => Method::Saliency,
        "grad_x_input" => Method::GradXInput,
        "integrated_gradients" | "ig" => Method::IntegratedGradients,
        "smoothgrad" => Method::Smoothgrad,
        "occlusion" => Method::Occlusion,
        other => bail!("--method '{other}': use saliency, grad_x_input, integrated_gradients, smoothgrad or occlusion"),
    };
    let d = AttributionParams::default();
    let params = AttributionParams {
        steps: args.get("steps", d.steps)?,
        baseline: match args.optional("baseline") {
            None => d.baseline.clone(),
            Some("zero") => Baseline::Zero,
            Some(t) => Baseline::Token { token: token(t) },
        },
        keep_first: args.flag("keep-first"),
        adaptive: args.flag("adaptive"),
        tolerance: args.get("tolerance", d.tolerance)?,
        max_passes: args.get("max-passes", d.max_passes)?,
        samples: args.get("samples", d.samples)?,
        noise: args.get("noise", d.noise)?,
        seed: args.get("seed", d.seed)?,
        window: args.get("window", d.window)?,
        remove: args.flag("remove"),
        batch: args.optional("batch").map(|b| b.parse()).transpose()?,
    };
    let req = AttributeRequest {
        prompt: args.required("prompt")?.into(),
        target: target(&args)?,
        method,
        params,
        prepend_bos: args.flag("prepend-bos"),
    };
    let (model, tok) = load_differentiable(&args)?;
    let (result, _) = run_attribution(&model, &tok, &req, model.cfg.context_length)?;
    write_json(&args, &result)
}

/// Writes the gradients to `--out` (safetensors, keyed by hook name) and prints a summary.
pub fn grad(raw: &[String]) -> Result<()> {
    let mut allowed = vec!["model", "prompt", "hooks", "out"];
    allowed.extend(TARGET_FLAGS);
    let args = Args::parse(raw, &allowed, &["prepend-bos"])?;
    let req = GradientRequest {
        prompt: args.required("prompt")?.into(),
        target: target(&args)?,
        hooks: args.required("hooks")?.split(',').map(|s| s.trim().to_string()).collect(),
        prepend_bos: args.flag("prepend-bos"),
    };
    let out_path = args.required("out")?.to_string();
    let (model, tok) = load_differentiable(&args)?;
    let out = gradient(&model, &tok, &req, model.cfg.context_length)?;
    let mut summary = Vec::new();
    let mut tensors = std::collections::HashMap::new();
    for (point, g) in &out.grads.entries {
        let norm = g.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?;
        summary.push(serde_json::json!({ "hook": point.to_string(), "shape": g.dims(), "norm": norm }));
        tensors.insert(point.to_string(), g.clone());
    }
    candle_core::safetensors::save(&tensors, &out_path)?;
    let json = serde_json::json!({ "tokens": out.tokens, "target": out.target, "value": out.value, "grads": summary, "out": out_path });
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}

pub fn attrpatch(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &["model", "out", "clean", "corrupted", "token", "minus"], &["prepend-bos"])?;
    let req = AttributionPatchRequest {
        clean: args.required("clean")?.into(),
        corrupted: args.required("corrupted")?.into(),
        metric: metric(&args)?,
        prepend_bos: args.flag("prepend-bos"),
    };
    let (model, tok) = load_differentiable(&args)?;
    write_json(&args, &attribution_patching(&model, &tok, &req, model.cfg.context_length)?)
}
