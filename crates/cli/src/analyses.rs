//! Analysis subcommands: each builds the same request the browser sends, runs the shared
//! implementation in loupe-interp, and writes the result as JSON (stdout or `--out`).

use crate::args::Args;
use crate::commands::load;
use anyhow::{Context, Result};
use loupe_interp::ablation::{ablate, AblateRequest, AblationMethod, Component};
use loupe_interp::detectors::{detect_heads, DetectRequest};
use loupe_interp::dla::{direct_logit_attribution, DlaRequest};
use loupe_interp::lens::{logit_lens, LensRequest};
use loupe_interp::neuron::{neuron_view, NeuronRequest};
use loupe_interp::pairs::{minimal_pair, PairRequest};
use loupe_interp::patching::{Metric, PatchRequest, PatchSite, PatchSweep};
use loupe_interp::target::TokenRef;
use serde::Serialize;

const COMMON: [&str; 4] = ["model", "weights", "out", "prompt"];

pub(crate) fn write_json(args: &Args, value: &impl Serialize) -> Result<()> {
    write_text(args, serde_json::to_string_pretty(value)?)
}

/// Writes a result to `--out`, or stdout.
pub(crate) fn write_text(args: &Args, text: String) -> Result<()> {
    match args.optional("out") {
        Some(path) => std::fs::write(path, text).with_context(|| format!("writing {path}")),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

/// A token given on the command line: its exact text (" Paris"), or `#ID`.
pub(crate) fn token(arg: &str) -> TokenRef {
    match arg.strip_prefix('#').and_then(|n| n.parse().ok()) {
        Some(id) => TokenRef::Id(id),
        None => TokenRef::Text(arg.to_string()),
    }
}

pub(crate) fn flags(extra: &[&'static str]) -> Vec<&'static str> {
    COMMON.iter().chain(extra).copied().collect()
}

pub fn lens(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &flags(&["target", "top-k"]), &["prepend-bos"])?;
    let req = LensRequest {
        prompt: args.required("prompt")?.into(),
        target: args.optional("target").map(token),
        top_k: Some(args.get("top-k", 5)?),
        prepend_bos: args.flag("prepend-bos"),
    };
    let (model, tok) = load(&args)?;
    write_json(&args, &logit_lens(&model, &tok, &req, model.cfg.context_length)?)
}

pub fn dla(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &flags(&["token", "minus", "position"]), &["prepend-bos"])?;
    let req = DlaRequest {
        prompt: args.required("prompt")?.into(),
        token: token(args.required("token")?),
        minus: args.optional("minus").map(token),
        position: args.get("position", -1)?,
        prepend_bos: args.flag("prepend-bos"),
    };
    let (model, tok) = load(&args)?;
    write_json(&args, &direct_logit_attribution(&model, &tok, &req, model.cfg.context_length)?)
}

pub(crate) fn metric(args: &Args) -> Result<Metric> {
    let target = token(args.required("token")?);
    Ok(match args.optional("minus") {
        Some(m) => Metric::LogitDiff { token: target, minus: token(m) },
        None => Metric::Logprob { token: target },
    })
}

/// `--head L.H`, `--mlp L` or `--neuron L.N`.
fn component(args: &Args) -> Result<Component> {
    let pair = |s: &str, what: &str| -> Result<(usize, usize)> {
        let (a, b) = s.split_once('.').with_context(|| format!("--{what} takes LAYER.INDEX, e.g. 23.3"))?;
        Ok((a.parse().with_context(|| format!("--{what} {s}"))?, b.parse().with_context(|| format!("--{what} {s}"))?))
    };
    match (args.optional("head"), args.optional("mlp"), args.optional("neuron")) {
        (Some(h), None, None) => pair(h, "head").map(|(layer, head)| Component::Head { layer, head }),
        (None, Some(l), None) => Ok(Component::Mlp { layer: l.parse().with_context(|| format!("--mlp {l}"))? }),
        (None, None, Some(n)) => pair(n, "neuron").map(|(layer, index)| Component::Neuron { layer, index }),
        _ => anyhow::bail!("name exactly one component: --head L.H, --mlp L or --neuron L.N"),
    }
}

pub fn ablate_cmd(raw: &[String]) -> Result<()> {
    let args =
        Args::parse(raw, &flags(&["head", "mlp", "neuron", "method", "reference", "references", "token", "minus"]), &["prepend-bos"])?;
    let method = match args.get("method", "zero".to_string())?.as_str() {
        "zero" => AblationMethod::Zero,
        "mean" => AblationMethod::Mean,
        "resample" => AblationMethod::Resample,
        "mean_reference" => AblationMethod::MeanReference,
        other => anyhow::bail!("unknown --method '{other}' (zero, mean, resample, mean_reference)"),
    };
    let req = AblateRequest {
        prompt: args.required("prompt")?.into(),
        component: component(&args)?,
        method,
        metric: metric(&args)?,
        reference: args.optional("reference").map(String::from),
        // `--references 'first prompt|second prompt|…'`
        references: args.optional("references").map(|r| r.split('|').map(String::from).collect()).unwrap_or_default(),
        prepend_bos: args.flag("prepend-bos"),
    };
    let (model, tok) = load(&args)?;
    write_json(&args, &ablate(&model, &tok, &req, model.cfg.context_length)?)
}

pub fn pair(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &["model", "weights", "out", "a", "b", "top-k"], &["prepend-bos"])?;
    let req = PairRequest {
        a: args.required("a")?.into(),
        b: args.required("b")?.into(),
        top_k: Some(args.get("top-k", 10)?),
        prepend_bos: args.flag("prepend-bos"),
    };
    let (model, tok) = load(&args)?;
    write_json(&args, &minimal_pair(&model, &tok, &req, model.cfg.context_length)?)
}

pub fn neuron(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &flags(&["layer", "neuron", "top-k"]), &["prepend-bos"])?;
    let req = NeuronRequest {
        prompt: args.required("prompt")?.into(),
        layer: args.get("layer", 0)?,
        neuron: args.get("neuron", 0)?,
        top_k: Some(args.get("top-k", 10)?),
        prepend_bos: args.flag("prepend-bos"),
    };
    let (model, tok) = load(&args)?;
    write_json(&args, &neuron_view(&model, &tok, &req, model.cfg.context_length)?)
}

pub fn patch(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &flags(&["clean", "corrupted", "token", "minus", "site"]), &["prepend-bos"])?;
    let site = match args.get("site", "resid_pre".to_string())?.as_str() {
        "resid_pre" => PatchSite::ResidPre,
        "attn_out" => PatchSite::AttnOut,
        "mlp_out" => PatchSite::MlpOut,
        "head_z" => PatchSite::HeadZ,
        "head_z_pos" => PatchSite::HeadZPos,
        other => anyhow::bail!("unknown --site '{other}' (resid_pre, attn_out, mlp_out, head_z, head_z_pos)"),
    };
    let req = PatchRequest {
        clean: args.required("clean")?.into(),
        corrupted: args.required("corrupted")?.into(),
        metric: metric(&args)?,
        site,
        prepend_bos: args.flag("prepend-bos"),
    };
    let (model, tok) = load(&args)?;
    let mut sweep = PatchSweep::start(&model, &tok, &req, model.cfg.context_length)?;
    let started = std::time::Instant::now();
    while sweep.step(&model)? {
        eprint!("\rpatching: layer {}/{}", sweep.result().layers_done, model.cfg.n_layers);
    }
    eprintln!("\rpatching: {} layers in {:.2} s", model.cfg.n_layers, started.elapsed().as_secs_f64());
    write_json(&args, &sweep.result())
}

pub fn heads(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &flags(&["seed", "random-length"]), &["prepend-bos"])?;
    let req = DetectRequest {
        prompt: args.required("prompt")?.into(),
        random_length: Some(args.get("random-length", 20)?),
        seed: Some(args.get("seed", 0)?),
        random_ids: None,
        prepend_bos: args.flag("prepend-bos"),
    };
    let (model, tok) = load(&args)?;
    write_json(&args, &detect_heads(&model, &tok, &req, model.cfg.context_length)?)
}
