//! Bounds on the request fields that set an amount of work or memory, in one place (the
//! table in docs/RELIABILITY.md lists them with the tests that cover them). Above a bound a
//! request is refused with a message naming the field, the value and the limit, before any
//! work or allocation: a request of 10^12 IG steps used to abort the tab on allocation.
//! Prompt lengths are bounded separately, by `Limits::max_prompt_tokens` and the model's
//! context.

use loupe_model::{LoupeError, Result};

// Fuzz builds (`--cfg fuzzing`, crates/fuzz) use smaller bounds on the amounts of work, so
// that each input runs in well under a second on the tiny model; the checks are the same.

/// Integrated Gradients' fixed-rule quadrature steps (Sundararajan et al. use 20–300).
pub const MAX_IG_STEPS: usize = if cfg!(fuzzing) { 64 } else { 4096 };
/// Adaptive IG's budget of forward + backward passes.
pub const MAX_IG_PASSES: usize = if cfg!(fuzzing) { 64 } else { 4096 };
/// SmoothGrad's noisy samples (Smilkov et al. find 50 enough).
pub const MAX_SMOOTHGRAD_SAMPLES: usize = if cfg!(fuzzing) { 64 } else { 4096 };
/// Prompts in one request's list (probe classes, steering-direction sets, SAE training,
/// ablation references): each runs the model once.
pub const MAX_PROMPTS: usize = if cfg!(fuzzing) { 16 } else { 1024 };
/// A linear probe's gradient-descent iterations per layer.
pub const MAX_PROBE_ITERATIONS: usize = if cfg!(fuzzing) { 1000 } else { 100_000 };
/// SAE training: steps × batch × d_sae × d_in, the multiply-adds of one of its matrix products
/// over the run (the page's default, 400 × 128 × 256 × 576, is 7.5e9).
pub const MAX_SAE_TRAIN_WORK: u64 = if cfg!(fuzzing) { 10_000_000 } else { 200_000_000_000 };
/// Head detection holds every layer's attention pattern over the repeated sequence at once
/// (layers × heads × positions² f32): refused above this many bytes.
pub const MAX_PATTERN_BYTES: usize = 1 << 30;

/// What one run may capture: the activations of the hooks asked for, plus every position's
/// logits when they are kept (a 2048-token prompt's `blocks.*.attn.hook_pattern` alone is
/// 4.5 GB for the default model).
pub const MAX_CAPTURE_BYTES: u64 = 1 << 30;

/// Refuses work whose estimated memory passes `limit`, naming what and how to shrink it.
pub fn memory_fits(what: &str, bytes: u64, limit: u64, advice: &str) -> Result<()> {
    if bytes <= limit {
        Ok(())
    } else {
        Err(LoupeError::BadInput(format!("{what} needs about {} MB (at most {} MB here): {advice}", bytes >> 20, limit >> 20)))
    }
}

/// `value` if it is at most `max`, else an error naming `field`.
pub fn at_most(field: &str, value: usize, max: usize) -> Result<usize> {
    if value <= max {
        Ok(value)
    } else {
        Err(LoupeError::BadInput(format!("{field} is {value}; at most {max} are allowed")))
    }
}
