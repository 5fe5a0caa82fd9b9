//! Analysis of a fitted law (docs/THEORY.md §3): dense-equivalent size m(S), the optimal sparsity
//! S_opt(N, C) under a cost model, slopes of the optimal-sparsity contours and of the dense
//! compute-optimal line, the budget at which sparsity starts to pay, and predictions with
//! bootstrap confidence intervals.
//!
//! Everything here is generic: it needs only the value and the partial derivatives
//! (∂/∂S, ∂/∂N, ∂/∂D) of the loss and of the cost model — a [`Surface`]. For a [`crate::Law`]
//! these come from the law's own symbolic derivatives, so a user's own law gets the same
//! analysis as the paper's. For the paper's law every quantity also has a closed form
//! ([`PaperCoefficients`]); the tests check that both agree.
//!
//! How S_opt is found: for fixed N and C, the cost model C(S, N, D) = C is solved for D by a
//! bracketing root finder (in log D), and L(S, N, D(S)) is minimised over S ∈ [0, 1) through its
//! total derivative
//!
//! dL/dS = ∂L/∂S + ∂L/∂D · dD/dS,   dD/dS = −(∂C/∂S) / (∂C/∂D).
//!
//! The derivative is scanned on a grid in u = −ln(1 − S) (dense near S = 1), every rise through
//! zero is refined with Brent's method, and the point of lowest loss among those and S = 0
//! (when dL/dS ≥ 0 there) is S_opt. For a law with one minimum (the paper's) this is simply:
//! S_opt = 0 when the derivative is non-negative at 0, else its root.
//!
//! Slopes are central differences (in ln N, half-width [`AnalysisOptions::slope_step`]) of
//! budgets found by root finding: the S_opt = s contour's budget solves dL/dS(s; N, C) = 0 for
//! C, the dense compute-optimal budget solves d/dN L(0, N, D(N)) = 0 for C. Where sparsity
//! starts to pay is the S_opt = 0 contour, compared with the dense compute-optimal budget for
//! the same N.
//!
//! ## Measured on the T5 table (docs/THEORY.md §2)
//!
//! | quantity | published a..g | converged fit (objective 4.8801e-6) |
//! | --- | --- | --- |
//! | m(0.75) | 2.1568 | 2.2697 |
//! | contour slope = dense-line slope, 1 + b_N/b_D | 2.2093 | 1.6023 |
//! | sparsity pays at this multiple of the dense compute-optimal data | 3.0146 | 0.6388 |
//! | T5-XL (S = 0.75, N/1e6 = 603.98, D/1e5 = 5; measured 1.48278) | 1.4683 (−0.98%) | 1.4551 (−1.87%) |
//!
//! The paper's "≈3×" (docs/THEORY.md §3) holds for the published coefficients; at the true
//! minimum of the same objective b_S is larger (1.34 vs 0.72) and sparsity already pays
//! before the dense compute-optimal point. Reproduce with (from the repository root)
//!
//! ```text
//! sparse-scaling analyse law/tests/data/t5-data.csv --preset t5-paper --params 0.56779,0.72161,1.52265,0.24513,0.63362,0.20271,0.65074
//! sparse-scaling analyse law/tests/data/t5-data.csv --preset t5-paper
//! ```

mod paper;
mod report;
mod roots;
mod symbolic;

pub use paper::PaperCoefficients;
pub use report::{
    prediction_interval, AnalysisReport, DenseEquivalentRow, FitRecord, LawSpec, OptimalSparsityRow, PaysRow,
    PredictionPoint, PredictionRow, Reference, ReportError, ReportSettings, SlopeRow,
};
pub use symbolic::{SymbolicSurface, DEFAULT_COST, DEFAULT_NBAR};

use roots::{bracket_outward, brent, rising_crossings, RootFail};
use serde::{Deserialize, Serialize};

/// A smooth function of (S, N, D) with its gradient: a fitted loss L(S, N, D) or a cost model
/// C(S, N, D).
pub trait Surface: Send + Sync {
    /// The value at (S, N, D).
    fn value(&self, s: f64, n: f64, d: f64) -> f64;
    /// The partial derivatives (∂/∂S, ∂/∂N, ∂/∂D) at (S, N, D).
    fn gradient(&self, s: f64, n: f64, d: f64) -> [f64; 3];
}

/// A [`Surface`] from two closures (value and gradient); for hand-written laws and tests.
pub struct FnSurface<V, G> {
    value: V,
    gradient: G,
}

impl<V, G> FnSurface<V, G>
where
    V: Fn(f64, f64, f64) -> f64 + Send + Sync,
    G: Fn(f64, f64, f64) -> [f64; 3] + Send + Sync,
{
    /// A surface with the given value and gradient functions.
    pub fn new(value: V, gradient: G) -> Self {
        Self { value, gradient }
    }
}

impl<V, G> Surface for FnSurface<V, G>
where
    V: Fn(f64, f64, f64) -> f64 + Send + Sync,
    G: Fn(f64, f64, f64) -> [f64; 3] + Send + Sync,
{
    fn value(&self, s: f64, n: f64, d: f64) -> f64 {
        (self.value)(s, n, d)
    }
    fn gradient(&self, s: f64, n: f64, d: f64) -> [f64; 3] {
        (self.gradient)(s, n, d)
    }
}

/// What can go wrong in the analysis. Every message says what was asked and how to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// A law or cost model lacks a variable the analysis needs, or uses one it cannot bind.
    #[error("{what} uses variable `{name}`, but the analysis only binds S, N and D; write it in terms of S (sparsity), N (non-zero parameters) and D (data)")]
    UnknownVariable {
        /// "the law" or "the cost model".
        what: String,
        /// The offending variable.
        name: String,
    },
    /// A law or cost model could not be read.
    #[error("{what} could not be parsed: {message}")]
    Parse {
        /// "the law" or "the cost model".
        what: String,
        /// The parser's message (with the column).
        message: String,
    },
    /// The number of parameter values does not match the law.
    #[error("the law has {expected} parameters ({names}) but {got} values were given")]
    ParameterCount {
        /// Parameters of the law.
        expected: usize,
        /// Values given.
        got: usize,
        /// The parameter names, comma-separated.
        names: String,
    },
    /// An input is outside its domain.
    #[error("{what} = {value} is outside its domain {domain}")]
    OutOfDomain {
        /// Which input.
        what: &'static str,
        /// Its value.
        value: f64,
        /// The allowed range, e.g. "[0, 1)".
        domain: &'static str,
    },
    /// C(S, N, D) = C has no solution D > 0.
    #[error("cannot solve the cost model for D at S = {s}, N = {n}, C = {c}: {reason}; the cost model must increase with D and reach C for some D > 0")]
    CostNotInvertible {
        /// Sparsity.
        s: f64,
        /// Non-zero parameters.
        n: f64,
        /// Budget.
        c: f64,
        /// What failed.
        reason: String,
    },
    /// The loss still falls as S → 1, so there is no optimum below S = 1.
    #[error("at N = {n}, C = {c} the loss keeps falling as S → 1: the law and cost model have no optimal sparsity below 1 (check the fitted exponents and the cost model)")]
    SparsityUnbounded {
        /// Non-zero parameters.
        n: f64,
        /// Budget.
        c: f64,
    },
    /// A one-dimensional equation had no solution in the range searched.
    #[error("{what}: no solution found for {variable} in [{lo:.4e}, {hi:.4e}]{hint}")]
    NoSolution {
        /// The quantity being computed.
        what: String,
        /// The unknown.
        variable: &'static str,
        /// Lower end searched.
        lo: f64,
        /// Upper end searched.
        hi: f64,
        /// How to fix or why it may be expected.
        hint: String,
    },
    /// The law or cost model evaluated to NaN.
    #[error("{what} is not a number at {at}; the law or cost model is undefined there (e.g. a negative base raised to a fractional power)")]
    NotFinite {
        /// The quantity being computed.
        what: String,
        /// Where, as text.
        at: String,
    },
}

fn check_sparsity(s: f64) -> Result<(), AnalysisError> {
    if s.is_finite() && (0.0..1.0).contains(&s) {
        Ok(())
    } else {
        Err(AnalysisError::OutOfDomain { what: "sparsity S", value: s, domain: "[0, 1)" })
    }
}

fn check_positive(what: &'static str, v: f64) -> Result<(), AnalysisError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(AnalysisError::OutOfDomain { what, value: v, domain: "(0, ∞)" })
    }
}

/// Numerical settings of the analysis; the defaults suit laws in any units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisOptions {
    /// Grid points of the scan of dL/dS over S ∈ [0, 1) (uniform in −ln(1 − S)).
    pub sparsity_grid: usize,
    /// Largest −ln(1 − S) scanned (27.6 ≈ S = 1 − 1e−12).
    pub max_log_density: f64,
    /// Absolute tolerance on S_opt.
    pub sparsity_tol: f64,
    /// Half-width (in natural log) of the finite differences that give slopes.
    pub slope_step: f64,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self { sparsity_grid: 64, max_log_density: 27.6, sparsity_tol: 1e-13, slope_step: 0.01 }
    }
}

/// S_opt(N, C) and the run it describes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimalSparsity {
    /// Inference size N (non-zeros).
    pub n: f64,
    /// Training budget C.
    pub c: f64,
    /// The optimal sparsity.
    pub s: f64,
    /// The data D that the budget buys at S_opt.
    pub d: f64,
    /// L(S_opt, N, D).
    pub loss: f64,
    /// The loss of the dense model (S = 0) at the same N and C.
    pub dense_loss: f64,
    /// dL/dS at S = 0 (along the budget constraint); S_opt = 0 when it is ≥ 0 for a
    /// single-minimum law.
    pub slope_at_dense: f64,
}

/// The budget and data at which sparsity starts to pay for an inference size N, compared with
/// the dense compute-optimal budget for N.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SparsityPays {
    /// Inference size N.
    pub n: f64,
    /// Budget at which S_opt leaves 0.
    pub budget: f64,
    /// Data bought by that budget with a dense model.
    pub data: f64,
    /// Budget for which a dense model of size N is compute-optimal.
    pub dense_optimal_budget: f64,
    /// Data of that compute-optimal dense run.
    pub dense_optimal_data: f64,
    /// budget / dense_optimal_budget.
    pub budget_multiple: f64,
    /// data / dense_optimal_data (the "≈3×" of docs/THEORY.md §3 for T5).
    pub data_multiple: f64,
}

/// A fitted loss, a cost model, and the analysis derived from them.
pub struct Analysis {
    loss: Box<dyn Surface>,
    cost: Box<dyn Surface>,
    options: AnalysisOptions,
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis").field("options", &self.options).finish_non_exhaustive()
    }
}

fn fail_to_error(
    what: &str,
    variable: &'static str,
    hint: &str,
    e: RootFail,
    map: impl Fn(f64) -> f64,
) -> AnalysisError {
    match e {
        RootFail::NoBracket { lo, hi } => AnalysisError::NoSolution {
            what: what.to_string(),
            variable,
            lo: map(lo),
            hi: map(hi),
            hint: hint.to_string(),
        },
        RootFail::NotFinite { at } => {
            AnalysisError::NotFinite { what: what.to_string(), at: format!("{variable} = {:.6e}", map(at)) }
        }
    }
}

/// Widest search in natural log of any positive unknown (D, N, C, m): e^±700.
const LOG_LIMIT: f64 = 700.0;

impl Analysis {
    /// The analysis of `loss` under `cost`, with default options.
    pub fn from_surfaces(loss: impl Surface + 'static, cost: impl Surface + 'static) -> Self {
        Self { loss: Box::new(loss), cost: Box::new(cost), options: AnalysisOptions::default() }
    }

    /// The same analysis with other numerical options.
    pub fn with_options(mut self, options: AnalysisOptions) -> Self {
        self.options = options;
        self
    }

    /// The options in use.
    pub fn options(&self) -> &AnalysisOptions {
        &self.options
    }

    /// L(S, N, D).
    pub fn loss(&self, s: f64, n: f64, d: f64) -> f64 {
        self.loss.value(s, n, d)
    }

    /// C(S, N, D) of the cost model.
    pub fn cost(&self, s: f64, n: f64, d: f64) -> f64 {
        self.cost.value(s, n, d)
    }

    /// The data D > 0 with C(S, N, D) = C, by a bracketing search in log D and Brent's method.
    pub fn data_for_budget(&self, s: f64, n: f64, c: f64) -> Result<f64, AnalysisError> {
        check_sparsity(s)?;
        check_positive("non-zero parameters N", n)?;
        check_positive("budget C", c)?;
        let err = |reason: String| AnalysisError::CostNotInvertible { s, n, c, reason };
        let c1 = self.cost.value(s, n, 1.0);
        // exact start for costs linear in D
        let t0 = if c1.is_finite() && c1 > 0.0 { (c / c1).ln() } else { 0.0 };
        let t0 = if t0.is_finite() { t0.clamp(-LOG_LIMIT, LOG_LIMIT) } else { 0.0 };
        let f = |t: f64| self.cost.value(s, n, t.exp()) / c - 1.0;
        let br = bracket_outward(f, t0, 1e-6 + 1e-9 * t0.abs(), LOG_LIMIT).map_err(|e| match e {
            RootFail::NoBracket { lo, hi } => {
                err(format!("C(S, N, D) stays on one side of C for D in [{:.3e}, {:.3e}]", lo.exp(), hi.exp()))
            }
            RootFail::NotFinite { at } => err(format!("the cost model is NaN at D = {:.3e}", at.exp())),
        })?;
        let t = brent(f, br, 1e-14, 200).map_err(|_| err("root finding failed".into()))?;
        Ok(t.exp())
    }

    /// Total derivative dL/dS along C(S, N, D) = C, and the D it uses.
    pub fn sparsity_derivative(&self, s: f64, n: f64, c: f64) -> Result<(f64, f64), AnalysisError> {
        let d = self.data_for_budget(s, n, c)?;
        let gl = self.loss.gradient(s, n, d);
        let gc = self.cost.gradient(s, n, d);
        if !(gc[2].is_finite() && gc[2] > 0.0) {
            return Err(AnalysisError::CostNotInvertible {
                s,
                n,
                c,
                reason: format!("∂C/∂D = {} at D = {d:.4e}", gc[2]),
            });
        }
        let dd_ds = -gc[0] / gc[2];
        let g = gl[0] + gl[2] * dd_ds;
        if g.is_nan() {
            return Err(AnalysisError::NotFinite {
                what: "dL/dS".into(),
                at: format!("S = {s}, N = {n:.4e}, D = {d:.4e}"),
            });
        }
        Ok((g, d))
    }

    /// Total derivative of L(0, N, D(N)) with respect to ln N along C(0, N, D) = C.
    fn dense_size_derivative(&self, n: f64, c: f64) -> Result<f64, AnalysisError> {
        let d = self.data_for_budget(0.0, n, c)?;
        let gl = self.loss.gradient(0.0, n, d);
        let gc = self.cost.gradient(0.0, n, d);
        if !(gc[2].is_finite() && gc[2] > 0.0) {
            return Err(AnalysisError::CostNotInvertible {
                s: 0.0,
                n,
                c,
                reason: format!("∂C/∂D = {} at D = {d:.4e}", gc[2]),
            });
        }
        let h = n * (gl[1] - gl[2] * gc[1] / gc[2]);
        if h.is_nan() {
            return Err(AnalysisError::NotFinite { what: "dL/dN".into(), at: format!("N = {n:.4e}, D = {d:.4e}") });
        }
        Ok(h)
    }

    /// Dense-equivalent size factor m: the dense model with m·N parameters trained on the same D
    /// reaches L(S, N, D). Solves L(0, m·N, D) = L(S, N, D) for m (in log m).
    pub fn dense_equivalent(&self, s: f64, n: f64, d: f64) -> Result<f64, AnalysisError> {
        check_sparsity(s)?;
        check_positive("non-zero parameters N", n)?;
        check_positive("data D", d)?;
        let target = self.loss.value(s, n, d);
        if !target.is_finite() {
            return Err(AnalysisError::NotFinite {
                what: "the loss".into(),
                at: format!("S = {s}, N = {n:.4e}, D = {d:.4e}"),
            });
        }
        let scale = target.abs().max(1e-300);
        let f = |t: f64| (self.loss.value(0.0, n * t.exp(), d) - target) / scale;
        let what = format!("dense-equivalent size at S = {s}, N = {n:.4e}, D = {d:.4e}");
        let hint = "; no dense model of any size reaches this loss (the law may not depend on N, or sparsity lowers the loss below the dense limit)";
        let br = bracket_outward(f, 0.0, 1e-3, LOG_LIMIT).map_err(|e| fail_to_error(&what, "m", hint, e, f64::exp))?;
        let t = brent(f, br, 1e-13, 200).map_err(|e| fail_to_error(&what, "m", hint, e, f64::exp))?;
        Ok(t.exp())
    }

    /// The optimal sparsity for inference size N and training budget C (see the module docs).
    pub fn optimal_sparsity(&self, n: f64, c: f64) -> Result<OptimalSparsity, AnalysisError> {
        check_positive("non-zero parameters N", n)?;
        check_positive("budget C", c)?;
        let o = &self.options;
        let k = o.sparsity_grid.max(4);
        let grid: Vec<f64> = (0..k).map(|i| 1.0 - (-(o.max_log_density * i as f64 / (k - 1) as f64)).exp()).collect();
        let mut first_err = None;
        let g = |s: f64| match self.sparsity_derivative(s, n, c) {
            Ok((v, _)) => v,
            Err(e) => {
                first_err.get_or_insert(e);
                f64::NAN
            }
        };
        let (cells, values) = rising_crossings(g, &grid);
        let slope_at_dense = values[0];
        if slope_at_dense.is_nan() {
            return Err(first_err.unwrap_or(AnalysisError::NotFinite { what: "dL/dS".into(), at: "S = 0".into() }));
        }
        let loss_at = |s: f64| -> Result<(f64, f64), AnalysisError> {
            let d = self.data_for_budget(s, n, c)?;
            Ok((self.loss.value(s, n, d), d))
        };
        let (dense_loss, dense_d) = loss_at(0.0)?;
        let mut best: Option<(f64, f64, f64)> = None; // (s, loss, d)
                                                      // Whether `l` is below the best loss so far (none: yes). Written for Rust 1.75, the
                                                      // workspace's rust-version (no `Option::is_none_or`).
        let beats = |l: f64, best: Option<(f64, f64, f64)>| match best {
            Some(b) => l < b.1,
            None => true,
        };
        if slope_at_dense >= 0.0 {
            best = Some((0.0, dense_loss, dense_d));
        }
        for cell in cells {
            let gs = |s: f64| self.sparsity_derivative(s, n, c).map(|x| x.0).unwrap_or(f64::NAN);
            let s = match brent(gs, cell, o.sparsity_tol, 200) {
                Ok(s) => s,
                Err(_) => continue,
            };
            let (l, d) = loss_at(s)?;
            if beats(l, best) {
                best = Some((s, l, d));
            }
        }
        // still falling at the end of the scan: the infimum is at S → 1
        let last = *values.last().unwrap_or(&f64::NAN);
        if last < 0.0 {
            let s_last = *grid.last().unwrap_or(&0.0);
            if let Ok((l, _)) = loss_at(s_last) {
                if beats(l, best) {
                    return Err(AnalysisError::SparsityUnbounded { n, c });
                }
            }
        }
        match best {
            Some((s, loss, d)) => Ok(OptimalSparsity { n, c, s, d, loss, dense_loss, slope_at_dense }),
            None => Err(first_err.unwrap_or(AnalysisError::SparsityUnbounded { n, c })),
        }
    }

    /// The budget C at which dL/dS = 0 at sparsity `s` for inference size N: the point of the
    /// S_opt = `s` contour at N. For `s = 0`, the budget at which sparsity starts to pay.
    pub fn contour_budget(&self, s: f64, n: f64) -> Result<f64, AnalysisError> {
        check_sparsity(s)?;
        check_positive("non-zero parameters N", n)?;
        let c1 = self.cost.value(s, n, 1.0);
        let t0 = if c1.is_finite() && c1 > 0.0 { c1.ln() } else { 0.0 };
        let f = |t: f64| self.sparsity_derivative(s, n, t.exp()).map(|x| x.0).unwrap_or(f64::NAN);
        let what = format!("budget at which S_opt = {s} for N = {n:.4e}");
        let hint = "; at this sparsity dL/dS does not change sign for any budget";
        let br = bracket_outward(f, t0, 0.5, LOG_LIMIT).map_err(|e| fail_to_error(&what, "C", hint, e, f64::exp))?;
        let t = brent(f, br, 1e-13, 300).map_err(|e| fail_to_error(&what, "C", hint, e, f64::exp))?;
        Ok(t.exp())
    }

    /// Slope d ln C / d ln N of the contour S_opt = `s` at inference size N (numerically, by
    /// central differences of [`Self::contour_budget`]; 1 + b_N/b_D for the paper's law).
    pub fn contour_slope(&self, s: f64, n: f64) -> Result<f64, AnalysisError> {
        let h = self.options.slope_step;
        let up = self.contour_budget(s, n * h.exp())?;
        let dn = self.contour_budget(s, n * (-h).exp())?;
        Ok((up.ln() - dn.ln()) / (2.0 * h))
    }

    /// The budget for which a dense model of size N is compute-optimal: the root in C of the
    /// total derivative of L(0, N, D) along C(0, N, D) = C with respect to N.
    pub fn dense_optimal_budget(&self, n: f64) -> Result<f64, AnalysisError> {
        check_positive("non-zero parameters N", n)?;
        let c1 = self.cost.value(0.0, n, 1.0);
        let t0 = if c1.is_finite() && c1 > 0.0 { c1.ln() } else { 0.0 };
        let f = |t: f64| self.dense_size_derivative(n, t.exp()).unwrap_or(f64::NAN);
        let what = format!("compute-optimal budget of a dense model with N = {n:.4e}");
        let hint = "; the law may not trade N against D (e.g. no N or no D term)";
        let br = bracket_outward(f, t0, 0.5, LOG_LIMIT).map_err(|e| fail_to_error(&what, "C", hint, e, f64::exp))?;
        let t = brent(f, br, 1e-13, 300).map_err(|e| fail_to_error(&what, "C", hint, e, f64::exp))?;
        Ok(t.exp())
    }

    /// The compute-optimal dense size N for budget C (minimum over N of L(0, N, D(N))).
    pub fn dense_optimal_size(&self, c: f64) -> Result<f64, AnalysisError> {
        check_positive("budget C", c)?;
        // start where N = D under the cost model (neutral in any units)
        let c11 = self.cost.value(0.0, 1.0, 1.0);
        let t0 = if c11.is_finite() && c11 > 0.0 { 0.5 * (c / c11).ln() } else { 0.0 };
        let f = |t: f64| self.dense_size_derivative(t.exp(), c).unwrap_or(f64::NAN);
        let what = format!("compute-optimal dense size for C = {c:.4e}");
        let hint = "; the law may not trade N against D";
        let br = bracket_outward(f, t0, 0.5, LOG_LIMIT).map_err(|e| fail_to_error(&what, "N", hint, e, f64::exp))?;
        let t = brent(f, br, 1e-13, 300).map_err(|e| fail_to_error(&what, "N", hint, e, f64::exp))?;
        Ok(t.exp())
    }

    /// Slope d ln C / d ln N of the dense compute-optimal line at N (numerically).
    pub fn dense_optimal_slope(&self, n: f64) -> Result<f64, AnalysisError> {
        let h = self.options.slope_step;
        let up = self.dense_optimal_budget(n * h.exp())?;
        let dn = self.dense_optimal_budget(n * (-h).exp())?;
        Ok((up.ln() - dn.ln()) / (2.0 * h))
    }

    /// Where sparsity starts to pay for inference size N, relative to the dense compute-optimal
    /// run of that size (docs/THEORY.md §3: ≈3× the data for T5).
    pub fn sparsity_pays(&self, n: f64) -> Result<SparsityPays, AnalysisError> {
        let budget = self.contour_budget(0.0, n)?;
        let dense_optimal_budget = self.dense_optimal_budget(n)?;
        let data = self.data_for_budget(0.0, n, budget)?;
        let dense_optimal_data = self.data_for_budget(0.0, n, dense_optimal_budget)?;
        Ok(SparsityPays {
            n,
            budget,
            data,
            dense_optimal_budget,
            dense_optimal_data,
            budget_multiple: budget / dense_optimal_budget,
            data_multiple: data / dense_optimal_data,
        })
    }

    /// S_opt over a log N × log C grid, the contour lines of the given levels and the dense
    /// compute-optimal line, for plotting (computed in parallel).
    pub fn contour_map(
        &self,
        log10_n: (f64, f64),
        log10_c: (f64, f64),
        resolution: usize,
        levels: &[f64],
    ) -> ContourMap {
        use rayon::prelude::*;
        let r = resolution.max(2);
        let axis =
            |(lo, hi): (f64, f64)| -> Vec<f64> { (0..r).map(|i| lo + (hi - lo) * i as f64 / (r - 1) as f64).collect() };
        let xs = axis(log10_n);
        let ys = axis(log10_c);
        let s_opt: Vec<Vec<f64>> = ys
            .par_iter()
            .map(|&y| {
                xs.iter()
                    .map(|&x| self.optimal_sparsity(10f64.powf(x), 10f64.powf(y)).map(|o| o.s).unwrap_or(f64::NAN))
                    .collect()
            })
            .collect();
        let lines: Vec<ContourLine> = levels
            .par_iter()
            .map(|&level| ContourLine {
                level,
                points: xs
                    .iter()
                    .filter_map(|&x| self.contour_budget(level, 10f64.powf(x)).ok().map(|c| (x, c.log10())))
                    .collect(),
            })
            .collect();
        let dense_line: Vec<(f64, f64)> = xs
            .par_iter()
            .filter_map(|&x| self.dense_optimal_budget(10f64.powf(x)).ok().map(|c| (x, c.log10())))
            .collect();
        ContourMap { log10_n: xs, log10_c: ys, s_opt, lines, dense_line }
    }
}

/// One contour line S_opt = `level`: points (log10 N, log10 C).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContourLine {
    /// The sparsity of the contour (0 = where sparsity starts to pay).
    pub level: f64,
    /// (log10 N, log10 C) points along it.
    pub points: Vec<(f64, f64)>,
}

/// S_opt on a grid over log10 N × log10 C, with contour lines and the dense compute-optimal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContourMap {
    /// Grid of log10 N (columns).
    pub log10_n: Vec<f64>,
    /// Grid of log10 C (rows).
    pub log10_c: Vec<f64>,
    /// `s_opt[row][col]` = S_opt(10^`log10_n[col]`, 10^`log10_c[row]`); NaN where undefined.
    pub s_opt: Vec<Vec<f64>>,
    /// Contour lines.
    pub lines: Vec<ContourLine>,
    /// The dense compute-optimal line (log10 N, log10 C).
    pub dense_line: Vec<(f64, f64)>,
}

/// A point estimate with a percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The estimate from the best-fit parameters.
    pub estimate: f64,
    /// Lower end of the interval (NaN without bootstrap samples).
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Coverage, e.g. 0.95.
    pub level: f64,
    /// Bootstrap samples that gave a finite value.
    pub samples: usize,
}

/// The `q`-quantile (0 ≤ q ≤ 1) of sorted finite values, linearly interpolated.
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(v.len() - 1);
    let w = pos - i as f64;
    v[i] * (1.0 - w) + v[j] * w
}

impl Interval {
    /// Percentile interval of `samples` at coverage `level` around `estimate`; non-finite
    /// samples are dropped (and counted out of `samples`).
    pub fn percentile(estimate: f64, samples: impl IntoIterator<Item = f64>, level: f64) -> Self {
        let mut v: Vec<f64> = samples.into_iter().filter(|x| x.is_finite()).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let alpha = (1.0 - level.clamp(0.0, 1.0)) / 2.0;
        Interval {
            estimate,
            lo: quantile_sorted(&v, alpha),
            hi: quantile_sorted(&v, 1.0 - alpha),
            level,
            samples: v.len(),
        }
    }
}

/// The same derived quantity computed for the best fit and for every bootstrap parameter
/// sample (in parallel), as a percentile interval. `f` maps a parameter vector to the quantity
/// (return NaN or an error where undefined; such samples are left out).
pub fn bootstrap_interval<E>(
    best: &[f64],
    samples: &[Vec<f64>],
    level: f64,
    f: impl Fn(&[f64]) -> Result<f64, E> + Sync,
) -> Result<Interval, E> {
    use rayon::prelude::*;
    let estimate = f(best)?;
    let vals: Vec<f64> = samples.par_iter().map(|p| f(p).unwrap_or(f64::NAN)).collect();
    Ok(Interval::percentile(estimate, vals, level))
}

#[cfg(test)]
mod tests;
