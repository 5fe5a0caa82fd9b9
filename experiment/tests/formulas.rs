//! Issue 12: what would fail in the final analysis fails in `check` — the law and cost model
//! are parsed within the formula limits and evaluated over the sweep's points, and the S_opt
//! budgets and sizes must be positive; each problem names the field, line and column.

use sparse_scaling_experiment::{ExperimentError, ExperimentFile, Issue};

/// A valid sweep with the given analysis section.
fn with_analysis(analysis: &str) -> String {
    format!(
        "(\n    name: \"x\",\n    model: (family: Vit, sizes: Widths([32])),\n    sparsity: [0.0, 0.5],\n    steps: [100],\n    analysis: ({analysis}),\n)"
    )
}

fn issues(src: &str) -> Vec<Issue> {
    let f = ExperimentFile::from_str("exp.ron", src).expect("parses");
    match f.validate() {
        Ok(()) => Vec::new(),
        Err(ExperimentError::Invalid { issues, .. }) => issues,
        Err(e) => panic!("{e}"),
    }
}

fn only(src: &str, field: &str) -> Issue {
    let found = issues(src);
    assert_eq!(found.len(), 1, "{found:?}");
    let i = found.into_iter().next().unwrap();
    assert_eq!(i.field, field, "{i:?}");
    assert_eq!(i.line, 6, "{i:?}");
    assert!(i.column > 1, "{i:?}");
    i
}

#[test]
fn sound_formulas_pass() {
    assert!(
        issues(&with_analysis("law: \"paper-normalised\", cost: \"6*N/(1-S)*D\", s_opt_budgets: [1, 10]")).is_empty()
    );
}

#[test]
fn a_cost_model_that_is_not_finite_and_positive_over_the_sweep_is_refused() {
    let i = only(&with_analysis("cost: \"6*N/(1-S)*D/0\""), "analysis.cost");
    assert!(i.problem.contains("inf") && i.problem.contains("finite and positive"), "{i:?}");
    let i = only(&with_analysis("cost: \"6*N*(S - 0.5)*D\""), "analysis.cost");
    assert!(i.problem.contains("S = 0"), "names the point: {i:?}");
}

#[test]
fn non_positive_budgets_and_sizes_are_refused() {
    let i = only(&with_analysis("s_opt_budgets: [-1]"), "analysis.s_opt_budgets[0]");
    assert!(i.problem.contains("-1"), "{i:?}");
    let i = only(&with_analysis("s_opt_sizes: [1, 0]"), "analysis.s_opt_sizes[1]");
    // sizes are checked with the other numbers (experiment/src/bounds.rs), once
    assert!(i.problem.contains("the size = 0") && i.problem.contains("must be positive"), "{i:?}");
}

#[test]
fn a_law_that_cannot_be_evaluated_over_the_sweep_is_refused() {
    let i = only(&with_analysis("law: \"a + b*N/(D - D)\""), "analysis.law");
    assert!(i.problem.contains("`b * N / (D - D)`"), "names the term: {i:?}");
    let i = only(&with_analysis("law: \"chinchila\""), "analysis.law");
    assert!(i.problem.contains("did you mean `chinchilla`"), "{i:?}");
    assert!(i.fix.contains("law: \"chinchilla\""), "{i:?}");
}

#[test]
fn fifty_thousand_terms_are_refused_with_the_limit() {
    let long = format!("a{}", " + N".repeat(50_000));
    for field in ["law", "cost"] {
        let i = only(&with_analysis(&format!("{field}: \"{long}\"")), &format!("analysis.{field}"));
        assert!(i.problem.contains("at most 256 levels"), "{i:?}");
        assert!(i.fix.contains("shorter formula"), "{i:?}");
        assert!(i.problem.len() < 1_000, "the message quotes an excerpt: {} bytes", i.problem.len());
    }
}

#[test]
fn a_holdout_must_parse_use_measured_names_and_split_the_sweep() {
    // S ∈ {0, 0.5}: holding out the sparse points leaves the dense ones to fit
    assert!(issues(&with_analysis("holdout: \"S == 0.5\"")).is_empty());
    // a condition on the loss is decided only once the points are measured
    assert!(issues(&with_analysis("holdout: \"loss > 3\"")).is_empty());
    let i = only(&with_analysis("holdout: \"S >\""), "analysis.holdout");
    assert!(i.fix.contains("N > 50"), "{i:?}");
    let i = only(&with_analysis("holdout: \"width > 64\""), "analysis.holdout");
    assert!(i.problem.contains("`width`") && i.problem.contains("S, N, D, Nbar and loss"), "{i:?}");
    let i = only(&with_analysis("holdout: \"S > 0.9\""), "analysis.holdout");
    assert!(i.problem.contains("none of the sweep's 2 points"), "{i:?}");
    let i = only(&with_analysis("holdout: \"S < 0.9\""), "analysis.holdout");
    assert!(i.problem.contains("all 2 of the sweep's points"), "{i:?}");
}
