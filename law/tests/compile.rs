//! The tape agrees with the tree walk, and its gradients with finite differences.

use proptest::prelude::*;
use sparse_scaling_law::compile::{Input, Tape};
use sparse_scaling_law::{parse, Law};

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn paper_law_tape_matches_tree_and_gradient() {
    let law = Law::builtin("paper-normalised").unwrap();
    let tape = Tape::for_law(&law);
    let s = [0.0, 0.5, 0.75, 0.875];
    let n = [1.0, 10.0, 100.0, 603.98];
    let d = [2.5, 5.0, 10.0, 5.0];
    let p = [0.43624, 1.34497, 1.69517, 0.23168, 0.41761, 0.38464, 0.83037];
    let bound = tape.bind(&[(0, &s), (1, &n), (2, &d)], 4).unwrap();
    let mut ws = bound.workspace();
    bound.forward_scalars(&p, &mut ws);
    let vals = bound.value(&ws).to_vec();
    for i in 0..4 {
        let tree = law.eval(&[s[i], n[i], d[i]], &p);
        assert!(rel_close(vals[i], tree, 1e-13), "{} vs {}", vals[i], tree);
    }
    let seed = [1.0, 2.0, 3.0, 4.0];
    bound.backward(&mut ws, &seed);
    let mut g = vec![0.0; 7];
    bound.input_adjoint_sums(&ws, &mut g);
    for (k, gk) in g.iter().enumerate() {
        // Compare with the symbolic partial, evaluated per point.
        let partial = law.partial(&law.param_names()[k]);
        let mut want = 0.0;
        for i in 0..4 {
            let vals: Vec<(&str, f64)> = [("S", s[i]), ("N", n[i]), ("D", d[i])]
                .into_iter()
                .chain(law.param_names().iter().map(|x| x.as_str()).zip(p))
                .collect();
            want += seed[i] * partial.eval_with(&vals).unwrap();
        }
        assert!(rel_close(*gk, want, 1e-12), "param {k}: {} vs {}", gk, want);
    }
}

#[test]
fn gradients_with_respect_to_variables() {
    let law = Law::builtin("paper-normalised").unwrap();
    let tape = Tape::for_law(&law);
    let p = [0.5, 1.3, 1.7, 0.23, 0.42, 0.38, 0.83];
    let s = [0.3, 0.6];
    let n = [10.0, 50.0];
    let d = [3.0, 7.0];
    let mut inputs = vec![Input::Column(&s), Input::Column(&n), Input::Column(&d)];
    inputs.extend(p.iter().map(|v| Input::Scalar(*v)));
    let (vals, grads) = tape.eval_grad(&inputs, 2).unwrap();
    let dlds = law.partial("S");
    for i in 0..2 {
        assert!(rel_close(vals[i], law.eval(&[s[i], n[i], d[i]], &p), 1e-13));
        let mut env: Vec<(&str, f64)> = vec![("S", s[i]), ("N", n[i]), ("D", d[i])];
        env.extend(law.param_names().iter().map(|x| x.as_str()).zip(p));
        assert!(rel_close(grads[0][i], dlds.eval_with(&env).unwrap(), 1e-12));
    }
    assert!(tape.eval(&inputs[..3], 2).is_err());
}

/// A power whose fixed base repeats is computed once per distinct base when the inputs are
/// scalars (`forward_scalars`); the numbers are bit for bit those of the per-point loop (which
/// `forward` with `Input::Scalar` runs), zero and negative bases included, and so are the
/// gradients.
#[test]
fn repeated_bases_give_the_per_point_numbers() {
    let names: Vec<String> = ["x", "y", "p", "q"].iter().map(|s| s.to_string()).collect();
    let tape = Tape::compile(&parse("x^(-p) + 2*y^(q*q) + (x + y)^p").unwrap(), &names).unwrap();
    let xs = [4.0, 0.0, 4.0, 9.0, 4.0, 0.0, 9.0, 4.0, -1.0, 4.0];
    let ys = [2.0, 3.0, 2.0, 3.0, 2.0, 2.0, 3.0, 2.0, 2.0, 3.0];
    let bound = tape.bind(&[(0, &xs), (1, &ys)], xs.len()).unwrap();
    let (mut fast, mut each) = (bound.workspace(), bound.workspace());
    let seed: Vec<f64> = (0..xs.len()).map(|i| 1.0 + i as f64).collect();
    for (p, q) in [(0.7, 1.3), (-0.4, 0.2), (2.0, -1.1)] {
        bound.forward_scalars(&[p, q], &mut fast);
        bound.forward(&[Input::Scalar(p), Input::Scalar(q)], &mut each).unwrap();
        let (a, b) = (bound.value(&fast).to_vec(), bound.value(&each).to_vec());
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b), "p = {p}, q = {q}: {a:?} vs {b:?}");
        let tree: Vec<f64> = (0..xs.len()).map(|i| tape_tree(&names, &[xs[i], ys[i], p, q])).collect();
        for (v, t) in a.iter().zip(&tree) {
            assert!(v.to_bits() == t.to_bits() || rel_close(*v, *t, 1e-13) || (v.is_nan() && t.is_nan()), "{v} vs {t}");
        }
        bound.backward(&mut fast, &seed);
        bound.backward(&mut each, &seed);
        let (mut ga, mut gb) = ([0.0; 2], [0.0; 2]);
        bound.input_adjoint_sums(&fast, &mut ga);
        bound.input_adjoint_sums(&each, &mut gb);
        assert_eq!(bits(&ga), bits(&gb), "p = {p}, q = {q}");
    }
}

/// The tree walk of the expression of [`repeated_bases_give_the_per_point_numbers`].
fn tape_tree(names: &[String], v: &[f64]) -> f64 {
    let env: Vec<(&str, f64)> = names.iter().map(String::as_str).zip(v.iter().copied()).collect();
    parse("x^(-p) + 2*y^(q*q) + (x + y)^p").unwrap().eval_with(&env).unwrap()
}

fn arb_expr() -> impl Strategy<Value = String> {
    // Expressions over x, y (positive data) and p, q (parameters) that stay finite.
    let leaf = prop_oneof![
        Just("x".to_string()),
        Just("y".to_string()),
        Just("p".to_string()),
        Just("q".to_string()),
        (1u32..9).prop_map(|v| format!("{}", v as f64 / 4.0)),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) + ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) - ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) * ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) / (1 + exp({b}))")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(1 + exp({a}))^(sqrt(1 + ({b})^2) - 1)")),
            inner.clone().prop_map(|a| format!("log(1 + exp(-({a})))")),
            inner.clone().prop_map(|a| format!("-({a})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("max({a}, {b}) + min({a}, 2*{b})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn tape_equals_tree_and_gradient_equals_finite_difference(
        text in arb_expr(),
        xs in proptest::collection::vec(0.1f64..3.0, 3),
        ys in proptest::collection::vec(0.1f64..3.0, 3),
        p in -1.0f64..1.0,
        q in 0.1f64..1.0,
    ) {
        let e = parse(&text).unwrap();
        let names: Vec<String> = ["x", "y", "p", "q"].iter().map(|s| s.to_string()).collect();
        let tape = Tape::compile(&e, &names).unwrap();
        let bound = tape.bind(&[(0, &xs), (1, &ys)], 3).unwrap();
        let mut ws = bound.workspace();
        bound.forward_scalars(&[p, q], &mut ws);
        let vals = bound.value(&ws).to_vec();
        for i in 0..3 {
            let tree = e.eval_with(&[("x", xs[i]), ("y", ys[i]), ("p", p), ("q", q)]).unwrap();
            prop_assume!(tree.is_finite() && tree.abs() < 1e6);
            prop_assert!(rel_close(vals[i], tree, 1e-12), "{text}: {} vs {}", vals[i], tree);
        }
        bound.backward(&mut ws, &[1.0, 1.0, 1.0]);
        let mut g = [0.0; 2];
        bound.input_adjoint_sums(&ws, &mut g);
        let sum_at = |p: f64, q: f64| -> f64 {
            (0..3).map(|i| e.eval_with(&[("x", xs[i]), ("y", ys[i]), ("p", p), ("q", q)]).unwrap()).sum()
        };
        let h = 1e-6;
        let fd_p = (sum_at(p + h, q) - sum_at(p - h, q)) / (2.0 * h);
        let fd_q = (sum_at(p, q + h) - sum_at(p, q - h)) / (2.0 * h);
        // The symbolic derivative, evaluated by the tree. Where an intermediate overflows
        // (e.g. exp(780) = inf in `a / (1 + exp(u))`) the true derivative can underflow to 0
        // while inf/inf gives NaN in any evaluation order; such points have no representable
        // derivative to compare, so they are skipped.
        let sym = |name: &str| -> f64 {
            let d = e.diff(name);
            (0..3).map(|i| d.eval_with(&[("x", xs[i]), ("y", ys[i]), ("p", p), ("q", q)]).unwrap()).sum()
        };
        let (sym_p, sym_q) = (sym("p"), sym("q"));
        // Kinks of min/max make finite differences unreliable right at the kink; skip those.
        let smooth = |f: &dyn Fn(f64) -> f64, x: f64| ((f(x + h) - 2.0 * f(x) + f(x - h)) / (h * h)).abs() < 1e4;
        if sym_p.is_finite() && smooth(&|t| sum_at(t, q), p) {
            prop_assert!(rel_close(g[0], fd_p, 1e-5), "{text}: d/dp {} vs fd {}", g[0], fd_p);
            // And the symbolic derivative agrees with the tape.
            prop_assert!(rel_close(g[0], sym_p, 1e-9), "{text}: tape {} vs symbolic {}", g[0], sym_p);
        }
        if sym_q.is_finite() && smooth(&|t| sum_at(p, t), q) {
            prop_assert!(rel_close(g[1], fd_q, 1e-5), "{text}: d/dq {} vs fd {}", g[1], fd_q);
            prop_assert!(rel_close(g[1], sym_q, 1e-9), "{text}: tape {} vs symbolic {}", g[1], sym_q);
        }
    }
}
