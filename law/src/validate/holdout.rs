//! Held-out validation by a condition ([`holdout()`]): fit the points where it is false,
//! predict those where it holds — the test of whether a law extrapolates (e.g. fit the small
//! models, predict the largest).

use crate::data::Observations;
use crate::fit::{fit, FitOptions, FitResult};
use crate::group;
use crate::law::Law;

use super::predicate::Predicate;
use super::summary::{predict_held_out, Scheme, Validation};
use super::ValidateError;

/// A fit without the held-out points, and its predictions of them.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldoutFit {
    /// The points fitted (where the condition is false).
    pub fitted: Observations,
    /// Their rows in the points given.
    pub fitted_rows: Vec<usize>,
    /// The fit to them.
    pub fit: FitResult,
    /// The held-out points predicted by it.
    pub validation: Validation,
}

/// Fits `law` to the points of `obs` where `condition` (a [`Predicate`] over the variables and
/// columns of `obs` and `loss`) is false and predicts those where it holds.
///
/// ```
/// use sparse_scaling_law::{FitOptions, Law, Observations};
/// use sparse_scaling_law::validate::holdout;
/// let law = Law::parse("E + A/N^alpha", &[]).unwrap();
/// let n: Vec<f64> = (1..=12).map(|i| i as f64).collect();
/// let loss: Vec<f64> = n.iter().map(|n| 1.5 + 0.8 / n.powf(0.3)).collect();
/// let obs = Observations::new(vec!["N".into()], vec![n], loss, None).unwrap();
/// let h = holdout(&law, &obs, "N > 10", &FitOptions { starts: 8, ..FitOptions::default() }).unwrap();
/// assert_eq!(h.validation.points.len(), 2);
/// assert!(h.validation.max_abs_rel_error < 1e-6);
/// ```
pub fn holdout(law: &Law, obs: &Observations, condition: &str, opts: &FitOptions) -> Result<HoldoutFit, ValidateError> {
    let pred = Predicate::parse(condition).map_err(|e| ValidateError::Predicate(e.into()))?;
    let held = pred.select(obs, condition)?;
    let held_rows: Vec<usize> = (0..obs.len()).filter(|&i| held[i]).collect();
    let fitted_rows: Vec<usize> = (0..obs.len()).filter(|&i| !held[i]).collect();
    if held_rows.is_empty() {
        return Err(ValidateError::NothingHeldOut { condition: condition.to_string(), points: obs.len() });
    }
    if fitted_rows.is_empty() {
        return Err(ValidateError::NothingLeft { condition: condition.to_string(), points: obs.len() });
    }
    // A grouped law is bound to the groups of all points, so that the fit's parameters are
    // those that predict the held-out ones.
    let (law, bound) = group::bind(law, obs)?;
    let fitted = obs.select(&fitted_rows);
    let during = || format!("the {} points where `{condition}` is false", fitted_rows.len());
    let result = fit(&law, &bound.select(&fitted_rows), opts)
        .map_err(|source| ValidateError::Fit { during: during(), source })?;
    let points = predict_held_out(&law, &bound, obs, &held_rows, &result)
        .map_err(|source| ValidateError::Fit { during: during(), source })?;
    let confidence = result.bootstrap.as_ref().map(|b| b.confidence);
    let validation = Validation::new(Scheme::Holdout { condition: condition.to_string() }, points, vec![], confidence);
    Ok(HoldoutFit { fitted, fitted_rows, fit: result, validation })
}
