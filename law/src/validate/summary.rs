//! What a held-out validation reports ([`Validation`]): every held-out point with its
//! measurement, the prediction of the law fitted without it, the relative error and (with a
//! bootstrap) the percentile interval of the prediction over the bootstrap's parameter
//! samples; and the summary over all held-out points.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Observations;
use crate::fit::{FitError, FitResult};
use crate::law::Law;

/// One held-out point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOutPoint {
    /// Its index in the points given (0-based).
    pub row: usize,
    /// Its variables (and extra columns).
    pub values: BTreeMap<String, f64>,
    /// Its text columns (e.g. the pruning method), when the points have any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Measured loss.
    pub measured: f64,
    /// Predicted by the law fitted without it.
    pub predicted: f64,
    /// `(predicted − measured) / measured`.
    pub rel_error: f64,
    /// Percentile interval of the prediction over the bootstrap samples (at the fit's
    /// confidence), when the fit was bootstrapped.
    pub interval: Option<(f64, f64)>,
}

/// One fold of a cross-validation: the points with one value of the column left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fold {
    /// The value left out.
    pub value: f64,
    /// Points fitted.
    pub fitted: usize,
    /// Points held out.
    pub held_out: usize,
    /// Objective of the fit without them.
    pub objective: f64,
    /// Whether that fit converged.
    pub converged: bool,
    /// Mean |relative error| of the held-out points.
    pub mean_abs_rel_error: f64,
}

/// How the points were held out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scheme {
    /// The points where a condition holds, predicted by a fit to the others.
    Holdout {
        /// The condition, e.g. `N > 50`.
        condition: String,
    },
    /// Each value of a column in turn (leave-one-value-out).
    CrossValidation {
        /// The column.
        column: String,
    },
}

/// A held-out validation: every held-out point and the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// How the points were held out.
    pub scheme: Scheme,
    /// Held-out points, in row order.
    pub points: Vec<HeldOutPoint>,
    /// Mean |relative error| over the held-out points.
    pub mean_abs_rel_error: f64,
    /// Largest |relative error|.
    pub max_abs_rel_error: f64,
    /// Root-mean-square raw error `predicted − measured`.
    pub rmse: f64,
    /// Fraction of held-out measurements inside their prediction interval (with a bootstrap).
    pub coverage: Option<f64>,
    /// Confidence level of the intervals (with a bootstrap).
    pub confidence: Option<f64>,
    /// The folds (cross-validation only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folds: Vec<Fold>,
}

impl Validation {
    /// Summarises held-out points.
    pub(super) fn new(scheme: Scheme, points: Vec<HeldOutPoint>, folds: Vec<Fold>, confidence: Option<f64>) -> Self {
        let n = points.len().max(1) as f64;
        let mean_abs_rel_error = points.iter().map(|p| p.rel_error.abs()).sum::<f64>() / n;
        let max_abs_rel_error = points.iter().map(|p| p.rel_error.abs()).fold(0.0, f64::max);
        let rmse = (points.iter().map(|p| (p.predicted - p.measured).powi(2)).sum::<f64>() / n).sqrt();
        let with = points.iter().filter(|p| p.interval.is_some()).count();
        let inside =
            points.iter().filter(|p| p.interval.is_some_and(|(lo, hi)| lo <= p.measured && p.measured <= hi)).count();
        let coverage = (with > 0).then(|| inside as f64 / with as f64);
        Validation {
            scheme,
            points,
            mean_abs_rel_error,
            max_abs_rel_error,
            rmse,
            coverage,
            confidence: confidence.filter(|_| with > 0),
            folds,
        }
    }
}

/// The held-out points `rows` of `obs`, predicted by `fit` (a fit of `law` without them). `law`
/// and `obs` are bound (`crate::group::bind`); the points report the variables and text columns
/// of `shown`, the points as given.
pub(super) fn predict_held_out(
    law: &Law,
    obs: &Observations,
    shown: &Observations,
    rows: &[usize],
    fit: &FitResult,
) -> Result<Vec<HeldOutPoint>, FitError> {
    let held = obs.select(rows);
    let shown = shown.select(rows);
    let predicted = crate::fit::predict(law, &held, &fit.params)?;
    Ok(rows
        .iter()
        .enumerate()
        .map(|(k, &row)| {
            let vars: Vec<f64> = law.var_names().iter().map(|v| held.column(v).map_or(0.0, |c| c[k])).collect();
            let interval = fit.ci_of(|p| law.eval(&vars, p));
            let measured = held.loss[k];
            HeldOutPoint {
                row,
                values: shown.var_names.iter().zip(&shown.columns).map(|(n, c)| (n.clone(), c[k])).collect(),
                labels: shown.categorical.iter().map(|c| (c.name.clone(), c.values[k].clone())).collect(),
                measured,
                predicted: predicted[k],
                rel_error: (predicted[k] - measured) / measured,
                interval,
            }
        })
        .collect())
}
