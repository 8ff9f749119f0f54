//! Training a small sparse autoencoder on the user's own prompts (in the page, step by step
//! with progress and Stop). A standard ReLU SAE (Bricken et al. 2023): loss = ‖x − x̂‖² +
//! λ Σ_i f_i ‖W_dec[i]‖ (the decoder-norm-weighted L1 of Anthropic's April 2024 update, so
//! shrinking decoder rows cannot dodge the penalty), AdamW, decoder initialised to random unit
//! rows with W_enc = W_decᵀ and b_dec = the data mean. Inputs are divided by their mean norm
//! while training so one λ suits any hook; the finished SAE is rescaled to raw activations.
//!
//! Training data: the hook's activation at every position of every prompt except position 0,
//! whose residual norm is ~100× the others' (an attention sink) and would dominate the loss.

use crate::capture::capture_one;
use crate::run::tokenize_checked;
use crate::sae::{Architecture, Sae, SaeConfig};
use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use loupe_model::hooks::Layout;
use loupe_model::sampling::SplitMix64;
use loupe_model::{HookPoint, Llama, LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", default)]
pub struct SaeTrainRequest {
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<String>>", optional))]
    pub prompts: Vec<String>,
    #[cfg_attr(feature = "ts", ts(as = "Option<String>", optional))]
    pub hook: String,
    #[cfg_attr(feature = "ts", ts(as = "Option<usize>", optional))]
    pub d_sae: usize,
    /// λ, the sparsity penalty (on inputs scaled to unit mean norm).
    #[cfg_attr(feature = "ts", ts(as = "Option<f64>", optional))]
    pub l1: f64,
    #[cfg_attr(feature = "ts", ts(as = "Option<usize>", optional))]
    pub steps: usize,
    #[cfg_attr(feature = "ts", ts(as = "Option<usize>", optional))]
    pub batch: usize,
    #[cfg_attr(feature = "ts", ts(as = "Option<f64>", optional))]
    pub lr: f64,
    #[cfg_attr(feature = "ts", ts(as = "Option<u64>", optional))]
    pub seed: u64,
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

impl Default for SaeTrainRequest {
    fn default() -> Self {
        Self {
            prompts: Vec::new(),
            hook: "blocks.12.hook_resid_pre".into(),
            d_sae: 256,
            l1: 3e-2,
            steps: 400,
            batch: 128,
            lr: 2e-3,
            seed: 0,
            prepend_bos: false,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TrainPoint {
    pub step: usize,
    /// On all the training tokens: 1 − Σ‖x − x̂‖² / Σ‖x − mean x‖².
    pub explained_variance: f32,
    /// Mean active features per token.
    pub l0: f32,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct SaeTrainProgress {
    pub tokens: usize,
    pub step: usize,
    pub steps: usize,
    pub history: Vec<TrainPoint>,
    pub finished: bool,
}

pub struct SaeTraining {
    cfg: SaeConfig,
    /// Training activations `[n, d]`, divided by `scale`.
    data: Tensor,
    scale: f64,
    w_enc: Var,
    b_enc: Var,
    w_dec: Var,
    b_dec: Var,
    opt: AdamW,
    rng: SplitMix64,
    l1: f64,
    batch: usize,
    step: usize,
    steps: usize,
    history: Vec<TrainPoint>,
}

/// Evaluate (explained variance, L0) every this many steps, and at the end.
const EVAL_EVERY: usize = 20;

impl SaeTraining {
    pub fn start(model: &Llama, tok: &LoupeTokenizer, req: &SaeTrainRequest, max_tokens: usize) -> Result<Self> {
        let hook: HookPoint = req.hook.parse()?;
        if hook.layout() != Layout::PosFeature || hook.layer().is_some_and(|l| l >= model.cfg.n_layers) {
            return Err(LoupeError::BadInput(format!("cannot train an SAE on '{}': pick a [batch, pos, d] hook of this model", req.hook)));
        }
        if !(8..=8192).contains(&req.d_sae)
            || req.steps == 0
            || req.batch == 0
            || req.l1.is_nan()
            || req.l1 < 0.0
            || req.lr.is_nan()
            || req.lr <= 0.0
        {
            return Err(LoupeError::BadInput("SAE training needs 8 ≤ d_sae ≤ 8192, steps ≥ 1, batch ≥ 1, l1 ≥ 0, lr > 0".into()));
        }
        crate::bounds::at_most("the number of prompts", req.prompts.len(), crate::bounds::MAX_PROMPTS)?;
        // Work per step grows with batch × d_sae × d_in: bound the whole run's products.
        let d_in = *hook.shape(&model.cfg, 1, 1).last().unwrap_or(&1);
        let work = [req.steps, req.batch.min(max_tokens.saturating_mul(req.prompts.len())), req.d_sae, d_in]
            .iter()
            .fold(1u64, |n, &x| n.saturating_mul(x as u64));
        if work > crate::bounds::MAX_SAE_TRAIN_WORK {
            return Err(LoupeError::BadInput(format!(
                "SAE training of {} steps × batch {} × d_sae {} × {d_in} inputs is too much work for a page (at most {:.0e} multiply-adds per matrix); use fewer steps or a smaller batch",
                req.steps,
                req.batch,
                req.d_sae,
                crate::bounds::MAX_SAE_TRAIN_WORK as f64
            )));
        }
        let mut rows = Vec::new();
        for prompt in req.prompts.iter().filter(|p| !p.trim().is_empty()) {
            let ids = tokenize_checked(tok, prompt, req.prepend_bos, max_tokens)?;
            let act = capture_one(model, &ids, hook)?;
            if ids.len() > 1 {
                rows.push(act.narrow(0, 1, ids.len() - 1)?);
            }
        }
        let data = match rows.is_empty() {
            true => return Err(LoupeError::BadInput("no training tokens: give prompts of at least two tokens".into())),
            false => Tensor::cat(&rows, 0)?,
        };
        let (n, d) = data.dims2()?;
        if n < 16 {
            return Err(LoupeError::BadInput(format!(
                "only {n} training token{}: give more or longer prompts (at least 16 tokens after the first of each)",
                if n == 1 { "" } else { "s" }
            )));
        }
        let scale = data.sqr()?.sum(1)?.sqrt()?.mean_all()?.to_scalar::<f32>()? as f64;
        let data = (data / scale)?;
        let m = req.d_sae;
        let mut rng = SplitMix64::new(req.seed);
        let dec: Vec<f32> = rng.normals(m * d).into_iter().map(|z| z as f32).collect();
        let dec = Tensor::from_vec(dec, (m, d), &Device::Cpu)?;
        let dec = dec.broadcast_div(&dec.sqr()?.sum_keepdim(1)?.sqrt()?)?;
        let w_dec = Var::from_tensor(&dec)?;
        let w_enc = Var::from_tensor(&dec.t()?.contiguous()?)?;
        let b_enc = Var::zeros(m, DType::F32, &Device::Cpu)?;
        let b_dec = Var::from_tensor(&data.mean(0)?)?;
        let params = ParamsAdamW { lr: req.lr, weight_decay: 0.0, ..Default::default() };
        let opt = AdamW::new(vec![w_enc.clone(), b_enc.clone(), w_dec.clone(), b_dec.clone()], params)?;
        let cfg = SaeConfig {
            d_in: d,
            d_sae: m,
            hook_name: hook.to_string(),
            architecture: Architecture::Standard,
            apply_b_dec_to_input: true,
            normalize_activations: None,
        };
        Ok(Self {
            cfg,
            data,
            scale,
            w_enc,
            b_enc,
            w_dec,
            b_dec,
            opt,
            rng,
            l1: req.l1,
            batch: req.batch.min(n),
            step: 0,
            steps: req.steps,
            history: Vec::new(),
        })
    }

    fn encode(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.broadcast_sub(self.b_dec.as_tensor())?.matmul(self.w_enc.as_tensor())?.broadcast_add(self.b_enc.as_tensor())?.relu()?)
    }

    fn decode(&self, f: &Tensor) -> Result<Tensor> {
        Ok(f.matmul(self.w_dec.as_tensor())?.broadcast_add(self.b_dec.as_tensor())?)
    }

    /// Runs up to `n` optimiser steps; returns whether steps remain.
    pub fn step(&mut self, n: usize) -> Result<bool> {
        let rows = self.data.dim(0)?;
        for _ in 0..n.max(1) {
            if self.step >= self.steps {
                break;
            }
            let idx: Vec<u32> = (0..self.batch).map(|_| (self.rng.next_u64() % rows as u64) as u32).collect();
            let x = self.data.index_select(&Tensor::new(idx.as_slice(), &Device::Cpu)?, 0)?;
            let f = self.encode(&x)?;
            let x_hat = self.decode(&f)?;
            let mse = (x_hat - &x)?.sqr()?.sum(D::Minus1)?.mean_all()?;
            let dec_norms = self.w_dec.as_tensor().sqr()?.sum(1)?.sqrt()?;
            let sparsity = f.broadcast_mul(&dec_norms)?.sum(D::Minus1)?.mean_all()?;
            let loss = (mse + (sparsity * self.l1)?)?;
            self.opt.backward_step(&loss)?;
            self.step += 1;
            if self.step.is_multiple_of(EVAL_EVERY) || self.step == self.steps {
                self.evaluate()?;
            }
        }
        Ok(self.step < self.steps)
    }

    fn evaluate(&mut self) -> Result<()> {
        let x = &self.data;
        let f = self.encode(x)?;
        let err = (self.decode(&f)? - x)?.sqr()?.sum_all()?.to_scalar::<f32>()?;
        let var = x.broadcast_sub(&x.mean_keepdim(0)?)?.sqr()?.sum_all()?.to_scalar::<f32>()?;
        let l0 = f.gt(0.0)?.to_dtype(DType::F32)?.sum(1)?.mean_all()?.to_scalar::<f32>()?;
        self.history.push(TrainPoint { step: self.step, explained_variance: 1.0 - err / var, l0 });
        Ok(())
    }

    pub fn progress(&self) -> Result<SaeTrainProgress> {
        Ok(SaeTrainProgress {
            tokens: self.data.dim(0)?,
            step: self.step,
            steps: self.steps,
            history: self.history.clone(),
            finished: self.step >= self.steps,
        })
    }

    /// The SAE as trained so far, for raw activations, with unit-norm decoder rows (SAELens's
    /// convention, so an activation is the feature's length in the residual stream). With s
    /// the input scale and n_i = s‖W_dec[i]‖: W_enc[:, i]·n_i/s, b_enc[i]·n_i, W_dec[i]·s/n_i,
    /// s·b_dec — relu(a·z) = a·relu(z) for a > 0, so x̂ is exactly what training computed, × s.
    pub fn sae(&self) -> Result<Sae> {
        let s = self.scale;
        let n = (self.w_dec.as_tensor().sqr()?.sum(1)?.sqrt()? * s)?.clamp(1e-12, f64::MAX)?; // [d_sae]
        let w_enc = self.w_enc.as_tensor().broadcast_mul(&n.unsqueeze(0)?)?.affine(1.0 / s, 0.0)?;
        let b_enc = (self.b_enc.as_tensor() * &n)?;
        let w_dec = self.w_dec.as_tensor().broadcast_div(&n.unsqueeze(1)?)?.affine(s, 0.0)?;
        let b_dec = (self.b_dec.as_tensor() * s)?;
        Sae::from_parts(self.cfg.clone(), w_enc, b_enc, w_dec, b_dec, None)
    }
}

/// Optimiser steps per `step` of the registered job, between progress reports and Stop
/// checks (explained variance and L0 are evaluated every `EVAL_EVERY` steps).
pub const STEPS_PER_REPORT: usize = 20;

/// What SAE training resolves with: the trained SAE's config (it is now the loaded one)
/// and the final progress.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TrainedSae {
    pub cfg: SaeConfig,
    pub progress: SaeTrainProgress,
}

/// SAE training as a registered job; finished or stopped, the SAE trained so far becomes
/// the session's loaded SAE.
pub struct TrainSae;

impl crate::registry::Stepped for TrainSae {
    const NAME: &'static str = "trainSae";
    const SUMMARY: &'static str = "Trains a small SAE on your prompts' activations, then makes it the loaded SAE.";
    const PHASE: &'static str = "train-sae";
    type Request = SaeTrainRequest;
    type Job = SaeTraining;
    type Partial = SaeTrainProgress;
    type Output = TrainedSae;
    fn start(s: &crate::session::Session, req: &SaeTrainRequest) -> Result<SaeTraining> {
        SaeTraining::start(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }
    fn step(_: &crate::session::Session, job: &mut SaeTraining) -> Result<bool> {
        job.step(STEPS_PER_REPORT)
    }
    fn progress(job: &SaeTraining) -> crate::registry::Progress {
        crate::registry::Progress { done: job.step, total: job.steps }
    }
    fn partial(_: &crate::session::Session, job: &SaeTraining) -> Result<SaeTrainProgress> {
        job.progress()
    }
    fn finish(s: &crate::session::Session, job: &SaeTraining) -> Result<TrainedSae> {
        let sae = s.set_sae(job.sae()?);
        Ok(TrainedSae { cfg: sae.cfg.clone(), progress: job.progress()? })
    }
}
