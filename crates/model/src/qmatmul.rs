//! `x @ Wᵀ` for a block-quantized weight matrix `W` `[rows, cols]` (ggml's Q4_1 and Q8_0
//! blocks of 32 values; other formats go through candle unchanged).
//!
//! Two regimes, because they have different bottlenecks:
//! - **Many rows of `x`** (a prompt, a batch of patched runs, ≥ [`GEMM_MIN_ROWS`]): `W` is
//!   dequantized to f32 one slab of rows at a time (a few MiB, never the whole 49152-row
//!   unembedding) and multiplied with an f32 GEMM (ours, `gemm.rs`, in wasm; candle's
//!   natively). Dequantizing costs one pass over `W`, shared by every row of `x`, and `x`
//!   keeps full f32 precision, so for the file's own Q4_1 blocks this gives the same numbers
//!   as the `f32` weight mode.
//! - **Few rows** (decoding one token): integer dot products of the weight blocks with `x`
//!   quantized per 32-value block, as ggml does (`ggml_vec_dot_q4_1_q8_1`,
//!   `ggml_vec_dot_q8_0_q8_0`). On wasm32 this is our simd128 kernel below, with `x` to 16
//!   bits instead of ggml's 8 (free in its i16 lanes; within ~1e-4 of the f32 product) —
//!   candle 0.11 has none for Q4_1 (scalar `vec_dot_unopt`), and its f16 → f32 scale
//!   conversion is a branchy software routine on a target without f16 hardware (ours is two
//!   integer ops and a multiply, [`f16_to_f32`]). On other targets candle's own kernels
//!   (AVX/NEON, 8-bit activations) serve this regime.
//!
//! The blocks stay exactly as the file has them (one copy, no side tables), read in place.

use crate::error::Result;
use crate::parallel;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use std::sync::Arc;

/// From this many rows of `x` on, dequantize-then-GEMM beats the per-row integer kernel.
/// Measured in Chromium with `loupe bench`'s prompts (docs/BENCHMARKS.md, "Quantized kernels").
pub const GEMM_MIN_ROWS: usize = 8;

/// Slab size for dequantizing `W` (f32 bytes): large enough for one GEMM call per ordinary
/// matrix (576 × 1536 × 4 B = 3.4 MiB), small enough that the unembedding goes in slabs.
const SLAB_BYTES: usize = 4 << 20;

const BLOCK: usize = 32;

/// Matrices at least this large (weights) are split across threads when decoding: all of
/// this model's (the smallest, k and v, have 576 × 192).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
const PARALLEL_MATVEC_MIN_WEIGHTS: usize = 64 << 10;

/// Rows in a piece at least (a Q4_1 row of 576 columns is 360 bytes).
const MATVEC_MIN_PIECE_ROWS: usize = 16;

/// How a matrix-vector product of `total` weight rows is cut for `threads` threads: sizes in
/// rows, in the order the team claims them (`parallel::team`: the caller and each helper
/// that joins take the next unclaimed piece). Guided self-scheduling (Polychronopoulos &
/// Kuck 1987): each piece is 1/(threads + 1) of the rows still unclaimed, a multiple of 4,
/// at least `MATVEC_MIN_PIECE_ROWS`; for 960 rows on 2 threads 320, 212, 140, 96, 64, … 16, 8.
/// Decoding is bound by reading the weights, and each thread's first pieces are long runs
/// of rows (one long piece per thread decoded 2–5% faster than four even pieces per thread
/// taken turn about: docs/BENCHMARKS.md, 2026-12-02). A helper that joins late, or runs
/// slow, takes pieces that shrink with what is left, so the caller waits for one short
/// piece at most. With one long piece per thread first (80% of the rows) and even short
/// ones after, a late helper could still take a long piece: the caller's spinning wait at
/// the end of a product was 35–65% longer than with these sizes (2026-12-02, afternoon).
#[cfg_attr(not(all(target_arch = "wasm32", target_feature = "simd128")), allow(dead_code))]
fn piece_rows(total: usize, threads: usize) -> Vec<usize> {
    if threads <= 1 || total == 0 {
        return vec![total];
    }
    let mut sizes = Vec::new();
    let mut left = total;
    while left > 0 {
        let n = (left / (threads + 1) / 4 * 4).max(MATVEC_MIN_PIECE_ROWS).min(left);
        sizes.push(n);
        left -= n;
    }
    sizes
}

/// The outputs of several products (`ys`, one per matrix) cut into pieces of `sizes` rows
/// over all their rows one after another, a piece that would straddle two matrices cut in
/// two: each piece's (matrix, first row) and its slice of that matrix's output, in order.
#[cfg_attr(not(all(target_arch = "wasm32", target_feature = "simd128")), allow(dead_code))]
fn cut_outputs<'a>(ys: &'a mut [Vec<f32>], sizes: &[usize]) -> (Vec<(usize, usize)>, Vec<&'a mut [f32]>) {
    let ends: Vec<usize> = sizes
        .iter()
        .scan(0, |end, &n| {
            *end += n;
            Some(*end)
        })
        .collect();
    let mut places = Vec::new();
    let mut outs = Vec::new();
    let mut first = 0; // the matrix's first row among all the matrices' rows
    for (i, y) in ys.iter_mut().enumerate() {
        let last = first + y.len();
        let mut rest = y.as_mut_slice();
        let mut r0 = 0;
        for &end in ends.iter().filter(|&&e| e > first && e < last).chain([last].iter()) {
            let (piece, tail) = std::mem::take(&mut rest).split_at_mut(end - first - r0);
            if !piece.is_empty() {
                places.push((i, r0));
                r0 += piece.len();
                outs.push(piece);
            }
            rest = tail;
        }
        first = last;
    }
    (places, outs)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// 20-byte blocks: f16 scale d, f16 minimum m, 16 bytes of 4-bit values (value j in the
    /// low nibble of byte j, value j + 16 in its high nibble); x = d·q + m.
    Q4_1,
    /// 34-byte blocks: f16 scale d, 32 signed bytes; x = d·q.
    Q8_0,
    /// Anything else: candle's own kernels for everything.
    Other,
}

impl Format {
    fn of(dtype: GgmlDType) -> Self {
        match dtype {
            GgmlDType::Q4_1 => Format::Q4_1,
            GgmlDType::Q8_0 => Format::Q8_0,
            _ => Format::Other,
        }
    }
    fn block_bytes(self) -> usize {
        match self {
            Format::Q4_1 => 20,
            Format::Q8_0 => 34,
            Format::Other => 0,
        }
    }
}

/// A quantized weight matrix `[rows, cols]`, applied as `x @ Wᵀ`.
#[derive(Clone, Debug)]
pub struct QuantMatrix {
    q: Arc<QTensor>,
    candle: QMatMul,
    format: Format,
    rows: usize,
    cols: usize,
}

impl QuantMatrix {
    pub fn new(q: Arc<QTensor>) -> Result<Self> {
        let dims = q.shape().dims().to_vec();
        let (rows, cols) = match dims[..] {
            [r, c] => (r, c),
            _ => return Err(crate::error::LoupeError::InvalidModel(format!("a weight matrix of shape {dims:?}"))),
        };
        let mut format = Format::of(q.dtype());
        if cols % BLOCK != 0 {
            format = Format::Other;
        }
        Ok(Self { candle: QMatMul::from_arc(q.clone())?, q, format, rows, cols })
    }

    pub fn qtensor(&self) -> &Arc<QTensor> {
        &self.q
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `x @ Wᵀ` for `x` `[…, cols]` → `[…, rows]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let m: usize = dims[..dims.len().saturating_sub(1)].iter().product();
        if self.format == Format::Other {
            return Ok(self.candle.forward(x)?);
        }
        if m >= GEMM_MIN_ROWS {
            return self.forward_gemm(x, &dims, m);
        }
        self.forward_few_rows(x, &dims, m)
    }

    fn forward_gemm(&self, x: &Tensor, dims: &[usize], m: usize) -> Result<Tensor> {
        let x2 = x.reshape((m, self.cols))?.contiguous()?;
        let slab_rows = (SLAB_BYTES / (4 * self.cols)).clamp(1, self.rows);
        let y = if crate::gemm::PREFERRED {
            // Our kernels write each slab's columns straight into the output rows.
            let mut y = vec![0f32; m * self.rows];
            let mut buf = Vec::new();
            crate::gemm::with_slice(&x2, |xs| -> Result<()> {
                for r0 in (0..self.rows).step_by(slab_rows) {
                    let n = slab_rows.min(self.rows - r0);
                    self.dequantize_rows_into(r0, n, &mut buf)?;
                    crate::gemm::matmul_abt(xs, self.cols, &buf, self.cols, &mut y[r0..], self.rows, m, n, self.cols);
                }
                Ok(())
            })??;
            Tensor::from_vec(y, (m, self.rows), &Device::Cpu)?
        } else if slab_rows == self.rows {
            let mut buf = Vec::new();
            self.dequantize_rows_into(0, self.rows, &mut buf)?;
            let w = Tensor::from_slice(&buf, (self.rows, self.cols), &Device::Cpu)?;
            parallel::matmul_rows(&x2, &w.t()?)?
        } else {
            // Slab by slab straight into one output buffer: no list of parts to concatenate
            // (for a 64-token prompt through the unembedding that would be 2 × 12 MiB more).
            // With threads, one slab per thread at a time.
            let mut y = vec![0f32; m * self.rows];
            let slabs: Vec<(usize, usize)> = (0..self.rows).step_by(slab_rows).map(|r0| (r0, slab_rows.min(self.rows - r0))).collect();
            for group in slabs.chunks(parallel::threads()) {
                let parts = parallel::map(group, |&(r0, n)| {
                    let mut buf = Vec::new();
                    self.dequantize_slab(r0, n, &mut buf)?;
                    let w = Tensor::from_slice(&buf, (n, self.cols), &Device::Cpu)?;
                    Ok(x2.matmul(&w.t()?)?.flatten_all()?.to_vec1::<f32>()?) // [m, n]
                })?;
                for (&(r0, n), part) in group.iter().zip(parts) {
                    for (dst, src) in y.chunks_exact_mut(self.rows).zip(part.chunks_exact(n)) {
                        dst[r0..r0 + n].copy_from_slice(src);
                    }
                }
            }
            Tensor::from_vec(y, (m, self.rows), &Device::Cpu)?
        };
        let mut out = dims.to_vec();
        if let Some(last) = out.last_mut() {
            *last = self.rows;
        }
        Ok(y.reshape(out)?)
    }

    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    fn forward_few_rows(&self, x: &Tensor, dims: &[usize], m: usize) -> Result<Tensor> {
        let xs = x.reshape((m, self.cols))?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let mut y = Vec::with_capacity(m * self.rows);
        for xi in xs.chunks_exact(self.cols) {
            // One product per row, each a threaded job, split as decoding's (`matvecs`).
            for yi in Self::matvecs_simd(&[self], xi)? {
                y.extend_from_slice(&yi);
            }
        }
        let mut out = dims.to_vec();
        if let Some(last) = out.last_mut() {
            *last = self.rows;
        }
        Ok(Tensor::from_vec(y, out, &Device::Cpu)?)
    }

    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    fn forward_few_rows(&self, x: &Tensor, _dims: &[usize], _m: usize) -> Result<Tensor> {
        Ok(self.candle.forward(x)?)
    }

    /// `Wᵢ x` for each matrix of `mats`, all applied to one vector `x` `[cols]` (decoding's
    /// q, k and v; gate and up). With our kernels, `x` is quantized once and every product
    /// is one threaded job, so a decoding step waits on one job per input, not per matrix.
    pub fn matvecs(mats: &[&QuantMatrix], x: &[f32]) -> Result<Vec<Vec<f32>>> {
        if let Some(m) = mats.iter().find(|m| m.cols != x.len()) {
            return Err(crate::error::bad_input(format!("a vector of {} values for a matrix of {} columns", x.len(), m.cols)));
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if mats.iter().all(|m| m.format != Format::Other) {
            return Self::matvecs_simd(mats, x);
        }
        let xt = Tensor::from_slice(x, (1, x.len()), &Device::Cpu)?;
        mats.iter().map(|m| Ok(m.candle.forward(&xt)?.flatten_all()?.to_vec1::<f32>()?)).collect()
    }

    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    fn matvecs_simd(mats: &[&QuantMatrix], x: &[f32]) -> Result<Vec<Vec<f32>>> {
        let mut act = simd::QuantizedRow::new(x.len());
        act.quantize(x);
        let mut ys: Vec<Vec<f32>> = mats.iter().map(|m| vec![0f32; m.rows]).collect();
        let total_rows: usize = mats.iter().map(|m| m.rows).sum();
        // Weight rows split across the threaded build's spinning team (`parallel::team`):
        // through rayon's sleeping pool, waking it (~70 µs in Chromium) cost more than a block
        // matrix takes on its own (splitting every matrix halved decode speed).
        let threads = parallel::threads();
        let big = total_rows * x.len() >= PARALLEL_MATVEC_MIN_WEIGHTS;
        let sizes = if big { piece_rows(total_rows, threads) } else { vec![total_rows] };
        let (places, outs) = cut_outputs(&mut ys, &sizes);
        let raws = mats.iter().map(|m| m.q.data()).collect::<candle_core::Result<Vec<_>>>()?;
        parallel::for_each_piece_fine(outs, |p, out| {
            let (i, r0) = places[p];
            let (m, raw) = (mats[i], &raws[i]);
            let row_bytes = m.cols / BLOCK * m.format.block_bytes();
            // To the matrix's end, not the piece's: the kernel touches rows ahead of its own.
            let rows = &raw[r0 * row_bytes..];
            match m.format {
                Format::Q4_1 => simd::matvec_q4_1(rows, &act, out),
                Format::Q8_0 => simd::matvec_q8_0(rows, &act, out),
                Format::Other => {}
            }
        });
        Ok(ys)
    }

    /// Rows `r0..r0+n` of `W` as f32, row-major, into `out` (resized); split across threads.
    pub fn dequantize_rows_into(&self, r0: usize, n: usize, out: &mut Vec<f32>) -> Result<()> {
        self.check_rows(r0, n)?;
        if self.format == Format::Other {
            let w = self.q.dequantize(&Device::Cpu)?.narrow(0, r0, n)?;
            *out = w.flatten_all()?.to_vec1::<f32>()?;
            return Ok(());
        }
        out.clear();
        out.resize(n * self.cols, 0.0);
        let raw = self.q.data()?;
        let raw = &raw[..];
        let rows_per_piece = n.div_ceil(parallel::threads()).max(1);
        parallel::for_each_chunk_mut_fine(out, rows_per_piece * self.cols, |i, piece| {
            let first = r0 + i * rows_per_piece;
            self.dequantize_blocks(raw, first, piece.len() / self.cols, piece);
        });
        Ok(())
    }

    /// Like `dequantize_rows_into`, on the calling thread only (for callers already in the pool).
    fn dequantize_slab(&self, r0: usize, n: usize, out: &mut Vec<f32>) -> Result<()> {
        self.check_rows(r0, n)?;
        out.clear();
        out.resize(n * self.cols, 0.0);
        let raw = self.q.data()?;
        self.dequantize_blocks(&raw, r0, n, out);
        Ok(())
    }

    fn check_rows(&self, r0: usize, n: usize) -> Result<()> {
        if r0 + n > self.rows {
            return Err(crate::error::bad_input(format!("rows {r0}..{} of a {}-row matrix", r0 + n, self.rows)));
        }
        Ok(())
    }

    fn dequantize_blocks(&self, raw: &[u8], r0: usize, n: usize, out: &mut [f32]) {
        let row_bytes = self.cols / BLOCK * self.format.block_bytes();
        let blocks = &raw[r0 * row_bytes..(r0 + n) * row_bytes];
        match self.format {
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Format::Q4_1 => simd::dequantize_q4_1(blocks, out),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Format::Q8_0 => simd::dequantize_q8_0(blocks, out),
            #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
            Format::Q4_1 => dequantize_q4_1(blocks, out),
            #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
            Format::Q8_0 => dequantize_q8_0(blocks, out),
            Format::Other => {}
        }
    }
}

/// The f16 at bytes `at..at + 2` of a block.
#[inline(always)]
fn scale(blk: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([blk[at], blk[at + 1]]))
}

#[cfg_attr(all(target_arch = "wasm32", target_feature = "simd128"), allow(dead_code))]
fn dequantize_q4_1(blocks: &[u8], out: &mut [f32]) {
    // Fixed-size arrays and two straight loops, so LLVM vectorizes them (SSE/AVX natively;
    // in wasm it did not, hence `simd::dequantize_q4_1`).
    for (blk, y) in blocks.chunks_exact(20).zip(out.chunks_exact_mut(BLOCK)) {
        let (d, m) = (scale(blk, 0), scale(blk, 2));
        let (lo, hi) = y.split_at_mut(16);
        let (Ok(qs), Ok(lo), Ok(hi)) = (<&[u8; 16]>::try_from(&blk[4..20]), <&mut [f32; 16]>::try_from(lo), <&mut [f32; 16]>::try_from(hi))
        else {
            continue;
        };
        for j in 0..16 {
            lo[j] = (qs[j] & 0x0F) as f32 * d + m;
        }
        for j in 0..16 {
            hi[j] = (qs[j] >> 4) as f32 * d + m;
        }
    }
}

#[cfg_attr(all(target_arch = "wasm32", target_feature = "simd128"), allow(dead_code))]
fn dequantize_q8_0(blocks: &[u8], out: &mut [f32]) {
    for (blk, y) in blocks.chunks_exact(34).zip(out.chunks_exact_mut(BLOCK)) {
        let d = scale(blk, 0);
        let (Ok(qs), Ok(y)) = (<&[u8; 32]>::try_from(&blk[2..34]), <&mut [f32; 32]>::try_from(y)) else {
            continue;
        };
        for j in 0..32 {
            y[j] = (qs[j] as i8) as f32 * d;
        }
    }
}

/// IEEE half → single, exact for every finite half (block scales are finite): move the
/// exponent and mantissa into place and rescale by 2¹¹² (the exponent-bias difference,
/// 127 − 15), which also normalises subnormals; then the sign. Two integer ops and a
/// multiply, where a generic converter branches on the class of the number.
#[inline(always)]
pub fn f16_to_f32(bits: u16) -> f32 {
    let magnitude = f32::from_bits(((bits & 0x7FFF) as u32) << 13) * f32::from_bits((127 + 112) << 23);
    f32::from_bits(magnitude.to_bits() | (((bits & 0x8000) as u32) << 16))
}

/// The simd128 integer kernels of the few-rows regime.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(unsafe_code)]
mod simd {
    use super::{scale, BLOCK};
    use core::arch::wasm32::*;

    /// One row of `x` quantized per 32-value block as ggml's Q8_1 is, d = max|x|/Q_MAX,
    /// q = round(x/d), s = d·Σq (what the Q4_1 minimum multiplies), but to 16 bits, not 8:
    /// the kernels multiply in i16 lanes (`i32x4.dot_i16x8_s`) either way, so the extra
    /// precision is free. With 8-bit activations a decoding step's log-probs were
    /// ~0.2 nats from the f32 model's on average (up to 1 nat; docs/BENCHMARKS.md, 2026-12-02).
    /// No overflow: |q_w| ≤ 128, so a block's i32 total is at most 32 · 128 · 32767 < 2³¹.
    pub struct QuantizedRow {
        /// In [−Q_MAX, Q_MAX]. Each 32-value block in the kernels' order, not the row's: x[0],
        /// x[2], …, x[14]; x[1], x[3], …, x[15]; then the same for x[16..32] — the order in
        /// which `q4_1_nibbles` and `q8_0_bytes` take the weights out of 16-bit lanes.
        q: Vec<i16>,
        d: Vec<f32>,
        s: Vec<f32>,
    }

    const Q_MAX: f32 = 32767.0;
    /// 1.5·2²³ (see `quantize`).
    const ROUNDING_MAGIC: f32 = 12_582_912.0;

    impl QuantizedRow {
        pub fn new(cols: usize) -> Self {
            Self { q: vec![0; cols], d: vec![0.0; cols / BLOCK], s: vec![0.0; cols / BLOCK] }
        }

        /// Rounds to nearest, ties to even (as `f32x4.nearest` would, and ggml's AVX
        /// `quantize_row_q8_1` with `_MM_ROUND_NEAREST`; its scalar reference rounds ties
        /// away from zero): a scalar `f32::round` is a libm call in wasm, and quantizing every
        /// product's input that way was ~1 ms of each generated token (docs/BENCHMARKS.md).
        pub fn quantize(&mut self, x: &[f32]) {
            for (((xb, qb), d), s) in
                x.chunks_exact(BLOCK).zip(self.q.chunks_exact_mut(BLOCK)).zip(self.d.iter_mut()).zip(self.s.iter_mut())
            {
                let (Ok(xb), Ok(qb)) = (<&[f32; BLOCK]>::try_from(xb), <&mut [i16; BLOCK]>::try_from(qb)) else { continue };
                // SAFETY: 32 f32 are exactly 8 v128; wasm loads need no alignment.
                let v: [v128; 8] = core::array::from_fn(|i| unsafe { v128_load(xb.as_ptr().add(4 * i) as *const v128) });
                // A tree of maxima, not a chain: eight dependent `f32x4.max` (a NaN-handling
                // sequence each on x64) held each block up (with the rounding below, 1536
                // values took 2.38 µs through the chain, 1.47 through the tree in V8:
                // docs/BENCHMARKS.md, 2026-12-02 late).
                let a: [v128; 8] = v.map(|x| f32x4_abs(x));
                let m = f32x4_max(
                    f32x4_max(f32x4_max(a[0], a[1]), f32x4_max(a[2], a[3])),
                    f32x4_max(f32x4_max(a[4], a[5]), f32x4_max(a[6], a[7])),
                );
                let amax = f32x4_extract_lane::<0>(m)
                    .max(f32x4_extract_lane::<1>(m))
                    .max(f32x4_extract_lane::<2>(m).max(f32x4_extract_lane::<3>(m)));
                let scale = amax / Q_MAX;
                let inv = f32x4_splat(if scale > 0.0 { 1.0 / scale } else { 0.0 });
                // y + 1.5·2²³ rounds y to an integer, ties to even as `f32x4.nearest`, and leaves
                // it in the low bits of the sum's mantissa (|y| ≤ Q_MAX < 2²²): the same integers as
                // nearest + `i32x4.trunc_sat_f32x4`, without the conversion (a sequence of some
                // eight instructions on x64), and their low 16 bits are the i16 values.
                let magic = f32x4_splat(ROUNDING_MAGIC);
                let mut sum = i32x4_splat(0);
                let r: [v128; 8] = core::array::from_fn(|i| f32x4_add(f32x4_mul(v[i], inv), magic));
                for ri in r {
                    sum = i32x4_add(sum, ri);
                }
                // Stored in the kernels' order (see `q`): even, then odd values of each half block.
                let low_halves = |a: v128, b: v128| i8x16_shuffle::<0, 1, 8, 9, 16, 17, 24, 25, 4, 5, 12, 13, 20, 21, 28, 29>(a, b);
                let (s0, s1, s2, s3) = (low_halves(r[0], r[1]), low_halves(r[2], r[3]), low_halves(r[4], r[5]), low_halves(r[6], r[7]));
                let order = [
                    i64x2_shuffle::<0, 2>(s0, s1),
                    i64x2_shuffle::<1, 3>(s0, s1),
                    i64x2_shuffle::<0, 2>(s2, s3),
                    i64x2_shuffle::<1, 3>(s2, s3),
                ];
                for (k, o) in order.into_iter().enumerate() {
                    // SAFETY: eight i16 at 8k..8k+8 of a 32-value block: one v128.
                    unsafe { v128_store(qb.as_mut_ptr().add(8 * k) as *mut v128, o) };
                }
                let lanes = i32x4_extract_lane::<0>(sum)
                    .wrapping_add(i32x4_extract_lane::<1>(sum))
                    .wrapping_add(i32x4_extract_lane::<2>(sum))
                    .wrapping_add(i32x4_extract_lane::<3>(sum));
                // Each of the 32 lanes carried the magic number's bits.
                let total = lanes.wrapping_sub((BLOCK as i32).wrapping_mul(ROUNDING_MAGIC.to_bits() as i32));
                *d = scale;
                *s = scale * total as f32;
            }
        }
    }

    #[inline(always)]
    fn load16(b: &[u8; 16]) -> v128 {
        // SAFETY: a 16-byte array is exactly one v128; wasm loads need no alignment.
        unsafe { v128_load(b.as_ptr() as *const v128) }
    }

    #[inline(always)]
    fn load_i16x8(b: &[i16; 8]) -> v128 {
        // SAFETY: eight i16 are exactly one v128; wasm loads need no alignment.
        unsafe { v128_load(b.as_ptr() as *const v128) }
    }

    /// The activation block as four i16x8 vectors.
    #[inline(always)]
    fn act_block(q: &[i16]) -> [v128; 4] {
        let mut out = [i16x8_splat(0); 4];
        for (o, c) in out.iter_mut().zip(q.chunks_exact(8)) {
            if let Ok(c) = <&[i16; 8]>::try_from(c) {
                *o = load_i16x8(c);
            }
        }
        out
    }

    /// Σ w·a over one 32-value block, both as four i16x8 vectors: four lane sums (i32x4).
    #[inline(always)]
    fn dot32(w: &[v128; 4], a: &[v128; 4]) -> v128 {
        i32x4_add(
            i32x4_add(i32x4_dot_i16x8(w[0], a[0]), i32x4_dot_i16x8(w[1], a[1])),
            i32x4_add(i32x4_dot_i16x8(w[2], a[2]), i32x4_dot_i16x8(w[3], a[3])),
        )
    }

    #[inline(always)]
    fn hsum(v: v128) -> f32 {
        f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v) + f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v)
    }

    /// Sixteen integers (four i32x4) → d·q (+ m) as f32 into `out`.
    #[inline(always)]
    fn store_scaled(v: [v128; 4], d: v128, m: Option<v128>, out: &mut [f32; 16]) {
        for (q, o) in v.into_iter().zip(out.chunks_exact_mut(4)) {
            let y = f32x4_mul(f32x4_convert_i32x4(q), d);
            let y = match m {
                Some(m) => f32x4_add(y, m),
                None => y,
            };
            // SAFETY: `o` is exactly four f32, one v128; wasm stores need no alignment.
            unsafe { v128_store(o.as_mut_ptr() as *mut v128, y) };
        }
    }

    /// Sixteen bytes widened to four i32x4, unsigned (`widen_u8`) or signed (`widen_i8`).
    #[inline(always)]
    fn widen_u8(b: v128) -> [v128; 4] {
        let (lo, hi) = (u16x8_extend_low_u8x16(b), u16x8_extend_high_u8x16(b));
        [u32x4_extend_low_u16x8(lo), u32x4_extend_high_u16x8(lo), u32x4_extend_low_u16x8(hi), u32x4_extend_high_u16x8(hi)]
    }

    #[inline(always)]
    fn widen_i8(b: v128) -> [v128; 4] {
        let (lo, hi) = (i16x8_extend_low_i8x16(b), i16x8_extend_high_i8x16(b));
        [i32x4_extend_low_i16x8(lo), i32x4_extend_high_i16x8(lo), i32x4_extend_low_i16x8(hi), i32x4_extend_high_i16x8(hi)]
    }

    /// x = d·q + m per block, as `super::dequantize_q4_1` (the same two roundings, so the
    /// same bits), sixteen values per vector op chain.
    pub fn dequantize_q4_1(blocks: &[u8], out: &mut [f32]) {
        let mask = u8x16_splat(0x0F);
        for (blk, y) in blocks.chunks_exact(20).zip(out.chunks_exact_mut(BLOCK)) {
            let (Ok(qs), Ok(y)) = (<&[u8; 16]>::try_from(&blk[4..20]), <&mut [f32; 32]>::try_from(y)) else { continue };
            let (d, m) = (f32x4_splat(scale(blk, 0)), f32x4_splat(scale(blk, 2)));
            let w = load16(qs);
            let (lo, hi) = y.split_at_mut(16);
            let (Ok(lo), Ok(hi)) = (<&mut [f32; 16]>::try_from(lo), <&mut [f32; 16]>::try_from(hi)) else { continue };
            store_scaled(widen_u8(v128_and(w, mask)), d, Some(m), lo);
            store_scaled(widen_u8(u8x16_shr(w, 4)), d, Some(m), hi);
        }
    }

    /// x = d·q per block, as `super::dequantize_q8_0`.
    pub fn dequantize_q8_0(blocks: &[u8], out: &mut [f32]) {
        for (blk, y) in blocks.chunks_exact(34).zip(out.chunks_exact_mut(BLOCK)) {
            let (Ok(q0), Ok(q1), Ok(y)) =
                (<&[u8; 16]>::try_from(&blk[2..18]), <&[u8; 16]>::try_from(&blk[18..34]), <&mut [f32; 32]>::try_from(y))
            else {
                continue;
            };
            let d = f32x4_splat(scale(blk, 0));
            let (lo, hi) = y.split_at_mut(16);
            let (Ok(lo), Ok(hi)) = (<&mut [f32; 16]>::try_from(lo), <&mut [f32; 16]>::try_from(hi)) else { continue };
            store_scaled(widen_i8(load16(q0)), d, None, lo);
            store_scaled(widen_i8(load16(q1)), d, None, hi);
        }
    }

    /// A Q4_1 block's weights as four i16x8 vectors in `QuantizedRow::q`'s order, read
    /// straight out of 16-bit lanes: lane k of the 16 bytes is bytes 2k and 2k+1, so its four
    /// nibbles are q[2k] (bits 0..4), q[2k+16] (4..8), q[2k+1] (8..12) and q[2k+17] (12..16) —
    /// shifts and masks on whole lanes, where widening bytes to lanes in order takes more ops
    /// (x86 has no byte shift, and widening the high half is two).
    #[inline(always)]
    fn q4_1_nibbles(w: v128) -> [v128; 4] {
        let mask = u16x8_splat(0x0F);
        [v128_and(w, mask), v128_and(u16x8_shr(w, 8), mask), v128_and(u16x8_shr(w, 4), mask), u16x8_shr(w, 12)]
    }

    /// As `q4_1_nibbles` for Q8_0's signed bytes: the low byte of each lane sign-extended
    /// (shift up, arithmetic shift down), then the high one.
    #[inline(always)]
    fn q8_0_bytes(w0: v128, w1: v128) -> [v128; 4] {
        [i16x8_shr(i16x8_shl(w0, 8), 8), i16x8_shr(w0, 8), i16x8_shr(i16x8_shl(w1, 8), 8), i16x8_shr(w1, 8)]
    }

    /// The four rows' block sums, each an i32x4 of partial sums, as one i32x4 of totals
    /// (a 4×4 transpose folded into the additions).
    #[inline(always)]
    fn row_totals(s: [v128; 4]) -> v128 {
        let u0 = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(s[0], s[1]), i32x4_shuffle::<2, 6, 3, 7>(s[0], s[1]));
        let u1 = i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(s[2], s[3]), i32x4_shuffle::<2, 6, 3, 7>(s[2], s[3]));
        i32x4_add(i32x4_shuffle::<0, 1, 4, 5>(u0, u1), i32x4_shuffle::<2, 3, 6, 7>(u0, u1))
    }

    /// Four f16 scales, one per row (at `p[i]`), as f32x4: each half goes into the high 16
    /// bits of its lane, and then `super::f16_to_f32`'s steps run on all four lanes at once
    /// (exponent and mantissa shifted into place, rescaled by 2¹¹², the sign put back), exact
    /// for every finite half as that one is.
    ///
    /// # Safety
    /// Each `p[i]` must point at two readable bytes.
    #[inline(always)]
    unsafe fn scales4(p: [*const u8; 4]) -> v128 {
        let v = i32x4_splat(0);
        let v = v128_load16_lane::<1>(v, p[0] as *const u16);
        let v = v128_load16_lane::<3>(v, p[1] as *const u16);
        let v = v128_load16_lane::<5>(v, p[2] as *const u16);
        let v = v128_load16_lane::<7>(v, p[3] as *const u16);
        let two_112 = f32x4_splat(f32::from_bits((127 + 112) << 23));
        let magnitude = f32x4_mul(u32x4_shr(v128_and(v, u32x4_splat(0x7FFF_0000)), 3), two_112);
        v128_or(magnitude, v128_and(v, u32x4_splat(0x8000_0000)))
    }

    /// The activation blocks as (four i16x8 vectors, d, s).
    #[inline(always)]
    fn act_blocks(x: &QuantizedRow) -> impl Iterator<Item = ([v128; 4], f32, f32)> + '_ {
        x.q.chunks_exact(BLOCK).zip(x.d.iter().zip(x.s.iter())).map(|(q, (&d, &s))| (act_block(q), d, s))
    }

    /// How far ahead of the rows being multiplied `four_rows_at_a_time` touches the weights
    /// (2–16 KiB tried on decoding; docs/BENCHMARKS.md, 2026-12-02 evening).
    const PREFETCH_BYTES: usize = 4096;

    /// Four rows at a time of `y = W x`, for a format of `BYTES`-byte blocks whose four
    /// rows' block `b` (at `blk[i]`) give their integer sums against `a` through `sums`
    /// and add what else they need to `extra` (Q4_1's minimum). Each activation block is
    /// loaded once for four rows, and the four rows' sums share one conversion, one scaling
    /// and one conversion of their scales (f16 at byte 0 of each block). Returns how many
    /// rows it did (a multiple of four); the caller does the rest one at a time.
    ///
    /// It also reads one byte of each cache line `PREFETCH_BYTES` ahead (up to `raw`'s end,
    /// which is the matrix's, so past the piece this thread was given): wasm has no prefetch
    /// instruction, and without it these kernels streamed weights from memory at 2–4 GB/s on
    /// an EPYC VM whose plain wasm read loop made 8.8 GB/s (the hardware prefetcher did not
    /// keep ahead of a loop this long per cache line). A decoding step reads every weight
    /// once, 84 MB, and went from ~21 to ~36–40 tokens/s on one thread.
    #[inline(always)]
    fn four_rows_at_a_time<const BYTES: usize>(
        raw: &[u8],
        x: &QuantizedRow,
        y: &mut [f32],
        sums: impl Fn(&[*const u8; 4], &[v128; 4]) -> [v128; 4],
        extra: impl Fn(&[*const u8; 4], f32, v128) -> v128,
    ) -> usize {
        let row_bytes = x.d.len() * BYTES;
        let full = (y.len() / 4 * 4).min(raw.len() / row_bytes.max(1) / 4 * 4);
        if x.q.len() != x.d.len() * BLOCK || x.s.len() != x.d.len() {
            return 0;
        }
        let mut touched = 0u8;
        for (g, out) in y[..full].chunks_exact_mut(4).enumerate() {
            // SAFETY: rows 4g..4g+4 lie in `raw` (`full` ≤ its rows), so each of their
            // `d.len()` blocks of BYTES bytes does.
            let base = unsafe { raw.as_ptr().add(4 * g * row_bytes) };
            let ahead = 4 * g * row_bytes + PREFETCH_BYTES;
            if let Some(lines) = raw.get(ahead..(ahead + 4 * row_bytes).min(raw.len())) {
                for line in lines.chunks(64) {
                    touched ^= line[0];
                }
            }
            let mut acc = f32x4_splat(0.0);
            let mut acc_extra = f32x4_splat(0.0);
            for (b, (a, dx, sx)) in act_blocks(x).enumerate() {
                let blk: [*const u8; 4] = core::array::from_fn(|i| unsafe { base.add(i * row_bytes + b * BYTES) });
                // SAFETY: every block is BYTES ≥ 2 readable bytes.
                let d = f32x4_mul(unsafe { scales4(blk) }, f32x4_splat(dx));
                acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(row_totals(sums(&blk, &a))), d));
                acc_extra = extra(&blk, sx, acc_extra);
            }
            // SAFETY: `out` is exactly four f32, one v128; wasm stores need no alignment.
            unsafe { v128_store(out.as_mut_ptr() as *mut v128, f32x4_add(acc, acc_extra)) };
        }
        core::hint::black_box(touched);
        full
    }

    /// Sixteen bytes at `p`.
    ///
    /// # Safety
    /// `p` must point at sixteen readable bytes.
    #[inline(always)]
    unsafe fn load_at(p: *const u8) -> v128 {
        v128_load(p as *const v128)
    }

    /// y[r] = Σ_blocks d_w·d_x·Σ q_w q_x + m_w·s_x (`ggml_vec_dot_q4_1_q8_1`), four rows at a
    /// time (`four_rows_at_a_time`), the rest one by one.
    pub fn matvec_q4_1(raw: &[u8], x: &QuantizedRow, y: &mut [f32]) {
        const BYTES: usize = 20;
        let full = four_rows_at_a_time::<BYTES>(
            raw,
            x,
            y,
            // SAFETY (both): a Q4_1 block is d (2 bytes), m (2), 16 bytes of nibbles.
            |blk, a| core::array::from_fn(|i| dot32(&q4_1_nibbles(unsafe { load_at(blk[i].add(4)) }), a)),
            |blk, sx, acc| {
                let m = unsafe { scales4(core::array::from_fn(|i| blk[i].add(2))) };
                f32x4_add(acc, f32x4_mul(m, f32x4_splat(sx)))
            },
        );
        let row_bytes = x.d.len() * BYTES;
        for (r, yr) in y.iter_mut().enumerate().skip(full) {
            let row = &raw[r * row_bytes..(r + 1) * row_bytes];
            let mut acc = f32x4_splat(0.0);
            let mut acc_min = 0f32;
            for (blk, (a, dx, sx)) in row.chunks_exact(BYTES).zip(act_blocks(x)) {
                let Ok(qs) = <&[u8; 16]>::try_from(&blk[4..20]) else { continue };
                let sum = dot32(&q4_1_nibbles(load16(qs)), &a);
                acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(sum), f32x4_splat(scale(blk, 0) * dx)));
                acc_min += scale(blk, 2) * sx;
            }
            *yr = hsum(acc) + acc_min;
        }
    }

    /// y[r] = Σ_blocks d_w·d_x·Σ q_w q_x (`ggml_vec_dot_q8_0_q8_0`), as `matvec_q4_1`.
    pub fn matvec_q8_0(raw: &[u8], x: &QuantizedRow, y: &mut [f32]) {
        const BYTES: usize = 34;
        let full = four_rows_at_a_time::<BYTES>(
            raw,
            x,
            y,
            // SAFETY: a Q8_0 block is d (2 bytes) and 32 signed bytes.
            |blk, a| core::array::from_fn(|i| unsafe { dot32(&q8_0_bytes(load_at(blk[i].add(2)), load_at(blk[i].add(18))), a) }),
            |_, _, acc| acc,
        );
        let row_bytes = x.d.len() * BYTES;
        let weights = |blk: &[u8]| match (<&[u8; 16]>::try_from(&blk[2..18]), <&[u8; 16]>::try_from(&blk[18..34])) {
            (Ok(q0), Ok(q1)) => Some(q8_0_bytes(load16(q0), load16(q1))),
            _ => None,
        };
        for (r, yr) in y.iter_mut().enumerate().skip(full) {
            let row = &raw[r * row_bytes..(r + 1) * row_bytes];
            let mut acc = f32x4_splat(0.0);
            for (blk, (a, dx, _)) in row.chunks_exact(BYTES).zip(act_blocks(x)) {
                let Some(w) = weights(blk) else { continue };
                acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(dot32(&w, &a)), f32x4_splat(scale(blk, 0) * dx)));
            }
            *yr = hsum(acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::GgmlDType;

    fn matrix(rows: usize, cols: usize, dtype: GgmlDType) -> (Tensor, QuantMatrix) {
        let vals: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.3).collect();
        let w = Tensor::from_vec(vals, (rows, cols), &Device::Cpu).expect("w");
        let q = QTensor::quantize(&w, dtype).expect("quantize");
        (w, QuantMatrix::new(Arc::new(q)).expect("matrix"))
    }

    #[test]
    fn pieces_cover_every_row_and_shrink_with_what_is_left() {
        for (total, threads) in [(960, 2), (576, 2), (192, 2), (3072, 3), (49152, 2), (5, 2), (49152, 16), (7, 1)] {
            let sizes = piece_rows(total, threads);
            assert_eq!(sizes.iter().sum::<usize>(), total, "{total} rows, {threads} threads: {sizes:?}");
            assert!(sizes.iter().all(|&n| n > 0), "{sizes:?}");
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "pieces grow: {sizes:?}");
            if threads > 1 && total >= 64 * threads {
                // Guided: each piece a 1/(threads + 1) share of what is left (to 4 rows).
                let mut left = total;
                for &n in sizes.iter().take_while(|&&n| n > MATVEC_MIN_PIECE_ROWS) {
                    assert!(n % 4 == 0 && n <= left / (threads + 1) && n + 4 > left / (threads + 1), "{sizes:?}");
                    left -= n;
                }
                // The last pieces are short, so nobody waits long for them.
                assert!(sizes[sizes.len() - 1] <= MATVEC_MIN_PIECE_ROWS, "{sizes:?}");
            }
        }
        assert_eq!(piece_rows(960, 2), [320, 212, 140, 96, 64, 40, 28, 20, 16, 16, 8]);
        assert_eq!(piece_rows(7, 1), [7]);
    }

    #[test]
    fn pieces_of_several_products_cut_at_their_boundaries() {
        // Decoding's q, k, v (576, 192, 192 rows) in the pieces of two threads.
        let mut ys: Vec<Vec<f32>> = [576usize, 192, 192].iter().map(|&n| vec![0f32; n]).collect();
        let sizes = piece_rows(960, 2);
        let (places, outs) = cut_outputs(&mut ys, &sizes);
        let lens: Vec<usize> = outs.iter().map(|o| o.len()).collect();
        // The third piece (rows 532..672 of all) ends q and starts k; the fifth ends k.
        assert_eq!(
            places,
            [(0, 0), (0, 320), (0, 532), (1, 0), (1, 96), (2, 0), (2, 64), (2, 104), (2, 132), (2, 152), (2, 168), (2, 184)]
        );
        assert_eq!(lens, [320, 212, 44, 96, 96, 64, 40, 28, 20, 16, 16, 8]);
        for (p, o) in outs.into_iter().enumerate() {
            o.fill(p as f32 + 1.0);
        }
        // Every row written once, in order: each matrix's pieces are consecutive.
        for (i, y) in ys.iter().enumerate() {
            let starts: Vec<usize> = places.iter().filter(|(m, _)| *m == i).map(|&(_, r)| r).collect();
            assert_eq!(starts[0], 0);
            assert!(y.iter().all(|&v| v > 0.0), "matrix {i}");
            assert!(y.windows(2).all(|w| w[0] <= w[1]), "matrix {i}: pieces out of order");
        }
    }

    #[test]
    fn f16_conversion_is_exact_for_every_finite_half() {
        for bits in 0..=u16::MAX {
            let want = half::f16::from_bits(bits);
            if want.is_finite() {
                assert_eq!(f16_to_f32(bits).to_bits(), want.to_f32().to_bits(), "{bits:#06x}");
            }
        }
    }

    #[test]
    fn dequantized_slabs_equal_candles_dequantize() {
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
            let (_, m) = matrix(70, 96, dtype);
            let want = m.qtensor().dequantize(&Device::Cpu).expect("deq").flatten_all().expect("f").to_vec1::<f32>().expect("v");
            let mut got = Vec::new();
            m.dequantize_rows_into(0, 70, &mut got).expect("rows");
            assert_eq!(got, want, "{dtype:?}");
            m.dequantize_rows_into(13, 5, &mut got).expect("rows");
            assert_eq!(got[..], want[13 * 96..18 * 96], "{dtype:?} slab");
        }
    }

    #[test]
    fn gemm_regime_equals_f32_matmul_of_the_dequantized_weights() {
        // 300 rows fit one slab; 16500 rows of 64 need two (the unembedding's case).
        for (dtype, rows) in [(GgmlDType::Q4_1, 300), (GgmlDType::Q8_0, 300), (GgmlDType::Q4_1, 16500)] {
            let (_, m) = matrix(rows, 64, dtype);
            let x = Tensor::randn(0f32, 1.0, (2, 9, 64), &Device::Cpu).expect("x");
            let got = m.forward(&x).expect("forward");
            let w = m.qtensor().dequantize(&Device::Cpu).expect("deq");
            let want = x.broadcast_matmul(&w.t().expect("t")).expect("mm");
            assert_eq!(got.dims(), [2, 9, rows]);
            let err = (got - want).expect("d").abs().expect("a").max_all().expect("m").to_scalar::<f32>().expect("s");
            assert!(err < 1e-5, "{dtype:?}: {err}");
        }
    }
}
