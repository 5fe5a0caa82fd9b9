//! Generic analysis (hand-written surfaces) against the closed forms of the paper's law.

use super::*;

/// The paper's law with its exact gradient, written by hand.
fn paper_surface(p: PaperCoefficients) -> impl Surface {
    FnSurface::new(
        move |s, n, d| p.loss(s, n, d),
        move |s, n, d| {
            let dens = 1.0 - s;
            let sf = p.a_s * dens.powf(p.b_s) + p.c_s;
            let nf = n.powf(-p.b_n);
            [-p.a_s * p.b_s * dens.powf(p.b_s - 1.0) * nf, -p.b_n * sf * nf / n, -p.b_d * (p.a_d / d).powf(p.b_d) / d]
        },
    )
}

fn default_cost() -> impl Surface {
    FnSurface::new(
        |s, n, d| 6.0 * n / (1.0 - s) * d,
        |s, n, d| [6.0 * n * d / ((1.0 - s) * (1.0 - s)), 6.0 * d / (1.0 - s), 6.0 * n / (1.0 - s)],
    )
}

fn t5() -> (PaperCoefficients, Analysis) {
    let p = PaperCoefficients::t5_published();
    (p, Analysis::from_surfaces(paper_surface(p), default_cost()))
}

#[test]
fn dense_equivalent_matches_closed_form() {
    let (p, a) = t5();
    for &s in &[0.0, 0.5, 0.75, 0.875] {
        let m = a.dense_equivalent(s, 50.0, 5.0).unwrap();
        assert!((m - p.dense_equivalent(s)).abs() < 1e-9, "S={s}: {m} vs {}", p.dense_equivalent(s));
    }
    let m = a.dense_equivalent(0.75, 3.0, 0.7).unwrap();
    assert!((m - 2.16).abs() < 0.01);
}

#[test]
fn data_for_budget_inverts_cost() {
    let (_, a) = t5();
    let d = a.data_for_budget(0.5, 40.0, 1e4).unwrap();
    assert!((d - 1e4 * 0.5 / (6.0 * 40.0)).abs() < 1e-12 * d);
    assert!(matches!(a.data_for_budget(1.0, 40.0, 1e4), Err(AnalysisError::OutOfDomain { .. })));
    assert!(matches!(a.data_for_budget(0.5, -1.0, 1e4), Err(AnalysisError::OutOfDomain { .. })));
}

#[test]
fn optimal_sparsity_matches_closed_form() {
    let (p, a) = t5();
    let mut interior = 0;
    for &n in &[1.0, 10.0, 100.0, 1000.0] {
        for k in 0..12 {
            let c = p.contour_budget(0.0, n) * 10f64.powf(-1.0 + 0.5 * k as f64);
            let o = a.optimal_sparsity(n, c).unwrap();
            let want = p.optimal_sparsity(n, c);
            assert!((o.s - want).abs() < 1e-6, "N={n} C={c}: {} vs {want}", o.s);
            if want > 0.0 {
                interior += 1;
                assert!(o.slope_at_dense < 0.0);
                assert!(o.loss < o.dense_loss);
            }
        }
    }
    assert!(interior > 20);
}

#[test]
fn slopes_and_pay_point_match_closed_forms() {
    let (p, a) = t5();
    for &n in &[5.0, 500.0] {
        for &s in &[0.0, 0.5, 0.9] {
            let c = a.contour_budget(s, n).unwrap();
            assert!((c / p.contour_budget(s, n) - 1.0).abs() < 1e-9);
            let slope = a.contour_slope(s, n).unwrap();
            assert!((slope - p.contour_slope()).abs() < 1e-7, "{slope} vs {}", p.contour_slope());
        }
        let cd = a.dense_optimal_budget(n).unwrap();
        assert!((cd / p.dense_optimal_budget(n) - 1.0).abs() < 1e-9);
        let nn = a.dense_optimal_size(cd).unwrap();
        assert!((nn / n - 1.0).abs() < 1e-9);
        let slope = a.dense_optimal_slope(n).unwrap();
        assert!((slope - p.dense_optimal_slope()).abs() < 1e-7);
        let pays = a.sparsity_pays(n).unwrap();
        assert!((pays.data_multiple - p.sparsity_pays_multiple()).abs() < 1e-7);
        assert!((pays.budget_multiple - pays.data_multiple).abs() < 1e-9);
    }
}

#[test]
fn other_cost_model_changes_the_answer() {
    // GMP run that saves the compute of pruned weights: mean density 1 − 0.625·S
    // (docs/THEORY.md §3)
    let p = PaperCoefficients::t5_published();
    let cost = FnSurface::new(
        |s, n, d| 6.0 * n / (1.0 - s) * (1.0 - 0.625 * s) * d,
        |s, n, d| {
            let k = (1.0 - 0.625 * s) / (1.0 - s);
            let dk = (-0.625 * (1.0 - s) + (1.0 - 0.625 * s)) / ((1.0 - s) * (1.0 - s));
            [6.0 * n * dk * d, 6.0 * k * d, 6.0 * n * k]
        },
    );
    let a = Analysis::from_surfaces(paper_surface(p), cost);
    let (_, b) = t5();
    let n = 100.0;
    let c = p.contour_budget(0.5, n);
    let cheap = a.optimal_sparsity(n, c).unwrap().s;
    assert!((b.optimal_sparsity(n, c).unwrap().s - 0.5).abs() < 1e-6);
    assert!(cheap > 0.5 + 0.01, "cheaper sparse training favours more sparsity: {cheap}");
}

#[test]
fn unbounded_sparsity_is_an_error() {
    // loss falls with S and no data term: optimum at S -> 1
    let loss = FnSurface::new(|s, _n, _d| 1.0 - s, |_s, _n, _d| [-1.0, 0.0, 0.0]);
    let a = Analysis::from_surfaces(loss, default_cost());
    assert!(matches!(a.optimal_sparsity(10.0, 1e3), Err(AnalysisError::SparsityUnbounded { .. })));
}

#[test]
fn non_convex_law_picks_lowest_minimum() {
    // two wells in S at fixed D: minima near 0.2 (shallow) and 0.8 (deep); derivative > 0 at 0
    let loss = FnSurface::new(
        |s, _n, _d| (s - 0.2).powi(2) * (s - 0.8).powi(2) - 0.01 * s,
        |s, _n, _d| [2.0 * (s - 0.2) * (s - 0.8).powi(2) + 2.0 * (s - 0.2).powi(2) * (s - 0.8) - 0.01, 0.0, 0.0],
    );
    let a = Analysis::from_surfaces(loss, default_cost());
    let o = a.optimal_sparsity(10.0, 1e3).unwrap();
    assert!((o.s - 0.8).abs() < 0.05, "{}", o.s);
}

#[test]
fn intervals() {
    let i = Interval::percentile(5.0, (0..=100).map(|x| x as f64).chain([f64::NAN]), 0.9);
    assert_eq!(i.samples, 101);
    assert!((i.lo - 5.0).abs() < 1e-12 && (i.hi - 95.0).abs() < 1e-12);
    let samples: Vec<Vec<f64>> = (0..50).map(|k| vec![1.0 + 0.01 * k as f64]).collect();
    let ci = bootstrap_interval(&[1.2], &samples, 0.95, |p| Ok::<_, AnalysisError>(p[0] * 2.0)).unwrap();
    assert_eq!(ci.estimate, 2.4);
    assert!(ci.lo < 2.1 && ci.hi > 2.9 && ci.hi <= 2.98 + 1e-12);
}

#[test]
fn contour_map_has_lines_parallel_to_dense_line() {
    let (p, a) = t5();
    let map = a.contour_map((0.0, 3.0), (3.0, 9.0), 12, &[0.0, 0.5]);
    assert_eq!(map.s_opt.len(), 12);
    assert!(map.s_opt.iter().flatten().all(|s| s.is_finite() && (0.0..1.0).contains(s)));
    let line = &map.lines[1];
    assert_eq!(line.points.len(), 12);
    let (x0, y0) = line.points[0];
    let (x1, y1) = line.points[11];
    assert!(((y1 - y0) / (x1 - x0) - p.contour_slope()).abs() < 1e-8);
    let (dx0, dy0) = map.dense_line[0];
    let (dx1, dy1) = map.dense_line[11];
    assert!(((dy1 - dy0) / (dx1 - dx0) - p.dense_optimal_slope()).abs() < 1e-8);
}

#[test]
fn symbolic_law_matches_hand_written_and_closed_forms() {
    let law = crate::Law::builtin("paper-normalised").unwrap();
    let params = PaperCoefficients::T5_PUBLISHED_NORMALISED;
    let p = PaperCoefficients::from_law(&law, &params).unwrap();
    assert_eq!(p, PaperCoefficients::t5_published());
    let sym = Analysis::new(&law, &params).unwrap();
    let (_, hand) = t5();
    for &(s, n, d) in &[(0.0, 10.0, 2.5), (0.5, 300.0, 0.7), (0.875, 1.5, 10.0)] {
        assert!((sym.loss(s, n, d) - hand.loss(s, n, d)).abs() < 1e-12);
        let (g1, _) = sym.sparsity_derivative(s, n, 1e4).unwrap();
        let (g2, _) = hand.sparsity_derivative(s, n, 1e4).unwrap();
        assert!((g1 - g2).abs() < 1e-10 * g2.abs().max(1.0), "{g1} vs {g2}");
    }
    let m = sym.dense_equivalent(0.75, 100.0, 5.0).unwrap();
    assert!((m - 2.16).abs() < 0.01, "m(0.75) = {m}");
    for &n in &[2.0, 60.0, 600.0] {
        for k in 0..8 {
            let c = p.contour_budget(0.0, n) * 10f64.powf(-0.5 + 0.7 * k as f64);
            let got = sym.optimal_sparsity(n, c).unwrap().s;
            assert!((got - p.optimal_sparsity(n, c)).abs() < 1e-6);
        }
    }
    let pays = sym.sparsity_pays(100.0).unwrap();
    assert!((pays.data_multiple - p.sparsity_pays_multiple()).abs() < 1e-6);
    assert!((sym.contour_slope(0.5, 100.0).unwrap() - p.contour_slope()).abs() < 1e-6);
}

#[test]
fn raw_paper_law_is_recognised_and_chinchilla_is_not() {
    let law = crate::Law::builtin("paper").unwrap();
    let params = [16.8, 0.722, 45.0, 0.245, 6.90e8, 0.203, 0.651];
    let p = PaperCoefficients::from_law(&law, &params).unwrap();
    assert_eq!(p.a_d, 6.90e8);
    let a = Analysis::new(&law, &params).unwrap();
    // raw units: N parameters, D tokens
    let (n, c) = (1e9, 1e22);
    let got = a.optimal_sparsity(n, c).unwrap().s;
    assert!((got - p.optimal_sparsity(n, c)).abs() < 1e-6, "{got}");
    let chin = crate::Law::builtin("chinchilla").unwrap();
    assert!(PaperCoefficients::from_law(&chin, &[1.69, 406.4, 0.34, 410.7, 0.28]).is_none());
    // a dense law never prefers sparsity under the paper's cost
    let dense = Analysis::new(&chin, &[1.69, 406.4, 0.34, 410.7, 0.28]).unwrap();
    assert_eq!(dense.optimal_sparsity(1e9, 1e21).unwrap().s, 0.0);
    assert!((dense.dense_equivalent(0.5, 1e9, 1e10).unwrap() - 1.0).abs() < 1e-9);
}

#[test]
fn bad_laws_and_cost_models_are_clear_errors() {
    let law = crate::Law::parse("a*N^(-b) + c*T", &["N", "T"]).unwrap();
    let e = Analysis::new(&law, &[1.0, 0.3, 0.1]).unwrap_err();
    assert!(matches!(&e, AnalysisError::UnknownVariable { name, .. } if name == "T"), "{e}");
    let law = crate::Law::builtin("paper-normalised").unwrap();
    let e = Analysis::new(&law, &[1.0, 2.0]).unwrap_err();
    assert!(e.to_string().contains("7 parameters"), "{e}");
    let e = Analysis::with_cost_model(&law, &PaperCoefficients::T5_PUBLISHED_NORMALISED, "6*N*(D").unwrap_err();
    assert!(matches!(e, AnalysisError::Parse { .. }), "{e}");
    let e = Analysis::with_cost_model(&law, &PaperCoefficients::T5_PUBLISHED_NORMALISED, "6*N*D*k").unwrap_err();
    assert!(e.to_string().contains("`k`"), "{e}");
    // a cost that does not grow with D
    let a = Analysis::with_cost_model(&law, &PaperCoefficients::T5_PUBLISHED_NORMALISED, "6*N/(1-S)").unwrap();
    let e = a.optimal_sparsity(100.0, 1e4).unwrap_err();
    assert!(e.to_string().contains("cost model"), "{e}");
}
