//! The simd128 quantized kernels (loupe_model::qmatmul), which only exist on wasm32, checked
//! in a real browser against two references: candle's own quantized matmul (the same
//! algorithm — 8-bit activations per 32-value block — with f16-rounded activation scales),
//! and the exact f32 product of the dequantized weights, which bounds the error of
//! quantizing the activations.
#![cfg(target_arch = "wasm32")]

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use loupe_model::qmatmul::{QuantMatrix, GEMM_MIN_ROWS};
use std::sync::Arc;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn max_abs(t: &Tensor) -> f32 {
    t.abs().and_then(|a| a.max_all()).and_then(|m| m.to_scalar::<f32>()).expect("max")
}

/// A random `[rows, 576]` matrix in `dtype`, as candle's blocks and as ours.
fn random_matrix(rows: usize, dtype: GgmlDType) -> (Arc<QTensor>, QuantMatrix) {
    let w = Tensor::randn(0f32, 0.05, (rows, 576), &Device::Cpu).expect("w");
    let q = Arc::new(QTensor::quantize(&w, dtype).expect("quantize"));
    let ours = QuantMatrix::new(q.clone()).expect("ours");
    (q, ours)
}

#[wasm_bindgen_test]
fn few_row_kernels_match_candle_and_the_f32_product() {
    let dev = Device::Cpu;
    for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
        // 203 rows: the kernels take four rows at a time, and the last three one by one.
        let (q, ours) = random_matrix(203, dtype);
        let candle = QMatMul::from_arc(q.clone()).expect("candle");
        let exact_w = q.dequantize(&dev).expect("dequantize");
        for rows in 1..GEMM_MIN_ROWS {
            let x = Tensor::randn(0f32, 1.0, (1, rows, 576), &dev).expect("x");
            let got = ours.forward(&x).expect("ours");
            let by_candle = candle.forward(&x).expect("candle");
            let exact = x.broadcast_matmul(&exact_w.t().expect("t")).expect("exact");
            let scale = max_abs(&exact);
            let vs_candle = max_abs(&(&got - &by_candle).expect("diff")) / scale;
            let vs_exact = max_abs(&(&got - &exact).expect("diff")) / scale;
            // Candle quantizes the activations to 8 bits (~1/254 relative error per value,
            // averaging out over 576) with f16 scales; ours to 16 bits with f32 scales.
            assert!(vs_candle < 1e-2, "{dtype:?}, {rows} rows: {vs_candle} of the largest output from candle's");
            assert!(vs_exact < 1e-4, "{dtype:?}, {rows} rows: {vs_exact} of the largest output from f32");
            assert!(vs_exact > 0.0, "the few-rows path must be the integer kernel, not an f32 product");
            if rows == 1 {
                console_log!(
                    "{dtype:?}: ours {vs_exact:.1e} and candle's {:.1e} of the largest output from f32",
                    max_abs(&(&by_candle - &exact).expect("diff")) / scale
                );
            }
        }
    }
}

/// The largest products the i32 lanes can meet: every weight and activation at the ends of
/// their ranges, one sign, in both formats (16-bit activations must not overflow).
#[wasm_bindgen_test]
fn few_row_kernels_do_not_overflow_at_the_ends_of_the_ranges() {
    let dev = Device::Cpu;
    for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
        for sign in [1f32, -1.0] {
            // 0 and ±3 alternating: the Q4_1 blocks hold 0 and 15, the Q8_0 blocks 0 and ±127.
            let w: Vec<f32> = (0..4 * 576).map(|i| if i % 2 == 0 { sign * 3.0 } else { 0.0 }).collect();
            let w = Tensor::from_vec(w, (4, 576), &dev).expect("w");
            let q = Arc::new(QTensor::quantize(&w, dtype).expect("quantize"));
            let ours = QuantMatrix::new(q.clone()).expect("ours");
            let x = Tensor::full(sign * 1e4, (1, 576), &dev).expect("x");
            let got = ours.forward(&x).expect("ours");
            let exact = x.broadcast_matmul(&q.dequantize(&dev).expect("deq").t().expect("t")).expect("exact");
            let err = max_abs(&(&got - &exact).expect("diff")) / max_abs(&exact);
            assert!(err < 1e-4, "{dtype:?}, sign {sign}: {err}");
        }
    }
}

#[wasm_bindgen_test]
fn simd_dequantization_equals_candles_bit_for_bit() {
    let dev = Device::Cpu;
    for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
        let (q, ours) = random_matrix(70, dtype);
        let want: Vec<f32> = q.dequantize(&dev).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1()).expect("candle");
        let mut got = Vec::new();
        ours.dequantize_rows_into(0, 70, &mut got).expect("rows");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "{dtype:?}");
        ours.dequantize_rows_into(13, 5, &mut got).expect("rows");
        assert_eq!(bits(&got), bits(&want[13 * 576..18 * 576]), "{dtype:?}, rows 13..18");
    }
}

#[wasm_bindgen_test]
fn one_job_of_several_products_equals_each_product_alone() {
    let (_, q) = random_matrix(192, GgmlDType::Q4_1);
    let (_, k) = random_matrix(64, GgmlDType::Q4_1);
    let (_, v) = random_matrix(65, GgmlDType::Q8_0);
    let x: Vec<f32> = Tensor::randn(0f32, 1.0, 576, &Device::Cpu).and_then(|t| t.to_vec1()).expect("x");
    let got = QuantMatrix::matvecs(&[&q, &k, &v], &x).expect("matvecs");
    let xt = Tensor::from_slice(&x, (1, 576), &Device::Cpu).expect("x");
    for (m, y) in [&q, &k, &v].into_iter().zip(&got) {
        let want: Vec<f32> = m.forward(&xt).and_then(|t| Ok(t.flatten_all()?.to_vec1()?)).expect("alone");
        // The same kernel on the same 8-bit activations: the same bits.
        assert_eq!(y, &want, "{} rows", m.rows());
    }
    assert!(QuantMatrix::matvecs(&[&q], &x[..100]).is_err(), "a vector of the wrong length");
}

/// The decoding step's attention (`loupe_model::llama::attend`), whose scores and weighted
/// sums take simd128 lanes (relaxed multiply-adds in the relaxed build) only here, against
/// the definition in f64: context lengths that are and are not multiples of four (the
/// kernel takes four cached positions at a time), past the length where it splits across
/// threads, and a head size that is not a multiple of four.
#[wasm_bindgen_test]
fn decoding_attention_matches_the_definition() {
    for (dh, t) in [(64, 1), (64, 7), (64, 42), (64, 200), (6, 9)] {
        let (h, kvh) = (9, 3);
        let r = |n: usize| Tensor::randn(0f32, 1.0, n, &Device::Cpu).and_then(|t| t.to_vec1::<f32>()).expect("random");
        let (q, keys, values) = (r(h * dh), r(t * kvh * dh), r(t * kvh * dh));
        let err = loupe_model::llama::attention_error_against_definition(&q, &keys, &values, h, kvh, dh);
        assert!(err < 1e-5, "t {t}, d_head {dh}: {err}");
    }
}

/// The fused decoding step (loupe_model::llama::decode) against the general path on the tiny
/// model, as this build runs them (our simd128 kernels), both against the f32 model: the
/// two round different ulps into their 8-bit activations (the order of a few f32 sums
/// differs), so their logits differ by up to ~0.02 here; the fused one must be as close to
/// the exact model as the general one (crates/model/tests/decode.rs does the same natively).
#[wasm_bindgen_test]
fn fused_decoding_steps_are_as_accurate_as_the_general_path() {
    use loupe_model::{synthetic::tiny_llama_gguf, GgufFile, KvCache, Llama, NoHooks, WeightMode};
    let file = GgufFile::from_bytes(tiny_llama_gguf(5).expect("gguf")).expect("file");
    let fused = Llama::load(&file, WeightMode::Quantized).expect("load");
    let general = fused.clone().with_fused_decoding(false);
    let exact = Llama::load(&file, WeightMode::F32).expect("load f32");
    let n = fused.cfg.n_layers;
    let (mut a, mut b, mut c) = (KvCache::new(n), KvCache::new(n), KvCache::new(n));
    let (mut error_fused, mut error_general) = (0f32, 0f32);
    let mut ids = vec![5u32, 80, 81, 90, 7, 66];
    for i in 0..16 {
        let input = Tensor::new(ids.as_slice(), &Device::Cpu).and_then(|t| t.unsqueeze(0)).expect("ids");
        let la = fused.forward(&input, &mut NoHooks, Some(&mut a)).expect("fused");
        let lb = general.forward(&input, &mut NoHooks, Some(&mut b)).expect("general");
        let lc = exact.forward(&input, &mut NoHooks, Some(&mut c)).expect("exact");
        assert_eq!(a.fused_layers(), if i == 0 { 0 } else { n }, "step {i}");
        error_fused += max_abs(&(&la - &lc).expect("diff"));
        error_general += max_abs(&(&lb - &lc).expect("diff"));
        let next = lc.squeeze(0).and_then(|t| t.get(ids.len() - 1)).and_then(|t| t.argmax(0)).and_then(|t| t.to_scalar::<u32>());
        ids = vec![next.expect("next")];
    }
    assert!(error_general > 0.0, "the quantized paths must differ from f32");
    assert!(error_fused <= 1.25 * error_general, "mean |Δ logit| against f32: fused {error_fused}, general {error_general} (/16)");
}
