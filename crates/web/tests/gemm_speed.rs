//! Speed of the simd128 f32 matrix products (loupe_model::gemm) next to candle's matmul on
//! the model's shapes, for a few register tiles of `x·Wᵀ` — printed, not asserted (speed lives in
//! benchmarks, docs/BENCHMARKS.md). Runs in Node (V8, as Chromium), where a long
//! synchronous run does not stall a WebDriver session:
//! `cargo test --release --target wasm32-unknown-unknown -p loupe-web --test gemm_speed -- --nocapture`.
#![cfg(target_arch = "wasm32")]

use candle_core::{Device, Tensor};
use loupe_model::gemm::{matmul_ab, matmul_abt_tiled};
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
        // x·Wᵀ with a few register tiles (rows of x × rows of W).
        let mut c = vec![0f32; m * n];
        let tiles: [(&str, f64); 4] = [
            ("2x4", time(|| matmul_abt_tiled::<2, 4>(&xv, k, &wv, k, &mut c, n, m, n, k))),
            ("4x2", time(|| matmul_abt_tiled::<4, 2>(&xv, k, &wv, k, &mut c, n, m, n, k))),
            ("2x5", time(|| matmul_abt_tiled::<2, 5>(&xv, k, &wv, k, &mut c, n, m, n, k))),
            ("2x6", time(|| matmul_abt_tiled::<2, 6>(&xv, k, &wv, k, &mut c, n, m, n, k))),
        ];
        let best = tiles.iter().fold(f64::INFINITY, |a, t| a.min(t.1));
        let tiles: Vec<String> = tiles.iter().map(|(name, ms)| format!("{name} {ms:.3}")).collect();
        // g·W as the model runs it (from 16 rows on: columns copied out, then the x·Wᵀ tiles).
        let (g, gv) = randn((m, n));
        let candle_b = time(|| {
            let _ = g.matmul(&w).expect("mm");
        });
        let mut cb = vec![0f32; m * k];
        let ours_b = time(|| matmul_ab(&gv, n, &wv, k, &mut cb, k, m, k, n));
        web_sys_log(&format!(
            "{m}x{n}x{k}: x·Wᵀ candle {candle:.3} ms ({:.1} GFLOP/s) | ours {} ({:.1} GFLOP/s best) || g·W candle {candle_b:.3} ms ({:.1}) | ours {ours_b:.3} ms ({:.1})",
            gflop / candle * 1e3,
            tiles.join(" "),
            gflop / best * 1e3,
            gflop / candle_b * 1e3,
            gflop / ours_b * 1e3,
        ));
    }
}

fn web_sys_log(s: &str) {
    wasm_bindgen_test::console_log!("{}", s);
}

/// The decode kernels (loupe_model::qmatmul, one row of x): the model's block shapes in
/// Q4_1 and the unembedding in Q8_0, next to candle's quantized matmul.
#[wasm_bindgen_test]
fn matvec_speed_next_to_candle() {
    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::Module;
    use loupe_model::qmatmul::QuantMatrix;
    use std::sync::Arc;
    for (rows, cols, dtype) in
        [(576, 576, GgmlDType::Q4_1), (1536, 576, GgmlDType::Q4_1), (576, 1536, GgmlDType::Q4_1), (49152, 576, GgmlDType::Q8_0)]
    {
        let (w, _) = randn((rows, cols));
        let q = Arc::new(QTensor::quantize(&w, dtype).expect("quantize"));
        let ours = QuantMatrix::new(q.clone()).expect("ours");
        let candle = QMatMul::from_arc(q).expect("candle");
        let (x, _) = randn((1, cols));
        let t_ours = time(|| {
            let _ = ours.forward(&x).expect("ours");
        });
        let t_candle = time(|| {
            let _ = candle.forward(&x).expect("candle");
        });
        let gops = 2.0 * (rows * cols) as f64 / 1e9;
        web_sys_log(&format!(
            "{dtype:?} {rows}x{cols} · x: ours {t_ours:.3} ms ({:.1} GOP/s) | candle {t_candle:.3} ms",
            gops / t_ours * 1e3
        ));
    }
}
