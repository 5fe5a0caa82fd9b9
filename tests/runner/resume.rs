//! End-to-end runs of the real binary on a tiny experiment: a run killed in the middle of a
//! point and started again ends with the same records as an uninterrupted run; two
//! concurrent `--shard` runners on one directory produce every record exactly once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sparse_scaling::results::{Outcome, ResultsDir};

/// Tiny: width 32 ViT, 2 sparsities, 40 steps of 8 images, checkpoints every 4 steps.
const TINY: &str = r#"(
    name: "tiny",
    model: (family: Vit, sizes: Widths([32])),
    sparsity: [0.0, 0.5],
    pruning: [Gmp(update_every: 4)],
    steps: [40],
    batch_size: 8,
    validation: (examples: 32, every: 10),
    checkpoint_every: 4,
)"#;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("tiny.ron");
    std::fs::write(&exp, TINY).unwrap();
    (dir, exp)
}

fn run(exp: &Path, results: &Path, extra: &[&str]) -> String {
    crate::runner_support::run_points(exp, results, extra).0
}

fn outcomes(results: &Path) -> BTreeMap<String, Outcome> {
    ResultsDir::open(results).unwrap().records().unwrap().into_iter().map(|r| (r.hash, r.outcome)).collect()
}

#[test]
fn killed_run_resumes_to_the_same_records() {
    let (dir, exp) = setup();
    let reference = dir.path().join("reference");
    run(&exp, &reference, &[]);
    let want = outcomes(&reference);
    assert_eq!(want.len(), 2);

    // start, wait for a checkpoint of the second (sparse) point, kill
    let results = dir.path().join("killed");
    let mut child = bin()
        .arg("run")
        .arg(&exp)
        .arg("--results")
        .arg(&results)
        .args(["--no-progress", "--no-analysis", "--point", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ckpt_root = results.join("checkpoints");
    let started = Instant::now();
    let found = loop {
        let ck = std::fs::read_dir(&ckpt_root)
            .ok()
            .and_then(|rd| rd.flatten().map(|e| e.path().join("train.ckpt")).find(|p| p.exists()));
        if let Some(p) = ck {
            break Some(p);
        }
        if child.try_wait().unwrap().is_some() || started.elapsed() > Duration::from_secs(120) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let ckpt = found.expect("a checkpoint appeared before the run finished");
    child.kill().unwrap();
    child.wait().unwrap();
    let store = ResultsDir::open(&results).unwrap();
    assert!(store.records().unwrap().is_empty(), "killed before the point finished");
    assert!(ckpt.exists(), "checkpoint survives the kill");

    // run everything again: point 1 resumes from its checkpoint, point 0 starts fresh
    let stdout = run(&exp, &results, &[]);
    assert!(stdout.contains("trained 2"), "{stdout}");
    let recs = store.records().unwrap();
    let resumed = recs.iter().find(|r| r.index == 1).unwrap();
    assert!(resumed.run.resumed_from_step > 0, "point 1 resumed from its checkpoint");
    assert_eq!(outcomes(&results), want, "same records as the uninterrupted run");
    assert!(!ckpt.exists(), "checkpoints removed once the record is written");
    // and a third run trains nothing
    let stdout = run(&exp, &results, &[]);
    assert!(stdout.contains("trained 0, already done 2"), "{stdout}");
}

#[test]
fn concurrent_shard_runners_write_every_record_once() {
    let (dir, exp) = setup();
    let results = dir.path().join("shared");
    let spawn = |shard: &str| {
        bin()
            .arg("run")
            .arg(&exp)
            .arg("--results")
            .arg(&results)
            .args(["--no-progress", "--no-analysis", "--shard", shard])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("0/2"), spawn("1/2"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for o in [&a, &b] {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains("trained 1,"), "{}", String::from_utf8_lossy(&o.stdout));
    }
    let files: Vec<String> = std::fs::read_dir(results.join("points"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "exactly the two records, no claims or temporary files: {files:?}");
    assert!(files.iter().all(|f| f.ends_with(".json")));
    let recs = ResultsDir::open(&results).unwrap().records().unwrap();
    let mut idx: Vec<usize> = recs.iter().map(|r| r.index).collect();
    idx.sort();
    assert_eq!(idx, [0, 1]);
}
