//! Attention of the decoding step: one query position against the layer's cached keys and
//! values (`decode::decode_block`), on slices.
//!
//! Serial work between a block's threaded products caps what a second thread gains, and
//! this was the largest part of it: at ~40 cached positions, 0.5 ms of a 15 ms token on one
//! thread (docs/BENCHMARKS.md, 2026-12-02 late). A `dot` call per cached position ran at
//! ~3.5 GMAC/s in V8, bound by its call, its reduction and one dependent chain of adds;
//! four keys at a time with explicit lanes run at ~5.5–6 (loupe-web's tests/matvec_speed.rs
//! prints it; tests/kernels.rs checks the lanes against the definition).

use crate::fused::{dot, exp};

/// Attention of one position is split across threads by query head from this many cached
/// positions on. It grows with the context (each head reads every cached key and value):
/// serial, at a few hundred positions it would take as long as all the block's products
/// on two threads; at a few dozen, one more threaded job costs about what it saves.
pub(super) const PARALLEL_ATTENTION_MIN_POSITIONS: usize = 32;

/// Grouped-query attention of one query position over `t` cached positions: query head i
/// reads kv head i / (h / kvh) (HF's `repeat_kv`); softmax(q·kᵀ / √d_head) · v per head.
/// `keys`, `values`: `[t, kvh, dh]`; returns z `[h · dh]`. One piece per query head, split
/// across threads once the context is long enough (the same sums either way).
pub fn attend(q: &[f32], keys: &[f32], values: &[f32], h: usize, kvh: usize, dh: usize) -> Vec<f32> {
    let t = keys.len() / (kvh * dh).max(1);
    let scale = 1.0 / (dh as f32).sqrt();
    let mut z = vec![0f32; h * dh];
    let head = |i: usize, zh: &mut [f32]| {
        let (qh, g) = (&q[i * dh..(i + 1) * dh], i / (h / kvh));
        let row = |m, j| cached_row(m, j, kvh, g, dh);
        let mut p = vec![0f32; t];
        let mut quads = p.chunks_exact_mut(4);
        for (n, s) in quads.by_ref().enumerate() {
            let j = 4 * n;
            s.copy_from_slice(&dot4(qh, [row(keys, j), row(keys, j + 1), row(keys, j + 2), row(keys, j + 3)]));
        }
        let done = t / 4 * 4;
        for (j, s) in quads.into_remainder().iter_mut().enumerate() {
            *s = dot(qh, row(keys, done + j));
        }
        // As `fused::causal_softmax`: exp((s − max) · scale), normalised.
        let max = p.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
        p.iter_mut().for_each(|pj| *pj = exp((*pj - max) * scale));
        let inv = 1.0 / p.iter().sum::<f32>();
        let mut quads = p.chunks_exact(4);
        for (n, w) in quads.by_ref().enumerate() {
            let j = 4 * n;
            let w = [w[0] * inv, w[1] * inv, w[2] * inv, w[3] * inv];
            add_weighted4(zh, w, [row(values, j), row(values, j + 1), row(values, j + 2), row(values, j + 3)]);
        }
        for (j, &pj) in quads.remainder().iter().enumerate() {
            let w = pj * inv;
            for (o, &vv) in zh.iter_mut().zip(row(values, done + j)) {
                *o += w * vv;
            }
        }
    };
    if t >= PARALLEL_ATTENTION_MIN_POSITIONS {
        crate::parallel::for_each_chunk_mut_fine(&mut z, dh, head);
    } else {
        z.chunks_exact_mut(dh).enumerate().for_each(|(i, zh)| head(i, zh));
    }
    z
}

/// Position `j`'s `dh` values for kv head `g` in a `[t, kvh, dh]` cache.
#[inline(always)]
fn cached_row(m: &[f32], j: usize, kvh: usize, g: usize, dh: usize) -> &[f32] {
    &m[(j * kvh + g) * dh..][..dh]
}

/// q·k for four keys at once: each chunk of `q` is loaded once for the four, whose sums are
/// four independent chains of multiply-adds, totalled by one 4×4 transpose.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
#[allow(unsafe_code)]
fn dot4(q: &[f32], k: [&[f32]; 4]) -> [f32; 4] {
    use crate::gemm::lanes::madd;
    use core::arch::wasm32::*;
    let n = q.len() / 4;
    if k.iter().any(|k| k.len() < q.len()) {
        return k.map(|k| dot(q, k));
    }
    let mut a = [f32x4_splat(0.0); 4];
    for c in 0..n {
        // SAFETY: 4c + 4 ≤ q.len() ≤ every k's length (checked above); wasm loads need no
        // alignment.
        let qv = unsafe { v128_load(q.as_ptr().add(4 * c) as *const v128) };
        for (ar, kr) in a.iter_mut().zip(&k) {
            *ar = madd(qv, unsafe { v128_load(kr.as_ptr().add(4 * c) as *const v128) }, *ar);
        }
    }
    let u0 = f32x4_add(i32x4_shuffle::<0, 4, 1, 5>(a[0], a[1]), i32x4_shuffle::<2, 6, 3, 7>(a[0], a[1]));
    let u1 = f32x4_add(i32x4_shuffle::<0, 4, 1, 5>(a[2], a[3]), i32x4_shuffle::<2, 6, 3, 7>(a[2], a[3]));
    let s = f32x4_add(i32x4_shuffle::<0, 1, 4, 5>(u0, u1), i32x4_shuffle::<2, 3, 6, 7>(u0, u1));
    let lanes = [f32x4_extract_lane::<0>(s), f32x4_extract_lane::<1>(s), f32x4_extract_lane::<2>(s), f32x4_extract_lane::<3>(s)];
    let tail = 4 * n;
    core::array::from_fn(|r| lanes[r] + q[tail..].iter().zip(&k[r][tail..]).map(|(a, b)| a * b).sum::<f32>())
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn dot4(q: &[f32], k: [&[f32]; 4]) -> [f32; 4] {
    k.map(|k| dot(q, k))
}

/// z += Σ w[r]·v[r] over four value rows in one pass over z (a pass per row loads and
/// stores z four times as often).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
#[allow(unsafe_code)]
fn add_weighted4(z: &mut [f32], w: [f32; 4], v: [&[f32]; 4]) {
    use crate::gemm::lanes::madd;
    use core::arch::wasm32::*;
    if v.iter().any(|v| v.len() < z.len()) {
        return add_weighted4_scalar(z, w, v);
    }
    let n = z.len() / 4;
    let ws = w.map(|x| f32x4_splat(x));
    for c in 0..n {
        // SAFETY: 4c + 4 ≤ z.len() ≤ every v's length (checked above); no alignment needed.
        unsafe {
            let zp = z.as_mut_ptr().add(4 * c) as *mut v128;
            let ld = |r: usize| v128_load(v[r].as_ptr().add(4 * c) as *const v128);
            let s01 = madd(ws[1], ld(1), f32x4_mul(ws[0], ld(0)));
            let s23 = madd(ws[3], ld(3), f32x4_mul(ws[2], ld(2)));
            v128_store(zp, f32x4_add(v128_load(zp), f32x4_add(s01, s23)));
        }
    }
    add_weighted4_scalar(&mut z[4 * n..], w, v.map(|v| &v[4 * n..]));
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn add_weighted4(z: &mut [f32], w: [f32; 4], v: [&[f32]; 4]) {
    add_weighted4_scalar(z, w, v)
}

#[inline(always)]
fn add_weighted4_scalar(z: &mut [f32], w: [f32; 4], v: [&[f32]; 4]) {
    for ((((o, &a), &b), &c), &d) in z.iter_mut().zip(v[0]).zip(v[1]).zip(v[2]).zip(v[3]) {
        *o += (w[0] * a + w[1] * b) + (w[2] * c + w[3] * d);
    }
}

/// The definition in f64, the reference of the tests (natively here, and in wasm, where
/// `attend` takes its SIMD lanes, in loupe-web's tests/kernels.rs): the largest difference
/// from `attend` over every output.
#[doc(hidden)]
pub fn max_error_against_definition(q: &[f32], keys: &[f32], values: &[f32], h: usize, kvh: usize, dh: usize) -> f64 {
    let t = keys.len() / (kvh * dh);
    let z = attend(q, keys, values, h, kvh, dh);
    let mut worst = 0f64;
    for i in 0..h {
        let g = i / (h / kvh);
        let row = |m: &[f32], j: usize| cached_row(m, j, kvh, g, dh).iter().map(|&v| v as f64).collect::<Vec<f64>>();
        let s: Vec<f64> = (0..t)
            .map(|j| row(keys, j).iter().zip(&q[i * dh..(i + 1) * dh]).map(|(k, &q)| k * q as f64).sum::<f64>() / (dh as f64).sqrt())
            .collect();
        let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
        let total: f64 = e.iter().sum();
        for d in 0..dh {
            let want: f64 = (0..t).map(|j| e[j] / total * row(values, j)[d]).sum();
            worst = worst.max((z[i * dh + d] as f64 - want).abs());
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sides of `PARALLEL_ATTENTION_MIN_POSITIONS` (split across threads when the
    /// lib's tests run with the `threads` feature, as scripts/test.sh does), context lengths
    /// that are and are not multiples of four, and a head size that is not, against the
    /// definition in f64: query head i reads kv head i / 3.
    #[test]
    fn attention_of_one_position_matches_the_definition() {
        let mut rng = crate::sampling::SplitMix64::new(11);
        let mut r = |n: usize| -> Vec<f32> { (0..n).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect() };
        for (dh, t) in [(64, 1), (64, 5), (64, PARALLEL_ATTENTION_MIN_POSITIONS), (64, 200), (6, 7)] {
            let (h, kvh) = (9, 3);
            let (q, keys, values) = (r(h * dh), r(t * kvh * dh), r(t * kvh * dh));
            let err = max_error_against_definition(&q, &keys, &values, h, kvh, dh);
            assert!(err < 1e-5, "t {t}, d_head {dh}: {err}");
        }
    }
}
