//! Capture: the hook set that records activations by name (TransformerLens's
//! `run_with_cache`, restricted to the names asked for).

use candle_core::{Device, Tensor};
use loupe_model::{HookPoint, Hooks, Llama, LoupeError, Result};
use std::collections::HashSet;

/// Captured activations in forward order.
#[derive(Clone, Debug, Default)]
pub struct ActivationCache {
    pub entries: Vec<(HookPoint, Tensor)>,
}

impl ActivationCache {
    pub fn get(&self, point: HookPoint) -> Option<&Tensor> {
        self.entries.iter().find(|(p, _)| *p == point).map(|(_, t)| t)
    }
}

pub struct Capture {
    wanted: HashSet<HookPoint>,
    pub cache: ActivationCache,
}

impl Capture {
    pub fn new(points: impl IntoIterator<Item = HookPoint>) -> Self {
        Self { wanted: points.into_iter().collect(), cache: ActivationCache::default() }
    }
}

impl Hooks for Capture {
    fn on(&mut self, point: HookPoint, act: Tensor, _offset: usize) -> Result<Tensor> {
        if self.wanted.contains(&point) {
            // Tensors are reference-counted: recording costs no copy.
            self.cache.entries.push((point, act.clone()));
        }
        Ok(act)
    }
    fn wants(&self, point: HookPoint) -> bool {
        self.wanted.contains(&point)
    }
}

/// One hook's activation for a prompt's token ids, `[pos, …]` (batch dropped). A residual
/// stream entering a block runs only the blocks before it.
pub fn capture_one(model: &Llama, ids: &[u32], point: HookPoint) -> Result<Tensor> {
    let mut capture = Capture::new([point]);
    let input = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
    match point {
        HookPoint::Block(layer, loupe_model::BlockSite::ResidPre) => model.resid_pre(&input, layer, &mut capture).map(|_| ())?,
        _ => model.forward(&input, &mut capture, None).map(|_| ())?,
    }
    let act = capture.cache.get(point).cloned();
    Ok(act.ok_or_else(|| LoupeError::BadInput(format!("{point} was not captured")))?.squeeze(0)?)
}
