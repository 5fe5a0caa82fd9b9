//! `sparse-scaling run <exp.ron> [--results DIR] [--point i | --shard i/n] [--jobs k] [--threads t]`:
//! trains the selected points of an experiment, k at once with t threads each (both chosen from
//! the points' sizes and the machine unless given, `crate::runner::jobs`), skipping finished
//! ones and resuming interrupted ones from their checkpoints, then — once every point has a
//! record — fits the law named in the experiment, prints the coefficients, the quality of the
//! fit and S_opt for a few budgets, and writes the report into `<results>/report/`.
//!
//! The final analysis runs once per set of records, however many runners (shards) share the
//! results directory: the runner that finds every point done claims `<results>/analysis.claim`
//! (exclusive create, the same stale rules as a point's claim) and runs it; a runner that finds
//! the claim held leaves the analysis to its holder, and one that finds `<results>/analysis.done`
//! naming exactly these records (and this experiment file) says the analysis already ran.
//!
//! Shapes not compiled into this binary are trained by a runner built on demand with exactly
//! the file's shapes (`crate::runner::build`); `--no-build` refuses instead of building.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use super::output::println;
use crate::experiment::ExperimentFile;
use crate::runner::registry::{self, SizeTable};
use crate::runner::{self, build, PointExecutor, PointStatus, RunOptions, Selection};

/// Arguments of `sparse-scaling run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file (.ron).
    pub experiment: PathBuf,
    /// Results directory (default: `results/<experiment name>`); may be shared by several
    /// runners (shards, Slurm tasks).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Run only point i (see `check` for the indices; Slurm task i).
    #[arg(long, conflicts_with = "shard")]
    pub point: Option<usize>,
    /// Run only shard i of n (points whose index ≡ i mod n), e.g. `--shard 0/4`.
    #[arg(long)]
    pub shard: Option<String>,
    /// Points trained at once (default: chosen from the points' sizes, the cores and the memory:
    /// small models side by side, a large one alone on every core).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub jobs: Option<NonZeroUsize>,
    /// Threads of each point's training (default: chosen with --jobs; with --jobs alone, the
    /// cores shared among the jobs).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub threads: Option<NonZeroUsize>,
    /// Hide the progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// Continue with the other points when one fails.
    #[arg(long)]
    pub keep_going: bool,
    /// Take over claims from other hosts older than this many hours.
    #[arg(long, default_value_t = 24.0)]
    pub stale_after_hours: f64,
    /// Do not run the fit, analysis and report at the end.
    #[arg(long)]
    pub no_analysis: bool,
    /// Never compile: refuse shapes that are neither compiled into this binary nor in an
    /// already built runner.
    #[arg(long)]
    pub no_build: bool,
}

/// `--jobs` and `--threads`: a whole number of at least 1.
fn at_least_one(s: &str) -> Result<NonZeroUsize, String> {
    let n: usize =
        s.trim().parse().map_err(|_| format!("`{s}` is not a whole number; give a count of at least 1, e.g. 2"))?;
    NonZeroUsize::new(n).ok_or_else(|| "it must be at least 1 (leave the option out to let the runner choose)".into())
}

/// Runs `sparse-scaling run` with the training executor for the shapes of `T`; a file with
/// other shapes runs through its on-demand runner (built first if needed), whose exit status
/// becomes this process's.
pub fn run<T: SizeTable>(args: Args) -> super::CliResult {
    let file = ExperimentFile::load(&args.experiment)?;
    let points = file.expand()?;
    let missing = registry::missing_in_file::<T>(&file, &points);
    if !missing.is_empty() {
        let env = build::BuildEnv::from_env();
        let runner = build::prepare(&env, &file, &points, missing, args.no_build)?;
        std::process::exit(build::exec(&runner)?);
    }
    run_with(args, &runner::executor::TrainExecutor::<T>::default())
}

/// Runs `sparse-scaling run` with any executor (tests use a fake one).
pub fn run_with(args: Args, executor: &dyn PointExecutor) -> super::CliResult {
    let file = ExperimentFile::load(&args.experiment)?;
    let points = file.expand()?;
    super::memory::check(&file, &points)?;
    let results = args.results.clone().unwrap_or_else(|| super::plan::default_results(&file.experiment.name));
    let selection = match (args.point, &args.shard) {
        (Some(i), _) => Selection::Point(i),
        (None, Some(s)) => Selection::parse_shard(s)?,
        (None, None) => Selection::All,
    };
    if !(args.stale_after_hours.is_finite() && args.stale_after_hours >= 0.0) {
        return Err("--stale-after-hours must be a non-negative number of hours".into());
    }
    let opts = RunOptions {
        results: results.clone(),
        selection,
        jobs: args.jobs,
        threads: args.threads,
        stale_after: Duration::from_secs_f64(args.stale_after_hours * 3600.0),
        progress: !args.no_progress,
        keep_going: args.keep_going,
        ..RunOptions::new(&results)
    };
    let store = crate::results::ResultsDir::open(&results)?;
    // keep the experiment next to its results, so that `report <dir>` knows its points and
    // analysis (written atomically; the last experiment run against the directory wins)
    let copy = store.root().join("experiment.ron");
    let tmp = store.root().join(format!(".experiment.ron.{}", std::process::id()));
    if std::fs::write(&tmp, &file.source).is_ok() {
        let _ = std::fs::rename(&tmp, &copy);
    }
    super::output::eprintln(format_args!(
        "experiment `{}`: {} points, {} selected, results in {}",
        file.experiment.name,
        points.len(),
        selection.select(&points)?.len(),
        results.display()
    ));
    let report = runner::run(&file.experiment.name, &points, &file.base_dir(), executor, &opts)?;
    let trained = report.count(|s| *s == PointStatus::Trained);
    let done = report.count(|s| *s == PointStatus::AlreadyDone);
    let elsewhere = report.count(|s| *s == PointStatus::ClaimedElsewhere);
    let failed = report.count(|s| matches!(s, PointStatus::Failed(_)));
    println(format_args!(
        "sweep: trained {trained}, already done {done}, claimed by other runners {elsewhere}, failed {failed}"
    ))?;
    for (i, hash, s) in &report.points {
        if let PointStatus::Failed(msg) = s {
            super::output::eprintln(format_args!("point {i} ({hash}) failed: {msg}"));
        }
    }
    if !report.all_finished {
        let missing = points.iter().filter(|p| !store.is_finished(&p.hash)).count();
        println(format_args!(
            "{missing} of {} points have no record yet; the analysis runs once all are done",
            points.len()
        ))?;
        if failed > 0 {
            return Err(format!("{failed} point(s) failed").into());
        }
        return Ok(());
    }
    if args.no_analysis {
        return Ok(());
    }
    let Some(turn) = store.try_claim_analysis(opts.stale_after)? else {
        println(format_args!(
            "every point has a record; another runner is running the final analysis ({} is held)",
            store.root().join("analysis.claim").display()
        ))?;
        return if failed > 0 { Err(format!("{failed} point(s) failed").into()) } else { Ok(()) };
    };
    if let Some(whose) = turn.took_over() {
        super::output::eprintln(format_args!("took over a stale claim on the final analysis ({whose})"));
    }
    let key = analysis_key(&file.source, &points, &store);
    let done = store.analysis_done_path();
    if std::fs::read_to_string(&done).is_ok_and(|k| k.trim() == key) {
        println(format_args!(
            "the final analysis already ran on exactly these records (report: {}); `sparse-scaling report {}` writes it again",
            store.report_dir().display(),
            results.display()
        ))?;
        return if failed > 0 { Err(format!("{failed} point(s) failed").into()) } else { Ok(()) };
    }
    let hashes: Vec<String> = points.iter().map(|p| p.hash.clone()).collect();
    let summary = crate::report::write_report(&results, file.experiment.analysis.as_ref(), Some(&hashes), None, false)?;
    if !summary.text.is_empty() {
        println(&summary.text)?;
    }
    println(format_args!("report: {}", store.report_dir().display()))?;
    // (best effort: without the marker a later runner only runs the analysis again)
    let tmp = store.root().join(format!(".analysis.done.{}", std::process::id()));
    if std::fs::write(&tmp, format!("{key}\n")).is_ok() {
        let _ = std::fs::rename(&tmp, &done);
    }
    drop(turn);
    if failed > 0 {
        return Err(format!("{failed} point(s) failed").into());
    }
    Ok(())
}

/// What the final analysis depends on: the experiment file's text and every point's record, its
/// content and when it was written (so a re-trained point changes the key), as a SHA-256 in hex.
fn analysis_key(source: &str, points: &[crate::experiment::Point], store: &crate::results::ResultsDir) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    for p in points {
        h.update(p.hash.as_bytes());
        let path = store.record_path(&p.hash);
        h.update(std::fs::read(&path).unwrap_or_default());
        let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let nanos = written.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        h.update(nanos.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
