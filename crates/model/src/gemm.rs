//! f32 matrix products for the browser: `A · Bᵀ` (a linear layer, `x @ Wᵀ`, with `W`
//! `[out, in]` as the file stores it) and `A · B` (its input gradient, `g @ W`).
//!
//! Why our own: in wasm, candle's matmul goes through the `gemm` crate's simd128 path,
//! which packs both operands on every call; on this model's shapes with 64 rows it runs at
//! 25–30 GFLOP/s in V8 on one core, ours at 35–40 (`tests/gemm_speed.rs` of loupe-web;
//! the model-level effect in docs/BENCHMARKS.md). Ours read the operands in place:
//! - `A · Bᵀ` as dot products: rows of A and rows of B are both contiguous along k, so a
//!   tile of `MR` rows of A × `NR` rows of B keeps `MR·NR` 4-lane partial sums in registers
//!   and reads each operand once per tile (the "dot" formulation of a GEMM micro-kernel;
//!   Goto & van de Geijn, "Anatomy of high-performance matrix multiplication", 2008, §6).
//! - `A · B` (B `[k, n]`): with many rows of A, `PANEL_COLS` columns of B are copied out as
//!   contiguous rows (one pass over B in all) and go through the same dot-form tiles; with
//!   a few rows the copy would cost as much as the product, so B's rows, contiguous along
//!   n, are read in place by rank-1 updates (a tile of `MR` rows of A × `4·NV` columns of B
//!   adds one broadcast A value times a row piece of B: the outer-product micro-kernel of
//!   the same paper).
//!
//! In `A · Bᵀ`, rows of A are taken `ROW_BLOCK` at a time, so they stay in L2 while the B
//! tile of each step stays in L1; in `A · B` the copied-out panel (`PANEL_COLS` × k) is the
//! L1–L2 part. Lanes are wasm `v128` with simd128, or plain `[f32; 4]` elsewhere (the native
//! build uses candle's own GEMM; the portable lanes let the same blocking and edge handling
//! be unit-tested natively). With relaxed SIMD (the `relaxed` builds) each multiply-add is
//! one `f32x4.relaxed_madd`: ~25% faster in V8 on x64 (tests/gemm_speed.rs of loupe-web),
//! whose 128-bit kernels are bound by issuing instructions, not by the FP pipes.
//!
//! Summation order differs from candle's (four interleaved partial sums along k, then a
//! horizontal add), so results agree with it to f32 rounding, not bit for bit.

use crate::error::{bad_input, Result};
use crate::parallel;
use candle_core::{Device, Storage, Tensor};

/// Whether these kernels were built with relaxed SIMD (the `relaxed` builds enable it for
/// this crate alone: scripts/env.sh, LOUPE_RELAXED_ARGS).
pub const RELAXED_SIMD: bool = cfg!(target_feature = "relaxed-simd");

/// Below this many rows (decoding), `x·Wᵀ` stays candle's: with one row a product is bound
/// by reading W once, and the two were within run-to-run noise of each other (8192×576:
/// candle's 1.0–1.1 ms, ours 0.7–1.8 ms in tests/gemm_speed.rs of loupe-web), so the decode
/// path keeps the kernel its numbers were measured with. With two rows ours is 2–3× faster.
pub const MIN_ROWS: usize = 2;

/// `g·W` copies B's columns out into rows (`ab_packed_serial`) from this many rows of A on;
/// below, the copy would cost as much as the product, and B is read in place (`ab_serial`).
const PACK_MIN_ROWS: usize = 16;

/// Rows of A per outer block: 64 rows × 1536 floats = 384 KiB, inside a core's L2.
const ROW_BLOCK: usize = 64;

/// `A · Bᵀ` tile: rows of A × rows of B. V8 keeps wasm's v128 values in the 16 xmm
/// registers (one of them its scratch): MR·NR sums + MR A vectors + one B vector must fit.
const ABT_MR: usize = 2;
const ABT_NR: usize = 4;

/// Columns of B copied out per panel in `A · B`: one 64-byte cache line of each row of B per
/// panel (4 columns per panel touch each line four times, in four passes over B). In V8 the
/// copy measured 4.5% of a gradient pass this way and 3.8% with 4-column panels, within that
/// profile's run-to-run noise (pass_speed under `node --cpu-prof`, 2026-12-01).
const PANEL_COLS: usize = 16;

/// `A · B` tile for under `PACK_MIN_ROWS` rows (B read in place): rows of A × 4-lane vectors
/// of a row of B.
const AB_MR: usize = 2;
const AB_NV: usize = 4;

/// Whether the model's f32 products use these kernels: in wasm with simd128, yes; natively
/// candle's GEMM (AVX/NEON, its own thread pool) is the faster one.
pub const PREFERRED: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// `x @ wᵀ` for `x` `[…, k]` and `w` `[n, k]` (f32; a linear layer's weight as stored) → `[…, n]`.
pub fn linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (n, k) = w.dims2()?;
    let (lead, _m) = leading(x, k)?;
    let y = with_slice(x, |xs| linear_values(xs, w))??;
    Ok(Tensor::from_vec(y, [lead, vec![n]].concat(), &Device::Cpu)?)
}

/// `x @ wᵀ` on the values of `x` (rows of `w`'s width, any count): what a custom op's
/// forward, handed its input's storage, calls without copying it into a tensor first.
/// Under `MIN_ROWS` rows, candle's product.
pub fn linear_values(x: &[f32], w: &Tensor) -> Result<Vec<f32>> {
    let (n, k) = w.dims2()?;
    if k == 0 || !x.len().is_multiple_of(k) {
        return Err(bad_input(format!("{} values are not rows of {k}", x.len())));
    }
    let m = x.len() / k;
    if m < MIN_ROWS {
        let x = Tensor::from_slice(x, (m, k), &Device::Cpu)?;
        return Ok(x.matmul(&w.t()?)?.flatten_all()?.to_vec1::<f32>()?);
    }
    let mut y = vec![0f32; m * n];
    with_slice(w, |ws| matmul_abt(x, k, ws, k, &mut y, n, m, n, k))?;
    Ok(y)
}

/// `g @ w` for `g` `[…, n]` and `w` `[n, k]` → `[…, k]`: the input gradient of `linear`.
pub fn linear_input_grad(g: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (n, k) = w.dims2()?;
    let (lead, m) = leading(g, n)?;
    if m < PACK_MIN_ROWS {
        // (Measured: with 1, 2 and 7 rows candle's product is the faster.)
        return Ok(g.broadcast_matmul(w)?);
    }
    let mut y = vec![0f32; m * k];
    with_slice(g, |gs| with_slice(w, |ws| matmul_ab(gs, n, ws, k, &mut y, k, m, k, n)))??;
    Ok(Tensor::from_vec(y, [lead, vec![k]].concat(), &Device::Cpu)?)
}

/// The leading dims of `x` and their product, checking that the last one is `k`.
fn leading(x: &Tensor, k: usize) -> Result<(Vec<usize>, usize)> {
    match x.dims().split_last() {
        Some((&last, lead)) if last == k => Ok((lead.to_vec(), lead.iter().product())),
        _ => Err(bad_input(format!("a product of {:?} with a {k}-wide matrix", x.dims()))),
    }
}

/// `f` over `t`'s values as one contiguous f32 slice, borrowed from its storage (copied
/// only when `t` is strided).
pub fn with_slice<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Err(bad_input("a tensor off the CPU"));
    };
    let values = cpu.as_slice::<f32>()?;
    let (start, end) = layout.contiguous_offsets().ok_or_else(|| bad_input("a strided tensor after contiguous()"))?;
    Ok(f(&values[start..end]))
}

/// `c[m, n] = a[m, k] · b[n, k]ᵀ`; row strides `lda`, `ldb`, `ldc`; split by rows of `a`
/// across threads in the threaded build.
#[allow(clippy::too_many_arguments)]
pub fn matmul_abt(a: &[f32], lda: usize, b: &[f32], ldb: usize, c: &mut [f32], ldc: usize, m: usize, n: usize, k: usize) {
    matmul_abt_tiled::<ABT_MR, ABT_NR>(a, lda, b, ldb, c, ldc, m, n, k)
}

/// `matmul_abt` with a chosen tile (for the kernel benchmark in loupe-web's tests).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn matmul_abt_tiled<const MR: usize, const NR: usize>(
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    m: usize,
    n: usize,
    k: usize,
) {
    check(a.len(), lda, m, k, "a");
    check(b.len(), ldb, n, k, "b");
    check(c.len(), ldc, m, n, "c");
    split_rows(c, ldc, m, |r0, rows, c| abt_serial::<MR, NR>(&a[r0 * lda..], lda, b, ldb, c, ldc, rows, n, k));
}

/// `c[m, n] = a[m, k] · b[k, n]`; row strides `lda`, `ldb`, `ldc`; split like `matmul_abt`.
#[allow(clippy::too_many_arguments)]
pub fn matmul_ab(a: &[f32], lda: usize, b: &[f32], ldb: usize, c: &mut [f32], ldc: usize, m: usize, n: usize, k: usize) {
    check(a.len(), lda, m, k, "a");
    check(b.len(), ldb, k, n, "b");
    check(c.len(), ldc, m, n, "c");
    split_rows(c, ldc, m, |r0, rows, c| match rows >= PACK_MIN_ROWS {
        true => ab_packed_serial::<ABT_MR, ABT_NR>(&a[r0 * lda..], lda, b, ldb, c, ldc, rows, n, k),
        false => ab_serial::<AB_MR, AB_NV>(&a[r0 * lda..], lda, b, ldb, c, ldc, rows, n, k),
    });
}

/// `A · B` for many rows: `PANEL_COLS` columns of B at a time copied out as contiguous rows
/// (rows of Bᵀ, one pass over B in all), then the dot-form tiles of `A · Bᵀ`, the faster
/// of the two micro-kernels (tests/gemm_speed.rs of loupe-web).
#[allow(clippy::too_many_arguments)]
fn ab_packed_serial<const MR: usize, const NR: usize>(
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    m: usize,
    n: usize,
    k: usize,
) {
    // Panel rows one cache line more than k apart, so that with k = 1536 floats the 16 rows
    // (a 6 KiB stride) do not all map to two L1 sets. A precaution: the profile above showed
    // no difference with rows exactly k apart.
    let ldp = k + 16;
    let mut panel = vec![0f32; PANEL_COLS * ldp];
    for j in (0..n).step_by(PANEL_COLS) {
        let cols = PANEL_COLS.min(n - j);
        // Whole groups of 4 columns in 4×4 blocks through registers (a scalar gather was 6% of
        // a gradient pass in V8); the rest one by one.
        let groups = cols / 4;
        lanes::transpose_cols(b, ldb, j, groups, k, &mut panel, ldp);
        for kk in 0..k {
            for q in 4 * groups..cols {
                panel[q * ldp + kk] = b[kk * ldb + j + q];
            }
        }
        // C's columns j..j+cols = A · panelᵀ, written through a slice that starts at column j.
        abt_serial::<MR, NR>(a, lda, &panel, ldp, &mut c[j..], ldc, m, cols, k);
    }
}

/// A `rows × cols` matrix with row stride `ld` must fit in `len` values: the kernels read
/// through raw pointers, so this check is what keeps them in bounds.
fn check(len: usize, ld: usize, rows: usize, cols: usize, what: &str) {
    let need = if rows == 0 || cols == 0 { 0 } else { (rows - 1) * ld + cols };
    assert!(cols <= ld || rows <= 1, "gemm: {what} has {cols} columns but a row stride of {ld}");
    assert!(need <= len, "gemm: {what} needs {need} values, has {len}");
}

/// Runs `f(first_row, rows, c_rows)` over pieces of C's rows, one per thread.
fn split_rows(c: &mut [f32], ldc: usize, m: usize, f: impl Fn(usize, usize, &mut [f32]) + Sync + Send) {
    let pieces = parallel::threads().min(m / parallel::MIN_ROWS_PER_THREAD).max(1);
    if pieces == 1 || ldc == 0 {
        f(0, m, c);
        return;
    }
    let rows_per = m.div_ceil(pieces);
    // Exactly C's m rows (the last possibly short), so every piece starts at a row < m.
    let len = (m * ldc).min(c.len());
    let c = &mut c[..len];
    parallel::for_each_chunk_mut_fine(c, rows_per * ldc, |i, piece| {
        let r0 = i * rows_per;
        let rows = rows_per.min(m - r0);
        f(r0, rows, piece);
    });
}

#[allow(clippy::too_many_arguments)]
fn abt_serial<const MR: usize, const NR: usize>(
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    m: usize,
    n: usize,
    k: usize,
) {
    for i0 in (0..m).step_by(ROW_BLOCK) {
        let i1 = (i0 + ROW_BLOCK).min(m);
        let mut j = 0;
        while j < n {
            let nr = NR.min(n - j);
            let mut i = i0;
            while i < i1 {
                let mr = MR.min(i1 - i);
                match (mr == MR, nr == NR) {
                    (true, true) => lanes::tile_abt::<MR, NR>(a, lda, i, b, ldb, j, c, ldc, k),
                    (true, false) => {
                        for jj in j..j + nr {
                            lanes::tile_abt::<MR, 1>(a, lda, i, b, ldb, jj, c, ldc, k)
                        }
                    }
                    (false, true) => {
                        for ii in i..i + mr {
                            lanes::tile_abt::<1, NR>(a, lda, ii, b, ldb, j, c, ldc, k)
                        }
                    }
                    (false, false) => {
                        for ii in i..i + mr {
                            for jj in j..j + nr {
                                lanes::tile_abt::<1, 1>(a, lda, ii, b, ldb, jj, c, ldc, k)
                            }
                        }
                    }
                }
                i += mr;
            }
            j += nr;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn ab_serial<const MR: usize, const NV: usize>(
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    m: usize,
    n: usize,
    k: usize,
) {
    let n_vec = n / 4 * 4;
    for i0 in (0..m).step_by(ROW_BLOCK) {
        let i1 = (i0 + ROW_BLOCK).min(m);
        let mut j = 0;
        while j < n_vec {
            let nv = NV.min((n_vec - j) / 4);
            let w = 4 * nv;
            let mut i = i0;
            while i < i1 {
                let mr = MR.min(i1 - i);
                match (mr == MR, nv == NV) {
                    (true, true) => lanes::tile_ab::<MR, NV>(a, lda, i, b, ldb, c, ldc, j, k),
                    (true, false) => {
                        for v in 0..nv {
                            lanes::tile_ab::<MR, 1>(a, lda, i, b, ldb, c, ldc, j + 4 * v, k)
                        }
                    }
                    (false, true) => {
                        for ii in i..i + mr {
                            lanes::tile_ab::<1, NV>(a, lda, ii, b, ldb, c, ldc, j, k)
                        }
                    }
                    (false, false) => {
                        for ii in i..i + mr {
                            for v in 0..nv {
                                lanes::tile_ab::<1, 1>(a, lda, ii, b, ldb, c, ldc, j + 4 * v, k)
                            }
                        }
                    }
                }
                i += mr;
            }
            j += w;
        }
        // Columns past the last multiple of 4 (not in this model's shapes): plain dot products.
        for i in i0..i1 {
            for jj in n_vec..n {
                c[i * ldc + jj] = (0..k).map(|kk| a[i * lda + kk] * b[kk * ldb + jj]).sum();
            }
        }
    }
}

/// The micro-kernels, on wasm simd128 lanes.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(unsafe_code)]
pub(crate) mod lanes {
    use core::arch::wasm32::*;

    /// SAFETY (every `load`/`store` below): the callers' `check` proved that every row
    /// touched has `k` (or `n`) values inside its slice, and the loops stay below those.
    #[inline(always)]
    unsafe fn load(p: *const f32) -> v128 {
        v128_load(p as *const v128)
    }

    /// `a·b + c`: one fused multiply-add where the build has relaxed SIMD (V8 emits
    /// `vfmadd` on x64 with FMA3), a multiply then an add otherwise.
    #[inline(always)]
    pub(crate) fn madd(a: v128, b: v128, c: v128) -> v128 {
        #[cfg(target_feature = "relaxed-simd")]
        {
            f32x4_relaxed_madd(a, b, c)
        }
        #[cfg(not(target_feature = "relaxed-simd"))]
        {
            f32x4_add(c, f32x4_mul(a, b))
        }
    }

    #[inline(always)]
    fn hsum(v: v128) -> f32 {
        (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v)) + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v))
    }

    /// `c[i..i+MR, j..j+NR] = a[i..i+MR, :k] · b[j..j+NR, :k]ᵀ`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn tile_abt<const MR: usize, const NR: usize>(
        a: &[f32],
        lda: usize,
        i: usize,
        b: &[f32],
        ldb: usize,
        j: usize,
        c: &mut [f32],
        ldc: usize,
        k: usize,
    ) {
        let ap: [*const f32; MR] = core::array::from_fn(|r| a[(i + r) * lda..(i + r) * lda + k].as_ptr());
        let bp: [*const f32; NR] = core::array::from_fn(|r| b[(j + r) * ldb..(j + r) * ldb + k].as_ptr());
        let mut acc = [[f32x4_splat(0.0); NR]; MR];
        let k4 = k / 4 * 4;
        let mut kk = 0;
        while kk < k4 {
            // SAFETY: kk + 4 <= k, inside every row slice above.
            let av: [v128; MR] = core::array::from_fn(|r| unsafe { load(ap[r].add(kk)) });
            for (q, bq) in bp.iter().enumerate() {
                // SAFETY: as above.
                let bv = unsafe { load(bq.add(kk)) };
                for r in 0..MR {
                    acc[r][q] = madd(av[r], bv, acc[r][q]);
                }
            }
            kk += 4;
        }
        for r in 0..MR {
            for q in 0..NR {
                let mut s = hsum(acc[r][q]);
                for t in k4..k {
                    s += a[(i + r) * lda + t] * b[(j + q) * ldb + t];
                }
                c[(i + r) * ldc + j + q] = s;
            }
        }
    }

    /// `panel[q·ldp + kk] = b[kk·ldb + j + q]` for q < 4·groups, kk < k: columns of B as
    /// contiguous rows, in 4×4 blocks through registers, B read row by row.
    pub fn transpose_cols(b: &[f32], ldb: usize, j: usize, groups: usize, k: usize, panel: &mut [f32], ldp: usize) {
        let k4 = k / 4 * 4;
        for g in 0..groups {
            let c0 = j + 4 * g;
            let mut kk = 0;
            while kk < k4 {
                let r: [v128; 4] = core::array::from_fn(|t| {
                    let row = &b[(kk + t) * ldb + c0..(kk + t) * ldb + c0 + 4];
                    // SAFETY: `row` has exactly four values.
                    unsafe { load(row.as_ptr()) }
                });
                let t0 = i32x4_shuffle::<0, 4, 1, 5>(r[0], r[1]);
                let t1 = i32x4_shuffle::<2, 6, 3, 7>(r[0], r[1]);
                let t2 = i32x4_shuffle::<0, 4, 1, 5>(r[2], r[3]);
                let t3 = i32x4_shuffle::<2, 6, 3, 7>(r[2], r[3]);
                let cols = [
                    i32x4_shuffle::<0, 1, 4, 5>(t0, t2),
                    i32x4_shuffle::<2, 3, 6, 7>(t0, t2),
                    i32x4_shuffle::<0, 1, 4, 5>(t1, t3),
                    i32x4_shuffle::<2, 3, 6, 7>(t1, t3),
                ];
                for (q, col) in cols.into_iter().enumerate() {
                    let at = (4 * g + q) * ldp + kk;
                    let out = &mut panel[at..at + 4];
                    // SAFETY: `out` has exactly four values.
                    unsafe { v128_store(out.as_mut_ptr() as *mut v128, col) };
                }
                kk += 4;
            }
        }
        for kk in k4..k {
            for q in 0..4 * groups {
                panel[q * ldp + kk] = b[kk * ldb + j + q];
            }
        }
    }

    /// `c[i..i+MR, j..j+4·NV] = a[i..i+MR, :k] · b[:k, j..j+4·NV]`, B read in place.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn tile_ab<const MR: usize, const NV: usize>(
        a: &[f32],
        lda: usize,
        i: usize,
        b: &[f32],
        ldb: usize,
        c: &mut [f32],
        ldc: usize,
        j: usize,
        k: usize,
    ) {
        let ap: [&[f32]; MR] = core::array::from_fn(|r| &a[(i + r) * lda..(i + r) * lda + k]);
        let mut acc = [[f32x4_splat(0.0); NV]; MR];
        for kk in 0..k {
            let row = &b[kk * ldb + j..kk * ldb + j + 4 * NV];
            // SAFETY: `row` has exactly 4·NV values.
            let bv: [v128; NV] = core::array::from_fn(|v| unsafe { load(row.as_ptr().add(4 * v)) });
            for r in 0..MR {
                let s = f32x4_splat(ap[r][kk]);
                for v in 0..NV {
                    acc[r][v] = madd(s, bv[v], acc[r][v]);
                }
            }
        }
        for r in 0..MR {
            let row = &mut c[(i + r) * ldc + j..(i + r) * ldc + j + 4 * NV];
            for v in 0..NV {
                // SAFETY: `row` has exactly 4·NV values.
                unsafe { v128_store(row.as_mut_ptr().add(4 * v) as *mut v128, acc[r][v]) };
            }
        }
    }
}

/// The same micro-kernels on plain arrays: what native unit tests run.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod lanes {
    pub fn transpose_cols(b: &[f32], ldb: usize, j: usize, groups: usize, k: usize, panel: &mut [f32], ldp: usize) {
        for kk in 0..k {
            for q in 0..4 * groups {
                panel[q * ldp + kk] = b[kk * ldb + j + q];
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn tile_abt<const MR: usize, const NR: usize>(
        a: &[f32],
        lda: usize,
        i: usize,
        b: &[f32],
        ldb: usize,
        j: usize,
        c: &mut [f32],
        ldc: usize,
        k: usize,
    ) {
        for r in 0..MR {
            for q in 0..NR {
                let (ar, br) = (&a[(i + r) * lda..][..k], &b[(j + q) * ldb..][..k]);
                let mut acc = [0f32; 4];
                let k4 = k / 4 * 4;
                for (x, y) in ar[..k4].chunks_exact(4).zip(br[..k4].chunks_exact(4)) {
                    for l in 0..4 {
                        acc[l] += x[l] * y[l];
                    }
                }
                let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
                for t in k4..k {
                    s += ar[t] * br[t];
                }
                c[(i + r) * ldc + j + q] = s;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn tile_ab<const MR: usize, const NV: usize>(
        a: &[f32],
        lda: usize,
        i: usize,
        b: &[f32],
        ldb: usize,
        c: &mut [f32],
        ldc: usize,
        j: usize,
        k: usize,
    ) {
        for r in 0..MR {
            let mut acc = vec![0f32; 4 * NV];
            for kk in 0..k {
                let s = a[(i + r) * lda + kk];
                for (o, w) in acc.iter_mut().zip(&b[kk * ldb + j..kk * ldb + j + 4 * NV]) {
                    *o += s * w;
                }
            }
            c[(i + r) * ldc + j..(i + r) * ldc + j + 4 * NV].copy_from_slice(&acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| ((i + seed) * 7919 % 1013) as f32 / 506.0 - 1.0).collect()
    }

    fn reference_abt(a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) -> Vec<f64> {
        let mut c = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|t| a[i * lda + t] as f64 * b[j * ldb + t] as f64).sum();
            }
        }
        c
    }

    #[test]
    fn both_shapes_match_a_f64_reference_for_every_edge_case() {
        // Sizes around every tile and block edge: rows not a multiple of MR or ROW_BLOCK,
        // columns not a multiple of NR or 4, k not a multiple of 4, strided rows.
        for &(m, n, k) in &[(1, 1, 1), (3, 5, 7), (4, 3, 8), (9, 13, 33), (65, 10, 20), (70, 24, 576), (2, 7, 3), (80, 45, 17)] {
            let (lda, ldb, ldc) = (k + 3, k + 1, n + 2);
            let a = values(m * lda, 1);
            let b = values(n * ldb, 2);
            let mut c = vec![f32::NAN; m * ldc];
            matmul_abt(&a, lda, &b, ldb, &mut c, ldc, m, n, k);
            let want = reference_abt(&a, lda, &b, ldb, m, n, k);
            for i in 0..m {
                for j in 0..n {
                    let (got, want) = (c[i * ldc + j] as f64, want[i * n + j]);
                    assert!((got - want).abs() <= 1e-5 * (1.0 + k as f64), "abt {m}x{n}x{k} at {i},{j}: {got} vs {want}");
                }
            }
            // A · B with B = the transpose of the b above, laid out [k, n] with stride n + 1.
            let ldbt = n + 1;
            let mut bt = vec![0f32; k * ldbt];
            for j in 0..n {
                for t in 0..k {
                    bt[t * ldbt + j] = b[j * ldb + t];
                }
            }
            let mut c2 = vec![f32::NAN; m * ldc];
            matmul_ab(&a, lda, &bt, ldbt, &mut c2, ldc, m, n, k);
            for i in 0..m {
                for j in 0..n {
                    let (got, want) = (c2[i * ldc + j] as f64, want[i * n + j]);
                    assert!((got - want).abs() <= 1e-5 * (1.0 + k as f64), "ab {m}x{n}x{k} at {i},{j}: {got} vs {want}");
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "gemm: b needs")]
    fn a_short_operand_is_refused_before_any_read() {
        let mut c = vec![0f32; 4];
        matmul_abt(&[0.0; 8], 4, &[0.0; 7], 4, &mut c, 2, 2, 2, 4);
    }
}
