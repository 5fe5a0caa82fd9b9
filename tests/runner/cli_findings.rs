//! `sparse-scaling findings --json` on a results directory of fake records (the loss follows
//! the known law of `runner_support::KnownLaw`, so the sparse model wins every equal-N pair by
//! an amount computed here), and its refusal of a directory without records.

use std::path::Path;
use std::process::Command;

use sparse_scaling::experiment::ExperimentFile;
use sparse_scaling::runner::{self, RunOptions};

use crate::runner_support::{text, KnownLaw};

const EXP: &str = r#"(
    name: "findings",
    model: (family: Vit, sizes: Widths([32, 64])),
    sparsity: [0.0, 0.75],
    steps: [20],
)"#;

/// KnownLaw's loss at sparsity `s`, `n` non-zeros and `steps` steps.
fn known_loss(s: f64, n: f64, steps: f64) -> f64 {
    (0.5 * (1.0 - s).powf(0.8) + 1.5) * (n / 1e3).powf(-0.25) + 0.6 * (steps / 10.0).powf(-0.3) + 0.7
}

#[test]
fn findings_json_gives_the_equal_n_pair_the_law_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = RunOptions::new(dir.path());
    opts.progress = false;
    let pts = ExperimentFile::from_str("f.ron", EXP).unwrap().expand().unwrap();
    runner::run("f.ron", &pts, Path::new("."), &KnownLaw, &opts).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
        .args(["findings", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout: {out}\nstderr: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let fam = &v["families"][0];
    assert_eq!(fam["family"], "Vit");
    assert_eq!(fam["records"], 4);
    // width 64 at S = 0.75 has a quarter of its prunable weights: the N of dense width 32
    let pairs = fam["equal_n"]["pairs"].as_array().expect("equal_n.pairs");
    assert_eq!(pairs.len(), 1, "{out}");
    let p = &pairs[0];
    assert_eq!((p["base"]["width"].as_u64(), p["other"]["width"].as_u64()), (Some(32), Some(64)));
    assert_eq!(p["base"]["n"], p["other"]["n"]);
    let n = p["base"]["n"].as_f64().unwrap();
    let want = known_loss(0.75, n, 20.0) - known_loss(0.0, n, 20.0);
    assert!(want < 0.0);
    assert!((p["diff"].as_f64().unwrap() - want).abs() < 1e-9, "diff {} against {want}", p["diff"]);
    assert_eq!(fam["equal_n"]["tallies"][0]["sparser_better"], 1);
    // no n:m record, no seeds: those sections are absent
    assert!(fam["n_m"].is_null() && fam["seeds"].is_null(), "{out}");
}

#[test]
fn findings_refuses_a_directory_without_records() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("points")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sparse-scaling")).arg("findings").arg(dir.path()).output().unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no records under") && err.contains("sparse-scaling run"), "{err}");
}
