//! Issue 12, part 1: no formula aborts the process. Long flat chains, deep nesting and
//! arbitrary text go through the parser, the law, the fit and the analysis and come back as a
//! value or as an error that names the limit ([`MAX_NODES`], [`MAX_DEPTH`]); formulas at the
//! limit still fit and analyse. Test threads have small (2 MiB) stacks, so a recursion the
//! limit does not bound would overflow here first.

use proptest::prelude::*;
use sparse_scaling_law::analysis::{Analysis, SymbolicSurface};
use sparse_scaling_law::{fit, parse, BinOp, CsvMapping, Expr, FitOptions, Law, Observations, MAX_DEPTH, MAX_NODES};

/// A few points with S, N, D and C, and a loss the paper's law could produce.
fn observations() -> Observations {
    let (mut s, mut n, mut d, mut y) = (vec![], vec![], vec![], vec![]);
    for &ns in &[1.0f64, 4.0, 16.0] {
        for &ss in &[0.0, 0.5, 0.75] {
            for &ds in &[1.0, 3.0] {
                s.push(ss);
                n.push(ns);
                d.push(ds);
                y.push(1.0 + (1.0 + ss) / ns.sqrt() + 0.5 / ds);
            }
        }
    }
    let c: Vec<f64> = n.iter().zip(&d).map(|(n, d)| 6.0 * n * d).collect();
    Observations::new(vec!["S".into(), "N".into(), "D".into(), "C".into()], vec![s, n, d, c], y, None).unwrap()
}

fn quick() -> FitOptions {
    FitOptions { starts: 2, max_iter: 20, ..FitOptions::default() }
}

/// A formula of `n` repetitions of one construct (a chain, nesting or a function call).
fn generated(kind: usize, n: usize) -> String {
    match kind {
        0 => format!("a{}", " + N".repeat(n)),
        1 => format!("a{}", "*N".repeat(n)),
        2 => format!("a{}", "-N".repeat(n)),
        3 => format!("a{}", "/N".repeat(n)),
        4 => format!("a*{}N{}", "(".repeat(n), ")".repeat(n)),
        5 => format!("a*{}N", "-".repeat(n)),
        6 => format!("a*{}N", "N^".repeat(n)),
        7 => format!("a*{}N{}", "exp(".repeat(n), ")".repeat(n)),
        8 => format!("a*{}N{}", "min(b, ".repeat(n), ")".repeat(n)),
        // Balanced sums: few levels, many nodes.
        _ => {
            let mut t = "N".to_string();
            while t.len() < 4 * n {
                t = format!("({t} + {t})");
            }
            format!("a*{t}")
        }
    }
}

/// Parsing, building a law, fitting it and using it as a cost model: each step either works
/// or returns an error; only a limit error may stop a formula the grammar accepts.
fn through_every_path(text: &str) -> Result<(), String> {
    let obs = observations();
    let law = Law::from_name_or_formula(text).map_err(|e| e.to_string())?;
    let shape = law.expr().shape();
    assert!(shape.nodes <= MAX_NODES && shape.depth <= MAX_DEPTH, "{shape:?} accepted");
    let _ = law.to_string();
    for p in law.param_names() {
        let _ = law.partial(p);
    }
    let _ = fit(&law, &obs, &quick());
    let _ = SymbolicSurface::cost_model(text);
    Ok(())
}

fn is_limit_error(message: &str) -> bool {
    message.contains(&format!("at most {MAX_DEPTH} levels"))
        || message.contains(&format!("limit of {MAX_DEPTH}"))
        || message.contains(&format!("limit of {MAX_NODES}"))
}

#[test]
fn fifty_thousand_terms_are_a_clear_error_on_every_path() {
    for kind in 0..10 {
        let text = generated(kind, 50_000);
        let err = parse(&text).unwrap_err();
        let message = err.to_string();
        assert!(is_limit_error(&message), "kind {kind}: {message}");
        assert!(message.contains("shorter formula"), "kind {kind}: {message}");
        // The message quotes a short excerpt, not 50 000 terms.
        assert!(message.len() < 1_000, "kind {kind}: {} bytes", message.len());
        let err = through_every_path(&text).unwrap_err();
        assert!(is_limit_error(&err), "kind {kind}: {err}");
        let err = SymbolicSurface::cost_model(&text).unwrap_err().to_string();
        assert!(is_limit_error(&err), "kind {kind}: {err}");
        // A data column's expression goes through the same parser.
        let mapping = CsvMapping::from_assignments(&[&format!("N={text}")], "loss").unwrap();
        let err = Observations::from_csv_str("a,N,loss\n1,2,3\n", "t.csv", &mapping).unwrap_err().to_string();
        assert!(is_limit_error(&err), "kind {kind}: {err}");
    }
}

#[test]
fn the_limit_error_points_at_the_first_operator_over_it() {
    let text = generated(0, 50_000);
    let err = parse(&text).unwrap_err();
    // "a" then " + N" per term: operator number 257 starts at column 1 + 4·256 + 2.
    assert_eq!(err.column, 1 + 4 * MAX_DEPTH + 2, "{err}");
    let err = parse(&generated(1, 300)).unwrap_err();
    assert_eq!(err.column, 2 + 2 * MAX_DEPTH, "{err}");
}

#[test]
fn formulas_at_the_limit_fit_and_analyse() {
    let obs = observations();
    let paper = "(a*(1 - S)^b + c)*N^(-d) + e*D^(-f) + g";
    // Longest chains: each operator added on top of a chain nests the deepest path once more.
    let levels = |t: &str| parse(t).unwrap().shape().depth;
    let sum = format!("{paper}{}", " + 0*S".repeat(MAX_DEPTH - levels(paper)));
    let head = "(a*(1 - S)^b + c)*N^(-d)";
    let factors = MAX_DEPTH - levels(&format!("{head} + e*D^(-f) + g"));
    let product = format!("{head}{} + e*D^(-f) + g", "*1".repeat(factors));
    let nested = format!("{}{paper}{}", "(".repeat(MAX_DEPTH - 10), ")".repeat(MAX_DEPTH - 10));
    for text in [&sum, &product, &nested] {
        let law = Law::parse(text, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(law.expr().shape().depth <= MAX_DEPTH);
        assert_eq!(parse(&law.to_string()).unwrap(), *law.expr());
        let r = fit(&law, &obs, &quick()).unwrap();
        assert!(r.objective.is_finite());
        let a = Analysis::new(&law, &r.params).unwrap();
        assert!(a.dense_equivalent(0.5, 4.0, 2.0).is_ok_and(f64::is_finite));
    }
    assert_eq!(levels(&sum), MAX_DEPTH);
    assert_eq!(levels(&product), MAX_DEPTH);
    // One level more is refused.
    let err = Law::parse(&format!("{sum} + 0*S"), &[]).unwrap_err().to_string();
    assert!(is_limit_error(&err), "{err}");
}

#[test]
fn a_tree_built_in_code_is_checked_and_dropped_without_recursion() {
    let mut e = Expr::sym("a");
    for _ in 0..1_000_000 {
        e = Expr::bin(BinOp::Add, e, Expr::sym("N"));
    }
    assert_eq!(e.shape().depth, 1_000_000);
    assert!(is_limit_error(&e.check_limits().unwrap_err().to_string()));
    // The law refuses it before any recursive walk, and drops it without recursion.
    let err = Law::from_expr("(built in code)", e, &[]).unwrap_err();
    assert!(is_limit_error(&err.to_string()), "{err}");
    let mut e = Expr::sym("N");
    for _ in 0..1_000_000 {
        e = Expr::neg(e);
    }
    drop(e);
}

#[test]
fn mistyped_built_in_names_get_a_suggestion() {
    for (typo, meant) in [("paper-normalized", "paper-normalised"), ("chinchila", "chinchilla"), ("Paper", "paper")] {
        let err = Law::from_name_or_formula(typo).unwrap_err().to_string();
        assert!(err.contains(&format!("did you mean `{meant}`")), "{typo}: {err}");
        let err = Law::builtin(typo).unwrap_err().to_string();
        assert!(err.contains(&format!("did you mean `{meant}`")), "{typo}: {err}");
    }
    // A real formula, or a word far from every name, is not taken for a typo.
    assert!(Law::from_name_or_formula("a*N^b").is_ok());
    let err = Law::from_name_or_formula("kaplan").unwrap_err().to_string();
    assert!(!err.contains("did you mean"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
        let _ = through_every_path(&text);
    }

    #[test]
    fn formula_like_text_never_panics(text in "[aNSDbc0-9.e ()+*/^,-]{0,60}|(log|exp|min|max|sqrt)\\([aN, 1-]{0,10}\\)") {
        let _ = through_every_path(&text);
    }

    #[test]
    fn generated_long_and_deep_formulas_are_values_or_limit_errors(kind in 0usize..10, n in prop_oneof![1usize..300, 50_000usize..60_000]) {
        let text = generated(kind, n);
        match through_every_path(&text) {
            Ok(()) => prop_assert!(n < 50_000, "{} terms accepted", n),
            Err(e) => prop_assert!(n < 50_000 || is_limit_error(&e), "kind {}, {} terms: {}", kind, n, e),
        }
    }
}
