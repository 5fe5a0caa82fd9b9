//! Parser, printer, derivative and simplifier tests (issue 2, part 1).

use sparse_scaling_law::{parse, Expr, Law, LawError};

#[test]
fn precedence_and_associativity() {
    assert_eq!(parse("-x^2").unwrap(), parse("-(x^2)").unwrap());
    assert_eq!(parse("a^b^c").unwrap(), parse("a^(b^c)").unwrap());
    assert_eq!(parse("a-b-c").unwrap(), parse("(a-b)-c").unwrap());
    assert_eq!(parse("a/b/c").unwrap(), parse("(a/b)/c").unwrap());
    assert_eq!(parse("a+b*c^2").unwrap(), parse("a+(b*(c^2))").unwrap());
    assert_eq!(parse("2^-x").unwrap(), parse("2^(-x)").unwrap());
    let v = parse("-2^2").unwrap().eval_with(&[]).unwrap();
    assert_eq!(v, -4.0);
    let v = parse("2^3^2").unwrap().eval_with(&[]).unwrap();
    assert_eq!(v, 512.0);
}

#[test]
fn numbers_functions_and_quoted_names() {
    let e = parse("1e-3 + 2.5E+2 + .5 + 3. + log(exp(1)) + sqrt(4) + min(1, 2) + max(1, 2) + `val-loss`").unwrap();
    let v = e.eval_with(&[("val-loss", 10.0)]).unwrap();
    assert!((v - (0.001 + 250.0 + 0.5 + 3.0 + 1.0 + 2.0 + 1.0 + 2.0 + 10.0)).abs() < 1e-12);
    assert_eq!(e.symbols(), vec!["val-loss".to_string()]);
}

#[test]
fn paper_law_round_trips() {
    for text in [
        "(a_s*(1-S)^b_s + c_s) * N^(-b_n) + (a_d/D)^b_d + c",
        "(a*(1 - S)^b + c) * N^(-d) + e*D^(-f) + g",
        "E + A/N^alpha + B/D^beta",
        "-(a - b) * --c / (d / e) - (f - g) + 1.5e-300 * h^-i^j",
    ] {
        let e = parse(text).unwrap();
        let printed = e.to_string();
        assert_eq!(parse(&printed).unwrap(), e, "{text} printed as {printed}");
    }
}

#[test]
fn parse_errors_point_at_the_column() {
    let err = parse("a * (N + ").unwrap_err();
    assert_eq!(err.column, 10);
    assert!(err.expected.contains("a number"), "{err}");
    let err = parse("a * (N + b").unwrap_err();
    assert_eq!(err.column, 11);
    assert!(err.to_string().contains("')'"), "{err}");
    let err = parse("a ** b").unwrap_err();
    assert_eq!(err.column, 4);
    let err = parse("a b").unwrap_err();
    assert_eq!(err.column, 3);
    assert!(err.to_string().contains("^"), "{err}");
    let err = parse("log(a, b)").unwrap_err();
    assert!(err.expected.contains("one argument"), "{err}");
    assert!(parse("").is_err());
    assert!(parse("`unclosed").is_err());
    assert!(parse("max(a)").is_err());
    // Absurdly nested input is an error, not a stack overflow.
    let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(parse(&deep).is_err());
    assert!(parse(&"-".repeat(100_000)).is_err());
    // The error points at the first character over the limit and says how to fix it.
    let err = parse(&format!("a + {}x", "-".repeat(300))).unwrap_err();
    assert_eq!(err.column, 4 + 256 + 1, "{err}");
    assert!(err.expected.contains("shorter formula"), "{err}");
    let ok = format!("{}x{}", "(".repeat(256), ")".repeat(256));
    assert_eq!(parse(&ok).unwrap(), Expr::sym("x"));
    let e = parse(&format!("{}x", "-".repeat(256))).unwrap();
    assert_eq!(e.diff("x").simplify(), Expr::Num(1.0));
    let e = parse(&format!("{}x", "x^".repeat(256))).unwrap();
    assert_eq!(parse(&e.to_string()).unwrap(), e);
    assert!(e.diff("x").eval_with(&[("x", 1.0)]).unwrap().is_finite());
}

#[test]
fn derivatives_are_readable() {
    let e = parse("a * N^(-b) + c").unwrap();
    assert_eq!(e.diff("c").to_string(), "1");
    assert_eq!(e.diff("a").to_string(), "N^-b");
    assert_eq!(parse("x^3").unwrap().diff("x").to_string(), "3 * x^2");
    assert_eq!(parse("2*x + 1").unwrap().diff("x").to_string(), "2");
    assert_eq!(parse("log(x)").unwrap().diff("y"), Expr::Num(0.0));
}

#[test]
fn laws_know_their_symbols() {
    let law = Law::builtin("paper").unwrap();
    assert_eq!(law.var_names(), ["S", "N", "D"]);
    assert_eq!(law.param_names(), ["a_S", "b_S", "c_S", "b_N", "a_D", "b_D", "c"]);
    let law = Law::builtin("chinchilla").unwrap();
    assert_eq!(law.var_names(), ["N", "D"]);
    for b in sparse_scaling_law::law::BUILTINS {
        let law = Law::builtin(b.name).unwrap();
        assert_eq!(Law::parse(law.text(), b.vars).unwrap().expr(), law.expr());
    }
    assert!(matches!(Law::builtin("nope"), Err(LawError::UnknownBuiltin { .. })));
    assert!(matches!(Law::parse("a + b", &[]), Err(LawError::NoVariables { .. })));
    assert!(matches!(Law::parse("N + D", &[]), Err(LawError::NoParameters { .. })));
    assert!(matches!(
        Law::parse_declared("a * N^(-b) + cc", &["N"], &["a", "b", "c"]),
        Err(LawError::UnknownSymbol { name, .. }) if name == "cc"
    ));
    let law = Law::parse("a*X^b", &["X"]).unwrap();
    assert!(matches!(law.check_vars_available(&["N".into()]), Err(LawError::UnknownVariable { .. })));
    assert!(matches!(Law::parse("a * (N", &[]), Err(LawError::Parse(e)) if e.column == 7));
}

#[test]
fn paper_and_normalised_forms_agree() {
    // Same law: a = a_S * 1e6^(-b_N) etc. Check the two built-ins evaluate consistently
    // for N in raw units vs N/1e6 (data term identical with e = a_D^f, D same units).
    let raw = Law::builtin("paper").unwrap();
    let norm = Law::builtin("paper-normalised").unwrap();
    let (a_s, b_s, c_s, b_n, a_d, b_d, c) = (16.8f64, 0.722, 45.0, 0.245, 6.9e8f64, 0.203, 0.651);
    let scale = 1e6f64.powf(-b_n);
    let p_norm = [a_s * scale, b_s, c_s * scale, b_n, a_d.powf(b_d), b_d, c];
    let p_raw = [a_s, b_s, c_s, b_n, a_d, b_d, c];
    for (s, n, d) in [(0.5, 2e8, 3e10), (0.0, 1e7, 1e9)] {
        let l_raw = raw.eval(&[s, n, d], &p_raw);
        let l_norm = norm.eval(&[s, n / 1e6, d], &p_norm);
        assert!((l_raw - l_norm).abs() < 1e-12 * l_raw, "{l_raw} vs {l_norm}");
    }
}
