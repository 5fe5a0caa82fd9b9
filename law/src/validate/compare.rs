//! Comparing laws on the same points ([`compare`]): each law is validated with the same
//! held-out scheme and the same fit options, and the laws are ranked by their held-out error
//! (mean |relative error|), with the in-sample objective, the number of free parameters and
//! convergence beside it — a law with more parameters fits the points it sees better, the
//! held-out error says whether it also predicts better.

use serde::{Deserialize, Serialize};

use crate::data::Observations;
use crate::fit::{fit, FitOptions};
use crate::group;
use crate::law::Law;

use super::predicate::Predicate;
use super::summary::{Scheme, Validation};
use super::{cross_validate, holdout, ValidateError};

/// One law's result in a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LawScore {
    /// 1-based rank by held-out error (laws whose fit failed come last).
    pub rank: usize,
    /// Built-in name, if any.
    pub name: Option<String>,
    /// The formula.
    pub formula: String,
    /// Free (fitted) parameters.
    pub params: usize,
    /// In-sample objective: of the fit to the points not held out (holdout), or to all
    /// points (cross-validation).
    pub objective: Option<f64>,
    /// Whether that fit converged.
    pub converged: Option<bool>,
    /// R² of that fit.
    pub r2: Option<f64>,
    /// Parameters the data do not determine in that fit.
    pub undetermined: Vec<String>,
    /// The held-out validation.
    pub validation: Option<Validation>,
    /// Why the law could not be fitted or validated.
    pub error: Option<String>,
}

impl LawScore {
    /// Mean |relative error| over the held-out points (infinite when the law failed).
    pub fn held_out_error(&self) -> f64 {
        self.validation.as_ref().map_or(f64::INFINITY, |v| v.mean_abs_rel_error)
    }
}

/// Validates every law in `laws` on `obs` with `scheme` and `opts`, ranked best first. Problems
/// of the scheme (a condition that does not parse or selects no point, an unknown column) are
/// errors; a law that cannot be fitted is ranked last with its error.
///
/// ```
/// use sparse_scaling_law::{FitOptions, Law, Observations};
/// use sparse_scaling_law::validate::{compare, Scheme};
/// let n: Vec<f64> = (1..=12).map(|i| i as f64).collect();
/// let loss: Vec<f64> = n.iter().map(|n| 1.5 + 0.8 / n.powf(0.3)).collect();
/// let obs = Observations::new(vec!["N".into()], vec![n], loss, None).unwrap();
/// let laws = [Law::parse("A/N^alpha", &[]).unwrap(), Law::parse("E + A/N^alpha", &[]).unwrap()];
/// let scheme = Scheme::Holdout { condition: "N > 9".into() };
/// let ranked = compare(&laws, &obs, &scheme, &FitOptions { starts: 8, ..FitOptions::default() }).unwrap();
/// assert_eq!(ranked[0].formula, "E + A/N^alpha");
/// ```
pub fn compare(
    laws: &[Law],
    obs: &Observations,
    scheme: &Scheme,
    opts: &FitOptions,
) -> Result<Vec<LawScore>, ValidateError> {
    if laws.is_empty() {
        return Err(ValidateError::NoLaws);
    }
    check_scheme(obs, scheme)?;
    let mut scores: Vec<LawScore> = laws.iter().map(|law| score(law, obs, scheme, opts)).collect();
    scores.sort_by(|a, b| a.held_out_error().total_cmp(&b.held_out_error()));
    for (k, s) in scores.iter_mut().enumerate() {
        s.rank = k + 1;
    }
    Ok(scores)
}

/// The errors of the scheme itself, which would be the same for every law.
fn check_scheme(obs: &Observations, scheme: &Scheme) -> Result<(), ValidateError> {
    match scheme {
        Scheme::Holdout { condition } => {
            let held =
                Predicate::parse(condition).map_err(|e| ValidateError::Predicate(e.into()))?.select(obs, condition)?;
            if !held.contains(&true) {
                return Err(ValidateError::NothingHeldOut { condition: condition.clone(), points: obs.len() });
            }
            if !held.contains(&false) {
                return Err(ValidateError::NothingLeft { condition: condition.clone(), points: obs.len() });
            }
        }
        Scheme::CrossValidation { column } => {
            let col = obs.column(column).ok_or_else(|| ValidateError::UnknownColumn {
                column: column.clone(),
                available: obs.var_names.join(", "),
            })?;
            if col.iter().all(|v| v.to_bits() == col[0].to_bits()) {
                return Err(ValidateError::OneValue { column: column.clone(), value: col[0] });
            }
        }
    }
    Ok(())
}

/// The free parameters of `law` on `obs`: a grouped law (`a[method]`) has one per group of each
/// indexed parameter.
fn free_params(law: &Law, obs: &Observations, opts: &FitOptions) -> usize {
    let (law, opts) = match group::bind(law, obs) {
        Ok((bound, _)) => {
            let o = group::options(&bound, opts);
            (bound, o)
        }
        Err(_) => (law.clone(), opts.clone()),
    };
    law.param_names().iter().filter(|p| !opts.fixed.contains_key(*p)).count()
}

/// One law's score (rank 0 until ranked).
fn score(law: &Law, obs: &Observations, scheme: &Scheme, opts: &FitOptions) -> LawScore {
    let mut s = LawScore {
        rank: 0,
        name: law.name().map(str::to_string),
        formula: law.text().to_string(),
        params: free_params(law, obs, opts),
        objective: None,
        converged: None,
        r2: None,
        undetermined: vec![],
        validation: None,
        error: None,
    };
    let outcome = match scheme {
        Scheme::Holdout { condition } => holdout(law, obs, condition, opts).map(|h| (h.fit, h.validation)),
        Scheme::CrossValidation { column } => cross_validate(law, obs, column, opts).and_then(|v| {
            let during = "all points".to_string();
            fit(law, obs, opts).map(|f| (f, v)).map_err(|source| ValidateError::Fit { during, source })
        }),
    };
    match outcome {
        Ok((f, v)) => {
            s.objective = Some(f.objective);
            s.converged = Some(f.converged);
            s.r2 = Some(f.r2);
            s.undetermined = f.undetermined().iter().map(|p| p.name.clone()).collect();
            s.validation = Some(v);
        }
        Err(e) => s.error = Some(e.to_string()),
    }
    s
}
