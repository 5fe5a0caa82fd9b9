//! `check` and `run` refuse a point that needs more memory than the machine has, with the
//! estimate and a fix, instead of accepting it and aborting in an allocation during `run`
//! (issue 12, part 3).

use std::path::Path;
use std::process::{Command, Output};

fn sparse_scaling(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sparse-scaling")).args(args).output().unwrap()
}

fn experiment(dir: &Path, name: &str, batch_size: u64) -> std::path::PathBuf {
    let p = dir.join(name);
    let text = format!(
        "(\n  name: \"mem\",\n  model: (family: Vit, sizes: Widths([32])),\n  steps: [10],\n  batch_size: {batch_size},\n)"
    );
    std::fs::write(&p, text).unwrap();
    p
}

/// The command failed with status 2 (an error, not an abort or a panic) and the text of stderr.
fn failed(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "expected an error exit:\n{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("memory allocation"), "{stderr}");
    stderr
}

#[test]
fn a_batch_beyond_any_machine_is_refused_by_check_with_its_estimate() {
    // The case of issue 12: `check` passed it, `run` aborted allocating 3072000000000000 bytes.
    let dir = tempfile::tempdir().unwrap();
    let p = experiment(dir.path(), "huge.ron", 1_000_000_000_000);
    let stderr = failed(&sparse_scaling(&["check".as_ref(), p.as_os_str()]));
    assert!(stderr.contains("huge.ron:5:3"), "{stderr}");
    assert!(stderr.contains("needs at least") && stderr.contains("PiB") && stderr.contains("activations"), "{stderr}");
    assert!(stderr.contains("fix: lower `batch_size`"), "{stderr}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_batch_beyond_this_machine_is_refused_by_check_and_run() {
    // 10^9 images of a width-32 ViT need tens of TiB by the lower-bound estimate: below the
    // 1 PiB bound of validation, above the memory of any machine this runs on.
    let dir = tempfile::tempdir().unwrap();
    let p = experiment(dir.path(), "big.ron", 1_000_000_000);
    let total_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let point = sparse_scaling::experiment::ExperimentFile::load(&p).unwrap().expand().unwrap().remove(0);
    let estimate = sparse_scaling::experiment::MemoryEstimate::of(&point.spec);
    assert!(estimate.total() > (total_kb * 1024) as f64, "this machine would fit {estimate:?}");
    let named = sparse_scaling::experiment::memory::bytes(estimate.total());

    let stderr = failed(&sparse_scaling(&["check".as_ref(), p.as_os_str()]));
    assert!(stderr.contains("big.ron:5:3") && stderr.contains("MemTotal"), "{stderr}");
    assert!(stderr.contains(&format!("needs at least {named}")), "{stderr}");
    assert!(stderr.contains("fix: lower `batch_size`"), "{stderr}");

    let results = dir.path().join("results");
    let stderr = failed(&sparse_scaling(&["run".as_ref(), p.as_os_str(), "--results".as_ref(), results.as_os_str()]));
    assert!(stderr.contains(&format!("needs at least {named}")), "{stderr}");
    assert!(!results.exists(), "nothing is trained or written");
}
