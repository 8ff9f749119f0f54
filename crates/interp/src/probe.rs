//! Linear probes (Alain & Bengio 2016; Belinkov 2022): is a concept linearly readable from
//! the residual stream, and from which layer on? Two labelled prompt sets, one residual
//! vector per prompt (`blocks.L.hook_resid_pre` at the last token, or the mean over
//! positions), an L2-regularised logistic regression per layer, and its accuracy on
//! held-out prompts. Each layer also reports the mass-mean direction (the difference of the
//! two classes' mean activations on the training prompts; Marks & Tegmark 2023, "The
//! Geometry of Truth"), which they found steers more faithfully than the logistic
//! regression's weights: those separate the sets but lean on dimensions that barely vary.
//!
//! Training is full-batch gradient descent with Nesterov momentum on z-scored features,
//! step size 1/L from a power-iteration estimate of the loss's Lipschitz constant: a
//! convex problem, small (prompts × d_model), solved in plain f64.

use crate::capture::Capture;
use crate::run::tokenize_checked;
use crate::steering::Reduce;
use candle_core::{Device, IndexOp, Tensor};
use loupe_model::sampling::SplitMix64;
use loupe_model::{BlockSite, HookPoint, Llama, LoupeError, LoupeTokenizer, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", default)]
pub struct ProbeRequest {
    /// Prompts with the concept (label 1) and without (label 0).
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<String>>", optional))]
    pub positive: Vec<String>,
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<String>>", optional))]
    pub negative: Vec<String>,
    /// Layers to probe; all if empty.
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<usize>>", optional))]
    pub layers: Vec<usize>,
    #[cfg_attr(feature = "ts", ts(as = "Option<Reduce>", optional))]
    pub reduce: Reduce,
    /// Fraction of each class held out for testing (at least one prompt per class).
    #[cfg_attr(feature = "ts", ts(as = "Option<f64>", optional))]
    pub test_fraction: f64,
    #[cfg_attr(feature = "ts", ts(as = "Option<f64>", optional))]
    pub l2: f64,
    #[cfg_attr(feature = "ts", ts(as = "Option<usize>", optional))]
    pub iterations: usize,
    #[cfg_attr(feature = "ts", ts(as = "Option<u64>", optional))]
    pub seed: u64,
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub prepend_bos: bool,
}

impl Default for ProbeRequest {
    fn default() -> Self {
        Self {
            positive: Vec::new(),
            negative: Vec::new(),
            layers: Vec::new(),
            reduce: Reduce::Last,
            test_fraction: 0.25,
            l2: 1e-2,
            iterations: 300,
            seed: 0,
            prepend_bos: false,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LayerProbe {
    pub layer: usize,
    pub train_accuracy: f32,
    pub test_accuracy: f32,
    /// Weights in residual-stream units (`[d_model]`, applied to the raw activation) and bias.
    pub direction: Vec<f32>,
    pub bias: f32,
    /// mean(first set) − mean(second set) over the training prompts, `[d_model]`: the
    /// direction to steer with.
    pub mass_mean_direction: Vec<f32>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    pub layers: Vec<LayerProbe>,
    pub train_size: usize,
    pub test_size: usize,
    /// Which prompts were held out: indices into positive ++ negative.
    pub test_indices: Vec<usize>,
}

pub fn train_probes(model: &Llama, tok: &LoupeTokenizer, req: &ProbeRequest, max_tokens: usize) -> Result<ProbeResult> {
    let n_layers = model.cfg.n_layers;
    if req.positive.len() < 2 || req.negative.len() < 2 {
        return Err(LoupeError::BadInput("a probe needs at least two prompts of each class (one to train, one to test)".into()));
    }
    crate::bounds::at_most("the number of prompts", req.positive.len() + req.negative.len(), crate::bounds::MAX_PROMPTS)?;
    crate::bounds::at_most("iterations", req.iterations, crate::bounds::MAX_PROBE_ITERATIONS)?;
    crate::bounds::at_most("the number of layers", req.layers.len(), n_layers)?;
    let layers: Vec<usize> = match req.layers.is_empty() {
        true => (0..n_layers).collect(),
        false => req.layers.clone(),
    };
    if let Some(l) = layers.iter().find(|&&l| l >= n_layers) {
        return Err(LoupeError::BadInput(format!("layer {l} out of range: the model has {n_layers} layers")));
    }
    let points: Vec<HookPoint> = layers.iter().map(|&l| HookPoint::Block(l, BlockSite::ResidPre)).collect();
    let prompts: Vec<(&String, f64)> = req.positive.iter().map(|p| (p, 1.0)).chain(req.negative.iter().map(|p| (p, 0.0))).collect();
    // features[layer][prompt] = residual vector
    let mut features: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(prompts.len()); layers.len()];
    for (prompt, _) in &prompts {
        let ids = tokenize_checked(tok, prompt, req.prepend_bos, max_tokens)?;
        let mut capture = Capture::new(points.clone());
        model.forward(&Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?, &mut capture, None)?;
        for (i, point) in points.iter().enumerate() {
            let act = capture.cache.get(*point).ok_or_else(|| LoupeError::BadInput(format!("{point} not captured")))?.i(0)?;
            let v = match req.reduce {
                Reduce::Last => act.i(act.dim(0)? - 1)?,
                Reduce::Mean => act.mean(0)?,
            };
            features[i].push(v.to_vec1::<f32>()?.into_iter().map(f64::from).collect());
        }
    }
    let labels: Vec<f64> = prompts.iter().map(|(_, y)| *y).collect();
    let test = held_out(req.positive.len(), req.negative.len(), req.test_fraction, req.seed);
    let train: Vec<usize> = (0..prompts.len()).filter(|i| !test.contains(i)).collect();
    let mut out = Vec::with_capacity(layers.len());
    for (i, &layer) in layers.iter().enumerate() {
        let x = &features[i];
        let probe = fit_logistic(
            &train.iter().map(|&j| x[j].as_slice()).collect::<Vec<_>>(),
            &train.iter().map(|&j| labels[j]).collect::<Vec<_>>(),
            req.l2,
            req.iterations,
        );
        let accuracy = |set: &[usize]| -> f32 {
            let right = set.iter().filter(|&&j| (probe.logit(&x[j]) > 0.0) == (labels[j] > 0.5)).count();
            right as f32 / set.len() as f32
        };
        let class_mean = |label: f64| -> Vec<f64> {
            let rows: Vec<&Vec<f64>> = train.iter().filter(|&&j| labels[j] == label).map(|&j| &x[j]).collect();
            (0..x[0].len()).map(|k| rows.iter().map(|r| r[k]).sum::<f64>() / rows.len() as f64).collect()
        };
        let (pos_mean, neg_mean) = (class_mean(1.0), class_mean(0.0));
        out.push(LayerProbe {
            layer,
            mass_mean_direction: pos_mean.iter().zip(&neg_mean).map(|(a, b)| (a - b) as f32).collect(),
            train_accuracy: accuracy(&train),
            test_accuracy: accuracy(&test),
            direction: probe.weights.iter().map(|w| *w as f32).collect(),
            bias: probe.bias as f32,
        });
    }
    Ok(ProbeResult { layers: out, train_size: train.len(), test_size: test.len(), test_indices: test })
}

/// Stratified hold-out: a seeded shuffle of each class, its first ⌈fraction·n⌉ (≥ 1, < n) held out.
fn held_out(n_pos: usize, n_neg: usize, fraction: f64, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    let mut test = Vec::new();
    for (start, n) in [(0, n_pos), (n_pos, n_neg)] {
        let mut idx: Vec<usize> = (start..start + n).collect();
        for i in (1..idx.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            idx.swap(i, j);
        }
        let k = ((fraction * n as f64).ceil() as usize).clamp(1, n - 1);
        test.extend_from_slice(&idx[..k]);
    }
    test.sort_unstable();
    test
}

/// A logistic-regression probe in raw units: p(y = 1 | x) = σ(w·x + b).
pub struct Logistic {
    pub weights: Vec<f64>,
    pub bias: f64,
}

impl Logistic {
    pub fn logit(&self, x: &[f64]) -> f64 {
        self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>() + self.bias
    }
}

/// Minimises mean log-loss + l2/2 ‖w‖² on z-scored features; returns weights in raw units.
pub fn fit_logistic(x: &[&[f64]], y: &[f64], l2: f64, iterations: usize) -> Logistic {
    let (n, d) = (x.len(), x.first().map(|r| r.len()).unwrap_or(0));
    let mean: Vec<f64> = (0..d).map(|k| x.iter().map(|r| r[k]).sum::<f64>() / n as f64).collect();
    let std: Vec<f64> = (0..d).map(|k| (x.iter().map(|r| (r[k] - mean[k]).powi(2)).sum::<f64>() / n as f64).sqrt().max(1e-6)).collect();
    let z: Vec<Vec<f64>> = x.iter().map(|r| (0..d).map(|k| (r[k] - mean[k]) / std[k]).collect()).collect();
    // Lipschitz constant of the mean log-loss gradient: ¼ λ_max(ZᵀZ/n) (+ l2), by power iteration.
    let mut v = vec![1.0 / (d as f64).sqrt(); d];
    let mut lambda = 0.0;
    for _ in 0..30 {
        let zv: Vec<f64> = z.iter().map(|r| dot(r, &v)).collect();
        let mut w = vec![0.0; d];
        for (r, s) in z.iter().zip(&zv) {
            for k in 0..d {
                w[k] += r[k] * s / n as f64;
            }
        }
        lambda = dot(&w, &w).sqrt();
        v = w.iter().map(|a| a / lambda.max(1e-12)).collect();
    }
    let step = 1.0 / (0.25 * (lambda + 1.0) + l2); // + 1 for the bias column
    let (mut w, mut b) = (vec![0.0; d], 0.0);
    let (mut w_prev, mut b_prev) = (w.clone(), b);
    for t in 0..iterations {
        // Nesterov: gradient at the look-ahead point.
        let m = t as f64 / (t as f64 + 3.0);
        let wl: Vec<f64> = w.iter().zip(&w_prev).map(|(a, p)| a + m * (a - p)).collect();
        let bl = b + m * (b - b_prev);
        let mut gw: Vec<f64> = wl.iter().map(|a| l2 * a).collect();
        let mut gb = 0.0;
        for (r, yi) in z.iter().zip(y) {
            let err = sigmoid(dot(r, &wl) + bl) - yi;
            for k in 0..d {
                gw[k] += err * r[k] / n as f64;
            }
            gb += err / n as f64;
        }
        w_prev = w;
        b_prev = b;
        w = wl.iter().zip(&gw).map(|(a, g)| a - step * g).collect();
        b = bl - step * gb;
    }
    let weights: Vec<f64> = (0..d).map(|k| w[k] / std[k]).collect();
    let bias = b - (0..d).map(|k| weights[k] * mean[k]).sum::<f64>();
    Logistic { weights, bias }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Linear probes per layer with held-out accuracy, and each layer's mass-mean direction.
pub struct TrainProbes;

impl crate::registry::Analysis for TrainProbes {
    const NAME: &'static str = "trainProbes";
    const SUMMARY: &'static str = "Linear probes per layer with held-out accuracy, and each layer's mass-mean direction.";
    type Request = ProbeRequest;
    type Output = ProbeResult;
    fn run(s: &crate::session::Session, req: &ProbeRequest) -> Result<ProbeResult> {
        train_probes(&s.model, &s.tok, req, s.limits.max_prompt_tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_separable_concept_is_found_along_its_direction() {
        // 40 points in 8-d; the label is the sign of x·u, u = (1, −1, 0, …), with margin.
        let mut rng = SplitMix64::new(5);
        let mut x = Vec::new();
        let mut y = Vec::new();
        while x.len() < 40 {
            let v: Vec<f64> = rng.normals(8).into_iter().map(|z| z * 3.0 + 10.0).collect();
            let s = v[0] - v[1];
            if s.abs() > 1.0 {
                y.push((s > 0.0) as u8 as f64);
                x.push(v);
            }
        }
        let rows: Vec<&[f64]> = x.iter().map(|r| r.as_slice()).collect();
        let probe = fit_logistic(&rows, &y, 1e-3, 500);
        let correct = rows.iter().zip(&y).filter(|(r, t)| (probe.logit(r) > 0.0) == (**t > 0.5)).count();
        assert_eq!(correct, 40);
        let norm = dot(&probe.weights, &probe.weights).sqrt();
        let cosine = (probe.weights[0] - probe.weights[1]) / (norm * 2f64.sqrt());
        assert!(cosine > 0.9, "weights {:?}", probe.weights);
    }

    #[test]
    fn held_out_sets_are_stratified_and_seeded() {
        let t = held_out(8, 4, 0.25, 1);
        assert_eq!(t.iter().filter(|&&i| i < 8).count(), 2);
        assert_eq!(t.iter().filter(|&&i| i >= 8).count(), 1);
        assert_eq!(t, held_out(8, 4, 0.25, 1));
    }
}
