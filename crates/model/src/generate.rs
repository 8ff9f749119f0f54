//! KV-cached autoregressive generation. Hooks (and so interventions) apply to the prompt
//! and to every generated token; they see absolute positions through `offset`.

use crate::error::{bad_input, Result};
use crate::hooks::Hooks;
use crate::llama::{KvCache, Llama};
use crate::sampling::{Sampler, SamplingParams};
use candle_core::{Device, Tensor};

#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// Stop when this token is produced (it is not emitted).
    pub stop_token: Option<u32>,
}

/// Generates up to `max_tokens` after `prompt` (one sequence), calling `on_token` with each
/// new id as soon as it is chosen; `on_token` returns false to stop early.
pub fn generate(
    model: &Llama,
    prompt: &[u32],
    opts: &GenerateOptions,
    hooks: &mut dyn Hooks,
    mut on_token: impl FnMut(u32) -> bool,
) -> Result<Vec<u32>> {
    if prompt.is_empty() {
        return Err(bad_input("the prompt is empty: type at least one token"));
    }
    if prompt.len() + opts.max_tokens > model.cfg.context_length {
        return Err(bad_input(format!(
            "{} prompt tokens + {} new tokens exceed this model's context of {} tokens",
            prompt.len(),
            opts.max_tokens,
            model.cfg.context_length
        )));
    }
    let mut sampler = Sampler::new(opts.sampling)?;
    let mut cache = KvCache::new(model.cfg.n_layers);
    let mut out = Vec::with_capacity(opts.max_tokens);
    let mut input = prompt.to_vec();
    for _ in 0..opts.max_tokens {
        let ids = Tensor::new(input.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
        let logits = model.forward(&ids, hooks, Some(&mut cache))?;
        let last = logits.squeeze(0)?.get(input.len() - 1)?.to_vec1::<f32>()?;
        let next = sampler.sample(&last);
        if Some(next) == opts.stop_token {
            break;
        }
        out.push(next);
        if !on_token(next) {
            break;
        }
        input = vec![next];
    }
    Ok(out)
}
