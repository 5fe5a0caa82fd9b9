//! The final analysis runs once per set of records, however many runners share the results
//! directory: the runner holding `analysis.claim` runs it, others leave it to that runner, and
//! `analysis.done` remembers the records it ran on (a re-trained point or an edited experiment
//! file runs it again). Records come from a fake executor (runner_support::KnownLaw).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sparse_scaling::cli::run::{run_with, Args};
use sparse_scaling::experiment::ExperimentFile;
use sparse_scaling::results::ResultsDir;
use sparse_scaling::runner::{self, RunOptions};
use sparse_scaling::train::progress::LineLog;

use crate::runner_support::{text, KnownLaw};

const EXP: &str = r#"(
    name: "once",
    model: (family: Vit, sizes: Widths([32, 64, 128])),
    sparsity: [0.0, 0.5, 0.75],
    steps: [20, 40, 80],
    analysis: (law: "paper-normalised", starts: 2, n_unit: 1e4, d_unit: 1e4),
)"#;

/// The experiment file and a results directory with every point's record.
fn finished(dir: &Path) -> (PathBuf, PathBuf) {
    let exp = dir.join("once.ron");
    std::fs::write(&exp, EXP).unwrap();
    let results = dir.join("results");
    let points = ExperimentFile::load(&exp).unwrap().expand().unwrap();
    let mut o = RunOptions::new(&results);
    o.progress = false;
    o.log = LineLog::memory();
    runner::run("once", &points, dir, &KnownLaw, &o).unwrap();
    (exp, results)
}

fn args(exp: &Path, results: &Path) -> Args {
    Args {
        experiment: exp.to_path_buf(),
        results: Some(results.to_path_buf()),
        point: None,
        shard: None,
        jobs: std::num::NonZeroUsize::new(1),
        threads: None,
        no_progress: true,
        keep_going: false,
        stale_after_hours: 24.0,
        no_analysis: false,
        no_build: true,
    }
}

#[test]
fn the_analysis_claim_and_marker_make_it_run_once_per_record_set() {
    let tmp = tempfile::tempdir().unwrap();
    let (exp, results) = finished(tmp.path());
    let store = ResultsDir::open(&results).unwrap();
    let report = store.report_dir();
    // another (live) runner holds the analysis: this one leaves it to that runner
    let held = store.try_claim_analysis(std::time::Duration::from_secs(3600)).unwrap().expect("free");
    run_with(args(&exp, &results), &KnownLaw).unwrap();
    assert!(!report.exists(), "the analysis was left to the claim's holder");
    drop(held);
    // free: this runner runs it and remembers the records it ran on
    run_with(args(&exp, &results), &KnownLaw).unwrap();
    assert!(report.join("fit.json").exists(), "the analysis ran");
    assert!(store.analysis_done_path().exists());
    assert!(!results.join("analysis.claim").exists(), "the claim is released");
    // the same records: not again
    std::fs::remove_dir_all(&report).unwrap();
    run_with(args(&exp, &results), &KnownLaw).unwrap();
    assert!(!report.exists(), "the analysis already ran on exactly these records");
    // a re-trained point is a new record set: again
    let first = ExperimentFile::load(&exp).unwrap().expand().unwrap()[0].hash.clone();
    std::fs::remove_file(store.record_path(&first)).unwrap();
    run_with(args(&exp, &results), &KnownLaw).unwrap();
    assert!(report.join("fit.json").exists(), "a new record set is analysed");
}

#[test]
fn two_runners_finishing_together_run_the_analysis_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (exp, results) = finished(tmp.path());
    // both find every point done at once; exactly one may analyse
    let spawn = |shard: &str| {
        Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
            .arg("run")
            .arg(&exp)
            .arg("--results")
            .arg(&results)
            .args(["--no-progress", "--shard", shard])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("0/2"), spawn("1/2"));
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let mut analysed = 0;
    for o in &outs {
        let (out, err) = text(o);
        assert!(o.status.success(), "{out}\n{err}");
        if out.contains("report: ") {
            analysed += 1;
        } else {
            assert!(
                out.contains("another runner is running the final analysis")
                    || out.contains("the final analysis already ran on exactly these records"),
                "{out}"
            );
        }
    }
    assert_eq!(analysed, 1, "the final analysis ran {analysed} times");
}
