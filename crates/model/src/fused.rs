//! Fused element-wise kernels, each with its own backward pass: RMSNorm with its gain,
//! the SiLU-gated product of the MLP, rotate-half RoPE, and the scaled causal softmax.
//!
//! Why: written with candle's plain ops these are 4–10 ops each, and every op allocates,
//! walks memory once and (under autograd) adds graph nodes whose backward allocates a
//! zero tensor to accumulate into. Profiled in V8 (loupe-web's tests/pass_speed.rs under
//! `node --cpu-prof`), that bookkeeping was about a third of a gradient pass; in
//! single-token decoding it is most of what runs between the matrix products. candle's own
//! fused `rms_norm`, `rope` and `softmax_last_dim` have no backward pass (candle issues
//! #2168, #3011), so the differentiable model could not use them; these can.
//!
//! The model uses them only where no hook asks for the intermediate activations they skip
//! (`hook_scale`, `hook_normalized`, `hook_attn_scores`); with those hooks it runs the
//! plain ops, so every TransformerLens hook point stays available. Tests in this file check
//! values and gradients against the plain-op formulas under candle's autograd; the model
//! tests check both against the HF/PyTorch fixtures.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Device, Layout, Shape, Tensor};

type CResult<T> = candle_core::Result<T>;

fn msg(s: &str) -> candle_core::Error {
    candle_core::Error::Msg(s.to_string())
}

/// The f32 values of a contiguous CPU input, as a custom op's forward receives it.
pub(crate) fn values<'a>(storage: &'a CpuStorage, layout: &Layout) -> CResult<&'a [f32]> {
    let (start, end) = layout.contiguous_offsets().ok_or_else(|| msg("a custom op needs a contiguous input"))?;
    Ok(&storage.as_slice::<f32>()?[start..end])
}

/// Runs `f` on the values of a tensor (`gemm::with_slice`, in candle's error type).
fn with_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> CResult<R>) -> CResult<R> {
    crate::gemm::with_slice(t, f).map_err(|e| msg(&e.to_string()))?
}

fn tensor(v: Vec<f32>, shape: &Shape) -> CResult<Tensor> {
    Tensor::from_vec(v, shape.clone(), &Device::Cpu)
}

/// Σ a·b with eight partial sums, so LLVM vectorizes it (a plain fold is sequential).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8.remainder().iter().zip(b8.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a8.zip(b8) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

// ---------------------------------------------------------------------------------------
// RMSNorm (Zhang & Sennrich 2019) with its gain: y = w ⊙ x / sqrt(mean(x²) + eps).

/// `y = w ⊙ x · r`, `r = (mean(x²) + eps)^(−½)`, over the last dim of `x`.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> CResult<Tensor> {
    let weight = with_values(weight, |w| Ok(w.to_vec()))?;
    x.contiguous()?.apply_op1(RmsNorm { weight, eps: eps as f32 })
}

struct RmsNorm {
    weight: Vec<f32>,
    eps: f32,
}

impl RmsNorm {
    fn rows<'a>(&self, x: &'a [f32]) -> CResult<std::slice::ChunksExact<'a, f32>> {
        let d = self.weight.len();
        if d == 0 || !x.len().is_multiple_of(d) {
            return Err(msg("rms_norm: the last dim does not match the gain"));
        }
        Ok(x.chunks_exact(d))
    }

    fn inv_rms(&self, row: &[f32]) -> f32 {
        1.0 / (dot(row, row) / row.len() as f32 + self.eps).sqrt()
    }
}

impl CustomOp1 for RmsNorm {
    fn name(&self) -> &'static str {
        "fused-rms-norm"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> CResult<(CpuStorage, Shape)> {
        let x = values(storage, layout)?;
        let mut y = Vec::with_capacity(x.len());
        for row in self.rows(x)? {
            let r = self.inv_rms(row);
            y.extend(row.iter().zip(&self.weight).map(|(v, w)| v * r * w));
        }
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    /// With gw = g ⊙ w: ∂/∂x_j = r·gw_j − x_j · r³ · (gw · x) / d.
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> CResult<Option<Tensor>> {
        let d = self.weight.len() as f32;
        let dx = with_values(arg, |x| {
            with_values(grad, |g| {
                let mut dx = Vec::with_capacity(x.len());
                let mut gw = vec![0f32; self.weight.len()];
                for (row, grow) in self.rows(x)?.zip(self.rows(g)?) {
                    let r = self.inv_rms(row);
                    for ((o, gv), w) in gw.iter_mut().zip(grow).zip(&self.weight) {
                        *o = gv * w;
                    }
                    let k = r * r * r * dot(&gw, row) / d;
                    dx.extend(gw.iter().zip(row).map(|(a, v)| r * a - k * v));
                }
                Ok(dx)
            })
        })?;
        Ok(Some(tensor(dx, arg.shape())?))
    }
}

// ---------------------------------------------------------------------------------------
// The SiLU-gated product of a LLaMA MLP (Shazeer 2020): y = silu(a) ⊙ b.

/// `silu(a) ⊙ b` for same-shaped `a` (the gate's output) and `b` (the up projection's).
pub fn silu_mul(a: &Tensor, b: &Tensor) -> CResult<Tensor> {
    if a.shape() != b.shape() {
        return Err(msg("silu_mul: the two inputs differ in shape"));
    }
    a.contiguous()?.apply_op2(&b.contiguous()?, SiluMul)
}

#[inline(always)]
pub(crate) fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + exp(-v))
}

/// e^x for the sigmoid, branch-free so that the loops over it vectorize: libm's `expf` is a
/// scalar call per value, 5% of a gradient pass in V8 (loupe-web's tests/pass_speed.rs under
/// `node --cpu-prof`). Cephes' `expf` (S. L. Moshier): x = n·ln 2 + r, |r| ≤ ½ ln 2, with ln 2
/// in two parts (Cody & Waite) so r is exact; e^r by Cephes' degree-6 polynomial; 2^n from the
/// exponent bits. Relative error ≤ 3e-7 (test below). x is clamped to [−87.3, 88.3], where
/// 2^n stays a normal float, so the result is never 0 or ∞ (a sigmoid is then within 1e-38
/// of 0 or 1 at the extremes); NaN stays NaN.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.3);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = (x - n * 0.693_359_4) + n * 2.121_944_4e-4;
    let p = ((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 0.166_666_65) * r + 0.5;
    (p * r * r + r + 1.0) * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

struct SiluMul;

impl CustomOp2 for SiluMul {
    fn name(&self) -> &'static str {
        "fused-silu-mul"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> CResult<(CpuStorage, Shape)> {
        let (a, b) = (values(s1, l1)?, values(s2, l2)?);
        let y = a.iter().zip(b).map(|(&a, &b)| a * sigmoid(a) * b).collect();
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    /// ∂/∂a = g·b·σ(a)(1 + a(1 − σ(a))), ∂/∂b = g·a·σ(a).
    fn bwd(&self, a: &Tensor, b: &Tensor, _res: &Tensor, grad: &Tensor) -> CResult<(Option<Tensor>, Option<Tensor>)> {
        let (da, db) = with_values(a, |a| {
            with_values(b, |b| {
                with_values(grad, |g| {
                    // σ(a) once, kept in db's buffer; then two passes LLVM can vectorize.
                    let mut db: Vec<f32> = a.iter().map(|&a| sigmoid(a)).collect();
                    let da = db.iter().zip(a).zip(b).zip(g).map(|(((&s, &a), &b), &g)| g * b * s * (1.0 + a * (1.0 - s))).collect();
                    db.iter_mut().zip(a).zip(g).for_each(|((s, &a), &g)| *s *= g * a);
                    Ok((da, db))
                })
            })
        })?;
        Ok((Some(tensor(da, a.shape())?), Some(tensor(db, a.shape())?)))
    }
}

// ---------------------------------------------------------------------------------------
// Rotary position embeddings (Su et al. 2021), HF's rotate-half layout:
// y[j] = x[j]·cos − x[j+h]·sin, y[j+h] = x[j+h]·cos + x[j]·sin, h = d_head/2.

/// RoPE on `x` `[batch, pos, head, d_head]` (the projections' own layout, no transpose),
/// with `cos`, `sin` `[pos, d_head/2]` for these positions.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> CResult<Tensor> {
    let (_b, p, _h, dh) = x.dims4()?;
    if cos.dims() != [p, dh / 2] || sin.dims() != [p, dh / 2] || dh % 2 != 0 {
        return Err(msg("rope: the tables do not match the input"));
    }
    let cos = with_values(cos, |v| Ok(v.to_vec()))?;
    let sin = with_values(sin, |v| Ok(v.to_vec()))?;
    x.contiguous()?.apply_op1(Rope { cos, sin, inverse: false })
}

/// `inverse` rotates by −θ: the backward pass of a rotation is its transpose.
struct Rope {
    cos: Vec<f32>,
    sin: Vec<f32>,
    inverse: bool,
}

impl Rope {
    fn apply(&self, x: &[f32], shape: &Shape) -> CResult<Vec<f32>> {
        let (_b, p, h, dh) = shape.dims4()?;
        let half = dh / 2;
        let sign = if self.inverse { -1.0 } else { 1.0 };
        let mut y = vec![0f32; x.len()];
        for (i, (xv, yv)) in x.chunks_exact(dh).zip(y.chunks_exact_mut(dh)).enumerate() {
            let pos = (i / h) % p;
            let (c, s) = (&self.cos[pos * half..][..half], &self.sin[pos * half..][..half]);
            let (x1, x2) = xv.split_at(half);
            let (y1, y2) = yv.split_at_mut(half);
            for j in 0..half {
                let sj = sign * s[j];
                y1[j] = x1[j] * c[j] - x2[j] * sj;
                y2[j] = x2[j] * c[j] + x1[j] * sj;
            }
        }
        Ok(y)
    }
}

impl CustomOp1 for Rope {
    fn name(&self) -> &'static str {
        "fused-rope"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> CResult<(CpuStorage, Shape)> {
        Ok((CpuStorage::F32(self.apply(values(storage, layout)?, layout.shape())?), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> CResult<Option<Tensor>> {
        let inverse = Rope { cos: self.cos.clone(), sin: self.sin.clone(), inverse: !self.inverse };
        let dx = with_values(grad, |g| inverse.apply(g, arg.shape()))?;
        Ok(Some(tensor(dx, arg.shape())?))
    }
}

// ---------------------------------------------------------------------------------------
// Attention pattern: softmax(scale · scores) with the causal mask, over the last dim.

/// `scores` `[batch, head, p, t]` (raw q·k); query i sits at absolute position
/// `t − p + i` and sees keys `0..=t − p + i`. Masked entries come out exactly 0, as
/// softmax of −∞ does.
pub fn causal_softmax(scores: &Tensor, scale: f64) -> CResult<Tensor> {
    let (_b, _h, p, t) = scores.dims4()?;
    if t < p {
        return Err(msg("causal_softmax: fewer keys than queries"));
    }
    scores.contiguous()?.apply_op1(CausalSoftmax { scale: scale as f32 })
}

struct CausalSoftmax {
    scale: f32,
}

impl CausalSoftmax {
    /// The number of keys row `i` (counting over all leading dims) may see.
    fn visible(i: usize, p: usize, t: usize) -> usize {
        t - p + i % p + 1
    }
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "fused-causal-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> CResult<(CpuStorage, Shape)> {
        let x = values(storage, layout)?;
        let (_b, _h, p, t) = layout.shape().dims4()?;
        let mut y = vec![0f32; x.len()];
        for (i, (xr, yr)) in x.chunks_exact(t).zip(y.chunks_exact_mut(t)).enumerate() {
            let n = Self::visible(i, p, t);
            let max = xr[..n].iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut sum = 0f32;
            for (o, &v) in yr[..n].iter_mut().zip(&xr[..n]) {
                *o = ((v - max) * self.scale).exp();
                sum += *o;
            }
            let inv = 1.0 / sum;
            yr[..n].iter_mut().for_each(|o| *o *= inv);
        }
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    /// ∂/∂s = scale · p ⊙ (g − Σ g ⊙ p), per row (masked entries have p = 0).
    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> CResult<Option<Tensor>> {
        let t = arg.dim(3)?;
        let ds = with_values(res, |pr| {
            with_values(grad, |g| {
                let mut ds = Vec::with_capacity(pr.len());
                for (pv, gv) in pr.chunks_exact(t).zip(g.chunks_exact(t)) {
                    let k = dot(pv, gv);
                    ds.extend(pv.iter().zip(gv).map(|(p, g)| self.scale * p * (g - k)));
                }
                Ok(ds)
            })
        })?;
        Ok(Some(tensor(ds, arg.shape())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Var, D};

    fn randn(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = crate::sampling::SplitMix64::new(seed);
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).expect("tensor")
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).and_then(|d| d.abs()).and_then(|d| d.max_all()).and_then(|m| m.to_scalar::<f32>()).expect("diff")
    }

    /// Value and input gradient of Σ(f(x) ⊙ probe), the probe making every output count.
    fn value_and_grad(x: &Tensor, probe: &Tensor, f: impl Fn(&Tensor) -> CResult<Tensor>) -> (Tensor, Tensor) {
        let v = Var::from_tensor(x).expect("var");
        let y = f(v.as_tensor()).expect("f");
        let grads = (&y * probe).and_then(|p| p.sum_all()).and_then(|s| s.backward()).expect("backward");
        (y.detach(), grads.get(v.as_tensor()).expect("grad reached the input").clone())
    }

    #[test]
    fn rms_norm_matches_the_plain_ops_and_their_gradient() {
        let x = (randn(&[3, 5, 64], 1) * 3.0).expect("x");
        let w = randn(&[64], 2);
        let probe = randn(&[3, 5, 64], 3);
        let eps = 1e-5;
        let (y, g) = value_and_grad(&x, &probe, |x| rms_norm(x, &w, eps));
        let (y0, g0) = value_and_grad(&x, &probe, |x| {
            let scale = (x.sqr()?.mean_keepdim(D::Minus1)? + eps)?.sqrt()?;
            x.broadcast_div(&scale)?.broadcast_mul(&w)
        });
        assert!(max_diff(&y, &y0) < 1e-5, "{}", max_diff(&y, &y0));
        assert!(max_diff(&g, &g0) < 1e-5, "{}", max_diff(&g, &g0));
    }

    #[test]
    fn exp_is_within_a_few_ulp_of_libm_and_keeps_nan() {
        let mut worst = 0f64;
        for i in 0..=2_000_000 {
            let x = -87.0 + 175.0 * i as f32 / 2_000_000.0;
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64 - want) / want).abs());
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert!(exp(f32::NAN).is_nan());
        assert!(exp(f32::NEG_INFINITY) > 0.0 && exp(f32::NEG_INFINITY) < 1e-37);
        assert!(exp(f32::INFINITY).is_finite() && exp(1000.0) > 1e38);
        assert_eq!(exp(0.0), 1.0);
        assert!(sigmoid(-200.0) < 1e-37 && sigmoid(200.0) == 1.0);
    }

    #[test]
    fn silu_mul_matches_the_plain_ops_and_both_gradients() {
        let a = (randn(&[4, 96], 4) * 6.0).expect("a");
        let b = randn(&[4, 96], 5);
        let probe = randn(&[4, 96], 6);
        let (va, vb) = (Var::from_tensor(&a).expect("a"), Var::from_tensor(&b).expect("b"));
        let grads_of = |y: Tensor| (&y * &probe).and_then(|p| p.sum_all()).and_then(|s| s.backward()).expect("bwd");
        let fused = silu_mul(va.as_tensor(), vb.as_tensor()).expect("fused");
        let plain = (va.as_tensor().silu().expect("silu") * vb.as_tensor()).expect("plain");
        assert!(max_diff(&fused, &plain) < 1e-5);
        let (gf, gp) = (grads_of(fused), grads_of(plain));
        for v in [&va, &vb] {
            let (f, p) = (gf.get(v.as_tensor()).expect("f"), gp.get(v.as_tensor()).expect("p"));
            assert!(max_diff(f, p) < 1e-5, "{}", max_diff(f, p));
        }
    }

    #[test]
    fn rope_matches_candles_and_the_slow_ops_gradient() {
        let (b, p, h, dh) = (2, 7, 3, 16);
        let x = randn(&[b, p, h, dh], 7);
        let cos = randn(&[p, dh / 2], 8);
        let sin = randn(&[p, dh / 2], 9);
        let probe = randn(&[b, p, h, dh], 10);
        let (y, g) = value_and_grad(&x, &probe, |x| rope(x, &cos, &sin));
        let (y0, g0) = value_and_grad(&x, &probe, |x| {
            let y = candle_nn::rotary_emb::rope_slow(&x.transpose(1, 2)?.contiguous()?, &cos, &sin)?;
            y.transpose(1, 2)?.contiguous()
        });
        assert!(max_diff(&y, &y0) < 1e-6, "{}", max_diff(&y, &y0));
        assert!(max_diff(&g, &g0) < 1e-6, "{}", max_diff(&g, &g0));
    }

    #[test]
    fn causal_softmax_matches_mask_and_softmax_with_a_cache_offset() {
        // 3 new queries against 5 keys: the first two keys are cached, as in decoding.
        let (p, t) = (3, 5);
        let s = (randn(&[2, 4, p, t], 11) * 10.0).expect("s");
        let probe = randn(&[2, 4, p, t], 12);
        let scale = 0.125;
        let (y, g) = value_and_grad(&s, &probe, |s| causal_softmax(s, scale));
        let mask: Vec<f32> = (0..p).flat_map(|i| (0..t).map(move |j| if j <= t - p + i { 0.0 } else { f32::NEG_INFINITY })).collect();
        let mask = Tensor::from_vec(mask, (p, t), &Device::Cpu).expect("mask");
        let (y0, g0) = value_and_grad(&s, &probe, |s| {
            let z = (s * scale)?.broadcast_add(&mask)?;
            let e = z.broadcast_sub(&z.max_keepdim(D::Minus1)?.detach())?.exp()?;
            e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
        });
        assert!(max_diff(&y, &y0) < 1e-6, "{}", max_diff(&y, &y0));
        assert!(max_diff(&g, &g0) < 1e-6, "{}", max_diff(&g, &g0));
        let masked = y.narrow(2, 0, 1).and_then(|r| r.narrow(3, t - p + 1, p - 1)).expect("masked");
        assert_eq!(masked.abs().and_then(|m| m.max_all()).and_then(|m| m.to_scalar::<f32>()).expect("max"), 0.0);
    }
}
