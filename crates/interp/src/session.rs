//! What every analysis needs, held once: the model, its tokenizer, the limits of the front
//! end that runs them, the differentiable f32 copy gradients need (built on first use), and
//! the loaded sparse autoencoder. Front ends make one `Session` per loaded model and hand it
//! to the registry (`crate::registry`) instead of passing the same four arguments around.

use crate::sae::Sae;
use loupe_model::{GgufFile, Llama, LoupeError, LoupeTokenizer, Result, WeightMode};
use std::cell::RefCell;
use std::rc::Rc;

/// Bounds a front end puts on requests.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Prompts with more tokens are refused with a message (the browser: a 30-layer
    /// attention pattern over more would not fit a tab's memory comfortably).
    pub max_prompt_tokens: usize,
}

pub struct Session {
    pub model: Rc<Llama>,
    pub tok: Rc<LoupeTokenizer>,
    pub limits: Limits,
    /// The model file, kept so the f32 differentiable copy can be built on first use when
    /// `model` is quantized.
    file: Option<Rc<GgufFile>>,
    gradient_model: RefCell<Option<Rc<Llama>>>,
    sae: RefCell<Option<Rc<Sae>>>,
}

impl Session {
    pub fn new(model: Llama, tok: LoupeTokenizer, limits: Limits) -> Self {
        Session {
            model: Rc::new(model),
            tok: Rc::new(tok),
            limits,
            file: None,
            gradient_model: RefCell::new(None),
            sae: RefCell::new(None),
        }
    }

    /// Keeps the file the model came from, for the differentiable copy (see `gradient_model`).
    pub fn with_file(mut self, file: Rc<GgufFile>) -> Self {
        self.file = Some(file);
        self
    }

    /// Whether the differentiable model is built (the first gradient request builds it).
    pub fn has_gradient_model(&self) -> bool {
        self.gradient_model.borrow().is_some()
    }

    /// The f32 model whose matrix products have a backward pass (about 650 MB for the
    /// default model): the model itself made differentiable when it is f32, else a copy
    /// loaded from the kept file in f32.
    pub fn gradient_model(&self) -> Result<Rc<Llama>> {
        if let Some(m) = self.gradient_model.borrow().as_ref() {
            return Ok(m.clone());
        }
        let model = match (self.model.mode, &self.file) {
            (WeightMode::F32, _) => self.model.differentiable()?,
            (_, Some(file)) => Llama::load(file, WeightMode::F32)?.differentiable()?,
            (mode, None) => {
                return Err(LoupeError::BadInput(format!("gradients need f32 weights: this model was loaded as {mode:?} without its file")))
            }
        };
        let model = Rc::new(model);
        *self.gradient_model.borrow_mut() = Some(model.clone());
        Ok(model)
    }

    /// The loaded sparse autoencoder, or an error that says how to load one.
    pub fn sae(&self) -> Result<Rc<Sae>> {
        self.sae.borrow().clone().ok_or_else(|| LoupeError::BadInput("no sparse autoencoder is loaded (loadSae first)".into()))
    }

    /// Makes `sae` the loaded one (it was checked against this model when it was built).
    pub fn set_sae(&self, sae: Sae) -> Rc<Sae> {
        let sae = Rc::new(sae);
        *self.sae.borrow_mut() = Some(sae.clone());
        sae
    }
}
