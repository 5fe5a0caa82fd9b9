//! Property tests (issue 2 "Done when"): print/parse round trip on generated trees,
//! symbolic derivative = finite difference, simplification keeps values, known laws are
//! fitted back, and the order of the points does not matter.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_scaling_law::{fit, parse, BinOp, Expr, FitOptions, Func, Law, Observations};

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
        Just("val-loss".to_string()),
        Just("log".to_string()),
        Just("2x".to_string()),
        Just("a b".to_string()),
    ]
}

fn arb_tree() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        (0u32..1000).prop_map(|v| Expr::Num(v as f64)),
        (0.0f64..1e3).prop_map(Expr::Num),
        prop_oneof![Just(1e-7), Just(1e-300), Just(6.02e23), Just(1e15), Just(0.1)].prop_map(Expr::Num),
        arb_name().prop_map(Expr::Sym),
    ];
    leaf.prop_recursive(5, 48, 2, |inner| {
        let op = prop_oneof![Just(BinOp::Add), Just(BinOp::Sub), Just(BinOp::Mul), Just(BinOp::Div), Just(BinOp::Pow)];
        let f1 = prop_oneof![Just(Func::Log), Just(Func::Exp), Just(Func::Sqrt), Just(Func::Abs), Just(Func::Sign)];
        let f2 = prop_oneof![Just(Func::Min), Just(Func::Max)];
        prop_oneof![
            (op, inner.clone(), inner.clone()).prop_map(|(op, a, b)| Expr::bin(op, a, b)),
            inner.clone().prop_map(Expr::neg),
            (f1, inner.clone()).prop_map(|(f, a)| Expr::Call(f, vec![a])),
            (f2, inner.clone(), inner.clone()).prop_map(|(f, a, b)| Expr::Call(f, vec![a, b])),
        ]
    })
}

/// Smooth expressions in x and y whose values stay finite for x, y in (0.5, 2).
fn arb_smooth() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("x".to_string()),
        Just("y".to_string()),
        (1u32..9).prop_map(|v| format!("{}", v as f64 / 4.0))
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) + ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) - ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) * ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) / (2 + sqrt(1 + ({b})^2))")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(1 + exp(-abs({a})))^({b})")),
            inner.clone().prop_map(|a| format!("log(1 + ({a})^2)")),
            inner.clone().prop_map(|a| format!("-({a})^3")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_gives_the_same_tree(e in arb_tree()) {
        let text = e.to_string();
        let back = parse(&text);
        prop_assert!(back.is_ok(), "{text}: {:?}", back);
        prop_assert_eq!(back.unwrap(), e, "{}", text);
    }

    #[test]
    fn symbolic_derivative_equals_finite_difference(text in arb_smooth(), x in 0.5f64..2.0, y in 0.5f64..2.0) {
        let e = parse(&text).unwrap();
        let f = |x: f64| e.eval_with(&[("x", x), ("y", y)]).unwrap();
        let d = e.diff("x").eval_with(&[("x", x), ("y", y)]).unwrap();
        let h = 1e-5;
        let fd = (f(x + h) - f(x - h)) / (2.0 * h);
        prop_assume!(fd.is_finite() && fd.abs() < 1e6);
        prop_assert!((d - fd).abs() <= 1e-5 * (1.0 + fd.abs()), "{text}: d/dx = {d}, finite difference {fd}");
        // Simplification never changes the value.
        let s = e.simplify().eval_with(&[("x", x), ("y", y)]).unwrap();
        prop_assert!((s - f(x)).abs() <= 1e-9 * (1.0 + s.abs()), "{text} simplified to {}", e.simplify());
        prop_assert!(e.simplify().size() <= e.size());
    }
}

fn true_params(rng: &mut StdRng) -> Vec<f64> {
    vec![
        rng.gen_range(0.2..1.0),
        rng.gen_range(0.5..1.5),
        rng.gen_range(0.5..2.0),
        rng.gen_range(0.1..0.4),
        rng.gen_range(0.2..0.8),
        rng.gen_range(0.2..0.6),
        rng.gen_range(0.5..1.2),
    ]
}

/// A sweep like the T5 table's (4 sparsities × 4 sizes × 3 lengths) from known parameters,
/// with multiplicative noise of relative size `noise`.
fn synthetic(law: &Law, p: &[f64], noise: f64, rng: &mut StdRng) -> Observations {
    let (mut s, mut n, mut d, mut y) = (vec![], vec![], vec![], vec![]);
    for &ns in &[1.3, 5.3, 21.2, 85.0] {
        for &ss in &[0.0, 0.5, 0.75, 0.875] {
            for &ds in &[2.5, 5.0, 10.0] {
                s.push(ss);
                n.push(ns);
                d.push(ds);
                y.push(law.eval(&[ss, ns, ds], p) * (1.0 + noise * rng.gen_range(-1.0..1.0)));
            }
        }
    }
    Observations::new(vec!["S".into(), "N".into(), "D".into()], vec![s, n, d], y, None).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn known_laws_are_fitted_back(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let law = Law::builtin("paper-normalised").unwrap();
        let p = true_params(&mut rng);
        let obs = synthetic(&law, &p, 1e-4, &mut rng);
        let r = fit(&law, &obs, &FitOptions { starts: 10, seed, ..FitOptions::default() }).unwrap();
        // The fitted curve matches the true one on the sweep and a little beyond it.
        for &(s, n, d) in &[(0.0, 1.3, 2.5), (0.6, 10.0, 4.0), (0.875, 85.0, 10.0), (0.8, 150.0, 15.0)] {
            let want = law.eval(&[s, n, d], &p);
            let got = law.eval(&[s, n, d], &r.params);
            prop_assert!((got - want).abs() / want < 2e-3, "at ({s}, {n}, {d}): {got} vs {want}; true {p:?} fitted {:?}", r.params);
        }
        prop_assert!(r.objective < 1e-8);
    }

    #[test]
    fn reordering_points_changes_nothing(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let law = Law::builtin("paper-normalised").unwrap();
        let p = true_params(&mut rng);
        let obs = synthetic(&law, &p, 1e-2, &mut rng);
        let mut order: Vec<usize> = (0..obs.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.gen_range(0..=i));
        }
        let shuffled = obs.select(&order);
        let opts = FitOptions { starts: 6, ..FitOptions::default() };
        let a = fit(&law, &obs, &opts).unwrap();
        let b = fit(&law, &shuffled, &opts).unwrap();
        // Bit for bit: the fit works on the points in a canonical order.
        prop_assert_eq!(a.objective, b.objective);
        prop_assert_eq!(&a.params, &b.params);
        for (k, &i) in order.iter().enumerate() {
            prop_assert_eq!(a.predictions[i], b.predictions[k]);
            prop_assert_eq!(a.residuals[i], b.residuals[k]);
        }
        // The bootstrap too.
        let boot = FitOptions { bootstrap: 8, ..opts };
        let a = fit(&law, &obs, &boot).unwrap();
        let b = fit(&law, &shuffled, &boot).unwrap();
        prop_assert_eq!(a.bootstrap_samples(), b.bootstrap_samples());
    }
}
