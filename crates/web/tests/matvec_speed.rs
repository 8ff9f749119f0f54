//! Time of the few-rows integer kernels alone (`QuantMatrix::matvecs`, one thread) on
//! decoding's shapes, of decoding's attention (`llama::attend`), and of a plain read loop
//! over as many bytes as a decoding step reads (the most the kernels could stream) —
//! printed, not asserted (speed lives in docs/BENCHMARKS.md). The first two shapes fit in
//! cache when repeated; the unembedding (30 MB) and the 35 MB matrix come from memory, as
//! every weight does in a decoding step.
//! Runs in Node:
//! `cargo test --release --target wasm32-unknown-unknown -p loupe-web --test matvec_speed -- --nocapture`.
#![cfg(target_arch = "wasm32")]

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use loupe_model::qmatmul::QuantMatrix;
use std::sync::Arc;
use wasm_bindgen_test::*;

fn now() -> f64 {
    js_sys::Date::now()
}

/// Milliseconds per call of `f`, the best of 5 rounds of `reps` calls.
fn best_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = now();
        for _ in 0..reps {
            f();
        }
        best = best.min((now() - start) / reps as f64);
    }
    best
}

#[wasm_bindgen_test]
fn matvec_speed() {
    let dev = Device::Cpu;
    for (rows, cols, dtype, what) in [
        (1536, 576, GgmlDType::Q4_1, "gate"),
        (576, 1536, GgmlDType::Q4_1, "down"),
        (49152, 576, GgmlDType::Q8_0, "unembedding"),
        (98304, 576, GgmlDType::Q4_1, "35 MB of Q4_1, from memory"),
    ] {
        let w = Tensor::randn(0f32, 0.05, (rows, cols), &dev).expect("w");
        let m = QuantMatrix::new(Arc::new(QTensor::quantize(&w, dtype).expect("quantize"))).expect("ours");
        let x: Vec<f32> = (0..cols).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
        let best = best_ms((200_000_000 / (rows * cols)).max(3), || {
            let y = QuantMatrix::matvecs(&[&m], &x).expect("matvec");
            assert!(y[0][0].is_finite());
        });
        let bytes = m.qtensor().storage_size_in_bytes();
        console_log!(
            "{what} [{rows}×{cols}] {dtype:?}: {best:.3} ms, {:.2} GMAC/s, {:.2} GB/s of weights",
            (rows * cols) as f64 / best / 1e6,
            bytes as f64 / best / 1e6
        );
    }
}

/// A product whose cost is mostly quantizing its input (`QuantMatrix::matvecs` of a [4×1536]
/// matrix: the down projection's 1536 inputs, four rows): the serial part of every product
/// of a decoding step.
#[wasm_bindgen_test]
fn input_quantization_speed() {
    let w = Tensor::randn(0f32, 0.05, (4, 1536), &Device::Cpu).expect("w");
    let m = QuantMatrix::new(Arc::new(QTensor::quantize(&w, GgmlDType::Q4_1).expect("quantize"))).expect("ours");
    let x: Vec<f32> = (0..1536).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
    let best = best_ms(100_000, || {
        let y = QuantMatrix::matvecs(&[&m], &x).expect("matvec");
        assert!(y[0][0].is_finite());
    });
    console_log!("[4×1536] Q4_1 (mostly quantizing 1536 inputs): {:.2} µs", best * 1e3);
}

/// The decoding step's attention (`loupe_model::llama::attend`) on the default model's
/// heads (9 query heads, 3 kv heads of 64) at a few context lengths: multiply-adds of the
/// scores and the weighted sum of values per second, on one thread.
#[wasm_bindgen_test]
fn attention_speed() {
    let (h, kvh, dh) = (9, 3, 64);
    for t in [16usize, 42, 74, 200] {
        let r = |n: usize| Tensor::randn(0f32, 1.0, n, &Device::Cpu).and_then(|t| t.to_vec1::<f32>()).expect("random");
        let (q, keys, values) = (r(h * dh), r(t * kvh * dh), r(t * kvh * dh));
        let best = best_ms(200_000 / t, || {
            let z = loupe_model::llama::attend(&q, &keys, &values, h, kvh, dh);
            assert!(z[0].is_finite());
        });
        console_log!("attention, {t} positions: {:.2} µs, {:.2} GMAC/s", best * 1e3, (2 * h * t * dh) as f64 / best / 1e6);
    }
}

/// XOR of every 16 bytes, 64 at a time: wasm's sequential read bandwidth here.
#[wasm_bindgen_test]
#[allow(unsafe_code)]
fn streaming_read_speed() {
    use core::arch::wasm32::*;
    for mb in [16usize, 84] {
        let data: Vec<u8> = (0..mb << 20).map(|i| i as u8).collect();
        let mut best = f64::MAX;
        let mut keep = 0i32;
        for _ in 0..10 {
            let t = now();
            let mut acc = [i32x4_splat(0); 4];
            for c in data.chunks_exact(64) {
                for (k, a) in acc.iter_mut().enumerate() {
                    // SAFETY: 16 bytes at 16k of a 64-byte chunk.
                    *a = v128_xor(*a, unsafe { v128_load(c.as_ptr().add(16 * k) as *const v128) });
                }
            }
            keep ^= i32x4_extract_lane::<0>(v128_xor(v128_xor(acc[0], acc[1]), v128_xor(acc[2], acc[3])));
            best = best.min(now() - t);
        }
        console_log!("stream {mb} MB: {:.2} GB/s ({keep})", (mb << 20) as f64 / best / 1e6);
    }
}
