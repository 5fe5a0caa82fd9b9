//! Fitting a law to observations, following docs/THEORY.md §2 (the procedure of Frantar et
//! al. 2024): minimise the mean Huber loss of the residuals — raw (`pred − y`, the authors'
//! ViT procedure, δ = 0.01) or log (`log pred − log y`, their T5 procedure after Chinchilla,
//! δ = 0.001) — from many starts (each parameter uniform in (0, 1), as in their notebook,
//! and/or a grid), with a quasi-Newton optimizer ([`bfgs`]) driven by the exact gradient of
//! the compiled tape. Starts run in parallel (rayon). Bootstrap confidence intervals resample
//! the points with replacement and refit each resample from the best fit ([`BootstrapRefit`]).
//!
//! - [`FitOptions`] (with [`Residual`], [`Bounds`]): what to fit and how; presets.
//! - [`fit()`] → [`FitResult`] (with [`StartSummary`] per start, [`Bootstrap`]); [`predict`].
//! - [`ParamStatus`] per parameter ([`determined`]): whether the data determine it, and why
//!   not; inputs that cannot determine a law at all are refused first (`degenerate`).
//! - Inside: the law is prepared once (`prepare`), the Huber objective (`objective`) works in
//!   unconstrained coordinates (`transform`), `multistart` runs and picks the starts,
//!   `bootstrap` refits resamples.

pub mod bfgs;
mod bootstrap;
mod degenerate;
pub mod determined;
mod eigen;
mod error;
mod multistart;
mod objective;
mod options;
mod prepare;
mod result;
mod transform;

pub use bootstrap::{percentile_interval, Bootstrap};
pub use determined::{ParamStatus, Undetermined};
pub use error::FitError;
pub use multistart::StartSummary;
pub use options::{BootstrapRefit, Bounds, FitOptions, Residual};
pub use result::FitResult;

use crate::compile::Tape;
use crate::data::Observations;
use crate::group;
use crate::law::{Law, LawError};
use multistart::MultiStart;

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
///
/// A law with parameters indexed by a column (`a[method]`, see [`crate::group`]) is bound to the
/// values of that column in `obs` first: the result has one parameter per value (`a[gmp]`, …)
/// and records the values in [`FitResult::groups`].
pub fn fit(law: &Law, obs: &Observations, opts: &FitOptions) -> Result<FitResult, FitError> {
    let (bound, with_indicators);
    let (law, obs, opts) = if law.is_grouped() || law.expansion().is_some() {
        (bound, with_indicators) = group::bind(law, obs)?;
        group::check_points(&bound, &with_indicators)?;
        (&bound, &with_indicators, &group::options(&bound, opts))
    } else {
        (law, obs, opts)
    };
    let prep = prepare::prepare(law, obs, opts)?;
    degenerate::check(&prep, obs)?;
    // Fit the points in a canonical order, so that the order of the input cannot change a
    // single bit of the result (floating-point sums depend on order); the order depends only
    // on what the fit reads, so that columns the law does not use cannot change it either.
    let order = canonical_order(obs, prep.var_idx());
    let sorted = obs.select(&order);
    let MultiStart { best_free, summaries: starts, best } = multistart::run_starts(&prep, &sorted, opts)?;
    let obj = prep.objective(&sorted, opts)?;
    let mut predictions = vec![0.0; obs.len()];
    for (k, p) in obj.predictions(&best_free).into_iter().enumerate() {
        predictions[order[k]] = p;
    }
    let residuals: Vec<f64> = predictions.iter().zip(&obs.loss).map(|(p, y)| p - y).collect();
    let n = obs.len() as f64;
    let mean = obs.loss.iter().sum::<f64>() / n;
    let ss_tot: f64 = obs.loss.iter().map(|y| (y - mean).powi(2)).sum();
    let ss_res: f64 = residuals.iter().map(|r| r * r).sum();
    // Gradient with respect to the parameters themselves (not the optimizer's coordinates).
    let grad_norm = obj.param_grad_norm(&best_free);
    let b = &starts[best];
    let mut result = FitResult {
        law: law.unbound().expr().to_string(),
        param_names: law.param_names().to_vec(),
        params: prep.full_params(&best_free),
        objective: b.objective,
        grad_norm,
        converged: b.converged,
        stop: b.stop,
        iterations: b.iterations,
        r2: if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { f64::NAN },
        rmse: (ss_res / n).sqrt(),
        predictions,
        residuals,
        starts,
        bootstrap: None,
        determination: Vec::new(),
        groups: law.expansion().map(|e| e.levels.clone()).unwrap_or_default(),
    };
    if opts.bootstrap > 0 {
        result.bootstrap = Some(bootstrap::replicates(&prep, &sorted, opts, &result.params)?);
    }
    let optimum = determined::Optimum {
        objective: obj.plain(),
        free: &best_free,
        free_names: prep.free_names(),
        value: result.objective,
    };
    result.determination = determined::assess(law, &sorted, opts, optimum, result.bootstrap.as_ref());
    Ok(result)
}

/// Row indices that sort the points by (the law's variables `vars`, loss, weight), compared
/// bit-exactly.
fn canonical_order(obs: &Observations, vars: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..obs.len()).collect();
    let key = |i: usize| -> Vec<f64> {
        let mut k: Vec<f64> = vars.iter().map(|&c| obs.columns[c][i]).collect();
        k.push(obs.loss[i]);
        if let Some(w) = &obs.weights {
            k.push(w[i]);
        }
        k
    };
    order.sort_by(|&a, &b| {
        let (ka, kb) = (key(a), key(b));
        ka.iter().zip(&kb).map(|(x, y)| x.total_cmp(y)).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
    });
    order
}

/// Predictions of a law with given parameters (law order) at the observations' points. A
/// grouped law (`a[method]`) is bound to the values of its columns in `obs` first (see
/// [`crate::group::bind`]); to predict with a fit's parameters at points of fewer groups, bind
/// it to the fitted points first ([`crate::group::expand`] with [`FitResult::groups`]).
pub fn predict(law: &Law, obs: &Observations, params: &[f64]) -> Result<Vec<f64>, FitError> {
    let (law, obs) = group::bind(law, obs)?;
    let (law, obs) = (&law, &obs);
    let tape = Tape::for_law(law);
    let unused = vec![0.0; obs.len()];
    let mut fixed: Vec<(usize, &[f64])> = Vec::new();
    for (k, v) in law.var_names().iter().enumerate() {
        match obs.column(v) {
            Some(c) => fixed.push((k, c)),
            None if !law.expr().contains(v) => fixed.push((k, &unused)),
            None => {
                return Err(LawError::UnknownVariable { name: v.clone(), available: obs.var_names.join(", ") }.into())
            }
        }
    }
    let bound = tape.bind(&fixed, obs.len())?;
    let mut ws = bound.workspace();
    if params.len() != law.param_names().len() {
        return Err(FitError::Options {
            field: "params".into(),
            message: format!("{} values for {} parameters", params.len(), law.param_names().len()),
        });
    }
    bound.forward_scalars(params, &mut ws);
    Ok(bound.value(&ws).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_held_on_a_bound_reports_the_projected_gradient() {
        // The data want E = 1.5; an upper bound of 1 holds it there (A alone cannot make up
        // for it, as a fitted exponent could).
        let law = Law::parse("E + A/N^0.3", &[]).unwrap();
        let n: Vec<f64> = (1..=12).map(|i| i as f64).collect();
        let loss: Vec<f64> = n.iter().map(|n| 1.5 + 0.8 / n.powf(0.3)).collect();
        let obs = Observations::new(vec!["N".into()], vec![n], loss, None).unwrap();
        // squared raw residuals (δ above every residual), so that the pull on E stays strong
        let mut opts = FitOptions { starts: 8, residual: Residual::Raw, huber_delta: 10.0, ..FitOptions::default() };
        opts.bounds.insert("E".into(), Bounds { lower: None, upper: Some(1.0) });
        let r = fit(&law, &obs, &opts).unwrap();
        let e = r.param("E").unwrap();
        assert!(e <= 1.0 && e > 1.0 - 1e-6, "E = {e}");
        // The plain gradient with respect to E is far from zero at the optimum ...
        let prep = prepare::prepare(&law, &obs, &opts).unwrap();
        let plain = prep.objective(&obs, &opts).unwrap().plain();
        let mut g = vec![0.0; r.params.len()];
        plain.eval_grad(&prep.free_params(&r.params), &mut g);
        let e_at = law.param_index("E").unwrap();
        assert!(g[e_at] < -1e-3, "dF/dE = {}", g[e_at]);
        // ... but it points out of the box: the reported norm leaves it out.
        assert!(r.grad_norm < 1e-6, "reported {} with dF/dE = {}", r.grad_norm, g[e_at]);
    }
}
