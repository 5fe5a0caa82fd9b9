//! Tests of the strategies for any law and of the invariant checks.

use proptest::prelude::*;

use super::*;
use crate::analysis::{Analysis, FnSurface};
use crate::fit::predict;
use crate::{FitOptions, Law};

fn chinchilla() -> Law {
    Law::parse("E + A/N^alpha + B/D^beta", &["N", "D"]).unwrap()
}

fn chinchilla_ranges() -> ParamRanges {
    ParamRanges::new(
        &chinchilla(),
        &[("E", 1.0, 2.0), ("A", 0.5, 2.0), ("alpha", 0.2, 0.6), ("B", 0.5, 2.0), ("beta", 0.2, 0.6)],
    )
    .unwrap()
}

fn grid() -> Design {
    let v = [1.0, 3.0, 10.0, 30.0, 100.0];
    Design::grid(&[("N", &v), ("D", &v[..3])]).unwrap()
}

#[test]
fn a_grid_is_every_combination_with_the_first_axis_slowest() {
    let g = Design::grid(&[("S", &[0.0, 0.5]), ("N", &[1.0, 2.0, 3.0])]).unwrap();
    assert_eq!(g.vars(), ["S", "N"]);
    let want: Vec<Vec<f64>> =
        vec![vec![0.0, 1.0], vec![0.0, 2.0], vec![0.0, 3.0], vec![0.5, 1.0], vec![0.5, 2.0], vec![0.5, 3.0]];
    assert_eq!(g.rows(), want.as_slice());
}

#[test]
fn bad_ranges_designs_and_noise_are_errors_that_name_the_problem() {
    let law = chinchilla();
    let err = |e: StrategyError| e.to_string();
    assert!(err(ParamRanges::new(&law, &[("E", 1.0, 2.0)]).unwrap_err()).contains("parameter `A`"));
    let mut r = vec![("E", 1.0, 2.0), ("A", 0.5, 2.0), ("alpha", 0.2, 0.6), ("B", 0.5, 2.0), ("beta", 0.2, 0.6)];
    r.push(("gamma", 0.0, 1.0));
    assert!(err(ParamRanges::new(&law, &r).unwrap_err()).contains("`gamma` is not a parameter"));
    r[5] = ("E", 1.0, 2.0);
    assert!(err(ParamRanges::new(&law, &r).unwrap_err()).contains("`E` is given twice"));
    r.pop();
    r[2] = ("alpha", 0.6, 0.2);
    assert!(err(ParamRanges::new(&law, &r).unwrap_err()).contains("range of `alpha` is [0.6, 0.2]"));
    assert!(err(Design::grid(&[("N", &[1.0]), ("D", &[])]).unwrap_err()).contains("axis `D` has no values"));
    assert!(err(Design::points(&["N", "D"], vec![vec![1.0]]).unwrap_err()).contains("point 1 has 1 values"));
    assert!(err(Design::points(&["N"], vec![vec![1.0], vec![f64::NAN]]).unwrap_err()).contains("point 2 has N = NaN"));
    let only_n = Design::grid(&[("N", &[1.0, 2.0])]).unwrap();
    let p = [1.5, 0.8, 0.3, 0.5, 0.3];
    assert!(err(design_observations(&law, &p, &only_n, 0.0).unwrap_err()).contains("variable `D`, which the design"));
    assert!(err(design_observations(&law, &p, &grid(), -0.1).unwrap_err()).contains("noise -0.1"));
    assert!(err(design_observations(&law, &p[..4], &grid(), 0.0).unwrap_err()).contains("4 parameter values"));
    // E = −5 makes the loss negative on the whole design: the first point is named
    let neg = [-5.0, 0.8, 0.3, 0.5, 0.3];
    assert!(err(design_observations(&law, &neg, &grid(), 0.0).unwrap_err()).contains("at design point 1"));
    // S = 1 is no sparsity a design can hold
    let s_law = Law::parse("a*(1-S)^b + c", &["S"]).unwrap();
    let s1 = Design::grid(&[("S", &[0.5, 1.0])]).unwrap();
    assert!(matches!(design_observations(&s_law, &[1.0, 1.0, 1.0], &s1, 0.0), Err(StrategyError::Data(_))));
}

#[test]
fn a_variable_the_formula_does_not_use_needs_no_column() {
    // declared variables S, N, D; the formula uses N only
    let law = Law::parse("E + A/N^alpha", &["S", "N", "D"]).unwrap();
    let design = Design::grid(&[("N", &[1.0, 10.0])]).unwrap();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let obs =
        design_observations(&law, &[1.0, 1.0, 1.0], &design, 0.0).unwrap().new_tree(&mut runner).unwrap().current();
    assert_eq!(obs.loss, [2.0, 1.1]);
}

#[test]
fn a_parameter_with_equal_bounds_is_fixed_and_draws_stay_in_range() {
    let law = chinchilla();
    let ranges = ParamRanges::new(
        &law,
        &[("E", 1.7, 1.7), ("A", 0.5, 2.0), ("alpha", 0.2, 0.6), ("B", 1.0, 1.1), ("beta", 0.3, 0.31)],
    )
    .unwrap();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..50 {
        let p = ranges.strategy().new_tree(&mut runner).unwrap().current();
        assert_eq!(p[0], 1.7);
        assert!(ranges.contains(&p), "{p:?}");
    }
    assert_eq!(ranges.range("beta"), Some((0.3, 0.31)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn noise_free_cases_lie_on_the_law_and_noisy_ones_within_the_noise(
        (truth, obs) in law_case(&chinchilla(), &chinchilla_ranges(), &grid(), 0.0).unwrap(),
        (truth2, noisy) in law_case(&chinchilla(), &chinchilla_ranges(), &grid(), 0.02).unwrap(),
    ) {
        let law = chinchilla();
        prop_assert!(chinchilla_ranges().contains(&truth) && chinchilla_ranges().contains(&truth2));
        prop_assert_eq!(obs.len(), 15);
        prop_assert_eq!(obs.column("D").unwrap()[..3].to_vec(), vec![1.0, 3.0, 10.0]);
        for (p, y) in predict(&law, &obs, &truth).unwrap().iter().zip(&obs.loss) {
            prop_assert!((p - y).abs() <= 1e-12 * y);
        }
        let clean = predict(&law, &noisy, &truth2).unwrap();
        let logs: Vec<f64> = clean.iter().zip(&noisy.loss).map(|(p, y)| (y / p).ln()).collect();
        prop_assert!(logs.iter().all(|l| l.abs() <= 0.02 + 1e-12));
        // the noise is there: not every point on the law
        prop_assert!(logs.iter().any(|l| l.abs() > 1e-6));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    #[test]
    fn a_fit_recovers_a_chinchilla_law_from_noise_free_data(
        (truth, obs) in law_case(&chinchilla(), &chinchilla_ranges(), &grid(), 0.0).unwrap(),
    ) {
        let r = fit_recovers(&chinchilla(), &obs, &truth, &FitOptions { starts: 8, ..FitOptions::default() }, 1e-3)?;
        prop_assert!(r.objective < 1e-12);
    }
}

#[test]
fn recovery_fails_naming_the_parameters_that_missed() {
    let law = chinchilla();
    let truth = [1.5, 0.8, 0.3, 0.5, 0.3];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let obs = design_observations(&law, &truth, &grid(), 0.0).unwrap().new_tree(&mut runner).unwrap().current();
    let opts = FitOptions { starts: 8, ..FitOptions::default() };
    assert!(fit_recovers(&law, &obs, &truth, &opts, 1e-3).is_ok());
    let other = [1.5, 0.8, 0.3, 0.5, 0.35];
    let msg = fit_recovers(&law, &obs, &other, &opts, 1e-3).unwrap_err().to_string();
    assert!(msg.contains("beta: fitted 0.3") && msg.contains("true 0.35") && !msg.contains("alpha:"), "{msg}");
    assert!(fit_recovers(&law, &obs, &truth[..2], &opts, 1e-3).unwrap_err().to_string().contains("2 true values"));
}

/// A loss whose optimal sparsity falls as training gets longer: L = (S − 1/(1 + D))² + 1/D
/// under the cost C = N·D (so D = C/N and S_opt = N/(N + C)).
fn falling_s_opt() -> Analysis {
    let loss = FnSurface::new(
        |s: f64, _n: f64, d: f64| (s - 1.0 / (1.0 + d)).powi(2) + 1.0 / d,
        |s: f64, _n: f64, d: f64| {
            let r = s - 1.0 / (1.0 + d);
            [2.0 * r, 0.0, 2.0 * r / (1.0 + d).powi(2) - 1.0 / (d * d)]
        },
    );
    let cost = FnSurface::new(|_s: f64, n: f64, d: f64| n * d, |_s: f64, n: f64, d: f64| [0.0, d, n]);
    Analysis::from_surfaces(loss, cost)
}

#[test]
fn a_falling_s_opt_is_caught_and_a_rising_one_passes() {
    let a = falling_s_opt();
    let s = a.optimal_sparsity(1.0, 1.0).unwrap().s;
    assert!((s - 0.5).abs() < 1e-6, "S_opt = {s}");
    let msg = s_opt_non_decreasing(&a, 1.0, &[3.0, 1.0], 1e-6).unwrap_err().to_string();
    assert!(msg.contains("S_opt fell as the budget grew at N = 1"), "{msg}");
    // the paper's law with its published T5 coefficients: S_opt rises with the budget
    let law = Law::builtin("paper-normalised").unwrap();
    let paper = Analysis::new(&law, &crate::analysis::PaperCoefficients::T5_PUBLISHED_NORMALISED).unwrap();
    let found = s_opt_non_decreasing(&paper, 10.0, &[1e5, 1e3, 1e4], 1e-9).unwrap();
    let c: Vec<f64> = found.iter().map(|o| o.c).collect();
    assert_eq!(c, [1e3, 1e4, 1e5]);
    assert!(found[2].s > found[0].s, "{found:?}");
}
