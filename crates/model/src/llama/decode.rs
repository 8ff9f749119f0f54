//! The decoding step's fused path: one new token through a block that no hook looks into.
//!
//! Generating a token runs every block on one position. Through the general path
//! (`Llama::block_forward`, candle ops on tensors) that is some 30 small ops per block, each
//! allocating its result, seven matrix-vector products, each its own threaded job, and a
//! KV cache concatenated into new tensors (and repeated per query head) every token. With
//! the products split across threads, that serial work and the job boundaries were what
//! held two threads to ~1.5× one (docs/BENCHMARKS.md). Here the block is loops over
//! slices: q, k and v come from one threaded job, as do gate and up (four jobs per block),
//! and each token appends its keys and values to the layer's rows in place
//! (`LayerKv::Rows`). The same math as the general path (RMSNorm, rotate-half RoPE,
//! max-shifted softmax, SiLU gate), though not bit for bit: a few f32 sums run in another
//! order. Tests compare both paths with the f32 model token by token
//! (`crates/model/tests/decode.rs`; in the browser `crates/web/tests/kernels.rs`), and
//! block by block on the tiny model (below).
//!
//! Taken only where nothing can tell the difference (`Llama::decodes_fused`): one sequence,
//! one new position, a KV cache, block-quantized weights, no gradients, and
//! `Hooks::wants` false at every site of the block, which promises that `on` would pass
//! every activation on untouched and record nothing. A steered generation keeps the
//! general path in the steered block only.

use super::attention::attend;
use super::{Block, LayerKv, Linear, Llama, RmsNorm};
use crate::error::{LoupeError, Result};
use crate::fused::{dot, sigmoid};
use crate::hooks::{BlockSite, HookPoint, Hooks};
use crate::qmatmul::QuantMatrix;
use candle_core::Tensor;

impl Llama {
    /// Whether block `l` may take `decode_block` for the residual stream `x` (the caller
    /// has a KV cache).
    pub(super) fn decodes_fused(&self, l: usize, block: &Block, x: &Tensor, hooks: &dyn Hooks) -> bool {
        self.fused_decoding
            && !self.differentiable
            && x.dims3().is_ok_and(|(b, p, _)| b == 1 && p == 1)
            && block.quantized().is_some()
            && !BlockSite::ALL.iter().any(|&s| hooks.wants(HookPoint::Block(l, s)))
    }

    /// RoPE's cos and sin for position `offset`, read once per token for all the blocks.
    pub(super) fn rope_row(&self, offset: usize) -> Result<RopeRow> {
        Ok(RopeRow { cos: self.cos.get(offset)?.to_vec1::<f32>()?, sin: self.sin.get(offset)?.to_vec1::<f32>()? })
    }

    /// Block `block` on the residual stream `resid` (`d_model` floats, updated in place) at
    /// position `offset`, whose RoPE row is `rope_row`, appending that position's keys and
    /// values to `kv`.
    pub(super) fn decode_block(
        &self,
        block: &Block,
        resid: &mut [f32],
        rope_row: &RopeRow,
        kv: &mut Option<LayerKv>,
        offset: usize,
    ) -> Result<()> {
        let cfg = &self.cfg;
        let (h, kvh, dh) = (cfg.n_heads, cfg.n_kv_heads, cfg.d_head);
        let [wq, wk, wv, wo, gate, up, down] = block.quantized().ok_or_else(|| step_error("weights are not quantized"))?;
        if resid.len() != cfg.d_model {
            return Err(step_error(&format!("a residual stream of {} values for d_model {}", resid.len(), cfg.d_model)));
        }

        // Attention (`Llama::attention` with one query position).
        let attn_in = rms_norm(resid, &block.ln1);
        let [mut q, mut k, v]: [Vec<f32>; 3] =
            QuantMatrix::matvecs(&[wq, wk, wv], &attn_in)?.try_into().map_err(|_| step_error("q, k, v"))?;
        let (cos, sin) = (&rope_row.cos, &rope_row.sin);
        q.chunks_exact_mut(dh).for_each(|head| rope(head, cos, sin));
        k.chunks_exact_mut(dh).for_each(|head| rope(head, cos, sin));
        let (keys, values) = append_rows(kv, &k, &v, kvh, dh)?;
        let t = keys.len() / (kvh * dh);
        if t != offset + 1 {
            return Err(step_error(&format!("the cache holds {t} positions at position {offset}")));
        }
        let z = attend(&q, keys, values, h, kvh, dh);
        let attn_out = QuantMatrix::matvecs(&[wo], &z)?.concat();
        resid.iter_mut().zip(&attn_out).for_each(|(r, a)| *r += a);

        // MLP (`Llama::mlp`): down(silu(gate(x)) ⊙ up(x)).
        let mlp_in = rms_norm(resid, &block.ln2);
        let [pre, pre_linear]: [Vec<f32>; 2] =
            QuantMatrix::matvecs(&[gate, up], &mlp_in)?.try_into().map_err(|_| step_error("gate, up"))?;
        let post: Vec<f32> = pre.iter().zip(&pre_linear).map(|(&a, &b)| a * sigmoid(a) * b).collect();
        let mlp_out = QuantMatrix::matvecs(&[down], &post)?.concat();
        resid.iter_mut().zip(&mlp_out).for_each(|(r, m)| *r += m);
        Ok(())
    }
}

/// RoPE's cos and sin (`d_head / 2` each) for one position.
pub(super) struct RopeRow {
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Block {
    /// The seven matrices in forward order, when all are block-quantized.
    fn quantized(&self) -> Option<[&QuantMatrix; 7]> {
        fn q(l: &Linear) -> Option<&QuantMatrix> {
            match l {
                Linear::Quant(m) => Some(m),
                Linear::F32(_) => None,
            }
        }
        let (a, m) = (&self.attn, &self.mlp);
        Some([q(&a.wq)?, q(&a.wk)?, q(&a.wv)?, q(&a.wo)?, q(&m.gate)?, q(&m.up)?, q(&m.down)?])
    }
}

fn step_error(what: &str) -> LoupeError {
    LoupeError::InvalidModel(format!("decoding step: {what}"))
}

/// `w ⊙ x / sqrt(mean(x²) + eps)`, as `fused::rms_norm`.
fn rms_norm(x: &[f32], norm: &RmsNorm) -> Vec<f32> {
    let r = 1.0 / (dot(x, x) / x.len() as f32 + norm.eps as f32).sqrt();
    x.iter().zip(&norm.gain).map(|(&v, &g)| v * r * g).collect()
}

/// Rotate-half RoPE on one head in place (HF's `apply_rotary_pos_emb`, as `fused::rope`):
/// (x₁, x₂) → (x₁ cos − x₂ sin, x₂ cos + x₁ sin) with `cos`, `sin` of this position.
fn rope(head: &mut [f32], cos: &[f32], sin: &[f32]) {
    let (x1, x2) = head.split_at_mut(cos.len());
    for (((a, b), &c), &s) in x1.iter_mut().zip(x2.iter_mut()).zip(cos).zip(sin) {
        let (u, w) = (*a, *b);
        *a = u * c - w * s;
        *b = w * c + u * s;
    }
}

/// Appends one position's keys and values to the layer's rows (turning tensors cached by
/// the general path, batch 1, into rows first) and returns all of them.
fn append_rows<'a>(kv: &'a mut Option<LayerKv>, k: &[f32], v: &[f32], kvh: usize, dh: usize) -> Result<(&'a [f32], &'a [f32])> {
    let rows = match kv.take() {
        None => LayerKv::Rows { k: Vec::new(), v: Vec::new(), kv_heads: kvh, d_head: dh },
        Some(LayerKv::Tensors(tk, tv)) => {
            // [1, kv, t, dh] → [t, kv, dh]
            let rows = |t: &Tensor| -> Result<Vec<f32>> { Ok(t.squeeze(0)?.transpose(0, 1)?.flatten_all()?.to_vec1::<f32>()?) };
            if tk.dim(0)? != 1 {
                return Err(step_error("a cache of several sequences"));
            }
            LayerKv::Rows { k: rows(&tk)?, v: rows(&tv)?, kv_heads: kvh, d_head: dh }
        }
        Some(rows) => rows,
    };
    *kv = Some(rows);
    match kv {
        Some(LayerKv::Rows { k: keys, v: values, .. }) => {
            keys.extend_from_slice(k);
            values.extend_from_slice(v);
            Ok((keys, values))
        }
        _ => Err(step_error("cache")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::NoHooks;
    use crate::synthetic::tiny_llama_gguf;
    use crate::{GgufFile, KvCache, WeightMode};
    use candle_core::Device;

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).and_then(|d| d.abs()).and_then(|d| d.max_all()).and_then(|d| d.to_scalar::<f32>()).expect("diff")
    }

    /// On the tiny model (whose activations flip no 8-bit rounding between the two paths),
    /// after a 5-token prompt: each fused block, chained, equals the general block, chained,
    /// and appends the same keys and values.
    #[test]
    fn fused_blocks_equal_the_general_blocks() {
        let file = GgufFile::from_bytes(tiny_llama_gguf(3).expect("gguf")).expect("file");
        let m = Llama::load(&file, WeightMode::Quantized).expect("load");
        let ids = Tensor::new(&[[5u32, 80, 81, 90, 7]], &Device::Cpu).expect("ids");
        let mut cache = KvCache::new(m.cfg.n_layers);
        m.forward(&ids, &mut NoHooks, Some(&mut cache)).expect("prefill");
        let x = m.embed(&Tensor::new(&[[42u32]], &Device::Cpu).expect("id")).expect("embed");
        let (mut xa, mut xb) = (x.clone(), x);
        for (l, block) in m.blocks.iter().enumerate() {
            let (mut a, mut b) = (cache.layers[l].clone(), cache.layers[l].clone());
            let mut resid = xa.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("resid");
            m.decode_block(block, &mut resid, &m.rope_row(5).expect("rope"), &mut a, 5).expect("fused");
            xa = Tensor::from_vec(resid, xb.dims(), &Device::Cpu).expect("x");
            xb = m.block_forward(l, block, &xb, &mut NoHooks, Some(&mut b), 5).expect("general");
            let d = max_diff(&xa, &xb);
            assert!(d < 1e-5, "block {l}: {d}");
            let (ka, va) = a.expect("a").tensors().expect("ta");
            let (kb, vb) = b.expect("b").tensors().expect("tb");
            for (p, q) in [(ka, kb), (va, vb)] {
                assert_eq!(p.dims(), q.dims());
                let d = max_diff(&p, &q);
                assert!(d < 1e-5, "block {l} cache: {d}");
            }
        }
    }

    #[test]
    fn a_cache_out_of_step_is_an_error_not_a_wrong_answer() {
        let file = GgufFile::from_bytes(tiny_llama_gguf(3).expect("gguf")).expect("file");
        let m = Llama::load(&file, WeightMode::Quantized).expect("load");
        let x = m.embed(&Tensor::new(&[[42u32]], &Device::Cpu).expect("id")).expect("embed");
        let mut empty = None;
        let mut resid = x.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("resid");
        let err = m
            .decode_block(&m.blocks[0], &mut resid, &m.rope_row(3).expect("rope"), &mut empty, 3)
            .expect_err("position 3 with an empty cache");
        assert!(err.to_string().contains("the cache holds 1 positions at position 3"), "{err}");
    }
}
