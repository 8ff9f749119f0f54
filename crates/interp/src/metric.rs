//! The scalar a causal experiment measures at the last position: a logit difference
//! (the usual choice: it ignores everything the two tokens share) or one token's log-prob.

use crate::numerics::log_softmax;
use crate::target::TokenRef;
use candle_core::{IndexOp, Tensor};
use loupe_model::{LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Metric {
    /// logit(token) − logit(minus) at the last position.
    LogitDiff { token: TokenRef, minus: TokenRef },
    /// log p(token) at the last position.
    Logprob { token: TokenRef },
}

impl Metric {
    pub(crate) fn resolve(&self, tok: &LoupeTokenizer) -> Result<ResolvedMetric> {
        Ok(match self {
            Metric::LogitDiff { token, minus } => {
                let (a, b) = (token.resolve(tok)?, minus.resolve(tok)?);
                if a == b {
                    return Err(LoupeError::BadInput("the metric's two tokens are the same".into()));
                }
                ResolvedMetric::LogitDiff(a, b)
            }
            Metric::Logprob { token } => ResolvedMetric::Logprob(token.resolve(tok)?),
        })
    }
}

pub(crate) enum ResolvedMetric {
    LogitDiff(u32, u32),
    Logprob(u32),
}

impl ResolvedMetric {
    /// The metric for each row of last-position logits `[batch, vocab]`.
    pub(crate) fn eval(&self, logits: &Tensor) -> Result<Vec<f32>> {
        Ok(match *self {
            ResolvedMetric::LogitDiff(a, b) => (logits.i((.., a as usize))? - logits.i((.., b as usize))?)?.to_vec1()?,
            ResolvedMetric::Logprob(a) => log_softmax(logits)?.i((.., a as usize))?.to_vec1()?,
        })
    }
}
