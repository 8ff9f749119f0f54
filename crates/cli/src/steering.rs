//! Steering and feature subcommands: `direction` (a contrastive steering vector), `steer`
//! (its effect on the next token and on a greedy or sampled continuation, side by side with
//! the unsteered one), `sae` (which SAE features fire per token; `--clamp F=V` steers with
//! one), `probe` (linear probes per layer).

use crate::shared::{self, Common, Prompt, PromptAnalysis, Sampling};
use crate::values;
use anyhow::{Context, Result};
use clap::Args;
use loupe_interp::probe::{train_probes, ProbeRequest};
use loupe_interp::run::generate_text;
use loupe_interp::sae::{sae_features, FeaturesRequest, Sae};
use loupe_interp::steering::{contrastive_direction, steer as steer_shift, DirectionRequest, Reduce, SteerMode, SteerRequest, Steering};
use loupe_interp::Intervention;
use loupe_model::{Llama, LoupeTokenizer};
use std::path::PathBuf;

/// Two sets of prompts, with the concept and without.
#[derive(Args)]
struct Contrast {
    /// Prompts with the concept, separated by '|'
    #[arg(long, value_name = "A|B|…", required = true, value_delimiter = '|')]
    positive: Vec<String>,
    /// Prompts without it, separated by '|'
    #[arg(long, value_name = "C|D|…", required = true, value_delimiter = '|')]
    negative: Vec<String>,
    /// How a prompt's activations become one vector: last (its last token; the default) or mean
    #[arg(long, value_name = "HOW", value_parser = values::serde_enum::<Reduce>)]
    reduce: Option<Reduce>,
}

#[derive(Args)]
pub struct DirectionArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    contrast: Contrast,
    /// The residual stream read: blocks.L.hook_resid_pre
    #[arg(long, value_name = "L", default_value_t = 12)]
    layer: usize,
}

pub fn direction(a: DirectionArgs) -> Result<()> {
    let Contrast { positive, negative, reduce } = a.contrast;
    let req =
        DirectionRequest { positive, negative, layer: a.layer, reduce: reduce.unwrap_or_default(), prepend_bos: a.common.prepend_bos() };
    a.common.run(|model, tok, limit| contrastive_direction(model, tok, &req, limit))
}

#[derive(Args)]
pub struct SteerArgs {
    #[command(flatten)]
    input: PromptAnalysis,
    /// The layers steered, comma-separated
    #[arg(long, value_name = "L[,L2…]", required = true, value_delimiter = ',', value_parser = values::trimmed::<usize>)]
    layers: Vec<usize>,
    /// The steering vector: a JSON list of numbers, or `loupe direction`'s output
    #[arg(long, value_name = "FILE.json")]
    direction: Option<PathBuf>,
    /// Without --direction: prompts with the concept, separated by '|' (the vector is computed)
    #[arg(long, value_name = "A|B|…", required_unless_present = "direction", value_delimiter = '|')]
    positive: Vec<String>,
    /// Without --direction: prompts without it, separated by '|'
    #[arg(long, value_name = "C|D|…", required_unless_present = "direction", value_delimiter = '|')]
    negative: Vec<String>,
    /// Without --direction: the layer the vector is computed at [default: the first of --layers]
    #[arg(long, value_name = "L")]
    direction_layer: Option<usize>,
    /// Without --direction: last (the default) or mean
    #[arg(long, value_name = "HOW", value_parser = values::serde_enum::<Reduce>)]
    reduce: Option<Reduce>,
    /// add (the default), clamp or ablate: how the direction changes the residual stream
    #[arg(long, value_name = "MODE")]
    mode: Option<String>,
    /// add: times the typical norm
    #[arg(long, value_name = "S", default_value_t = 4.0)]
    strength: f32,
    /// clamp: the projection's value, times the typical norm
    #[arg(long, value_name = "V", default_value_t = 1.0)]
    value: f32,
    #[command(flatten)]
    sampling: Sampling,
}

impl SteerArgs {
    /// SteerMode is tagged by `type` with its parameter beside it, so the flags become that
    /// object and serde checks the name (the parameter a mode lacks is ignored).
    fn mode(&self) -> Result<SteerMode> {
        let Some(mode) = &self.mode else { return Ok(SteerMode::Add { strength: self.strength }) };
        serde_json::from_value(serde_json::json!({ "type": mode, "strength": self.strength, "value": self.value }))
            .map_err(|e| anyhow::anyhow!("--mode '{mode}': {e}"))
    }
}

/// The vector in a JSON file: a list of numbers, or an object with one under `vector`.
fn read_vector(path: &std::path::Path) -> Result<Vec<f32>> {
    let path_text = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path_text}"))?;
    let json: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{path_text} is not JSON"))?;
    let values = json.get("vector").unwrap_or(&json);
    serde_json::from_value(values.clone()).with_context(|| format!("{path_text}: expected a list of numbers or {{\"vector\": [...]}}"))
}

pub fn steer(a: SteerArgs) -> Result<()> {
    let mode = a.mode()?;
    let bos = a.input.prepend_bos();
    let prompt = &a.input.prompt.prompt;
    a.input.common.run(|model, tok, limit| {
        let vector = match &a.direction {
            Some(path) => read_vector(path)?,
            None => {
                let req = DirectionRequest {
                    positive: a.positive.clone(),
                    negative: a.negative.clone(),
                    layer: a.direction_layer.unwrap_or(a.layers[0]),
                    reduce: a.reduce.unwrap_or_default(),
                    prepend_bos: bos,
                };
                contrastive_direction(model, tok, &req, limit)?.vector
            }
        };
        let req = SteerRequest {
            prompt: prompt.clone(),
            steering: Steering { direction: vector, layers: a.layers.clone(), positions: None, mode },
            top_k: Some(10),
            prepend_bos: bos,
        };
        let shift = steer_shift(model, tok, &req, limit)?;
        let texts = side_by_side(model, tok, &a.sampling, prompt, bos, shift.interventions.clone())?;
        anyhow::Ok(serde_json::json!({ "shift": shift, "generation": texts }))
    })
}

/// A continuation with and without interventions, same seed.
fn side_by_side(
    model: &Llama,
    tok: &LoupeTokenizer,
    sampling: &Sampling,
    prompt: &str,
    prepend_bos: bool,
    interventions: Vec<Intervention>,
) -> Result<serde_json::Value> {
    let base = sampling.request(prompt, prepend_bos);
    let steered = loupe_interp::run::GenerateRequest { interventions, ..base.clone() };
    let text = |req: &loupe_interp::run::GenerateRequest| -> Result<String> {
        Ok(generate_text(model, tok, req, model.cfg.context_length, |_| true)?.iter().map(|t| t.text.as_str()).collect())
    };
    Ok(serde_json::json!({ "unsteered": text(&base)?, "steered": text(&steered)? }))
}

#[derive(Args)]
pub struct SaeArgs {
    #[command(flatten)]
    common: Common,
    /// The SAE, in SAELens format (cfg.json, sae_weights.safetensors)
    #[arg(long, value_name = "DIR")]
    sae: PathBuf,
    #[command(flatten)]
    prompt: Prompt,
    /// Features per token, and promoted/suppressed tokens of --feature
    #[arg(long, value_name = "K", default_value_t = 8)]
    top_k: usize,
    /// A feature whose promoted and suppressed tokens are shown
    #[arg(long, value_name = "F")]
    feature: Option<usize>,
    /// Generate with this feature clamped to this value, beside the text without
    #[arg(long, value_name = "FEATURE=VALUE", value_parser = values::clamp)]
    clamp: Option<(usize, f32)>,
    #[command(flatten)]
    sampling: Sampling,
}

pub fn sae(a: SaeArgs) -> Result<()> {
    let (cfg, weights) = shared::read_sae(&a.sae)?;
    let bos = a.common.prepend_bos();
    a.common.run(|model, tok, limit| {
        let sae = Sae::load(&cfg, &weights, &model.cfg)?;
        let req = FeaturesRequest { prompt: a.prompt.prompt.clone(), top_k: Some(a.top_k), prepend_bos: bos };
        let (features, _) = sae_features(model, tok, &sae, &req, limit)?;
        let generation = match a.clamp {
            Some((feature, value)) => {
                let clamp = sae.clamp_intervention(feature, value, None)?;
                Some(side_by_side(model, tok, &a.sampling, &a.prompt.prompt, bos, vec![clamp])?)
            }
            None => None,
        };
        let feature = match a.feature {
            Some(f) => Some(loupe_interp::sae::feature_info(model, tok, &sae, f, a.top_k)?),
            None => None,
        };
        anyhow::Ok(serde_json::json!({ "features": features, "feature": feature, "generation": generation }))
    })
}

#[derive(Args)]
pub struct ProbeArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    contrast: Contrast,
    /// The layers probed, comma-separated [default: all]
    #[arg(long, value_name = "L[,L2…]", value_delimiter = ',', value_parser = values::trimmed::<usize>)]
    layers: Vec<usize>,
    /// Seed of the held-out split and the training
    #[arg(long, value_name = "S", default_value_t = ProbeRequest::default().seed)]
    seed: u64,
}

pub fn probe(a: ProbeArgs) -> Result<()> {
    let Contrast { positive, negative, reduce } = a.contrast;
    let req = ProbeRequest {
        positive,
        negative,
        layers: a.layers,
        reduce: reduce.unwrap_or_default(),
        seed: a.seed,
        prepend_bos: a.common.prepend_bos(),
        ..Default::default()
    };
    a.common.run(|model, tok, limit| train_probes(model, tok, &req, limit))
}
