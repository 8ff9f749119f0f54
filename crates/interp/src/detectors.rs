//! Attention-head detectors (Olsson et al. 2022, "In-context learning and induction heads";
//! TransformerLens `head_detector`): for every head, the mean attention on the key a
//! mechanism predicts.
//! - previous-token: query q → key q−1, on the user's prompt (q ≥ 1);
//! - duplicate-token and induction: on a random token sequence R repeated twice (R R),
//!   each query q in the second copy → its earlier occurrence q−n (duplicate) or the token
//!   after it, q−n+1 (induction).

use crate::capture::Capture;
use crate::run::tokenize_checked;
use candle_core::{Device, Tensor};
use loupe_model::sampling::SplitMix64;
use loupe_model::{BlockSite, HookPoint, Llama, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DetectRequest {
    pub prompt: String,
    /// Length of the random sequence that is repeated (default 20).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub random_length: Option<usize>,
    /// Seed of the random sequence (SplitMix64), or the ids themselves.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub seed: Option<u64>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub random_ids: Option<Vec<u32>>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DetectResult {
    /// `[n_layers][n_heads]` each.
    pub previous_token: Vec<Vec<f32>>,
    pub duplicate_token: Vec<Vec<f32>>,
    pub induction: Vec<Vec<f32>>,
    pub random_ids: Vec<u32>,
}

pub fn detect_heads(model: &Llama, tok: &LoupeTokenizer, req: &DetectRequest, max_tokens: usize) -> Result<DetectResult> {
    let ids = tokenize_checked(tok, &req.prompt, req.prepend_bos, max_tokens)?;
    if ids.len() < 2 {
        return Err(loupe_model::LoupeError::BadInput("previous-token scores need a prompt of at least 2 tokens".into()));
    }
    let bad = |m: String| Err(loupe_model::LoupeError::BadInput(m));
    // The random sequence is repeated once: 2n positions must fit what this front end runs.
    if max_tokens < 4 {
        return bad(format!(
            "head detection repeats a sequence of at least 2 tokens, which needs 4 positions; this model runs {max_tokens}"
        ));
    }
    let vocab = model.cfg.vocab_size;
    let random = match &req.random_ids {
        Some(r) if r.len() < 2 || 2 * r.len() > max_tokens => {
            return bad(format!("the random sequence has {} tokens; it needs 2 to {} (it is repeated once)", r.len(), max_tokens / 2))
        }
        Some(r) => match r.iter().find(|&&id| id as usize >= vocab) {
            Some(id) => return bad(format!("token id {id} in the random sequence is outside the vocabulary of {vocab}")),
            None => r.clone(),
        },
        None => {
            let n = req.random_length.unwrap_or(20).clamp(2, max_tokens / 2);
            let mut rng = SplitMix64::new(req.seed.unwrap_or(0));
            // Ordinary tokens from the middle of the vocabulary (no specials, few bytes):
            // ids 1000 to 19999 in SmolLM2's, the same share of a smaller one.
            let lo = 1000.min(vocab / 4);
            let span = 19_000.min(vocab - lo).max(1) as u64;
            (0..n).map(|_| (lo as u64 + rng.next_u64() % span) as u32).collect()
        }
    };
    let n = random.len();
    let cfg = &model.cfg;
    let per_position_pair = (cfg.n_layers as u64).saturating_mul(cfg.n_heads as u64).saturating_mul(4);
    let pattern_bytes =
        [ids.len(), 2 * n].iter().map(|&t| per_position_pair.saturating_mul((t * t) as u64)).fold(0u64, u64::saturating_add);
    if pattern_bytes > crate::bounds::MAX_PATTERN_BYTES as u64 {
        return bad(format!(
            "head detection on {} + {} tokens holds {} MB of attention patterns (at most {} MB): shorten the prompt or the random sequence",
            ids.len(),
            2 * n,
            pattern_bytes >> 20,
            crate::bounds::MAX_PATTERN_BYTES >> 20
        ));
    }
    let repeated: Vec<u32> = random.iter().chain(random.iter()).copied().collect();
    let prompt_patterns = patterns(model, &ids)?;
    let repeated_patterns = patterns(model, &repeated)?;
    let score = |pats: &[Vec<f32>], len: usize, queries: std::ops::Range<usize>, key: &dyn Fn(usize) -> usize| -> Vec<Vec<f32>> {
        let h = model.cfg.n_heads;
        pats.iter()
            .map(|layer| {
                (0..h)
                    .map(|head| {
                        let total: f32 = queries.clone().map(|q| layer[(head * len + q) * len + key(q)]).sum();
                        total / queries.len() as f32
                    })
                    .collect()
            })
            .collect()
    };
    Ok(DetectResult {
        previous_token: score(&prompt_patterns, ids.len(), 1..ids.len(), &|q| q - 1),
        duplicate_token: score(&repeated_patterns, 2 * n, n..2 * n, &|q| q - n),
        induction: score(&repeated_patterns, 2 * n, n..2 * n, &|q| q - n + 1),
        random_ids: random,
    })
}

/// Every layer's pattern, flattened `[head, query, key]`.
fn patterns(model: &Llama, ids: &[u32]) -> Result<Vec<Vec<f32>>> {
    let points: Vec<HookPoint> = (0..model.cfg.n_layers).map(|l| HookPoint::Block(l, BlockSite::Pattern)).collect();
    let mut capture = Capture::new(points);
    model.forward(&Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?, &mut capture, None)?;
    // Each layer's tensor is dropped once copied out, so the patterns are held about once.
    capture.cache.entries.into_iter().map(|(_, t)| Ok(t.flatten_all()?.to_vec1::<f32>()?)).collect()
}

/// Previous-token, duplicate-token and induction scores of every head.
pub struct DetectHeads;

impl crate::registry::Analysis for DetectHeads {
    const NAME: &'static str = "detectHeads";
    const SUMMARY: &'static str = "Previous-token, duplicate-token and induction scores of every head.";
    type Request = DetectRequest;
    type Output = DetectResult;
    fn run(s: &crate::session::Session, req: &DetectRequest) -> Result<DetectResult> {
        detect_heads(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }
}
