//! Steering and feature subcommands: `direction` (a contrastive steering vector), `steer`
//! (its effect on the next token and on a greedy or sampled continuation, side by side with
//! the unsteered one), `sae` (which SAE features fire per token; `--clamp F=V` steers with one).

use crate::analyses::{flags, write_json};
use crate::args::Args;
use crate::commands::load;
use anyhow::{bail, Context, Result};
use loupe_interp::run::{generate_text, GenerateRequest};
use loupe_interp::sae::{sae_features, FeaturesRequest, Sae};
use loupe_interp::steering::{contrastive_direction, steer as steer_shift, DirectionRequest, Reduce, SteerMode, SteerRequest, Steering};
use loupe_interp::Intervention;
use loupe_model::{Llama, LoupeTokenizer};

/// `'first prompt|second prompt|…'`
fn prompts(args: &Args, name: &str) -> Result<Vec<String>> {
    Ok(args.required(name)?.split('|').map(String::from).collect())
}

fn direction_request(args: &Args, layer: usize) -> Result<DirectionRequest> {
    Ok(DirectionRequest {
        positive: prompts(args, "positive")?,
        negative: prompts(args, "negative")?,
        layer,
        reduce: match args.optional("reduce").unwrap_or("last") {
            "last" => Reduce::Last,
            "mean" => Reduce::Mean,
            other => bail!("--reduce '{other}': use last or mean"),
        },
        prepend_bos: args.flag("prepend-bos"),
    })
}

pub fn direction(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &["model", "weights", "out", "positive", "negative", "layer", "reduce"], &["prepend-bos"])?;
    let req = direction_request(&args, args.get("layer", 12)?)?;
    let (model, tok) = load(&args)?;
    write_json(&args, &contrastive_direction(&model, &tok, &req, model.cfg.context_length)?)
}

/// A continuation with and without interventions, same seed.
fn side_by_side(model: &Llama, tok: &LoupeTokenizer, args: &Args, interventions: Vec<Intervention>) -> Result<serde_json::Value> {
    let base = GenerateRequest {
        prompt: args.required("prompt")?.into(),
        max_tokens: args.get("max-tokens", 20)?,
        temperature: args.get("temperature", 0.0)?,
        top_p: args.get("top-p", 1.0)?,
        seed: args.get("seed", 0)?,
        prepend_bos: args.flag("prepend-bos"),
        ..Default::default()
    };
    let steered = GenerateRequest { interventions, ..base.clone() };
    let text = |req: &GenerateRequest| -> Result<String> {
        Ok(generate_text(model, tok, req, model.cfg.context_length, |_| true)?.iter().map(|t| t.text.as_str()).collect())
    };
    Ok(serde_json::json!({ "unsteered": text(&base)?, "steered": text(&steered)? }))
}

pub fn steer(raw: &[String]) -> Result<()> {
    let args = Args::parse(
        raw,
        &flags(&[
            "layers",
            "direction",
            "positive",
            "negative",
            "direction-layer",
            "reduce",
            "mode",
            "strength",
            "value",
            "max-tokens",
            "temperature",
            "top-p",
            "seed",
        ]),
        &["prepend-bos"],
    )?;
    let (model, tok) = load(&args)?;
    let layers: Vec<usize> =
        args.required("layers")?.split(',').map(|l| l.trim().parse().with_context(|| format!("--layers '{l}'"))).collect::<Result<_>>()?;
    let vector = match args.optional("direction") {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
            let json: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{path} is not JSON"))?;
            let values = json.get("vector").unwrap_or(&json);
            serde_json::from_value(values.clone())
                .with_context(|| format!("{path}: expected a list of numbers or {{\"vector\": [...]}}"))?
        }
        None => {
            let layer = args.get("direction-layer", layers[0])?;
            contrastive_direction(&model, &tok, &direction_request(&args, layer)?, model.cfg.context_length)?.vector
        }
    };
    let mode = match args.optional("mode").unwrap_or("add") {
        "add" => SteerMode::Add { strength: args.get("strength", 4.0)? },
        "clamp" => SteerMode::Clamp { value: args.get("value", 1.0)? },
        "ablate" => SteerMode::Ablate,
        other => bail!("--mode '{other}': use add, clamp or ablate"),
    };
    let req = SteerRequest {
        prompt: args.required("prompt")?.into(),
        steering: Steering { direction: vector, layers, positions: None, mode },
        top_k: Some(10),
        prepend_bos: args.flag("prepend-bos"),
    };
    let shift = steer_shift(&model, &tok, &req, model.cfg.context_length)?;
    let texts = side_by_side(&model, &tok, &args, shift.interventions.clone())?;
    write_json(&args, &serde_json::json!({ "shift": shift, "generation": texts }))
}

pub fn sae(raw: &[String]) -> Result<()> {
    let args =
        Args::parse(raw, &flags(&["sae", "top-k", "clamp", "feature", "max-tokens", "temperature", "top-p", "seed"]), &["prepend-bos"])?;
    let dir = std::path::Path::new(args.required("sae")?);
    let cfg = std::fs::read_to_string(dir.join("cfg.json")).with_context(|| format!("reading {}", dir.join("cfg.json").display()))?;
    let weights = std::fs::read(dir.join("sae_weights.safetensors"))
        .with_context(|| format!("reading {}", dir.join("sae_weights.safetensors").display()))?;
    let (model, tok) = load(&args)?;
    let sae = Sae::load(&cfg, &weights, &model.cfg)?;
    let req = FeaturesRequest {
        prompt: args.required("prompt")?.into(),
        top_k: Some(args.get("top-k", 8)?),
        prepend_bos: args.flag("prepend-bos"),
    };
    let (features, _) = sae_features(&model, &tok, &sae, &req, model.cfg.context_length)?;
    let steering = match args.optional("clamp") {
        Some(spec) => {
            let (f, v) = spec.split_once('=').context("--clamp takes FEATURE=VALUE, e.g. 123=5")?;
            let clamp =
                sae.clamp_intervention(f.trim().parse().context("--clamp feature")?, v.trim().parse().context("--clamp value")?, None)?;
            Some(side_by_side(&model, &tok, &args, vec![clamp])?)
        }
        None => None,
    };
    let feature = match args.optional("feature") {
        Some(f) => Some(loupe_interp::sae::feature_info(&model, &tok, &sae, f.parse().context("--feature")?, args.get("top-k", 8)?)?),
        None => None,
    };
    write_json(&args, &serde_json::json!({ "features": features, "feature": feature, "generation": steering }))
}

pub fn probe(raw: &[String]) -> Result<()> {
    use loupe_interp::probe::{train_probes, ProbeRequest};
    let args = Args::parse(raw, &["model", "weights", "out", "positive", "negative", "layers", "reduce", "seed"], &["prepend-bos"])?;
    let d = direction_request(&args, 0)?;
    let layers = match args.optional("layers") {
        Some(l) => l.split(',').map(|s| s.trim().parse().with_context(|| format!("--layers '{s}'"))).collect::<Result<_>>()?,
        None => Vec::new(),
    };
    let req = ProbeRequest {
        positive: d.positive,
        negative: d.negative,
        layers,
        reduce: d.reduce,
        seed: args.get("seed", 0)?,
        prepend_bos: d.prepend_bos,
        ..Default::default()
    };
    let (model, tok) = load(&args)?;
    write_json(&args, &train_probes(&model, &tok, &req, model.cfg.context_length)?)
}
