//! Loupe's model core: load a Llama-family model from GGUF bytes, tokenize exactly as the
//! reference does, and run a forward pass with TransformerLens-named hook points.
//!
//! The model is immutable; hooks and the KV cache are passed into `forward` explicitly
//! (candle's style, and TransformerLens's own advice against global hook state).

pub mod config;
pub mod error;
pub mod fused;
pub mod gemm;
pub mod generate;
pub mod gguf;
mod gguf_check;
pub mod hooks;
pub mod llama;
pub mod parallel;
pub mod qmatmul;
pub mod sampling;
pub mod synthetic;
pub mod tokenizer;

pub use config::{LlamaConfig, MAX_CONTEXT};
pub use error::{LoupeError, Result};
pub use generate::{generate, GenerateOptions, Generator};
pub use gguf::GgufFile;
pub use gguf_check::METADATA_MEMORY_LIMIT;
pub use hooks::{BlockSite, HookPoint, Hooks, NoHooks};
pub use llama::{KvCache, Llama, WeightMode};
pub use sampling::Sampler;
pub use tokenizer::LoupeTokenizer;
