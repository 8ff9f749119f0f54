//! The neuron view: one MLP neuron's activation (`blocks.L.mlp.hook_post[…, n]`) over the
//! prompt, and what it writes: its output direction (column n of W_down) read through the
//! final norm's gain and the unembedding — the tokens it promotes and suppresses directly
//! (Geva et al. 2022, "Transformer feed-forward layers build predictions by promoting
//! concepts in the vocabulary space").

use crate::capture::capture_one;
use crate::run::tokenize_checked;
use crate::TopToken;
use candle_core::{IndexOp, Tensor};
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{BlockSite, HookPoint, Llama, LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct NeuronRequest {
    pub prompt: String,
    pub layer: usize,
    pub neuron: usize,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub top_k: Option<usize>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct NeuronResult {
    pub tokens: Vec<TokenInfo>,
    /// The activation at every position.
    pub activations: Vec<f32>,
    /// Largest and smallest entries of W_U (w_ln ⊙ W_down[:, n]); `prob` holds the value.
    pub promoted: Vec<TopToken>,
    pub suppressed: Vec<TopToken>,
}

pub fn neuron_view(model: &Llama, tok: &LoupeTokenizer, req: &NeuronRequest, max_tokens: usize) -> Result<NeuronResult> {
    let cfg = &model.cfg;
    if req.layer >= cfg.n_layers || req.neuron >= cfg.d_mlp {
        return Err(LoupeError::BadInput(format!(
            "neuron {}.{} does not exist: layers 0..{}, neurons 0..{}",
            req.layer,
            req.neuron,
            cfg.n_layers - 1,
            cfg.d_mlp - 1
        )));
    }
    let ids = tokenize_checked(tok, &req.prompt, req.prepend_bos, max_tokens)?;
    let post = capture_one(model, &ids, HookPoint::Block(req.layer, BlockSite::MlpPost))?;
    let activations = post.i((.., req.neuron))?.to_vec1::<f32>()?;
    let direction = model.mlp_out_direction(req.layer, req.neuron)?; // [d_model]
    let (promoted, suppressed) = direct_token_effects(model, tok, &direction, req.top_k.unwrap_or(10))?;
    Ok(NeuronResult { tokens: tok.token_infos(&ids), activations, promoted, suppressed })
}

/// The tokens a residual-stream direction `[d_model]` promotes and suppresses most through
/// the final norm's gain and the unembedding (its direct effect on the logits); `prob`
/// holds the logit change per unit of the direction.
pub(crate) fn direct_token_effects(
    model: &Llama,
    tok: &LoupeTokenizer,
    direction: &Tensor,
    k: usize,
) -> Result<(Vec<TopToken>, Vec<TopToken>)> {
    let effect: Vec<f32> = model.unembed_vector(&(direction * model.ln_final_weight())?)?.to_vec1()?;
    let k = k.clamp(1, 50);
    let mut order: Vec<usize> = (0..effect.len()).collect();
    order.sort_by(|&a, &b| effect[b].total_cmp(&effect[a]).then(a.cmp(&b)));
    let pick = |i: &usize| TopToken { token: tok.token_text(*i as u32), id: *i as u32, prob: effect[*i] };
    Ok((order.iter().take(k).map(pick).collect(), order.iter().rev().take(k).map(pick).collect()))
}

/// One MLP neuron: its activation over the prompt and the tokens it promotes and suppresses.
pub struct NeuronView;

impl crate::registry::Analysis for NeuronView {
    const NAME: &'static str = "neuronView";
    const SUMMARY: &'static str = "One MLP neuron: its activation over the prompt and the tokens it promotes and suppresses.";
    type Request = NeuronRequest;
    type Output = NeuronResult;
    fn run(s: &crate::session::Session, req: &NeuronRequest) -> Result<NeuronResult> {
        neuron_view(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }
}
