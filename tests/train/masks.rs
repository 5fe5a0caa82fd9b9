//! Pruned weights stay exactly zero through AdamW and the Adafactor option — with weight
//! decay, huge gradients, no clipping — including weights pruned mid-run, whose stale
//! optimizer moments must not revive them (issue 3, "Done when").

use crate::train_support;

use sparse_scaling::train::checkpoint;
use sparse_scaling::train::{train, AdafactorConfig, AdamWConfig, Dense, LoopOptions, OptimizerConfig, TrainConfig};
use train_support::*;

fn run(optimizer: OptimizerConfig) -> (TestPruner, Tiny, sparse_scaling::train::RunSummary, checkpoint::Checkpoint) {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("run.ckpt");
    let mut model = tiny(1);
    let before = weights(&model);
    let mut pruner = TestPruner::new(&model, 7, 0.5, 0.8, 6);
    let mut stream = Stream::new(3, 16);
    stream.scale = 1e4; // gradients of order 1e4
    let val = stream.validation(2);
    let cfg = TrainConfig { steps: 12, batch_size: 16, optimizer, grad_clip: None, eval_every: 6, seed: 0 };
    let opts = LoopOptions { checkpoint: Some(ck.clone()), ..Default::default() };
    let summary = train(&mut model, &mut stream, &val, &cfg, &mut pruner, &opts).unwrap();
    assert_ne!(before, weights(&model), "the run must actually move the weights");
    let saved = checkpoint::load(&ck).unwrap();
    (pruner, model, summary, saved)
}

fn check(pruner: &TestPruner, model: &Tiny, summary: &sparse_scaling::train::RunSummary) {
    assert_eq!(pruner.checks, 12, "on_step runs after every step");
    assert!(pruner.switched);
    assert!(
        pruner.violations.is_empty(),
        "the optimizer moved pruned weights (before masks were re-applied): {:?}",
        &pruner.violations[..pruner.violations.len().min(5)]
    );
    assert_eq!(pruner.nonzero_pruned(model), 0);
    // N and S are measured from the masks
    let kept: u64 = pruner.masks.values().map(|m| m.iter().filter(|&&x| x != 0.0).count() as u64).sum();
    assert_eq!(summary.nonzeros, kept);
    assert!((summary.sparsity - 0.8).abs() < 0.06, "S = {}", summary.sparsity);
    assert_eq!(summary.total_params, (IN * HID + HID + HID * CLASSES + CLASSES) as u64);
    assert_eq!(summary.data_seen, 12 * 16);
    assert_eq!(summary.val_curve.iter().map(|p| p.step).collect::<Vec<_>>(), vec![6, 12]);
}

#[test]
fn adamw_keeps_pruned_weights_and_moments_at_zero() {
    let opt = OptimizerConfig::AdamW(AdamWConfig { lr: 0.3, weight_decay: 0.5, warmup_steps: 1, ..Default::default() });
    let (pruner, model, summary, saved) = run(opt);
    check(&pruner, &model, &summary);
    // m and v of pruned weights are zero in the saved optimizer state
    let mut looked = 0;
    for slot in &saved.opt {
        if let Some(mask) = pruner.masks.get(&slot.path) {
            for buf in &slot.bufs {
                for (x, m) in buf.iter().zip(mask) {
                    if *m == 0.0 {
                        assert_eq!(*x, 0.0, "{}: optimizer state of a pruned weight", slot.path);
                        looked += 1;
                    }
                }
            }
        }
    }
    assert!(looked > 300, "checked {looked} moments");
    // and unpruned moments are not (the test would be vacuous otherwise)
    let s = &saved.opt[0];
    assert!(s.bufs[1].iter().zip(&pruner.masks[&s.path]).any(|(v, m)| *m == 1.0 && *v > 0.0));
}

#[test]
fn adafactor_keeps_pruned_weights_at_zero() {
    let opt = OptimizerConfig::Adafactor(AdafactorConfig { warmup_steps: 1, weight_decay: 0.5, ..Default::default() });
    let (pruner, model, summary, _) = run(opt);
    check(&pruner, &model, &summary);
}

#[test]
fn dense_run_counts_weight_matrices() {
    let mut model = tiny(2);
    let mut stream = Stream::new(4, 8);
    let val = stream.validation(1);
    let cfg = TrainConfig {
        steps: 3,
        batch_size: 8,
        optimizer: OptimizerConfig::AdamW(AdamWConfig { warmup_steps: 1, ..Default::default() }),
        eval_every: 2,
        ..Default::default()
    };
    let s = train(&mut model, &mut stream, &val, &cfg, &mut Dense, &LoopOptions::default()).unwrap();
    assert_eq!(s.nonzeros, (IN * HID + HID * CLASSES) as u64);
    assert_eq!(s.sparsity, 0.0);
    assert_eq!(s.layers.len(), 2);
    assert_eq!(s.val_curve.iter().map(|p| p.step).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(s.steps, 3);
    assert_eq!(s.data_seen, 24);
    assert!(s.steps_per_s > 0.0);
}
