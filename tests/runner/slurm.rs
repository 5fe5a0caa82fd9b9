//! `plan --slurm` on a real Slurm cluster (issue 12 part 7): the generated job array is
//! submitted with `sbatch` and polled with `squeue` until it is done. One test checks that every
//! point gets exactly one record, the final analysis runs once and each task's log names its
//! point, with more array tasks than run at once; the other cancels a task in the middle of its
//! point (`scancel`), resubmits it, and checks that the resumed record equals an uninterrupted
//! one.
//!
//! They need a cluster that answers `sinfo` and accepts jobs from this user (start one with
//! `.ci/slurm-up.sh`). With `SPARSE_SCALING_SLURM_TESTS=1` (as `.ci/run` sets) a missing
//! cluster is a failure; without it they print a note and skip, so that `cargo test` passes on a
//! machine without Slurm.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sparse_scaling::results::{Outcome, Record, ResultsDir};

/// How long a job may take before the test gives up.
const JOB_TIMEOUT: Duration = Duration::from_secs(300);

/// Six tiny points (ViT width 32, a few steps each).
const SMALL: &str = r#"(
    name: "slurm-small",
    model: (family: Vit, sizes: Widths([32])),
    sparsity: [0.0, 0.5, 0.75],
    pruning: [Gmp(update_every: 4)],
    steps: [16, 24],
    batch_size: 8,
    validation: (examples: 32, every: 8),
)"#;

/// Two points of 1500 steps (several seconds each), checkpointed every 50 steps.
const LONG: &str = r#"(
    name: "slurm-long",
    model: (family: Vit, sizes: Widths([32])),
    sparsity: [0.0, 0.5],
    pruning: [Gmp(update_every: 10)],
    steps: [1500],
    batch_size: 16,
    validation: (examples: 32, every: 100),
    checkpoint_every: 50,
)"#;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
}

/// Runs a command, returns its stdout; panics with its stderr if it fails.
fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{cmd:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The number of CPUs of the cluster's node, or `None` (after a note) when no cluster answers
/// and the Slurm tests are not required.
fn cluster_cpus() -> Option<usize> {
    let required = std::env::var("SPARSE_SCALING_SLURM_TESTS").is_ok_and(|v| v == "1");
    let answer = Command::new("sinfo").args(["-h", "-o", "%c %T"]).output();
    let problem = match &answer {
        Err(e) => format!("`sinfo` cannot be run ({e})"),
        Ok(o) if !o.status.success() => format!("`sinfo` failed: {}", String::from_utf8_lossy(&o.stderr).trim()),
        Ok(o) if String::from_utf8_lossy(&o.stdout).trim().is_empty() => "`sinfo` lists no node".to_string(),
        Ok(_) if Command::new("sbatch").arg("--version").output().is_err() => "`sbatch` is not on PATH".into(),
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let cpus = text.split_whitespace().next().and_then(|c| c.trim_end_matches('+').parse().ok());
            return Some(
                cpus.unwrap_or_else(|| panic!("cannot read the CPU count from `sinfo -h -o '%c %T'`: {text}")),
            );
        }
    };
    if required {
        panic!("SPARSE_SCALING_SLURM_TESTS=1 but no Slurm cluster answers: {problem}\n  fix: start one with .ci/slurm-up.sh (as root)");
    }
    eprintln!("note: Slurm tests skipped: {problem} (start a cluster with .ci/slurm-up.sh; set SPARSE_SCALING_SLURM_TESTS=1 to require it)");
    None
}

/// A submitted job; cancelled when dropped, so that a failing test leaves nothing running.
struct Job(String);

impl Job {
    /// `sbatch --parsable [extra] script`.
    fn submit(script: &Path, extra: &[&str]) -> Job {
        let out = output(Command::new("sbatch").arg("--parsable").args(extra).arg(script));
        let id = out.trim().split(';').next().unwrap_or_default().to_string();
        assert!(id.parse::<u64>().is_ok(), "sbatch --parsable printed no job id: {out:?}");
        Job(id)
    }

    /// The array tasks still known to `squeue`: (task, state).
    fn queued(&self) -> Vec<(String, String)> {
        let out = output(Command::new("squeue").args(["-h", "-r", "-j", &self.0, "-o", "%K %T"]));
        out.lines().filter_map(|l| l.split_once(' ')).map(|(k, s)| (k.to_string(), s.to_string())).collect()
    }

    /// Polls `squeue` until no task of the job is left (`sbatch --wait` polls too slowly).
    fn wait(&self) {
        let started = Instant::now();
        loop {
            let queued = self.queued();
            if queued.is_empty() {
                return;
            }
            assert!(started.elapsed() < JOB_TIMEOUT, "job {} still queued after {JOB_TIMEOUT:?}: {queued:?}", self.0);
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The final state of each array task (`scontrol show job`, kept for MinJobAge after the end).
    fn states(&self) -> BTreeMap<usize, String> {
        let out = output(Command::new("scontrol").args(["show", "job", "-o", &self.0]));
        let field = |line: &str, key: &str| {
            line.split_whitespace().find_map(|w| w.strip_prefix(key)).map(str::to_string).unwrap_or_default()
        };
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| (field(l, "ArrayTaskId=").parse().unwrap_or(usize::MAX), field(l, "JobState=")))
            .collect()
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = Command::new("scancel").arg(&self.0).output();
    }
}

/// Writes the experiment and `plan --slurm` its job script (with `extra` plan flags).
fn plan(dir: &Path, name: &str, ron: &str, results: &Path, extra: &[&str]) -> PathBuf {
    let exp = dir.join(format!("{name}.ron"));
    std::fs::write(&exp, ron).unwrap();
    let script = dir.join(format!("{name}.sh"));
    let out = output(bin().arg("plan").arg(&exp).arg("--slurm").arg(&script).arg("--results").arg(results).args(extra));
    assert!(out.contains("sbatch"), "{out}");
    assert!(results.join("slurm").is_dir(), "plan --slurm creates the log folder before submission");
    script
}

/// Every record, by point index; panics if a point has two.
fn records(results: &Path) -> BTreeMap<usize, Record> {
    let mut by_index = BTreeMap::new();
    for r in ResultsDir::open(results).unwrap().records().unwrap() {
        let i = r.index;
        assert!(by_index.insert(i, r).is_none(), "two records of point {i}");
    }
    by_index
}

/// The tasks' logs of job `id`: task -> text.
fn logs(results: &Path, id: &str) -> BTreeMap<usize, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(results.join("slurm")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(task) = name.strip_prefix(&format!("{id}_")).and_then(|r| r.strip_suffix(".out")) {
            out.insert(task.parse().unwrap(), std::fs::read_to_string(e.path()).unwrap());
        }
    }
    out
}

const ANALYSIS: &str = "running the final analysis";

#[test]
fn job_array_writes_every_record_once_and_the_report_once() {
    let Some(cpus) = cluster_cpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    // a space in the path: the log folder of `#SBATCH --output` must survive it
    let results = dir.path().join("shared results");
    // two tasks run at once, the others wait: more tasks than run at once (and than cores here)
    let per_task = (cpus / 2).max(1).to_string();
    let script = plan(dir.path(), "small", SMALL, &results, &["--cpus-per-task", &per_task, "--time", "00:10:00"]);
    let job = Job::submit(&script, &[]);
    job.wait();

    let states = job.states();
    assert_eq!(states.len(), 6, "six array tasks: {states:?}");
    assert!(states.values().all(|s| s == "COMPLETED"), "every task completed: {states:?}");
    let recs = records(&results);
    assert_eq!(recs.keys().copied().collect::<Vec<_>>(), (0..6).collect::<Vec<_>>(), "one record per point");
    let logs = logs(&results, &job.0);
    assert_eq!(logs.len(), 6, "one log per task: {:?}", logs.keys());
    for (task, text) in &logs {
        assert!(text.contains(&format!("task {task} on ")) && text.contains(&format!("point {task} of 6")), "{text}");
        assert!(text.contains("trained 1, already done 0"), "task {task} trained its point:\n{text}");
    }
    let ran: Vec<&usize> = logs.iter().filter(|(_, t)| t.contains(ANALYSIS)).map(|(k, _)| k).collect();
    assert_eq!(ran.len(), 1, "the final analysis ran in exactly one task: {ran:?}");
    let report_lines: usize = logs.values().map(|t| t.lines().filter(|l| l.starts_with("report: ")).count()).sum();
    assert_eq!(report_lines, 1, "the report was written once");
    let csv = std::fs::read_to_string(results.join("report").join("points.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6, "the report lists the six points:\n{csv}");
    let leftovers: Vec<String> = std::fs::read_dir(results.join("points"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".json"))
        .collect();
    assert!(leftovers.is_empty(), "no claims or temporary files left: {leftovers:?}");
}

#[test]
fn cancelled_task_resubmitted_resumes_to_the_uninterrupted_record() {
    let Some(_) = cluster_cpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let script = plan(dir.path(), "long", LONG, &results, &["--cpus-per-task", "1", "--time", "00:10:00"]);
    let exp = dir.path().join("long.ron");

    // the uninterrupted reference of point 1, run directly
    let reference = dir.path().join("reference");
    output(bin().arg("run").arg(&exp).arg("--results").arg(&reference).args(["--point", "1", "--no-progress"]));
    let want: Outcome = records(&reference).remove(&1).expect("reference record of point 1").outcome;

    // submit; once point 1 has a checkpoint, cancel its task
    let job = Job::submit(&script, &[]);
    let listing = output(bin().arg("check").arg(&exp));
    let hash = listing
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.first() == Some(&"1"))
        .and_then(|w| w.get(1).map(|h| h.to_string()))
        .unwrap_or_else(|| panic!("`check` lists point 1 with its hash:\n{listing}"));
    let ckpt = results.join("checkpoints").join(&hash).join("train.ckpt");
    let started = Instant::now();
    while !ckpt.exists() {
        assert!(started.elapsed() < JOB_TIMEOUT, "no checkpoint {} after {JOB_TIMEOUT:?}", ckpt.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    output(Command::new("scancel").arg(format!("{}_1", job.0)));
    job.wait();
    let states = job.states();
    assert_eq!(states.get(&0).map(String::as_str), Some("COMPLETED"), "{states:?}");
    assert_eq!(states.get(&1).map(String::as_str), Some("CANCELLED"), "{states:?}");
    let recs = records(&results);
    assert!(recs.contains_key(&0) && !recs.contains_key(&1), "point 1 was cancelled before its record");
    assert!(ckpt.exists(), "the cancelled task's checkpoint stays");
    let claim = results.join("points").join(format!("{hash}.claim"));
    assert!(!claim.exists(), "the cancelled task released its claim (a task on another node may take the point)");
    let log = logs(&results, &job.0);
    assert!(log[&1].contains("released the claim on point 1"), "{}", log[&1]);
    assert!(log.values().all(|t| !t.contains(ANALYSIS)), "no analysis while a point is missing");

    // resubmit task 1 only: it resumes from the checkpoint and, as the last point, runs the analysis
    let again = Job::submit(&script, &["--array=1"]);
    again.wait();
    assert_eq!(again.states().get(&1).map(String::as_str), Some("COMPLETED"));
    let recs = records(&results);
    assert_eq!(recs.len(), 2);
    let resumed = &recs[&1];
    assert!(resumed.run.resumed_from_step > 0, "point 1 resumed from its checkpoint");
    assert!(resumed.run.resumed_from_step < 1500);
    assert_eq!(resumed.outcome, want, "the resumed record equals the uninterrupted one");
    assert!(!ckpt.exists(), "checkpoint removed once the record is written");
    let log = logs(&results, &again.0);
    assert!(log[&1].contains(ANALYSIS) && log[&1].contains("report: "), "{}", log[&1]);
}
