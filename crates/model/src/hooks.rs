//! Hook points, named exactly as TransformerLens names them for a Llama model
//! (`transformer_lens/components/*.py`), and the trait through which a forward pass
//! exposes them.
//!
//! The names are a typed enum; strings exist only at the edges (`Display`/`FromStr`).

use crate::config::LlamaConfig;
use crate::error::{bad_input, Result};
use candle_core::Tensor;
use std::fmt;
use std::str::FromStr;

/// A site inside transformer block `L` (`blocks.L.…`), in forward-pass order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockSite {
    ResidPre,
    Ln1Scale,
    Ln1Normalized,
    Q,
    K,
    V,
    RotQ,
    RotK,
    AttnScores,
    Pattern,
    Z,
    Result,
    AttnOut,
    ResidMid,
    Ln2Scale,
    Ln2Normalized,
    MlpPre,
    MlpPreLinear,
    MlpPost,
    MlpOut,
    ResidPost,
}

impl BlockSite {
    pub const ALL: [BlockSite; 21] = [
        Self::ResidPre,
        Self::Ln1Scale,
        Self::Ln1Normalized,
        Self::Q,
        Self::K,
        Self::V,
        Self::RotQ,
        Self::RotK,
        Self::AttnScores,
        Self::Pattern,
        Self::Z,
        Self::Result,
        Self::AttnOut,
        Self::ResidMid,
        Self::Ln2Scale,
        Self::Ln2Normalized,
        Self::MlpPre,
        Self::MlpPreLinear,
        Self::MlpPost,
        Self::MlpOut,
        Self::ResidPost,
    ];

    /// The name after `blocks.L.`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::ResidPre => "hook_resid_pre",
            Self::Ln1Scale => "ln1.hook_scale",
            Self::Ln1Normalized => "ln1.hook_normalized",
            Self::Q => "attn.hook_q",
            Self::K => "attn.hook_k",
            Self::V => "attn.hook_v",
            Self::RotQ => "attn.hook_rot_q",
            Self::RotK => "attn.hook_rot_k",
            Self::AttnScores => "attn.hook_attn_scores",
            Self::Pattern => "attn.hook_pattern",
            Self::Z => "attn.hook_z",
            Self::Result => "attn.hook_result",
            Self::AttnOut => "hook_attn_out",
            Self::ResidMid => "hook_resid_mid",
            Self::Ln2Scale => "ln2.hook_scale",
            Self::Ln2Normalized => "ln2.hook_normalized",
            Self::MlpPre => "mlp.hook_pre",
            Self::MlpPreLinear => "mlp.hook_pre_linear",
            Self::MlpPost => "mlp.hook_post",
            Self::MlpOut => "hook_mlp_out",
            Self::ResidPost => "hook_resid_post",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookPoint {
    Embed,
    Block(usize, BlockSite),
    LnFinalScale,
    LnFinalNormalized,
}

/// How an activation's axes are laid out, which tells interventions where positions and
/// heads live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[batch, pos, d]`
    PosFeature,
    /// `[batch, pos, head, d]`
    PosHeadFeature,
    /// `[batch, head, query_pos, key_pos]`
    HeadQueryKey,
}

impl HookPoint {
    /// Every hook point of a model, in forward-pass order (the golden list).
    pub fn all(n_layers: usize) -> Vec<HookPoint> {
        let mut v = vec![HookPoint::Embed];
        for l in 0..n_layers {
            v.extend(BlockSite::ALL.iter().map(|&s| HookPoint::Block(l, s)));
        }
        v.push(HookPoint::LnFinalScale);
        v.push(HookPoint::LnFinalNormalized);
        v
    }

    pub fn layer(self) -> Option<usize> {
        match self {
            HookPoint::Block(l, _) => Some(l),
            _ => None,
        }
    }

    pub fn layout(self) -> Layout {
        use BlockSite::*;
        match self {
            HookPoint::Block(_, Q | K | V | RotQ | RotK | Z | Result) => Layout::PosHeadFeature,
            HookPoint::Block(_, AttnScores | Pattern) => Layout::HeadQueryKey,
            _ => Layout::PosFeature,
        }
    }

    /// The activation's shape for a batch of `batch` sequences of `pos` tokens
    /// (TransformerLens's shapes, batch dimension included).
    pub fn shape(self, cfg: &LlamaConfig, batch: usize, pos: usize) -> Vec<usize> {
        use BlockSite::*;
        let (d, h, kv, dh, m) = (cfg.d_model, cfg.n_heads, cfg.n_kv_heads, cfg.d_head, cfg.d_mlp);
        match self {
            HookPoint::Embed | HookPoint::LnFinalNormalized => vec![batch, pos, d],
            HookPoint::LnFinalScale => vec![batch, pos, 1],
            HookPoint::Block(_, site) => match site {
                ResidPre | Ln1Normalized | AttnOut | ResidMid | Ln2Normalized | MlpOut | ResidPost => vec![batch, pos, d],
                Ln1Scale | Ln2Scale => vec![batch, pos, 1],
                Q | RotQ | Z => vec![batch, pos, h, dh],
                K | V | RotK => vec![batch, pos, kv, dh],
                AttnScores | Pattern => vec![batch, h, pos, pos],
                Result => vec![batch, pos, h, d],
                MlpPre | MlpPreLinear | MlpPost => vec![batch, pos, m],
            },
        }
    }
}

impl fmt::Display for HookPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookPoint::Embed => f.write_str("hook_embed"),
            HookPoint::Block(l, s) => write!(f, "blocks.{l}.{}", s.suffix()),
            HookPoint::LnFinalScale => f.write_str("ln_final.hook_scale"),
            HookPoint::LnFinalNormalized => f.write_str("ln_final.hook_normalized"),
        }
    }
}

impl FromStr for HookPoint {
    type Err = crate::error::LoupeError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "hook_embed" => return Ok(HookPoint::Embed),
            "ln_final.hook_scale" => return Ok(HookPoint::LnFinalScale),
            "ln_final.hook_normalized" => return Ok(HookPoint::LnFinalNormalized),
            _ => {}
        }
        let unknown = || bad_input(format!("unknown hook name '{s}'"));
        let rest = s.strip_prefix("blocks.").ok_or_else(unknown)?;
        let (layer, suffix) = rest.split_once('.').ok_or_else(unknown)?;
        let layer: usize = layer.parse().map_err(|_| unknown())?;
        let site = BlockSite::ALL.iter().find(|b| b.suffix() == suffix).ok_or_else(unknown)?;
        Ok(HookPoint::Block(layer, *site))
    }
}

/// What a forward pass calls at every hook point. Implementations capture, intervene, or
/// both; the model itself never stores them.
pub trait Hooks {
    /// Receives the activation at `point` for absolute positions `offset..offset + pos`
    /// (offset > 0 during KV-cached generation) and returns what flows on.
    fn on(&mut self, point: HookPoint, act: Tensor, offset: usize) -> Result<Tensor>;

    /// Whether this hook set looks at `point`. `false` promises that `on` there passes the
    /// activation on untouched and records nothing, so the model may skip materialising it:
    /// `hook_result` (per-head outputs, `[batch, pos, head, d_model]`) is only computed when
    /// wanted, as in TransformerLens's `use_attn_result`; the fused kernels skip
    /// `hook_scale`, `hook_normalized` and `hook_attn_scores`; and a generated token runs a
    /// block no site of which is wanted as the fused decoding step, calling no hook in it.
    /// The default, `true` everywhere, keeps every site on the general path.
    fn wants(&self, point: HookPoint) -> bool {
        let _ = point;
        true
    }
}

/// The plain forward pass: every activation flows on untouched.
pub struct NoHooks;

impl Hooks for NoHooks {
    fn on(&mut self, _point: HookPoint, act: Tensor, _offset: usize) -> Result<Tensor> {
        Ok(act)
    }
    fn wants(&self, _point: HookPoint) -> bool {
        false
    }
}
