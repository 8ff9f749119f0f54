//! `loupe analyses` and `loupe call NAME`: every analysis of the registry
//! (`loupe_interp::registry`) by its wire name, with the same JSON request the page sends
//! (`loupe.call(name, request)`) — so no analysis is listed here, and a new one is on the
//! command line as soon as it is registered.

use crate::args::Args;
use crate::commands::load_file;
use anyhow::{Context, Result};
use loupe_interp::registry::{self, Analysis, Stepped, Visitor};
use loupe_interp::sae::Sae;
use loupe_interp::{Limits, Session};
use loupe_model::{Llama, LoupeTokenizer, WeightMode};
use serde::Serialize;
use std::io::IsTerminal;
use std::rc::Rc;

/// Prints the registry: name, kind (call or job), whether it needs gradients, summary.
pub fn analyses(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &[], &["json"])?;
    let all = registry::catalogue();
    if args.flag("json") {
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

/// `loupe call NAME --model F.gguf --request JSON|@FILE [--weights W] [--sae DIR] [--out F.json]
/// [--tensors F.safetensors]`: runs one analysis (a job to its end) and writes its JSON result.
pub fn call(raw: &[String]) -> Result<()> {
    let (name, rest) = raw.split_first().context("loupe call NAME …: which analysis? (`loupe analyses` lists them)")?;
    let args = Args::parse(rest, &["model", "weights", "request", "sae", "out", "tensors"], &[])?;
    let entry = registry::catalogue().into_iter().find(|e| e.name == name.as_str());
    if entry.is_none() {
        let names: Vec<&str> = registry::catalogue().iter().map(|e| e.name).collect();
        anyhow::bail!("unknown analysis '{name}' (one of: {})", names.join(", "));
    }
    let request = read_request(args.optional("request").unwrap_or("{}"))?;
    let session = open_session(&args)?;
    let mut v = Call { session: &session, name, request: Some(request), tensors: args.optional("tensors"), out: None };
    registry::visit(&mut v);
    let result = v.out.context("the analysis did not run")??;
    crate::analyses::write_text(&args, result)
}

/// `--request` is JSON text, or `@path` to a JSON file.
fn read_request(arg: &str) -> Result<serde_json::Value> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => arg.to_string(),
    };
    serde_json::from_str(&text).context("--request is not valid JSON")
}

fn open_session(args: &Args) -> Result<Session> {
    let mode: WeightMode = args.get("weights", WeightMode::Quantized)?;
    let file = Rc::new(load_file(args)?);
    let model = Llama::load(&file, mode)?;
    let tok = LoupeTokenizer::from_gguf(&file)?;
    let limits = Limits { max_prompt_tokens: model.cfg.context_length };
    let session = Session::new(model, tok, limits).with_file(file);
    if let Some(dir) = args.optional("sae") {
        let dir = std::path::Path::new(dir);
        let read = |f: &str| std::fs::read(dir.join(f)).with_context(|| format!("reading {}", dir.join(f).display()));
        let cfg = String::from_utf8(read("cfg.json")?).context("cfg.json is not UTF-8")?;
        session.set_sae(Sae::load(&cfg, &read("sae_weights.safetensors")?, &session.model.cfg)?);
    }
    Ok(session)
}

struct Call<'a> {
    session: &'a Session,
    name: &'a str,
    request: Option<serde_json::Value>,
    tensors: Option<&'a str>,
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
fn save_tensors<A: Analysis>(output: &A::Output, path: Option<&str>) -> Result<()> {
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
    candle_core::safetensors::save(&all, path).with_context(|| format!("writing {path}"))?;
    eprintln!("wrote {} tensors to {path}", all.len());
    Ok(())
}
