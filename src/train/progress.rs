//! How long work reports its progress, in one of two forms carrying the same events:
//! - on a terminal, progress bars (indicatif): the training loop's bar ([`Progress`]: step,
//!   training loss, sparsity, steps/s) and the runner's bars of a sweep;
//! - when stderr is not a terminal (Slurm, nohup, CI) or bars are turned off, plain log lines,
//!   each starting with its time in RFC 3339 UTC ([`LineLog`], [`timestamp`]), and a heartbeat
//!   every [`heartbeat_interval`] during long work ([`with_heartbeat`], [`long_task`]), so that a
//!   cluster job's log shows that it is alive and how far it got.
//!
//! The training loop's per-step progress reaches the runner's heartbeat through [`LiveSteps`]:
//! the runner calls [`track_steps`] around a point, and every [`Progress`] created on that thread
//! meanwhile records its steps there.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The environment variable that sets the heartbeat interval in seconds (default 60).
pub const HEARTBEAT_ENV: &str = "SPARSE_SCALING_HEARTBEAT_SECS";

/// Default seconds between heartbeat lines.
pub const DEFAULT_HEARTBEAT_SECS: f64 = 60.0;

/// The heartbeat interval: [`HEARTBEAT_ENV`] if it holds a positive number of seconds (fractions
/// allowed), else [`DEFAULT_HEARTBEAT_SECS`].
pub fn heartbeat_interval() -> Duration {
    std::env::var(HEARTBEAT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map_or(Duration::from_secs_f64(DEFAULT_HEARTBEAT_SECS), Duration::from_secs_f64)
}

/// (year, month, day, hour, minute, second) in UTC of a time (days from civil, H. Hinnant's
/// algorithm; times before 1970 show as 1970-01-01T00:00:00).
fn utc_parts(t: SystemTime) -> (i64, u32, u32, u64, u64, u64) {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
}

/// A time in RFC 3339 UTC to the second, e.g. `2026-11-29T00:27:02Z`.
pub fn timestamp(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// A time in the compact ISO 8601 UTC form for file names, e.g. `20261129T002702Z`.
pub fn compact_timestamp(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// Where plain log lines go: stderr, or (for tests and embedding) a shared list.
#[derive(Debug, Clone, Default)]
pub struct LineLog {
    memory: Option<Arc<Mutex<Vec<String>>>>,
}

impl LineLog {
    /// Lines go to stderr.
    pub fn stderr() -> LineLog {
        LineLog { memory: None }
    }

    /// Lines are kept in memory; read them with [`LineLog::lines`].
    pub fn memory() -> LineLog {
        LineLog { memory: Some(Arc::default()) }
    }

    /// Whether lines go to stderr.
    pub fn is_stderr(&self) -> bool {
        self.memory.is_none()
    }

    /// Writes `message` as one line, prefixed with the current time ([`timestamp`]). A line
    /// that cannot be written (stderr closed) is dropped: logging never stops the work.
    pub fn line(&self, message: &str) {
        let line = format!("{} {message}", timestamp(SystemTime::now()));
        match &self.memory {
            Some(m) => {
                if let Ok(mut v) = m.lock() {
                    v.push(line);
                }
            }
            None => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{line}");
            }
        }
    }

    /// The lines written so far (empty for stderr).
    pub fn lines(&self) -> Vec<String> {
        self.memory.as_ref().and_then(|m| m.lock().ok().map(|v| v.clone())).unwrap_or_default()
    }
}

/// Runs `work` on this thread and calls `tick` with the time elapsed every `every` until it
/// returns (on a scoped thread; no tick after `work` ends).
pub fn with_heartbeat<R>(every: Duration, tick: impl Fn(Duration) + Sync, work: impl FnOnce() -> R) -> R {
    let (tx, rx) = mpsc::channel::<()>();
    let started = Instant::now();
    std::thread::scope(|s| {
        let tick = &tick;
        s.spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                tick(started.elapsed());
            }
        });
        // dropped when `work` returns or unwinds, which ends the ticking thread
        let _stop = tx;
        work()
    })
}

/// Seconds as a short text: `42.0 s`, `12 min 5 s`, `3 h 20 min`.
pub fn duration_text(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {} s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!("{} h {} min", (s / 3600.0) as u64, (s % 3600.0 / 60.0) as u64)
    }
}

/// Runs long work that has no steps to count (a fit with its starts and bootstrap refits): on
/// a terminal with a spinner on stderr; otherwise with log lines `<what>: started`, a heartbeat
/// `<what>: running for …` every [`heartbeat_interval`], and `<what>: done in …`.
pub fn long_task<R>(what: &str, work: impl FnOnce() -> R) -> R {
    if std::io::stderr().is_terminal() {
        let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]") {
            spinner.set_style(style);
        }
        spinner.set_message(what.to_string());
        spinner.enable_steady_tick(Duration::from_millis(250));
        let r = work();
        spinner.finish_and_clear();
        return r;
    }
    long_task_logged(&LineLog::stderr(), heartbeat_interval(), what, work)
}

/// [`long_task`] as log lines into `log`, with a heartbeat every `every`.
pub fn long_task_logged<R>(log: &LineLog, every: Duration, what: &str, work: impl FnOnce() -> R) -> R {
    log.line(&format!("{what}: started"));
    let started = Instant::now();
    let r = with_heartbeat(every, |t| log.line(&format!("{what}: running for {}", duration_text(t))), work);
    log.line(&format!("{what}: done in {}", duration_text(started.elapsed())));
    r
}

/// The latest step of a running point, shared between the training loop and the runner's
/// heartbeat (lock-free).
#[derive(Debug)]
pub struct LiveSteps {
    offset: AtomicU64,
    step: AtomicU64,
    loss: AtomicU64,
}

impl Default for LiveSteps {
    fn default() -> Self {
        LiveSteps {
            offset: AtomicU64::new(0),
            step: AtomicU64::new(u64::MAX),
            loss: AtomicU64::new(f64::NAN.to_bits()),
        }
    }
}

impl LiveSteps {
    /// Records that `step` steps of the point are done (counted over the whole point), with
    /// the latest training loss if known.
    pub fn record(&self, step: u64, loss: Option<f64>) {
        self.step.store(step, Ordering::Relaxed);
        if let Some(l) = loss {
            self.loss.store(l.to_bits(), Ordering::Relaxed);
        }
    }

    /// Steps before the current training phase (a dense phase before the sparse one): the
    /// training loop counts its steps from there.
    pub fn set_offset(&self, offset: u64) {
        self.offset.store(offset, Ordering::Relaxed);
    }

    /// The latest step recorded, if any.
    pub fn step(&self) -> Option<u64> {
        Some(self.step.load(Ordering::Relaxed)).filter(|&s| s != u64::MAX)
    }

    /// The latest training loss recorded, if any.
    pub fn loss(&self) -> Option<f64> {
        Some(f64::from_bits(self.loss.load(Ordering::Relaxed))).filter(|l| !l.is_nan())
    }
}

thread_local! {
    static TRACKED: RefCell<Option<Arc<LiveSteps>>> = const { RefCell::new(None) };
}

/// Runs `work` with every [`Progress`] created on this thread recording its steps in `live`.
pub fn track_steps<R>(live: Arc<LiveSteps>, work: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<LiveSteps>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            TRACKED.with(|t| *t.borrow_mut() = previous);
        }
    }
    let _restore = Restore(TRACKED.with(|t| t.borrow_mut().replace(live)));
    work()
}

/// The [`LiveSteps`] this thread records into, if a runner tracks it ([`track_steps`]).
pub fn tracked_steps() -> Option<Arc<LiveSteps>> {
    TRACKED.with(|t| t.borrow().clone())
}

/// A progress bar that can be hidden; updating a hidden one costs next to nothing.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    start_step: u64,
    live: Option<Arc<LiveSteps>>,
}

impl Progress {
    /// A bar for steps `start_step..total`; shown only if `show` and stderr is a terminal. On a
    /// thread that a runner tracks ([`track_steps`]) the steps are also recorded there.
    pub fn new(total: u64, start_step: u64, show: bool, label: &str) -> Self {
        let bar = if show && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
            // The template is a constant known to parse; fall back to the default style if not.
            if let Ok(style) =
                ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]")
            {
                bar.set_style(style);
            }
            bar.set_prefix(label.to_string());
            bar.set_position(start_step);
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress { bar, started: Instant::now(), start_step, live: tracked_steps() }
    }

    /// Whether anyone follows the steps (a bar is drawn, or a runner tracks them): the training
    /// loop calls [`Progress::update`] only then.
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden() || self.live.is_some()
    }

    /// Records that `step` steps are done, with the latest training loss and sparsity.
    pub fn update(&self, step: u64, loss: f32, sparsity: f64) {
        if let Some(live) = &self.live {
            live.record(live.offset.load(Ordering::Relaxed) + step, Some(f64::from(loss)));
        }
        if self.bar.is_hidden() {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = (step - self.start_step.min(step)) as f64 / secs;
        self.bar.set_position(step);
        self.bar.set_message(format!("loss {loss:.4}  S {sparsity:.3}  {rate:.2} steps/s"));
    }

    /// Shows a validation result.
    pub fn validated(&self, step: u64, loss: f64) {
        if !self.bar.is_hidden() {
            self.bar.println(format!("step {step}: validation loss {loss:.5}"));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // 2024-02-29T23:59:59Z, a leap day
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(timestamp(t), "2024-02-29T23:59:59Z");
        assert_eq!(compact_timestamp(t), "20240229T235959Z");
        // 2000-03-01T00:00:00Z
        assert_eq!(timestamp(UNIX_EPOCH + Duration::from_secs(951_868_800)), "2000-03-01T00:00:00Z");
    }

    #[test]
    fn a_long_task_logs_start_heartbeats_and_done() {
        let log = LineLog::memory();
        let every = Duration::from_millis(20);
        let v = long_task_logged(&log, every, "fit", || {
            let t = Instant::now();
            // wait for two heartbeats (or give up after 10 s; the assertion below then fails)
            while log.lines().iter().filter(|l| l.contains("running for")).count() < 2
                && t.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            7
        });
        assert_eq!(v, 7);
        let lines = log.lines();
        assert!(lines[0].ends_with("fit: started"), "{lines:?}");
        assert!(lines.iter().filter(|l| l.contains("fit: running for")).count() >= 2, "{lines:?}");
        assert!(lines.last().unwrap().contains("fit: done in"), "{lines:?}");
        assert!(lines.iter().all(|l| l.len() > 21 && l.as_bytes()[10] == b'T' && l[..21].ends_with("Z ")), "{lines:?}");
    }

    #[test]
    fn tracked_progress_records_steps_with_the_phase_offset() {
        let live = Arc::new(LiveSteps::default());
        assert_eq!(live.step(), None);
        track_steps(live.clone(), || {
            let p = Progress::new(10, 0, false, "x");
            assert!(p.is_visible(), "a tracked loop must report its steps");
            tracked_steps().unwrap().set_offset(100);
            p.update(3, 2.5, 0.0);
        });
        assert_eq!(live.step(), Some(103));
        assert_eq!(live.loss(), Some(2.5));
        assert!(tracked_steps().is_none(), "tracking ends with the work");
        assert!(!Progress::new(10, 0, false, "x").is_visible());
    }
}
