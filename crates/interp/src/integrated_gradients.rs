//! Integrated Gradients (Sundararajan et al. 2017, "Axiomatic Attribution for Deep
//! Networks"): A = (x − x′) ⊙ ∫₀¹ ∂f/∂x(x′ + α(x − x′)) dα along the straight path from a
//! baseline x′ to the input x. Completeness says Σ A = f(x) − f(x′); how far a finite
//! quadrature falls short is the *completeness error* |Σ A − (f(x) − f(x′))| / |f(x) − f(x′)|,
//! reported with every result.
//!
//! Two quadratures:
//! - fixed: the midpoint rule with m steps, α_k = (k + ½)/m, weight 1/m each (the reference
//!   script tests/fixtures/make_gradient_fixtures.py uses the same rule);
//! - adaptive: the trapezoid rule on a grid refined by bisection. Every node's forward pass
//!   gives f(α) as well as the integrand I(α) = ∂f/∂x · (x − x′), so each interval [a, b]
//!   knows its own quadrature error exactly: e = (f(b) − f(a)) − (b − a)(I(a) + I(b))/2,
//!   and Σ e is the completeness error's numerator. The intervals with the largest |e| are
//!   bisected first, until the completeness error is within the tolerance or the budget of
//!   passes is spent; the result says which happened.
//!
//! On this model the path is far from a ramp: the target can swing by several times its
//! net change between two close α (see the measurements), which is why the path
//! values and the integrand are returned for plotting.

use candle_core::Tensor;
use loupe_model::{Llama, LoupeError, Result};
use serde::Serialize;

use crate::gradient::ResolvedTarget;

/// New path points for one round: the round's `room` points are shared among the intervals
/// in proportion to their |error| (largest remainders first), each interval getting its
/// points equally spaced inside it. A sharp feature in one interval thus gets most of a
/// round at once, instead of one bisection per round.
fn split_points(alphas: &[f64], errors: &[f64], room: usize) -> Vec<f64> {
    let total: f64 = errors.iter().map(|e| e.abs()).sum();
    if room == 0 || total.is_nan() || total <= 0.0 {
        return Vec::new();
    }
    let shares: Vec<f64> = errors.iter().map(|e| e.abs() / total * room as f64).collect();
    let mut counts: Vec<usize> = shares.iter().map(|s| s.floor() as usize).collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| (shares[b] - shares[b].floor()).total_cmp(&(shares[a] - shares[a].floor())));
    let left = room - counts.iter().sum::<usize>();
    for &i in order.iter().take(left) {
        counts[i] += 1;
    }
    let mut points = Vec::with_capacity(room);
    for (i, &n) in counts.iter().enumerate() {
        let (a, b) = (alphas[i], alphas[i + 1]);
        points.extend((1..=n).map(|k| a + (b - a) * k as f64 / (n + 1) as f64).filter(|&p| p > a && p < b));
    }
    points
}

/// The adaptive grid starts with this many equal intervals.
const ADAPTIVE_START_INTERVALS: usize = 8;

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct IgReport {
    pub baseline_value: f32,
    /// Σ attributions.
    pub sum: f32,
    /// f(x) − f(baseline).
    pub delta: f32,
    /// |sum − delta| / |delta|.
    pub completeness_error: f32,
    pub rule: &'static str,
    /// Path positions evaluated, ascending, with f and the integrand ∂f/∂x · (x − x′) there.
    pub alphas: Vec<f64>,
    pub path_values: Vec<f32>,
    pub integrand: Vec<f32>,
    pub adaptive: Option<AdaptiveReport>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AdaptiveReport {
    pub converged: bool,
    pub tolerance: f64,
    pub budget: usize,
    /// Σ|e| / |delta|: a bound on the completeness error that no cancellation can hide.
    pub local_error: f32,
}

struct Node {
    alpha: f64,
    value: f32,
    integrand: f64,
    /// ∂f/∂x at this node, `[pos, d_model]`.
    grad: Tensor,
}

enum Rule {
    Midpoint { steps: usize, grad_sum: Option<Tensor> },
    Adaptive { tolerance: f64, budget: usize, converged: bool },
}

pub struct IntegratedGradients {
    x: Tensor,
    baseline: Tensor,
    diff: Tensor,
    rule: Rule,
    nodes: Vec<Node>,
    pending: Vec<f64>,
    /// f(x), f(x′), once known.
    ends: Option<(f32, f32)>,
    pub passes: usize,
}

impl IntegratedGradients {
    /// `x`, `baseline`: `[pos, d_model]`.
    pub fn midpoint(x: Tensor, baseline: Tensor, steps: usize) -> Result<Self> {
        if steps == 0 {
            return Err(LoupeError::BadInput("Integrated Gradients needs at least one step".into()));
        }
        crate::bounds::at_most("steps", steps, crate::bounds::MAX_IG_STEPS)?;
        let pending = (0..steps).map(|k| (k as f64 + 0.5) / steps as f64).collect();
        Self::new(x, baseline, Rule::Midpoint { steps, grad_sum: None }, pending)
    }

    pub fn adaptive(x: Tensor, baseline: Tensor, tolerance: f64, budget: usize) -> Result<Self> {
        let n = ADAPTIVE_START_INTERVALS;
        if budget < n + 1 {
            return Err(LoupeError::BadInput(format!("the adaptive budget must allow at least {} passes", n + 1)));
        }
        crate::bounds::at_most("maxPasses", budget, crate::bounds::MAX_IG_PASSES)?;
        if tolerance.is_nan() || tolerance <= 0.0 {
            return Err(LoupeError::BadInput("the tolerance must be positive".into()));
        }
        let pending = (0..=n).map(|k| k as f64 / n as f64).collect();
        Self::new(x, baseline, Rule::Adaptive { tolerance, budget, converged: false }, pending)
    }

    fn new(x: Tensor, baseline: Tensor, rule: Rule, pending: Vec<f64>) -> Result<Self> {
        let diff = (&x - &baseline)?;
        Ok(Self { x, baseline, diff, rule, nodes: Vec::new(), pending, ends: None, passes: 0 })
    }

    pub fn total(&self) -> usize {
        match &self.rule {
            Rule::Midpoint { steps, .. } => steps + 2,
            Rule::Adaptive { budget, .. } => *budget,
        }
    }

    pub fn is_done(&self) -> bool {
        self.pending.is_empty() && self.ends.is_some()
    }

    /// Evaluates up to `batch` path points (one batched forward + backward).
    pub fn step(&mut self, model: &Llama, target: &ResolvedTarget, batch: usize) -> Result<()> {
        if self.ends.is_none() && matches!(self.rule, Rule::Midpoint { .. }) {
            // The endpoints, forward only: the midpoint rule never visits them.
            let both = Tensor::stack(&[&self.x, &self.baseline], 0)?;
            let v = target.eval(model, &both)?;
            self.ends = Some((v[0], v[1]));
            self.passes += 2;
            return Ok(());
        }
        let take = batch.max(1).min(self.pending.len());
        let alphas: Vec<f64> = self.pending.drain(..take).collect();
        if !alphas.is_empty() {
            let points: Vec<Tensor> = alphas.iter().map(|&a| Ok((&self.baseline + (&self.diff * a)?)?)).collect::<Result<_>>()?;
            let (values, grads) = target.value_and_grad(model, &Tensor::stack(&points, 0)?)?;
            self.passes += alphas.len();
            // I(α) per row: Σ over positions and dims of grad ⊙ (x − x′).
            let integrand: Vec<f32> = grads
                .broadcast_mul(&self.diff)?
                .flatten_from(1)?
                .to_dtype(candle_core::DType::F64)?
                .sum(1)?
                .to_dtype(candle_core::DType::F32)?
                .to_vec1()?;
            for (i, &alpha) in alphas.iter().enumerate() {
                let grad = grads.get(i)?;
                if let Rule::Midpoint { grad_sum, .. } = &mut self.rule {
                    *grad_sum = Some(match grad_sum.take() {
                        Some(s) => (s + &grad)?,
                        None => grad.clone(),
                    });
                }
                self.nodes.push(Node { alpha, value: values[i], integrand: integrand[i] as f64, grad });
            }
            self.nodes.sort_by(|a, b| a.alpha.total_cmp(&b.alpha));
        }
        if let Rule::Adaptive { .. } = self.rule {
            if self.pending.is_empty() {
                self.refine(batch)?;
            }
        }
        Ok(())
    }

    /// Adaptive rule: after a round, either stop or queue the midpoints of the worst intervals.
    fn refine(&mut self, batch: usize) -> Result<()> {
        let (first, last) = match (self.nodes.first(), self.nodes.last()) {
            (Some(a), Some(b)) => (a.value, b.value),
            _ => return Ok(()),
        };
        self.ends = Some((last, first));
        let delta = (last - first) as f64;
        let errors = self.interval_errors();
        let net: f64 = errors.iter().sum();
        let Rule::Adaptive { tolerance, budget, converged } = &mut self.rule else { return Ok(()) };
        if net.abs() <= *tolerance * delta.abs() {
            *converged = true;
            return Ok(());
        }
        let room = budget.saturating_sub(self.passes).min(batch.max(1));
        let alphas: Vec<f64> = self.nodes.iter().map(|n| n.alpha).collect();
        self.pending = split_points(&alphas, &errors, room);
        Ok(())
    }

    fn interval_errors(&self) -> Vec<f64> {
        self.nodes
            .windows(2)
            .map(|w| {
                let (a, b) = (&w[0], &w[1]);
                (b.value - a.value) as f64 - (b.alpha - a.alpha) * (a.integrand + b.integrand) / 2.0
            })
            .collect()
    }

    /// Per-dimension attributions `[pos, d_model]` from the nodes evaluated so far.
    pub fn attributions(&self) -> Result<Tensor> {
        let mean_grad = match &self.rule {
            Rule::Midpoint { grad_sum: Some(s), .. } => (s / self.nodes.len() as f64)?,
            Rule::Midpoint { grad_sum: None, .. } => self.diff.zeros_like()?,
            Rule::Adaptive { .. } => {
                let mut acc = self.diff.zeros_like()?;
                for (i, node) in self.nodes.iter().enumerate() {
                    let left = if i > 0 { node.alpha - self.nodes[i - 1].alpha } else { 0.0 };
                    let right = self.nodes.get(i + 1).map(|n| n.alpha - node.alpha).unwrap_or(0.0);
                    acc = (acc + (&node.grad * ((left + right) / 2.0))?)?;
                }
                acc
            }
        };
        Ok((&self.diff * mean_grad)?)
    }

    pub fn report(&self, attributions: &Tensor) -> Result<IgReport> {
        let (fx, fb) = self.ends.unwrap_or((f32::NAN, f32::NAN));
        let sum = attributions.to_dtype(candle_core::DType::F64)?.sum_all()?.to_scalar::<f64>()? as f32;
        let delta = fx - fb;
        let errors = self.interval_errors();
        let adaptive = match &self.rule {
            Rule::Adaptive { tolerance, budget, converged } => Some(AdaptiveReport {
                converged: *converged,
                tolerance: *tolerance,
                budget: *budget,
                local_error: (errors.iter().map(|e| e.abs()).sum::<f64>() / (delta as f64).abs()) as f32,
            }),
            Rule::Midpoint { .. } => None,
        };
        Ok(IgReport {
            baseline_value: fb,
            sum,
            delta,
            completeness_error: ((sum - delta) / delta).abs(),
            rule: match self.rule {
                Rule::Midpoint { .. } => "midpoint",
                Rule::Adaptive { .. } => "adaptive-trapezoid",
            },
            alphas: self.nodes.iter().map(|n| n.alpha).collect(),
            path_values: self.nodes.iter().map(|n| n.value).collect(),
            integrand: self.nodes.iter().map(|n| n.integrand as f32).collect(),
            adaptive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::split_points;

    #[test]
    fn a_round_goes_mostly_to_the_interval_with_the_largest_error() {
        let alphas = [0.0, 0.25, 0.5, 0.75, 1.0];
        let points = split_points(&alphas, &[0.01, 0.9, -0.08, 0.01], 10);
        assert_eq!(points.len(), 10);
        let inside = |a: f64, b: f64| points.iter().filter(|&&p| p > a && p < b).count();
        assert_eq!(inside(0.25, 0.5), 9, "{points:?}");
        assert_eq!(inside(0.5, 0.75), 1, "{points:?}");
        assert!(points.iter().all(|p| !alphas.contains(p)));
        assert!(split_points(&alphas, &[0.0; 4], 10).is_empty());
        assert!(split_points(&alphas, &[1.0; 4], 0).is_empty());
    }
}
