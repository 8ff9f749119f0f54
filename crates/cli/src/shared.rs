//! The flags several subcommands share, declared once and flattened into each
//! (`#[command(flatten)]`), with what they do: load the model, write a JSON result, build a
//! metric or a generation request. Flags that always come together are one group here, so a
//! subcommand names the group once and its help reads alike everywhere.

use crate::values;
use anyhow::{Context, Result};
use clap::Args;
use loupe_interp::patching::Metric;
use loupe_interp::run::GenerateRequest;
use loupe_interp::target::TokenRef;
use loupe_model::{GgufFile, Llama, LoupeTokenizer, WeightMode};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// `--model` alone: the gradient commands and `hooks` choose no weight mode.
#[derive(Args)]
pub struct ModelFile {
    /// The model, a GGUF file
    #[arg(long, value_name = "FILE.gguf")]
    pub model: PathBuf,
}

impl ModelFile {
    pub fn read(&self) -> Result<GgufFile> {
        Ok(GgufFile::read_path(&self.model)?)
    }

    /// f32 weights with differentiable ops: what every gradient command runs.
    pub fn load_differentiable(&self) -> Result<(Llama, LoupeTokenizer)> {
        let file = self.read()?;
        let model = Llama::load(&file, WeightMode::F32)?.differentiable()?;
        Ok((model, LoupeTokenizer::from_gguf(&file)?))
    }
}

#[derive(Args)]
pub struct ModelArgs {
    #[command(flatten)]
    pub file: ModelFile,
    /// Weight mode: quantized (the file's own blocks; the default), q8 or f32
    // WeightMode's own FromStr rather than serde: its error ("unknown weight mode 'f16' (use …)")
    // is the one the CLI has always given, and names the accepted modes.
    #[arg(long, value_name = "MODE")]
    pub weights: Option<WeightMode>,
}

impl ModelArgs {
    pub fn mode(&self) -> WeightMode {
        self.weights.unwrap_or_default()
    }

    pub fn load(&self) -> Result<(Llama, LoupeTokenizer)> {
        let file = self.file.read()?;
        let model = Llama::load(&file, self.mode())?;
        Ok((model, LoupeTokenizer::from_gguf(&file)?))
    }
}

/// How a command's model is loaded, so that one group can hold either kind of model flag:
/// `ModelArgs` in its `--weights` mode, `ModelFile` (no `--weights`) as the f32
/// differentiable model every gradient command runs.
pub trait LoadModel: Args {
    fn load_model(&self) -> Result<(Llama, LoupeTokenizer)>;
}

impl LoadModel for ModelArgs {
    fn load_model(&self) -> Result<(Llama, LoupeTokenizer)> {
        self.load()
    }
}

impl LoadModel for ModelFile {
    fn load_model(&self) -> Result<(Llama, LoupeTokenizer)> {
        self.load_differentiable()
    }
}

#[derive(Args)]
pub struct Bos {
    /// Prepend the BOS token to each prompt
    #[arg(long)]
    pub prepend_bos: bool,
}

#[derive(Args)]
pub struct JsonOut {
    /// Write the JSON result to this file instead of stdout
    #[arg(long, value_name = "FILE.json")]
    pub out: Option<PathBuf>,
}

impl JsonOut {
    pub fn write_json(&self, value: &impl Serialize) -> Result<()> {
        self.write_text(serde_json::to_string_pretty(value)?)
    }

    pub fn write_text(&self, text: String) -> Result<()> {
        match &self.out {
            Some(path) => std::fs::write(path, text).with_context(|| format!("writing {}", path.display())),
            None => {
                println!("{text}");
                Ok(())
            }
        }
    }
}

/// `--prompt` alone: declared once, so every one-prompt command documents it alike.
#[derive(Args)]
pub struct Prompt {
    /// The prompt
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
}

/// What every JSON analysis takes: the model (`M`: `ModelFile` for the gradient commands),
/// BOS, and where the JSON goes.
#[derive(Args)]
pub struct Common<M: LoadModel = ModelArgs> {
    #[command(flatten)]
    pub model: M,
    #[command(flatten)]
    pub bos: Bos,
    #[command(flatten)]
    pub out: JsonOut,
}

impl<M: LoadModel> Common<M> {
    pub fn prepend_bos(&self) -> bool {
        self.bos.prepend_bos
    }

    /// Loads the model, runs `analysis` on it (with the model's context length as the prompt
    /// limit) and writes its result as JSON: the body every JSON analysis shares.
    pub fn run<R: Serialize, E>(&self, analysis: impl FnOnce(&Llama, &LoupeTokenizer, usize) -> Result<R, E>) -> Result<()>
    where
        anyhow::Error: From<E>,
    {
        let (model, tok) = self.model.load_model()?;
        let result = analysis(&model, &tok, model.cfg.context_length)?;
        self.out.write_json(&result)
    }
}

/// A JSON analysis of one prompt: `Common`, then `--prompt` (in that order in the help).
#[derive(Args)]
pub struct PromptAnalysis<M: LoadModel = ModelArgs> {
    #[command(flatten)]
    pub common: Common<M>,
    #[command(flatten)]
    pub prompt: Prompt,
}

impl<M: LoadModel> PromptAnalysis<M> {
    pub fn prepend_bos(&self) -> bool {
        self.common.prepend_bos()
    }
}

/// The model, BOS and `--prompt`, for the one-prompt commands that write their own output
/// (`capture`, `generate`, `run`, `grad`) and so take no JSON `--out`.
#[derive(Args)]
pub struct ModelPrompt<M: LoadModel = ModelArgs> {
    #[command(flatten)]
    pub model: M,
    #[command(flatten)]
    pub bos: Bos,
    #[command(flatten)]
    pub prompt: Prompt,
}

/// The two prompts of activation patching and what is measured: `patch` and its gradient
/// estimate `attrpatch` take the same three.
#[derive(Args)]
pub struct Patching {
    /// The prompt patched into
    #[arg(long, value_name = "TEXT")]
    pub clean: String,
    /// The prompt the patched activations come from (same token length)
    #[arg(long, value_name = "TEXT")]
    pub corrupted: String,
    #[command(flatten)]
    pub metric: MetricArgs,
}

/// A metric on the last position's prediction: log p(token), or a logit difference.
#[derive(Args)]
pub struct MetricArgs {
    /// The token measured (TOK: its exact text, e.g. ' Mary', or #ID)
    #[arg(long, value_name = "TOK", value_parser = values::token)]
    pub token: TokenRef,
    /// Measure logit(token) − logit(minus) instead of log p(token)
    #[arg(long, value_name = "TOK", value_parser = values::token)]
    pub minus: Option<TokenRef>,
}

impl MetricArgs {
    pub fn metric(&self) -> Metric {
        let token = self.token.clone();
        match &self.minus {
            Some(minus) => Metric::LogitDiff { token, minus: minus.clone() },
            None => Metric::Logprob { token },
        }
    }
}

/// How text is generated (defaults: the request's own, greedy).
#[derive(Args)]
pub struct Sampling {
    /// Tokens to generate
    #[arg(long, value_name = "N", default_value_t = GenerateRequest::default().max_tokens)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy
    #[arg(long, value_name = "T", default_value_t = GenerateRequest::default().temperature)]
    pub temperature: f32,
    /// Nucleus sampling: keep the most likely tokens up to this total probability
    #[arg(long, value_name = "P", default_value_t = GenerateRequest::default().top_p)]
    pub top_p: f32,
    /// Sampling seed
    #[arg(long, value_name = "S", default_value_t = GenerateRequest::default().seed)]
    pub seed: u64,
}

impl Sampling {
    pub fn request(&self, prompt: &str, prepend_bos: bool) -> GenerateRequest {
        GenerateRequest {
            prompt: prompt.into(),
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            seed: self.seed,
            prepend_bos,
            ..Default::default()
        }
    }
}

/// An SAE directory in SAELens format, read as `Sae::load` takes it: `cfg.json` (as text) and
/// `sae_weights.safetensors`. `loupe sae` and `loupe call --sae` read it alike, each at its
/// own point (before or after loading the model), so the errors stay where they were.
pub fn read_sae(dir: &Path) -> Result<(String, Vec<u8>)> {
    let read = |f: &str| std::fs::read(dir.join(f)).with_context(|| format!("reading {}", dir.join(f).display()));
    let cfg = String::from_utf8(read("cfg.json")?).context("cfg.json is not UTF-8")?;
    Ok((cfg, read("sae_weights.safetensors")?))
}
