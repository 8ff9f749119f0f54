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
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Mutex, OnceLock};

mod step_threads;
pub use step_threads::{Arm, StepThreads};

/// The most threads work is split across (`set_max_threads`).
static MAX_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(usize::MAX);

/// Threads work is split across: the pool's, or fewer after `set_max_threads` (1 without
/// the `threads` feature).
pub fn threads() -> usize {
    #[cfg(feature = "threads")]
    {
        rayon::current_num_threads().min(MAX_THREADS.load(Relaxed))
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// Splits later work across at most `n` threads of the pool (at least 1; `usize::MAX`: all
/// of them) and returns how many that is. At 1 everything runs on the calling thread, as in
/// the single-threaded build: the benchmark alternates one thread and all of them in one
/// page, so both see the same moments of a noisy machine, and a reader can leave a core
/// to other work. Between 1 and the pool's size it bounds how many pieces work is cut into.
pub fn set_max_threads(n: usize) -> usize {
    MAX_THREADS.store(n.max(1), Relaxed);
    threads()
}

/// Milliseconds since some fixed moment, for timing decoding steps: `performance.now` in the
/// browser (`set_clock`, from the binding), `Instant` natively; none in wasm until set.
static CLOCK: OnceLock<fn() -> f64> = OnceLock::new();

/// Sets the clock decoding steps are timed with (once; later calls are ignored).
pub fn set_clock(now_ms: fn() -> f64) {
    let _ = CLOCK.set(now_ms);
}

fn now_ms() -> Option<f64> {
    if let Some(now) = CLOCK.get() {
        return Some(now());
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        Some(START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64() * 1e3)
    }
    #[cfg(target_arch = "wasm32")]
    {
        None
    }
}

/// The thread count of decoding steps (`decode_step`), kept across generations.
static STEP_THREADS: Mutex<Option<StepThreads>> = Mutex::new(None);

fn with_step_threads<R>(f: impl FnOnce(&mut StepThreads) -> R) -> R {
    let mut guard = STEP_THREADS.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(StepThreads::default))
}

/// Runs one decoding step (one generated token) on all the pool's threads or on the
/// calling thread alone, as [`StepThreads`] chooses from the times of earlier steps, and
/// records its time. With one thread (the single-threaded build, `set_max_threads(1)`)
/// or no clock, just runs it.
pub fn decode_step<R>(step: impl FnOnce() -> R) -> R {
    let Some(start) = (threads() > 1).then(now_ms).flatten() else {
        return step();
    };
    let arm = with_step_threads(|s| s.next());
    let cap = MAX_THREADS.load(Relaxed);
    if arm == Arm::One {
        MAX_THREADS.store(1, Relaxed);
    }
    let out = step();
    MAX_THREADS.store(cap, Relaxed);
    if let Some(end) = now_ms() {
        with_step_threads(|s| s.record(arm, end - start));
    }
    out
}

/// Decoding steps taken so far on (all the pool's threads, one thread): `decode_step`'s
/// choices, for the benchmark's report.
pub fn decode_steps_taken() -> (u64, u64) {
    with_step_threads(|s| s.taken())
}

/// Below this many rows per thread, splitting `x` costs more than it saves.
pub(crate) const MIN_ROWS_PER_THREAD: usize = 8;

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
    if threads() > 1 {
        use rayon::prelude::*;
        team::retire();
        out.par_chunks_mut(chunk.max(1)).enumerate().for_each(|(i, c)| f(i, c));
        return;
    }
    out.chunks_mut(chunk.max(1)).enumerate().for_each(|(i, c)| f(i, c));
}

/// `items.map(f)`, in parallel when threaded; the first error wins.
pub fn map<I: Sync, O: Send>(items: &[I], f: impl Fn(&I) -> Result<O> + Sync + Send) -> Result<Vec<O>> {
    #[cfg(feature = "threads")]
    if threads() > 1 {
        use rayon::prelude::*;
        team::retire();
        return items.par_iter().map(f).collect();
    }
    items.iter().map(f).collect()
}

/// Runs `f(i, piece)` over `out` split into `chunk`-sized pieces: on the calling thread and
/// the spinning helpers of [`team`] in the threaded build, serially otherwise. For work of
/// tens of microseconds (decoding's matrix-vector products), too short for rayon's pool.
pub fn for_each_chunk_mut_fine<T: Send>(out: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    for_each_piece_fine(out.chunks_mut(chunk.max(1)).collect(), f);
}

/// [`for_each_chunk_mut_fine`] over pieces of any slices (several matrices' outputs in one
/// job: decoding's q, k and v), `f(index in pieces, piece)`.
pub fn for_each_piece_fine<T: Send>(pieces: Vec<&mut [T]>, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    #[cfg(feature = "threads")]
    if threads() > 1 {
        team::run_pieces(pieces, &f);
        return;
    }
    pieces.into_iter().enumerate().for_each(|(i, c)| f(i, c));
}

/// A team of helper threads for fine-grained work. Waking rayon's sleeping pool costs
/// ~70 µs in Chromium (docs/BENCHMARKS.md), about what one decoding matrix-vector product
/// takes, so splitting those through rayon made decoding slower. Team helpers are rayon
/// tasks that, once started, spin on an atomic for their next piece (as ggml's thread pool
/// and candle's native `BarrierPool` do) and hand their thread back to rayon after
/// `IDLE_SPINS` polls without work, or as soon as rayon work is submitted ([`retire`]).
/// One caller dispatches at a time (the model's worker thread); any other caller, or a
/// call from inside the pool, runs its pieces itself.
///
/// The caller never waits for a helper that has not started. Spinning threads assume each
/// has a core; when something else on the machine is busy (another tab, another process),
/// the OS deschedules one of them for a whole time slice (milliseconds). When the caller
/// waited for every helper to take its piece, each of a token's ~210 products waited out
/// such a slice: with one busy process beside the page on 2 cores, threaded decoding ran at
/// 1.8 tokens/s against 32 on one thread (docs/BENCHMARKS.md, 2026-12-02 night). Now a
/// helper joins a job by moving its state GO → WORKING, pieces are claimed from a shared
/// counter, and the caller, once no piece is left, takes back every offer still at GO: it
/// waits only for helpers inside a piece, and a late helper just takes fewer pieces.
#[cfg(feature = "threads")]
#[allow(unsafe_code)]
pub mod team {
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::*};
    use std::sync::Mutex;

    const MAX_HELPERS: usize = 31;
    /// Polls of an idle helper before it returns to rayon (a few milliseconds in V8): longer
    /// than the gaps between one token's products, shorter than anything a user notices.
    const IDLE_SPINS: u32 = 1 << 21;
    /// Not running: the next job starts it as a rayon task.
    const OFF: u32 = 0;
    /// Running, spinning for a job.
    const IDLE: u32 = 1;
    /// Offered the current job, not yet joined; the caller may take the offer back.
    const GO: u32 = 2;
    /// Joined the current job: the caller waits for it to be IDLE again.
    const WORKING: u32 = 3;

    static STATE: [AtomicU32; MAX_HELPERS] = [const { AtomicU32::new(OFF) }; MAX_HELPERS];
    /// The next unclaimed piece of the current job, on a cache line of its own: every
    /// claim writes it, and the helpers poll `STATE`.
    static NEXT: CacheLine<AtomicUsize> = CacheLine(AtomicUsize::new(0));
    static DISPATCHING: AtomicBool = AtomicBool::new(false);
    static JOB: Mutex<Option<Job>> = Mutex::new(None);

    /// A value alone on its 64-byte cache line, so that writes to it do not evict its
    /// neighbours from the other core's cache.
    #[repr(align(64))]
    struct CacheLine<T>(T);

    impl<T> std::ops::Deref for CacheLine<T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }

    /// Disjoint slices, each handed to one call of `run`'s function: no lock per piece.
    struct Pieces<T>(Vec<(*mut T, usize)>);
    // SAFETY: the slices are disjoint, and `run` calls each index once, on one thread.
    unsafe impl<T: Send> Sync for Pieces<T> {}

    /// `f(i, pieces[i])` for every piece, spread as by `run`.
    pub fn run_pieces<T: Send>(pieces: Vec<&mut [T]>, f: &(dyn Fn(usize, &mut [T]) + Sync)) {
        let pieces = &Pieces(pieces.into_iter().map(|p| (p.as_mut_ptr(), p.len())).collect());
        run(pieces.0.len(), &|i| {
            let Pieces(all) = pieces;
            let (ptr, len) = all[i];
            // SAFETY: borrowed from a `&mut [T]` that outlives `run`; `run` calls each `i`
            // exactly once, so no two calls hold the same piece.
            f(i, unsafe { std::slice::from_raw_parts_mut(ptr, len) })
        });
    }

    /// The current job and its number of pieces, the job's lifetime erased: `run` clears it
    /// and returns only after every helper that joined has finished with it.
    #[derive(Clone, Copy)]
    struct Job(*const (dyn Fn(usize) + Sync + 'static), usize);
    // SAFETY: the pointee is `Sync` and outlives every use (see `run`).
    unsafe impl Send for Job {}

    /// `f(0)`, …, `f(pieces - 1)`, each exactly once, spread over the caller and the helpers
    /// that join in time.
    pub fn run(pieces: usize, f: &(dyn Fn(usize) + Sync)) {
        let helpers = (pieces.saturating_sub(1)).min(super::threads().saturating_sub(1)).min(MAX_HELPERS);
        if helpers == 0 || rayon::current_thread_index().is_some() || DISPATCHING.swap(true, Acquire) {
            (0..pieces).for_each(f);
            return;
        }
        // SAFETY: only the lifetime is erased; the reference is dropped from JOB below, once
        // no helper is WORKING and every offer still at GO has been taken back, so no helper
        // can read it any more.
        let job = Job(unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(f) }, pieces);
        NEXT.store(0, Relaxed);
        set_job(Some(job));
        for (h, state) in STATE.iter().enumerate().take(helpers) {
            if state.compare_exchange(IDLE, GO, AcqRel, Acquire).is_err() {
                // OFF (it handed its thread back): offer the job and start it. If rayon
                // starts the task late, the offer is simply taken back below.
                state.store(GO, Release);
                rayon::spawn(move || helper(h));
            }
        }
        claim_and_run(f, pieces);
        for state in STATE.iter().take(helpers) {
            // Take back an offer not joined; wait for a helper that joined to finish.
            if state.compare_exchange(GO, IDLE, AcqRel, Acquire).is_err() {
                while state.load(Acquire) == WORKING {
                    std::hint::spin_loop();
                }
            }
        }
        set_job(None);
        DISPATCHING.store(false, Release);
    }

    /// Sends idle helpers back to rayon (before submitting rayon work, which would otherwise
    /// wait for their idle time to run out).
    pub fn retire() {
        for state in &STATE {
            let _ = state.compare_exchange(IDLE, OFF, AcqRel, Acquire);
        }
    }

    /// Runs unclaimed pieces until none is left. A helper claims only between joining and
    /// going back to IDLE, and `run` resets the counter only when no helper is WORKING.
    fn claim_and_run(f: &(dyn Fn(usize) + Sync), pieces: usize) {
        loop {
            let i = NEXT.fetch_add(1, Relaxed);
            if i >= pieces {
                return;
            }
            f(i);
        }
    }

    fn set_job(job: Option<Job>) {
        match JOB.lock() {
            Ok(mut slot) => *slot = job,
            Err(poisoned) => *poisoned.into_inner() = job,
        }
    }

    fn job() -> Option<Job> {
        match JOB.lock() {
            Ok(slot) => *slot,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// Helper `h`'s loop. Two loops may share an `h` (a task started late, after its offer
    /// was taken back and a new one spawned); the GO → WORKING exchange lets only one join.
    fn helper(h: usize) {
        let state = &STATE[h];
        let mut idle = 0u32;
        loop {
            match state.load(Acquire) {
                GO => {
                    if state.compare_exchange(GO, WORKING, AcqRel, Acquire).is_ok() {
                        if let Some(Job(f, pieces)) = job() {
                            // SAFETY: `run` keeps the job alive while this helper is WORKING.
                            claim_and_run(unsafe { &*f }, pieces);
                        }
                        state.store(IDLE, Release);
                    }
                    idle = 0;
                }
                OFF => return,
                _ => {
                    idle += 1;
                    if idle > IDLE_SPINS && state.compare_exchange(IDLE, OFF, AcqRel, Acquire).is_ok() {
                        return;
                    }
                    std::hint::spin_loop();
                }
            }
        }
    }
}

#[cfg(all(test, feature = "threads"))]
mod tests {
    use super::*;

    /// One team test at a time: a second dispatcher would run its pieces itself, and the
    /// test of late helpers would pass without testing them.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn team_runs_every_piece_once_across_many_dispatches_and_yields_to_rayon() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        rayon::ThreadPoolBuilder::new().num_threads(3).build_global().ok();
        let mut out = vec![0u64; 1000];
        for round in 1..=2000u64 {
            for_each_chunk_mut_fine(&mut out, 334, |i, piece| {
                for (j, v) in piece.iter_mut().enumerate() {
                    *v += round * (i * 334 + j) as u64;
                }
            });
            if round % 500 == 0 {
                // Rayon work in between: the helpers must hand their threads back.
                let sum: u64 = map(&[1u64, 2, 3, 4], |v| Ok(v * 2)).expect("map").iter().sum();
                assert_eq!(sum, 20);
            }
        }
        let total: u64 = (1..=2000u64).sum();
        for (j, v) in out.iter().enumerate() {
            assert_eq!(*v, total * j as u64, "value {j}");
        }
    }

    /// With at most one thread, every kind of split work runs on the calling thread (the
    /// benchmark's one-thread half), and lifting the cap brings the pool back.
    #[test]
    fn at_most_one_thread_runs_everything_on_the_caller() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        rayon::ThreadPoolBuilder::new().num_threads(3).build_global().ok();
        let caller = std::thread::current().id();
        let on_caller = |_: usize, piece: &mut [bool]| piece.fill(std::thread::current().id() == caller);
        assert_eq!(set_max_threads(1), 1);
        let mut fine = vec![false; 64];
        for_each_chunk_mut_fine(&mut fine, 4, on_caller);
        let mut coarse = vec![false; 64];
        for_each_chunk_mut(&mut coarse, 4, on_caller);
        let mapped = map(&[0u8; 16], |_| Ok(std::thread::current().id() == caller)).expect("map");
        assert!(fine.iter().chain(&coarse).chain(&mapped).all(|&c| c), "a piece ran off the calling thread");
        assert_eq!(set_max_threads(2), 2);
        assert_eq!(set_max_threads(usize::MAX), rayon::current_num_threads());
        // With the pool back, rayon's pieces run on its threads, not the caller's.
        let mut coarse = vec![true; 64];
        for_each_chunk_mut(&mut coarse, 4, on_caller);
        assert!(coarse.iter().any(|&c| !c), "the pool is not used again");
    }

    /// Decoding steps run on the pool or on the caller alone, as the chooser says, and
    /// leave the thread cap as they found it.
    #[test]
    fn decode_steps_take_an_arm_record_it_and_restore_the_cap() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        rayon::ThreadPoolBuilder::new().num_threads(3).build_global().ok();
        set_max_threads(usize::MAX);
        let pool = threads();
        *STEP_THREADS.lock().unwrap_or_else(|p| p.into_inner()) = None; // a fresh chooser
        let (p0, o0) = decode_steps_taken();
        let mut seen = (0u64, 0u64);
        for _ in 0..40 {
            let inside = decode_step(threads);
            match inside {
                1 => seen.1 += 1,
                n => {
                    assert_eq!(n, pool);
                    seen.0 += 1;
                }
            }
            assert_eq!(threads(), pool, "the cap was not restored");
        }
        let (p1, o1) = decode_steps_taken();
        assert!(p1 - p0 >= seen.0 && o1 - o0 >= seen.1 && seen.0 + seen.1 == 40, "{seen:?}: {p0}/{o0} → {p1}/{o1}");
        // The first probe (after 16 steps on the pool) takes 4 steps on one thread.
        assert!(seen.1 >= 4, "{seen:?}");
    }

    /// A helper that cannot start (here: every pool thread blocked; in a browser: its thread
    /// descheduled) must not hold up the caller, which then runs every piece itself.
    #[test]
    fn team_does_not_wait_for_helpers_that_cannot_start() {
        use std::sync::mpsc;
        use std::time::Duration;
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        rayon::ThreadPoolBuilder::new().num_threads(3).build_global().ok();
        team::retire();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = std::sync::Arc::new(std::sync::Mutex::new(release_rx));
        for _ in 0..rayon::current_num_threads() {
            let (started, release) = (started_tx.clone(), release_rx.clone());
            rayon::spawn(move || {
                started.send(()).ok();
                // Blocks this pool thread until the test releases it (or gives up).
                let _ = release.lock().map(|r| r.recv_timeout(Duration::from_secs(60)));
            });
        }
        // Once each blocker holds its thread, the pool has none left for a helper. (Helper
        // loops of the other test hand their threads back after their idle spins.)
        for _ in 0..rayon::current_num_threads() {
            started_rx.recv_timeout(Duration::from_secs(30)).expect("pool threads blocked");
        }
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = vec![0u32; 64];
            for _ in 0..100 {
                for_each_chunk_mut_fine(&mut out, 8, |i, piece| piece.iter_mut().for_each(|v| *v += i as u32 + 1));
            }
            done_tx.send(out).ok();
        });
        let out = done_rx.recv_timeout(Duration::from_secs(20));
        for _ in 0..rayon::current_num_threads() {
            release_tx.send(()).ok();
        }
        let out = out.expect("the caller finished without its helpers");
        for (j, v) in out.iter().enumerate() {
            assert_eq!(*v, 100 * (j as u32 / 8 + 1), "value {j}");
        }
    }
}
