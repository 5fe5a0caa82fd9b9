//! Plans and runs experiments: selects points (`--point i`, `--shard i/n`), skips finished
//! ones, claims each point so that concurrent runners never train the same point twice,
//! trains it (resuming from its checkpoint if one exists), writes its record atomically, and
//! when every point of the experiment has a record runs the experiment's fit and analysis
//! and writes the report (docs/THEORY.md §1–3).
//!
//! Training a point is behind [`PointExecutor`], so the runner's bookkeeping is tested with
//! a deterministic fake, and the real executor dispatches to
//! the monomorphised training code of the compiled sizes ([`registry`]).
//!
//! Points run side by side, each on its own rayon thread pool: how many at once and with how
//! many threads each is chosen per sweep from the points' sizes and the machine ([`jobs`]),
//! unless `--jobs`/`--threads` say otherwise ([`RunOptions::jobs`], [`RunOptions::threads`]).
//! Every op gives the same bits for any number of threads, so the records do not depend on it.
//!
//! A damaged record (see [`crate::results::Damage`]) is moved aside, kept, and its point
//! re-trained, saying so; temporary files of dead writers are removed before the run.
//!
//! What happens is reported as events — a point started, resumed (from which step), skipped,
//! re-trained over a damaged record, finished (loss, steps/s) or failed — on the sweep's
//! progress bar on a terminal (with a bar per running point), else as timestamped log lines
//! on stderr with a heartbeat (step, loss, steps/s) every [`RunOptions::heartbeat`] during each
//! point ([`crate::train::progress`]); every line names its point.

pub mod build;
pub mod executor;
pub mod jobs;
pub mod registry;
pub mod slurm;
pub mod streams;
mod sweep;

pub use sweep::{run_sweep, SweepOutcome};

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::experiment::{ExperimentError, Point};
use crate::results::{host_name, Outcome, Record, RecordState, ResultsDir, ResultsError, RunInfo, RECORD_FORMAT};
use crate::train::progress::{self, duration_text, LineLog, LiveSteps};

/// Errors of planning and running.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The experiment file is malformed or invalid.
    #[error(transparent)]
    Spec(#[from] ExperimentError),
    /// The results store failed.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// `--point` is out of range.
    #[error("--point {index} is out of range: the experiment has {count} points (0..={last})\n  fix: list them with `sparse-scaling check <exp.ron>`", last = count.saturating_sub(1))]
    PointOutOfRange {
        /// Requested index.
        index: usize,
        /// Number of points.
        count: usize,
    },
    /// A point's thread pool could not be started.
    #[error("could not start a pool of {threads} threads for a point: {message}\n  fix: lower --threads (or --jobs), or raise the limit on threads (`ulimit -u`)")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// Why it failed.
        message: String,
    },
    /// `--shard` is malformed.
    #[error("--shard `{given}` is invalid: {why}\n  fix: write `--shard i/n` with 0 ≤ i < n, e.g. `--shard 0/4`")]
    BadShard {
        /// What was given.
        given: String,
        /// Why it is invalid.
        why: String,
    },
    /// Writing the report (fit, analysis, plots) failed.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A size of the experiment has no compiled training code.
    #[error(transparent)]
    Unsupported(#[from] registry::UnsupportedSize),
    /// Training a point failed.
    #[error("point {index} ({hash}) failed: {message}")]
    Point {
        /// Index.
        index: usize,
        /// Hash.
        hash: String,
        /// The executor's error.
        message: String,
    },
}

/// Which points of an experiment a runner takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Selection {
    /// All points.
    #[default]
    All,
    /// One point by index (Slurm task i).
    Point(usize),
    /// Points whose index ≡ `index` (mod `count`).
    Shard {
        /// This shard, 0-based.
        index: usize,
        /// Number of shards.
        count: usize,
    },
}

impl Selection {
    /// Parses `i/n`.
    pub fn parse_shard(s: &str) -> Result<Selection, RunError> {
        let bad = |why: &str| RunError::BadShard { given: s.to_string(), why: why.to_string() };
        let (a, b) = s.split_once('/').ok_or_else(|| bad("no `/`"))?;
        let index: usize = a.trim().parse().map_err(|_| bad("i is not a whole number"))?;
        let count: usize = b.trim().parse().map_err(|_| bad("n is not a whole number"))?;
        if count == 0 {
            return Err(bad("n must be at least 1"));
        }
        if index >= count {
            return Err(bad("i must be smaller than n"));
        }
        Ok(Selection::Shard { index, count })
    }

    /// The selected points.
    pub fn select<'a>(&self, points: &'a [Point]) -> Result<Vec<&'a Point>, RunError> {
        Ok(match *self {
            Selection::All => points.iter().collect(),
            Selection::Point(i) => {
                vec![points.get(i).ok_or(RunError::PointOutOfRange { index: i, count: points.len() })?]
            }
            Selection::Shard { index, count } => points.iter().filter(|p| p.index % count == index).collect(),
        })
    }
}

/// Progress of a running point, reported by executors.
pub trait PointProgress: Sync {
    /// `step` of `total` steps done; the latest validation loss if any.
    fn update(&self, step: u64, total: u64, val_loss: Option<f64>);
    /// One plain line for the run log (such as what the point's data loader read). Default:
    /// dropped.
    fn log(&self, _line: &str) {}
}

/// Where and how a point runs.
pub struct ExecContext<'a> {
    /// The point's checkpoint directory (exists; empty when starting fresh).
    pub checkpoint_dir: &'a Path,
    /// Relative data paths in the experiment are resolved against this.
    pub base_dir: &'a Path,
    /// Progress sink.
    pub progress: &'a dyn PointProgress,
}

/// What executing a point returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The deterministic results.
    pub outcome: Outcome,
    /// Wall-clock seconds of this session.
    pub wall_seconds: f64,
    /// Steps per second.
    pub steps_per_second: f64,
    /// Step this session resumed from (0: fresh).
    pub resumed_from_step: u64,
}

/// Trains one point. Implementations must be deterministic in the point (same point → same
/// [`Outcome`]) and resume from the checkpoint directory if it holds a checkpoint.
pub trait PointExecutor: Sync {
    /// Whether this executor can run the point at all (e.g. its size is compiled in).
    fn supports(&self, point: &Point) -> Result<(), registry::UnsupportedSize>;
    /// Trains the point.
    fn execute(
        &self,
        point: &Point,
        ctx: &ExecContext<'_>,
    ) -> Result<Execution, Box<dyn std::error::Error + Send + Sync>>;
}

/// Options of [`run`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Results directory.
    pub results: PathBuf,
    /// Which points.
    pub selection: Selection,
    /// Points trained at once (`None`: chosen from the points and the machine, [`jobs::choose`]).
    pub jobs: Option<NonZeroUsize>,
    /// Threads of each point's training (`None`: chosen, [`jobs::choose`]).
    pub threads: Option<NonZeroUsize>,
    /// A claim older than this from another host counts as abandoned.
    pub stale_after: Duration,
    /// Show progress bars when stderr is a terminal; otherwise (or when `false`) the runner
    /// writes timestamped log lines into `log`.
    pub progress: bool,
    /// Keep going after a point fails (its error is reported at the end).
    pub keep_going: bool,
    /// Seconds between heartbeat lines during a point (log lines only).
    pub heartbeat: Duration,
    /// Where log lines go (stderr by default; a log in memory is always written to, bars or
    /// not).
    pub log: LineLog,
}

impl RunOptions {
    /// Defaults: all points, jobs and threads chosen per sweep ([`jobs::choose`]), claims
    /// stale after 24 h, progress on, a heartbeat every [`progress::heartbeat_interval`] (60 s
    /// unless `SPARSE_SCALING_HEARTBEAT_SECS` says otherwise), log lines to stderr.
    pub fn new(results: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            results: results.into(),
            selection: Selection::All,
            jobs: None,
            threads: None,
            stale_after: Duration::from_secs(24 * 3600),
            progress: true,
            keep_going: false,
            heartbeat: progress::heartbeat_interval(),
            log: LineLog::stderr(),
        }
    }
}

/// What happened to each selected point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointStatus {
    /// Trained by this runner now.
    Trained,
    /// Already had a record.
    AlreadyDone,
    /// Another live runner holds its claim.
    ClaimedElsewhere,
    /// Training failed (with `keep_going`).
    Failed(String),
}

/// Summary of a [`run`].
#[derive(Debug, Clone)]
pub struct RunReport {
    /// (index, hash, status) for every selected point, by index.
    pub points: Vec<(usize, String, PointStatus)>,
    /// Whether every point of the experiment now has a record.
    pub all_finished: bool,
}

impl RunReport {
    /// Number of points with this status.
    pub fn count(&self, f: impl Fn(&PointStatus) -> bool) -> usize {
        self.points.iter().filter(|p| f(&p.2)).count()
    }
}

/// Where the runner's events go: the sweep's progress bar (terminal) or log lines.
struct Events {
    sweep: ProgressBar,
    lines: Option<LineLog>,
}

impl Events {
    fn say(&self, message: String) {
        match &self.lines {
            Some(log) => log.line(&message),
            None => self.sweep.println(message),
        }
    }
}

/// `point #i <hash>`: how events name a point.
fn point_name(point: &Point) -> String {
    format!("point #{} {}", point.index, point.hash)
}

/// What the runner knows of a running point: its bar, where its steps are, and from which
/// step this session started.
struct PointWatch<'a> {
    bar: ProgressBar,
    live: Arc<LiveSteps>,
    first_step: AtomicU64,
    events: &'a Events,
    name: String,
}

impl PointProgress for PointWatch<'_> {
    fn update(&self, step: u64, total: u64, val_loss: Option<f64>) {
        self.bar.set_length(total);
        self.bar.set_position(step);
        if let Some(l) = val_loss {
            self.bar.set_message(format!("val {l:.4}"));
        }
        self.live.record(step, None);
        if self.first_step.compare_exchange(u64::MAX, step, Ordering::SeqCst, Ordering::SeqCst).is_ok() && step > 0 {
            self.events.say(format!("{}: resumed from step {step} of {total}", self.name));
        }
    }

    /// Above the progress bars, or on stderr when they are hidden.
    fn log(&self, line: &str) {
        if self.bar.is_hidden() {
            let _ = std::io::Write::write_fmt(&mut std::io::stderr().lock(), format_args!("{line}\n"));
        } else {
            self.bar.println(line);
        }
    }
}

/// Runs the selected points of `points` (the full expansion of the experiment; `base_dir`
/// resolves its relative data paths) with `executor`.
pub fn run(
    experiment_name: &str,
    points: &[Point],
    base_dir: &Path,
    executor: &dyn PointExecutor,
    opts: &RunOptions,
) -> Result<RunReport, RunError> {
    let selected = opts.selection.select(points)?;
    for p in &selected {
        executor.supports(p)?;
    }
    let store = ResultsDir::open(&opts.results)?;
    let bars = opts.progress && opts.log.is_stderr() && std::io::stderr().is_terminal();
    let multi =
        MultiProgress::with_draw_target(if bars { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    let sweep = multi.add(ProgressBar::new(selected.len() as u64));
    sweep.set_style(
        ProgressStyle::with_template("sweep {bar:30.cyan/blue} {pos}/{len} points {msg} [{elapsed_precise}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let point_style =
        ProgressStyle::with_template("  {prefix} {bar:30} {pos}/{len} steps {msg} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    let events = Events { sweep: sweep.clone(), lines: (!bars).then(|| opts.log.clone()) };
    for removed in store.clean_stale_temps() {
        events.say(format!("removed {}, a temporary file of a writer that died", removed.display()));
    }

    let machine = jobs::Machine::this();
    let plan = plan_jobs(&selected, &store, machine, opts);
    events.say(plan.describe(machine));
    let pools = (0..plan.jobs)
        .map(|_| rayon::ThreadPoolBuilder::new().num_threads(plan.threads).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RunError::ThreadPool { threads: plan.threads, message: e.to_string() })?;

    let next = AtomicUsize::new(0);
    let statuses: Mutex<Vec<(usize, String, PointStatus)>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<RunError>> = Mutex::new(None);
    let ctx = RunContext {
        experiment_name,
        base_dir,
        executor,
        store: &store,
        opts,
        multi: &multi,
        style: &point_style,
        events: &events,
    };

    // each job trains its points on its own pool
    let worker = |pool: &rayon::ThreadPool| loop {
        if !opts.keep_going && first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
            return;
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        let Some(point) = selected.get(i) else { return };
        let status = match pool.install(|| run_one(&ctx, point)) {
            Ok(s) => s,
            Err(e) => {
                let msg = crate::error_chain(&e);
                let why = match &e {
                    RunError::Point { message, .. } => message.clone(),
                    _ => msg.clone(),
                };
                events.say(format!("{}: FAILED: {why}", point_name(point)));
                if let Ok(mut fe) = first_error.lock() {
                    if fe.is_none() {
                        *fe = Some(e);
                    }
                }
                PointStatus::Failed(msg)
            }
        };
        sweep.inc(1);
        if let Ok(mut s) = statuses.lock() {
            s.push((point.index, point.hash.clone(), status));
        }
    };
    let worker = &worker;
    std::thread::scope(|scope| {
        for pool in &pools {
            scope.spawn(move || worker(pool));
        }
    });
    sweep.finish_and_clear();

    let mut points_status = statuses.into_inner().unwrap_or_default();
    points_status.sort_by_key(|p| p.0);
    if !opts.keep_going {
        if let Some(e) = first_error.into_inner().ok().flatten() {
            return Err(e);
        }
    }
    let all_finished = points.iter().all(|p| store.is_finished(&p.hash));
    Ok(RunReport { points: points_status, all_finished })
}

/// The plan for the selected points still without a record, on this machine.
fn plan_jobs(selected: &[&Point], store: &ResultsDir, machine: jobs::Machine, opts: &RunOptions) -> jobs::JobPlan {
    let remaining: Vec<jobs::PointLoad> =
        selected.iter().filter(|p| !store.is_finished(&p.hash)).map(|p| jobs::PointLoad::of(&p.spec)).collect();
    let requested = jobs::Requested { jobs: opts.jobs, threads: opts.threads };
    jobs::choose(&remaining, machine, requested)
}

/// What every point of a [`run`] shares.
struct RunContext<'a> {
    experiment_name: &'a str,
    base_dir: &'a Path,
    executor: &'a dyn PointExecutor,
    store: &'a ResultsDir,
    opts: &'a RunOptions,
    multi: &'a MultiProgress,
    style: &'a ProgressStyle,
    events: &'a Events,
}

fn run_one(c: &RunContext<'_>, point: &Point) -> Result<PointStatus, RunError> {
    let (store, events) = (c.store, c.events);
    let name = point_name(point);
    if store.is_finished(&point.hash) {
        events.say(format!("{name}: skipped (already done)"));
        return Ok(PointStatus::AlreadyDone);
    }
    let Some(claim) = store.try_claim_with(&point.hash, c.opts.stale_after, Some(c.opts.heartbeat))? else {
        if store.is_finished(&point.hash) {
            events.say(format!("{name}: skipped (already done)"));
            return Ok(PointStatus::AlreadyDone);
        }
        let holder = store
            .claims()
            .into_iter()
            .find(|(h, _)| *h == point.hash)
            .and_then(|(_, info)| info)
            .map_or(String::new(), |i| format!(": pid {} on {}", i.pid, i.host));
        events.say(format!("{name}: skipped (claimed by another runner{holder})"));
        return Ok(PointStatus::ClaimedElsewhere);
    };
    if let Some(whose) = claim.took_over() {
        events.say(format!("{name}: took over a stale claim ({whose})"));
    }
    // under the claim no other runner writes this record: a damaged one can be moved aside
    if let RecordState::Damaged(damage) = store.check(&point.hash) {
        let from = store.record_path(&point.hash);
        let to = store.move_aside(&point.hash)?;
        events.say(format!(
            "{name}: its record {} is damaged: {damage}; moved it to {}, re-training the point",
            from.display(),
            to.display()
        ));
    }
    let ckpt = store.checkpoint_dir(&point.hash);
    std::fs::create_dir_all(&ckpt).map_err(|source| ResultsError::Io {
        action: "create",
        path: ckpt.clone(),
        source,
    })?;
    let spec = &point.spec;
    let total = spec.pruning.dense_steps() + spec.steps;
    let has_checkpoint = std::fs::read_dir(&ckpt).map(|mut d| d.next().is_some()).unwrap_or(false);
    events.say(format!(
        "{name}: {} ({} width {}, S = {}, {} steps)",
        if has_checkpoint { "resuming from its checkpoint" } else { "started" },
        spec.family,
        spec.dims.width,
        spec.sparsity,
        total
    ));
    let bar = c.multi.add(ProgressBar::new(spec.steps));
    bar.set_style(c.style.clone());
    bar.set_prefix(format!(
        "#{} {} w{} S={} D={}",
        point.index, spec.family, spec.dims.width, spec.sparsity, spec.steps
    ));
    let watch = PointWatch {
        bar: bar.clone(),
        live: Arc::new(LiveSteps::default()),
        first_step: AtomicU64::new(u64::MAX),
        events,
        name: name.clone(),
    };
    let ctx = ExecContext { checkpoint_dir: &ckpt, base_dir: c.base_dir, progress: &watch };
    let started = Instant::now();
    let heartbeat = |elapsed: Duration| {
        claim.refresh(); // runners on other hosts judge the claim by this
        if events.lines.is_none() {
            return;
        }
        let step = watch.live.step();
        let first = watch.first_step.load(Ordering::SeqCst);
        let rate = match step {
            Some(s) if first != u64::MAX && s >= first => {
                format!(", {:.2} steps/s", (s - first) as f64 / elapsed.as_secs_f64().max(1e-9))
            }
            _ => String::new(),
        };
        let at = step.map_or("preparing".to_string(), |s| {
            format!("step {s}/{total} ({:.0}%)", 100.0 * s as f64 / total.max(1) as f64)
        });
        let loss = watch.live.loss().map_or(String::new(), |l| format!(", training loss {l:.4}"));
        events.say(format!("{name}: heartbeat: {at}{loss}{rate}, running for {}", duration_text(elapsed)));
    };
    let result = progress::with_heartbeat(c.opts.heartbeat, heartbeat, || {
        progress::track_steps(watch.live.clone(), || c.executor.execute(point, &ctx))
    });
    bar.finish_and_clear();
    c.multi.remove(&bar);
    let exec = result.map_err(|e| RunError::Point {
        index: point.index,
        hash: point.hash.clone(),
        message: crate::error_chain(&*e),
    })?;
    let wall = if exec.wall_seconds > 0.0 { exec.wall_seconds } else { started.elapsed().as_secs_f64() };
    let record = Record {
        format: RECORD_FORMAT,
        hash: point.hash.clone(),
        experiment: c.experiment_name.to_string(),
        index: point.index,
        spec: point.spec.clone(),
        data_seen: point.spec.data_seen(),
        outcome: exec.outcome,
        run: RunInfo {
            wall_seconds: wall,
            steps_per_second: exec.steps_per_second,
            resumed_from_step: exec.resumed_from_step,
            host: host_name(),
            pid: std::process::id(),
            finished_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        },
    };
    store.write(&record)?;
    // the record is durable: the checkpoints are no longer needed
    let _ = std::fs::remove_dir_all(&ckpt);
    drop(claim);
    let resumed = match record.run.resumed_from_step {
        0 => String::new(),
        k => format!(", resumed from step {k}"),
    };
    events.say(format!(
        "{name}: finished: final validation loss {:.4}, {:.2} steps/s, {}{resumed}",
        record.outcome.final_val_loss,
        record.run.steps_per_second,
        duration_text(Duration::try_from_secs_f64(wall).unwrap_or_default())
    ));
    Ok(PointStatus::Trained)
}
