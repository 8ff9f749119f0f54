//! `loupe analyses` and `loupe call NAME`: every analysis of the registry
//! (`loupe_interp::registry`) by its wire name, with the same JSON request the page sends
//! (`loupe.call(name, request)`) — so no analysis is listed here, and a new one is on the
//! command line as soon as it is registered.

use crate::shared::{self, JsonOut, ModelArgs};
use anyhow::{Context, Result};
use clap::Args;
use loupe_interp::registry::{self, Analysis, Stepped, Visitor};
use loupe_interp::sae::Sae;
use loupe_interp::{Limits, Session};
use loupe_model::{Llama, LoupeTokenizer};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::rc::Rc;

#[derive(Args)]
pub struct AnalysesArgs {
    /// The catalogue as JSON
    #[arg(long)]
    json: bool,
}

/// Prints the registry: name, kind (call or job), whether it needs gradients, summary.
pub fn analyses(a: AnalysesArgs) -> Result<()> {
    let all = registry::catalogue();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    let width = all.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for e in &all {
        let grad = if e.gradients { ", gradients" } else { "" };
        println!("{:width$}  {}{grad}: {}", e.name, e.kind, e.summary);
    }
    Ok(())
}

#[derive(Args)]
pub struct CallArgs {
    /// The analysis, by its wire name (`loupe analyses` lists them)
    name: String,
    #[command(flatten)]
    model: ModelArgs,
    /// The page's request for it: JSON text, or @FILE for a JSON file [default: {}]
    #[arg(long, value_name = "JSON|@FILE")]
    request: Option<String>,
    /// An SAE (SAELens format: cfg.json, sae_weights.safetensors) for the analyses that use one
    #[arg(long, value_name = "DIR")]
    sae: Option<PathBuf>,
    #[command(flatten)]
    out: JsonOut,
    /// Write the activations that travel beside the JSON (captures, gradients) here
    #[arg(long, value_name = "FILE.safetensors")]
    tensors: Option<PathBuf>,
}

/// Runs one analysis (a job to its end) and writes its JSON result.
pub fn call(a: CallArgs) -> Result<()> {
    let name = a.name.as_str();
    if !registry::catalogue().iter().any(|e| e.name == name) {
        let names: Vec<&str> = registry::catalogue().iter().map(|e| e.name).collect();
        anyhow::bail!("unknown analysis '{name}' (one of: {})", names.join(", "));
    }
    let request = read_request(a.request.as_deref().unwrap_or("{}"))?;
    let session = open_session(&a)?;
    let mut v = Call { session: &session, name, request: Some(request), tensors: a.tensors.as_deref(), out: None };
    registry::visit(&mut v);
    let result = v.out.context("the analysis did not run")??;
    a.out.write_text(result)
}

/// `--request` is JSON text, or `@path` to a JSON file.
fn read_request(arg: &str) -> Result<serde_json::Value> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => arg.to_string(),
    };
    serde_json::from_str(&text).context("--request is not valid JSON")
}

fn open_session(a: &CallArgs) -> Result<Session> {
    let file = Rc::new(a.model.file.read()?);
    let model = Llama::load(&file, a.model.mode())?;
    let tok = LoupeTokenizer::from_gguf(&file)?;
    let limits = Limits { max_prompt_tokens: model.cfg.context_length };
    let session = Session::new(model, tok, limits).with_file(file);
    if let Some(dir) = &a.sae {
        let (cfg, weights) = shared::read_sae(dir)?;
        session.set_sae(Sae::load(&cfg, &weights, &session.model.cfg)?);
    }
    Ok(session)
}

struct Call<'a> {
    session: &'a Session,
    name: &'a str,
    request: Option<serde_json::Value>,
    tensors: Option<&'a Path>,
    out: Option<Result<String>>,
}

impl Call<'_> {
    fn take<R: serde::de::DeserializeOwned>(&mut self) -> Result<R> {
        let value = self.request.take().unwrap_or_default();
        serde_json::from_value(value).with_context(|| format!("bad request for {}", self.name))
    }
}

impl Visitor for Call<'_> {
    fn call<A: Analysis>(&mut self) {
        if A::NAME != self.name {
            return;
        }
        let out = self.take::<A::Request>().and_then(|req| {
            let output = A::run(self.session, &req)?;
            save_tensors::<A>(&output, self.tensors)?;
            to_json(&output)
        });
        self.out = Some(out);
    }

    fn job<A: Stepped>(&mut self) {
        if A::NAME != self.name {
            return;
        }
        let out = self.take::<A::Request>().and_then(|req| {
            let mut job = A::start(self.session, &req)?;
            let tty = std::io::stderr().is_terminal();
            while A::step(self.session, &mut job)? {
                let p = A::progress(&job);
                if tty {
                    eprint!("\r{}: {}/{}", A::PHASE, p.done, p.total);
                }
            }
            if tty {
                eprintln!();
            }
            to_json(&A::finish(self.session, &job)?)
        });
        self.out = Some(out);
    }
}

/// Serialised straight from the result type (a `serde_json::Value` would print f32s widened).
fn to_json(value: &impl Serialize) -> Result<String> {
    Ok(serde_json::to_string_pretty(value)?)
}

/// Activations that travel beside the JSON (`run`'s captures, `gradient`'s gradients) go to
/// `--tensors` as safetensors, named by hook (`grads.blocks.3.hook_resid_post`, …).
fn save_tensors<A: Analysis>(output: &A::Output, path: Option<&Path>) -> Result<()> {
    let groups = A::tensors(output);
    let Some(path) = path else {
        if !groups.iter().all(|(_, c)| c.entries.is_empty()) {
            eprintln!("({} has activations: --tensors FILE.safetensors writes them)", A::NAME);
        }
        return Ok(());
    };
    let mut all = std::collections::HashMap::new();
    for (group, cache) in groups {
        for (point, t) in &cache.entries {
            all.insert(format!("{group}.{point}"), t.clone());
        }
    }
    candle_core::safetensors::save(&all, path).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {} tensors to {}", all.len(), path.display());
    Ok(())
}
