//! The result of a fit ([`FitResult`]): the best parameters and how the optimizer got there,
//! goodness of fit, every start, and the bootstrap with its percentile intervals.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::bfgs::StopReason;
use super::{percentile_interval, Bootstrap, ParamStatus, StartSummary};

/// Result of [`fit`](super::fit()).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitResult {
    /// The law's formula.
    pub law: String,
    /// Parameter names (law order).
    pub param_names: Vec<String>,
    /// Best parameter values (law order; fixed ones included).
    pub params: Vec<f64>,
    /// Best objective (mean Huber loss).
    pub objective: f64,
    /// Largest component of the projected gradient at the best point (with respect to the
    /// fitted parameters): on a bound, the part pointing out of the box is left out, as in
    /// L-BFGS-B's projected gradient norm.
    pub grad_norm: f64,
    /// Whether the best start converged.
    pub converged: bool,
    /// Why the best start stopped.
    pub stop: StopReason,
    /// Iterations of the best start.
    pub iterations: usize,
    /// Coefficient of determination of the raw predictions.
    pub r2: f64,
    /// Root-mean-square raw residual.
    pub rmse: f64,
    /// Predicted loss per point.
    pub predictions: Vec<f64>,
    /// Raw residual per point, `pred − y`.
    pub residuals: Vec<f64>,
    /// Every start, in order.
    pub starts: Vec<StartSummary>,
    /// Bootstrap replicates, if asked for.
    pub bootstrap: Option<Bootstrap>,
    /// Whether the data determine each parameter (law order), and why not.
    #[serde(default)]
    pub determination: Vec<ParamStatus>,
    /// For a grouped law (`a[method]`): the values of each column it was bound to; the
    /// parameters `a[value]` follow this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<crate::group::Levels>,
}

impl FitResult {
    /// The value of a parameter.
    pub fn param(&self, name: &str) -> Option<f64> {
        self.param_names.iter().position(|p| p == name).map(|i| self.params[i])
    }

    /// The parameters the data do not determine.
    pub fn undetermined(&self) -> Vec<&ParamStatus> {
        self.determination.iter().filter(|s| !s.determined).collect()
    }

    /// `(name, value)` pairs in law order.
    pub fn named_params(&self) -> Vec<(String, f64)> {
        self.param_names.iter().cloned().zip(self.params.iter().copied()).collect()
    }

    /// Bootstrap parameter vectors (law order), if the fit was bootstrapped.
    pub fn bootstrap_samples(&self) -> Option<&[Vec<f64>]> {
        self.bootstrap.as_ref().map(|b| b.samples.as_slice())
    }

    /// Bootstrap percentile interval of a parameter.
    pub fn ci(&self, name: &str) -> Option<(f64, f64)> {
        let i = self.param_names.iter().position(|p| p == name)?;
        self.bootstrap.as_ref().map(|b| b.intervals[i])
    }

    /// Percentile interval (at the bootstrap's confidence) of any quantity derived from the
    /// parameters; non-finite values are dropped. `None` without a bootstrap.
    ///
    /// ```
    /// use sparse_scaling_law::{fit, FitOptions, Law, Observations};
    /// let law = Law::parse("E + A/N^alpha", &[]).unwrap();
    /// let n: Vec<f64> = (1..=10).map(|i| i as f64).collect();
    /// let loss: Vec<f64> = n.iter().enumerate().map(|(i, n)| (1.5 + 0.8 / n.powf(0.3)) * (1.0 + 1e-3 * (i % 3) as f64)).collect();
    /// let obs = Observations::new(vec!["N".into()], vec![n], loss, None).unwrap();
    /// let r = fit(&law, &obs, &FitOptions { starts: 4, bootstrap: 30, ..FitOptions::default() }).unwrap();
    /// // Interval of the loss predicted at N = 100, a quantity derived from the parameters.
    /// let (lo, hi) = r.ci_of(|p| p[0] + p[1] / 100f64.powf(p[2])).unwrap();
    /// assert!(lo < hi);
    /// ```
    pub fn ci_of(&self, f: impl Fn(&[f64]) -> f64 + Sync) -> Option<(f64, f64)> {
        let b = self.bootstrap.as_ref()?;
        let vals: Vec<f64> = b.samples.par_iter().map(|p| f(p)).filter(|v| v.is_finite()).collect();
        percentile_interval(vals, b.confidence)
    }
}
