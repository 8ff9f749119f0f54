//! Speed of the simd128 f32 matrix products (loupe_model::gemm) next to candle's matmul on
//! the model's shapes, for a few register tiles — printed, not asserted (speed lives in
//! benchmarks, docs/BENCHMARKS.md). Runs in Node (V8, as Chromium), where a long
//! synchronous run does not stall a WebDriver session:
//! `cargo test --release --target wasm32-unknown-unknown -p loupe-web --test gemm_speed -- --nocapture`.
#![cfg(target_arch = "wasm32")]

use candle_core::{Device, Tensor};
use loupe_model::gemm::{matmul_ab_tiled, matmul_abt_tiled};
use wasm_bindgen_test::*;

fn randn(shape: (usize, usize)) -> (Tensor, Vec<f32>) {
    let t = Tensor::randn(0f32, 1.0, shape, &Device::Cpu).expect("randn");
    let v = t.flatten_all().and_then(|f| f.to_vec1::<f32>()).expect("vec");
    (t, v)
}

const SHAPES: [(usize, usize, usize); 8] =
    [(1, 8192, 576), (2, 8192, 576), (64, 576, 576), (64, 192, 576), (64, 1536, 576), (64, 576, 1536), (7, 1536, 576), (128, 576, 1536)];

fn now() -> f64 {
    js_sys::Date::now()
}

/// Milliseconds per call, over enough calls to take ~300 ms.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    let mut reps = 1;
    loop {
        let t0 = now();
        for _ in 0..reps {
            f();
        }
        let dt = now() - t0;
        if dt > 150.0 {
            return dt / reps as f64;
        }
        reps *= 2;
    }
}

#[wasm_bindgen_test]
fn speed_next_to_candle() {
    for &(m, n, k) in &SHAPES {
        let (x, xv) = randn((m, k));
        let (w, wv) = randn((n, k));
        let wt = w.t().expect("t");
        let gflop = 2.0 * (m * n * k) as f64 / 1e9;
        let candle = time(|| {
            let _ = x.matmul(&wt).expect("mm");
        });
        let mut c = vec![0f32; m * n];
        let ours = |f: &mut dyn FnMut(&mut [f32])| {
            let mut c2 = c.clone();
            time(|| f(&mut c2))
        };
        let t33 = ours(&mut |c| matmul_abt_tiled::<2, 6>(&xv, k, &wv, k, c, n, m, n, k));
        let t24 = ours(&mut |c| matmul_abt_tiled::<2, 4>(&xv, k, &wv, k, c, n, m, n, k));
        let t42 = ours(&mut |c| matmul_abt_tiled::<4, 2>(&xv, k, &wv, k, c, n, m, n, k));
        let t34 = ours(&mut |c| matmul_abt_tiled::<2, 5>(&xv, k, &wv, k, c, n, m, n, k));
        c.fill(0.0);
        let (g, gv) = randn((m, n));
        let candle_b = time(|| {
            let _ = g.matmul(&w).expect("mm");
        });
        let mut cb = vec![0f32; m * k];
        let mut oursb = |f: &mut dyn FnMut(&mut [f32])| time(|| f(&mut cb));
        // (From 16 rows on, g·W runs the x·Wᵀ tiles on copied-out columns whatever these say.)
        let b42 = oursb(&mut |c| matmul_ab_tiled::<4, 2>(&gv, n, &wv, k, c, k, m, k, n));
        let b33 = oursb(&mut |c| matmul_ab_tiled::<2, 4>(&gv, n, &wv, k, c, k, m, k, n));
        let b62 = b33;
        let b44 = b33;
        web_sys_log(&format!(
            "{m}x{n}x{k}: x·Wᵀ candle {candle:.3} ms ({:.1} GFLOP/s) | ours 2x6 {t33:.3} 2x4 {t24:.3} 4x2 {t42:.3} 2x5 {t34:.3} ({:.1} GFLOP/s best) || g·W candle {candle_b:.3} ms ({:.1}) | ours 4x2 {b42:.3} 2x4 {b33:.3} ({:.1} best)",
            gflop / candle * 1e3,
            gflop / t33.min(t24).min(t42).min(t34) * 1e3,
            gflop / candle_b * 1e3,
            gflop / b42.min(b33).min(b62).min(b44) * 1e3,
        ));
    }
}

fn web_sys_log(s: &str) {
    wasm_bindgen_test::console_log!("{}", s);
}
