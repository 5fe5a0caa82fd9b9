//! Fitting a law to observations, following PAPER.md §2: minimise the mean Huber loss of the
//! residuals — raw (`pred − y`, the authors' ViT procedure, δ = 0.01) or log
//! (`log pred − log y`, their T5 procedure after Chinchilla, δ = 0.001) — from many starts
//! (each parameter uniform in (0, 1), as in their notebook, and/or a grid), with a
//! quasi-Newton optimizer ([`bfgs`]) driven by the exact gradient of the compiled tape.
//! Starts run in parallel (rayon). Bootstrap confidence intervals resample the points with
//! replacement and refit from the best fit.

pub mod bfgs;

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::compile::{Bound, Tape, TapeError, Workspace};
use crate::data::{DataError, Observations};
use crate::law::{Law, LawError};
use bfgs::{BfgsSettings, StopReason};

/// Which residuals the Huber loss is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Residual {
    /// `pred − y`
    Raw,
    /// `log pred − log y` (predictions must stay positive)
    Log,
}

/// A box constraint on one parameter; either side may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// Lower bound.
    #[serde(default)]
    pub lower: Option<f64>,
    /// Upper bound.
    #[serde(default)]
    pub upper: Option<f64>,
}

/// Options of [`fit`]. Defaults are the authors' T5 procedure (PAPER.md §2) run to convergence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FitOptions {
    /// Huber δ (> 0). T5: 1e-3 on log residuals; ViT: 1e-2 on raw residuals.
    pub huber_delta: f64,
    /// Raw or log residuals.
    pub residual: Residual,
    /// Number of random starts, each parameter uniform in `[init_low, init_high)`.
    pub starts: usize,
    /// Lower end of the random start range.
    pub init_low: f64,
    /// Upper end of the random start range.
    pub init_high: f64,
    /// Grid starts: these levels for every free parameter, all combinations (added to the
    /// random starts). At most 100 000 combinations.
    pub grid: Option<Vec<f64>>,
    /// One more start at these values (missing parameters: middle of the start range).
    pub initial: Option<BTreeMap<String, f64>>,
    /// Seed of the random starts and the bootstrap.
    pub seed: u64,
    /// Iteration limit per start.
    pub max_iter: usize,
    /// Converged when the largest gradient component is at most this.
    pub grad_tol: f64,
    /// Also converged when the objective decreases by at most `rel_tol · |objective|` in
    /// two successive iterations.
    pub rel_tol: f64,
    /// Box bounds per parameter name (handled by a smooth change of variables).
    pub bounds: BTreeMap<String, Bounds>,
    /// Parameters held fixed at these values (not fitted).
    pub fixed: BTreeMap<String, f64>,
    /// Bootstrap replicates (0: none).
    pub bootstrap: usize,
    /// Confidence level of the bootstrap intervals, in (0, 1).
    pub confidence: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            huber_delta: 1e-3,
            residual: Residual::Log,
            starts: 25,
            init_low: 0.0,
            init_high: 1.0,
            grid: None,
            initial: None,
            seed: 1,
            max_iter: 2000,
            grad_tol: 1e-10,
            rel_tol: 1e-15,
            bounds: BTreeMap::new(),
            fixed: BTreeMap::new(),
            bootstrap: 0,
            confidence: 0.95,
        }
    }
}

impl FitOptions {
    /// The authors' T5 procedure (PAPER.md §2): log residuals, δ = 1e-3, 25 uniform(0,1) starts.
    pub fn t5_paper() -> FitOptions {
        FitOptions::default()
    }

    /// The authors' ViT procedure (PAPER.md §2): raw residuals, δ = 1e-2, 25 uniform(0,1) starts.
    pub fn vit_paper() -> FitOptions {
        FitOptions {
            huber_delta: 1e-2,
            residual: Residual::Raw,
            seed: 0,
            ..FitOptions::default()
        }
    }

    /// Reads options from JSON (unknown fields are errors, missing ones take the defaults)
    /// and validates them.
    ///
    /// ```
    /// use sparse_scaling_law::FitOptions;
    /// let o = FitOptions::from_json(r#"{"huber_delta": 0.01, "residual": "raw"}"#).unwrap();
    /// assert_eq!(o.starts, 25);
    /// assert!(FitOptions::from_json(r#"{"starts": 25, "hubr_delta": 0.01}"#).is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<FitOptions, FitError> {
        let opts: FitOptions = serde_json::from_str(text).map_err(|e| FitError::Options {
            field: "(json)".into(),
            message: e.to_string(),
        })?;
        opts.validate()?;
        Ok(opts)
    }

    /// Checks the values (not the parameter names; [`fit`] checks those against the law).
    pub fn validate(&self) -> Result<(), FitError> {
        let bad = |field: &str, message: String| {
            Err(FitError::Options {
                field: field.to_string(),
                message,
            })
        };
        if !(self.huber_delta > 0.0 && self.huber_delta.is_finite()) {
            return bad(
                "huber_delta",
                format!("{} must be a positive number, e.g. 1e-3", self.huber_delta),
            );
        }
        if self.starts == 0 && self.grid.is_none() && self.initial.is_none() {
            return bad(
                "starts",
                "0 starts and no grid or initial values: nothing to fit from; use starts = 25"
                    .into(),
            );
        }
        if !(self.init_low < self.init_high
            && self.init_low.is_finite()
            && self.init_high.is_finite())
        {
            return bad(
                "init_low",
                format!(
                    "start range [{}, {}) is empty; use init_low < init_high",
                    self.init_low, self.init_high
                ),
            );
        }
        if let Some(g) = &self.grid {
            if g.is_empty() || g.iter().any(|v| !v.is_finite()) {
                return bad(
                    "grid",
                    "grid levels must be a non-empty list of finite numbers".into(),
                );
            }
        }
        if self.max_iter == 0 {
            return bad("max_iter", "must be at least 1".into());
        }
        if !(self.grad_tol >= 0.0 && self.rel_tol >= 0.0) {
            return bad("grad_tol", "tolerances must be >= 0".into());
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return bad(
                "confidence",
                format!("{} must be in (0, 1), e.g. 0.95", self.confidence),
            );
        }
        for (name, b) in &self.bounds {
            if let (Some(l), Some(u)) = (b.lower, b.upper) {
                if l >= u || l.is_nan() || u.is_nan() {
                    return bad(
                        "bounds",
                        format!("bounds of `{name}`: lower {l} must be below upper {u}"),
                    );
                }
            }
            if b.lower.is_some_and(|v| !v.is_finite()) || b.upper.is_some_and(|v| !v.is_finite()) {
                return bad(
                    "bounds",
                    format!("bounds of `{name}` must be finite (leave a side out for none)"),
                );
            }
        }
        Ok(())
    }
}

/// Errors of [`fit`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// The law does not fit the data (e.g. a variable missing from the data).
    #[error(transparent)]
    Law(#[from] LawError),
    /// The observations are invalid.
    #[error(transparent)]
    Data(#[from] DataError),
    /// An option has a bad value.
    #[error("fit option `{field}`: {message}")]
    Options {
        /// The option.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// An option names a parameter the law does not have.
    #[error("fit option `{field}` names `{name}`, which is not a parameter of the law (parameters: {params})")]
    UnknownParameter {
        /// The option.
        field: String,
        /// The name.
        name: String,
        /// Comma-separated parameters.
        params: String,
    },
    /// Every start had a non-finite objective.
    #[error("no start gave a finite objective ({starts} tried); with log residuals the law must predict a positive loss at every point — try other start ranges (init_low/init_high) or bounds")]
    NoValidStart {
        /// Starts tried.
        starts: usize,
    },
    /// Internal shape error (should not happen).
    #[error(transparent)]
    Tape(#[from] TapeError),
}

/// Summary of one start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartSummary {
    /// Starting parameter values (all parameters, law order).
    pub start: Vec<f64>,
    /// Final parameter values.
    pub params: Vec<f64>,
    /// Final objective.
    pub objective: f64,
    /// Largest gradient component at the end (in the optimizer's coordinates).
    pub grad_norm: f64,
    /// Whether the run met a convergence criterion.
    pub converged: bool,
    /// Why it stopped.
    pub stop: StopReason,
    /// Iterations.
    pub iterations: usize,
    /// Objective evaluations.
    pub evaluations: usize,
}

/// Bootstrap replicates of the fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// Parameter vectors (law order, fixed ones included), one per successful replicate.
    pub samples: Vec<Vec<f64>>,
    /// Replicates whose refit failed (excluded).
    pub failed: usize,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Percentile interval per parameter (law order).
    pub intervals: Vec<(f64, f64)>,
}

/// Result of [`fit`].
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
    /// Largest gradient component at the best point (with respect to the fitted parameters).
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
}

impl FitResult {
    /// The value of a parameter.
    pub fn param(&self, name: &str) -> Option<f64> {
        self.param_names
            .iter()
            .position(|p| p == name)
            .map(|i| self.params[i])
    }

    /// `(name, value)` pairs in law order.
    pub fn named_params(&self) -> Vec<(String, f64)> {
        self.param_names
            .iter()
            .cloned()
            .zip(self.params.iter().copied())
            .collect()
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
        let vals: Vec<f64> = b
            .samples
            .par_iter()
            .map(|p| f(p))
            .filter(|v| v.is_finite())
            .collect();
        percentile_interval(vals, b.confidence)
    }
}

/// Percentile interval of values at a confidence level.
pub fn percentile_interval(mut vals: Vec<f64>, confidence: f64) -> Option<(f64, f64)> {
    if vals.is_empty() {
        return None;
    }
    vals.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        let pos = p * (vals.len() - 1) as f64;
        let (i, frac) = (pos.floor() as usize, pos - pos.floor());
        let j = (i + 1).min(vals.len() - 1);
        vals[i] + frac * (vals[j] - vals[i])
    };
    let tail = (1.0 - confidence) / 2.0;
    Some((q(tail), q(1.0 - tail)))
}

/// Map between a parameter and the optimizer's unconstrained coordinate.
#[derive(Debug, Clone, Copy)]
enum Transform {
    Free,
    Lower(f64),
    Upper(f64),
    Both(f64, f64),
}

fn softplus(u: f64) -> f64 {
    if u > 30.0 {
        u
    } else {
        u.exp().ln_1p()
    }
}

fn sigmoid(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

impl Transform {
    fn new(b: Option<&Bounds>) -> Transform {
        match b.map(|b| (b.lower, b.upper)) {
            Some((Some(l), Some(u))) => Transform::Both(l, u),
            Some((Some(l), None)) => Transform::Lower(l),
            Some((None, Some(u))) => Transform::Upper(u),
            _ => Transform::Free,
        }
    }

    /// Parameter value and d value / du.
    fn forward(self, u: f64) -> (f64, f64) {
        match self {
            Transform::Free => (u, 1.0),
            Transform::Lower(l) => (l + softplus(u), sigmoid(u)),
            Transform::Upper(h) => (h - softplus(-u), sigmoid(-u)),
            Transform::Both(l, h) => {
                let s = sigmoid(u);
                (l + (h - l) * s, (h - l) * s * (1.0 - s))
            }
        }
    }

    fn inverse(self, x: f64) -> f64 {
        let inv_softplus = |y: f64| {
            if y > 30.0 {
                y
            } else {
                y.exp_m1().max(1e-300).ln()
            }
        };
        match self {
            Transform::Free => x,
            Transform::Lower(l) => inv_softplus((x - l).max(1e-12)),
            Transform::Upper(h) => -inv_softplus((h - x).max(1e-12)),
            Transform::Both(l, h) => {
                let t = ((x - l) / (h - l)).clamp(1e-9, 1.0 - 1e-9);
                (t / (1.0 - t)).ln()
            }
        }
    }
}

/// The objective over bound data.
struct Objective {
    bound: Bound,
    y: Vec<f64>,
    log_y: Vec<f64>,
    /// Per-point weight divided by the total weight.
    w: Vec<f64>,
    delta: f64,
    log: bool,
    transforms: Vec<Transform>,
}

impl Objective {
    fn new(
        tape: &Tape,
        obs: &Observations,
        var_idx: &[usize],
        opts: &FitOptions,
        transforms: Vec<Transform>,
    ) -> Result<Objective, FitError> {
        let n = obs.len();
        let fixed: Vec<(usize, &[f64])> = var_idx
            .iter()
            .enumerate()
            .map(|(k, &c)| (k, obs.columns[c].as_slice()))
            .collect();
        let bound = tape.bind(&fixed, n)?;
        let w: Vec<f64> = match &obs.weights {
            Some(w) => {
                let total: f64 = w.iter().sum();
                w.iter().map(|v| v / total).collect()
            }
            None => vec![1.0 / n as f64; n],
        };
        Ok(Objective {
            bound,
            y: obs.loss.clone(),
            log_y: obs.loss.iter().map(|v| v.ln()).collect(),
            w,
            delta: opts.huber_delta,
            log: opts.residual == Residual::Log,
            transforms,
        })
    }

    fn params_of(&self, u: &[f64]) -> Vec<f64> {
        u.iter()
            .zip(&self.transforms)
            .map(|(u, t)| t.forward(*u).0)
            .collect()
    }

    /// Objective and gradient with respect to the unconstrained coordinates `u`.
    fn value_grad(&self, u: &[f64], grad: &mut [f64], ws: &mut Workspace, seed: &mut [f64]) -> f64 {
        let mut theta = [0.0; 64];
        let mut dtheta = [0.0; 64];
        let k = u.len();
        let (theta, dtheta) = if k <= 64 {
            (&mut theta[..k], &mut dtheta[..k])
        } else {
            return self.value_grad_large(u, grad, ws, seed);
        };
        for i in 0..k {
            let (x, d) = self.transforms[i].forward(u[i]);
            theta[i] = x;
            dtheta[i] = d;
        }
        let f = self.value_seed(theta, ws, seed);
        if !f.is_finite() {
            return f64::INFINITY;
        }
        self.bound.backward(ws, seed);
        self.bound.input_adjoint_sums(ws, grad);
        grad.iter_mut()
            .zip(dtheta.iter())
            .for_each(|(g, d)| *g *= d);
        f
    }

    fn value_grad_large(
        &self,
        u: &[f64],
        grad: &mut [f64],
        ws: &mut Workspace,
        seed: &mut [f64],
    ) -> f64 {
        let pairs: Vec<(f64, f64)> = u
            .iter()
            .zip(&self.transforms)
            .map(|(u, t)| t.forward(*u))
            .collect();
        let theta: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let f = self.value_seed(&theta, ws, seed);
        if !f.is_finite() {
            return f64::INFINITY;
        }
        self.bound.backward(ws, seed);
        self.bound.input_adjoint_sums(ws, grad);
        grad.iter_mut().zip(&pairs).for_each(|(g, p)| *g *= p.1);
        f
    }

    /// Forward sweep; returns the objective and writes d objective / d pred into `seed`.
    fn value_seed(&self, theta: &[f64], ws: &mut Workspace, seed: &mut [f64]) -> f64 {
        self.bound.forward_scalars(theta, ws);
        let pred = self.bound.value(ws);
        let d = self.delta;
        let mut f = 0.0;
        for i in 0..pred.len() {
            let (r, dr) = if self.log {
                if pred[i] <= 0.0 {
                    return f64::INFINITY;
                }
                (pred[i].ln() - self.log_y[i], 1.0 / pred[i])
            } else {
                (pred[i] - self.y[i], 1.0)
            };
            let (h, dh) = if r.abs() <= d {
                (0.5 * r * r, r)
            } else {
                (d * (r.abs() - 0.5 * d), d * r.signum())
            };
            f += self.w[i] * h;
            seed[i] = self.w[i] * dh * dr;
        }
        f
    }

    fn predictions(&self, theta: &[f64]) -> Vec<f64> {
        let mut ws = self.bound.workspace();
        self.bound.forward_scalars(theta, &mut ws);
        self.bound.value(&ws).to_vec()
    }
}

struct Prepared {
    tape: Tape,
    /// For each law parameter: Some(index among free parameters) or None (fixed).
    free_of: Vec<Option<usize>>,
    /// Values of fixed parameters (law order; unused entries 0).
    fixed_vals: Vec<f64>,
    /// Column in the observations of each law variable.
    var_idx: Vec<usize>,
    transforms: Vec<Transform>,
    free_names: Vec<String>,
}

fn prepare(law: &Law, obs: &Observations, opts: &FitOptions) -> Result<Prepared, FitError> {
    opts.validate()?;
    obs.validate()?;
    let params = law.param_names();
    let unknown = |field: &str, name: &str| FitError::UnknownParameter {
        field: field.to_string(),
        name: name.to_string(),
        params: params.join(", "),
    };
    for name in opts.fixed.keys() {
        if law.param_index(name).is_none() {
            return Err(unknown("fixed", name));
        }
    }
    for name in opts.bounds.keys() {
        if law.param_index(name).is_none() {
            return Err(unknown("bounds", name));
        }
    }
    if let Some(init) = &opts.initial {
        for name in init.keys() {
            if law.param_index(name).is_none() {
                return Err(unknown("initial", name));
            }
        }
    }
    for (name, v) in &opts.fixed {
        if !v.is_finite() {
            return Err(FitError::Options {
                field: "fixed".into(),
                message: format!("`{name}` = {v} must be finite"),
            });
        }
    }
    // Map law variables to data columns.
    let mut var_idx = Vec::new();
    for v in law.var_names() {
        match obs.var_names.iter().position(|o| o == v) {
            Some(i) => var_idx.push(i),
            None if !law.expr().contains(v) => var_idx.push(usize::MAX),
            None => {
                return Err(LawError::UnknownVariable {
                    name: v.clone(),
                    available: obs.var_names.join(", "),
                }
                .into())
            }
        }
    }
    // Variables the formula does not use (declared only) get a dummy column.
    let used_vars: Vec<&String> = law
        .var_names()
        .iter()
        .zip(&var_idx)
        .filter(|(_, i)| **i != usize::MAX)
        .map(|(v, _)| v)
        .collect();
    let var_idx: Vec<usize> = var_idx.into_iter().filter(|i| *i != usize::MAX).collect();
    let fixed_pairs: Vec<(&str, f64)> = opts.fixed.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let reduced = law.with_fixed(&fixed_pairs);
    let free_names: Vec<String> = reduced.param_names().to_vec();
    if free_names.is_empty() {
        return Err(FitError::Options {
            field: "fixed".into(),
            message: "every parameter is fixed; leave at least one free".into(),
        });
    }
    let inputs: Vec<String> = used_vars
        .iter()
        .map(|v| v.to_string())
        .chain(free_names.iter().cloned())
        .collect();
    let tape = Tape::compile(reduced.expr(), &inputs)?;
    let mut free_of = Vec::new();
    let mut fixed_vals = Vec::new();
    for p in params {
        free_of.push(free_names.iter().position(|f| f == p));
        fixed_vals.push(opts.fixed.get(p).copied().unwrap_or(0.0));
    }
    let transforms = free_names
        .iter()
        .map(|p| Transform::new(opts.bounds.get(p)))
        .collect();
    Ok(Prepared {
        tape,
        free_of,
        fixed_vals,
        var_idx,
        transforms,
        free_names,
    })
}

impl Prepared {
    fn full_params(&self, free: &[f64]) -> Vec<f64> {
        self.free_of
            .iter()
            .zip(&self.fixed_vals)
            .map(|(f, v)| f.map(|i| free[i]).unwrap_or(*v))
            .collect()
    }

    fn free_params(&self, full: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.free_names.len()];
        for (k, f) in self.free_of.iter().enumerate() {
            if let Some(i) = f {
                out[*i] = full[k];
            }
        }
        out
    }

    fn objective(&self, obs: &Observations, opts: &FitOptions) -> Result<Objective, FitError> {
        Objective::new(
            &self.tape,
            obs,
            &self.var_idx,
            opts,
            self.transforms.clone(),
        )
    }
}

/// One optimizer run from `start` (free parameters); returns (free params, summary pieces).
fn run_start(
    obj: &Objective,
    start: &[f64],
    opts: &FitOptions,
) -> (Vec<f64>, f64, f64, StopReason, usize, usize) {
    let mut ws = obj.bound.workspace();
    let mut seed = vec![0.0; obj.bound.n_points()];
    let u0: Vec<f64> = start
        .iter()
        .zip(&obj.transforms)
        .map(|(x, t)| t.inverse(*x))
        .collect();
    let settings = BfgsSettings {
        max_iter: opts.max_iter,
        grad_tol: opts.grad_tol,
        rel_tol: opts.rel_tol,
    };
    let mut fg = |u: &[f64], g: &mut [f64]| obj.value_grad(u, g, &mut ws, &mut seed);
    let out = bfgs::minimize(&mut fg, &u0, &settings);
    let gnorm = out.g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    (
        obj.params_of(&out.x),
        out.f,
        gnorm,
        out.reason,
        out.iterations,
        out.evaluations,
    )
}

fn start_points(prep: &Prepared, opts: &FitOptions) -> Result<Vec<Vec<f64>>, FitError> {
    let k = prep.free_names.len();
    let mut starts = Vec::new();
    if let Some(init) = &opts.initial {
        let mid = 0.5 * (opts.init_low + opts.init_high);
        starts.push(
            prep.free_names
                .iter()
                .map(|p| init.get(p).copied().unwrap_or(mid))
                .collect(),
        );
    }
    let mut rng = StdRng::seed_from_u64(opts.seed);
    for _ in 0..opts.starts {
        starts.push(
            (0..k)
                .map(|_| rng.gen_range(opts.init_low..opts.init_high))
                .collect(),
        );
    }
    if let Some(levels) = &opts.grid {
        let total = (levels.len() as f64).powi(k as i32);
        if total > 100_000.0 {
            return Err(FitError::Options {
                field: "grid".into(),
                message: format!("{} levels for {k} parameters make {total} starts; use fewer levels or random starts", levels.len()),
            });
        }
        let total = total as usize;
        for mut idx in 0..total {
            let mut s = Vec::with_capacity(k);
            for _ in 0..k {
                s.push(levels[idx % levels.len()]);
                idx /= levels.len();
            }
            starts.push(s);
        }
    }
    Ok(starts)
}

fn fit_prepared(
    prep: &Prepared,
    obs: &Observations,
    opts: &FitOptions,
) -> Result<(Vec<f64>, Vec<StartSummary>, usize), FitError> {
    let obj = prep.objective(obs, opts)?;
    let starts = start_points(prep, opts)?;
    let runs: Vec<_> = starts
        .par_iter()
        .map(|s| run_start(&obj, s, opts))
        .collect();
    let mut summaries = Vec::with_capacity(runs.len());
    let mut best: Option<usize> = None;
    for (i, (s, r)) in starts.iter().zip(&runs).enumerate() {
        summaries.push(StartSummary {
            start: prep.full_params(s),
            params: prep.full_params(&r.0),
            objective: r.1,
            grad_norm: r.2,
            converged: r.3.converged(),
            stop: r.3,
            iterations: r.4,
            evaluations: r.5,
        });
        if r.1.is_finite() && !best.is_some_and(|b| r.1 >= runs[b].1) {
            best = Some(i);
        }
    }
    // Among starts that reached the same objective (to 1e-12 relative), prefer a converged one.
    if let Some(b) = best {
        if !runs[b].3.converged() {
            let tie = runs
                .iter()
                .position(|r| r.3.converged() && r.1 <= runs[b].1 * (1.0 + 1e-12));
            best = tie.or(best);
        }
    }
    let best = best.ok_or(FitError::NoValidStart {
        starts: starts.len(),
    })?;
    Ok((runs[best].0.clone(), summaries, best))
}

/// Fits `law` to `obs`.
///
/// ```
/// use sparse_scaling_law::{fit, FitOptions, Law, Observations};
/// let law = Law::parse("E + A/N^alpha", &[]).unwrap();
/// let n: Vec<f64> = (1..=12).map(|i| i as f64).collect();
/// let loss: Vec<f64> = n.iter().map(|n| 1.5 + 0.8 / n.powf(0.3)).collect();
/// let obs = Observations::new(vec!["N".into()], vec![n], loss, None).unwrap();
/// let r = fit(&law, &obs, &FitOptions { starts: 8, ..FitOptions::default() }).unwrap();
/// assert!(r.converged);
/// assert!((r.param("alpha").unwrap() - 0.3).abs() < 1e-4);
/// ```
pub fn fit(law: &Law, obs: &Observations, opts: &FitOptions) -> Result<FitResult, FitError> {
    let prep = prepare(law, obs, opts)?;
    // Fit the points in a canonical order, so that the order of the input cannot change a
    // single bit of the result (floating-point sums depend on order).
    let order = canonical_order(obs);
    let sorted = obs.select(&order);
    let (best_free, starts, best) = fit_prepared(&prep, &sorted, opts)?;
    let obj = prep.objective(&sorted, opts)?;
    let mut predictions = vec![0.0; obs.len()];
    for (k, p) in obj.predictions(&best_free).into_iter().enumerate() {
        predictions[order[k]] = p;
    }
    let residuals: Vec<f64> = predictions
        .iter()
        .zip(&obs.loss)
        .map(|(p, y)| p - y)
        .collect();
    let n = obs.len() as f64;
    let mean = obs.loss.iter().sum::<f64>() / n;
    let ss_tot: f64 = obs.loss.iter().map(|y| (y - mean).powi(2)).sum();
    let ss_res: f64 = residuals.iter().map(|r| r * r).sum();
    // Gradient with respect to the parameters themselves (not the optimizer's coordinates).
    let grad_norm = {
        let mut ws = obj.bound.workspace();
        let mut seed = vec![0.0; obs.len()];
        let mut g = vec![0.0; best_free.len()];
        let plain = Objective {
            transforms: vec![Transform::Free; best_free.len()],
            ..obj
        };
        plain.value_grad(&best_free, &mut g, &mut ws, &mut seed);
        g.iter().fold(0.0f64, |m, v| m.max(v.abs()))
    };
    let b = &starts[best];
    let mut result = FitResult {
        law: law.expr().to_string(),
        param_names: law.param_names().to_vec(),
        params: prep.full_params(&best_free),
        objective: b.objective,
        grad_norm,
        converged: b.converged,
        stop: b.stop,
        iterations: b.iterations,
        r2: if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            f64::NAN
        },
        rmse: (ss_res / n).sqrt(),
        predictions,
        residuals,
        starts,
        bootstrap: None,
    };
    if opts.bootstrap > 0 {
        result.bootstrap = Some(bootstrap(&prep, &sorted, opts, &result.params)?);
    }
    Ok(result)
}

/// Row indices that sort the points by (variables, loss, weight), compared bit-exactly.
fn canonical_order(obs: &Observations) -> Vec<usize> {
    let mut order: Vec<usize> = (0..obs.len()).collect();
    let key = |i: usize| -> Vec<f64> {
        let mut k: Vec<f64> = obs.columns.iter().map(|c| c[i]).collect();
        k.push(obs.loss[i]);
        if let Some(w) = &obs.weights {
            k.push(w[i]);
        }
        k
    };
    order.sort_by(|&a, &b| {
        let (ka, kb) = (key(a), key(b));
        ka.iter()
            .zip(&kb)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    order
}

/// Bootstrap: `opts.bootstrap` resamples of the points with replacement, each refitted from
/// `best` (one warm start), in parallel. Replicate `i` uses its own seeded generator, so the
/// result does not depend on the number of threads.
fn bootstrap(
    prep: &Prepared,
    obs: &Observations,
    opts: &FitOptions,
    best: &[f64],
) -> Result<Bootstrap, FitError> {
    let n = obs.len();
    let warm = prep.free_params(best);
    let reps: Vec<Option<Vec<f64>>> = (0..opts.bootstrap)
        .into_par_iter()
        .map(|i| {
            let mut rng = StdRng::seed_from_u64(
                opts.seed ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1),
            );
            let rows: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
            let sample = obs.select(&rows);
            let obj = prep.objective(&sample, opts).ok()?;
            let (x, f, ..) = run_start(&obj, &warm, opts);
            (f.is_finite() && x.iter().all(|v| v.is_finite())).then(|| prep.full_params(&x))
        })
        .collect();
    let failed = reps.iter().filter(|r| r.is_none()).count();
    let samples: Vec<Vec<f64>> = reps.into_iter().flatten().collect();
    let intervals = (0..best.len())
        .map(|k| {
            percentile_interval(samples.iter().map(|s| s[k]).collect(), opts.confidence)
                .unwrap_or((f64::NAN, f64::NAN))
        })
        .collect();
    Ok(Bootstrap {
        samples,
        failed,
        confidence: opts.confidence,
        intervals,
    })
}

/// Predictions of a law with given parameters (law order) at the observations' points.
pub fn predict(law: &Law, obs: &Observations, params: &[f64]) -> Result<Vec<f64>, FitError> {
    let tape = Tape::for_law(law);
    let unused = vec![0.0; obs.len()];
    let mut fixed: Vec<(usize, &[f64])> = Vec::new();
    for (k, v) in law.var_names().iter().enumerate() {
        match obs.column(v) {
            Some(c) => fixed.push((k, c)),
            None if !law.expr().contains(v) => fixed.push((k, &unused)),
            None => {
                return Err(LawError::UnknownVariable {
                    name: v.clone(),
                    available: obs.var_names.join(", "),
                }
                .into())
            }
        }
    }
    let bound = tape.bind(&fixed, obs.len())?;
    let mut ws = bound.workspace();
    if params.len() != law.param_names().len() {
        return Err(FitError::Options {
            field: "params".into(),
            message: format!(
                "{} values for {} parameters",
                params.len(),
                law.param_names().len()
            ),
        });
    }
    bound.forward_scalars(params, &mut ws);
    Ok(bound.value(&ws).to_vec())
}
