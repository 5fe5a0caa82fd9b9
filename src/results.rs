//! The results store: one JSON record per finished sweep point.
//!
//! Layout of a results directory:
//!
//! ```text
//! <results>/points/<hash>.json     the record of a finished point (see [`Record`])
//! <results>/points/<hash>.claim    a runner is working on the point (pid, host, start time)
//! <results>/analysis.claim          a runner is running the final analysis
//! <results>/analysis.done           the record set the final analysis last ran on
//! <results>/checkpoints/<hash>/    checkpoints of an unfinished point (removed when done)
//! <results>/report/                tables and plots written by `report`
//! <results>/points/<hash>.json.damaged-<time>   a damaged record `run` moved aside
//! ```
//!
//! **Atomic records.** A record is written to a uniquely named temporary file in `points/`,
//! flushed to disk (`fsync`), renamed over `<hash>.json` (atomic on POSIX file systems,
//! including NFS for a rename within one directory), and the directory is synced. A point
//! counts as finished only if its record exists *and parses*, so a crash at any moment
//! leaves either no record or a whole one. A failed write removes its temporary file; the
//! temporary files of writers that died (`points/.<hash>.<pid>.<n>.tmp`, whose process is gone
//! from this host) are removed by [`ResultsDir::clean_stale_temps`]. Names starting with `.` are
//! never read as records.
//!
//! **Damaged records are never dropped in silence.** A `points/<hash>.json` that is not a whole,
//! valid record of its point (truncated, empty, not JSON, a loss that is null or not a number, a
//! wrong hash, an unknown field or `format`, a directory) is a [`Damage`]: [`ResultsDir::records`]
//! fails naming every damaged file and why ([`ResultsError::Damaged`]), [`ResultsDir::scan`] returns
//! the damaged files beside the intact records (for `--skip-damaged`), and the runner moves a
//! damaged record aside ([`ResultsDir::move_aside`]) and re-trains its point.
//!
//! **Claims.** Before training a point a runner creates `<hash>.claim` with `O_EXCL`
//! (`create_new`), so among concurrent runners (several `--shard`s, Slurm tasks, `--jobs`)
//! exactly one trains each point. A claim records its process (host, pid, start time, boot id;
//! [`crate::liveness`]) and the runner's heartbeat interval, and the runner touches the claim
//! file at every heartbeat. A claim is *stale* when, on the same host, its process has exited
//! (the pid is gone, a zombie, reused by a process started at another time, or of an earlier
//! boot), or, on another host, when its last heartbeat (the file's modification time) is older
//! than three heartbeat intervals plus a minute — or, for a claim without heartbeats, older
//! than the stale timeout. A stale claim is taken over by renaming it away (only one runner's
//! rename can succeed) and claiming again; the new [`Claim`] says whose claim it took over. A runner whose claim was taken over (it was presumed dead)
//! still writes a whole record, so at worst a point is trained twice with identical results,
//! never lost or corrupted.
//!
//! **Units in records and exports.** N is the number of non-zero weights in the pruned layers
//! (attention and MLP matrices), as the trained model reports it. D is in the family's unit:
//! examples seen for ViT (steps × batch size), optimizer steps for T5 (docs/THEORY.md §1),
//! tokens seen for the decoder (steps × batch size × sequence length); for
//! pruning from a dense checkpoint D counts the sparse phase only.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::experiment::{Family, PointSpec};
use crate::liveness::Liveness;

/// Version of the record format.
pub const RECORD_FORMAT: u32 = 1;

/// Errors of the results store.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// A file or directory operation failed.
    #[error("results store: cannot {action} {}\n  fix: check that the results directory exists, is writable and its disk is not full", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A record could not be encoded.
    #[error("results store: cannot encode the record of point {hash}")]
    Encode {
        /// The point.
        hash: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// No records to build observations from.
    #[error("results store: no finished points in {}\n  fix: run the experiment first (`sparse-scaling run <exp.ron> --results {}`)", dir.display(), dir.display())]
    Empty {
        /// The results directory.
        dir: PathBuf,
    },
    /// Records of several families cannot be fitted or plotted together.
    #[error(
        "results store: {} has records of several model families ({}); one law cannot fit them and one plot cannot compare them\n  fix: choose a family with {} (report, fit and analyse accept it), or use one results directory per family",
        dir.display(),
        family_list(families),
        family_flags(families)
    )]
    MixedFamilies {
        /// The results directory (or `<records>` for records not read from a directory).
        dir: PathBuf,
        /// The families present, in order.
        families: Vec<Family>,
    },
    /// `--family` selected a family that has no records.
    #[error(
        "results store: {} has no {wanted} records (it has {})\n  fix: choose one of the families present with {}",
        dir.display(),
        family_list(found),
        family_flags(found)
    )]
    NoSuchFamily {
        /// The results directory.
        dir: PathBuf,
        /// The family asked for.
        wanted: Family,
        /// The families present.
        found: Vec<Family>,
    },
    /// The records do not form valid observations for the law crate.
    #[error("results store: the records do not form valid observations: {0}")]
    Observations(String),
    /// CSV output failed.
    #[error("results store: cannot write CSV")]
    Csv(#[from] csv::Error),
    /// The directory is not a results directory: it has no `points/` folder. Commands that only
    /// read a results directory never create one.
    #[error("{} is not a results directory (it has no points/ folder)\n  fix: give the directory passed to `sparse-scaling run --results` (default results/<experiment name>), or a CSV file", dir.display())]
    NotResults {
        /// The directory.
        dir: PathBuf,
    },
    /// Some records are damaged; nothing was dropped in silence.
    #[error(
        "results store: {} has {} damaged record{}:\n{}\n  fix: `sparse-scaling run <exp.ron> --results {}` moves damaged records aside and re-trains their points; or pass --skip-damaged to use only the intact records",
        dir.display(),
        damaged.len(),
        if damaged.len() == 1 { "" } else { "s" },
        damaged_list(damaged),
        dir.display()
    )]
    Damaged {
        /// The results directory.
        dir: PathBuf,
        /// Every damaged record, by path.
        damaged: Vec<DamagedRecord>,
    },
}

/// What is wrong with a damaged record file `points/<hash>.json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    /// The file is empty (or only white space).
    #[error("empty (its writer died before writing it)")]
    Empty,
    /// The JSON ends early.
    #[error("truncated (the file ends in the middle of the record)")]
    Truncated,
    /// The file is not JSON.
    #[error("garbage (not JSON: {message})")]
    Garbage {
        /// The parser's message, with line and column.
        message: String,
    },
    /// A loss is null, NaN or infinite (JSON has no NaN: a NaN loss is written as `null`).
    #[error("the loss `{field}` is {value}, not a finite number")]
    BadLoss {
        /// The field, e.g. `outcome.final_val_loss`.
        field: String,
        /// What it is instead (`null`, `NaN`, …).
        value: String,
    },
    /// The record is of another point.
    #[error("wrong hash: the file holds the record of point {found}")]
    WrongHash {
        /// The hash inside the file.
        found: String,
    },
    /// The record has a field that records do not have.
    #[error("unknown field `{field}`")]
    UnknownField {
        /// The field.
        field: String,
    },
    /// The record's `format` is not [`RECORD_FORMAT`].
    #[error("unknown format {found} (this version reads format {RECORD_FORMAT})")]
    UnknownFormat {
        /// The format in the file.
        found: String,
    },
    /// A directory is in place of the file.
    #[error("a directory in place of the record file")]
    Directory,
    /// The file could not be read.
    #[error("unreadable ({message})")]
    Unreadable {
        /// The OS's message.
        message: String,
    },
    /// The JSON is not a record (a missing field, a value of the wrong type).
    #[error("not a record ({message})")]
    Invalid {
        /// The decoder's message, with line and column.
        message: String,
    },
}

/// A damaged record file and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedRecord {
    /// The file, `<results>/points/<hash>.json`.
    pub path: PathBuf,
    /// The point's hash, as the file name gives it.
    pub hash: String,
    /// What is wrong.
    pub damage: Damage,
}

impl std::fmt::Display for DamagedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.damage)
    }
}

fn damaged_list(damaged: &[DamagedRecord]) -> String {
    damaged.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n")
}

/// What `points/<hash>.json` holds.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordState {
    /// No file: the point is not finished.
    Missing,
    /// A whole, valid record of the point.
    Intact(Box<Record>),
    /// A damaged file.
    Damaged(Damage),
}

/// The records of a results directory: the intact ones and the damaged files.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Intact records, sorted by (family, N, S, D, hash).
    pub records: Vec<Record>,
    /// Damaged record files, by path.
    pub damaged: Vec<DamagedRecord>,
}

impl Scan {
    /// Keeps only the records and damaged files of these point hashes.
    pub fn retain_hashes(&mut self, hashes: &[String]) {
        self.records.retain(|r| hashes.contains(&r.hash));
        self.damaged.retain(|d| hashes.contains(&d.hash));
    }

    /// The intact records; with damaged files, [`ResultsError::Damaged`] naming them unless
    /// `skip_damaged` (then the caller says what it skipped: [`Scan::damaged`]).
    pub fn intact(self, dir: &Path, skip_damaged: bool) -> Result<Vec<Record>, ResultsError> {
        if !skip_damaged && !self.damaged.is_empty() {
            return Err(ResultsError::Damaged { dir: dir.to_path_buf(), damaged: self.damaged });
        }
        Ok(self.records)
    }
}

/// The note a command prints when `--skip-damaged` left records out: how many and which.
pub fn skipped_note(damaged: &[DamagedRecord]) -> String {
    format!(
        "skipped {} damaged record{} (--skip-damaged):\n{}",
        damaged.len(),
        if damaged.len() == 1 { "" } else { "s" },
        damaged_list(damaged)
    )
}

/// Classifies the text of a record file that does not decode as a [`Record`].
fn classify(text: &str, error: &serde_json::Error) -> Damage {
    use serde_json::error::Category;
    if text.trim().is_empty() {
        return Damage::Empty;
    }
    match error.classify() {
        Category::Eof => return Damage::Truncated,
        Category::Syntax | Category::Io => {
            // JSON has no NaN or Infinity: a writer that printed them wrote garbage there
            let at = byte_offset(text, error.line(), error.column());
            let rest = text.get(at.saturating_sub(1)..).unwrap_or("").trim_start_matches([':', ' ']);
            for word in ["NaN", "-Infinity", "Infinity", "inf", "-inf", "nan"] {
                if rest.starts_with(word) {
                    return Damage::BadLoss { field: field_before(text, at), value: word.to_string() };
                }
            }
            return Damage::Garbage { message: error.to_string() };
        }
        Category::Data => {}
    }
    let message = error.to_string();
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => return Damage::Invalid { message },
    };
    if let Some(f) = value.get("format") {
        if f.as_u64() != Some(RECORD_FORMAT as u64) {
            return Damage::UnknownFormat { found: f.to_string() };
        }
    }
    for field in ["final_val_loss", "best_val_loss"] {
        if let Some(v) = value.get("outcome").and_then(|o| o.get(field)) {
            if !v.is_number() {
                return Damage::BadLoss { field: format!("outcome.{field}"), value: v.to_string() };
            }
        }
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or("").to_string();
        return Damage::UnknownField { field };
    }
    Damage::Invalid { message }
}

/// The byte offset of a 1-based (line, column) in `text`.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    (start + column).min(text.len())
}

/// The name of the JSON field whose value starts at byte `at` (best effort: the last quoted
/// word before it).
fn field_before(text: &str, at: usize) -> String {
    let head = text.get(..at.min(text.len())).unwrap_or("");
    head.rsplit('"').nth(1).unwrap_or("?").to_string()
}

fn family_list(families: &[Family]) -> String {
    families.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
}

fn family_flags(families: &[Family]) -> String {
    families.iter().map(|f| format!("`--family {f}`")).collect::<Vec<_>>().join(" or ")
}

/// The distinct families of `records`, in [`Family`] order.
pub fn families(records: &[Record]) -> Vec<Family> {
    let mut f: Vec<Family> = records.iter().map(Record::family).collect();
    f.sort();
    f.dedup();
    f
}

/// Keeps the records of `family` (all records when `None`) and checks that what remains is of
/// one family, so it can be fitted with one law and plotted on one set of axes. `dir` names
/// the results directory in errors.
///
/// Errors: [`ResultsError::Empty`] without records, [`ResultsError::NoSuchFamily`] when
/// `family` has no records, [`ResultsError::MixedFamilies`] (naming the families found and the
/// `--family` flags to choose one) when no family is given and several are present.
pub fn select_family(
    mut records: Vec<Record>,
    family: Option<Family>,
    dir: &Path,
) -> Result<Vec<Record>, ResultsError> {
    if records.is_empty() {
        return Err(ResultsError::Empty { dir: dir.to_path_buf() });
    }
    let found = families(&records);
    match family {
        Some(wanted) => {
            records.retain(|r| r.family() == wanted);
            if records.is_empty() {
                return Err(ResultsError::NoSuchFamily { dir: dir.to_path_buf(), wanted, found });
            }
        }
        None if found.len() > 1 => return Err(ResultsError::MixedFamilies { dir: dir.to_path_buf(), families: found }),
        None => {}
    }
    Ok(records)
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ResultsError + 'a {
    move |source| ResultsError::Io { action, path: path.to_path_buf(), source }
}

/// One validation measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurvePoint {
    /// Optimizer step (after this many steps).
    pub step: u64,
    /// Validation loss.
    pub loss: f64,
}

/// What training a point produced: deterministic given the point (same seed → same numbers),
/// so a resumed run has the same outcome as an uninterrupted one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// N: non-zero weights in the pruned layers of the final model.
    pub nonzero_params: u64,
    /// Weights in the pruned layers (dense count).
    pub prunable_params: u64,
    /// All parameters of the model (embeddings, norms, head included).
    pub total_params: u64,
    /// N̄: the mean over the point's training steps of the non-zero count in the pruned layers
    /// each step trained with, as the masks were applied (Jin et al., ICLR 2025). For a
    /// from-dense point, over its sparse phase only (as D counts only that phase); the mean
    /// over both phases is [`Outcome::avg_nonzero_params_with_dense`]. Absent in records
    /// written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_nonzero_params: Option<f64>,
    /// For a from-dense point, N̄ over the dense phase and the sparse phase together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_nonzero_params_with_dense: Option<f64>,
    /// Measured sparsity of each pruned layer, by name.
    pub layer_sparsity: Vec<(String, f64)>,
    /// Validation loss at the end of training.
    pub final_val_loss: f64,
    /// Lowest validation loss seen.
    pub best_val_loss: f64,
    /// Validation loss over training.
    pub val_curve: Vec<CurvePoint>,
}

/// How a point's training went (not deterministic: timings, host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    /// Wall-clock seconds of the last (possibly resumed) session of this point.
    pub wall_seconds: f64,
    /// Optimizer steps per second in that session.
    pub steps_per_second: f64,
    /// Step the last session resumed from (0: started fresh).
    pub resumed_from_step: u64,
    /// Host that finished the point.
    pub host: String,
    /// Process id that finished the point.
    pub pid: u32,
    /// Seconds since the Unix epoch when the record was written.
    pub finished_at: u64,
}

/// The record of a finished point, `<results>/points/<hash>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// [`RECORD_FORMAT`].
    pub format: u32,
    /// The point's content hash.
    pub hash: String,
    /// Name of the experiment that ran it (informational: not part of the hash).
    pub experiment: String,
    /// The point's index in that experiment.
    pub index: usize,
    /// The resolved point.
    pub spec: PointSpec,
    /// D in the family's unit (ViT: examples; T5: steps; decoder: tokens).
    pub data_seen: f64,
    /// Results.
    pub outcome: Outcome,
    /// Timings and provenance.
    pub run: RunInfo,
}

impl Record {
    /// Target sparsity S.
    pub fn sparsity(&self) -> f64 {
        self.spec.sparsity
    }
    /// Model family.
    pub fn family(&self) -> Family {
        self.spec.family
    }
    /// N (non-zero weights in pruned layers).
    pub fn n(&self) -> f64 {
        self.outcome.nonzero_params as f64
    }
}

/// A results directory.
#[derive(Debug, Clone)]
pub struct ResultsDir {
    root: PathBuf,
}

/// A held claim on a point; released (its file removed) on drop.
#[derive(Debug)]
pub struct Claim {
    path: PathBuf,
    token: String,
    took_over: Option<String>,
}

impl Claim {
    /// The claim file.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Whose stale claim this one took over and why it was stale (`pid 12 on node-3: process
    /// 12 has exited`), if it did.
    pub fn took_over(&self) -> Option<&str> {
        self.took_over.as_deref()
    }
    /// A heartbeat: touches the claim file, so that runners on other hosts see it is alive.
    pub fn refresh(&self) {
        if let Ok(f) = OpenOptions::new().append(true).open(&self.path) {
            let _ = f.set_modified(SystemTime::now());
        }
    }
    /// Whether the claim file is still ours (not taken over as stale).
    pub fn still_held(&self) -> bool {
        fs::read_to_string(&self.path).map(|s| s == self.token).unwrap_or(false)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.still_held() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Contents of a claim file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimInfo {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// Random nonce making every claim's content unique.
    pub nonce: u64,
    /// When the process started (clock ticks after boot; [`crate::liveness::process_start`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<u64>,
    /// The host's boot id when the claim was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
    /// Seconds between the heartbeats that touch the claim file, if the holder sends them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<u64>,
}

impl ClaimInfo {
    /// A claim of this process, with heartbeats every `heartbeat` (if any).
    pub fn own(heartbeat: Option<Duration>) -> ClaimInfo {
        ClaimInfo {
            pid: std::process::id(),
            host: host_name(),
            time: now_secs(),
            nonce: unique(),
            started: crate::liveness::own_start(),
            boot: crate::liveness::boot_id(),
            heartbeat: heartbeat.map(|h| h.as_secs().max(1)),
        }
    }

    /// Why a claim with this content, whose file was last touched `age` ago, is stale (`None`:
    /// it is live): see the module's rule.
    pub fn stale_because(&self, age: Duration, stale_after: Duration) -> Option<String> {
        let who = format!("pid {} on {}", self.pid, self.host);
        if self.host == host_name() {
            return match crate::liveness::local_process(self.pid, self.started, self.boot.as_deref()) {
                Liveness::Exited(why) => Some(format!("{who}: {why}")),
                Liveness::Alive if self.started.is_some() => None,
                // an old claim without a start time, or no /proc: the age rule
                _ => (age > stale_after).then(|| format!("{who}: untouched for {}", duration_words(age))),
            };
        }
        let limit = match self.heartbeat {
            Some(h) => stale_after.min(Duration::from_secs(3 * h + 60)),
            None => stale_after,
        };
        (age > limit).then(|| {
            let what = if self.heartbeat.is_some() { "no heartbeat" } else { "untouched" };
            format!("{who}: {what} for {}", duration_words(age))
        })
    }
}

fn duration_words(d: Duration) -> String {
    crate::train::progress::duration_text(d)
}

/// This machine's host name (`/etc/hostname`, else `$HOSTNAME`, else `localhost`).
pub fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn sync_dir(dir: &Path) {
    // Directory fsync makes the rename durable; not supported everywhere, so best effort.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Removes the files of `dir` whose name `pid_of` maps to the pid of a writer that is dead
/// (see [`ResultsDir::clean_stale_temps`] for the rule); returns those removed.
pub(crate) fn clean_dead_temps(dir: &Path, pid_of: impl Fn(&str) -> Option<u32>) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return removed };
    for e in entries.flatten() {
        let p = e.path();
        let Some(pid) = p.file_name().and_then(|n| n.to_str()).and_then(&pid_of) else { continue };
        let age = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or(Duration::ZERO);
        let dead = pid != std::process::id() && !crate::liveness::process_alive(pid) && age > Duration::from_secs(60);
        if (dead || age > Duration::from_secs(24 * 3600))
            && e.file_type().is_ok_and(|t| t.is_file())
            && fs::remove_file(&p).is_ok()
        {
            removed.push(p);
        }
    }
    removed
}

impl ResultsDir {
    /// Opens (creating if needed) a results directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<ResultsDir, ResultsError> {
        let root = root.into();
        let points = root.join("points");
        fs::create_dir_all(&points).map_err(io_err("create", &points))?;
        Ok(ResultsDir { root })
    }

    /// Opens an existing results directory without creating anything: for commands that
    /// only read one (`report`, `fit`, `analyse`). Fails with [`ResultsError::NotResults`] when
    /// `root` has no `points/` folder.
    pub fn open_existing(root: impl Into<PathBuf>) -> Result<ResultsDir, ResultsError> {
        let root = root.into();
        let points = root.join("points");
        match fs::symlink_metadata(&points) {
            Ok(m) if m.is_dir() => Ok(ResultsDir { root }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ResultsError::NotResults { dir: root }),
            // something else is named `points` (a file, a link): `create_dir_all` cannot create
            // anything over it, and says in the OS's words why it is not a folder
            _ => match fs::create_dir_all(&points) {
                Ok(()) => Ok(ResultsDir { root }),
                Err(source) => Err(ResultsError::Io { action: "create", path: points, source }),
            },
        }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `points/<hash>.json`.
    pub fn record_path(&self, hash: &str) -> PathBuf {
        self.root.join("points").join(format!("{hash}.json"))
    }

    /// `points/<hash>.claim`.
    pub fn claim_path(&self, hash: &str) -> PathBuf {
        self.root.join("points").join(format!("{hash}.claim"))
    }

    /// `checkpoints/<hash>/`: where a running point keeps its checkpoints.
    pub fn checkpoint_dir(&self, hash: &str) -> PathBuf {
        self.root.join("checkpoints").join(hash)
    }

    /// `report/`.
    pub fn report_dir(&self) -> PathBuf {
        self.root.join("report")
    }

    /// The record of `hash`, if the point is finished (its record exists, is intact and is
    /// the point's).
    pub fn load(&self, hash: &str) -> Option<Record> {
        match self.check(hash) {
            RecordState::Intact(r) => Some(*r),
            RecordState::Missing | RecordState::Damaged(_) => None,
        }
    }

    /// What `points/<hash>.json` holds: nothing, an intact record of the point, or a damaged
    /// file (and what is wrong with it).
    pub fn check(&self, hash: &str) -> RecordState {
        let path = self.record_path(hash);
        let text = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return RecordState::Missing,
            Err(_) if path.is_dir() => return RecordState::Damaged(Damage::Directory),
            Err(e) => return RecordState::Damaged(Damage::Unreadable { message: e.to_string() }),
        };
        let text = match String::from_utf8(text) {
            Ok(t) => t,
            Err(e) => return RecordState::Damaged(Damage::Garbage { message: format!("not UTF-8 text: {e}") }),
        };
        match serde_json::from_str::<Record>(&text) {
            Ok(r) if r.format != RECORD_FORMAT => {
                RecordState::Damaged(Damage::UnknownFormat { found: r.format.to_string() })
            }
            Ok(r) if r.hash != hash => RecordState::Damaged(Damage::WrongHash { found: r.hash }),
            Ok(r) => match [("final_val_loss", r.outcome.final_val_loss), ("best_val_loss", r.outcome.best_val_loss)]
                .into_iter()
                .find(|(_, v)| !v.is_finite())
            {
                Some((field, v)) => {
                    RecordState::Damaged(Damage::BadLoss { field: format!("outcome.{field}"), value: v.to_string() })
                }
                None => RecordState::Intact(Box::new(r)),
            },
            Err(e) => RecordState::Damaged(classify(&text, &e)),
        }
    }

    /// Whether the point is finished.
    pub fn is_finished(&self, hash: &str) -> bool {
        matches!(self.check(hash), RecordState::Intact(_))
    }

    /// Moves the damaged record of `hash` aside to `points/<hash>.json.damaged-<UTC time>`
    /// (kept for inspection, never read as a record) and returns where it went. A runner calls
    /// it while it holds the point's claim, so it never moves a record being written.
    pub fn move_aside(&self, hash: &str) -> Result<PathBuf, ResultsError> {
        let from = self.record_path(hash);
        let stamp = crate::train::progress::compact_timestamp(SystemTime::now());
        let mut to = from.with_file_name(format!("{hash}.json.damaged-{stamp}"));
        if to.exists() {
            to = from.with_file_name(format!("{hash}.json.damaged-{stamp}-{}", unique()));
        }
        fs::rename(&from, &to).map_err(io_err("move aside", &from))?;
        sync_dir(&self.root.join("points"));
        Ok(to)
    }

    /// Removes the temporary files of writers that died: `points/.<hash>.<pid>.<n>.tmp` (a
    /// record being written), `.experiment.ron.<pid>` and `.analysis.done.<pid>`, when process `pid` no longer exists
    /// on this host and the file is older than a minute (a writer on another host of a shared
    /// file system may have the same pid; its write lasts milliseconds), or older than a day
    /// (the pid was reused). Returns the files removed; failures to remove are ignored (the
    /// files are never read as records).
    pub fn clean_stale_temps(&self) -> Vec<PathBuf> {
        let mut removed = clean_dead_temps(&self.root.join("points"), |name| {
            let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
            let mut parts = rest.rsplitn(3, '.');
            let _n = parts.next()?;
            parts.next()?.parse().ok()
        });
        removed.extend(clean_dead_temps(&self.root, |name| {
            name.strip_prefix(".experiment.ron.").or_else(|| name.strip_prefix(".analysis.done."))?.parse().ok()
        }));
        removed
    }

    /// Writes a record atomically (temporary file, fsync, rename, directory fsync). If any
    /// step fails the temporary file is removed.
    pub fn write(&self, record: &Record) -> Result<(), ResultsError> {
        let json = serde_json::to_string_pretty(record)
            .map_err(|source| ResultsError::Encode { hash: record.hash.clone(), source })?;
        let dir = self.root.join("points");
        let tmp = dir.join(format!(".{}.{}.{}.tmp", record.hash, std::process::id(), unique()));
        let dst = self.record_path(&record.hash);
        let written = (|| {
            let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
            f.write_all(json.as_bytes()).map_err(io_err("write", &tmp))?;
            f.write_all(b"\n").map_err(io_err("write", &tmp))?;
            f.sync_all().map_err(io_err("sync", &tmp))?;
            drop(f);
            fs::rename(&tmp, &dst).map_err(io_err("rename into place", &dst))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        sync_dir(&dir);
        Ok(())
    }

    /// Every record, sorted by (family, N, S, D, hash). Fails with
    /// [`ResultsError::Damaged`], naming each damaged file and why, if any record is damaged;
    /// [`ResultsDir::scan`] returns both.
    pub fn records(&self) -> Result<Vec<Record>, ResultsError> {
        self.scan()?.intact(&self.root, false)
    }

    /// The intact records (sorted as by [`ResultsDir::records`]) and the damaged record files
    /// (sorted by path). Record files are `points/<hash>.json`; names starting with `.`
    /// (temporary files) and other names are not records.
    pub fn scan(&self) -> Result<Scan, ResultsError> {
        let dir = self.root.join("points");
        let mut out = Scan::default();
        for entry in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let entry = entry.map_err(io_err("list", &dir))?;
            let p = entry.path();
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else { continue };
            if name.starts_with('.') {
                continue;
            }
            let Some(hash) = name.strip_suffix(".json") else { continue };
            match self.check(hash) {
                RecordState::Intact(r) => out.records.push(*r),
                RecordState::Damaged(damage) => {
                    out.damaged.push(DamagedRecord { path: p.clone(), hash: hash.to_string(), damage })
                }
                RecordState::Missing => {} // removed while listing (moved aside by a runner)
            }
        }
        out.records.sort_by(|a, b| {
            a.family()
                .cmp(&b.family())
                .then(a.outcome.nonzero_params.cmp(&b.outcome.nonzero_params))
                .then(a.sparsity().total_cmp(&b.sparsity()))
                .then(a.data_seen.total_cmp(&b.data_seen))
                .then(a.hash.cmp(&b.hash))
        });
        out.damaged.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Tries to claim a point. `Ok(None)`: another live runner holds it (or the point is
    /// finished). A stale claim (dead process on this host, or older than `stale_after`) is
    /// taken over.
    pub fn try_claim(&self, hash: &str, stale_after: Duration) -> Result<Option<Claim>, ResultsError> {
        self.try_claim_with(hash, stale_after, None)
    }

    /// [`ResultsDir::try_claim`] by a runner that touches its claim every `heartbeat` (see
    /// [`Claim::refresh`]), which lets runners on other hosts judge it by that.
    pub fn try_claim_with(
        &self,
        hash: &str,
        stale_after: Duration,
        heartbeat: Option<Duration>,
    ) -> Result<Option<Claim>, ResultsError> {
        let finished = |h: &str| self.is_finished(h);
        claim_file(&self.claim_path(hash), stale_after, heartbeat, &|| finished(hash), hash)
    }

    /// Claims the final analysis (`<results>/analysis.claim`), under the same rules as a point.
    pub fn try_claim_analysis(&self, stale_after: Duration) -> Result<Option<Claim>, ResultsError> {
        claim_file(&self.root.join("analysis.claim"), stale_after, None, &|| false, "analysis")
    }

    /// `<results>/analysis.done`: the key of the record set the final analysis last ran on.
    pub fn analysis_done_path(&self) -> PathBuf {
        self.root.join("analysis.done")
    }

    /// Claims currently present: (hash, info).
    pub fn claims(&self) -> Vec<(String, Option<ClaimInfo>)> {
        let dir = self.root.join("points");
        let mut out = Vec::new();
        if let Ok(rd) = fs::read_dir(&dir) {
            for e in rd.flatten() {
                let p = e.path();
                if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
                    if let Some(hash) = name.strip_suffix(".claim") {
                        let info = fs::read_to_string(&p).ok().and_then(|t| serde_json::from_str(&t).ok());
                        out.push((hash.to_string(), info));
                    }
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Claims `path` by exclusive create (see [`ResultsDir::try_claim`]); `finished` says whether
/// the work is already done (then nothing is claimed); `what` names it in errors.
fn claim_file(
    path: &Path,
    stale_after: Duration,
    heartbeat: Option<Duration>,
    finished: &dyn Fn() -> bool,
    what: &str,
) -> Result<Option<Claim>, ResultsError> {
    let mut took_over = None;
    for _attempt in 0..3 {
        if finished() {
            return Ok(None);
        }
        let info = ClaimInfo::own(heartbeat);
        let token =
            serde_json::to_string(&info).map_err(|source| ResultsError::Encode { hash: what.to_string(), source })?;
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(mut f) => {
                f.write_all(token.as_bytes()).map_err(io_err("write", path))?;
                f.sync_all().map_err(io_err("sync", path))?;
                // a runner may have finished the point between our check and the claim
                if finished() {
                    let _ = fs::remove_file(path);
                    return Ok(None);
                }
                return Ok(Some(Claim { path: path.to_path_buf(), token, took_over }));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let Ok(text) = fs::read_to_string(path) else { continue };
                let Some(why) = claim_stale_because(&text, path, stale_after) else {
                    return Ok(None);
                };
                // Take over: move the stale claim away. Only one runner's rename can
                // succeed; check that what we moved is what we judged stale, else put
                // it back (hard link fails if a new claim already exists).
                let aside = path.with_extension(format!("claim.stale.{}.{}", std::process::id(), unique()));
                if fs::rename(path, &aside).is_ok() {
                    let moved = fs::read_to_string(&aside).unwrap_or_default();
                    if moved != text {
                        let _ = fs::hard_link(&aside, path);
                    } else {
                        took_over = Some(why);
                    }
                    let _ = fs::remove_file(&aside);
                }
            }
            Err(e) => return Err(io_err("create", path)(e)),
        }
    }
    Ok(None)
}

/// Why the claim in `path` (content `text`) is stale, or `None` when it is live.
fn claim_stale_because(text: &str, path: &Path, stale_after: Duration) -> Option<String> {
    let age = fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or(Duration::ZERO);
    match serde_json::from_str::<ClaimInfo>(text) {
        Ok(info) => info.stale_because(age, stale_after),
        // an empty or partial claim: its writer died between create and write, or is
        // writing right now; give it a moment
        Err(_) => (age > Duration::from_secs(10))
            .then(|| format!("an unreadable claim untouched for {}", duration_words(age))),
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    t ^ (COUNTER.fetch_add(1, Ordering::Relaxed) << 48) ^ ((std::process::id() as u64) << 32)
}

/// Writes records as CSV in the paper's column layout (docs/THEORY.md §2: the authors'
/// `t5-data.csv` has `,sparsity,scale,val-loss,steps`), followed by explicit columns so no
/// one needs to decode `scale`:
///
/// `,sparsity,scale,val-loss,steps,family,width,mlp_width,depth,pruning,seed,N,Nbar,D,D_unit,total_params,best-val-loss,hash`
///
/// `scale` is the dense size of the pruned layers relative to the smallest dense model of
/// the same family among the records (the paper's `scale`: T5-base = 1/128 … ), so that
/// N = scale · base · (1 − S) as in the paper; `N` is the measured non-zero count and `D` is
/// in `D_unit` (examples for ViT, steps for T5); `Nbar` is N̄, the mean non-zero count over
/// training (empty for records written before it was measured).
pub fn write_csv<W: Write>(records: &[Record], out: W) -> Result<(), ResultsError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "",
        "sparsity",
        "scale",
        "val-loss",
        "steps",
        "family",
        "width",
        "mlp_width",
        "depth",
        "pruning",
        "seed",
        "N",
        "Nbar",
        "D",
        "D_unit",
        "total_params",
        "best-val-loss",
        "hash",
    ])?;
    let base = |f: Family| {
        records.iter().filter(|r| r.family() == f).map(|r| r.outcome.prunable_params).min().unwrap_or(1).max(1) as f64
    };
    for (i, r) in records.iter().enumerate() {
        let s = &r.spec;
        w.write_record([
            i.to_string(),
            format!("{:?}", s.sparsity),
            format!("{:?}", r.outcome.prunable_params as f64 / base(r.family())),
            format!("{:?}", r.outcome.final_val_loss),
            format!("{:?}", s.steps as f64),
            r.family().to_string(),
            s.dims.width.to_string(),
            s.dims.mlp_width.to_string(),
            s.dims.depth.to_string(),
            s.pruning.label(),
            s.seed.to_string(),
            r.outcome.nonzero_params.to_string(),
            r.outcome.avg_nonzero_params.map_or(String::new(), |v| format!("{v:?}")),
            format!("{:?}", r.data_seen),
            d_unit_name(r.family()).to_string(),
            r.outcome.total_params.to_string(),
            format!("{:?}", r.outcome.best_val_loss),
            r.hash.clone(),
        ])?;
    }
    w.flush().map_err(|e| ResultsError::Csv(e.into()))?;
    Ok(())
}

/// The unit of D for a family: `examples` (ViT), `steps` (T5) or `tokens` (decoder).
pub fn d_unit_name(f: Family) -> &'static str {
    match f {
        Family::Vit => "examples",
        Family::T5 => "steps",
        Family::Decoder => "tokens",
    }
}

/// Normalised columns of records, ready for the law crate's observations.
#[derive(Debug, Clone, PartialEq)]
pub struct FitColumns {
    /// Sparsity.
    pub s: Vec<f64>,
    /// N / n_unit.
    pub n: Vec<f64>,
    /// D / d_unit.
    pub d: Vec<f64>,
    /// Final validation loss.
    pub loss: Vec<f64>,
    /// N̄ / n_unit ([`Outcome::avg_nonzero_params`]), when every record has it.
    pub nbar: Option<Vec<f64>>,
}

/// Columns (variables S, N, D; loss = final validation loss) for the law crate, with
/// N divided by `n_unit` and D (in the family's unit) divided by `d_unit` — e.g. the
/// authors' N/1e6 and, for ViT, examples/1e9, for T5, steps/1e5 (docs/THEORY.md §1). All
/// records must be of one family.
pub fn observation_columns(records: &[Record], n_unit: f64, d_unit: f64) -> Result<FitColumns, ResultsError> {
    let Some(first) = records.first() else {
        return Err(ResultsError::Empty { dir: PathBuf::from("<records>") });
    };
    if records.iter().any(|r| r.family() != first.family()) {
        return Err(ResultsError::MixedFamilies { dir: PathBuf::from("<records>"), families: families(records) });
    }
    let s: Vec<f64> = records.iter().map(|r| r.sparsity()).collect();
    let n: Vec<f64> = records.iter().map(|r| r.n() / n_unit).collect();
    let d: Vec<f64> = records.iter().map(|r| r.data_seen / d_unit).collect();
    let loss: Vec<f64> = records.iter().map(|r| r.outcome.final_val_loss).collect();
    let nbar = records.iter().map(|r| r.outcome.avg_nonzero_params.map(|v| v / n_unit)).collect();
    Ok(FitColumns { s, n, d, loss, nbar })
}

/// The text columns of records, by which a law's parameters can be grouped (`a[pruning]`,
/// docs/THEORY.md §2.6), named as in [`write_csv`]: `pruning` (the plan's label: `dense`, `gmp`,
/// `2:4`, `from-dense(2000)`, …), `family` and `depth`.
pub const CATEGORICAL_COLUMNS: [&str; 3] = ["pruning", "family", "depth"];

/// The labels of the text column `name` (one of [`CATEGORICAL_COLUMNS`]) of each record.
fn categorical_column(records: &[Record], name: &str) -> Vec<String> {
    records
        .iter()
        .map(|r| match name {
            "pruning" => r.spec.pruning.label(),
            "family" => r.family().to_string(),
            _ => r.spec.dims.depth.to_string(),
        })
        .collect()
}

/// Observations (variables S, N, D, and `Nbar` when every record has N̄; loss = final
/// validation loss; the text columns [`CATEGORICAL_COLUMNS`]) for the law crate, in the units of
/// [`observation_columns`].
pub fn observations(records: &[Record], n_unit: f64, d_unit: f64) -> Result<crate::law::Observations, ResultsError> {
    let c = observation_columns(records, n_unit, d_unit)?;
    let mut names = vec!["S".to_string(), "N".into(), "D".into()];
    let mut columns = vec![c.s, c.n, c.d];
    if let Some(nbar) = c.nbar {
        names.push("Nbar".into());
        columns.push(nbar);
    }
    let mut obs = crate::law::Observations::new(names, columns, c.loss, None)
        .map_err(|e| ResultsError::Observations(e.to_string()))?;
    for name in CATEGORICAL_COLUMNS {
        obs = obs
            .with_categorical(name, categorical_column(records, name))
            .map_err(|e| ResultsError::Observations(e.to_string()))?;
    }
    Ok(obs)
}
