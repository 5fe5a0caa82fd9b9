//! The analysis of docs/THEORY.md §3 on the paper's law: the published T5 coefficients give
//! m(0.75) = 2.16 ± 0.01, the numerical S_opt equals the closed form to 1e-6, sparsity starts to
//! pay at ≈3× the dense compute-optimal data; and properties over random laws: S_opt never
//! decreases as C grows at fixed N, and is constant along a line of the derived contour slope.

use proptest::prelude::*;
use sparse_scaling_law::analysis::{Analysis, PaperCoefficients};
use sparse_scaling_law::Law;

fn paper_law() -> Law {
    Law::builtin("paper-normalised").unwrap()
}

#[test]
fn published_t5_coefficients() {
    let params = PaperCoefficients::T5_PUBLISHED_NORMALISED;
    let a = Analysis::new(&paper_law(), &params).unwrap();
    let p = PaperCoefficients::t5_published();
    // m(S) does not depend on N or D for this law
    for &(n, d) in &[(10.0, 2.5), (603.98, 5.0)] {
        let m = a.dense_equivalent(0.75, n, d).unwrap();
        assert!((m - 2.16).abs() <= 0.01, "m(0.75) = {m}");
    }
    let mut max_err: f64 = 0.0;
    let mut interior = 0;
    for i in 0..=8 {
        let n = 10f64.powf(i as f64 * 0.5); // 1 .. 1e4 million non-zeros
        for j in 0..=16 {
            let c = p.dense_optimal_budget(n) * 10f64.powf(-1.0 + 0.5 * j as f64);
            let num = a.optimal_sparsity(n, c).unwrap().s;
            let closed = p.optimal_sparsity(n, c);
            interior += usize::from(closed > 0.0);
            max_err = max_err.max((num - closed).abs());
        }
    }
    assert!(max_err <= 1e-6, "max |S_opt numeric − closed form| = {max_err:e}");
    assert!(interior > 60, "too few points with S_opt > 0: {interior}");
    let pays = a.sparsity_pays(100.0).unwrap();
    assert!(
        (pays.data_multiple - 3.0).abs() < 0.1,
        "sparsity pays at {}× the compute-optimal data",
        pays.data_multiple
    );
    assert!((pays.data_multiple - p.sparsity_pays_multiple()).abs() < 1e-6);
    let slope = a.contour_slope(0.5, 100.0).unwrap();
    assert!((slope - (1.0 + 0.24513 / 0.20271)).abs() < 1e-6, "contour slope {slope}");
    let dense = a.dense_optimal_slope(100.0).unwrap();
    assert!((dense - slope).abs() < 1e-6, "dense line {dense} not parallel to contours {slope}");
}

/// Parameters a..g of the normalised law, about ×2–3 around the published fits.
fn params() -> impl Strategy<Value = [f64; 7]> {
    ((0.2..2.0, 0.3..1.5, 0.5..3.0, 0.1..0.5), (0.2..2.0, 0.1..0.6, 0.3..1.5))
        .prop_map(|((a, b, c, d), (e, f, g))| [a, b, c, d, e, f, g])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn s_opt_never_decreases_with_budget(p in params(), log_n in 0.0..3.0f64) {
        let a = Analysis::new(&paper_law(), &p).unwrap();
        let closed = PaperCoefficients::from_normalised(p);
        let n = 10f64.powf(log_n);
        let c0 = closed.contour_budget(0.0, n);
        let mut prev = -1.0;
        for j in 0..=20 {
            let c = c0 * 10f64.powf(-2.0 + 0.4 * j as f64);
            let s = a.optimal_sparsity(n, c).unwrap().s;
            prop_assert!(s >= prev - 1e-9, "S_opt fell from {prev} to {s} at C = {c:e}");
            prop_assert!((s - closed.optimal_sparsity(n, c)).abs() < 1e-6);
            prev = s;
        }
        prop_assert!(prev > 0.0);
    }

    #[test]
    fn s_opt_is_constant_along_the_derived_contour_slope(p in params(), log_n in 0.0..3.0f64, level in 0.05..0.95f64, t in -2.0..2.0f64) {
        let a = Analysis::new(&paper_law(), &p).unwrap();
        let n = 10f64.powf(log_n);
        let c = a.contour_budget(level, n).unwrap();
        prop_assert!((a.optimal_sparsity(n, c).unwrap().s - level).abs() < 1e-6);
        let k = a.contour_slope(level, n).unwrap();
        prop_assert!((k - (1.0 + p[3] / p[5])).abs() < 1e-6);
        let s = a.optimal_sparsity(n * t.exp(), c * (k * t).exp()).unwrap().s;
        prop_assert!((s - level).abs() < 1e-6, "S_opt = {s} off the contour {level} at t = {t}");
    }

    #[test]
    fn dense_equivalent_matches_closed_form(p in params(), s in 0.0..0.97f64, log_n in -1.0..4.0f64, log_d in -1.0..2.0f64) {
        let a = Analysis::new(&paper_law(), &p).unwrap();
        let m = a.dense_equivalent(s, 10f64.powf(log_n), 10f64.powf(log_d)).unwrap();
        let closed = PaperCoefficients::from_normalised(p).dense_equivalent(s);
        prop_assert!((m / closed - 1.0).abs() < 1e-9, "{m} vs {closed}");
    }
}
