//! KV-cached autoregressive generation. Hooks (and so interventions) apply to the prompt
//! and to every generated token; they see absolute positions through `offset`.
//!
//! `Generator` produces one token per `next` call, so a caller (the browser worker) can
//! stream tokens and stop between any two of them; `generate` is the loop over it.

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

/// The state of one generation: KV cache, sampler, and the tokens not yet fed to the model.
pub struct Generator {
    opts: GenerateOptions,
    sampler: Sampler,
    cache: KvCache,
    pending: Vec<u32>,
    produced: usize,
    done: bool,
}

impl Generator {
    pub fn new(model: &Llama, prompt: &[u32], opts: GenerateOptions) -> Result<Self> {
        if prompt.is_empty() {
            return Err(bad_input("the prompt is empty: type at least one token"));
        }
        if prompt.len().saturating_add(opts.max_tokens) > model.cfg.context_length {
            return Err(bad_input(format!(
                "{} prompt tokens + {} new tokens exceed this model's context of {} tokens",
                prompt.len(),
                opts.max_tokens,
                model.cfg.context_length
            )));
        }
        Ok(Self {
            sampler: Sampler::new(opts.sampling)?,
            cache: KvCache::new(model.cfg.n_layers),
            pending: prompt.to_vec(),
            produced: 0,
            done: opts.max_tokens == 0,
            opts,
        })
    }

    /// The next token, or `None` once `max_tokens` are made or the stop token appears.
    /// The first call runs the whole prompt (prefill); later calls one token each.
    pub fn next(&mut self, model: &Llama, hooks: &mut dyn Hooks) -> Result<Option<u32>> {
        if self.done {
            return Ok(None);
        }
        let (pending, cache, sampler) = (&self.pending, &mut self.cache, &mut self.sampler);
        let mut step = || -> Result<u32> {
            let ids = Tensor::new(pending.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
            let logits = model.forward(&ids, hooks, Some(cache))?;
            let last = logits.squeeze(0)?.get(pending.len() - 1)?.to_vec1::<f32>()?;
            Ok(sampler.sample(&last))
        };
        // After the prompt, one token per step: on as many threads as are faster now.
        let next = if self.produced > 0 { crate::parallel::decode_step(step)? } else { step()? };
        self.produced += 1;
        self.done = self.produced >= self.opts.max_tokens;
        if Some(next) == self.opts.stop_token {
            self.done = true;
            return Ok(None);
        }
        self.pending = vec![next];
        Ok(Some(next))
    }
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
    let mut generator = Generator::new(model, prompt, opts.clone())?;
    let mut out = Vec::with_capacity(opts.max_tokens);
    while let Some(next) = generator.next(model, hooks)? {
        out.push(next);
        if !on_token(next) {
            break;
        }
    }
    Ok(out)
}
