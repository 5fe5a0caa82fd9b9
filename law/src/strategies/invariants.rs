//! The invariants users check of a fitted law, as functions a property test calls with `?`:
//! a fit recovers the parameters that generated its data ([`fit_recovers`]), and the optimal
//! sparsity does not fall as the compute budget grows at a fixed inference size
//! ([`s_opt_non_decreasing`], over budgets from [`increasing_budgets`]; docs/THEORY.md §3).

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::TestCaseError;

use crate::analysis::{Analysis, OptimalSparsity};
use crate::data::Observations;
use crate::fit::{fit, FitOptions, FitResult};
use crate::law::Law;

/// Fits `law` to `obs` and fails the test case unless every fitted parameter is within
/// `rel_tol` of `truth` (law order): `|fitted − true| ≤ rel_tol · max(|true|, 1e-12)`. The
/// failure names each parameter that missed, with both values; a fit that fails is a failure
/// with its error. Returns the fit.
///
/// ```
/// use sparse_scaling_law::{FitOptions, Law, Observations};
/// use sparse_scaling_law::strategies::fit_recovers;
///
/// let law = Law::parse("E + A/N^alpha", &["N"]).unwrap();
/// let truth = [1.5, 0.8, 0.3];
/// let n: Vec<f64> = (1..=12).map(|i| i as f64).collect();
/// let loss = n.iter().map(|&n| law.eval(&[n], &truth)).collect();
/// let obs = Observations::new(vec!["N".into()], vec![n], loss, None).unwrap();
/// let opts = FitOptions { starts: 8, ..FitOptions::default() };
/// let r = fit_recovers(&law, &obs, &truth, &opts, 1e-4).unwrap();
/// assert!(r.converged);
/// // data from other parameters are not recovered as these
/// let message = fit_recovers(&law, &obs, &[1.5, 0.8, 0.4], &opts, 1e-4).unwrap_err().to_string();
/// assert!(message.contains("alpha"), "{message}");
/// ```
pub fn fit_recovers(
    law: &Law,
    obs: &Observations,
    truth: &[f64],
    opts: &FitOptions,
    rel_tol: f64,
) -> Result<FitResult, TestCaseError> {
    let names = law.param_names();
    if truth.len() != names.len() {
        return Err(TestCaseError::fail(format!(
            "{} true values for the {} parameters of `{}` ({}); give them in the law's order",
            truth.len(),
            names.len(),
            law.text(),
            names.join(", ")
        )));
    }
    let r = fit(law, obs, opts).map_err(|e| TestCaseError::fail(format!("the fit of `{}` failed: {e}", law.text())))?;
    let missed: Vec<String> = names
        .iter()
        .zip(truth.iter().zip(&r.params))
        .filter(|(_, (t, f))| {
            let within = (*f - *t).abs() <= rel_tol * t.abs().max(1e-12);
            !within // (a NaN misses too)
        })
        .map(|(n, (t, f))| format!("{n}: fitted {f}, true {t}"))
        .collect();
    if missed.is_empty() {
        Ok(r)
    } else {
        Err(TestCaseError::fail(format!(
            "the fit of `{}` missed its generating parameters by more than {rel_tol} (relative): {} (objective {:.3e}, {})",
            law.text(),
            missed.join("; "),
            r.objective,
            if r.converged { "converged" } else { "not converged" }
        )))
    }
}

/// Compute budgets `count` long (a range of lengths, e.g. `3..6`), each log-uniform in
/// `[10^log10_low, 10^log10_high]`, in increasing order.
///
/// ```
/// use proptest::prelude::*;
/// use sparse_scaling_law::strategies::increasing_budgets;
///
/// proptest!(ProptestConfig::with_cases(8), |(c in increasing_budgets(3.0, 6.0, 2..5))| {
///     prop_assert!(c.len() >= 2 && c.len() < 5);
///     prop_assert!(c.windows(2).all(|w| w[0] <= w[1]));
///     prop_assert!(c.iter().all(|&c| (1e3..=1e6).contains(&c)));
/// });
/// ```
pub fn increasing_budgets(log10_low: f64, log10_high: f64, count: std::ops::Range<usize>) -> BoxedStrategy<Vec<f64>> {
    let (lo, hi) = if log10_low <= log10_high { (log10_low, log10_high) } else { (log10_high, log10_low) };
    proptest::collection::vec(lo..=hi, count)
        .prop_map(|mut e| {
            e.sort_by(f64::total_cmp);
            e.into_iter().map(|e| 10f64.powf(e)).collect()
        })
        .boxed()
}

/// Checks that S_opt(N, C) does not fall as the budget grows at a fixed inference size `n`
/// (docs/THEORY.md §3: a larger budget at fixed N buys longer training, and sparsity pays
/// more the longer a model trains): S_opt at each budget of `budgets` (taken in increasing
/// order) is at least the one before, less `tol`. A budget the analysis cannot solve fails
/// the case with the analysis' error. Returns S_opt at each budget, in increasing order of
/// budget.
///
/// ```
/// use proptest::prelude::*;
/// use sparse_scaling_law::{analysis::Analysis, Law};
/// use sparse_scaling_law::strategies::{increasing_budgets, paper_normalised_params, s_opt_non_decreasing};
///
/// let law = Law::builtin("paper-normalised").unwrap();
/// proptest!(ProptestConfig::with_cases(4), |(p in paper_normalised_params(), c in increasing_budgets(2.0, 5.0, 3..5))| {
///     let analysis = Analysis::new(&law, &p).unwrap();
///     // N = 10 (1e7 non-zeros), budgets C = 6·N/(1−S)·D in the law's units
///     s_opt_non_decreasing(&analysis, 10.0, &c, 1e-6)?;
/// });
/// ```
pub fn s_opt_non_decreasing(
    analysis: &Analysis,
    n: f64,
    budgets: &[f64],
    tol: f64,
) -> Result<Vec<OptimalSparsity>, TestCaseError> {
    let mut budgets = budgets.to_vec();
    budgets.sort_by(f64::total_cmp);
    let mut found: Vec<OptimalSparsity> = Vec::with_capacity(budgets.len());
    for c in budgets {
        let o = analysis
            .optimal_sparsity(n, c)
            .map_err(|e| TestCaseError::fail(format!("S_opt at N = {n}, C = {c:.4e}: {e}")))?;
        if let Some(prev) = found.last() {
            if o.s < prev.s - tol {
                return Err(TestCaseError::fail(format!(
                    "S_opt fell as the budget grew at N = {n}: {} at C = {:.4e}, then {} at C = {:.4e}",
                    prev.s, prev.c, o.s, o.c
                )));
            }
        }
        found.push(o);
    }
    Ok(found)
}
