//! The `sparse-scaling` binary's `check` and `plan` commands: positioned errors for bad
//! files, the points table, and Slurm scripts that pass `bash -n` with an array range that
//! matches the number of points.

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str = r#"(
    name: "cli",
    model: (family: Vit, sizes: Widths([32, 48])),
    sparsity: [0.0, 0.5, 0.75],
    steps: [10, 20],
)"#;

#[test]
fn check_lists_points_and_reports_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.ron", GOOD);
    let out = bin().arg("check").arg(&good).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("12 points"), "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()) && !l.contains("points"))
            .count(),
        12,
        "{stdout}"
    );

    let cases = [
        ("syntax.ron", GOOD.replace("sparsity: [0.0, 0.5, 0.75],", "sparsity: [0.0, 0.5, 0.75]"), "syntax.ron:5:"),
        ("unknown.ron", GOOD.replace("steps:", "stepz:"), "unknown.ron:5:"),
        ("s_one.ron", GOOD.replace("0.75]", "1.0]"), "s_one.ron:4:"),
        (
            "nm.ron",
            GOOD.replace("sizes: Widths([32, 48])", "sizes: Widths([32, 40]), heads: 2")
                .replace("steps:", "pruning: [NM(n: 1, m: 16)], sparsity: [0.9375],\n    steps:")
                .replace("sparsity: [0.0, 0.5, 0.75],", ""),
            "nm.ron:5:",
        ),
        ("empty.ron", GOOD.replace("steps: [10, 20]", "steps: []"), "empty.ron:5:"),
    ];
    for (name, text, position) in cases {
        let p = write(dir.path(), name, &text);
        let out = bin().arg("check").arg(&p).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} must fail");
        assert!(stderr.contains(position), "{name}: expected `{position}` in:\n{stderr}");
        assert!(stderr.contains("fix:"), "{name}: no fix in:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn check_rejects_sizes_that_are_not_compiled() {
    // `check` alone accepts them (the first `run` builds a runner); `--no-build` refuses them
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "big.ron", &GOOD.replace("Widths([32, 48])", "Widths([32, 80])"));
    let cache = dir.path().join("cache");
    let out = bin().arg("check").arg(&p).env("SPARSE_SCALING_CACHE", &cache).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("vit width 80 (MLP width 320), depth 2, 16 patches of 48 values, 10 classes: not compiled in: the first `run` builds"), "{stdout}");
    assert!(
        stdout.contains(
            "vit width 32 (MLP width 128), depth 2, 16 patches of 48 values, 10 classes: compiled into this binary"
        ),
        "{stdout}"
    );
    let out = bin().arg("check").arg(&p).arg("--no-build").env("SPARSE_SCALING_CACHE", &cache).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("big.ron:3:45: (model.sizes[1]) point"), "{stderr}");
    assert!(
        stderr.contains("width 80") && stderr.contains("width 32 (MLP width 128)") && stderr.contains("registry.rs"),
        "{stderr}"
    );
    // Depth and the input shape are part of what must be compiled.
    let p = write(dir.path(), "deep.ron", &GOOD.replace("Widths([32, 48])", "Widths([32, 48]), depth: 3"));
    let out = bin().arg("check").arg(&p).arg("--no-build").env("SPARSE_SCALING_CACHE", &cache).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("depth 3") && stderr.contains("sweep!"), "{stderr}");
}

#[test]
fn plan_slurm_script_is_valid_bash_with_matching_array() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "exp ' with quote.ron", GOOD);
    let script = dir.path().join("job.sh");
    let results = dir.path().join("shared results");
    let out = bin().arg("plan").arg(&exp).arg("--slurm").arg(&script).arg("--results").arg(&results).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.lines().any(|l| l == "#SBATCH --array=0-11"), "{text}");
    assert!(text.contains("--point \"$TASK\""));
    let check = Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(check.status.success(), "bash -n: {}", String::from_utf8_lossy(&check.stderr));
    // the script refuses to run outside a job array, and a task beyond the points
    let run = Command::new("bash").arg(&script).env_remove("SLURM_ARRAY_TASK_ID").output().unwrap();
    assert!(!run.status.success());
    let run = Command::new("bash").arg(&script).env("SLURM_ARRAY_TASK_ID", "12").output().unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("only 12 points"));
    // plan without --slurm shows the status
    let out = bin().arg("plan").arg(&exp).arg("--results").arg(&results).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("12 points: 0 done"));
}

#[test]
fn run_rejects_bad_selection() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "exp.ron", GOOD);
    let out =
        bin().args(["run"]).arg(&exp).args(["--point", "12", "--results"]).arg(dir.path().join("r")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("12 points"));
    let out =
        bin().args(["run"]).arg(&exp).args(["--shard", "2/2", "--results"]).arg(dir.path().join("r")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shard i/n"));
}
