//! Activation patching / causal tracing (Meng et al. 2022; Wang et al. 2022; TransformerLens
//! `patching.py`): run the corrupted prompt, patch in one clean activation at a time, and
//! measure how much of the clean behaviour comes back:
//!     (metric(patched) − metric(corrupted)) / (metric(clean) − metric(corrupted))
//! so clean = 1 and corrupted = 0.
//!
//! A sweep advances one layer per `step`, so a front end can show progress and cancel.
//! Within a layer the patched runs are one batch (row i patches position or head i), and
//! every run starts at the patched layer from the corrupted residual stream there: the
//! layers before it are the same in every run and are computed once. Causal attention
//! also leaves every position before the patched one as in the corrupted run, so a batch
//! recomputes only the positions from its earliest patch on, reading the corrupted run's
//! cached keys and values for the ones before (`Llama::forward_from_layer_after`). For a
//! name-swap pair like the IOI prompts that is the few positions after the swapped name.

use crate::capture::Capture;
pub use crate::metric::Metric;
use crate::metric::ResolvedMetric;
use crate::run::tokenize_checked;
use candle_core::{DType, Device, IndexOp, Tensor};
use loupe_model::parallel;
use loupe_model::tokenizer::TokenInfo;
use loupe_model::{BlockSite, HookPoint, Hooks, KvCache, Llama, LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PatchSite {
    /// `blocks.L.hook_resid_pre` at every (layer, position).
    ResidPre,
    /// `blocks.L.hook_attn_out` at every (layer, position).
    AttnOut,
    /// `blocks.L.hook_mlp_out` at every (layer, position).
    MlpOut,
    /// `blocks.L.attn.hook_z`, one head at all positions: every (layer, head).
    HeadZ,
    /// `blocks.L.attn.hook_z`, one head at one position: every (layer, head, position);
    /// each layer's values are head-major, `[head * positions + position]`.
    HeadZPos,
}

impl PatchSite {
    fn block_site(self) -> BlockSite {
        match self {
            PatchSite::ResidPre => BlockSite::ResidPre,
            PatchSite::AttnOut => BlockSite::AttnOut,
            PatchSite::MlpOut => BlockSite::MlpOut,
            PatchSite::HeadZ | PatchSite::HeadZPos => BlockSite::Z,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PatchRequest {
    pub clean: String,
    pub corrupted: String,
    pub metric: Metric,
    pub site: PatchSite,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PatchResult {
    pub clean_tokens: Vec<TokenInfo>,
    pub corrupted_tokens: Vec<TokenInfo>,
    pub site: PatchSite,
    pub clean_metric: f32,
    pub corrupted_metric: f32,
    /// `[n_layers][positions]` (`[n_layers][heads]` for `head_z`, `[n_layers][heads × positions]`
    /// head-major for `head_z_pos`), normalised; rows not yet computed are absent.
    pub values: Vec<Vec<f32>>,
    pub layers_done: usize,
    pub n_layers: usize,
}

pub struct PatchSweep {
    site: PatchSite,
    metric: ResolvedMetric,
    clean_acts: Vec<Tensor>,
    corrupted_resid: Vec<Tensor>,
    clean_tokens: Vec<TokenInfo>,
    corrupted_tokens: Vec<TokenInfo>,
    clean_metric: f32,
    corrupted_metric: f32,
    values: Vec<Vec<f32>>,
    /// Positions before the first token where the prompts differ hold identical activations
    /// in both runs (causal attention), so patching them is exactly 0 and is not run.
    first_difference: usize,
    /// The corrupted run's keys and values at every layer and position: a batch starting at
    /// position p reads its first p.
    corrupted_cache: KvCache,
}

/// Patching swaps activations position by position, so both prompts need the same length.
pub(crate) fn check_same_length(clean: &[u32], corrupted: &[u32]) -> Result<()> {
    if clean.len() != corrupted.len() {
        return Err(LoupeError::BadInput(format!(
            "the clean prompt has {} tokens and the corrupted one {}: patching position by position needs \
             prompts of the same token length (change words for words that are one token each, e.g. names); \
             head patching (all positions) needs it too",
            clean.len(),
            corrupted.len()
        )));
    }
    Ok(())
}

/// Patched runs per forward batch: bounds memory for long prompts.
const MAX_BATCH: usize = 16;

impl PatchSweep {
    pub fn start(model: &Llama, tok: &LoupeTokenizer, req: &PatchRequest, max_tokens: usize) -> Result<Self> {
        let clean = tokenize_checked(tok, &req.clean, req.prepend_bos, max_tokens)?;
        let corrupted = tokenize_checked(tok, &req.corrupted, req.prepend_bos, max_tokens)?;
        check_same_length(&clean, &corrupted)?;
        let metric = req.metric.resolve(tok)?;
        let n = model.cfg.n_layers;
        let site_points: Vec<HookPoint> = (0..n).map(|l| HookPoint::Block(l, req.site.block_site())).collect();
        let resid_points: Vec<HookPoint> = (0..n).map(|l| HookPoint::Block(l, BlockSite::ResidPre)).collect();
        let run = |ids: &[u32], points: Vec<HookPoint>, cache: Option<&mut KvCache>| -> Result<(Vec<Tensor>, f32)> {
            let mut capture = Capture::new(points.clone());
            let input = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
            let logits = model.forward(&input, &mut capture, cache)?;
            let last = logits.i((.., ids.len() - 1))?; // [1, vocab]
            let m = metric.eval(&last)?[0];
            let acts = points
                .iter()
                .map(|p| capture.cache.get(*p).cloned().ok_or_else(|| LoupeError::BadInput(format!("{p} not captured"))))
                .collect::<Result<_>>()?;
            Ok((acts, m))
        };
        let (clean_acts, clean_metric) = run(&clean, site_points, None)?;
        let mut corrupted_cache = KvCache::new(n);
        let (corrupted_resid, corrupted_metric) = run(&corrupted, resid_points, Some(&mut corrupted_cache))?;
        if (clean_metric - corrupted_metric).abs() < 1e-6 {
            return Err(LoupeError::BadInput(format!(
                "the clean and corrupted prompts give the same metric ({clean_metric:.4}): there is no difference to trace"
            )));
        }
        Ok(Self {
            site: req.site,
            metric,
            clean_acts,
            corrupted_resid,
            clean_tokens: tok.token_infos(&clean),
            corrupted_tokens: tok.token_infos(&corrupted),
            clean_metric,
            corrupted_metric,
            values: Vec::with_capacity(n),
            first_difference: clean.iter().zip(&corrupted).position(|(a, b)| a != b).unwrap_or(clean.len()),
            corrupted_cache,
        })
    }

    pub fn is_done(&self) -> bool {
        self.values.len() == self.corrupted_resid.len()
    }

    /// Patches every position (or head) of the next layer; returns false once all are done.
    pub fn step(&mut self, model: &Llama) -> Result<bool> {
        if self.is_done() {
            return Ok(false);
        }
        let l = self.values.len();
        let point = HookPoint::Block(l, self.site.block_site());
        let clean = &self.clean_acts[l];
        let (_, pos, _) = self.corrupted_resid[l].dims3()?;
        let heads = clean.dim(2)?;
        // Each patched run is one (position, head) choice; None = all of that axis.
        let runs: Vec<(Option<usize>, Option<usize>)> = match self.site {
            PatchSite::HeadZ => (0..heads).map(|h| (None, Some(h))).collect(),
            PatchSite::HeadZPos => (0..heads).flat_map(|h| (0..pos).map(move |p| (Some(p), Some(h)))).collect(),
            _ => (0..pos).map(|p| (Some(p), None)).collect(),
        };
        let span = self.clean_metric - self.corrupted_metric;
        let mut row = vec![0.0; runs.len()];
        // Positions before the first difference are identical in both runs: exactly 0.
        let todo: Vec<usize> = (0..runs.len()).filter(|&i| runs[i].0.is_none_or(|p| p >= self.first_difference)).collect();
        // One batch per thread at a time (the browser's threaded build): each runs the
        // whole model on its runs, which parallelises more than splitting each product.
        let per = todo.len().div_ceil(parallel::threads()).clamp(1, MAX_BATCH);
        let chunks: Vec<&[usize]> = todo.chunks(per).collect();
        // A chunk recomputes positions from its earliest patch on (every position's run
        // patches ≥ first_difference; a patch at all positions changes none before it).
        let start_of = |chunk: &[usize]| chunk.iter().map(|&i| runs[i].0.unwrap_or(self.first_difference)).min().unwrap_or(0).min(pos - 1);
        let metrics = parallel::map(&chunks, |chunk| {
            let (b, start) = (chunk.len(), start_of(chunk));
            let resid = self.corrupted_resid[l].narrow(1, start, pos - start)?;
            let x = resid.broadcast_as((b, pos - start, resid.dim(2)?))?.contiguous()?;
            let mut hooks = OneHotPatch { point, clean: clean.clone(), runs: chunk.iter().map(|&i| runs[i]).collect() };
            let prefix = self.corrupted_cache.prefix(start)?;
            let logits = model.forward_from_layer_after(l, &x, &prefix, &mut hooks, true)?.squeeze(1)?; // [b, vocab]
            self.metric.eval(&logits)
        })?;
        for (chunk, ms) in chunks.iter().zip(metrics) {
            for (&i, m) in chunk.iter().zip(ms) {
                row[i] = (m - self.corrupted_metric) / span;
            }
        }
        self.values.push(row);
        Ok(!self.is_done())
    }

    pub fn result(&self) -> PatchResult {
        PatchResult {
            clean_tokens: self.clean_tokens.clone(),
            corrupted_tokens: self.corrupted_tokens.clone(),
            site: self.site,
            clean_metric: self.clean_metric,
            corrupted_metric: self.corrupted_metric,
            values: self.values.clone(),
            layers_done: self.values.len(),
            n_layers: self.corrupted_resid.len(),
        }
    }
}

/// Batch row i takes the clean activation at `runs[i]` = (position, head), `None` meaning
/// every position / every head; everything else stays corrupted. Positions are absolute:
/// a run after a cached prefix sees positions `offset..`.
struct OneHotPatch {
    point: HookPoint,
    clean: Tensor,
    runs: Vec<(Option<usize>, Option<usize>)>,
}

impl Hooks for OneHotPatch {
    fn on(&mut self, point: HookPoint, act: Tensor, offset: usize) -> Result<Tensor> {
        if point != self.point {
            return Ok(act);
        }
        let dims = act.dims().to_vec();
        // [b, pos, 1] for the residual-stream sites, [b, pos, head, 1] for hook_z.
        let (b, pos) = (dims[0], dims[1]);
        let heads = if dims.len() == 4 { dims[2] } else { 1 };
        let mut mask = vec![0u8; b * pos * heads];
        for (i, &(p_sel, h_sel)) in self.runs.iter().enumerate() {
            for p in (0..pos).filter(|&p| p_sel.is_none_or(|x| x == offset + p)) {
                for h in (0..heads).filter(|&h| h_sel.is_none_or(|x| x == h)) {
                    mask[(i * pos + p) * heads + h] = 1;
                }
            }
        }
        let mut shape = vec![b, pos];
        if dims.len() == 4 {
            shape.push(heads);
        }
        shape.push(1);
        let mask = Tensor::from_vec(mask, shape, &Device::Cpu)?.broadcast_as(dims.as_slice())?;
        let clean = self.clean.narrow(1, offset, pos)?.to_dtype(DType::F32)?.broadcast_as(dims.as_slice())?;
        Ok(mask.where_cond(&clean, &act)?)
    }
    fn wants(&self, point: HookPoint) -> bool {
        point == self.point
    }
}

/// Activation patching as a registered job: one layer per step.
pub struct Patch;

impl crate::registry::Stepped for Patch {
    const NAME: &'static str = "patch";
    const SUMMARY: &'static str =
        "Activation patching: clean activations patched into the corrupted run, site by site, one layer per step.";
    const PHASE: &'static str = "patch";
    type Request = PatchRequest;
    type Job = PatchSweep;
    type Partial = PatchResult;
    type Output = PatchResult;
    fn start(s: &crate::session::Session, req: &PatchRequest) -> Result<PatchSweep> {
        PatchSweep::start(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }
    fn step(s: &crate::session::Session, job: &mut PatchSweep) -> Result<bool> {
        job.step(&s.model)
    }
    fn progress(job: &PatchSweep) -> crate::registry::Progress {
        let r = job.result();
        crate::registry::Progress { done: r.layers_done, total: r.n_layers }
    }
    fn partial(_: &crate::session::Session, job: &PatchSweep) -> Result<PatchResult> {
        Ok(job.result())
    }
    fn finish(_: &crate::session::Session, job: &PatchSweep) -> Result<PatchResult> {
        Ok(job.result())
    }
}
