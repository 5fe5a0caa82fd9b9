//! Damaged results directories: `report`, `fit` and `analyse` name every damaged record (path
//! and reason) and stop, or with `--skip-damaged` say how many they skipped and which; `run`
//! moves a damaged record aside, keeps it, says so and re-trains the point; temporary files of
//! dead writers are removed and never read as records; commands that read a results directory
//! create nothing. Records come from a fake executor (runner_support::KnownLaw).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use sparse_scaling::experiment::{ExperimentFile, Point};
use sparse_scaling::results::{Damage, RecordState, ResultsDir, ResultsError};
use sparse_scaling::runner::{self, registry::UnsupportedSize, ExecContext, Execution, PointExecutor, RunOptions};
use sparse_scaling::train::progress::LineLog;

use crate::runner_support::{text, KnownLaw};

const EXP: &str = r#"(
    name: "damaged",
    model: (family: Vit, sizes: Widths([32, 64, 128])),
    sparsity: [0.0, 0.5, 0.75],
    steps: [20, 40, 80],
)"#;

fn points() -> Vec<Point> {
    ExperimentFile::from_str("damaged.ron", EXP).unwrap().expand().unwrap()
}

fn quiet(dir: &Path) -> RunOptions {
    let mut o = RunOptions::new(dir);
    o.progress = false;
    o.log = LineLog::memory();
    o
}

/// A results directory with a record for every point.
fn full_dir(dir: &Path) -> Vec<Point> {
    let pts = points();
    runner::run("damaged", &pts, Path::new("."), &KnownLaw, &quiet(dir)).unwrap();
    pts
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sparse-scaling")).args(args).output().unwrap()
}

/// The ways a record is damaged: (name, reason the error gives, how to damage the record file
/// of `hash`, given the record file of another point).
type Damager = fn(&Path, &Path);

fn damages() -> Vec<(&'static str, &'static str, Damager)> {
    fn edit(p: &Path, f: impl Fn(String) -> String) {
        let t = std::fs::read_to_string(p).unwrap();
        let e = f(t.clone());
        assert_ne!(t, e, "the edit must change {}", p.display());
        std::fs::write(p, e).unwrap();
    }
    fn loss_to(p: &Path, v: &str) {
        edit(p, |t| {
            let at = t.find("\"final_val_loss\": ").unwrap() + "\"final_val_loss\": ".len();
            let end = at + t[at..].find([',', '\n']).unwrap();
            format!("{}{v}{}", &t[..at], &t[end..])
        })
    }
    vec![
        ("truncated", "truncated", |p, _| edit(p, |t| t[..t.len() / 2].to_string())),
        ("garbage", "garbage", |p, _| std::fs::write(p, b"\x00\x01 not a record at all {{").unwrap()),
        ("empty", "empty", |p, _| std::fs::write(p, "").unwrap()),
        ("null loss", "`outcome.final_val_loss` is null", |p, _| loss_to(p, "null")),
        ("NaN loss", "is NaN, not a finite number", |p, _| loss_to(p, "NaN")),
        ("wrong hash", "wrong hash", |p, other| std::fs::copy(other, p).map(|_| ()).unwrap()),
        ("unknown field", "unknown field `extra`", |p, _| edit(p, |t| t.replacen('{', "{\n  \"extra\": 1,", 1))),
        ("directory", "a directory in place of the record file", |p, _| {
            std::fs::remove_file(p).unwrap();
            std::fs::create_dir(p).unwrap();
        }),
        ("unknown format", "unknown format 2", |p, _| edit(p, |t| t.replacen("\"format\": 1", "\"format\": 2", 1))),
    ]
}

/// Damages the records of points 1..=9 (one way each); returns (path, reason) of each.
fn damage_all(dir: &Path, pts: &[Point]) -> Vec<(PathBuf, &'static str)> {
    let store = ResultsDir::open(dir).unwrap();
    let other = store.record_path(&pts[0].hash);
    damages()
        .into_iter()
        .enumerate()
        .map(|(k, (name, reason, damage))| {
            let p = store.record_path(&pts[k + 1].hash);
            damage(&p, &other);
            match store.check(&pts[k + 1].hash) {
                RecordState::Damaged(_) => {}
                s => panic!("{name}: {} is not seen as damaged: {s:?}", p.display()),
            }
            (p, reason)
        })
        .collect()
}

/// Fails with status 2, no panic, naming every damaged file with its reason and the two fixes.
fn assert_names_damage(o: &Output, damaged: &[(PathBuf, &str)], what: &str) {
    let (out, err) = text(o);
    assert_eq!(o.status.code(), Some(2), "{what} must stop on damaged records\nstdout: {out}\nstderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(&format!("{} damaged records", damaged.len())), "{what}:\n{err}");
    for (path, reason) in damaged {
        let line = err.lines().find(|l| l.contains(&*path.to_string_lossy())).unwrap_or_else(|| {
            panic!("{what}: {} not named in:\n{err}", path.display());
        });
        assert!(line.contains(reason), "{what}: expected `{reason}` for {}:\n{line}", path.display());
    }
    assert!(err.contains("--skip-damaged") && err.contains("sparse-scaling run"), "{what}: no fix in:\n{err}");
}

/// Succeeds and notes how many damaged records it skipped, naming each.
fn assert_skipped(o: &Output, damaged: &[(PathBuf, &str)], what: &str) -> String {
    let (out, err) = text(o);
    assert!(o.status.success(), "{what} --skip-damaged failed:\n{err}");
    assert!(err.contains(&format!("skipped {} damaged records", damaged.len())), "{what}:\n{err}");
    for (path, _) in damaged {
        assert!(err.contains(&*path.to_string_lossy()), "{what}: skipped {} without naming it:\n{err}", path.display());
    }
    out
}

#[test]
fn report_fit_and_analyse_name_each_damaged_record_or_skip_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pts = full_dir(dir);
    let damaged = damage_all(dir, &pts);
    let d = dir.to_str().unwrap();
    let intact = pts.len() - damaged.len();

    // the library: records() names them; scan() separates them
    match ResultsDir::open_existing(dir).unwrap().records() {
        Err(ResultsError::Damaged { damaged: found, .. }) => assert_eq!(found.len(), damaged.len()),
        other => panic!("records() must fail on damaged records: {other:?}"),
    }
    let scan = ResultsDir::open_existing(dir).unwrap().scan().unwrap();
    assert_eq!((scan.records.len(), scan.damaged.len()), (intact, damaged.len()));
    assert!(scan.damaged.iter().any(|d| d.damage == Damage::Directory));

    assert_names_damage(&cli(&["report", d]), &damaged, "report");
    assert!(!dir.join("report").exists(), "a refused report must not write files");
    let fit = ["fit", d, "--n-unit", "1e3", "--starts", "2"];
    assert_names_damage(&cli(&fit), &damaged, "fit");
    let analyse = ["analyse", d, "--n-unit", "1e3", "--starts", "2"];
    assert_names_damage(&cli(&analyse), &damaged, "analyse");
    let params = ["analyse", d, "--law", "paper-normalised", "--params", "0.5,0.8,1.5,0.25,0.6,0.3,0.7"];
    assert_names_damage(&cli(&params), &damaged, "analyse --params");

    assert_skipped(&cli(&["report", d, "--skip-damaged"]), &damaged, "report");
    let csv = std::fs::read_to_string(dir.join("report").join("points.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + intact, "the report has exactly the intact records:\n{csv}");
    let out = assert_skipped(&cli(&[&fit[..], &["--skip-damaged"]].concat()), &damaged, "fit");
    assert!(out.contains(&format!("({intact} points)")), "{out}");
    let out = assert_skipped(&cli(&[&analyse[..], &["--skip-damaged"]].concat()), &damaged, "analyse");
    assert!(out.contains(&format!("({intact} points)")), "{out}");
    assert_skipped(&cli(&[&params[..], &["--skip-damaged"]].concat()), &damaged, "analyse --params");

    // a CSV has no records to skip
    let csv = dir.join("t.csv");
    std::fs::write(&csv, "S,N,D,loss\n0,1,1,3\n").unwrap();
    let o = cli(&["fit", csv.to_str().unwrap(), "--skip-damaged"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--skip-damaged applies to results directories"), "{}", text(&o).1);
}

/// Counts executions per point.
#[derive(Default)]
struct Counting {
    calls: Mutex<HashMap<String, usize>>,
}

impl PointExecutor for Counting {
    fn supports(&self, _point: &Point) -> Result<(), UnsupportedSize> {
        Ok(())
    }
    fn execute(
        &self,
        point: &Point,
        ctx: &ExecContext<'_>,
    ) -> Result<Execution, Box<dyn std::error::Error + Send + Sync>> {
        *self.calls.lock().unwrap().entry(point.hash.clone()).or_default() += 1;
        KnownLaw.execute(point, ctx)
    }
}

#[test]
fn run_moves_damaged_records_aside_and_retrains_their_points() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pts = full_dir(dir);
    let damaged = damage_all(dir, &pts);
    let store = ResultsDir::open(dir).unwrap();
    let before: Vec<Option<Vec<u8>>> = damaged.iter().map(|(p, _)| std::fs::read(p).ok()).collect();

    let exec = Counting::default();
    let opts = quiet(dir);
    let rep = runner::run("damaged", &pts, Path::new("."), &exec, &opts).unwrap();
    assert!(rep.all_finished);
    let calls = exec.calls.lock().unwrap().clone();
    let mut retrained: Vec<&String> = calls.keys().collect();
    retrained.sort();
    let mut expected: Vec<&String> = pts[1..=damaged.len()].iter().map(|p| &p.hash).collect();
    expected.sort();
    assert_eq!(retrained, expected, "exactly the damaged points are re-trained");
    assert!(calls.values().all(|&n| n == 1));
    assert_eq!(store.records().unwrap().len(), pts.len(), "every record is intact again");

    let log = opts.log.lines().join("\n");
    for (k, ((path, reason), old)) in damaged.iter().zip(&before).enumerate() {
        let p = &pts[k + 1];
        let line = log
            .lines()
            .find(|l| l.contains(&p.hash) && l.contains("damaged"))
            .unwrap_or_else(|| panic!("no line says that {} is damaged:\n{log}", path.display()));
        assert!(line.contains(&*path.to_string_lossy()) && line.contains(reason), "{line}");
        assert!(line.contains("re-training"), "{line}");
        // kept aside, byte for byte (a directory stays a directory)
        let name = format!("{}.json.damaged-", p.hash);
        let aside: Vec<PathBuf> = std::fs::read_dir(dir.join("points"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|q| q.file_name().unwrap().to_string_lossy().starts_with(&name))
            .collect();
        assert_eq!(aside.len(), 1, "{name}: {aside:?}");
        assert!(line.contains(&*aside[0].to_string_lossy()), "the line says where it went: {line}");
        match old {
            Some(bytes) => assert_eq!(&std::fs::read(&aside[0]).unwrap(), bytes),
            None => assert!(aside[0].is_dir()),
        }
    }
}

/// A pid that is not running: a child that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} was reused at once; rerun");
    pid
}

fn age(path: &Path, by: Duration) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

#[test]
fn dead_writers_temp_files_are_removed_and_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pts = full_dir(dir);
    let store = ResultsDir::open(dir).unwrap();
    let pid = dead_pid();
    // a dead writer's temp file holding a whole record of a point without one
    let record = std::fs::read_to_string(store.record_path(&pts[0].hash)).unwrap();
    std::fs::remove_file(store.record_path(&pts[0].hash)).unwrap();
    let dead = dir.join("points").join(format!(".{}.{pid}.7.tmp", pts[0].hash));
    std::fs::write(&dead, &record).unwrap();
    age(&dead, Duration::from_secs(3600));
    // a live writer's (ours), which must stay
    let live = dir.join("points").join(format!(".{}.{}.8.tmp", pts[0].hash, std::process::id()));
    std::fs::write(&live, &record).unwrap();
    age(&live, Duration::from_secs(3600));

    let o = cli(&["fit", dir.to_str().unwrap(), "--n-unit", "1e3", "--starts", "2"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains(&format!("({} points)", pts.len() - 1)), "temp files are not records:\n{out}");
    assert!(dead.exists(), "fit only reads");

    // a report killed while writing left `report/<name>.tmp.<pid>`
    let report_tmp = dir.join("report").join(format!("points.tmp.{pid}"));
    std::fs::create_dir_all(dir.join("report")).unwrap();
    std::fs::write(&report_tmp, "partial").unwrap();
    age(&report_tmp, Duration::from_secs(3600));
    let o = cli(&["report", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(!report_tmp.exists(), "report removes a dead report writer's temp file");

    let exec = Counting::default();
    let opts = quiet(dir);
    runner::run("damaged", &pts, Path::new("."), &exec, &opts).unwrap();
    assert!(!dead.exists(), "run removes a dead writer's temp file");
    assert!(live.exists(), "a live writer's temp file stays");
    assert_eq!(exec.calls.lock().unwrap().len(), 1, "the point whose record was only a temp file is trained");
    assert!(opts.log.lines().iter().any(|l| l.contains(&*dead.to_string_lossy())), "{:?}", opts.log.lines());
}

#[test]
fn a_failed_record_write_removes_its_temp_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pts = full_dir(dir);
    let store = ResultsDir::open(dir).unwrap();
    let record = store.load(&pts[0].hash).unwrap();
    // a non-empty directory in place of the record: the rename fails
    let p = store.record_path(&pts[0].hash);
    std::fs::remove_file(&p).unwrap();
    std::fs::create_dir(&p).unwrap();
    std::fs::write(p.join("x"), "x").unwrap();
    assert!(store.write(&record).is_err());
    let temps: Vec<String> = std::fs::read_dir(dir.join("points"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "left behind: {temps:?}");
}

#[test]
fn reading_commands_never_create_a_points_folder() {
    let tmp = tempfile::tempdir().unwrap();
    // a directory named like a CSV file
    let dir = tmp.path().join("foo.csv");
    std::fs::create_dir(&dir).unwrap();
    let d = format!("{}/", dir.display());
    for args in [
        vec!["fit", d.as_str()],
        vec!["analyse", d.as_str()],
        vec!["analyse", d.as_str(), "--law", "paper-normalised", "--params", "0.5,0.8,1.5,0.25,0.6,0.3,0.7"],
        vec!["report", d.as_str()],
    ] {
        let o = cli(&args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("is not a results directory") && err.contains("fix:"), "{args:?}: {err}");
        assert!(!dir.join("points").exists(), "{args:?} created {}/points", dir.display());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "{args:?} wrote into {}", dir.display());
    }
}

#[test]
fn plan_shows_damaged_points_as_damaged_with_their_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("results");
    let pts = full_dir(&dir);
    let damaged = damage_all(&dir, &pts);
    let exp = tmp.path().join("damaged.ron");
    std::fs::write(&exp, EXP).unwrap();
    let o = cli(&["plan", exp.to_str().unwrap(), "--results", dir.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for (path, reason) in &damaged {
        let line = out.lines().find(|l| l.contains(&*path.to_string_lossy())).unwrap_or_else(|| {
            panic!("plan does not name the damaged record {}:\n{out}", path.display());
        });
        assert!(line.contains("damaged record") && line.contains(reason), "{line}");
    }
    let intact = pts.len() - damaged.len();
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "{} points: {intact} done, {} damaged, 0 claimed by a runner, 0 pending",
            pts.len(),
            damaged.len()
        )),
        "{last}"
    );
}
