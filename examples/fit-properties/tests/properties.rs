//! The user's property tests of their law (see the crate docs), run by CI with a fixed
//! `PROPTEST_RNG_SEED`.

use fit_properties::{law, ranges, sweep};
use proptest::prelude::*;
use sparse_scaling::law::analysis::Analysis;
use sparse_scaling::law::fit::predict;
use sparse_scaling::law::FitOptions;
use sparse_scaling::strategies::{fit_recovers, increasing_budgets, law_case, s_opt_non_decreasing};

fn options() -> FitOptions {
    FitOptions { starts: 10, ..FitOptions::default() }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Noise-free data from the law: the fit finds the parameters that made them.
    #[test]
    fn a_fit_recovers_the_law_that_made_the_data((truth, obs) in law_case(&law(), &ranges(), &sweep(), 0.0).unwrap()) {
        let r = fit_recovers(&law(), &obs, &truth, &options(), 1e-2)?;
        prop_assert!(r.converged, "{:?}", r.stop);
    }

    /// 0.5% noise: parameters may move, but the fitted law stays close to the true one on the
    /// sweep: within the noise on average, within twice the noise everywhere.
    #[test]
    fn a_fit_of_noisy_data_predicts_the_sweep((truth, obs) in law_case(&law(), &ranges(), &sweep(), 0.005).unwrap()) {
        let r = sparse_scaling::law::fit(&law(), &obs, &options()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want = predict(&law(), &obs, &truth).unwrap();
        let got = predict(&law(), &obs, &r.params).unwrap();
        let errors: Vec<f64> = got.iter().zip(&want).map(|(g, w)| (g / w).ln().abs()).collect();
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        let max = errors.iter().cloned().fold(0.0, f64::max);
        prop_assert!(mean < 0.005 && max < 0.01, "log error mean {mean:.2e}, max {max:.2e}");
    }

    /// The optimal sparsity at N = 10 (1e7 non-zeros) does not fall as the budget grows.
    #[test]
    fn s_opt_does_not_fall_as_the_budget_grows(p in ranges().strategy(), c in increasing_budgets(2.0, 5.0, 3..6)) {
        let analysis = Analysis::new(&law(), &p).map_err(|e| TestCaseError::fail(e.to_string()))?;
        s_opt_non_decreasing(&analysis, 10.0, &c, 1e-6)?;
    }
}
