//! Attribution patching (Nanda 2023, "Attribution Patching: Activation Patching At
//! Industrial Scale"; Syed et al. 2023): the first-order Taylor estimate of every
//! activation-patching result at once. With the metric's gradient taken on the corrupted
//! run, patching the clean activation a_c in place of the corrupted a_r changes the metric
//! by about (a_c − a_r) · ∂m/∂a |_r. One forward + backward pass instead of one forward
//! per site; normalised like `patching` (clean = 1, corrupted = 0) so the two sit side by
//! side, and where they disagree the linear approximation fails.

use crate::capture::{ActivationCache, Capture};
use crate::gradient::{GradTaps, Target, TargetKind};
use crate::metric::Metric;
use crate::patching::check_same_length;
use crate::run::tokenize_checked;
use candle_core::{Device, Tensor};
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{BlockSite, HookPoint, Llama, LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AttributionPatchRequest {
    pub clean: String,
    pub corrupted: String,
    pub metric: Metric,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AttributionPatchResult {
    pub clean_tokens: Vec<TokenInfo>,
    pub corrupted_tokens: Vec<TokenInfo>,
    pub clean_metric: f32,
    pub corrupted_metric: f32,
    /// `[n_layers][positions]` estimates, normalised, for `patching`'s sites of the same names.
    pub resid_pre: Vec<Vec<f32>>,
    pub attn_out: Vec<Vec<f32>>,
    pub mlp_out: Vec<Vec<f32>>,
    /// `[n_layers][heads]`: one head's z at every position.
    pub head_z: Vec<Vec<f32>>,
}

const SITES: [BlockSite; 4] = [BlockSite::ResidPre, BlockSite::AttnOut, BlockSite::MlpOut, BlockSite::Z];

pub fn attribution_patching(
    model: &Llama,
    tok: &LoupeTokenizer,
    req: &AttributionPatchRequest,
    max_tokens: usize,
) -> Result<AttributionPatchResult> {
    let clean = tokenize_checked(tok, &req.clean, req.prepend_bos, max_tokens)?;
    let corrupted = tokenize_checked(tok, &req.corrupted, req.prepend_bos, max_tokens)?;
    check_same_length(&clean, &corrupted)?;
    let target = match &req.metric {
        Metric::LogitDiff { token, minus } => {
            Target { kind: TargetKind::LogitDiff, token: token.clone(), minus: Some(minus.clone()), position: -1 }
        }
        Metric::Logprob { token } => Target { kind: TargetKind::Logprob, token: token.clone(), minus: None, position: -1 },
    }
    .resolve(tok, clean.len())?;
    let n = model.cfg.n_layers;
    let points: Vec<HookPoint> = (0..n).flat_map(|l| SITES.map(|s| HookPoint::Block(l, s))).collect();
    let embed = |ids: &[u32]| model.embed(&Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?);

    let mut capture = Capture::new(points.clone());
    let clean_logits = model.forward_embeds_at(&embed(&clean)?, &mut capture, target.position)?;
    let clean_metric = target.value(&clean_logits)?.to_vec1::<f32>()?[0];

    let mut taps = GradTaps::new(points);
    let corrupted_logits = model.forward_embeds_at(&embed(&corrupted)?, &mut taps, target.position)?;
    let values = target.value(&corrupted_logits)?;
    let corrupted_metric = values.to_vec1::<f32>()?[0];
    let grads = taps.backward(&values)?;
    let scale = clean_metric - corrupted_metric;
    if scale.abs() < 1e-6 {
        return Err(LoupeError::BadInput(format!(
            "the clean and corrupted prompts give the same metric ({clean_metric:.4}): there is no difference to trace"
        )));
    }
    let site = |s: BlockSite| -> Result<Vec<Vec<f32>>> {
        (0..n).map(|l| estimate(&capture.cache, &taps.values, &grads, HookPoint::Block(l, s), scale)).collect()
    };
    Ok(AttributionPatchResult {
        clean_tokens: tok.token_infos(&clean),
        corrupted_tokens: tok.token_infos(&corrupted),
        clean_metric,
        corrupted_metric,
        resid_pre: site(BlockSite::ResidPre)?,
        attn_out: site(BlockSite::AttnOut)?,
        mlp_out: site(BlockSite::MlpOut)?,
        head_z: site(BlockSite::Z)?,
    })
}

/// (clean − corrupted) · grad, summed over the model dimension (`[1, pos, d]` → per
/// position) or, for `hook_z` (`[1, pos, head, d_head]`), over positions and d_head → per head.
fn estimate(
    clean: &ActivationCache,
    corrupted: &ActivationCache,
    grads: &ActivationCache,
    point: HookPoint,
    scale: f32,
) -> Result<Vec<f32>> {
    let get = |c: &ActivationCache| c.get(point).cloned().ok_or_else(|| LoupeError::BadInput(format!("{point} was not recorded")));
    let product = ((get(clean)? - get(corrupted)?)? * get(grads)?)?.squeeze(0)?;
    let per = match product.rank() {
        3 => product.sum(2)?.sum(0)?,
        _ => product.sum(1)?,
    };
    Ok((per / scale as f64)?.to_vec1()?)
}

/// Attribution patching: the gradient estimate of every activation-patching result at once.
pub struct AttributionPatching;

impl crate::registry::Analysis for AttributionPatching {
    const NAME: &'static str = "attributionPatching";
    const SUMMARY: &'static str = "Attribution patching: the gradient estimate of every activation-patching result at once.";
    const GRADIENTS: bool = true;
    type Request = AttributionPatchRequest;
    type Output = AttributionPatchResult;
    fn run(s: &crate::session::Session, req: &AttributionPatchRequest) -> Result<AttributionPatchResult> {
        attribution_patching(&*s.gradient_model()?, &s.tok, req, s.limits.max_prompt_tokens)
    }
}
