//! Hostile places to write: stdout or stderr a full device (`/dev/full`) or a pipe whose reader
//! has gone, output files (`--json`, `--plot`, `--slurm`, …) on a full device, in a missing
//! folder or in a read-only one, a read-only results directory, `--results` a device.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::{AsRefOs, Case, Sink};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Makes `dir` read-only; returns whether that stops this process writing in it (not as root).
fn read_only(dir: &Path) -> bool {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = dir.join(".probe");
    let blocked = std::fs::write(&probe, "").is_err();
    let _ = std::fs::remove_file(&probe);
    blocked
}

/// The cases, in `dir`: `csv` a clean CSV, `fit` a fit of it, `results` a finished results
/// directory of `exp`.
pub fn cases(dir: &Path, csv: &Path, fit: &Path, results: &Path, exp: &Path) -> Vec<Case> {
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments").join("quickstart.ron");
    let mut cases = Vec::new();
    let mut n = 0;
    let mut own_results = || {
        n += 1;
        let d = dir.join(format!("out-results-{n:02}"));
        copy_dir(results, &d);
        d
    };
    // (name, args): commands that write to stdout (and some to stderr)
    let commands: Vec<(String, Vec<std::ffi::OsString>)> = vec![
        ("check".into(), vec!["check".into(), quickstart.clone().into()]),
        ("check --json".into(), vec!["check".into(), quickstart.clone().into(), "--json".into()]),
        ("plan".into(), vec!["plan".into(), exp.into(), "--results".into(), results.into()]),
        ("fit".into(), vec!["fit".into(), csv.into(), "--starts".into(), "2".into()]),
        ("analyse".into(), vec!["analyse".into(), fit.into()]),
        ("report".into(), vec!["report".into(), own_results().into()]),
        ("run (every point done)".into(), vec!["run".into(), exp.into(), "--results".into(), own_results().into()]),
    ];
    for (name, args) in &commands {
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let refs: Vec<&dyn AsRefOs> = args.iter().map(|a| a as &dyn AsRefOs).collect();
        for (what, out, err, must_fail) in [
            ("stdout full", Sink::Full, Sink::Captured, true),
            ("stdout closed", Sink::Closed, Sink::Captured, false),
            ("stderr full", Sink::Captured, Sink::Full, false),
            ("stderr closed", Sink::Captured, Sink::Closed, false),
            ("stdout and stderr closed", Sink::Closed, Sink::Closed, false),
        ] {
            let c = Case::new("output", format!("{name}, {what}"), &refs, &["stdout"]).sinks(out, err);
            cases.push(if must_fail { c } else { c.either() });
        }
    }
    // a failing command whose error cannot be written
    let missing = dir.join("missing.ron");
    for (what, err) in [("stderr full", Sink::Full), ("stderr closed", Sink::Closed)] {
        cases.push(
            Case::new("output", format!("check a missing file, {what}"), &[&"check", &missing], &["missing.ron"])
                .sinks(Sink::Captured, err),
        );
    }

    // output files in bad places
    let ro = dir.join("read-only");
    std::fs::create_dir_all(&ro).unwrap();
    let ro_results = own_results();
    let blocked = read_only(&ro) & read_only(&ro_results);
    let full = "/dev/full";
    let gone = "/nonexistent-dir/out";
    let in_ro = |f: &str| ro.join(f).display().to_string();
    let files: Vec<(&str, Vec<String>, String, bool)> = vec![
        (
            "fit --json",
            vec!["fit".into(), csv.display().to_string(), "--starts".into(), "2".into(), "--json".into()],
            full.into(),
            true,
        ),
        (
            "fit --json",
            vec!["fit".into(), csv.display().to_string(), "--starts".into(), "2".into(), "--json".into()],
            gone.into(),
            true,
        ),
        (
            "fit --json",
            vec!["fit".into(), csv.display().to_string(), "--starts".into(), "2".into(), "--json".into()],
            in_ro("f.json"),
            blocked,
        ),
        (
            "fit --plot",
            vec!["fit".into(), csv.display().to_string(), "--starts".into(), "2".into(), "--plot".into()],
            full.into(),
            true,
        ),
        (
            "fit --plot",
            vec!["fit".into(), csv.display().to_string(), "--starts".into(), "2".into(), "--plot".into()],
            in_ro("f.svg"),
            blocked,
        ),
        ("analyse --json", vec!["analyse".into(), fit.display().to_string(), "--json".into()], full.into(), true),
        (
            "analyse --plot-contours",
            vec!["analyse".into(), fit.display().to_string(), "--plot-contours".into()],
            full.into(),
            true,
        ),
        (
            "analyse --save-fit",
            vec!["analyse".into(), fit.display().to_string(), "--save-fit".into()],
            in_ro("s.json"),
            blocked,
        ),
        (
            "plan --slurm",
            vec![
                "plan".into(),
                exp.display().to_string(),
                "--results".into(),
                results.display().to_string(),
                "--slurm".into(),
            ],
            full.into(),
            true,
        ),
        (
            "plan --slurm",
            vec![
                "plan".into(),
                exp.display().to_string(),
                "--results".into(),
                results.display().to_string(),
                "--slurm".into(),
            ],
            in_ro("job.sh"),
            blocked,
        ),
        ("run --results", vec!["run".into(), exp.display().to_string(), "--results".into()], full.into(), true),
        ("report", vec!["report".into()], ro_results.display().to_string(), blocked),
        (
            "run (every point done)",
            vec!["run".into(), exp.display().to_string(), "--results".into()],
            ro_results.display().to_string(),
            blocked,
        ),
    ];
    let mut files = files;
    if blocked {
        // (only where the folder really is read-only: elsewhere this would train every point)
        let args = vec!["run".into(), exp.display().to_string(), "--no-analysis".into(), "--results".into()];
        files.push(("run --results", args, in_ro("r"), true));
    }
    for (name, mut args, target, must_fail) in files {
        args.push(target.clone());
        let refs: Vec<&dyn AsRefOs> = args.iter().map(|a| a as &dyn AsRefOs).collect();
        let c =
            Case::new("output", format!("{name} {target}"), &refs, &[&target, name.split(' ').nth(1).unwrap_or(name)]);
        cases.push(if must_fail { c } else { c.either() });
    }
    cases
}
