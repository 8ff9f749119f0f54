//! The subcommands; each parses its flags, calls the shared core, and writes its output.

use crate::args::Args;
use anyhow::{Context, Result};
use candle_core::{DType, Tensor};
use loupe_interp::run::{generate_text, run_prompt, GenerateRequest, RunRequest};
use loupe_model::{GgufFile, HookPoint, Llama, LoupeTokenizer, WeightMode};
use std::io::Write;

pub fn load_file(args: &Args) -> Result<GgufFile> {
    Ok(GgufFile::read_path(std::path::Path::new(args.required("model")?))?)
}

pub fn load(args: &Args) -> Result<(Llama, LoupeTokenizer)> {
    let mode: WeightMode = args.get("weights", WeightMode::Quantized)?;
    let file = load_file(args)?;
    let model = Llama::load(&file, mode)?;
    let tok = LoupeTokenizer::from_gguf(&file)?;
    Ok((model, tok))
}

pub fn capture(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &["model", "prompt", "hooks", "out", "weights"], &["prepend-bos"])?;
    let out_path = args.required("out")?.to_string();
    let req = RunRequest {
        prompt: args.required("prompt")?.to_string(),
        capture: args.required("hooks")?.split(',').map(|s| s.trim().to_string()).collect(),
        top_k: 1,
        prepend_bos: args.flag("prepend-bos"),
        interventions: Vec::new(),
        all_logits: true,
    };
    let (model, tok) = load(&args)?;
    let out = run_prompt(&model, &tok, &req, model.cfg.context_length)?;
    let ids: Vec<i64> = out.tokens.iter().map(|t| t.id as i64).collect();
    let mut tensors: Vec<(String, Tensor)> = out.cache.entries.iter().map(|(p, t)| (p.to_string(), t.clone())).collect();
    tensors.push(("tokens".into(), Tensor::new(ids.as_slice(), &candle_core::Device::Cpu)?.unsqueeze(0)?));
    tensors.push(("logits".into(), out.logits.to_dtype(DType::F32)?));
    candle_core::safetensors::save(&tensors.into_iter().collect(), &out_path).with_context(|| format!("writing {out_path}"))?;
    eprintln!("wrote {} hooks for {} tokens to {out_path}", out.cache.entries.len(), ids.len());
    Ok(())
}

pub fn generate(raw: &[String]) -> Result<()> {
    let args =
        Args::parse(raw, &["model", "prompt", "max-tokens", "temperature", "top-p", "seed", "weights"], &["prepend-bos", "no-stop"])?;
    let req = GenerateRequest {
        prompt: args.required("prompt")?.to_string(),
        max_tokens: args.get("max-tokens", 20)?,
        temperature: args.get("temperature", 0.0)?,
        top_p: args.get("top-p", 1.0)?,
        seed: args.get("seed", 0)?,
        prepend_bos: args.flag("prepend-bos"),
        stop_at_eos: !args.flag("no-stop"),
        interventions: Vec::new(),
    };
    let (model, tok) = load(&args)?;
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

pub fn hooks(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &["model", "pos", "weights"], &[])?;
    let pos: usize = args.get("pos", 1)?;
    let file = load_file(&args)?;
    let cfg = loupe_model::LlamaConfig::from_gguf(&file)?;
    for hook in HookPoint::all(cfg.n_layers) {
        println!("{hook}\t{:?}", hook.shape(&cfg, 1, pos));
    }
    Ok(())
}

pub fn run(raw: &[String]) -> Result<()> {
    let args = Args::parse(raw, &["model", "prompt", "top-k", "weights"], &["prepend-bos"])?;
    let req = RunRequest {
        prompt: args.required("prompt")?.to_string(),
        top_k: args.get("top-k", 10)?,
        prepend_bos: args.flag("prepend-bos"),
        ..Default::default()
    };
    let (model, tok) = load(&args)?;
    let out = run_prompt(&model, &tok, &req, model.cfg.context_length)?;
    let json = serde_json::json!({ "tokens": out.tokens, "top": out.top });
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
