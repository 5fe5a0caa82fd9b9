//! Leave-one-value-out cross-validation ([`cross_validate`]): for each distinct value of a
//! column (each width, each training length, each sparsity), fit the law to the other points
//! and predict the points with that value.

use crate::data::Observations;
use crate::fit::{fit, FitOptions};
use crate::group;
use crate::law::Law;

use super::summary::{predict_held_out, Fold, Scheme, Validation};
use super::ValidateError;

/// Cross-validates `law` on `obs` by the values of `column` (a variable or column of `obs`).
///
/// ```
/// use sparse_scaling_law::{FitOptions, Law, Observations};
/// use sparse_scaling_law::validate::cross_validate;
/// let law = Law::parse("E + A/N^alpha", &[]).unwrap();
/// let n: Vec<f64> = (1..=8).flat_map(|i| [i as f64, i as f64]).collect();
/// let loss: Vec<f64> = n.iter().map(|n| 1.5 + 0.8 / n.powf(0.3)).collect();
/// let obs = Observations::new(vec!["N".into()], vec![n], loss, None).unwrap();
/// let cv = cross_validate(&law, &obs, "N", &FitOptions { starts: 8, ..FitOptions::default() }).unwrap();
/// assert_eq!(cv.folds.len(), 8);
/// assert_eq!(cv.points.len(), 16);
/// assert!(cv.max_abs_rel_error < 1e-6);
/// ```
pub fn cross_validate(
    law: &Law,
    obs: &Observations,
    column: &str,
    opts: &FitOptions,
) -> Result<Validation, ValidateError> {
    let col = obs.column(column).ok_or_else(|| ValidateError::UnknownColumn {
        column: column.to_string(),
        available: obs.var_names.join(", "),
    })?;
    let mut values: Vec<f64> = col.to_vec();
    values.sort_by(|a, b| a.total_cmp(b));
    values.dedup_by(|a, b| a.to_bits() == b.to_bits());
    if values.len() < 2 {
        return Err(ValidateError::OneValue { column: column.to_string(), value: values[0] });
    }
    // A grouped law is bound to the groups of all points (see `holdout`).
    let (law, bound) = group::bind(law, obs)?;
    let mut points = Vec::new();
    let mut folds = Vec::new();
    for &v in &values {
        let held: Vec<usize> = (0..obs.len()).filter(|&i| col[i].to_bits() == v.to_bits()).collect();
        let kept: Vec<usize> = (0..obs.len()).filter(|&i| col[i].to_bits() != v.to_bits()).collect();
        let during = || format!("without {column} = {v} ({} points left)", kept.len());
        let r =
            fit(&law, &bound.select(&kept), opts).map_err(|source| ValidateError::Fit { during: during(), source })?;
        let fold_points = predict_held_out(&law, &bound, obs, &held, &r)
            .map_err(|source| ValidateError::Fit { during: during(), source })?;
        let mean = fold_points.iter().map(|p| p.rel_error.abs()).sum::<f64>() / fold_points.len() as f64;
        folds.push(Fold {
            value: v,
            fitted: kept.len(),
            held_out: held.len(),
            objective: r.objective,
            converged: r.converged,
            mean_abs_rel_error: mean,
        });
        points.extend(fold_points);
    }
    points.sort_by_key(|p| p.row);
    let confidence = (opts.bootstrap > 0).then_some(opts.confidence);
    Ok(Validation::new(Scheme::CrossValidation { column: column.to_string() }, points, folds, confidence))
}
