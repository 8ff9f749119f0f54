//! The simd128 f32 matrix products (loupe_model::gemm) in a real browser: equal to candle's
//! matmul to f32 rounding on the model's shapes (their speed: tests/gemm_speed.rs).
#![cfg(target_arch = "wasm32")]

use candle_core::{Device, Tensor};
use loupe_model::gemm::{matmul_ab, matmul_abt};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn randn(shape: (usize, usize)) -> (Tensor, Vec<f32>) {
    let t = Tensor::randn(0f32, 1.0, shape, &Device::Cpu).expect("randn");
    let v = t.flatten_all().and_then(|f| f.to_vec1::<f32>()).expect("vec");
    (t, v)
}

fn rel_err(got: &[f32], want: &Tensor) -> f32 {
    let want = want.flatten_all().and_then(|f| f.to_vec1::<f32>()).expect("vec");
    let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
    got.iter().zip(&want).fold(0f32, |a, (g, w)| a.max((g - w).abs())) / scale
}

/// The model's products: q/o (576→576), k/v (576→192), gate/up (576→1536), down (1536→576),
/// with 64 rows (a 64-token prompt), 7 and 2 rows (edge tiles, no packing), and sizes off
/// every tile and vector edge (odd columns, k not a multiple of 4, one row).
const SHAPES: [(usize, usize, usize); 10] = [
    (64, 576, 576),
    (64, 192, 576),
    (64, 1536, 576),
    (64, 576, 1536),
    (7, 1536, 576),
    (128, 576, 1536),
    (2, 576, 576),
    (9, 13, 33),
    (80, 45, 17),
    (1, 7, 5),
];

#[wasm_bindgen_test]
fn both_products_equal_candles_matmul() {
    for &(m, n, k) in &SHAPES {
        let (x, xv) = randn((m, k));
        let (w, wv) = randn((n, k));
        let want = x.matmul(&w.t().expect("t")).expect("candle");
        let mut c = vec![0f32; m * n];
        matmul_abt(&xv, k, &wv, k, &mut c, n, m, n, k);
        let err = rel_err(&c, &want);
        assert!(err < 1e-5, "x·Wᵀ {m}×{n}×{k}: {err} of the largest value from candle's");
        // The input gradient's shape: g [m, n] · W [n, k].
        let (g, gv) = randn((m, n));
        let want = g.matmul(&w).expect("candle");
        let mut c = vec![0f32; m * k];
        matmul_ab(&gv, n, &wv, k, &mut c, k, m, k, n);
        let err = rel_err(&c, &want);
        assert!(err < 1e-5, "g·W {m}×{k}×{n}: {err} of the largest value from candle's");
    }
}

/// scripts/test.sh builds these tests twice, plain and as dist/relaxed/ is built, and says
/// which through LOUPE_EXPECT_SIMD: the kernels must be the ones that build ships.
#[wasm_bindgen_test]
fn the_kernels_are_the_builds_own() {
    if let Some(expected) = option_env!("LOUPE_EXPECT_SIMD") {
        let got = if loupe_model::gemm::RELAXED_SIMD { "relaxed" } else { "simd128" };
        assert_eq!(got, expected);
    }
}
