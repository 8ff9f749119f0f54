//! One error type for the model core; it becomes a CLI line or a UI message at the edges.

#[derive(Debug, thiserror::Error)]
pub enum LoupeError {
    /// The bytes are not a usable GGUF file (truncated, corrupt, wrong magic).
    #[error("invalid model file: {0}")]
    InvalidModel(String),
    /// A valid GGUF file for a model this tool does not run.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// The caller asked for something impossible (empty prompt, too long, bad hook name).
    #[error("{0}")]
    BadInput(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, LoupeError>;

pub(crate) fn bad_input(msg: impl Into<String>) -> LoupeError {
    LoupeError::BadInput(msg.into())
}
