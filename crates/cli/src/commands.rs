//! The model's own subcommands: `capture` activations, `generate` text, list `hooks`, `run`
//! a prompt. Each declares its flags, calls the shared core, and writes its output.

use crate::shared::{ModelFile, ModelPrompt, Sampling};
use crate::values;
use anyhow::{Context, Result};
use candle_core::{DType, Tensor};
use clap::Args;
use loupe_interp::run::{generate_text, run_prompt, GenerateRequest, RunRequest};
use loupe_model::HookPoint;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct CaptureArgs {
    #[command(flatten)]
    input: ModelPrompt,
    /// Hook-name patterns, comma-separated, e.g. 'blocks.*.hook_resid_pre,blocks.3.attn.hook_pattern'
    #[arg(long, value_name = "PATTERNS", required = true, value_delimiter = ',', value_parser = values::trimmed::<String>)]
    hooks: Vec<String>,
    /// The safetensors file written: one tensor per hook, plus `tokens` and `logits`
    #[arg(long, value_name = "OUT.safetensors")]
    out: PathBuf,
}

pub fn capture(a: CaptureArgs) -> Result<()> {
    let req = RunRequest {
        prompt: a.input.prompt.prompt,
        capture: a.hooks,
        top_k: 1,
        prepend_bos: a.input.bos.prepend_bos,
        interventions: Vec::new(),
        all_logits: true,
    };
    let (model, tok) = a.input.model.load()?;
    let out = run_prompt(&model, &tok, &req, model.cfg.context_length)?;
    let ids: Vec<i64> = out.tokens.iter().map(|t| t.id as i64).collect();
    let mut tensors: Vec<(String, Tensor)> = out.cache.entries.iter().map(|(p, t)| (p.to_string(), t.clone())).collect();
    tensors.push(("tokens".into(), Tensor::new(ids.as_slice(), &candle_core::Device::Cpu)?.unsqueeze(0)?));
    tensors.push(("logits".into(), out.logits.to_dtype(DType::F32)?));
    let out_path = a.out.display();
    candle_core::safetensors::save(&tensors.into_iter().collect(), &a.out).with_context(|| format!("writing {out_path}"))?;
    eprintln!("wrote {} hooks for {} tokens to {out_path}", out.cache.entries.len(), ids.len());
    Ok(())
}

#[derive(Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    input: ModelPrompt,
    #[command(flatten)]
    sampling: Sampling,
    /// Keep generating past the end-of-turn token
    #[arg(long)]
    no_stop: bool,
}

pub fn generate(a: GenerateArgs) -> Result<()> {
    let req = GenerateRequest { stop_at_eos: !a.no_stop, ..a.sampling.request(&a.input.prompt.prompt, a.input.bos.prepend_bos) };
    let (model, tok) = a.input.model.load()?;
    let mut stdout = std::io::stdout().lock();
    generate_text(&model, &tok, &req, model.cfg.context_length, |t| {
        // Streamed: each token is printed as soon as it is chosen.
        let _ = write!(stdout, "{}", String::from_utf8_lossy(tok.bytes(t.id)));
        let _ = stdout.flush();
        true
    })?;
    writeln!(stdout)?;
    Ok(())
}

#[derive(Args)]
pub struct HooksArgs {
    #[command(flatten)]
    model: ModelFile,
    /// The sequence length the shapes are given for
    #[arg(long, value_name = "N", default_value_t = 1)]
    pos: usize,
}

pub fn hooks(a: HooksArgs) -> Result<()> {
    let cfg = loupe_model::LlamaConfig::from_gguf(&a.model.read()?)?;
    for hook in HookPoint::all(cfg.n_layers) {
        println!("{hook}\t{:?}", hook.shape(&cfg, 1, a.pos));
    }
    Ok(())
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    input: ModelPrompt,
    /// How many of the most likely next tokens to print
    #[arg(long, value_name = "K", default_value_t = 10)]
    top_k: usize,
}

pub fn run(a: RunArgs) -> Result<()> {
    let req = RunRequest { prompt: a.input.prompt.prompt, top_k: a.top_k, prepend_bos: a.input.bos.prepend_bos, ..Default::default() };
    let (model, tok) = a.input.model.load()?;
    let out = run_prompt(&model, &tok, &req, model.cfg.context_length)?;
    let json = serde_json::json!({ "tokens": out.tokens, "top": out.top });
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
