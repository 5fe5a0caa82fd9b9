//! A run stopped after k steps (with its checkpoint) and resumed in a fresh trainer — new
//! model object with other initial weights, new stream, new pruner — ends bit for bit equal
//! to an uninterrupted run: weights, losses, validation curve, N, S, D (issue 3).

use crate::train_support;

use std::path::Path;

use sparse_scaling::experiment::At;
use sparse_scaling::train::{
    train, AdafactorConfig, AdamWConfig, LoopOptions, OptimizerConfig, RunSummary, TrainConfig, TrainError,
};
use train_support::*;

const STEPS: u64 = 20;

fn cfg(optimizer: OptimizerConfig) -> TrainConfig {
    TrainConfig { steps: STEPS, batch_size: 16, optimizer, grad_clip: Some(1.0), eval_every: 4, seed: 11 }
}

/// One segment of a run: fresh objects every time, as after a process restart.
fn segment(
    init_seed: u64,
    cfg: &TrainConfig,
    ck: &Path,
    stop_after: Option<u64>,
) -> (Result<RunSummary, TrainError>, Vec<u32>) {
    let mut model = tiny(init_seed);
    let mut pruner = TestPruner::new(&tiny(5), 9, 0.3, 0.6, 7);
    let mut stream = Stream::new(21, 16);
    let val = stream.validation(2);
    let opts =
        LoopOptions { checkpoint: Some(ck.to_path_buf()), checkpoint_every: 5, stop_after, ..Default::default() };
    let r = train(&mut model, &mut stream, &val, cfg, &mut pruner, &opts);
    (r, weights(&model))
}

fn same_numbers(a: &RunSummary, b: &RunSummary) {
    assert_eq!(a.final_val_loss.to_bits(), b.final_val_loss.to_bits());
    assert_eq!(a.best_val_loss.to_bits(), b.best_val_loss.to_bits());
    assert_eq!(a.best_step, b.best_step);
    assert_eq!(a.val_curve, b.val_curve);
    assert_eq!(a.train_curve, b.train_curve);
    assert_eq!(a.nonzeros, b.nonzeros);
    assert_eq!(a.total_params, b.total_params);
    assert_eq!(a.layers, b.layers);
    assert_eq!(a.sparsity.to_bits(), b.sparsity.to_bits());
    assert_eq!(a.data_seen, b.data_seen);
    assert_eq!(a.steps, b.steps);
}

fn killed_and_resumed_equals_uninterrupted(optimizer: OptimizerConfig) {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(optimizer);
    let (full, w_full) = segment(5, &c, &dir.path().join("full.ckpt"), None);
    let full = full.unwrap();
    assert_eq!(full.resumed_from, None);
    assert!(full.final_val_loss < full.val_curve[0].loss, "the run should learn: {:?}", full.val_curve);

    // stopped twice (before and after the pruner's mask switch at step 7), resumed twice
    let ck = dir.path().join("killed.ckpt");
    let (r, _) = segment(5, &c, &ck, Some(6));
    assert!(matches!(r, Err(TrainError::Stopped { step: 6, .. })), "{r:?}");
    let (r, _) = segment(1234, &c, &ck, Some(13));
    assert!(matches!(r, Err(TrainError::Stopped { step: 13, .. })), "{r:?}");
    let (resumed, w_resumed) = segment(777, &c, &ck, None);
    let resumed = resumed.unwrap();
    assert_eq!(resumed.resumed_from, Some(13));
    same_numbers(&full, &resumed);
    assert!(w_full == w_resumed, "final weights differ after resuming");

    // a finished checkpoint returns the same numbers without training again
    let (again, w_again) = segment(42, &c, &ck, None);
    let again = again.unwrap();
    assert_eq!(again.resumed_from, Some(STEPS));
    same_numbers(&full, &again);
    assert!(w_full == w_again);
}

#[test]
fn adamw_resume_is_bit_exact() {
    killed_and_resumed_equals_uninterrupted(OptimizerConfig::AdamW(AdamWConfig {
        lr: 3e-2,
        warmup_steps: At::Fraction(0.1).resolve(STEPS),
        ..Default::default()
    }));
}

#[test]
fn adafactor_resume_is_bit_exact() {
    killed_and_resumed_equals_uninterrupted(OptimizerConfig::Adafactor(AdafactorConfig {
        warmup_steps: 100,
        scale: 3.0,
        ..Default::default()
    }));
}

#[test]
fn same_seed_same_numbers_without_checkpoints() {
    let c = cfg(OptimizerConfig::AdamW(AdamWConfig { lr: 1e-2, warmup_steps: 2, ..Default::default() }));
    let run = || {
        let mut model = tiny(3);
        let mut pruner = TestPruner::new(&model, 9, 0.3, 0.6, 7);
        let mut stream = Stream::new(21, 16);
        let val = stream.validation(2);
        let s = train(&mut model, &mut stream, &val, &c, &mut pruner, &LoopOptions::default()).unwrap();
        (s, weights(&model))
    };
    let (a, wa) = run();
    let (b, wb) = run();
    same_numbers(&a, &b);
    assert!(wa == wb);
}

#[test]
fn stopping_at_zero_or_behind_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(OptimizerConfig::AdamW(AdamWConfig { lr: 1e-2, warmup_steps: 2, ..Default::default() }));
    let (full, w_full) = segment(5, &c, &dir.path().join("full.ckpt"), None);
    let full = full.unwrap();

    let ck = dir.path().join("k.ckpt");
    // stop before the first step: a checkpoint of the initial state
    let (r, _) = segment(5, &c, &ck, Some(0));
    assert!(matches!(r, Err(TrainError::Stopped { step: 0, .. })), "{r:?}");
    assert_eq!(sparse_scaling::train::checkpoint::load(&ck).unwrap().step, 0);
    let (r, _) = segment(8, &c, &ck, Some(9));
    assert!(matches!(r, Err(TrainError::Stopped { step: 9, .. })), "{r:?}");
    // asking to stop at or before where the checkpoint is: stops at once, file untouched
    let before = std::fs::read(&ck).unwrap();
    let (r, _) = segment(8, &c, &ck, Some(4));
    assert!(matches!(r, Err(TrainError::Stopped { step: 9, .. })), "{r:?}");
    assert_eq!(std::fs::read(&ck).unwrap(), before);
    // a stop at or past the end is ignored
    let (r, w) = segment(8, &c, &ck, Some(STEPS));
    let r = r.unwrap();
    same_numbers(&full, &r);
    assert!(w == w_full);
}
