//! Grouped coefficients end to end (issue 10, part 3): `fit` on a CSV with a text column
//! `method` and a law with `a[method]` recovers the per-method coefficients it was generated
//! with and names them `a[gmp]`, `a[2:4]` in text and JSON; `analyse` analyses each group; a
//! results directory is grouped by its records' `pruning`; bad groups are errors that name the
//! column.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use sparse_scaling::experiment::ExperimentFile;
use sparse_scaling::runner::{self, RunOptions};

use crate::runner_support::{text, KnownLaw};

const LAW: &str = "(a[method]*(1-S)^b + c[method])*N^(-d) + e*D^(-f) + g";

/// Per method: (name, a, c); shared b, d, e, f, g.
const METHODS: [(&str, f64, f64); 2] = [("gmp", 0.6, 0.9), ("2:4", 0.9, 1.3)];
const SHARED: [f64; 5] = [0.7, 0.3, 0.5, 0.4, 1.0];

fn truth(a: f64, c: f64, s: f64, n: f64, d: f64) -> f64 {
    let [b, dd, e, f, g] = SHARED;
    (a * (1.0 - s).powf(b) + c) * n.powf(-dd) + e * d.powf(-f) + g
}

fn write_csv(path: &Path) {
    let mut out = String::from("method,sparsity,N,D,loss\n");
    for (m, a, c) in METHODS {
        for s in [0.0, 0.5, 0.75] {
            for n in [1.0, 4.0, 16.0] {
                for d in [1.0, 2.0, 4.0, 8.0] {
                    out += &format!("{m},{s},{n},{d},{}\n", truth(a, c, s, n, d));
                }
            }
        }
    }
    std::fs::write(path, out).unwrap();
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sparse-scaling")).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{args:?} failed:\n{out}\n{err}");
    out
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn param(j: &Value, name: &str) -> f64 {
    let names = j["fit"]["param_names"].as_array().unwrap();
    let k = names.iter().position(|n| n == name).unwrap_or_else(|| panic!("no {name} in {names:?}"));
    j["fit"]["params"][k].as_f64().unwrap()
}

#[test]
fn fit_a_csv_with_a_text_column_names_one_parameter_per_method() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, out) = (dir.path().join("pts.csv"), dir.path().join("fit.json"));
    write_csv(&csv);
    let c = csv.to_str().unwrap();
    let stdout = ok(&["fit", c, "--law", LAW, "--var", "S=sparsity", "--json", out.to_str().unwrap(), "--points"]);
    assert!(stdout.contains("a[gmp]") && stdout.contains("c[2:4]"), "{stdout}");
    assert!(stdout.contains("(one value per method in the data: 2:4, gmp)"), "{stdout}");
    let j = json(&out);
    let names: Vec<&str> = j["fit"]["param_names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names, ["a[2:4]", "a[gmp]", "b", "c[2:4]", "c[gmp]", "d", "e", "f", "g"]);
    for (m, a, c) in METHODS {
        assert!((param(&j, &format!("a[{m}]")) - a).abs() < 1e-3 * a, "a[{m}]");
        assert!((param(&j, &format!("c[{m}]")) - c).abs() < 1e-3 * c, "c[{m}]");
    }
    assert_eq!(j["observations"]["categorical"][0]["name"], "method");
    assert_eq!(j["mapping"]["categorical"][0], "method");

    // `analyse` analyses the law of each method with its own coefficients, or the one asked for.
    let analysis = dir.path().join("analysis.json");
    let all = ok(&["analyse", out.to_str().unwrap()]);
    assert!(all.contains("== group method=2:4 ==") && all.contains("== group method=gmp =="), "{all}");
    ok(&["analyse", out.to_str().unwrap(), "--group", "method=gmp", "--json", analysis.to_str().unwrap()]);
    let a = json(&analysis);
    let groups = a["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["group"]["method"], "gmp");
    assert_eq!(groups[0]["report"]["law"]["params"][0], "a[gmp]");
    let o = run(&["analyse", out.to_str().unwrap(), "--group", "method=1:4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no such group") && text(&o).1.contains("method=2:4; method=gmp"), "{}", text(&o).1);

    // Held out by a condition: the grouped fit predicts the held-out points of both methods.
    let h = dir.path().join("holdout.json");
    ok(&["fit", c, "--law", LAW, "--var", "S=sparsity", "--holdout", "N > 8", "--json", h.to_str().unwrap()]);
    let v = &json(&h)["holdout"];
    assert!(v["max_abs_rel_error"].as_f64().unwrap() < 1e-4, "{v}");
    assert_eq!(v["points"][0]["labels"]["method"], "gmp");

    // `compare` loads the column of a grouped law given after a pooled one, counts its
    // parameters per group, and ranks it first.
    let cmp = dir.path().join("compare.json");
    let pooled = "(a*(1-S)^b + c)*N^(-d) + e*D^(-f) + g";
    let args = ["compare", c, "--var", "S=sparsity", "--holdout", "N > 8", "--law", pooled, "--law", LAW];
    ok(&[&args[..], &["--json", cmp.to_str().unwrap()]].concat());
    let ranking = json(&cmp)["ranking"].as_array().unwrap().clone();
    assert_eq!(ranking[0]["formula"], LAW);
    assert_eq!(ranking[0]["params"], 9);
    assert_eq!(ranking[1]["params"], 7);
    assert!(ranking[0]["validation"]["mean_abs_rel_error"].as_f64().unwrap() < 1e-4, "{ranking:?}");
}

#[test]
fn bad_groups_are_errors_that_name_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("pts.csv");
    write_csv(&csv);
    let c = csv.to_str().unwrap();
    let law = "(a[family]*(1-S)^b + c)*N^(-d) + e*D^(-f) + g";
    let o = run(&["fit", c, "--law", law, "--var", "S=sparsity"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o).1;
    assert!(err.contains("column `family`") && err.contains("method, sparsity, N, D, loss"), "{err}");
    let o = run(&["fit", c, "--law", "a*(1-S)^b + a[method]*N^(-d) + g", "--var", "S=sparsity"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("`a` is both one shared parameter"), "{}", text(&o).1);
    // Leaving out a whole method leaves its coefficients without points.
    let o = run(&["fit", c, "--law", LAW, "--var", "S=sparsity", "--cv", "S"]);
    assert!(o.status.success(), "{}", text(&o).1);
    let mut small = String::from("method,sparsity,N,D,loss\n");
    for (k, line) in std::fs::read_to_string(&csv).unwrap().lines().skip(1).enumerate() {
        if !line.starts_with("2:4") || k % 36 < 2 {
            small += line;
            small += "\n";
        }
    }
    std::fs::write(&csv, small).unwrap();
    let o = run(&["fit", c, "--law", LAW, "--var", "S=sparsity"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o).1;
    assert!(err.contains("method = 2:4 has 2 distinct points") && err.contains("need at least 3"), "{err}");
}

const VIT: &str = r#"(
    name: "grouped-vit",
    model: (family: Vit, sizes: Widths([32, 64, 128])),
    sparsity: [0.5],
    pruning: [Gmp(), NM(n: 2, m: 4)],
    steps: [20, 40, 80],
)"#;

#[test]
fn a_results_directory_is_grouped_by_its_records_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = RunOptions::new(dir.path());
    opts.progress = false;
    let pts = ExperimentFile::from_str("vit.ron", VIT).unwrap().expand().unwrap();
    runner::run("vit.ron", &pts, Path::new("."), &KnownLaw, &opts).unwrap();
    let (d, out) = (dir.path().to_str().unwrap(), dir.path().join("fit.json"));
    ok(&["fit", d, "--law", "a[pruning]*N^(-b) + e*D^(-f) + g", "--json", out.to_str().unwrap()]);
    let j = json(&out);
    // The records' loss does not depend on the method, so both get the same coefficient.
    let (gmp, nm) = (param(&j, "a[gmp]"), param(&j, "a[2:4]"));
    assert!((gmp - nm).abs() < 1e-3 * gmp, "a[gmp] = {gmp}, a[2:4] = {nm}");
    let o = run(&["fit", d, "--law", "a[method]*N^(-b) + e*D^(-f) + g"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o).1;
    assert!(err.contains("`method`") && err.contains("text columns: pruning, family, depth"), "{err}");
}
