//! The registry: every analysis declared once — its wire name, request type, result type,
//! and whether it is a one-shot call (`Analysis`) or a stepped job (`Stepped`: progress, a
//! partial result after each step, stop between steps). Front ends never list analyses
//! themselves: the wasm binding dispatches `call(name, request)` / `start(name, request)`
//! through `visit`, the CLI's `loupe call NAME` does the same natively, and `catalogue`
//! tells the page what exists (`loupe.analyses`).
//!
//! Adding an analysis: write its module (request, result, function, and its `impl
//! Analysis`/`impl Stepped`), add `pub mod` in lib.rs and one line to `visit` below.

use crate::capture::ActivationCache;
use crate::session::Session;
use loupe_model::Result;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A wire type: with the `ts` feature also one with a TypeScript declaration (ts-rs), so
/// `declarations` can write every request and result into www/types/analyses.d.ts.
#[cfg(feature = "ts")]
pub trait Wire: ts_rs::TS + 'static {}
#[cfg(feature = "ts")]
impl<T: ts_rs::TS + 'static> Wire for T {}
#[cfg(not(feature = "ts"))]
pub trait Wire {}
#[cfg(not(feature = "ts"))]
impl<T> Wire for T {}

/// A one-shot analysis: request in, result out.
pub trait Analysis: 'static {
    /// The wire name: `loupe.call(NAME, request)` in the page, `loupe call NAME` on the CLI.
    const NAME: &'static str;
    /// One line for `loupe.analyses` and `loupe analyses`.
    const SUMMARY: &'static str;
    /// Runs on the differentiable f32 copy of the model (the first such call builds it, so
    /// the page says "preparing" first).
    const GRADIENTS: bool = false;
    type Request: DeserializeOwned + Wire;
    type Output: Serialize + Wire;
    fn run(session: &Session, request: &Self::Request) -> Result<Self::Output>;
    /// The field names under which `tensors` attaches activations to the result.
    const TENSORS: &'static [&'static str] = &[];
    /// Activations that travel beside the JSON-like result (the page gets `Float32Array`s
    /// under the `TENSORS` field names; the CLI writes safetensors): none for most analyses.
    fn tensors(_output: &Self::Output) -> Vec<(&'static str, &ActivationCache)> {
        Vec::new()
    }
}

/// How far a stepped job has got, in its own units (layers, passes, optimiser steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// An analysis that runs in steps, so a front end can report progress, show the partial
/// result and stop between steps.
pub trait Stepped: 'static {
    const NAME: &'static str;
    const SUMMARY: &'static str;
    const GRADIENTS: bool = false;
    /// The progress phase the page reports after each step (`'patch'`, `'attribute'`, …).
    const PHASE: &'static str;
    type Request: DeserializeOwned + Wire;
    type Job: 'static;
    /// The result so far, after any step (the final result's shape).
    type Partial: Serialize + Wire;
    /// What the job resolves with, finished or stopped.
    type Output: Serialize + Wire;
    fn start(session: &Session, request: &Self::Request) -> Result<Self::Job>;
    /// Runs one step; returns whether steps remain.
    fn step(session: &Session, job: &mut Self::Job) -> Result<bool>;
    fn progress(job: &Self::Job) -> Progress;
    fn partial(session: &Session, job: &Self::Job) -> Result<Self::Partial>;
    /// Ends the job, finished or stopped early (what was computed so far counts).
    fn finish(session: &Session, job: &Self::Job) -> Result<Self::Output>;
}

/// What a front end does with each registered analysis (dispatch by name, list, generate
/// declarations). Both methods default to nothing.
pub trait Visitor {
    fn call<A: Analysis>(&mut self) {}
    fn job<A: Stepped>(&mut self) {}
}

/// The one list of analyses, in the order the page's tabs show them.
pub fn visit(v: &mut impl Visitor) {
    use crate::*;
    v.call::<run::Run>();
    v.call::<lens::LogitLens>();
    v.call::<dla::Dla>();
    v.job::<attribution::Attribute>();
    v.call::<gradient::Gradient>();
    v.job::<patching::Patch>();
    v.call::<attribution_patching::AttributionPatching>();
    v.call::<detectors::DetectHeads>();
    v.call::<ablation::Ablate>();
    v.call::<pairs::MinimalPair>();
    v.call::<neuron::NeuronView>();
    v.call::<steering::SteeringDirection>();
    v.call::<steering::Steer>();
    v.call::<sae::SaeFeatures>();
    v.call::<sae::SaeFeatureInfo>();
    v.call::<sae::SaeClamp>();
    v.job::<sae_train::TrainSae>();
    v.call::<probe::TrainProbes>();
}

/// One entry of the catalogue: what the page's `loupe.analyses` lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Entry {
    pub name: &'static str,
    /// `"call"` (one answer) or `"job"` (progress after each step, stoppable).
    pub kind: &'static str,
    pub summary: &'static str,
    /// Needs the differentiable f32 copy of the model.
    pub gradients: bool,
    /// The progress phase of a job's steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<&'static str>,
}

/// Every registered analysis, in `visit` order.
pub fn catalogue() -> Vec<Entry> {
    struct List(Vec<Entry>);
    impl Visitor for List {
        fn call<A: Analysis>(&mut self) {
            self.0.push(Entry { name: A::NAME, kind: "call", summary: A::SUMMARY, gradients: A::GRADIENTS, phase: None });
        }
        fn job<A: Stepped>(&mut self) {
            self.0.push(Entry { name: A::NAME, kind: "job", summary: A::SUMMARY, gradients: A::GRADIENTS, phase: Some(A::PHASE) });
        }
    }
    let mut list = List(Vec::new());
    visit(&mut list);
    list.0
}

/// Runs a stepped job to the end (CLI, tests): its final output.
pub fn run_to_end<A: Stepped>(session: &Session, request: &A::Request) -> Result<A::Output> {
    let mut job = A::start(session, request)?;
    while A::step(session, &mut job)? {}
    A::finish(session, &job)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_jobs_have_phases() {
        let all = catalogue();
        let mut names: Vec<_> = all.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len(), "duplicate analysis names");
        assert!(all.iter().all(|e| (e.kind == "job") == e.phase.is_some()));
        assert!(all.iter().any(|e| e.name == "neuronView" && e.kind == "call"));
        assert!(all.iter().any(|e| e.name == "patch" && e.kind == "job"));
    }
}
