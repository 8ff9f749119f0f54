//! Next-token choice: greedy, or temperature + nucleus (top-p, Holtzman et al. 2019)
//! sampling from a seeded generator that gives the same tokens natively and in wasm.

use crate::error::{bad_input, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SamplingParams {
    /// 0 means greedy (argmax).
    pub temperature: f32,
    /// Keep the smallest set of tokens whose probabilities sum to at least `top_p`.
    pub top_p: f32,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self { temperature: 0.0, top_p: 1.0, seed: 0 }
    }
}

/// SplitMix64 (Steele et al. 2014): tiny, fast, and identical on every target.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `n` standard normal draws by Box–Muller, in pairs: u1 = 1 − uniform (so ln u1 is
    /// finite), u2 = uniform, emit r·cos(2πu2) then r·sin(2πu2), r = √(−2 ln u1); an odd
    /// count drops the last sine. The same sequence is rebuilt by the PyTorch reference
    /// script (tests/fixtures/make_gradient_fixtures.py), so SmoothGrad's noise is shared.
    pub fn normals(&mut self, n: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(n + 1);
        while out.len() < n {
            let u1 = 1.0 - self.next_f64();
            let u2 = self.next_f64();
            let r = (-2.0 * u1.ln()).sqrt();
            let angle = 2.0 * std::f64::consts::PI * u2;
            out.push(r * angle.cos());
            out.push(r * angle.sin());
        }
        out.truncate(n);
        out
    }
}

pub struct Sampler {
    params: SamplingParams,
    rng: SplitMix64,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Result<Self> {
        if !(params.temperature >= 0.0 && params.temperature.is_finite()) {
            return Err(bad_input(format!("temperature must be ≥ 0, got {}", params.temperature)));
        }
        if !(params.top_p > 0.0 && params.top_p <= 1.0) {
            return Err(bad_input(format!("top_p must be in (0, 1], got {}", params.top_p)));
        }
        Ok(Self { params, rng: SplitMix64::new(params.seed) })
    }

    /// Picks the next token from one position's logits.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.params.temperature == 0.0 {
            return argmax(logits);
        }
        let t = self.params.temperature;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut probs: Vec<(u32, f64)> = logits.iter().enumerate().map(|(i, &l)| (i as u32, (((l - max) / t) as f64).exp())).collect();
        let total: f64 = probs.iter().map(|p| p.1).sum();
        probs.iter_mut().for_each(|p| p.1 /= total);
        // Ties broken by id so the order (and so the draw) is the same on every target.
        probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut kept = 0.0;
        let mut n = 0;
        for p in &probs {
            kept += p.1;
            n += 1;
            if kept >= self.params.top_p as f64 {
                break;
            }
        }
        let mut r = self.rng.next_f64() * kept;
        for p in &probs[..n] {
            r -= p.1;
            if r < 0.0 {
                return p.0;
            }
        }
        probs[n - 1].0
    }
}

/// The index of the largest value, the first of equal ones; NaN never wins (0 when every
/// value is NaN or there is none). Greedy decoding calls it once per token on 49152 logits:
/// lane-wise maxima first (compare and select, which LLVM vectorizes; a running index does
/// not), then the first index holding the maximum.
pub fn argmax(xs: &[f32]) -> u32 {
    let pick = |m: f32, x: f32| if x > m { x } else { m };
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            lanes[l] = pick(lanes[l], c[l]);
        }
    }
    let max = lanes.iter().chain(tail).fold(f32::NEG_INFINITY, |m, &x| pick(m, x));
    xs.iter().position(|&x| x == max).unwrap_or(0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain definition: first index of the largest non-NaN value.
    fn argmax_by_definition(xs: &[f32]) -> u32 {
        let mut best: Option<usize> = None;
        for (i, &x) in xs.iter().enumerate() {
            if !x.is_nan() && best.is_none_or(|b| x > xs[b]) {
                best = Some(i);
            }
        }
        best.unwrap_or(0) as u32
    }

    #[test]
    fn argmax_is_the_first_largest_value_and_never_nan() {
        let mut rng = SplitMix64::new(7);
        for len in [1usize, 7, 8, 9, 63, 100, 49152] {
            for round in 0..20 {
                // Few distinct values, so ties are common; NaNs and infinities sprinkled in.
                let mut xs: Vec<f32> = (0..len).map(|_| (rng.next_u64() % 13) as f32 - 6.0).collect();
                for _ in 0..round % 4 {
                    let i = (rng.next_u64() as usize) % len;
                    xs[i] = [f32::NAN, f32::NEG_INFINITY, f32::INFINITY, f32::NAN][round % 4];
                }
                assert_eq!(argmax(&xs), argmax_by_definition(&xs), "len {len}, round {round}: {xs:?}");
            }
        }
        assert_eq!(argmax(&[f32::NAN, 1.0, 3.0, 3.0]), 2);
        assert_eq!(argmax(&[f32::NAN; 9]), 0);
        assert_eq!(argmax(&[f32::NEG_INFINITY; 3]), 0);
        assert_eq!(argmax(&[]), 0);
    }
}
