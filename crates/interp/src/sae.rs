//! Sparse autoencoders in SAELens's format (Bloom et al., SAELens; Bricken et al. 2023,
//! "Towards Monosemanticity"): `cfg.json` names the hook and sizes, a safetensors file holds
//! `W_enc [d_in, d_sae]`, `W_dec [d_sae, d_in]`, `b_enc [d_sae]`, `b_dec [d_in]` and, for
//! JumpReLU (Rajamanoharan et al. 2024), `threshold [d_sae]`.
//!
//!   pre = (x − b_dec·[apply_b_dec_to_input]) W_enc + b_enc
//!   f   = relu(pre)                      (standard)
//!   f   = relu(pre) · [pre > threshold]  (jumprelu)
//!   x̂   = f W_dec + b_dec

use crate::capture::capture_one;
use crate::intervention::{Intervention, InterventionOp};
use crate::run::tokenize_checked;
use candle_core::{DType, Device, IndexOp, Tensor, D};
use loupe_model::hooks::Layout;
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{HookPoint, Llama, LlamaConfig, LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Standard,
    Jumprelu,
}

/// The `cfg.json` keys Loupe reads; others are ignored.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SaeConfig {
    pub d_in: usize,
    pub d_sae: usize,
    pub hook_name: String,
    #[serde(default = "standard")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Architecture>", optional))]
    pub architecture: Architecture,
    #[serde(default = "yes")]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub apply_b_dec_to_input: bool,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub normalize_activations: Option<String>,
}

fn standard() -> Architecture {
    Architecture::Standard
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug)]
pub struct Sae {
    pub cfg: SaeConfig,
    pub hook: HookPoint,
    w_enc: Tensor,
    b_enc: Tensor,
    w_dec: Tensor,
    b_dec: Tensor,
    threshold: Option<Tensor>,
}

fn bad(msg: String) -> LoupeError {
    LoupeError::BadInput(msg)
}

impl Sae {
    /// Reads `cfg.json` text and the weights' safetensors bytes, checking them against the
    /// model: the hook must exist and carry `d_in` features, every tensor must have its shape.
    pub fn load(cfg_json: &str, weights: &[u8], model: &LlamaConfig) -> Result<Self> {
        let cfg: SaeConfig = serde_json::from_str(cfg_json).map_err(|e| bad(format!("the SAE's cfg.json is not valid: {e}")))?;
        if !(1..=1 << 20).contains(&cfg.d_sae) {
            return Err(bad(format!("the SAE's cfg.json says d_sae = {}: expected 1 to {}", cfg.d_sae, 1 << 20)));
        }
        if let Some(norm) = cfg.normalize_activations.as_deref().filter(|n| *n != "none") {
            return Err(bad(format!("this SAE normalises its inputs ('{norm}'), which Loupe does not support yet")));
        }
        let hook: HookPoint =
            cfg.hook_name.parse().map_err(|_| bad(format!("the SAE reads '{}', which is not a hook of this model", cfg.hook_name)))?;
        if hook.layer().is_some_and(|l| l >= model.n_layers) {
            return Err(bad(format!("the SAE reads '{}' but this model has {} layers", cfg.hook_name, model.n_layers)));
        }
        if hook.layout() != Layout::PosFeature {
            return Err(bad(format!("the SAE reads '{}': only [batch, pos, d] hooks are supported", cfg.hook_name)));
        }
        let width = *hook.shape(model, 1, 1).last().unwrap_or(&0);
        if width != cfg.d_in {
            return Err(bad(format!(
                "the SAE expects d_in = {} but {} has {width} features: it was trained for another model",
                cfg.d_in, cfg.hook_name
            )));
        }
        let tensors = candle_core::safetensors::load_buffer(weights, &Device::Cpu)
            .map_err(|e| bad(format!("the SAE weights are not a valid safetensors file: {e}")))?;
        let get = |name: &str, shape: &[usize]| -> Result<Tensor> {
            let t = tensors.get(name).ok_or_else(|| bad(format!("the SAE weights have no '{name}'")))?;
            if t.dims() != shape {
                return Err(bad(format!("the SAE's {name} has shape {:?}; cfg.json implies {shape:?}", t.dims())));
            }
            Ok(t.to_dtype(DType::F32)?)
        };
        let (d_in, d_sae) = (cfg.d_in, cfg.d_sae);
        let threshold = match cfg.architecture {
            Architecture::Jumprelu => Some(get("threshold", &[d_sae])?),
            Architecture::Standard => None,
        };
        Ok(Self {
            w_enc: get("W_enc", &[d_in, d_sae])?,
            b_enc: get("b_enc", &[d_sae])?,
            w_dec: get("W_dec", &[d_sae, d_in])?,
            b_dec: get("b_dec", &[d_in])?,
            threshold,
            hook,
            cfg,
        })
    }

    /// An SAE from its tensors (e.g. one just trained), reading `cfg.hook_name`.
    pub fn from_parts(
        cfg: SaeConfig,
        w_enc: Tensor,
        b_enc: Tensor,
        w_dec: Tensor,
        b_dec: Tensor,
        threshold: Option<Tensor>,
    ) -> Result<Self> {
        let hook: HookPoint = cfg.hook_name.parse()?;
        Ok(Self { cfg, hook, w_enc: w_enc.detach(), b_enc: b_enc.detach(), w_dec: w_dec.detach(), b_dec: b_dec.detach(), threshold })
    }

    /// Feature activations `[n, d_sae]` of inputs `[n, d_in]`.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let x = match self.cfg.apply_b_dec_to_input {
            true => x.broadcast_sub(&self.b_dec)?,
            false => x.clone(),
        };
        let pre = x.matmul(&self.w_enc)?.broadcast_add(&self.b_enc)?;
        let f = pre.relu()?;
        Ok(match &self.threshold {
            Some(t) => (f.clone() * pre.broadcast_gt(t)?.to_dtype(DType::F32)?)?,
            None => f,
        })
    }

    /// Reconstructions `[n, d_in]` of feature activations `[n, d_sae]`.
    pub fn decode(&self, f: &Tensor) -> Result<Tensor> {
        Ok(f.matmul(&self.w_dec)?.broadcast_add(&self.b_dec)?)
    }

    /// Feature `i`'s decoder row `[d_in]`: what it writes, per unit of activation.
    pub fn decoder_row(&self, i: usize) -> Result<Tensor> {
        self.check_feature(i)?;
        Ok(self.w_dec.i(i)?)
    }

    fn check_feature(&self, i: usize) -> Result<()> {
        match i < self.cfg.d_sae {
            true => Ok(()),
            false => Err(bad(format!("feature {i} out of range: the SAE has {}", self.cfg.d_sae))),
        }
    }

    /// An intervention that clamps feature `i` to `value` at `positions` (all if `None`):
    /// x ← x + (value − f_i(x)) W_dec[i], with f_i read from the activation itself, so
    /// clamping a feature to its own value changes nothing (Templeton et al. 2024).
    pub fn clamp_intervention(&self, i: usize, value: f32, positions: Option<Vec<usize>>) -> Result<Intervention> {
        self.check_feature(i)?;
        let column = |t: &Tensor| -> Result<Vec<f32>> { Ok(t.i((.., i))?.to_vec1()?) };
        let b_dec: Vec<f32> = match self.cfg.apply_b_dec_to_input {
            true => self.b_dec.to_vec1()?,
            false => vec![0.0; self.cfg.d_in],
        };
        Ok(Intervention {
            hook: self.cfg.hook_name.clone(),
            positions,
            heads: None,
            features: None,
            op: InterventionOp::ClampFeature {
                encoder: column(&self.w_enc)?,
                encoder_bias: self.b_enc.i(i)?.to_scalar()?,
                input_bias: b_dec,
                threshold: match &self.threshold {
                    Some(t) => t.i(i)?.to_scalar()?,
                    None => 0.0,
                },
                decoder: self.w_dec.i(i)?.to_vec1()?,
                value,
            },
        })
    }
}

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct FeaturesRequest {
    pub prompt: String,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub top_k: Option<usize>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ActiveFeature {
    pub feature: usize,
    pub activation: f32,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct FeaturesResult {
    pub tokens: Vec<TokenInfo>,
    pub hook: String,
    /// Per position, the strongest active features, strongest first.
    pub top: Vec<Vec<ActiveFeature>>,
    /// Active features per position.
    pub l0: Vec<usize>,
    /// Per position, ‖x − x̂‖² / ‖x‖².
    pub relative_error: Vec<f32>,
}

/// Which features fire on each token of a prompt, and how well the SAE reconstructs it.
pub fn sae_features(
    model: &Llama,
    tok: &LoupeTokenizer,
    sae: &Sae,
    req: &FeaturesRequest,
    max_tokens: usize,
) -> Result<(FeaturesResult, Tensor)> {
    let k = req.top_k.unwrap_or(8).clamp(1, 64);
    let ids = tokenize_checked(tok, &req.prompt, req.prepend_bos, max_tokens)?;
    let x = capture_one(model, &ids, sae.hook)?;
    let f = sae.encode(&x)?;
    let x_hat = sae.decode(&f)?;
    let err: Vec<f32> = ((&x - &x_hat)?.sqr()?.sum(D::Minus1)? / x.sqr()?.sum(D::Minus1)?)?.to_vec1()?;
    let rows: Vec<Vec<f32>> = f.to_vec2()?;
    let top = rows
        .iter()
        .map(|row| {
            let mut idx: Vec<usize> = (0..row.len()).filter(|&i| row[i] > 0.0).collect();
            idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            idx.into_iter().take(k).map(|i| ActiveFeature { feature: i, activation: row[i] }).collect()
        })
        .collect();
    let l0 = rows.iter().map(|r| r.iter().filter(|v| **v > 0.0).count()).collect();
    Ok((FeaturesResult { tokens: tok.token_infos(&ids), hook: sae.cfg.hook_name.clone(), top, l0, relative_error: err }, f))
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct FeatureInfo {
    pub feature: usize,
    pub decoder_norm: f32,
    /// Tokens the decoder direction promotes / suppresses directly (logit change per unit
    /// of activation, in `prob`).
    pub promoted: Vec<crate::TopToken>,
    pub suppressed: Vec<crate::TopToken>,
    /// W_dec[i], `[d_in]`: usable as a steering direction at the SAE's hook.
    pub decoder: Vec<f32>,
}

/// What feature `i` writes: its decoder row read through the unembedding.
pub fn feature_info(model: &Llama, tok: &LoupeTokenizer, sae: &Sae, i: usize, k: usize) -> Result<FeatureInfo> {
    let row = sae.decoder_row(i)?;
    let (promoted, suppressed) = crate::neuron::direct_token_effects(model, tok, &row, k)?;
    Ok(FeatureInfo { feature: i, decoder_norm: row.sqr()?.sum_all()?.sqrt()?.to_scalar()?, promoted, suppressed, decoder: row.to_vec1()? })
}

/// The loaded SAE's features on each token of a prompt, and its reconstruction error.
pub struct SaeFeatures;

impl crate::registry::Analysis for SaeFeatures {
    const NAME: &'static str = "saeFeatures";
    const SUMMARY: &'static str = "The loaded SAE's features on each token of a prompt, and its reconstruction error.";
    type Request = FeaturesRequest;
    type Output = FeaturesResult;
    fn run(s: &crate::session::Session, req: &FeaturesRequest) -> Result<FeaturesResult> {
        Ok(sae_features(&s.model, &s.tok, &*s.sae()?, req, s.limits.max_prompt_tokens)?.0)
    }
}

/// What one SAE feature writes: its decoder direction read through the unembedding.
pub struct SaeFeatureInfo;

impl crate::registry::Analysis for SaeFeatureInfo {
    const NAME: &'static str = "saeFeatureInfo";
    const SUMMARY: &'static str = "What one SAE feature writes: its decoder direction read through the unembedding.";
    type Request = FeatureInfoRequest;
    type Output = FeatureInfo;
    fn run(s: &crate::session::Session, req: &FeatureInfoRequest) -> Result<FeatureInfo> {
        feature_info(&s.model, &s.tok, &*s.sae()?, req.feature, req.top_k)
    }
}

/// The intervention that clamps an SAE feature to a value (at chosen positions or all).
pub struct SaeClamp;

impl crate::registry::Analysis for SaeClamp {
    const NAME: &'static str = "saeClamp";
    const SUMMARY: &'static str = "The intervention that clamps an SAE feature to a value (at chosen positions or all).";
    type Request = ClampRequest;
    type Output = Intervention;
    fn run(s: &crate::session::Session, req: &ClampRequest) -> Result<Intervention> {
        if !req.value.is_finite() {
            return Err(LoupeError::BadInput(format!("saeClamp: the value must be a finite number, not {}", req.value)));
        }
        let positions = (!req.positions.is_empty()).then(|| req.positions.clone());
        s.sae()?.clamp_intervention(req.feature, req.value, positions)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct FeatureInfoRequest {
    pub feature: usize,
    #[serde(default = "default_info_top_k")]
    #[cfg_attr(feature = "ts", ts(as = "Option<usize>", optional))]
    pub top_k: usize,
}

fn default_info_top_k() -> usize {
    10
}

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ClampRequest {
    pub feature: usize,
    pub value: f32,
    /// Token positions to clamp at; empty: every position.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<usize>>", optional))]
    pub positions: Vec<usize>,
}
