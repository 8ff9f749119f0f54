//! A Llama-family decoder (Touvron et al. 2023, "LLaMA") with a hook at every
//! TransformerLens site: RMSNorm (Zhang & Sennrich 2019), rotary position embeddings
//! (Su et al. 2021), grouped-query attention (Ainslie et al. 2023), SiLU-gated MLP
//! (Shazeer 2020), tied embeddings. Reads top-down: weights → components → model.
//!
//! Two weight modes: `Quantized` keeps the file's blocks (fast), `F32` dequantizes every
//! matrix (exact, and the mode gradients use). RMSNorm, RoPE, the causal softmax and the
//! SiLU gate run as our fused kernels (`fused`), which unlike candle's have a backward
//! pass (candle issues #2168, #3011); where a hook asks for an activation a fused kernel
//! skips (`hook_scale`, `hook_normalized`, `hook_attn_scores`) the plain ops run instead.
//! With `differentiable` set, the matrix products also get a backward pass (input only).

use crate::config::LlamaConfig;
use crate::error::{bad_input, LoupeError, Result};
use crate::gguf::GgufFile;
use crate::hooks::{BlockSite as S, HookPoint, Hooks};
use crate::qmatmul::QuantMatrix;
use candle_core::quantized::{ggml_file::qtensor_from_ggml, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

mod attention;
mod decode;
pub use attention::{attend, max_error_against_definition as attention_error_against_definition};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum WeightMode {
    /// The file's own blocks (Q4_1 for the default model).
    #[default]
    Quantized,
    /// Every quantized matrix re-encoded to Q8_0 at load: candle has SIMD kernels for Q8_0
    /// (x86 AVX, wasm simd128) but none for Q4_1. Costs about 1.9× the memory of Q4_1.
    Q8,
    /// Dequantized to f32: exact, and the mode gradients use.
    F32,
}

impl std::str::FromStr for WeightMode {
    type Err = LoupeError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "quantized" => Ok(Self::Quantized),
            "q8" => Ok(Self::Q8),
            "f32" => Ok(Self::F32),
            _ => Err(bad_input(format!("unknown weight mode '{s}' (use 'quantized', 'q8' or 'f32')"))),
        }
    }
}

/// A weight matrix `[out, in]`, applied as `x @ W^T`: block-quantized (see `qmatmul` for
/// its kernels) or f32.
#[derive(Clone, Debug)]
enum Linear {
    Quant(QuantMatrix),
    F32(Tensor),
}

impl Linear {
    fn new(q: QTensor, mode: WeightMode) -> Result<Self> {
        Ok(match mode {
            WeightMode::Quantized => Linear::Quant(QuantMatrix::new(Arc::new(q))?),
            WeightMode::Q8 => Linear::Quant(QuantMatrix::new(Arc::new(to_q8(q)?))?),
            WeightMode::F32 => Linear::F32(q.dequantize(&Device::Cpu)?),
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Linear::Quant(q) => q.forward(x),
            Linear::F32(w) if crate::gemm::PREFERRED || crate::parallel::threads() > 1 => Ok(InputGradLinear::forward_2d(x, w)?),
            Linear::F32(w) => Ok(QMatMul::Tensor(w.clone()).forward(x)?),
        }
    }

    /// The whole matrix in f32 (for reading single columns or rows).
    fn dequantized(&self) -> Result<Tensor> {
        match self {
            Linear::Quant(q) => Ok(q.qtensor().dequantize(&Device::Cpu)?),
            Linear::F32(w) => Ok(w.clone()),
        }
    }

    /// `x @ W^T` with a backward pass for `x` only. candle's own matmul backward also
    /// computes the weight's gradient (`[batch, in, out]` for a broadcast weight) even when
    /// nothing asks for it: for input attribution that is wasted work and memory.
    fn forward_input_grad(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Linear::F32(w) => Ok(x.contiguous()?.apply_op1(InputGradLinear(w.clone()))?),
            Linear::Quant(_) => Err(bad_input("gradients need the f32 weights (weights=f32)")),
        }
    }
}

/// The custom op behind `Linear::forward_input_grad`: forward `x @ W^T`, backward `g @ W`.
struct InputGradLinear(Tensor);

impl InputGradLinear {
    /// `x @ wᵀ`: our wasm GEMM where it is the faster, else candle's split across threads.
    fn forward_2d(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
        match crate::gemm::PREFERRED {
            true => crate::gemm::linear(x, w).map_err(to_candle),
            false => Self::matmul_2d(x, &w.t()?),
        }
    }

    /// `g @ w`, the input gradient of `forward_2d`.
    fn backward_2d(g: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
        match crate::gemm::PREFERRED {
            true => crate::gemm::linear_input_grad(g, w).map_err(to_candle),
            false => Self::matmul_2d(&g.contiguous()?, w),
        }
    }

    fn matmul_2d(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
        let dims = x.dims().to_vec();
        let (last, lead) = dims.split_last().ok_or_else(|| candle_core::Error::Msg("scalar input".into()))?;
        let x2 = x.reshape((lead.iter().product::<usize>(), *last))?.contiguous()?;
        let y = crate::parallel::matmul_rows(&x2, w).map_err(to_candle)?;
        let mut out = lead.to_vec();
        out.push(y.dim(1)?);
        y.reshape(out)
    }
}

impl candle_core::CustomOp1 for InputGradLinear {
    fn name(&self) -> &'static str {
        "input-grad-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let values = crate::fused::values(storage, layout)?;
        if crate::gemm::PREFERRED {
            // Straight from the input's storage into the output's: no copy either side.
            let (n, _k) = self.0.dims2()?;
            let lead = layout.dims().split_last().map(|(_, lead)| lead).unwrap_or(&[]);
            let y = crate::gemm::linear_values(values, &self.0).map_err(to_candle)?;
            return Ok((candle_core::CpuStorage::F32(y), [lead, &[n]].concat().into()));
        }
        let x = Tensor::from_slice(values, layout.shape(), &Device::Cpu)?;
        let y = Self::forward_2d(&x, &self.0)?;
        let shape = y.shape().clone();
        Ok((candle_core::CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?), shape))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(Self::backward_2d(grad_res, &self.0)?))
    }
}

fn to_candle(e: crate::error::LoupeError) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

/// Re-encodes a block-quantized matrix as Q8_0 (through f32); F32/F16 and Q8_0 stay as they are.
fn to_q8(q: QTensor) -> Result<QTensor> {
    use candle_core::quantized::GgmlDType;
    match q.dtype() {
        GgmlDType::Q8_0 | GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => Ok(q),
        _ => Ok(QTensor::quantize(&q.dequantize(&Device::Cpu)?, GgmlDType::Q8_0)?),
    }
}

/// The token embedding, also the unembedding (SmolLM2 ties them).
#[derive(Clone, Debug)]
enum Embedding {
    /// Rows are dequantized only for the tokens looked up; the full `[vocab, d]` matrix is
    /// never materialised in f32.
    Quantized(Arc<QTensor>),
    F32(Tensor),
}

impl Embedding {
    fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Embedding::Quantized(q) => q.embedding(ids)?,
            Embedding::F32(w) => {
                let (b, p) = ids.dims2()?;
                w.index_select(&ids.flatten_all()?, 0)?.reshape((b, p, ()))?
            }
        })
    }
}

/// Undo llama.cpp's row permutation of `attn_q`/`attn_k` (convert_hf_to_gguf.py `permute`),
/// so heads use HF's rotate-half RoPE layout and `hook_q`/`hook_k` match TransformerLens.
/// GGUF row `h*dh + 2j + s` holds HF row `h*dh + s*dh/2 + j`. Rows are whole quantized
/// blocks, so this is a byte shuffle that works for every format.
fn unpermute_qk(file: &GgufFile, name: &str, n_heads: usize) -> Result<QTensor> {
    let (info, raw) = file.tensor_bytes(name)?;
    let dims = info.shape.dims().to_vec();
    let rows = dims[0];
    if rows % n_heads != 0 || raw.len() % rows != 0 {
        return Err(LoupeError::InvalidModel(format!("{name}: {rows} rows for {n_heads} heads")));
    }
    let row_bytes = raw.len() / rows;
    let dh = rows / n_heads;
    let mut out = vec![0u8; raw.len()];
    for h in 0..n_heads {
        for s in 0..2 {
            for j in 0..dh / 2 {
                let src = h * dh + 2 * j + s;
                let dst = h * dh + s * dh / 2 + j;
                out[dst * row_bytes..(dst + 1) * row_bytes].copy_from_slice(&raw[src * row_bytes..(src + 1) * row_bytes]);
            }
        }
    }
    Ok(qtensor_from_ggml(info.ggml_dtype, &out, dims, &Device::Cpu)?)
}

/// RMSNorm split as TransformerLens splits it: `hook_scale` = sqrt(mean(x²) + eps)
/// `[batch, pos, 1]`, `hook_normalized` = x / scale; the gain is applied afterwards.
#[derive(Clone, Debug)]
struct RmsNorm {
    weight: Tensor,
    /// `weight` as floats, for the decoding step's slice loops (`decode::rms_norm`), so a
    /// generated token does not copy 60 gains out of their tensors.
    gain: Vec<f32>,
    eps: f64,
}

impl RmsNorm {
    fn forward(
        &self,
        x: &Tensor,
        hooks: &mut dyn Hooks,
        (scale_hook, normalized_hook): (HookPoint, HookPoint),
        offset: usize,
    ) -> Result<Tensor> {
        if !hooks.wants(scale_hook) && !hooks.wants(normalized_hook) {
            return Ok(crate::fused::rms_norm(x, &self.weight, self.eps)?);
        }
        let scale = (x.sqr()?.mean_keepdim(D::Minus1)? + self.eps)?.sqrt()?;
        let scale = hooks.on(scale_hook, scale, offset)?;
        let normalized = hooks.on(normalized_hook, x.broadcast_div(&scale)?, offset)?;
        Ok(normalized.broadcast_mul(&self.weight)?)
    }
}

/// Per-layer keys and values after RoPE.
#[derive(Clone, Debug, Default)]
pub struct KvCache {
    layers: Vec<Option<LayerKv>>,
    len: usize,
}

/// One layer's cached keys and values, in the form of the path that last ran the layer.
#[derive(Clone, Debug)]
enum LayerKv {
    /// `[batch, kv_head, pos, d_head]`: what the general path attends with.
    Tensors(Tensor, Tensor),
    /// Batch 1, `[pos, kv_head, d_head]` row-major, grown in place: the decoding step's form
    /// (`decode`), where a new token appends its row instead of copying the whole cache.
    Rows { k: Vec<f32>, v: Vec<f32>, kv_heads: usize, d_head: usize },
}

impl LayerKv {
    /// As `[batch, kv_head, pos, d_head]` tensors (a copy for `Rows`).
    fn tensors(&self) -> Result<(Tensor, Tensor)> {
        match self {
            LayerKv::Tensors(k, v) => Ok((k.clone(), v.clone())),
            LayerKv::Rows { k, v, kv_heads, d_head } => {
                let t = k.len() / (kv_heads * d_head);
                let shaped = |x: &[f32]| -> Result<Tensor> {
                    Ok(Tensor::from_slice(x, (1, t, *kv_heads, *d_head), &Device::Cpu)?.transpose(1, 2)?.contiguous()?)
                };
                Ok((shaped(k)?, shaped(v)?))
            }
        }
    }

    /// The first `len` positions only: views of tensors, a copy of rows.
    fn prefix(&self, len: usize) -> Result<LayerKv> {
        Ok(match self {
            LayerKv::Tensors(k, v) => LayerKv::Tensors(k.narrow(2, 0, len)?, v.narrow(2, 0, len)?),
            LayerKv::Rows { k, v, kv_heads, d_head } => {
                let n = len * kv_heads * d_head;
                LayerKv::Rows { k: k[..n].to_vec(), v: v[..n].to_vec(), kv_heads: *kv_heads, d_head: *d_head }
            }
        })
    }
}

impl KvCache {
    pub fn new(n_layers: usize) -> Self {
        Self { layers: vec![None; n_layers], len: 0 }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many layers hold their keys and values as rows, i.e. ran their last step through
    /// the fused decoding path (`decode`).
    pub fn fused_layers(&self) -> usize {
        self.layers.iter().filter(|l| matches!(l, Some(LayerKv::Rows { .. }))).count()
    }

    /// The keys and values of the first `len` positions only. Causal attention makes them
    /// what a run on those positions alone would have cached.
    pub fn prefix(&self, len: usize) -> Result<Self> {
        if len > self.len {
            return Err(bad_input(format!("a prefix of {len} positions from a cache of {}", self.len)));
        }
        let layers = self
            .layers
            .iter()
            .map(|layer| match layer {
                Some(kv) if len > 0 => Ok(Some(kv.prefix(len)?)),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        Ok(Self { layers, len })
    }
}

#[derive(Clone, Debug)]
struct Attention {
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
}

#[derive(Clone, Debug)]
struct Mlp {
    gate: Linear,
    up: Linear,
    down: Linear,
}

#[derive(Clone, Debug)]
struct Block {
    ln1: RmsNorm,
    attn: Attention,
    ln2: RmsNorm,
    mlp: Mlp,
}

#[derive(Clone, Debug)]
pub struct Llama {
    pub cfg: LlamaConfig,
    pub mode: WeightMode,
    embedding: Embedding,
    blocks: Vec<Block>,
    ln_final: RmsNorm,
    unembed: Linear,
    /// RoPE tables `[context, d_head/2]`.
    cos: Tensor,
    sin: Tensor,
    differentiable: bool,
    /// Whether single-token steps may take the fused decoding path (`decode`).
    fused_decoding: bool,
}

impl Llama {
    pub fn load(file: &GgufFile, mode: WeightMode) -> Result<Self> {
        let cfg = LlamaConfig::from_gguf(file)?;
        let dev = Device::Cpu;
        let norm = |name: &str| -> Result<RmsNorm> {
            let weight = file.qtensor(name)?.dequantize(&dev)?;
            if weight.dims() != [cfg.d_model] {
                return Err(LoupeError::InvalidModel(format!("{name} has shape {:?}", weight.dims())));
            }
            let gain = weight.to_vec1::<f32>()?;
            Ok(RmsNorm { weight, gain, eps: cfg.rms_norm_eps })
        };
        let linear = |name: &str, out: usize, inp: usize| -> Result<Linear> {
            let q = file.qtensor(name)?;
            check_dims(name, q.shape().dims(), &[out, inp])?;
            Linear::new(q, mode)
        };
        let (d, dh) = (cfg.d_model, cfg.d_head);
        // The largest tensor first: its transient copies (file bytes, then blocks) leave a
        // hole at the bottom of the heap that the smaller matrices then fill, instead of
        // growing wasm memory (which never shrinks) by its size once more at the end.
        let embed_q = file.qtensor("token_embd.weight")?;
        check_dims("token_embd.weight", embed_q.shape().dims(), &[cfg.vocab_size, d])?;
        let mut blocks = Vec::with_capacity(cfg.n_layers);
        for l in 0..cfg.n_layers {
            let p = |s: &str| format!("blk.{l}.{s}");
            let wq = unpermute_qk(file, &p("attn_q.weight"), cfg.n_heads)?;
            let wk = unpermute_qk(file, &p("attn_k.weight"), cfg.n_kv_heads)?;
            check_dims(&p("attn_q.weight"), wq.shape().dims(), &[cfg.n_heads * dh, d])?;
            check_dims(&p("attn_k.weight"), wk.shape().dims(), &[cfg.n_kv_heads * dh, d])?;
            blocks.push(Block {
                ln1: norm(&p("attn_norm.weight"))?,
                attn: Attention {
                    wq: Linear::new(wq, mode)?,
                    wk: Linear::new(wk, mode)?,
                    wv: linear(&p("attn_v.weight"), cfg.n_kv_heads * dh, d)?,
                    wo: linear(&p("attn_output.weight"), d, cfg.n_heads * dh)?,
                },
                ln2: norm(&p("ffn_norm.weight"))?,
                mlp: Mlp {
                    gate: linear(&p("ffn_gate.weight"), cfg.d_mlp, d)?,
                    up: linear(&p("ffn_up.weight"), cfg.d_mlp, d)?,
                    down: linear(&p("ffn_down.weight"), d, cfg.d_mlp)?,
                },
            });
        }
        let (embedding, unembed) = match mode {
            WeightMode::Quantized | WeightMode::Q8 => {
                let q = Arc::new(if mode == WeightMode::Q8 { to_q8(embed_q)? } else { embed_q });
                (Embedding::Quantized(q.clone()), Linear::Quant(QuantMatrix::new(q)?))
            }
            WeightMode::F32 => {
                let w = embed_q.dequantize(&dev)?;
                (Embedding::F32(w.clone()), Linear::F32(w))
            }
        };
        // Untied models carry their own unembedding.
        let unembed = match file.tensor_info("output.weight") {
            Ok(_) => linear("output.weight", cfg.vocab_size, d)?,
            Err(_) => unembed,
        };
        let (cos, sin) = rope_tables(&cfg)?;
        Ok(Self {
            ln_final: norm("output_norm.weight")?,
            cfg,
            mode,
            embedding,
            blocks,
            unembed,
            cos,
            sin,
            differentiable: false,
            fused_decoding: true,
        })
    }

    /// Matrix products with a backward pass for their input (see the module docs).
    pub fn with_differentiable_ops(mut self, on: bool) -> Self {
        self.differentiable = on;
        self
    }

    /// Whether a generated token's blocks that no hook looks into run as the fused decoding
    /// step (`decode`; on by default) or through the general path (to compare the two).
    pub fn with_fused_decoding(mut self, on: bool) -> Self {
        self.fused_decoding = on;
        self
    }

    /// A copy (weights shared) whose every op has a backward pass, including the matrix
    /// products (input gradient only). Needs `F32` weights: a quantized matmul has no backward.
    pub fn differentiable(&self) -> Result<Self> {
        if self.mode != WeightMode::F32 {
            return Err(bad_input("gradients need the f32 weights (load the model with weights=f32)"));
        }
        Ok(self.clone().with_differentiable_ops(true))
    }

    pub fn is_differentiable(&self) -> bool {
        self.differentiable
    }

    fn linear(&self, w: &Linear, x: &Tensor) -> Result<Tensor> {
        match self.differentiable && self.mode == WeightMode::F32 {
            true => w.forward_input_grad(x),
            false => w.forward(x),
        }
    }

    /// Token embeddings `[batch, pos, d_model]` of ids `[batch, pos]`.
    pub fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        let max = ids.max_all()?.to_dtype(DType::U32)?.to_scalar::<u32>()? as usize;
        if max >= self.cfg.vocab_size {
            return Err(bad_input(format!("token id {max} is outside the vocabulary ({})", self.cfg.vocab_size)));
        }
        self.embedding.lookup(ids)
    }

    /// Logits `[batch, pos, vocab]` for token ids `[batch, pos]` (u32).
    pub fn forward(&self, ids: &Tensor, hooks: &mut dyn Hooks, cache: Option<&mut KvCache>) -> Result<Tensor> {
        let x = self.embed(ids)?;
        self.forward_embeds(&x, hooks, cache)
    }

    /// The forward pass from embeddings `[batch, pos, d_model]`: the entry point for
    /// gradients with respect to the input.
    pub fn forward_embeds(&self, x: &Tensor, hooks: &mut dyn Hooks, mut cache: Option<&mut KvCache>) -> Result<Tensor> {
        let (_b, pos, _d) = x.dims3()?;
        let offset = cache.as_ref().map(|c| c.len).unwrap_or(0);
        if pos == 0 {
            return Err(bad_input("the prompt is empty: type at least one token"));
        }
        if offset + pos > self.cfg.context_length {
            return Err(bad_input(format!("{} tokens exceed this model's context of {} tokens", offset + pos, self.cfg.context_length)));
        }
        let x = hooks.on(HookPoint::Embed, x.clone(), offset)?;
        let logits = self.forward_blocks(0, &x, hooks, cache.as_deref_mut(), offset, None)?;
        if let Some(c) = cache {
            c.len += pos;
        }
        Ok(logits)
    }

    /// Runs blocks `start..` on the residual stream entering block `start`
    /// (`blocks.{start}.hook_resid_pre`, `[batch, pos, d_model]`), then the final norm and
    /// unembedding. Activation-patching sweeps start here: everything before the patched
    /// layer is the same in every patched run, so it is computed once.
    /// With `last_only`, only the last position goes through the final norm and unembedding:
    /// logits `[batch, 1, vocab]` (what a metric at the final token needs, at 1/pos the memory).
    pub fn forward_from_layer(&self, start: usize, resid_pre: &Tensor, hooks: &mut dyn Hooks, last_only: bool) -> Result<Tensor> {
        if start >= self.cfg.n_layers {
            return Err(bad_input(format!("layer {start} out of range: the model has {} layers", self.cfg.n_layers)));
        }
        let read = last_only.then(|| resid_pre.dim(1)).transpose()?.map(|p| p - 1);
        self.forward_blocks(start, resid_pre, hooks, None, 0, read)
    }

    /// `forward_from_layer` for the positions after a cached prefix only: `resid_pre`
    /// `[batch, s, d_model]` holds the residual stream entering block `start` at positions
    /// `prefix.len()..prefix.len() + s`, and `prefix` the keys and values of the positions
    /// before them (batch 1, from `forward` with a cache, cut with `KvCache::prefix`;
    /// shared by every row). Causal
    /// attention makes this equal to the whole run at those positions: what patching
    /// sweeps use to skip the positions a patch cannot reach (those before it).
    pub fn forward_from_layer_after(
        &self,
        start: usize,
        resid_pre: &Tensor,
        prefix: &KvCache,
        hooks: &mut dyn Hooks,
        last_only: bool,
    ) -> Result<Tensor> {
        if start >= self.cfg.n_layers {
            return Err(bad_input(format!("layer {start} out of range: the model has {} layers", self.cfg.n_layers)));
        }
        let (b, s, _) = resid_pre.dims3()?;
        if s == 0 || prefix.len + s > self.cfg.context_length || prefix.layers.len() != self.cfg.n_layers {
            return Err(bad_input(format!("{} cached + {s} new positions do not fit this model", prefix.len)));
        }
        let mut cache = KvCache::new(self.cfg.n_layers);
        for (slot, layer) in cache.layers.iter_mut().zip(&prefix.layers).skip(start) {
            *slot = match layer {
                Some(kv) => {
                    let (k, v) = kv.tensors()?;
                    let rows = |t: &Tensor| -> Result<Tensor> {
                        let (_, kv, t_len, dh) = t.dims4()?;
                        Ok(t.broadcast_as((b, kv, t_len, dh))?.contiguous()?)
                    };
                    Some(LayerKv::Tensors(rows(&k)?, rows(&v)?))
                }
                None if prefix.len == 0 => None,
                None => return Err(bad_input(format!("the prefix cache has no keys for a layer after {start}"))),
            };
        }
        let read = last_only.then_some(s - 1);
        self.forward_blocks(start, resid_pre, hooks, Some(&mut cache), prefix.len, read)
    }

    /// The residual stream entering block `layer` (`blocks.{layer}.hook_resid_pre`,
    /// `[batch, pos, d_model]`) for token ids `[batch, pos]`, running only the blocks before
    /// it: what reading one early hook needs (steering scales, SAE features, SAE training).
    pub fn resid_pre(&self, ids: &Tensor, layer: usize, hooks: &mut dyn Hooks) -> Result<Tensor> {
        if layer >= self.cfg.n_layers {
            return Err(bad_input(format!("layer {layer} out of range: the model has {} layers", self.cfg.n_layers)));
        }
        let x = self.embed(ids)?;
        let pos = x.dim(1)?;
        if pos == 0 || pos > self.cfg.context_length {
            return Err(bad_input(format!("{pos} tokens: the model takes 1 to {}", self.cfg.context_length)));
        }
        let mut x = hooks.on(HookPoint::Embed, x, 0)?;
        for (l, block) in self.blocks.iter().enumerate().take(layer) {
            x = self.block_forward(l, block, &x, hooks, None, 0)?;
        }
        hooks.on(HookPoint::Block(layer, S::ResidPre), x, 0)
    }

    /// Logits `[batch, vocab]` at one position of embeddings `[batch, pos, d_model]` (no KV
    /// cache): what a scalar attribution target needs. Later positions still run (they may
    /// be hooked) but skip the final norm and unembedding.
    pub fn forward_embeds_at(&self, x: &Tensor, hooks: &mut dyn Hooks, position: usize) -> Result<Tensor> {
        let (_b, pos, _d) = x.dims3()?;
        if position >= pos {
            return Err(bad_input(format!("position {position} is outside the prompt's {pos} tokens")));
        }
        if pos > self.cfg.context_length {
            return Err(bad_input(format!("{pos} tokens exceed this model's context of {} tokens", self.cfg.context_length)));
        }
        let x = hooks.on(HookPoint::Embed, x.clone(), 0)?;
        Ok(self.forward_blocks(0, &x, hooks, None, 0, Some(position))?.squeeze(1)?)
    }

    fn forward_blocks(
        &self,
        start: usize,
        x: &Tensor,
        hooks: &mut dyn Hooks,
        mut cache: Option<&mut KvCache>,
        offset: usize,
        read: Option<usize>,
    ) -> Result<Tensor> {
        let mut x = x.clone();
        // While blocks take the fused decoding step, the residual stream stays in floats
        // (`fused`) and RoPE's row for this position is read once, not once per block: as
        // tensors, that was ~7 candle ops per block, serial between the threaded products.
        let mut fused: Option<Vec<f32>> = None;
        let mut rope_row: Option<decode::RopeRow> = None;
        for (l, block) in self.blocks.iter().enumerate().skip(start) {
            let kv = cache.as_deref_mut().map(|c| &mut c.layers[l]);
            match kv {
                Some(kv) if self.decodes_fused(l, block, &x, hooks) => {
                    let resid = match &mut fused {
                        Some(resid) => resid,
                        none => none.insert(x.flatten_all()?.to_vec1::<f32>()?),
                    };
                    let rope = match &mut rope_row {
                        Some(rope) => rope,
                        none => none.insert(self.rope_row(offset)?),
                    };
                    self.decode_block(block, resid, rope, kv, offset)?;
                }
                kv => {
                    if let Some(resid) = fused.take() {
                        x = Tensor::from_vec(resid, x.dims(), &Device::Cpu)?;
                    }
                    x = self.block_forward(l, block, &x, hooks, kv, offset)?;
                }
            }
        }
        if let Some(resid) = fused.take() {
            x = Tensor::from_vec(resid, x.dims(), &Device::Cpu)?;
        }
        let (x, offset) = match read {
            Some(p) => (x.narrow(1, p, 1)?, offset + p),
            None => (x, offset),
        };
        let x = self.ln_final.forward(&x, hooks, (HookPoint::LnFinalScale, HookPoint::LnFinalNormalized), offset)?;
        self.linear(&self.unembed, &x)
    }

    /// Logits `[…, vocab]` of residual-stream vectors `[…, d_model]` read through the final
    /// norm (each with its own scale) and the unembedding: the logit lens (nostalgebraist 2020).
    pub fn read_out(&self, resid: &Tensor) -> Result<Tensor> {
        let scale = (resid.sqr()?.mean_keepdim(D::Minus1)? + self.ln_final.eps)?.sqrt()?;
        let x = resid.broadcast_div(&scale)?.broadcast_mul(&self.ln_final.weight)?;
        self.unembed.forward(&x)
    }

    /// What MLP neuron `n` of `layer` writes to the residual stream per unit of activation:
    /// column n of W_down, `[d_model]`.
    pub fn mlp_out_direction(&self, layer: usize, n: usize) -> Result<Tensor> {
        let block = self.blocks.get(layer).ok_or_else(|| bad_input(format!("no layer {layer}")))?;
        let w = block.mlp.down.dequantized()?; // [d_model, d_mlp]
        Ok(w.narrow(1, n, 1)?.squeeze(1)?)
    }

    /// A residual-stream direction `[d_model]` through the unembedding only (no norm): its
    /// direct effect on every logit, `[vocab]`.
    pub fn unembed_vector(&self, v: &Tensor) -> Result<Tensor> {
        Ok(self.unembed.forward(&v.unsqueeze(0)?)?.squeeze(0)?)
    }

    /// The final norm's gain `[d_model]`.
    pub fn ln_final_weight(&self) -> &Tensor {
        &self.ln_final.weight
    }

    /// Rows of the unembedding `[n, d_model]` for token ids (dequantized if needed), without
    /// materialising the whole `[vocab, d_model]` matrix.
    pub fn unembed_rows(&self, ids: &[u32]) -> Result<Tensor> {
        if let Some(&bad) = ids.iter().find(|&&i| i as usize >= self.cfg.vocab_size) {
            return Err(bad_input(format!("token id {bad} is outside the vocabulary ({})", self.cfg.vocab_size)));
        }
        let ids_t = Tensor::new(ids, &Device::Cpu)?;
        Ok(match &self.unembed {
            Linear::Quant(q) => q.qtensor().embedding(&ids_t)?,
            Linear::F32(w) => w.index_select(&ids_t, 0)?,
        })
    }

    fn block_forward(
        &self,
        l: usize,
        block: &Block,
        x: &Tensor,
        hooks: &mut dyn Hooks,
        kv: Option<&mut Option<LayerKv>>,
        offset: usize,
    ) -> Result<Tensor> {
        let at = |s| HookPoint::Block(l, s);
        let resid_pre = hooks.on(at(S::ResidPre), x.clone(), offset)?;
        let attn_in = block.ln1.forward(&resid_pre, hooks, (at(S::Ln1Scale), at(S::Ln1Normalized)), offset)?;
        let attn_out = self.attention(l, &block.attn, &attn_in, hooks, kv, offset)?;
        let attn_out = hooks.on(at(S::AttnOut), attn_out, offset)?;
        let resid_mid = hooks.on(at(S::ResidMid), (resid_pre + attn_out)?, offset)?;
        let mlp_in = block.ln2.forward(&resid_mid, hooks, (at(S::Ln2Scale), at(S::Ln2Normalized)), offset)?;
        let mlp_out = self.mlp(l, &block.mlp, &mlp_in, hooks, offset)?;
        let mlp_out = hooks.on(at(S::MlpOut), mlp_out, offset)?;
        hooks.on(at(S::ResidPost), (resid_mid + mlp_out)?, offset)
    }

    fn attention(
        &self,
        l: usize,
        attn: &Attention,
        x: &Tensor,
        hooks: &mut dyn Hooks,
        kv: Option<&mut Option<LayerKv>>,
        offset: usize,
    ) -> Result<Tensor> {
        let at = |s| HookPoint::Block(l, s);
        let cfg = &self.cfg;
        let (b, p, _) = x.dims3()?;
        let (h, kvh, dh) = (cfg.n_heads, cfg.n_kv_heads, cfg.d_head);
        // [batch, pos, head, d_head]
        let q = hooks.on(at(S::Q), self.linear(&attn.wq, x)?.reshape((b, p, h, dh))?, offset)?;
        let k = hooks.on(at(S::K), self.linear(&attn.wk, x)?.reshape((b, p, kvh, dh))?, offset)?;
        let v = hooks.on(at(S::V), self.linear(&attn.wv, x)?.reshape((b, p, kvh, dh))?, offset)?;
        let q = self.rope(&q, offset)?;
        let q = hooks.on(at(S::RotQ), q, offset)?.transpose(1, 2)?.contiguous()?; // [b, h, p, dh]
        let k = self.rope(&k, offset)?;
        let k = hooks.on(at(S::RotK), k, offset)?.transpose(1, 2)?.contiguous()?; // [b, kv, p, dh]
        let v = v.transpose(1, 2)?.contiguous()?; // [b, kv, p, dh]
        let (k, v) = match kv {
            Some(slot) => {
                let (k, v) = match slot.take() {
                    Some(cached) => {
                        let (pk, pv) = cached.tensors()?;
                        (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?)
                    }
                    None => (k, v),
                };
                *slot = Some(LayerKv::Tensors(k.clone(), v.clone()));
                (k, v)
            }
            None => (k, v),
        };
        let t = k.dim(2)?; // keys seen: offset + p
                           // Grouped-query attention: query head i reads kv head i / (h / kvh), as HF's repeat_kv.
        let k = repeat_kv(&k, h / kvh)?;
        let v = repeat_kv(&v, h / kvh)?;
        let raw = q.matmul(&k.t()?)?; // [b, h, p, t]
        let pattern = if hooks.wants(at(S::AttnScores)) {
            let scores = (raw / (dh as f64).sqrt())?.broadcast_add(&causal_mask(p, t, offset)?)?;
            let scores = hooks.on(at(S::AttnScores), scores, offset)?;
            // softmax is shift-invariant, so the detached max changes no value or gradient.
            let e = scores.broadcast_sub(&scores.max_keepdim(D::Minus1)?.detach())?.exp()?;
            e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?
        } else {
            crate::fused::causal_softmax(&raw, 1.0 / (dh as f64).sqrt())?
        };
        let pattern = hooks.on(at(S::Pattern), pattern, offset)?;
        let z = pattern.matmul(&v)?.transpose(1, 2)?.contiguous()?; // [b, p, h, dh]
        let z = hooks.on(at(S::Z), z, offset)?;
        if hooks.wants(at(S::Result)) {
            // Per-head outputs: head i's z alone through W_O, i.e. a block-diagonal input.
            // [b, p, h, h*dh] with only block i of row i non-zero → [b, p, h, d_model]
            let eye = Tensor::eye(h, DType::F32, &Device::Cpu)?;
            let spread = z.unsqueeze(3)?.broadcast_mul(&eye.reshape((1, 1, h, h, 1))?)?;
            let result = self.linear(&attn.wo, &spread.reshape((b, p * h, h * dh))?)?;
            let result = hooks.on(at(S::Result), result.reshape((b, p, h, ()))?, offset)?;
            Ok(result.sum(2)?)
        } else {
            self.linear(&attn.wo, &z.reshape((b, p, h * dh))?)
        }
    }

    /// RoPE on `[batch, pos, head, d_head]`, rotate-half layout (HF's `apply_rotary_pos_emb`).
    fn rope(&self, x: &Tensor, offset: usize) -> Result<Tensor> {
        let p = x.dim(1)?;
        Ok(crate::fused::rope(x, &self.cos.narrow(0, offset, p)?, &self.sin.narrow(0, offset, p)?)?)
    }

    fn mlp(&self, l: usize, mlp: &Mlp, x: &Tensor, hooks: &mut dyn Hooks, offset: usize) -> Result<Tensor> {
        let at = |s| HookPoint::Block(l, s);
        let pre = hooks.on(at(S::MlpPre), self.linear(&mlp.gate, x)?, offset)?;
        let pre_linear = hooks.on(at(S::MlpPreLinear), self.linear(&mlp.up, x)?, offset)?;
        let post = hooks.on(at(S::MlpPost), crate::fused::silu_mul(&pre, &pre_linear)?, offset)?;
        self.linear(&mlp.down, &post)
    }
}

fn check_dims(name: &str, got: &[usize], want: &[usize]) -> Result<()> {
    if got != want {
        return Err(LoupeError::InvalidModel(format!("{name} has shape {got:?}, expected {want:?}")));
    }
    Ok(())
}

/// `[batch, kv, t, dh]` → `[batch, kv * n_rep, t, dh]`, each kv head repeated n_rep times.
fn repeat_kv(x: &Tensor, n_rep: usize) -> Result<Tensor> {
    if n_rep == 1 {
        return Ok(x.clone());
    }
    let (b, kv, t, dh) = x.dims4()?;
    Ok(x.unsqueeze(2)?.broadcast_as((b, kv, n_rep, t, dh))?.reshape((b, kv * n_rep, t, dh))?)
}

/// `[p, t]`: 0 where query `offset + i` may attend key `j` (j ≤ offset + i), −∞ elsewhere
/// (TransformerLens fills masked scores with −∞ too).
fn causal_mask(p: usize, t: usize, offset: usize) -> Result<Tensor> {
    let mask: Vec<f32> = (0..p).flat_map(|i| (0..t).map(move |j| if j <= offset + i { 0.0 } else { f32::NEG_INFINITY })).collect();
    Ok(Tensor::from_vec(mask, (p, t), &Device::Cpu)?)
}

/// cos/sin of position × θ^(−2i/d_head), i < d_head/2, as HF's LlamaRotaryEmbedding (f32).
fn rope_tables(cfg: &LlamaConfig) -> Result<(Tensor, Tensor)> {
    let half = cfg.d_head / 2;
    let inv_freq: Vec<f32> = (0..half).map(|i| 1.0 / cfg.rope_theta.powf((2 * i) as f32 / cfg.d_head as f32)).collect();
    let inv_freq = Tensor::from_vec(inv_freq, (1, half), &Device::Cpu)?;
    let positions =
        Tensor::arange(0u32, cfg.context_length as u32, &Device::Cpu)?.to_dtype(DType::F32)?.reshape((cfg.context_length, 1))?;
    let freqs = positions.broadcast_mul(&inv_freq)?;
    Ok((freqs.cos()?, freqs.sin()?))
}
