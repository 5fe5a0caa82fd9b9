//! Issue 12: formulas from every origin — `--law`, `--cost`, a fit file's field, a `.ron`'s
//! `analysis.law`/`cost` — never abort the binary. A 50 000-term formula (which overflowed the
//! stack before) is an error naming the limit and where the formula came from; a law that
//! divides by zero names the term; a mistyped built-in law name gets a suggestion.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::runner_support::text;

const BIN: &str = env!("CARGO_BIN_EXE_sparse-scaling");

fn t5() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/law/tests/data/t5-data.csv").to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("the sparse-scaling binary runs")
}

/// Exited with an error status of its own: not killed by a signal (a stack overflow aborts),
/// not a panic (101). Returns stderr.
fn refused(o: &Output) -> String {
    let (out, err) = text(o);
    assert!(matches!(o.status.code(), Some(c) if c != 0 && c != 101), "status {:?}\n{out}\n{err}", o.status);
    assert!(err.len() < 4_000, "the message quotes an excerpt, not the whole formula: {} bytes", err.len());
    err
}

fn long_sum() -> String {
    format!("a{}", "+N".repeat(50_000))
}

#[test]
fn fifty_thousand_terms_in_law_is_a_limit_error_naming_the_flag() {
    let err = refused(&run(&["fit", &t5(), "--preset", "t5-paper", "--law", &long_sum()]));
    assert!(err.contains("--law") && err.contains("at most 256 levels"), "{err}");
}

#[test]
fn fifty_thousand_terms_in_cost_is_a_limit_error_naming_the_flag() {
    let params = "0.56779,0.72161,1.52265,0.24513,0.63362,0.20271,0.65074";
    let cost = format!("6*N*D{}", "*N".repeat(50_000));
    let err = refused(&run(&["analyse", "--preset", "t5-paper", "--params", params, "--sizes", "10", "--cost", &cost]));
    assert!(err.contains("--cost") && err.contains("at most 256 levels"), "{err}");
}

#[test]
fn fifty_thousand_terms_in_a_ron_law_fail_check_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("long.ron");
    let src = format!(
        "(\n    name: \"long\",\n    model: (family: Vit, sizes: Widths([32])),\n    steps: [10],\n    analysis: (law: \"{}\"),\n)\n",
        long_sum()
    );
    std::fs::write(&path, src).unwrap();
    let err = refused(&run(&["check", path.to_str().unwrap()]));
    assert!(err.contains("long.ron:5:"), "{err}");
    assert!(err.contains("analysis.law") && err.contains("at most 256 levels"), "{err}");
}

#[test]
fn a_bad_formula_in_a_fit_file_names_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("fit.json");
    let o = run(&["fit", &t5(), "--preset", "t5-paper", "--starts", "2", "--json", json.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o).1);
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    v["law"]["name"] = serde_json::Value::Null;
    v["law"]["formula"] = serde_json::Value::String(long_sum());
    std::fs::write(&json, serde_json::to_string(&v).unwrap()).unwrap();
    let err = refused(&run(&["analyse", json.to_str().unwrap()]));
    assert!(err.contains("fit.json") && err.contains("law.formula"), "{err}");
    assert!(err.contains("at most 256 levels"), "{err}");
    assert!(!err.contains("--law"), "--law was not given: {err}");
}

#[test]
fn a_division_by_zero_names_the_term_not_the_start_values() {
    let law = "(a*(1 - S)^b + c) * N^(-d) + e*D^(-f) + g/(S - S)";
    let err = refused(&run(&["fit", &t5(), "--preset", "t5-paper", "--law", law, "--starts", "3"]));
    assert!(err.contains("`g / (S - S)`"), "names the term: {err}");
    assert!(!err.contains("init_low") && !err.contains("init_high"), "not command-line options: {err}");
}

#[test]
fn a_mistyped_built_in_law_gets_a_suggestion() {
    for (typo, meant) in [("paper-normalized", "paper-normalised"), ("chinchila", "chinchilla")] {
        let err = refused(&run(&["fit", &t5(), "--preset", "t5-paper", "--law", typo]));
        assert!(err.contains(&format!("did you mean `{meant}`")), "{typo}: {err}");
        assert!(!err.contains("uses none of the variables"), "{err}");
    }
}
