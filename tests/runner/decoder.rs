//! A decoder-only experiment end to end: `check` lists its points against the compiled
//! decoder shapes, and the real executor trains them into records whose family, N (the
//! non-zero weights of the pruned layers, (1 − S) × prunable) and D (tokens seen) are the
//! decoder's (docs/THEORY.md §1, §6).

use std::path::Path;
use std::process::Command;

use sparse_scaling::experiment::{Experiment, Family};
use sparse_scaling::results::ResultsDir;
use sparse_scaling::runner::{self, executor::TrainExecutor, PointStatus, RunOptions};

use crate::runner_support::text;

const EXP: &str = r#"(
    name: "decoder-e2e",
    model: (family: Decoder, sizes: Widths([32]), decoder: (seq_len: 16)),
    sparsity: [0.0, 0.5],
    pruning: [Gmp(update_every: 1)],
    steps: [10],
    batch_size: 4,
    optimizer: AdamW(lr: 2e-3),
    validation: (examples: 8, every: 5),
)"#;

#[test]
fn check_lists_decoder_points() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("decoder.ron");
    std::fs::write(&exp, EXP).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sparse-scaling")).arg("check").arg(&exp).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let rows: Vec<&str> = stdout.lines().filter(|l| l.contains(" decoder ")).collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(stdout.contains("every model shape is compiled"), "{stdout}");
    // a width that is not compiled is refused with the compiled decoder shapes
    std::fs::write(&exp, EXP.replace("Widths([32])", "Widths([80])")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
        .arg("check")
        .arg(&exp)
        .arg("--no-build")
        .env("SPARSE_SCALING_CACHE", dir.path().join("cache"))
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("compiled decoder models: decoder width 32 (MLP width 80)"), "{stderr}");
}

#[test]
fn decoder_points_train_into_records() {
    let points = Experiment::from_ron_str(EXP).unwrap().expand().unwrap();
    assert_eq!(points.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = RunOptions::new(dir.path());
    opts.progress = false;
    let executor = TrainExecutor::<runner::registry::Builtin>::default();
    let report = runner::run("decoder-e2e", &points, Path::new("."), &executor, &opts).unwrap();
    assert!(report.all_finished);
    assert_eq!(report.count(|s| *s == PointStatus::Trained), 2);
    let store = ResultsDir::open(dir.path()).unwrap();
    for p in &points {
        let r = store.load(&p.hash).unwrap();
        assert_eq!(r.family(), Family::Decoder);
        assert_eq!(r.family().name(), "decoder");
        let prunable = 2 * (4 * 32 * 32 + 3 * 32 * 80);
        assert_eq!(r.outcome.prunable_params, prunable, "q, k, v, o and the gated MLP of 2 layers");
        let want = ((1.0 - p.spec.sparsity) * prunable as f64).round() as u64;
        assert_eq!(r.outcome.nonzero_params, want, "N = (1 − S) × prunable at S = {}", p.spec.sparsity);
        assert_eq!(r.data_seen, 10.0 * 4.0 * 16.0, "D in tokens: steps × batch × seq_len");
        assert!(r.outcome.final_val_loss.is_finite() && r.outcome.final_val_loss > 0.0);
        assert_eq!(r.outcome.val_curve.last().map(|c| c.step), Some(10));
        assert!(r.outcome.total_params > prunable, "embeddings and the output projection too");
    }
}
