//! Naming a token in a request: by id, or by its exact text (" Paris"), which must be one
//! token; anything else gets a message that shows how the text splits.

use loupe_model::{LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum TokenRef {
    Id(u32),
    Text(String),
}

impl TokenRef {
    pub fn resolve(&self, tok: &LoupeTokenizer) -> Result<u32> {
        match self {
            TokenRef::Id(id) if (*id as usize) < tok.vocab_size() => Ok(*id),
            TokenRef::Id(id) => Err(LoupeError::BadInput(format!("token id {id} is outside the vocabulary ({})", tok.vocab_size()))),
            TokenRef::Text(text) => {
                let ids = tok.encode(text, false)?;
                match ids.as_slice() {
                    [id] => Ok(*id),
                    [] => Err(LoupeError::BadInput("the target token is empty".into())),
                    many => Err(LoupeError::BadInput(format!(
                        "{text:?} is {} tokens ({}), not one; pick a single token, e.g. {:?}",
                        many.len(),
                        many.iter().map(|&i| format!("{:?}", tok.token_text(i))).collect::<Vec<_>>().join(" + "),
                        tok.token_text(many[0])
                    ))),
                }
            }
        }
    }
}

/// Resolves a position that may count from the end (−1 = last), for a sequence of `len`.
pub fn resolve_position(pos: i64, len: usize) -> Result<usize> {
    let p = if pos < 0 { len as i64 + pos } else { pos };
    if p < 0 || p >= len as i64 {
        return Err(LoupeError::BadInput(format!("position {pos} is outside the prompt's {len} tokens")));
    }
    Ok(p as usize)
}
