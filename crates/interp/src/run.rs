//! The two requests every front end makes — run a prompt (top-k + captured activations) and
//! generate a continuation — shared by the CLI and the browser so both give the same numbers.

use crate::{resolve_patterns, ActivationCache, Capture, Chain, Intervention, Interventions};
use candle_core::{Device, Tensor};
use loupe_model::sampling::SamplingParams;
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{GenerateOptions, Generator, HookPoint, Llama, LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunRequest {
    pub prompt: String,
    /// Hook names or globs to capture.
    pub capture: Vec<String>,
    #[serde(default = "default_top_k")]
    pub top_k: usize,
    pub prepend_bos: bool,
    pub interventions: Vec<Intervention>,
    /// Logits at every position (`loupe capture` exports them). Otherwise only the last
    /// position goes through the final norm and the unembedding — a fifth of a 64-token
    /// forward is the 49152-row unembedding, and the top-k needs one row of it.
    pub all_logits: bool,
}

fn default_top_k() -> usize {
    10
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopToken {
    pub token: String,
    pub id: u32,
    pub prob: f32,
}

/// The `k` token ids with the highest `score`, each reported with `value` (ties by id).
pub(crate) fn ranked_tokens(
    tok: &LoupeTokenizer,
    vocab: usize,
    k: usize,
    score: impl Fn(usize) -> f32,
    value: impl Fn(usize) -> f32,
) -> Vec<TopToken> {
    let mut order: Vec<usize> = (0..vocab).collect();
    order.sort_by(|&x, &y| score(y).total_cmp(&score(x)).then(x.cmp(&y)));
    order.into_iter().take(k).map(|i| TopToken { token: tok.token_text(i as u32), id: i as u32, prob: value(i) }).collect()
}

/// How a next-token distribution moved from `a` to `b` (log-probs `[vocab]`): each side's
/// top `k`, and the tokens whose probability rose / fell most (`prob` = p_b − p_a).
pub(crate) struct Shift {
    pub top_a: Vec<TopToken>,
    pub top_b: Vec<TopToken>,
    pub rose: Vec<TopToken>,
    pub fell: Vec<TopToken>,
}

pub(crate) fn distribution_shift(tok: &LoupeTokenizer, log_a: &Tensor, log_b: &Tensor, k: usize) -> Result<Shift> {
    let pa: Vec<f32> = log_a.exp()?.to_vec1()?;
    let pb: Vec<f32> = log_b.exp()?.to_vec1()?;
    let ranked = |score: &dyn Fn(usize) -> f32, value: &dyn Fn(usize) -> f32| ranked_tokens(tok, pa.len(), k, score, value);
    Ok(Shift {
        top_a: ranked(&|i| pa[i], &|i| pa[i]),
        top_b: ranked(&|i| pb[i], &|i| pb[i]),
        rose: ranked(&|i| pb[i] - pa[i], &|i| pb[i] - pa[i]),
        fell: ranked(&|i| pa[i] - pb[i], &|i| pb[i] - pa[i]),
    })
}

pub struct RunOutput {
    pub tokens: Vec<TokenInfo>,
    /// Top-k next tokens at the last position.
    pub top: Vec<TopToken>,
    /// `[1, pos, vocab]` when all logits were asked for (or `ln_final` is hooked),
    /// else `[1, 1, vocab]`, the last position's: see [`RunOutput::last_logits`].
    pub logits: Tensor,
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
        return Err(LoupeError::BadInput(format!(
            "the prompt has {} tokens; at most {max_tokens} fit here (shorten it)",
            ids.len()
        )));
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
    let all_logits = req.all_logits
        || points.iter().any(is_ln_final)
        || resolve_patterns(&hooked, model.cfg.n_layers)?.iter().any(is_ln_final);
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

/// The `k` most probable tokens of one position's logits `[vocab]`.
pub fn top_k(tok: &LoupeTokenizer, logits: &Tensor, k: usize) -> Result<Vec<TopToken>> {
    let probs: Vec<f32> = crate::lens::log_softmax(logits)?.exp()?.to_vec1()?;
    let mut order: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(order
        .into_iter()
        .take(k)
        .map(|(id, prob)| TopToken { token: tok.token_text(id as u32), id: id as u32, prob })
        .collect())
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GenerateRequest {
    pub prompt: String,
    pub max_tokens: usize,
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
    pub prepend_bos: bool,
    /// Stop at the end-of-turn token (`<|im_end|>`/EOS).
    pub stop_at_eos: bool,
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
        Ok(self
            .generator
            .next(model, &mut self.hooks)?
            .map(|id| TokenInfo { id, text: tok.token_text(id) }))
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
