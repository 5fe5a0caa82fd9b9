//! Logs that serve a cluster: without progress bars (stderr not a terminal, or `--no-progress`)
//! the runner writes timestamped lines — a point started, resumed from a step, skipped,
//! finished with its hash, loss and steps/s — and a heartbeat during each point.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sparse_scaling::experiment::{ExperimentFile, Point};
use sparse_scaling::runner::{self, registry::UnsupportedSize, ExecContext, Execution, PointExecutor, RunOptions};
use sparse_scaling::train::progress::LineLog;

use crate::runner_support::KnownLaw;

const EXP: &str = r#"(
    name: "logs",
    model: (family: Vit, sizes: Widths([32])),
    sparsity: [0.0, 0.5],
    steps: [20],
)"#;

/// Waits until the log shows a heartbeat of its point (up to 10 s), reporting a resumed
/// session for point 1, then finishes like [`KnownLaw`].
struct WaitsForHeartbeat {
    log: LineLog,
}

impl PointExecutor for WaitsForHeartbeat {
    fn supports(&self, _point: &Point) -> Result<(), UnsupportedSize> {
        Ok(())
    }
    fn execute(
        &self,
        point: &Point,
        ctx: &ExecContext<'_>,
    ) -> Result<Execution, Box<dyn std::error::Error + Send + Sync>> {
        let from = if point.index == 1 { 5 } else { 0 };
        ctx.progress.update(from, point.spec.steps, None);
        ctx.progress.update(from + 3, point.spec.steps, None);
        let t = Instant::now();
        let beat = |l: &String| l.contains(&point.hash) && l.contains("heartbeat");
        while !self.log.lines().iter().any(beat) && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut e = KnownLaw.execute(point, ctx)?;
        e.resumed_from_step = from;
        Ok(e)
    }
}

/// `2026-11-29T00:27:02Z ` at the start of a line.
fn timestamped(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 21 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && &line[19..21] == "Z "
}

#[test]
fn without_bars_the_runner_logs_timestamped_events_and_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let pts = ExperimentFile::from_str("logs.ron", EXP).unwrap().expand().unwrap();
    let mut opts = RunOptions::new(dir.path());
    opts.progress = true; // a log in memory gets lines even when bars were asked for
    opts.log = LineLog::memory();
    opts.heartbeat = Duration::from_millis(20);
    let exec = WaitsForHeartbeat { log: opts.log.clone() };
    runner::run("logs", &pts, Path::new("."), &exec, &opts).unwrap();
    let lines = opts.log.lines();
    let all = lines.join("\n");
    assert!(lines.iter().all(|l| timestamped(l)), "{all}");
    let find = |p: &Point, what: &str| {
        lines
            .iter()
            .find(|l| l.contains(&format!("point #{} {}", p.index, p.hash)) && l.contains(what))
            .unwrap_or_else(|| panic!("no `{what}` line for point {}:\n{all}", p.index))
            .clone()
    };
    find(&pts[0], ": started");
    find(&pts[1], "resumed from step 5 of 20");
    for p in &pts {
        let beat = find(p, "heartbeat");
        assert!(beat.contains("step ") && beat.contains("/20") && beat.contains("steps/s"), "{beat}");
        let done = find(p, ": finished");
        assert!(done.contains("final validation loss") && done.contains("steps/s"), "{done}");
    }
    assert!(find(&pts[1], ": finished").contains("resumed from step 5"));

    // again: every point is skipped, and says so
    let again = RunOptions { log: LineLog::memory(), ..opts.clone() };
    runner::run("logs", &pts, Path::new("."), &KnownLaw, &again).unwrap();
    for p in &pts {
        let text = again.log.lines().join("\n");
        assert!(text.contains(&format!("point #{} {}: skipped (already done)", p.index, p.hash)), "{text}");
    }
}

#[test]
fn a_trained_point_logs_the_training_loops_steps_in_its_heartbeat() {
    // the real executor on a tiny ViT: the heartbeat reads the loop's own steps and loss
    let exp = r#"(
        name: "beat",
        model: (family: Vit, sizes: Widths([32])),
        sparsity: [0.5],
        steps: [40],
        batch_size: 4,
        validation: (examples: 8, every: 40),
    )"#;
    let dir = tempfile::tempdir().unwrap();
    let pts = ExperimentFile::from_str("beat.ron", exp).unwrap().expand().unwrap();
    let mut opts = RunOptions::new(dir.path());
    opts.progress = false;
    opts.log = LineLog::memory();
    opts.heartbeat = Duration::from_millis(1);
    let exec = runner::executor::TrainExecutor::<runner::registry::Builtin>::default();
    runner::run("beat", &pts, Path::new("."), &exec, &opts).unwrap();
    let lines = opts.log.lines();
    assert!(
        lines.iter().any(|l| l.contains("heartbeat: step ") && l.contains("training loss")),
        "no heartbeat with the loop's step and loss:\n{}",
        lines.join("\n")
    );
}

#[test]
fn run_without_progress_writes_plain_lines_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("logs.ron");
    std::fs::write(
        &exp,
        r#"(
        name: "logs",
        model: (family: Vit, sizes: Widths([32])),
        sparsity: [0.0],
        steps: [10],
        batch_size: 4,
        validation: (examples: 8, every: 10),
    )"#,
    )
    .unwrap();
    let results = dir.path().join("results");
    let o = Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
        .arg("run")
        .arg(&exp)
        .arg("--results")
        .arg(&results)
        .args(["--no-progress", "--no-analysis"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let hash = &ExperimentFile::load(&exp).unwrap().expand().unwrap()[0].hash;
    for what in [": started", ": finished: final validation loss"] {
        let line = err
            .lines()
            .find(|l| l.contains(&format!("point #0 {hash}{what}")))
            .unwrap_or_else(|| panic!("no `{what}` line:\n{err}"));
        assert!(timestamped(line), "{line}");
    }
}
