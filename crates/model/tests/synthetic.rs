//! The in-memory tiny model loads, tokenizes bytes, and runs every hook: a fast check of
//! the loader that also backs the wasm tests in Chromium.

use candle_core::{Device, Tensor};
use loupe_model::synthetic::{tiny_llama_gguf, D_MODEL, N_LAYERS};
use loupe_model::{GgufFile, HookPoint, Hooks, Llama, LoupeTokenizer, Result, WeightMode};

struct Shapes(Vec<(HookPoint, Vec<usize>)>);
impl Hooks for Shapes {
    fn on(&mut self, p: HookPoint, act: Tensor, _o: usize) -> Result<Tensor> {
        self.0.push((p, act.dims().to_vec()));
        Ok(act)
    }
}

#[test]
fn tiny_model_runs_every_hook_with_the_documented_shapes() -> Result<()> {
    let file = GgufFile::from_bytes(tiny_llama_gguf(1)?)?;
    let tok = LoupeTokenizer::from_gguf(&file)?;
    let ids = tok.encode("héllo<|im_end|>", false)?;
    assert_eq!(ids.len(), 7, "bytes h é(2) l l o + one control token: {ids:?}");
    assert_eq!(ids[6], 2);
    for mode in [WeightMode::Quantized, WeightMode::F32] {
        let model = Llama::load(&file, mode)?;
        let mut shapes = Shapes(vec![]);
        let input = Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
        let logits = model.forward(&input, &mut shapes, None)?;
        assert_eq!(logits.dims(), &[1, 7, 259]);
        let expected: Vec<(HookPoint, Vec<usize>)> = HookPoint::all(N_LAYERS).into_iter().map(|h| (h, h.shape(&model.cfg, 1, 7))).collect();
        assert_eq!(shapes.0, expected);
        assert_eq!(expected[0].1, vec![1, 7, D_MODEL]);
    }
    Ok(())
}
