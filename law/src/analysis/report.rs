//! A fit as a record (what `sparse-scaling fit --json` writes and `analyse` reads) and the
//! report of docs/THEORY.md §3 computed from it: m(S), S_opt(N, C), contour and dense-line slopes,
//! where sparsity starts to pay, and predictions — each with a bootstrap interval when the fit
//! was bootstrapped, and with the paper's closed form next to it when the law is the paper's.

use super::{Analysis, AnalysisError, Interval, PaperCoefficients, DEFAULT_COST, DEFAULT_NBAR};
use crate::data::{CsvMapping, Observations};
use crate::fit::{FitOptions, FitResult};
use crate::law::{Law, LawError};
use crate::validate::Validation;
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};

/// The law of a record: a built-in name, or a formula with its variables and parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LawSpec {
    /// Built-in name, if any (`paper-normalised`, …).
    pub name: Option<String>,
    /// The formula.
    pub formula: String,
    /// Its variables.
    pub vars: Vec<String>,
    /// Its parameters, in the order of the fitted values.
    pub params: Vec<String>,
}

impl LawSpec {
    /// Describes `law`.
    pub fn of(law: &Law) -> Self {
        Self {
            name: law.name().map(str::to_string),
            formula: law.text().to_string(),
            vars: law.var_names().to_vec(),
            params: law.param_names().to_vec(),
        }
    }

    /// Rebuilds the law (a built-in by name, else the formula with the declared names).
    pub fn to_law(&self) -> Result<Law, LawError> {
        if let Some(name) = &self.name {
            let law = Law::builtin(name)?;
            if law.param_names() == self.params.as_slice() {
                return Ok(law);
            }
        }
        let vars: Vec<&str> = self.vars.iter().map(String::as_str).collect();
        let params: Vec<&str> = self.params.iter().map(String::as_str).collect();
        Law::parse_declared(&self.formula, &vars, &params)
    }
}

/// A fit with everything needed to reproduce and analyse it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitRecord {
    /// Format version (1).
    pub format: u32,
    /// Where the points came from (a file path).
    pub source: String,
    /// The named preset used, if any (e.g. `t5-paper`).
    pub preset: Option<String>,
    /// How CSV columns became variables (None for points not read from CSV).
    pub mapping: Option<CsvMapping>,
    /// The law.
    pub law: LawSpec,
    /// Fit options.
    pub options: FitOptions,
    /// The points fitted.
    pub observations: Observations,
    /// The fit.
    pub fit: FitResult,
    /// Held-out validation, when the points where a condition holds (or each value of a column
    /// in turn) were left out of the fit and predicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<Validation>,
}

impl FitRecord {
    /// Current format version.
    pub const FORMAT: u32 = 1;
}

/// A point at which to predict, with an optional label and measured value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictionPoint {
    /// Label shown in the table (e.g. "T5-XL").
    pub label: String,
    /// Sparsity.
    pub s: f64,
    /// Non-zero parameters (law units).
    pub n: f64,
    /// Data (law units).
    pub d: f64,
    /// The measured loss, if known.
    pub measured: Option<f64>,
}

/// What to put in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSettings {
    /// Cost model C(S, N, D) as text.
    pub cost: String,
    /// N̄ as an expression in S and N, for a law or cost in `Nbar` (default [`DEFAULT_NBAR`]).
    pub nbar: String,
    /// Sparsities of the m(S) table.
    pub sparsities: Vec<f64>,
    /// Inference sizes N of the S_opt table (empty: smallest and largest N of the data, and
    /// 10× the largest).
    pub sizes: Vec<f64>,
    /// Budgets of the S_opt table (empty: 1, 3, 10, 100 and 1000 × the dense compute-optimal
    /// budget of each N).
    pub budgets: Vec<f64>,
    /// Prediction points.
    pub predictions: Vec<PredictionPoint>,
    /// Coverage of intervals when the record has no bootstrap confidence (ignored otherwise).
    pub level: f64,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            cost: DEFAULT_COST.into(),
            nbar: DEFAULT_NBAR.into(),
            sparsities: vec![0.5, 0.75, 0.875, 0.9375],
            sizes: vec![],
            budgets: vec![],
            predictions: vec![],
            level: 0.95,
        }
    }
}

/// A row of the m(S) table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseEquivalentRow {
    /// Sparsity.
    pub s: f64,
    /// m(S) at the reference (N, D).
    pub m: Interval,
    /// Closed form (paper's law only).
    pub closed_form: Option<f64>,
}

/// A row of the S_opt table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimalSparsityRow {
    /// Inference size.
    pub n: f64,
    /// Budget.
    pub c: f64,
    /// C divided by the dense compute-optimal budget for N (NaN if that is undefined).
    pub budget_multiple: f64,
    /// S_opt.
    pub s_opt: Interval,
    /// Data at S_opt.
    pub d: f64,
    /// Loss at S_opt.
    pub loss: f64,
    /// Loss of the dense model at the same N and C.
    pub dense_loss: f64,
    /// Closed form (paper's law and default cost only).
    pub closed_form: Option<f64>,
}

/// A slope in log N – log C.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlopeRow {
    /// Where it was measured (N).
    pub n: f64,
    /// The contour level (for contour slopes).
    pub level: Option<f64>,
    /// d ln C / d ln N.
    pub slope: Interval,
    /// Closed form (paper's law and default cost only): 1 + b_N/b_D.
    pub closed_form: Option<f64>,
}

/// Where sparsity starts to pay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaysRow {
    /// Inference size.
    pub n: f64,
    /// Budget at which S_opt leaves 0.
    pub budget: f64,
    /// Dense compute-optimal budget for N.
    pub dense_optimal_budget: f64,
    /// Data multiple over the compute-optimal dense run.
    pub data_multiple: Interval,
    /// Budget multiple.
    pub budget_multiple: f64,
    /// Closed form (paper's law and default cost only).
    pub closed_form: Option<f64>,
}

/// A prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRow {
    /// The point.
    pub point: PredictionPoint,
    /// Predicted loss.
    pub loss: Interval,
    /// (predicted − measured) / measured, if measured.
    pub relative_error: Option<f64>,
}

/// The analysis of a fit (docs/THEORY.md §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisReport {
    /// The law.
    pub law: LawSpec,
    /// `(name, value)` of the fitted parameters.
    pub params: Vec<(String, f64)>,
    /// The cost model.
    pub cost: String,
    /// Units of N and D (the CSV mapping's expressions), if known.
    pub units: Option<(String, String)>,
    /// Reference N and D (largest in the data) for m(S) and the slopes.
    pub reference: (f64, f64),
    /// Bootstrap samples behind the intervals (0: no intervals).
    pub bootstrap_samples: usize,
    /// m(S) table.
    pub dense_equivalent: Vec<DenseEquivalentRow>,
    /// S_opt table.
    pub optimal_sparsity: Vec<OptimalSparsityRow>,
    /// Slope of the S_opt = 0.5 contour.
    pub contour_slope: Option<SlopeRow>,
    /// Slope of the dense compute-optimal line.
    pub dense_optimal_slope: Option<SlopeRow>,
    /// Where sparsity starts to pay.
    pub sparsity_pays: Option<PaysRow>,
    /// Predictions.
    pub predictions: Vec<PredictionRow>,
    /// Quantities that could not be computed, with the reason.
    pub warnings: Vec<String>,
}

/// Everything that can fail when building a report from a record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    /// The record's law cannot be rebuilt.
    #[error("the fit record's law cannot be rebuilt: {0}")]
    Law(LawError),
    /// The analysis cannot start (bad cost model, parameter count, variables).
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// A setting is invalid.
    #[error("{0}")]
    Settings(String),
}

struct Ctx {
    best: Analysis,
    samples: Vec<Analysis>,
    level: f64,
}

impl Ctx {
    fn interval(&self, f: impl Fn(&Analysis) -> Result<f64, AnalysisError> + Sync) -> Result<Interval, AnalysisError> {
        use rayon::prelude::*;
        let est = f(&self.best)?;
        let vals: Vec<f64> = self.samples.par_iter().map(|a| f(a).unwrap_or(f64::NAN)).collect();
        if self.samples.is_empty() {
            return Ok(Interval { estimate: est, lo: f64::NAN, hi: f64::NAN, level: self.level, samples: 0 });
        }
        Ok(Interval::percentile(est, vals, self.level))
    }
}

fn column_range(obs: &Observations, name: &str) -> Option<(f64, f64)> {
    let c = obs.column(name)?;
    let lo = c.iter().copied().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    let hi = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo.is_finite() && hi.is_finite() && hi > 0.0).then_some((lo, hi))
}

/// The sizes and data the report refers to when none are given: the range of N in the data
/// (default S_opt table rows; m(S) and the slopes are taken at the largest N) and the largest D.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// Smallest N.
    pub n_min: f64,
    /// Largest N.
    pub n_max: f64,
    /// Largest D.
    pub d_max: f64,
}

impl Reference {
    /// From the observations' N and D columns (1 where a column is missing).
    pub fn of(obs: &Observations) -> Self {
        let (n_min, n_max) = column_range(obs, "N").unwrap_or((1.0, 1.0));
        let (_, d_max) = column_range(obs, "D").unwrap_or((1.0, 1.0));
        Self { n_min, n_max, d_max }
    }
}

impl AnalysisReport {
    /// Builds the report for a fit record.
    pub fn from_record(record: &FitRecord, settings: &ReportSettings) -> Result<Self, ReportError> {
        let law = record.law.to_law().map_err(ReportError::Law)?;
        let units = record.mapping.as_ref().and_then(|m| {
            let get = |v: &str| m.vars.iter().find(|(n, _)| n == v).map(|(_, e)| e.clone());
            Some((get("N")?, get("D")?))
        });
        let samples = record.fit.bootstrap_samples().unwrap_or(&[]);
        let level = record.fit.bootstrap.as_ref().map_or(settings.level, |b| b.confidence);
        Self::build(&law, &record.fit.params, samples, level, Reference::of(&record.observations), units, settings)
    }

    /// Builds the report for `law` with best parameters `params`, bootstrap parameter samples
    /// (may be empty) at coverage `level`, reference sizes and settings.
    pub fn build(
        law: &Law,
        params: &[f64],
        samples: &[Vec<f64>],
        level: f64,
        reference: Reference,
        units: Option<(String, String)>,
        settings: &ReportSettings,
    ) -> Result<Self, ReportError> {
        use rayon::prelude::*;
        if !(level > 0.0 && level < 1.0) {
            return Err(ReportError::Settings(format!("confidence level {level} must be in (0, 1), e.g. 0.95")));
        }
        let best = Analysis::with_models(law, params, &settings.cost, &settings.nbar)?;
        let samples: Vec<Analysis> = samples
            .par_iter()
            .filter_map(|p| Analysis::with_models(law, p, &settings.cost, &settings.nbar).ok())
            .collect();
        let ctx = Ctx { best, samples, level };
        let closed = if settings.cost.replace(' ', "") == DEFAULT_COST {
            PaperCoefficients::from_law(law, params)
        } else {
            None
        };
        let (n_lo, n_hi, d_hi) = (reference.n_min, reference.n_max, reference.d_max);
        if !(n_lo > 0.0 && n_hi >= n_lo && d_hi > 0.0 && n_hi.is_finite() && d_hi.is_finite()) {
            return Err(ReportError::Settings(format!(
                "reference sizes must be positive and finite (N from {n_lo} to {n_hi}, D = {d_hi})"
            )));
        }
        let mut warnings = Vec::new();

        let mut dense_equivalent = Vec::new();
        for &s in &settings.sparsities {
            match ctx.interval(|a| a.dense_equivalent(s, n_hi, d_hi)) {
                Ok(m) => dense_equivalent.push(DenseEquivalentRow {
                    s,
                    m,
                    closed_form: PaperCoefficients::from_law(law, params).map(|p| p.dense_equivalent(s)),
                }),
                Err(e) => warnings.push(format!("m({s}): {e}")),
            }
        }

        let sizes = if settings.sizes.is_empty() {
            let mut v = vec![n_lo, n_hi, 10.0 * n_hi];
            v.dedup();
            v
        } else {
            settings.sizes.clone()
        };
        let mut optimal_sparsity = Vec::new();
        for &n in &sizes {
            let dense_c = ctx.best.dense_optimal_budget(n);
            let budgets: Vec<f64> = if settings.budgets.is_empty() {
                match &dense_c {
                    Ok(c) => [1.0, 3.0, 10.0, 100.0, 1000.0].iter().map(|k| k * c).collect(),
                    Err(e) => {
                        warnings.push(format!("default budgets for N = {n:.4e}: {e}; give budgets explicitly"));
                        vec![]
                    }
                }
            } else {
                settings.budgets.clone()
            };
            for c in budgets {
                match ctx.best.optimal_sparsity(n, c) {
                    Ok(o) => {
                        let s_opt = ctx.interval(|a| a.optimal_sparsity(n, c).map(|o| o.s))?;
                        optimal_sparsity.push(OptimalSparsityRow {
                            n,
                            c,
                            budget_multiple: dense_c.as_ref().map_or(f64::NAN, |dc| c / dc),
                            s_opt,
                            d: o.d,
                            loss: o.loss,
                            dense_loss: o.dense_loss,
                            closed_form: closed.map(|p| p.optimal_sparsity(n, c)),
                        })
                    }
                    Err(e) => warnings.push(format!("S_opt(N = {n:.4e}, C = {c:.4e}): {e}")),
                }
            }
        }

        let contour_slope = match ctx.interval(|a| a.contour_slope(0.5, n_hi)) {
            Ok(slope) => {
                Some(SlopeRow { n: n_hi, level: Some(0.5), slope, closed_form: closed.map(|p| p.contour_slope()) })
            }
            Err(e) => {
                warnings.push(format!("contour slope: {e}"));
                None
            }
        };
        let dense_optimal_slope = match ctx.interval(|a| a.dense_optimal_slope(n_hi)) {
            Ok(slope) => {
                Some(SlopeRow { n: n_hi, level: None, slope, closed_form: closed.map(|p| p.dense_optimal_slope()) })
            }
            Err(e) => {
                warnings.push(format!("dense compute-optimal slope: {e}"));
                None
            }
        };
        let sparsity_pays = match ctx.best.sparsity_pays(n_hi) {
            Ok(p) => Some(PaysRow {
                n: n_hi,
                budget: p.budget,
                dense_optimal_budget: p.dense_optimal_budget,
                data_multiple: ctx.interval(|a| a.sparsity_pays(n_hi).map(|x| x.data_multiple))?,
                budget_multiple: p.budget_multiple,
                closed_form: closed.map(|c| c.sparsity_pays_multiple()),
            }),
            Err(e) => {
                warnings.push(format!("where sparsity pays: {e}"));
                None
            }
        };

        let mut predictions = Vec::new();
        for pt in &settings.predictions {
            if !(pt.s >= 0.0 && pt.s < 1.0 && pt.n > 0.0 && pt.d > 0.0) {
                return Err(ReportError::Settings(format!(
                    "prediction point {}: need 0 <= S < 1, N > 0, D > 0 (got S = {}, N = {}, D = {})",
                    pt.label, pt.s, pt.n, pt.d
                )));
            }
            let loss = ctx.interval(|a| Ok(a.loss(pt.s, pt.n, pt.d)))?;
            let relative_error = pt.measured.map(|m| (loss.estimate - m) / m);
            predictions.push(PredictionRow { point: pt.clone(), loss, relative_error });
        }

        Ok(AnalysisReport {
            law: LawSpec::of(law),
            params: law.param_names().iter().cloned().zip(params.iter().copied()).collect(),
            cost: settings.cost.clone(),
            units,
            reference: (n_hi, d_hi),
            bootstrap_samples: ctx.samples.len(),
            dense_equivalent,
            optimal_sparsity,
            contour_slope,
            dense_optimal_slope,
            sparsity_pays,
            predictions,
            warnings,
        })
    }
}

fn ci(i: &Interval) -> String {
    if i.samples == 0 || !i.lo.is_finite() {
        String::new()
    } else {
        format!("[{}, {}]", num(i.lo), num(i.hi))
    }
}

/// Compact number: fixed for moderate magnitudes, scientific otherwise.
fn num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if !v.is_finite() {
        format!("{v}")
    } else if v.abs() >= 1e-3 && v.abs() < 1e5 {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), num)
}

impl fmt::Display for AnalysisReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut o = String::new();
        let name = self.law.name.as_deref().map(|n| format!("{n}: ")).unwrap_or_default();
        let _ = writeln!(o, "law      {name}{}", self.law.formula);
        let params: Vec<String> = self.params.iter().map(|(n, v)| format!("{n} = {}", num(*v))).collect();
        let _ = writeln!(o, "params   {}", params.join(", "));
        let _ = writeln!(o, "cost     C = {}", self.cost);
        if let Some((n, d)) = &self.units {
            let _ = writeln!(o, "units    N = {n};  D = {d}");
        }
        let level = self.dense_equivalent.first().map(|r| r.m.level).unwrap_or(0.95);
        let ci_head = if self.bootstrap_samples > 0 {
            format!("{:.0}% CI ({} bootstrap fits)", 100.0 * level, self.bootstrap_samples)
        } else {
            "CI: fit with --bootstrap B".into()
        };
        let _ = writeln!(o, "\nDense-equivalent size m(S) at N = {}, D = {}: a model with N non-zeros at sparsity S matches a dense model with m(S)·N parameters", num(self.reference.0), num(self.reference.1));
        let _ = writeln!(o, "  {:>8}  {:>10}  {:>26}  {:>12}", "S", "m(S)", ci_head, "closed form");
        for r in &self.dense_equivalent {
            let _ = writeln!(
                o,
                "  {:>8}  {:>10}  {:>26}  {:>12}",
                num(r.s),
                num(r.m.estimate),
                ci(&r.m),
                opt(r.closed_form)
            );
        }
        let _ =
            writeln!(o, "\nOptimal sparsity S_opt(N, C) (C/C* = budget over the dense compute-optimal budget for N)");
        let _ = writeln!(
            o,
            "  {:>10}  {:>10}  {:>8}  {:>8}  {:>22}  {:>10}  {:>8}  {:>10}  {:>11}",
            "N", "C", "C/C*", "S_opt", "CI", "D", "loss", "dense loss", "closed form"
        );
        for r in &self.optimal_sparsity {
            let _ = writeln!(
                o,
                "  {:>10}  {:>10}  {:>8}  {:>8}  {:>22}  {:>10}  {:>8}  {:>10}  {:>11}",
                num(r.n),
                num(r.c),
                num(r.budget_multiple),
                format!("{:.4}", r.s_opt.estimate),
                ci(&r.s_opt),
                num(r.d),
                num(r.loss),
                num(r.dense_loss),
                opt(r.closed_form)
            );
        }
        let _ = writeln!(o, "\nSlopes in log N – log C");
        if let Some(r) = &self.contour_slope {
            let _ = writeln!(
                o,
                "  S_opt = 0.5 contour at N = {}: {}  {}  (closed form 1 + b_N/b_D: {})",
                num(r.n),
                num(r.slope.estimate),
                ci(&r.slope),
                opt(r.closed_form)
            );
        }
        if let Some(r) = &self.dense_optimal_slope {
            let _ = writeln!(
                o,
                "  dense compute-optimal line at N = {}: {}  {}  (closed form: {})",
                num(r.n),
                num(r.slope.estimate),
                ci(&r.slope),
                opt(r.closed_form)
            );
        }
        if let Some(r) = &self.sparsity_pays {
            let _ = writeln!(o, "\nSparsity starts to pay at N = {}", num(r.n));
            let _ = writeln!(
                o,
                "  at C = {} (dense compute-optimal C* = {}): {}× the compute-optimal data {}  (closed form: {})",
                num(r.budget),
                num(r.dense_optimal_budget),
                num(r.data_multiple.estimate),
                ci(&r.data_multiple),
                opt(r.closed_form)
            );
        }
        if !self.predictions.is_empty() {
            let _ = writeln!(o, "\nPredictions");
            let _ = writeln!(
                o,
                "  {:>10}  {:>7}  {:>10}  {:>10}  {:>8}  {:>22}  {:>9}  {:>8}",
                "point", "S", "N", "D", "loss", "CI", "measured", "error"
            );
            for r in &self.predictions {
                let p = &r.point;
                let _ = writeln!(
                    o,
                    "  {:>10}  {:>7}  {:>10}  {:>10}  {:>8}  {:>22}  {:>9}  {:>8}",
                    p.label,
                    num(p.s),
                    num(p.n),
                    num(p.d),
                    num(r.loss.estimate),
                    ci(&r.loss),
                    opt(p.measured),
                    r.relative_error.map_or_else(|| "—".into(), |e| format!("{:+.2}%", 100.0 * e))
                );
            }
        }
        for w in &self.warnings {
            let _ = writeln!(o, "warning: {w}");
        }
        f.write_str(&o)
    }
}

/// The law's prediction at (S, N, D) with the best-fit parameters of `fit`, and its percentile
/// interval over the fit's bootstrap parameter samples (no interval without a bootstrap). The
/// law's variables other than S, N and D are not supported (the prediction is then NaN).
///
/// ```
/// use sparse_scaling_law::{fit, FitOptions, Law, Observations, analysis::prediction_interval};
/// let law = Law::parse("E + A/N^alpha", &[]).unwrap();
/// let n: Vec<f64> = (1..=12).map(|i| i as f64).collect();
/// let loss: Vec<f64> = n.iter().enumerate().map(|(i, n)| (1.5 + 0.8 / n.powf(0.3)) * (1.0 + 0.002 * ((i % 3) as f64 - 1.0))).collect();
/// let obs = Observations::new(vec!["N".into()], vec![n], loss, None).unwrap();
/// let r = fit(&law, &obs, &FitOptions { starts: 4, bootstrap: 30, ..FitOptions::default() }).unwrap();
/// let p = prediction_interval(&law, &r, 0.0, 24.0, 1.0);
/// assert!(p.lo <= p.estimate && p.estimate <= p.hi && p.samples > 20);
/// ```
pub fn prediction_interval(law: &Law, fit: &FitResult, s: f64, n: f64, d: f64) -> Interval {
    let vars: Vec<f64> = law
        .var_names()
        .iter()
        .map(|v| match v.as_str() {
            "S" => s,
            "N" => n,
            "D" => d,
            _ => f64::NAN,
        })
        .collect();
    let estimate = law.eval(&vars, &fit.params);
    match &fit.bootstrap {
        Some(b) => Interval::percentile(estimate, b.samples.iter().map(|p| law.eval(&vars, p)), b.confidence),
        None => Interval { estimate, lo: f64::NAN, hi: f64::NAN, level: f64::NAN, samples: 0 },
    }
}
