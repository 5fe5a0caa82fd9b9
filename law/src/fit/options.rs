//! The options of a fit ([`FitOptions`]): residuals and Huber δ, starts, stopping criteria,
//! bounds, fixed parameters, bootstrap and how its resamples are refitted ([`BootstrapRefit`]);
//! the authors' T5 and ViT presets (docs/THEORY.md §2); validation of the values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bfgs::BfgsSettings;
use super::FitError;

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

/// How each bootstrap resample is refitted (docs/PERFORMANCE.md, "Bootstrap").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BootstrapRefit {
    /// One optimizer run from the full-data optimum over the resample's distinct points, each
    /// weighted by how often it was drawn (the same objective as the repeated rows, on about
    /// 63 % of the points); a full multistart, keeping the better result, only where that run
    /// fails (a non-finite objective or a line search that cannot continue). The default.
    #[default]
    Warm,
    /// One optimizer run from the full-data optimum over the resample as drawn, repeated rows
    /// and all: the procedure before `Warm`, kept as the reference that `Warm` is tested
    /// against.
    Rows,
    /// Every resample fitted from all the fit's starts, as the full-data fit is, with no warm
    /// start: about 25 times slower, the reference for whether a warm start finds a
    /// resample's optimum.
    Cold,
}

/// Options of [`fit`](super::fit()). Defaults are the authors' T5 procedure (docs/THEORY.md §2)
/// run to convergence.
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
    /// How each bootstrap resample is refitted (default: warm from the full-data optimum).
    pub bootstrap_refit: BootstrapRefit,
    /// Factor on the Huber loss of points the law over-predicts (residual > 0); 1 is the
    /// symmetric loss of docs/THEORY.md §2, above 1 pulls the fit towards a lower envelope of the
    /// points (as OLMo-core's `overestimate_penalty`, whose 1.0 is also symmetric).
    pub overestimate_penalty: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        // The stopping criteria are the optimizer's defaults.
        let stop = BfgsSettings::default();
        FitOptions {
            huber_delta: 1e-3,
            residual: Residual::Log,
            starts: 25,
            init_low: 0.0,
            init_high: 1.0,
            grid: None,
            initial: None,
            seed: 1,
            max_iter: stop.max_iter,
            grad_tol: stop.grad_tol,
            rel_tol: stop.rel_tol,
            bounds: BTreeMap::new(),
            fixed: BTreeMap::new(),
            bootstrap: 0,
            confidence: 0.95,
            bootstrap_refit: BootstrapRefit::Warm,
            overestimate_penalty: 1.0,
        }
    }
}

impl FitOptions {
    /// The authors' T5 procedure (docs/THEORY.md §2): log residuals, δ = 1e-3, 25 uniform(0,1)
    /// starts.
    pub fn t5_paper() -> FitOptions {
        FitOptions::default()
    }

    /// The authors' ViT procedure (docs/THEORY.md §2): raw residuals, δ = 1e-2, 25 uniform(0,1)
    /// starts.
    pub fn vit_paper() -> FitOptions {
        FitOptions { huber_delta: 1e-2, residual: Residual::Raw, seed: 0, ..FitOptions::default() }
    }

    /// The optimizer's settings: these stopping criteria, the default line search.
    pub fn bfgs_settings(&self) -> BfgsSettings {
        BfgsSettings {
            max_iter: self.max_iter,
            grad_tol: self.grad_tol,
            rel_tol: self.rel_tol,
            ..BfgsSettings::default()
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
        let opts: FitOptions = serde_json::from_str(text)
            .map_err(|e| FitError::Options { field: "(json)".into(), message: e.to_string() })?;
        opts.validate()?;
        Ok(opts)
    }

    /// Checks the values (not the parameter names; [`fit`](super::fit()) checks those against
    /// the law).
    pub fn validate(&self) -> Result<(), FitError> {
        let bad = |field: &str, message: String| Err(FitError::Options { field: field.to_string(), message });
        if !(self.huber_delta > 0.0 && self.huber_delta.is_finite()) {
            return bad("huber_delta", format!("{} must be a positive number, e.g. 1e-3", self.huber_delta));
        }
        if self.starts == 0 && self.grid.is_none() && self.initial.is_none() {
            return bad(
                "starts",
                "0 starts and no grid or initial values: nothing to fit from; use starts = 25".into(),
            );
        }
        if !(self.init_low < self.init_high && self.init_low.is_finite() && self.init_high.is_finite()) {
            return bad(
                "init_low",
                format!("start range [{}, {}) is empty; use init_low < init_high", self.init_low, self.init_high),
            );
        }
        if let Some(g) = &self.grid {
            if g.is_empty() || g.iter().any(|v| !v.is_finite()) {
                return bad("grid", "grid levels must be a non-empty list of finite numbers".into());
            }
        }
        if self.max_iter == 0 {
            return bad("max_iter", "must be at least 1".into());
        }
        if !(self.grad_tol >= 0.0 && self.rel_tol >= 0.0) {
            return bad("grad_tol", "tolerances must be >= 0".into());
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return bad("confidence", format!("{} must be in (0, 1), e.g. 0.95", self.confidence));
        }
        if !(self.overestimate_penalty > 0.0 && self.overestimate_penalty.is_finite()) {
            return bad(
                "overestimate_penalty",
                format!(
                    "{} must be a positive number: 1 weighs over- and under-predictions alike, e.g. 10 fits a lower envelope",
                    self.overestimate_penalty
                ),
            );
        }
        for (name, b) in &self.bounds {
            if let (Some(l), Some(u)) = (b.lower, b.upper) {
                if l >= u || l.is_nan() || u.is_nan() {
                    return bad("bounds", format!("bounds of `{name}`: lower {l} must be below upper {u}"));
                }
            }
            if b.lower.is_some_and(|v| !v.is_finite()) || b.upper.is_some_and(|v| !v.is_finite()) {
                return bad("bounds", format!("bounds of `{name}` must be finite (leave a side out for none)"));
            }
        }
        Ok(())
    }
}
