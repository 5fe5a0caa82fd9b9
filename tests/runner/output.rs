//! Closed pipes and full devices: a command whose stdout reader went away (`… | head -1`) drops
//! the rest of its output, finishes its work (files it writes) and ends quietly with the status
//! of that work; a full device (`> /dev/full`) is an error naming stdout. Neither panics.

use std::path::Path;
use std::process::{Command, Stdio};

fn quickstart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments").join("quickstart.ron").display().to_string()
}

/// Runs the binary with stdout a pipe whose reading end is closed before the command writes.
fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let q = quickstart();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "S,N,D,loss\n0,1,1,3\n0.5,2,1,2.5\n0,3,2,2\n0.5,4,2,1.8\n0,5,3,1.7\n0.5,6,3,1.6\n").unwrap();
    let c = csv.to_str().unwrap();
    let json = dir.path().join("fit.json");
    let j = json.to_str().unwrap();
    for args in [
        vec!["check", q.as_str()],
        vec!["check", q.as_str(), "--json"],
        vec!["plan", q.as_str(), "--results", dir.path().to_str().unwrap()],
        vec!["fit", c, "--law", "E + A*N^(-a)", "--starts", "2", "--json", j],
    ] {
        let o = with_closed_stdout(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(0), "{args:?} must end quietly: {err}");
        // nothing but progress lines (a fit logs its start and end when stderr is not a terminal)
        assert!(err.lines().all(|l| l.contains(": started") || l.contains(": done in")), "{args:?}: {err}");
    }
    assert!(json.exists(), "fit finishes its work when stdout is closed");
}

#[test]
fn a_full_device_is_an_error_naming_stdout() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("skipped: this system has no /dev/full");
        return;
    }
    let o = Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
        .args(["check", &quickstart()])
        .stdout(std::fs::OpenOptions::new().write(true).open(full).unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write to stdout") && err.contains("fix:"), "{err}");
    let os = std::io::Error::from_raw_os_error(28).to_string(); // ENOSPC, in the OS's words
    assert_eq!(err.matches(&os).count(), 1, "the cause once: {err}");
}
