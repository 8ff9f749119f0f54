//! Interventions as data (after pyvene, Wu et al. 2024): a site — hook name or glob,
//! optional positions and heads — and an operation. They round-trip through JSON, so the
//! UI, a URL or a file can carry them, and one function applies them all.
//!
//! Positions are absolute token positions, so an intervention on position 3 means the same
//! during a full forward pass and during KV-cached generation.

use candle_core::{DType, Device, Tensor};
use loupe_model::hooks::Layout;
use loupe_model::{HookPoint, Hooks, LlamaConfig, LoupeError, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InterventionOp {
    /// Set the activation to zero (zero-ablation).
    Zero,
    /// Replace by its own mean over the positions of this forward pass (mean-ablation over
    /// the prompt; during KV-cached generation, over the positions of each step).
    Mean,
    /// Multiply by a constant.
    Scale { factor: f32 },
    /// Add a vector along the last axis (a steering vector: `d_model` for the residual
    /// stream, `d_head` for a head's q/k/v/z).
    Add { vector: Vec<f32> },
    /// Set the activation to a vector along the last axis (e.g. a mean over a reference set).
    Set { vector: Vec<f32> },
    /// Set the component along `direction` (normalised here) to `value`, keeping the rest:
    /// x + (value − x·û) û. Clamping a steering direction or a probe's axis.
    ClampProjection { direction: Vec<f32>, value: f32 },
    /// Remove the component along `direction`: x − (x·û) û (directional ablation,
    /// Arditi et al. 2024).
    RemoveProjection { direction: Vec<f32> },
    /// Clamp one sparse-autoencoder feature to `value` (see `sae::Sae::clamp_intervention`):
    /// its activation f = relu(pre)·[pre > threshold], pre = (x − input_bias)·encoder +
    /// encoder_bias, is read from x itself, and x ← x + (value − f) · decoder.
    ClampFeature { encoder: Vec<f32>, encoder_bias: f32, input_bias: Vec<f32>, threshold: f32, decoder: Vec<f32>, value: f32 },
    /// Write back a whole activation (e.g. one captured from another prompt: patching).
    /// `shape` is the hook's shape over the full sequence; batch may be 1 (broadcast).
    Replace { shape: Vec<usize>, values: Vec<f32> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Intervention {
    /// A TransformerLens hook name or a glob over them.
    pub hook: String,
    /// Absolute token positions (query positions for attention patterns); all if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positions: Option<Vec<usize>>,
    /// Head indices, for hooks with a head axis; all if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heads: Option<Vec<usize>>,
    /// Indices along the last axis (e.g. MLP neurons of `mlp.hook_post`); all if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<usize>>,
    pub op: InterventionOp,
}

/// Interventions checked against a model and bound to hook points: a `Hooks` impl.
pub struct Interventions {
    items: Vec<(Vec<HookPoint>, Intervention, Option<Tensor>)>,
}

impl Interventions {
    pub fn none() -> Self {
        Self { items: Vec::new() }
    }

    /// Validates every intervention against the model's shapes, with messages that say
    /// what was expected.
    pub fn new(list: &[Intervention], cfg: &LlamaConfig) -> Result<Self> {
        let mut items = Vec::with_capacity(list.len());
        for iv in list {
            let points = crate::pattern::resolve_patterns(std::slice::from_ref(&iv.hook), cfg.n_layers)?;
            if points.is_empty() {
                return Err(bad(format!("intervention names no hook: '{}'", iv.hook)));
            }
            if iv.positions.as_ref().is_some_and(|p| p.is_empty()) {
                return Err(bad(format!("intervention on '{}' selects no positions", iv.hook)));
            }
            if let Some(heads) = &iv.heads {
                if heads.is_empty() {
                    return Err(bad(format!("intervention on '{}' selects no heads", iv.hook)));
                }
            }
            if iv.features.as_ref().is_some_and(|f| f.is_empty()) {
                return Err(bad(format!("intervention on '{}' selects no features", iv.hook)));
            }
            let mut tensor = None;
            for &point in &points {
                let shape = point.shape(cfg, 1, 1);
                if let Some(heads) = &iv.heads {
                    let n = match point.layout() {
                        Layout::PosFeature => return Err(bad(format!("{point} has no head axis; remove 'heads'"))),
                        Layout::PosHeadFeature => shape[2],
                        Layout::HeadQueryKey => shape[1],
                    };
                    if let Some(h) = heads.iter().find(|&&h| h >= n) {
                        return Err(bad(format!("head {h} out of range: {point} has {n} heads")));
                    }
                }
                if let Some(features) = &iv.features {
                    let d = *shape.last().unwrap_or(&0);
                    if point.layout() == Layout::HeadQueryKey {
                        return Err(bad(format!("{point} has no feature axis; use positions/heads")));
                    }
                    if let Some(f) = features.iter().find(|&&f| f >= d) {
                        return Err(bad(format!("feature {f} out of range: {point} has {d}")));
                    }
                }
                match &iv.op {
                    InterventionOp::Add { vector } | InterventionOp::Set { vector } => {
                        let d = *shape.last().unwrap_or(&0);
                        if point.layout() == Layout::HeadQueryKey {
                            return Err(bad(format!("cannot add or set a vector on {point}; use scale/replace")));
                        }
                        if vector.len() != d {
                            return Err(bad(format!("vector for {point} has {} values; it needs {d}", vector.len())));
                        }
                        tensor = Some(Tensor::new(vector.as_slice(), &Device::Cpu)?);
                    }
                    InterventionOp::ClampProjection { direction, .. } | InterventionOp::RemoveProjection { direction } => {
                        let d = *shape.last().unwrap_or(&0);
                        if point.layout() == Layout::HeadQueryKey || direction.len() != d {
                            return Err(bad(format!("direction for {point} has {} values; it needs {d}", direction.len())));
                        }
                        let norm = direction.iter().map(|v| v * v).sum::<f32>().sqrt();
                        if !(norm.is_finite() && norm > 0.0) {
                            return Err(bad(format!("the direction for {point} is zero or not finite")));
                        }
                        let unit: Vec<f32> = direction.iter().map(|v| v / norm).collect();
                        tensor = Some(Tensor::new(unit.as_slice(), &Device::Cpu)?);
                    }
                    InterventionOp::ClampFeature { encoder, input_bias, decoder, .. } => {
                        let d = *shape.last().unwrap_or(&0);
                        if point.layout() == Layout::HeadQueryKey || [encoder, input_bias, decoder].iter().any(|v| v.len() != d) {
                            return Err(bad(format!("a feature clamp on {point} needs encoder, input_bias and decoder of {d} values")));
                        }
                        let rows = [encoder.as_slice(), input_bias.as_slice(), decoder.as_slice()].concat();
                        tensor = Some(Tensor::from_vec(rows, (3, d), &Device::Cpu)?);
                    }
                    InterventionOp::Replace { shape: given, values } => {
                        // Checked: a shape whose product wraps must not pass for a small one.
                        let holds = given.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
                        if holds != Some(values.len()) {
                            return Err(bad(format!(
                                "replacement for {point}: shape {given:?} holds {} values, got {}",
                                holds.map_or("too many".to_string(), |n| n.to_string()),
                                values.len()
                            )));
                        }
                        let ok = given.len() == shape.len()
                            && given.iter().zip(&shape).enumerate().all(|(i, (g, s))| {
                                // batch, positions (and key positions) vary; the rest must match.
                                i == 0 || is_pos_axis(point.layout(), i) || g == s
                            });
                        if !ok {
                            return Err(bad(format!(
                                "replacement for {point} has shape {given:?}; expected {:?} with any batch and positions",
                                shape
                            )));
                        }
                        tensor = Some(Tensor::from_vec(values.clone(), given.as_slice(), &Device::Cpu)?);
                    }
                    InterventionOp::Zero | InterventionOp::Mean | InterventionOp::Scale { .. } => {}
                }
            }
            items.push((points, iv.clone(), tensor));
        }
        Ok(Self { items })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

fn bad(msg: String) -> LoupeError {
    LoupeError::BadInput(msg)
}

fn is_pos_axis(layout: Layout, axis: usize) -> bool {
    match layout {
        Layout::PosFeature | Layout::PosHeadFeature => axis == 1,
        Layout::HeadQueryKey => axis == 2 || axis == 3,
    }
}

impl Hooks for Interventions {
    fn on(&mut self, point: HookPoint, act: Tensor, offset: usize) -> Result<Tensor> {
        let mut act = act;
        for (points, iv, tensor) in &self.items {
            if points.contains(&point) {
                act = apply(point.layout(), iv, tensor.as_ref(), &act, offset)?;
            }
        }
        Ok(act)
    }
    fn wants(&self, point: HookPoint) -> bool {
        self.items.iter().any(|(points, _, _)| points.contains(&point))
    }
}

/// Applies one intervention to one activation covering positions `offset..offset + p`.
fn apply(layout: Layout, iv: &Intervention, tensor: Option<&Tensor>, x: &Tensor, offset: usize) -> Result<Tensor> {
    let new = match (&iv.op, tensor) {
        (InterventionOp::Zero, _) => x.zeros_like()?,
        (InterventionOp::Mean, _) => {
            let axis = if layout == Layout::HeadQueryKey { 2 } else { 1 };
            x.mean_keepdim(axis)?.broadcast_as(x.dims())?.contiguous()?
        }
        (InterventionOp::Scale { factor }, _) => (x * (*factor as f64))?,
        (InterventionOp::Add { .. }, Some(v)) => x.broadcast_add(v)?,
        (InterventionOp::Set { .. }, Some(v)) => v.broadcast_as(x.dims())?.contiguous()?,
        (InterventionOp::ClampProjection { value, .. }, Some(u)) => {
            let along = x.broadcast_mul(u)?.sum_keepdim(candle_core::D::Minus1)?;
            (x + (along.affine(-1.0, *value as f64)?).broadcast_mul(u)?)?
        }
        (InterventionOp::ClampFeature { encoder_bias, threshold, value, .. }, Some(rows)) => {
            let (encoder, input_bias, decoder) = (rows.get(0)?, rows.get(1)?, rows.get(2)?);
            let pre = (x.broadcast_sub(&input_bias)?.broadcast_mul(&encoder)?.sum_keepdim(candle_core::D::Minus1)? + *encoder_bias as f64)?;
            let f = (pre.relu()? * pre.gt(*threshold as f64)?.to_dtype(DType::F32)?)?;
            (x + f.affine(-1.0, *value as f64)?.broadcast_mul(&decoder)?)?
        }
        (InterventionOp::RemoveProjection { .. }, Some(u)) => {
            let along = x.broadcast_mul(u)?.sum_keepdim(candle_core::D::Minus1)?;
            (x - along.broadcast_mul(u)?)?
        }
        (InterventionOp::Replace { .. }, Some(values)) => match replacement_window(layout, values, x, offset)? {
            Some(r) => r,
            None => return Ok(x.clone()),
        },
        _ => return Err(bad("intervention was not validated".into())),
    };
    match selection_mask(layout, iv, x.dims(), offset)? {
        // `where_cond` rather than arithmetic blending: exact, and safe with the −∞ of
        // masked attention scores.
        Some(mask) => Ok(mask.broadcast_as(x.dims())?.where_cond(&new, x)?),
        None => Ok(new),
    }
}

/// The part of a full-sequence replacement that lines up with `x`'s positions; rows past
/// the replacement's end (tokens generated later) keep their own values. `None` when no row
/// overlaps.
fn replacement_window(layout: Layout, values: &Tensor, x: &Tensor, offset: usize) -> Result<Option<Tensor>> {
    let q_axis = if layout == Layout::HeadQueryKey { 2 } else { 1 };
    let p = x.dim(q_axis)?;
    let len = values.dim(q_axis)?;
    if offset >= len {
        return Ok(None);
    }
    let take = (len - offset).min(p);
    let mut v = values.narrow(q_axis, offset, take)?;
    if layout == Layout::HeadQueryKey {
        let keys = x.dim(3)?;
        if v.dim(3)? < keys {
            return Ok(None);
        }
        v = v.narrow(3, 0, keys)?;
    }
    let v = v.broadcast_as(x.dims().iter().enumerate().map(|(i, &d)| if i == q_axis { take } else { d }).collect::<Vec<_>>())?;
    if take == p {
        return Ok(Some(v.contiguous()?));
    }
    let rest = x.narrow(q_axis, take, p - take)?;
    Ok(Some(Tensor::cat(&[&v, &rest], q_axis)?))
}

/// A u8 mask broadcastable to `dims`, 1 where the intervention applies; `None` = everywhere.
fn selection_mask(layout: Layout, iv: &Intervention, dims: &[usize], offset: usize) -> Result<Option<Tensor>> {
    if iv.positions.is_none() && iv.heads.is_none() && iv.features.is_none() {
        return Ok(None);
    }
    let (pos_axis, head_axis) = match layout {
        Layout::PosFeature => (1, None),
        Layout::PosHeadFeature => (1, Some(2)),
        Layout::HeadQueryKey => (2, Some(1)),
    };
    let mut mask = Tensor::ones(vec![1; dims.len()], DType::U8, &Device::Cpu)?;
    if let Some(positions) = &iv.positions {
        let p = dims[pos_axis];
        let m: Vec<u8> = (0..p).map(|i| positions.contains(&(offset + i)) as u8).collect();
        let mut shape = vec![1; dims.len()];
        shape[pos_axis] = p;
        mask = mask.broadcast_mul(&Tensor::from_vec(m, shape, &Device::Cpu)?)?;
    }
    if let Some(features) = &iv.features {
        let axis = dims.len() - 1;
        let d = dims[axis];
        let m: Vec<u8> = (0..d).map(|i| features.contains(&i) as u8).collect();
        let mut shape = vec![1; dims.len()];
        shape[axis] = d;
        mask = mask.broadcast_mul(&Tensor::from_vec(m, shape, &Device::Cpu)?)?;
    }
    if let (Some(heads), Some(axis)) = (&iv.heads, head_axis) {
        let h = dims[axis];
        let m: Vec<u8> = (0..h).map(|i| heads.contains(&i) as u8).collect();
        let mut shape = vec![1; dims.len()];
        shape[axis] = h;
        mask = mask.broadcast_mul(&Tensor::from_vec(m, shape, &Device::Cpu)?)?;
    }
    Ok(Some(mask))
}
