//! Points side by side (`run --jobs`, `--threads`, `sparse_scaling::runner::jobs`): two points at
//! once on one thread each train to records bit-identical to one point at a time on several
//! threads, the runner logs its plan, and `--jobs 0` / `--threads 0` are errors that say what to
//! give instead.

use std::path::Path;
use std::process::Command;

const EXP: &str = r#"(
    name: "jobs",
    model: (family: Vit, sizes: Widths([32, 48])),
    sparsity: [0.0, 0.5],
    pruning: [Gmp(update_every: 2)],
    steps: [12],
    batch_size: 8,
    optimizer: AdamW(lr: 2e-3),
    validation: (examples: 16, every: 6),
)"#;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
}

/// Runs the experiment into `results` with `args`; returns stderr.
fn run(exp: &Path, results: &Path, args: &[&str]) -> String {
    crate::runner_support::run_points(exp, results, args).1
}

/// Every record of a results directory by file name, without its `run` part (wall time, host,
/// pid: how this session ran, not what it computed).
fn records(results: &Path) -> Vec<(String, serde_json::Value)> {
    let mut v: Vec<(String, serde_json::Value)> = std::fs::read_dir(results.join("points"))
        .unwrap()
        .flatten()
        .map(|e| {
            let mut r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap();
            assert!(r.as_object_mut().unwrap().remove("run").is_some(), "{r}");
            (e.file_name().to_string_lossy().into_owned(), r)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn points_side_by_side_give_the_records_of_points_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("jobs.ron");
    std::fs::write(&exp, EXP).unwrap();
    let (serial, side_by_side) = (dir.path().join("serial"), dir.path().join("side_by_side"));
    // one point at a time on three threads (several even on a one-core machine)
    let log = run(&exp, &serial, &["--jobs", "1", "--threads", "3"]);
    assert!(log.contains("running 1 point at once (as asked by --jobs), 3 threads each"), "{log}");
    let log = run(&exp, &side_by_side, &["--jobs", "2", "--threads", "1"]);
    assert!(log.contains("running 2 points at once (as asked by --jobs), 1 thread each"), "{log}");
    // two points trained at once: the second started before the first finished
    let second_start = log.find(": started").and_then(|i| log[i + 1..].find(": started").map(|j| i + 1 + j));
    let first_finish = log.find(": finished");
    assert!(matches!((second_start, first_finish), (Some(s), Some(f)) if s < f), "{log}");

    let (a, b) = (records(&serial), records(&side_by_side));
    assert_eq!(a.len(), 4, "{a:?}");
    for ((name_a, rec_a), (name_b, rec_b)) in a.iter().zip(&b) {
        assert_eq!(name_a, name_b);
        // losses, curves, counts and hashes: the same bits (JSON keeps every digit of an f64)
        assert_eq!(rec_a, rec_b, "{name_a}");
    }
    assert_eq!(a.len(), b.len());
}

#[test]
fn the_runner_chooses_and_logs_its_plan() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("jobs.ron");
    std::fs::write(&exp, EXP).unwrap();
    let results = dir.path().join("results");
    // one thread per tiny point; as many at once as the cores allow, at most the 4 points
    let log = run(&exp, &results, &["--threads", "1"]);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = cores.min(4);
    let line = log.lines().find(|l| l.contains("at once")).unwrap_or_else(|| panic!("no plan in:\n{log}"));
    assert!(line.contains(&format!("running {jobs} point")) && line.contains("1 thread each"), "{line}");
    // nothing left: one job, and every point skipped
    let log = run(&exp, &results, &[]);
    assert!(log.contains("running 1 point at once (one per point left)"), "{log}");
    assert_eq!(log.matches("skipped (already done)").count(), 4, "{log}");
}

#[test]
fn zero_jobs_or_threads_is_an_error_that_says_what_to_give() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("jobs.ron");
    std::fs::write(&exp, EXP).unwrap();
    for (flag, value, why) in
        [("--jobs", "0", "at least 1"), ("--threads", "0", "at least 1"), ("--jobs", "two", "not a whole number")]
    {
        let results = dir.path().join("results");
        let out = bin().arg("run").arg(&exp).arg("--results").arg(&results).args([flag, value]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        assert!(stderr.contains(flag) && stderr.contains(why), "{flag} {value}: {stderr}");
        assert!(!results.exists(), "{flag} {value}: nothing may run");
    }
}
