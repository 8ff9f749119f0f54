//! Interpretability on top of a hooked model: which hooks to read (name patterns), the
//! activation cache, and interventions as plain data (pyvene's idea: site + operation,
//! serialisable, so they can be saved, shared in a URL, and replayed).
//!
//! Everything here implements or uses `loupe_model::Hooks`; the model never knows.

pub mod ablation;
pub mod attribution;
pub mod attribution_patching;
pub mod bounds;
pub mod capture;
pub mod chain;
#[cfg(feature = "ts")]
pub mod declarations;
pub mod detectors;
pub mod dla;
pub mod examples;
pub mod gradient;
pub mod integrated_gradients;
pub mod intervention;
pub mod lens;
pub mod metric;
pub mod neuron;
pub mod numerics;
pub mod pairs;
pub mod patching;
pub mod pattern;
pub mod probe;
pub mod registry;
pub mod run;
pub mod sae;
pub mod sae_train;
pub mod session;
pub mod steering;
pub mod target;

pub use capture::{ActivationCache, Capture};
pub use chain::Chain;
pub use intervention::{Intervention, InterventionOp, Interventions};
pub use numerics::{top_k, TopToken};
pub use pattern::{resolve_patterns, Glob};
pub use registry::{Analysis, Stepped};
pub use run::{generate_text, run_prompt, GenerateRequest, RunOutput, RunRequest, TextGeneration};
pub use session::{Limits, Session};
