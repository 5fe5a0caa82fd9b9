//! The `fit` and `analyse` commands end to end, on the authors' T5 table (docs/THEORY.md §2):
//! coefficients printed, valid JSON and SVG written, the analysis read back from the JSON; and
//! bad input (malformed formula, empty CSV, NaN loss, S ≥ 1, unknown column) exits non-zero with
//! a clear message and no panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::runner_support::text;

const BIN: &str = env!("CARGO_BIN_EXE_sparse-scaling");
/// The paper's T5 table, committed unchanged under `law/tests/data/`.
fn t5_path() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/law/tests/data/t5-data.csv").to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("the sparse-scaling binary runs")
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

fn p(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// A well-formed SVG document: root element, balanced end, and the expected text.
fn assert_svg(path: &Path, must_contain: &[&str]) {
    let svg = std::fs::read_to_string(path).expect("SVG written");
    assert!(svg.trim_start().starts_with("<svg"), "not an SVG: {}", &svg[..svg.len().min(80)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<svg").count(), svg.matches("</svg>").count());
    for m in must_contain {
        assert!(svg.contains(m), "SVG lacks {m:?}");
    }
}

#[test]
fn fit_t5_then_analyse_the_json() {
    let t5 = t5_path();
    #[allow(non_snake_case)]
    let T5 = t5.as_str();
    let dir = tmp();
    let (json, svg) = (p(dir.path(), "fit.json"), p(dir.path(), "fit.svg"));
    let o = run(&[
        "fit",
        T5,
        "--preset",
        "t5-paper",
        "--bootstrap",
        "20",
        "--json",
        json.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "fit failed: {err}");
    for name in ["a ", "b ", "c ", "d ", "e ", "f ", "g "] {
        assert!(out.lines().any(|l| l.trim_start().starts_with(name)), "coefficient {name} missing:\n{out}");
    }
    assert!(out.contains("converged") && !out.contains("NOT converged"), "{out}");
    assert!(out.contains("95% CI (20 fits"), "{out}");

    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    assert_eq!(v["law"]["name"], "paper-normalised");
    let obj = v["fit"]["objective"].as_f64().unwrap();
    assert!(obj <= 4.881e-6, "objective {obj}");
    assert_eq!(v["fit"]["params"].as_array().unwrap().len(), 7);
    assert_eq!(v["observations"]["loss"].as_array().unwrap().len(), 48);
    assert_eq!(
        v["fit"]["bootstrap"]["samples"].as_array().unwrap().len()
            + v["fit"]["bootstrap"]["failed"].as_u64().unwrap() as usize,
        20
    );
    assert_svg(&svg, &["S = 0.875", "y = x", "measured loss"]);

    let (ajson, contours) = (p(dir.path(), "analysis.json"), p(dir.path(), "contours.svg"));
    let o = run(&[
        "analyse",
        json.to_str().unwrap(),
        "--json",
        ajson.to_str().unwrap(),
        "--plot-contours",
        contours.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "analyse failed: {err}");
    for s in
        ["Dense-equivalent size m(S)", "Optimal sparsity S_opt(N, C)", "contour", "Sparsity starts to pay", "T5-XL"]
    {
        assert!(out.contains(s), "missing {s}:\n{out}");
    }
    let a: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ajson).unwrap()).expect("valid analysis JSON");
    // the T5-XL extrapolation check of docs/THEORY.md §2: within 2%
    let rel = a["predictions"][0]["relative_error"].as_f64().unwrap();
    assert!(rel.abs() < 0.02, "T5-XL predicted {:.2}% off", 100.0 * rel);
    // numerical S_opt equals the closed form for the paper's law
    for row in a["optimal_sparsity"].as_array().unwrap() {
        let (num, closed) = (row["s_opt"]["estimate"].as_f64().unwrap(), row["closed_form"].as_f64().unwrap());
        assert!((num - closed).abs() < 1e-6, "{num} vs {closed}");
    }
    let slope = &a["contour_slope"];
    assert!((slope["slope"]["estimate"].as_f64().unwrap() - slope["closed_form"].as_f64().unwrap()).abs() < 1e-6);
    assert_svg(&contours, &["S_opt = 0.5", "dense compute-optimal", "log10 N"]);
}

#[test]
fn fit_with_explicit_column_mapping_and_inline_analyse() {
    let t5 = t5_path();
    #[allow(non_snake_case)]
    let T5 = t5.as_str();
    let o = run(&[
        "analyse",
        T5,
        "--var",
        "N=24*(12*768^2)*scale*(1-sparsity)/1e6",
        "--var",
        "D=steps/1e5",
        "--var",
        "S=sparsity",
        "--loss",
        "val-loss",
        "--law",
        "(a*(1-S)^b + c)*N^(-d) + e*D^(-f) + g",
        "--huber-delta",
        "1e-3",
        "--log",
        "--starts",
        "25",
        "--seed",
        "3",
        "--sizes",
        "100",
        "--budgets",
        "1e3,1e5",
        "--predict",
        "0.5,100,5",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("objective 4.880"), "{out}");
    assert!(out.contains("#1"), "{out}");
    // two S_opt rows at N = 100, each with a closed-form value (a user formula equal to the
    // built-in is recognised as the paper's law)
    let rows: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with("100.0000")).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows.iter().all(|r| !r.trim_end().ends_with('—')), "{out}");
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_string()
}

/// Non-zero exit, no panic, and a message mentioning each of `needles`.
fn assert_clean_failure(args: &[&str], needles: &[&str]) {
    let o = run(args);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "expected failure for {args:?}, got:\n{out}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "panic for {args:?}:\n{err}");
    for n in needles {
        assert!(err.contains(n), "message for {args:?} lacks {n:?}:\n{err}");
    }
}

#[test]
fn bad_input_fails_cleanly() {
    let t5 = t5_path();
    #[allow(non_snake_case)]
    let T5 = t5.as_str();
    let dir = tmp();
    let d = dir.path();
    assert_clean_failure(&["fit", T5, "--preset", "t5-paper", "--law", "(a*N^(-b) + "], &["--law", "column 13"]);
    let empty = write(d, "empty.csv", "sparsity,scale,val-loss,steps\n");
    assert_clean_failure(&["fit", &empty, "--preset", "t5-paper"], &["empty.csv", "no data rows"]);
    let nothing = write(d, "nothing.csv", "");
    assert_clean_failure(&["fit", &nothing, "--preset", "t5-paper"], &["nothing.csv"]);
    let nan = write(d, "nan.csv", "sparsity,scale,val-loss,steps\n0.5,1,NaN,250000\n0,2,1.9,500000\n");
    assert_clean_failure(&["fit", &nan, "--preset", "t5-paper"], &["nan.csv", "row 1", "NaN"]);
    let neg = write(d, "neg.csv", "sparsity,scale,val-loss,steps\n0.5,1,-2,250000\n0,2,1.9,500000\n");
    assert_clean_failure(&["fit", &neg, "--preset", "t5-paper"], &["neg.csv", "positive"]);
    let s1 = write(d, "s1.csv", "sparsity,scale,val-loss,steps\n1.0,1,2.0,250000\n0,2,1.9,500000\n");
    assert_clean_failure(&["fit", &s1, "--preset", "t5-paper"], &["s1.csv", "[0, 1)"]);
    let ragged = write(d, "ragged.csv", "sparsity,scale,val-loss,steps\n0.5,1,2.0\n");
    assert_clean_failure(&["fit", &ragged, "--preset", "t5-paper"], &["ragged.csv", "row 1"]);
    assert_clean_failure(&["fit", T5, "--preset", "t5-paper", "--var", "D=stepz/1e5"], &["stepz"]);
    assert_clean_failure(&["fit", T5, "--preset", "t5-paper", "--var", "D"], &["VAR=EXPRESSION"]);
    assert_clean_failure(&["fit", T5, "--preset", "t5-paper", "--huber-delta", "-1"], &["huber_delta"]);
    // a law in a variable of the user's own fits, but the analysis needs S, N and D
    let own = run(&["fit", T5, "--law", "a*T^(-b) + c", "--var", "T=steps/1e5", "--loss", "val-loss", "--starts", "5"]);
    assert!(own.status.success(), "{}", text(&own).1);
    assert_clean_failure(&["fit", "/nonexistent/t5.csv"], &["/nonexistent/t5.csv"]);
    // a directory without points/ is not a results directory, and fit creates nothing in it
    let plain = d.join("plain");
    std::fs::create_dir(&plain).unwrap();
    assert_clean_failure(&["fit", plain.to_str().unwrap()], &["plain", "is not a results directory"]);
    assert!(!plain.join("points").exists(), "fit created a points/ folder");
    std::fs::create_dir(d.join("points")).unwrap();
    assert_clean_failure(&["fit", d.to_str().unwrap()], &["no finished points"]);
    // analyse
    let bad = write(d, "bad.json", "{\"a\": 1}");
    assert_clean_failure(&["analyse", &bad], &["bad.json", "sparse-scaling fit --json"]);
    assert_clean_failure(&["analyse", T5, "--preset", "t5-paper", "--cost", "6*N*(D"], &["--cost", "column"]);
    assert_clean_failure(&["analyse", T5, "--preset", "t5-paper", "--predict", "1,2"], &["S,N,D"]);
    assert_clean_failure(&["analyse", T5, "--preset", "t5-paper", "--sparsity", "1.5"], &["[0, 1)"]);
    assert_clean_failure(&["analyse", T5, "--law", "a*T^(-b) + c", "--var", "T=steps", "--loss", "val-loss"], &["`T`"]);
}

#[test]
fn analyse_published_coefficients() {
    // docs/THEORY.md §2: the authors' T5 coefficients a..g in normalised units
    let o = run(&[
        "analyse",
        "--preset",
        "t5-paper",
        "--params",
        "0.56779,0.72161,1.52265,0.24513,0.63362,0.20271,0.65074",
        "--sizes",
        "10,100,1000",
        "--sparsity",
        "0.75",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let m_row = out.lines().find(|l| l.trim_start().starts_with("0.7500")).expect("m(0.75) row");
    let m: f64 = m_row.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!((m - 2.16).abs() <= 0.01, "m(0.75) = {m}");
    let pays = out.lines().find(|l| l.contains("× the compute-optimal data")).expect("sparsity-pays line");
    let k: f64 = pays.split("): ").nth(1).unwrap().split('×').next().unwrap().trim().parse().unwrap();
    assert!((k - 3.0).abs() < 0.1, "sparsity pays at {k}×");
    // another cost model (GMP that saves the compute of pruned weights, docs/THEORY.md §3): no closed
    // form column, and sparsity pays earlier than under the paper's cost
    let o = run(&[
        "analyse",
        "--preset",
        "t5-paper",
        "--params",
        "0.56779,0.72161,1.52265,0.24513,0.63362,0.20271,0.65074",
        "--sizes",
        "100",
        "--cost",
        "6*N/(1-S)*(1-0.625*S)*D",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let pays = out.lines().find(|l| l.contains("× the compute-optimal data")).expect("sparsity-pays line");
    assert!(pays.contains("(closed form: —)"), "{pays}");
    let k_gmp: f64 = pays.split("): ").nth(1).unwrap().split('×').next().unwrap().trim().parse().unwrap();
    assert!(k_gmp < k, "GMP cost: sparsity pays at {k_gmp}×, paper cost {k}×");
    assert_clean_failure(&["analyse", "--preset", "t5-paper", "--params", "1,2,3"], &["--params", "7 parameters"]);
    assert_clean_failure(
        &["analyse", "--params", "0.56779,0.72161,1.52265,0.24513,0.63362,0.20271,0.65074"],
        &["--sizes"],
    );
    assert_clean_failure(&["analyse"], &["--params"]);
}

mod results_dir {
    //! `fit` on a results directory written by the runner (a fake executor whose loss follows a
    //! known law, so no training is needed).
    use super::*;
    use crate::runner_support::KnownLaw;
    use sparse_scaling::experiment::ExperimentFile;
    use sparse_scaling::runner::{self, RunOptions};

    const EXP: &str = r#"(
        name: "law-from-results",
        model: (family: Vit, sizes: Widths([32, 64, 128])),
        sparsity: [0.0, 0.5, 0.75],
        steps: [20, 40, 80],
    )"#;

    #[test]
    fn fit_reads_a_results_directory() {
        let dir = tmp();
        let pts = ExperimentFile::from_str("law.ron", EXP).unwrap().expand().unwrap();
        let mut opts = RunOptions::new(dir.path());
        opts.progress = false;
        runner::run("law-from-results", &pts, Path::new("."), &KnownLaw, &opts).unwrap();
        let json = p(dir.path(), "fit.json");
        let o = run(&[
            "fit",
            dir.path().to_str().unwrap(),
            "--n-unit",
            "1e3",
            "--starts",
            "10",
            "--json",
            json.to_str().unwrap(),
        ]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        assert!(out.contains(&format!("({} points)", pts.len())), "{out}");
        assert!(out.contains("N = nonzero_params/1e3"), "{out}");
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        // the sparsity exponent is recovered (b = 0.8): D is only rescaled, so the law is exact
        let b = v["fit"]["params"][1].as_f64().unwrap();
        assert!((b - 0.8).abs() < 0.05, "b = {b}\n{out}");
        assert_clean_failure(&["fit", dir.path().to_str().unwrap(), "--var", "D=steps"], &["results directory"]);
        assert_clean_failure(&["fit", dir.path().to_str().unwrap(), "--n-unit", "0"], &["--n-unit"]);
    }
}
