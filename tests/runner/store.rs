//! The runner's bookkeeping with a deterministic fake executor: records written once and
//! atomically, finished points skipped, claims shared by concurrent runners, stale claims
//! taken over, shards, CSV export.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use sparse_scaling::experiment::{ExperimentFile, Point};
use sparse_scaling::results::{self, CurvePoint, Outcome, ResultsDir};
use sparse_scaling::runner::{
    self, registry::UnsupportedSize, ExecContext, Execution, PointExecutor, PointStatus, RunOptions, Selection,
};
use sparse_scaling::train::progress::LineLog;

const EXP: &str = r#"(
    name: "fake",
    model: (family: Vit, sizes: Widths([32, 64])),
    sparsity: [0.0, 0.5, 0.75],
    steps: [20, 40],
)"#;

fn points() -> Vec<Point> {
    ExperimentFile::from_str("fake.ron", EXP).unwrap().expand().unwrap()
}

/// Deterministic fake: the loss is a function of the point; counts executions per hash;
/// writes a "checkpoint" file and can fail once at a chosen point.
#[derive(Default)]
struct Fake {
    calls: Mutex<HashMap<String, usize>>,
    fail_on: Mutex<Option<usize>>,
    sleep_ms: u64,
}

impl PointExecutor for Fake {
    fn supports(&self, _point: &Point) -> Result<(), UnsupportedSize> {
        Ok(())
    }
    fn execute(
        &self,
        point: &Point,
        ctx: &ExecContext<'_>,
    ) -> Result<Execution, Box<dyn std::error::Error + Send + Sync>> {
        *self.calls.lock().unwrap().entry(point.hash.clone()).or_default() += 1;
        std::fs::write(ctx.checkpoint_dir.join("ckpt"), b"x")?;
        std::thread::sleep(Duration::from_millis(self.sleep_ms));
        {
            let mut fail = self.fail_on.lock().unwrap();
            if *fail == Some(point.index) {
                *fail = None;
                return Err("simulated failure".into());
            }
        }
        let s = &point.spec;
        let n = s.nonzero_params();
        let loss = 2.0 + 5.0 * n.powf(-0.3) + 3.0 * (s.steps as f64).powf(-0.5);
        ctx.progress.update(s.steps, s.steps, Some(loss));
        Ok(Execution {
            outcome: Outcome {
                avg_nonzero_params: None,
                avg_nonzero_params_with_dense: None,
                nonzero_params: n as u64,
                prunable_params: s.prunable_params(),
                total_params: s.prunable_params() + 1000,
                layer_sparsity: vec![("blocks.0.attn.q.weight".into(), s.sparsity)],
                final_val_loss: loss,
                best_val_loss: loss,
                val_curve: vec![CurvePoint { step: s.steps, loss }],
            },
            wall_seconds: 0.01,
            steps_per_second: 100.0,
            resumed_from_step: 0,
        })
    }
}

fn opts(dir: &Path) -> RunOptions {
    let mut o = RunOptions::new(dir);
    o.progress = false;
    o
}

fn record_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("points"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn run_writes_each_record_and_skips_finished_points() {
    let dir = tempfile::tempdir().unwrap();
    let pts = points();
    assert_eq!(pts.len(), 2 * 3 * 2);
    let fake = Fake::default();
    let rep = runner::run("fake", &pts, Path::new("."), &fake, &opts(dir.path())).unwrap();
    assert!(rep.all_finished);
    assert_eq!(rep.count(|s| *s == PointStatus::Trained), pts.len());
    let files = record_files(dir.path());
    let want: Vec<String> = {
        let mut w: Vec<String> = pts.iter().map(|p| format!("{}.json", p.hash)).collect();
        w.sort();
        w
    };
    assert_eq!(files, want, "exactly the records, no claims or temporary files left");
    assert!(!dir.path().join("checkpoints").join(&pts[0].hash).exists(), "checkpoints removed after the record");
    let store = ResultsDir::open(dir.path()).unwrap();
    let r = store.load(&pts[3].hash).unwrap();
    assert_eq!(r.spec, pts[3].spec);
    assert_eq!(r.index, 3);
    assert_eq!(r.data_seen, pts[3].spec.steps as f64 * 32.0);

    // second run: nothing trained again
    let fake2 = Fake::default();
    let rep = runner::run("fake", &pts, Path::new("."), &fake2, &opts(dir.path())).unwrap();
    assert_eq!(rep.count(|s| *s == PointStatus::AlreadyDone), pts.len());
    assert!(fake2.calls.lock().unwrap().is_empty());
}

#[test]
fn failure_loses_nothing_and_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let pts = points();
    let fake = Fake::default();
    *fake.fail_on.lock().unwrap() = Some(5);
    let err = runner::run("fake", &pts, Path::new("."), &fake, &opts(dir.path())).unwrap_err();
    assert!(err.to_string().contains("point 5") && err.to_string().contains("simulated failure"), "{err}");
    let store = ResultsDir::open(dir.path()).unwrap();
    assert_eq!(store.records().unwrap().len(), 5, "points before the failure are kept");
    assert!(!store.claim_path(&pts[5].hash).exists(), "the failed point's claim is released");
    assert!(store.checkpoint_dir(&pts[5].hash).join("ckpt").exists(), "its checkpoint is kept for resuming");
    let rep = runner::run("fake", &pts, Path::new("."), &fake, &opts(dir.path())).unwrap();
    assert!(rep.all_finished);
    assert_eq!(rep.count(|s| *s == PointStatus::AlreadyDone), 5);
    let calls = fake.calls.lock().unwrap();
    assert_eq!(calls[&pts[5].hash], 2);
    assert!(pts.iter().filter(|p| p.index != 5).all(|p| calls[&p.hash] == 1));
}

#[test]
fn concurrent_runners_train_every_point_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let pts = points();
    let fake = Fake { sleep_ms: 15, ..Default::default() };
    // two shard runners and two unrestricted runners with two jobs each, all at once
    let selections = [
        Selection::Shard { index: 0, count: 2 },
        Selection::Shard { index: 1, count: 2 },
        Selection::All,
        Selection::All,
    ];
    let reports: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = selections
            .iter()
            .map(|sel| {
                let mut o = opts(dir.path());
                o.selection = *sel;
                o.jobs = std::num::NonZeroUsize::new(2);
                let (pts, fake) = (&pts, &fake);
                s.spawn(move || runner::run("fake", pts, Path::new("."), fake, &o).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let calls = fake.calls.lock().unwrap();
    assert_eq!(calls.len(), pts.len());
    assert!(calls.values().all(|&c| c == 1), "{calls:?}");
    let trained: usize = reports.iter().map(|r| r.count(|s| *s == PointStatus::Trained)).sum();
    assert_eq!(trained, pts.len());
    assert_eq!(record_files(dir.path()).len(), pts.len());
    assert!(reports.iter().any(|r| r.all_finished));
}

#[test]
fn shards_partition_the_points() {
    let pts = points();
    let mut seen = vec![0; pts.len()];
    for i in 0..5 {
        for p in (Selection::Shard { index: i, count: 5 }).select(&pts).unwrap() {
            seen[p.index] += 1;
        }
    }
    assert!(seen.iter().all(|&c| c == 1));
    assert!(Selection::parse_shard("3/2").unwrap_err().to_string().contains("--shard i/n"));
    assert!(Selection::parse_shard("1-2").is_err());
    assert_eq!(Selection::parse_shard("1/4").unwrap(), Selection::Shard { index: 1, count: 4 });
    let err = Selection::Point(99).select(&pts).unwrap_err();
    assert!(err.to_string().contains("12 points"), "{err}");
}

#[test]
fn claims_live_and_stale() {
    let dir = tempfile::tempdir().unwrap();
    let store = ResultsDir::open(dir.path()).unwrap();
    let pts = points();
    let h = &pts[0].hash;
    let c = store.try_claim(h, Duration::from_secs(3600)).unwrap().expect("free point");
    assert!(store.try_claim(h, Duration::from_secs(3600)).unwrap().is_none(), "held by a live process");
    drop(c);
    assert!(!store.claim_path(h).exists());
    // a claim by a dead process on this host is stale and taken over
    let dead = format!(r#"{{"pid":4000000,"host":"{}","time":0,"nonce":1}}"#, results::host_name());
    std::fs::write(store.claim_path(h), dead).unwrap();
    let c = store.try_claim(h, Duration::from_secs(3600)).unwrap().expect("stale claim taken over");
    assert!(c.still_held());
    drop(c);
    // a fresh claim from another host is respected; the runner reports it
    let other = r#"{"pid":1,"host":"some-other-node","time":0,"nonce":2}"#;
    std::fs::write(store.claim_path(h), other).unwrap();
    assert!(store.try_claim(h, Duration::from_secs(3600)).unwrap().is_none());
    let fake = Fake::default();
    let mut o = opts(dir.path());
    o.selection = Selection::Point(0);
    let rep = runner::run("fake", &pts, Path::new("."), &fake, &o).unwrap();
    assert_eq!(rep.points[0].2, PointStatus::ClaimedElsewhere);
    // ... until it is older than the stale timeout
    o.stale_after = Duration::ZERO;
    std::thread::sleep(Duration::from_millis(20));
    let rep = runner::run("fake", &pts, Path::new("."), &fake, &o).unwrap();
    assert_eq!(rep.points[0].2, PointStatus::Trained);
}

#[test]
fn partial_record_does_not_count_as_finished() {
    let dir = tempfile::tempdir().unwrap();
    let store = ResultsDir::open(dir.path()).unwrap();
    let pts = points();
    std::fs::write(store.record_path(&pts[0].hash), "{\"format\": 1, \"hash\": ").unwrap();
    assert!(!store.is_finished(&pts[0].hash));
    let fake = Fake::default();
    let mut o = opts(dir.path());
    o.selection = Selection::Point(0);
    runner::run("fake", &pts, Path::new("."), &fake, &o).unwrap();
    assert!(store.is_finished(&pts[0].hash));
    assert_eq!(store.records().unwrap().len(), 1);
}

#[test]
fn csv_and_observations() {
    let dir = tempfile::tempdir().unwrap();
    let pts = points();
    runner::run("fake", &pts, Path::new("."), &Fake::default(), &opts(dir.path())).unwrap();
    let recs = ResultsDir::open(dir.path()).unwrap().records().unwrap();
    let mut buf = Vec::new();
    results::write_csv(&recs, &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with(",sparsity,scale,val-loss,steps,"));
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(String::from).collect()).collect();
    assert_eq!(rows.len(), pts.len());
    // scale: dense prunable size relative to the smallest model (width 64 → 4× width 32)
    let scales: Vec<f64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
    assert!(scales.iter().all(|&s| s == 1.0 || s == 4.0), "{scales:?}");
    let cols = results::observation_columns(&recs, 1e6, 1e9).unwrap();
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(cols.n[i], r.outcome.nonzero_params as f64 / 1e6);
        assert_eq!(cols.d[i], r.spec.steps as f64 * 32.0 / 1e9);
        assert_eq!(cols.s[i], r.spec.sparsity);
        assert_eq!(cols.loss[i], r.outcome.final_val_loss);
    }
}

/// A claim as a process with this pid and start time on this host writes it.
fn claim_of(pid: u32, started: Option<u64>) -> String {
    let info = results::ClaimInfo {
        pid,
        host: results::host_name(),
        time: 0,
        nonce: 7,
        started,
        boot: sparse_scaling::liveness::boot_id(),
        heartbeat: Some(60),
    };
    serde_json::to_string(&info).unwrap()
}

#[test]
fn a_claim_of_an_exited_process_is_taken_over_and_a_live_one_respected() {
    if !Path::new("/proc/self").exists() {
        eprintln!("skipped: no /proc on this system");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = ResultsDir::open(dir.path()).unwrap();
    let pts = points();
    let h = &pts[0].hash;
    let long = Duration::from_secs(24 * 3600);
    // a live process (a child that sleeps) with its real start time: respected, however old
    let mut live = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let started = sparse_scaling::liveness::process_start(live.id());
    assert!(started.is_some(), "the child's start time is readable");
    std::fs::write(store.claim_path(h), claim_of(live.id(), started)).unwrap();
    assert!(store.try_claim(h, Duration::ZERO).unwrap().is_none(), "the claim of a live process is respected");
    // the same pid with another start time: the pid was reused, the claim's process has exited
    std::fs::write(store.claim_path(h), claim_of(live.id(), started.map(|s| s + 1))).unwrap();
    let c = store.try_claim(h, long).unwrap().expect("a claim of a reused pid is stale");
    assert!(c.took_over().is_some_and(|w| w.contains("another process")), "{:?}", c.took_over());
    drop(c);
    // the process is killed (as SIGKILL leaves a claim behind): its claim is taken over at once
    std::fs::write(store.claim_path(h), claim_of(live.id(), started)).unwrap();
    live.kill().unwrap();
    live.wait().unwrap();
    let c = store.try_claim(h, long).unwrap().expect("the claim of an exited process is taken over");
    let whose = c.took_over().unwrap().to_string();
    assert!(whose.contains(&format!("pid {}", live.id())) && whose.contains("has exited"), "{whose}");
    drop(c);
    // the runner says so in its log
    std::fs::write(store.claim_path(h), claim_of(live.id(), started)).unwrap();
    let log = LineLog::memory();
    let mut o = opts(dir.path());
    o.selection = Selection::Point(0);
    o.log = log.clone();
    let rep = runner::run("fake", &pts, Path::new("."), &Fake::default(), &o).unwrap();
    assert_eq!(rep.points[0].2, PointStatus::Trained);
    let lines = log.lines().join("\n");
    assert!(lines.contains("took over a stale claim (pid") && lines.contains("has exited"), "{lines}");
}

#[test]
fn a_claim_from_another_host_is_judged_by_its_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let store = ResultsDir::open(dir.path()).unwrap();
    let h = &points()[0].hash;
    let long = Duration::from_secs(24 * 3600);
    let other = |heartbeat: Option<u64>| {
        let info = results::ClaimInfo {
            pid: 1,
            host: "some-other-node".into(),
            time: 0,
            nonce: 3,
            started: Some(5),
            boot: None,
            heartbeat,
        };
        std::fs::write(store.claim_path(h), serde_json::to_string(&info).unwrap()).unwrap();
    };
    let age_claim = |secs: u64| {
        let f = std::fs::OpenOptions::new().append(true).open(store.claim_path(h)).unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(secs)).unwrap();
    };
    // heartbeats every 60 s: alive while touched within 3 × 60 s + 60 s, stale after
    other(Some(60));
    age_claim(200);
    assert!(store.try_claim(h, long).unwrap().is_none(), "a recent heartbeat is respected");
    age_claim(300);
    let c = store.try_claim(h, long).unwrap().expect("no heartbeat for 300 s: stale");
    assert!(c.took_over().is_some_and(|w| w.contains("some-other-node") && w.contains("no heartbeat")));
    drop(c);
    // without heartbeats, only the stale timeout
    other(None);
    age_claim(300);
    assert!(store.try_claim(h, long).unwrap().is_none(), "no heartbeat recorded: the stale timeout rules");
    // a held claim's refresh is its heartbeat
    std::fs::remove_file(store.claim_path(h)).unwrap();
    let c = store.try_claim(h, long).unwrap().unwrap();
    let f = std::fs::OpenOptions::new().append(true).open(c.path()).unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(1000)).unwrap();
    c.refresh();
    let age = std::fs::metadata(c.path()).unwrap().modified().unwrap().elapsed().unwrap_or_default();
    assert!(age < Duration::from_secs(100), "refresh touches the claim: {age:?}");
}
