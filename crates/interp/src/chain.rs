//! Two hook sets run one after the other (e.g. interventions, then capture, so the cache
//! records what actually flowed on, as TransformerLens's hooks do in registration order).

use candle_core::Tensor;
use loupe_model::{HookPoint, Hooks, Result};

pub struct Chain<A, B>(pub A, pub B);

impl<A: Hooks, B: Hooks> Hooks for Chain<A, B> {
    fn on(&mut self, point: HookPoint, act: Tensor, offset: usize) -> Result<Tensor> {
        let act = self.0.on(point, act, offset)?;
        self.1.on(point, act, offset)
    }
    fn wants(&self, point: HookPoint) -> bool {
        self.0.wants(point) || self.1.wants(point)
    }
}
