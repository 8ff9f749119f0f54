//! The two requests every front end makes — run a prompt (top-k + captured activations) and
//! generate a continuation — shared by the CLI and the browser so both give the same numbers.

pub use crate::numerics::{top_k, TopToken};
use crate::{resolve_patterns, ActivationCache, Capture, Chain, Intervention, Interventions};
use candle_core::{Device, Tensor};
use loupe_model::sampling::SamplingParams;
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{GenerateOptions, Generator, HookPoint, Llama, LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", default)]
pub struct RunRequest {
    #[cfg_attr(feature = "ts", ts(as = "Option<String>", optional))]
    pub prompt: String,
    /// Hook names or globs to capture.
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<String>>", optional))]
    pub capture: Vec<String>,
    #[serde(default = "default_top_k")]
    #[cfg_attr(feature = "ts", ts(as = "Option<usize>", optional))]
    pub top_k: usize,
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<Intervention>>", optional))]
    pub interventions: Vec<Intervention>,
    /// Logits at every position (`loupe capture` exports them). Otherwise only the last
    /// position goes through the final norm and the unembedding — a fifth of a 64-token
    /// forward is the 49152-row unembedding, and the top-k needs one row of it.
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub all_logits: bool,
}

fn default_top_k() -> usize {
    10
}

#[derive(Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunOutput {
    pub tokens: Vec<TokenInfo>,
    /// Top-k next tokens at the last position.
    pub top: Vec<TopToken>,
    /// `[1, pos, vocab]` when all logits were asked for (or `ln_final` is hooked),
    /// else `[1, 1, vocab]`, the last position's: see [`RunOutput::last_logits`].
    #[serde(skip)]
    pub logits: Tensor,
    #[serde(skip)]
    pub cache: ActivationCache,
}

/// Tokenizes `req.prompt`, refusing prompts longer than `max_tokens` with a clear message.
pub fn tokenize_checked(tok: &LoupeTokenizer, prompt: &str, prepend_bos: bool, max_tokens: usize) -> Result<Vec<u32>> {
    if prompt.is_empty() {
        return Err(LoupeError::BadInput("the prompt is empty: type at least one token".into()));
    }
    let ids = tok.encode(prompt, prepend_bos)?;
    if ids.is_empty() {
        return Err(LoupeError::BadInput("the prompt is empty: type at least one token".into()));
    }
    if ids.len() > max_tokens {
        return Err(LoupeError::BadInput(format!("the prompt has {} tokens; at most {max_tokens} fit here (shorten it)", ids.len())));
    }
    Ok(ids)
}

impl RunOutput {
    /// The last position's logits, `[1, vocab]`.
    pub fn last_logits(&self) -> Result<Tensor> {
        let pos = self.logits.dim(1)?;
        Ok(self.logits.get_on_dim(1, pos - 1)?)
    }
}

pub fn run_prompt(model: &Llama, tok: &LoupeTokenizer, req: &RunRequest, max_tokens: usize) -> Result<RunOutput> {
    let ids = tokenize_checked(tok, &req.prompt, req.prepend_bos, max_tokens)?;
    let points = resolve_patterns(&req.capture, model.cfg.n_layers)?;
    // The final norm's hooks must see every position if anything reads or changes them.
    let is_ln_final = |p: &HookPoint| matches!(p, HookPoint::LnFinalScale | HookPoint::LnFinalNormalized);
    let hooked: Vec<String> = req.interventions.iter().map(|i| i.hook.clone()).collect();
    let all_logits =
        req.all_logits || points.iter().any(is_ln_final) || resolve_patterns(&hooked, model.cfg.n_layers)?.iter().any(is_ln_final);
    let cfg = &model.cfg;
    let captured = points.iter().map(|p| p.shape(cfg, 1, ids.len()).iter().fold(4u64, |n, &d| n.saturating_mul(d as u64)));
    let logits_bytes = if all_logits { ids.len() as u64 * cfg.vocab_size as u64 * 4 } else { 0 };
    crate::bounds::memory_fits(
        &format!("capturing {} hooks over {} tokens", points.len(), ids.len()),
        captured.fold(logits_bytes, u64::saturating_add),
        crate::bounds::MAX_CAPTURE_BYTES,
        "capture fewer hooks (attention patterns are the largest) or shorten the prompt",
    )?;
    let interventions = Interventions::new(&req.interventions, &model.cfg)?;
    let mut hooks = Chain(interventions, Capture::new(points));
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
    let logits = if all_logits {
        model.forward(&input, &mut hooks, None)?
    } else {
        model.forward_embeds_at(&model.embed(&input)?, &mut hooks, ids.len() - 1)?.unsqueeze(1)?
    };
    let out = RunOutput { tokens: tok.token_infos(&ids), top: Vec::new(), logits, cache: hooks.1.cache };
    let top = top_k(tok, &out.last_logits()?.squeeze(0)?, req.top_k)?;
    Ok(RunOutput { top, ..out })
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", default)]
pub struct GenerateRequest {
    #[cfg_attr(feature = "ts", ts(as = "Option<String>", optional))]
    pub prompt: String,
    #[cfg_attr(feature = "ts", ts(as = "Option<usize>", optional))]
    pub max_tokens: usize,
    #[cfg_attr(feature = "ts", ts(as = "Option<f32>", optional))]
    pub temperature: f32,
    #[cfg_attr(feature = "ts", ts(as = "Option<f32>", optional))]
    pub top_p: f32,
    #[cfg_attr(feature = "ts", ts(as = "Option<u64>", optional))]
    pub seed: u64,
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
    /// Stop at the end-of-turn token (`<|im_end|>`/EOS).
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub stop_at_eos: bool,
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<Intervention>>", optional))]
    pub interventions: Vec<Intervention>,
}

impl Default for GenerateRequest {
    fn default() -> Self {
        Self {
            prompt: String::new(),
            max_tokens: 20,
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
            prepend_bos: false,
            stop_at_eos: true,
            interventions: Vec::new(),
        }
    }
}

/// A generation in progress: one token per `next`, so a front end can stream and stop
/// between tokens.
pub struct TextGeneration {
    generator: Generator,
    hooks: Interventions,
}

impl TextGeneration {
    pub fn start(model: &Llama, tok: &LoupeTokenizer, req: &GenerateRequest, max_tokens: usize) -> Result<Self> {
        let ids = tokenize_checked(tok, &req.prompt, req.prepend_bos, max_tokens)?;
        let hooks = Interventions::new(&req.interventions, &model.cfg)?;
        let opts = GenerateOptions {
            max_tokens: req.max_tokens,
            sampling: SamplingParams { temperature: req.temperature, top_p: req.top_p, seed: req.seed },
            stop_token: if req.stop_at_eos { tok.eos_id } else { None },
        };
        Ok(Self { generator: Generator::new(model, &ids, opts)?, hooks })
    }

    pub fn next(&mut self, model: &Llama, tok: &LoupeTokenizer) -> Result<Option<TokenInfo>> {
        Ok(self.generator.next(model, &mut self.hooks)?.map(|id| TokenInfo { id, text: tok.token_text(id) }))
    }
}

/// Generates a continuation; `on_token` sees each new token as it is chosen and returns
/// false to stop.
pub fn generate_text(
    model: &Llama,
    tok: &LoupeTokenizer,
    req: &GenerateRequest,
    max_tokens: usize,
    mut on_token: impl FnMut(TokenInfo) -> bool,
) -> Result<Vec<TokenInfo>> {
    let mut generation = TextGeneration::start(model, tok, req, max_tokens)?;
    let mut out = Vec::new();
    while let Some(t) = generation.next(model, tok)? {
        out.push(t.clone());
        if !on_token(t) {
            break;
        }
    }
    Ok(out)
}

/// Runs a prompt: its tokens, the top next tokens, and the captured activations.
pub struct Run;

impl crate::registry::Analysis for Run {
    const NAME: &'static str = "run";
    const SUMMARY: &'static str = "Runs a prompt: its tokens, the top next tokens, and the captured activations.";
    type Request = RunRequest;
    type Output = RunOutput;
    fn run(s: &crate::session::Session, req: &RunRequest) -> Result<RunOutput> {
        run_prompt(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }

    const TENSORS: &'static [&'static str] = &["activations"];
    fn tensors(out: &RunOutput) -> Vec<(&'static str, &ActivationCache)> {
        vec![(Self::TENSORS[0], &out.cache)]
    }
}
