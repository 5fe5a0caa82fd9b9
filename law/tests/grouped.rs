//! Grouped coefficients (issue 10, part 3): `a[method]` parses and prints back, a law that uses
//! it wrongly is refused, a grouped fit recovers known per-group coefficients (a proptest on
//! noise-free data), bound parameters are named `a[value]`, and data that cannot determine the
//! groups get errors that name the column.

use proptest::prelude::*;
use sparse_scaling_law::group::{at_group, GroupError};
use sparse_scaling_law::validate::{cross_validate, holdout};
use sparse_scaling_law::{fit, parse, Expr, FitError, FitOptions, Law, LawError, Observations};

const LAW: &str = "(a[method]*(1-S)^b + c[method])*N^(-d) + e*D^(-f) + g";

#[test]
fn indexed_parameters_parse_and_print_back() {
    let e = parse("a[method] * N").unwrap();
    assert_eq!(e, Expr::bin(sparse_scaling_law::BinOp::Mul, Expr::sym("a[method]"), Expr::sym("N")));
    for text in ["a[method] * N^(-d)", "`a[pruning method]` + x", "`a[2:4]` * N", "a[`2:4`] * N"] {
        let e = parse(text).unwrap();
        assert_eq!(parse(&e.to_string()).unwrap(), e, "{text} printed as {e}");
    }
    assert_eq!(parse("a [ method ]").unwrap(), Expr::sym("a[method]"));
    assert_eq!(parse("a[`pruning method`]").unwrap(), Expr::sym("a[pruning method]"));
    assert_eq!(parse("a[method]*N").unwrap().to_string(), "a[method] * N");
    assert_eq!(parse("a[`2:4`]").unwrap().to_string(), "`a[2:4]`");
}

#[test]
fn a_bad_index_is_an_error_at_its_column() {
    for (text, column, expected) in [
        ("a[ * N", 3, "a column name between '[' and ']'"),
        ("a[] * N", 3, "a column name between '[' and ']'"),
        ("a[method * N", 10, "']'"),
        ("a[m]] * N", 5, "an operator"),
    ] {
        let e = parse(text).unwrap_err();
        assert_eq!(e.column, column, "{text}: {e}");
        assert!(e.expected.contains(expected), "{text}: {e}");
    }
}

#[test]
fn laws_with_indexed_parameters() {
    let law = Law::parse(LAW, &[]).unwrap();
    assert_eq!(law.var_names(), ["S", "N", "D"]);
    assert_eq!(law.param_names(), ["a[method]", "b", "c[method]", "d", "e", "f", "g"]);
    assert_eq!(law.group_columns(), ["method"]);
    assert!(law.is_grouped());
    let shared = Law::parse("a*(1-S)^b + a[method]*N", &[]).unwrap_err();
    assert!(matches!(&shared, LawError::SharedAndIndexed { base, .. } if base == "a"), "{shared}");
    assert!(shared.to_string().contains("write `a[method]` everywhere"), "{shared}");
    let twice = Law::parse("a[method]*N + a[depth]*S", &[]).unwrap_err();
    assert!(matches!(&twice, LawError::IndexedTwice { base, .. } if base == "a"), "{twice}");
    let var = Law::parse("a*N[method] + S", &[]).unwrap_err();
    assert!(matches!(&var, LawError::IndexedVariable { base, .. } if base == "N"), "{var}");
}

/// Noise-free points of `LAW` over a grid of S, N, D for each group, with the per-group `a`
/// and `c` given.
fn grouped_points(groups: &[(&str, f64, f64)], shared: [f64; 5]) -> Observations {
    let [b, d, e, f, g] = shared;
    let (mut s, mut n, mut dd, mut loss, mut labels) = (vec![], vec![], vec![], vec![], vec![]);
    for &(name, a, c) in groups {
        for sv in [0.0f64, 0.5, 0.75, 0.875] {
            for nv in [0.5f64, 2.0, 8.0, 32.0] {
                for dv in [0.5f64, 1.0, 2.0, 4.0] {
                    s.push(sv);
                    n.push(nv);
                    dd.push(dv);
                    loss.push((a * (1.0 - sv).powf(b) + c) * nv.powf(-d) + e * dv.powf(-f) + g);
                    labels.push(name.to_string());
                }
            }
        }
    }
    Observations::new(vec!["S".into(), "N".into(), "D".into()], vec![s, n, dd], loss, None)
        .unwrap()
        .with_categorical("method", labels)
        .unwrap()
}

fn options() -> FitOptions {
    FitOptions { starts: 12, seed: 7, ..FitOptions::default() }
}

#[test]
fn a_grouped_fit_names_one_parameter_per_group() {
    let obs = grouped_points(&[("gmp", 0.6, 0.9), ("2:4", 0.9, 1.2)], [0.7, 0.3, 0.5, 0.4, 1.0]);
    let law = Law::parse(LAW, &[]).unwrap();
    let r = fit(&law, &obs, &options()).unwrap();
    assert_eq!(r.param_names, ["a[2:4]", "a[gmp]", "b", "c[2:4]", "c[gmp]", "d", "e", "f", "g"]);
    assert_eq!(r.law, parse(LAW).unwrap().to_string());
    assert_eq!(r.groups.len(), 1);
    assert_eq!(r.groups[0].values, ["2:4", "gmp"]);
    for (name, want) in [("a[gmp]", 0.6), ("a[2:4]", 0.9), ("c[gmp]", 0.9), ("c[2:4]", 1.2), ("b", 0.7)] {
        let got = r.param(name).unwrap();
        assert!((got - want).abs() < 1e-3 * want, "{name} = {got}, want {want}");
    }
    // The pooled law cannot: one `a` and `c` for both methods leaves a misfit.
    let pooled = fit(&Law::builtin("paper-normalised").unwrap(), &obs, &options()).unwrap();
    assert!(pooled.objective > 1e3 * r.objective.max(1e-14), "{} vs {}", pooled.objective, r.objective);
    // One group's law is an ordinary law over that group's parameters.
    let gmp = at_group(&law, &[("method", "gmp")]).unwrap();
    assert_eq!(gmp.param_names(), ["a[gmp]", "b", "c[gmp]", "d", "e", "f", "g"]);
    let p: Vec<f64> = gmp.param_names().iter().map(|n| r.param(n).unwrap()).collect();
    let want = (0.6 * 0.5f64.powf(0.7) + 0.9) * 8f64.powf(-0.3) + 0.5 * 2f64.powf(-0.4) + 1.0;
    assert!((gmp.eval(&[0.5, 8.0, 2.0], &p) - want).abs() < 1e-4);
}

#[test]
fn fit_options_by_base_name_apply_to_every_group() {
    let obs = grouped_points(&[("gmp", 0.6, 0.9), ("2:4", 0.9, 1.2)], [0.7, 0.3, 0.5, 0.4, 1.0]);
    let law = Law::parse(LAW, &[]).unwrap();
    let mut o = options();
    o.fixed.insert("c".into(), 1.0);
    o.fixed.insert("c[gmp]".into(), 0.9);
    let r = fit(&law, &obs, &o).unwrap();
    assert_eq!(r.param("c[2:4]"), Some(1.0));
    assert_eq!(r.param("c[gmp]"), Some(0.9));
}

#[test]
fn holdout_and_cv_predict_with_the_groups_of_all_points() {
    let obs = grouped_points(&[("gmp", 0.6, 0.9), ("2:4", 0.9, 1.2)], [0.7, 0.3, 0.5, 0.4, 1.0]);
    let law = Law::parse(LAW, &[]).unwrap();
    let h = holdout(&law, &obs, "N > 10", &options()).unwrap();
    assert_eq!(h.validation.points.len(), 32);
    assert!(h.validation.max_abs_rel_error < 1e-4, "{}", h.validation.max_abs_rel_error);
    assert_eq!(h.validation.points[0].labels.get("method").map(String::as_str), Some("gmp"));
    assert!(!h.validation.points[0].values.keys().any(|k| k.contains('=')), "indicators are not shown");
    let cv = cross_validate(&law, &obs, "D", &options()).unwrap();
    assert!(cv.max_abs_rel_error < 1e-3, "{}", cv.max_abs_rel_error);
}

#[test]
fn bad_groups_are_errors_that_name_the_column() {
    let obs = grouped_points(&[("gmp", 0.6, 0.9), ("2:4", 0.9, 1.2)], [0.7, 0.3, 0.5, 0.4, 1.0]);
    let law = Law::parse("(a[family]*(1-S)^b + c)*N^(-d) + g", &[]).unwrap();
    let e = fit(&law, &obs, &options()).unwrap_err();
    assert!(
        matches!(&e, FitError::Group(g) if matches!(&**g, GroupError::MissingColumn { column, .. } if column == "family")),
        "{e}"
    );
    assert!(e.to_string().contains("text columns: method"), "{e}");
    // A group with two points cannot determine a[...] and c[...] of its own.
    let law = Law::parse(LAW, &[]).unwrap();
    let mut labels = obs.categorical("method").unwrap().to_vec();
    labels[0] = "4:8".into();
    labels[1] = "4:8".into();
    let few = obs.clone().with_categorical("method", labels).unwrap();
    let e = fit(&law, &few, &options()).unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(&e, FitError::Group(g) if matches!(&**g, GroupError::TooFewPoints { value, points: 2, needed: 3, .. } if value == "4:8")),
        "{text}"
    );
    assert!(text.contains("a[method], c[method]") && text.contains("write `a` without the index"), "{text}");
    // A numeric column with a value per point: every group too small, and said why.
    let mut with_run = obs.select(&(0..40).collect::<Vec<_>>());
    with_run.var_names.push("run".into());
    with_run.columns.push((0..40).map(|i| i as f64).collect());
    let by_run = Law::parse("(a[run]*(1-S)^b + c)*N^(-d) + g", &[]).unwrap();
    let e = fit(&by_run, &with_run, &options()).unwrap_err().to_string();
    assert!(e.contains("run = 0 has 1 distinct points") && e.contains("`run` is numeric with 40 values"), "{e}");
    let mut with_run = obs.clone();
    with_run.var_names.push("run".into());
    with_run.columns.push((0..obs.len()).map(|i| i as f64).collect());
    let e = fit(&by_run, &with_run, &options()).unwrap_err().to_string();
    assert!(e.contains("`run` has 128 distinct values, more than the limit of 64"), "{e}");
    // A numeric column's values are in numeric order.
    let by_n = Law::parse("(a[N]*(1-S)^b + c)*D^(-d) + g", &[]).unwrap();
    let r = fit(&by_n, &obs, &options()).unwrap();
    assert_eq!(r.groups[0].values, ["0.5", "2", "8", "32"]);
    // Holding out a whole group: its parameters have no points left.
    let e = holdout(&law, &obs, "N < 1 && S == 0", &options());
    assert!(e.is_ok(), "holding out part of each group is fine");
    let method_as_number: Vec<f64> =
        obs.categorical("method").unwrap().iter().map(|m| if m == "gmp" { 1.0 } else { 2.0 }).collect();
    let mut with_m = obs.clone();
    with_m.var_names.push("m".into());
    with_m.columns.push(method_as_number);
    let e = holdout(&law, &with_m, "m == 1", &options()).unwrap_err().to_string();
    assert!(e.contains("method = gmp has 0 distinct points"), "{e}");
    // Prediction at a group that was not fitted.
    let r = fit(&law, &obs, &options()).unwrap();
    let bound = sparse_scaling_law::group::expand(&law, &r.groups).unwrap();
    let other = obs.clone().with_categorical("method", vec!["1:4".to_string(); obs.len()]).unwrap();
    let e = sparse_scaling_law::fit::predict(&bound, &other, &r.params).unwrap_err().to_string();
    assert!(e.contains("method = 1:4, which is not among the values") && e.contains("2:4, gmp"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// A grouped fit recovers the per-group coefficients and the shared ones from noise-free
    /// points generated by the law (issue 10, "Done when").
    #[test]
    fn a_grouped_fit_recovers_known_coefficients(
        groups in proptest::collection::vec((0.3f64..1.0, 0.5f64..1.5), 2..=3),
        b in 0.4f64..1.0,
        d in 0.2f64..0.5,
        e in 0.3f64..1.0,
        f in 0.3f64..0.6,
        g in 0.5f64..1.5,
    ) {
        let names = ["gmp", "2:4", "from-dense(2000)"];
        let groups: Vec<(&str, f64, f64)> = groups.iter().enumerate().map(|(k, (a, c))| (names[k], *a, *c)).collect();
        let obs = grouped_points(&groups, [b, d, e, f, g]);
        let law = Law::parse(LAW, &[]).unwrap();
        let r = fit(&law, &obs, &FitOptions { starts: 16, seed: 3, ..FitOptions::default() }).unwrap();
        let mut want: Vec<(String, f64)> = vec![
            ("b".into(), b), ("d".into(), d), ("e".into(), e), ("f".into(), f), ("g".into(), g),
        ];
        for (name, a, c) in &groups {
            want.push((format!("a[{name}]"), *a));
            want.push((format!("c[{name}]"), *c));
        }
        prop_assert_eq!(r.param_names.len(), 5 + 2 * groups.len());
        for (name, v) in want {
            let got = r.param(&name).unwrap();
            prop_assert!((got - v).abs() < 2e-3 * v.abs(), "{} = {}, want {} (objective {})", name, got, v, r.objective);
        }
    }
}
