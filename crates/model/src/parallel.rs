//! Splitting the big matrix products across threads, in the browser's threaded build.
//!
//! candle runs one thread in wasm (its thread count comes from the OS, which wasm has not),
//! so the threaded build (`--features threads`, a wasm-bindgen-rayon worker pool behind
//! cross-origin isolation) splits the work itself: rows of `x` for products with many rows
//! (prefill, patching batches, gradient passes), rows of `W` for the decode kernels. Each
//! piece is an ordinary single-threaded candle product. Without the feature (native builds,
//! where candle has its own pool, and the single-threaded wasm build) everything is serial.

use crate::error::Result;
use candle_core::Tensor;

/// Threads in the pool (1 without the `threads` feature).
pub fn threads() -> usize {
    #[cfg(feature = "threads")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// Below this many rows per thread, splitting `x` costs more than it saves.
const MIN_ROWS_PER_THREAD: usize = 8;

/// `x @ w` for `x` `[m, k]` contiguous and `w` `[k, n]` (any strides), split by rows of `x`.
pub fn matmul_rows(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (m, _k) = x.dims2()?;
    let parts = threads().min(m / MIN_ROWS_PER_THREAD);
    if parts <= 1 {
        return Ok(x.matmul(w)?);
    }
    let chunk = m.div_ceil(parts);
    let ranges: Vec<(usize, usize)> = (0..m).step_by(chunk).map(|r| (r, chunk.min(m - r))).collect();
    let pieces = map(&ranges, |&(r, n)| Ok(x.narrow(0, r, n)?.matmul(w)?))?;
    Ok(Tensor::cat(&pieces, 0)?)
}

/// Fills `out` in `chunk`-sized pieces, `f(piece_index, piece)`, in parallel when threaded.
pub fn for_each_chunk_mut<T: Send>(out: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(chunk.max(1)).enumerate().for_each(|(i, c)| f(i, c));
    }
    #[cfg(not(feature = "threads"))]
    {
        out.chunks_mut(chunk.max(1)).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// `items.map(f)`, in parallel when threaded; the first error wins.
pub fn map<I: Sync, O: Send>(items: &[I], f: impl Fn(&I) -> Result<O> + Sync + Send) -> Result<Vec<O>> {
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        items.par_iter().map(f).collect()
    }
    #[cfg(not(feature = "threads"))]
    {
        items.iter().map(f).collect()
    }
}
