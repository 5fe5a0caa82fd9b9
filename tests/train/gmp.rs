//! The loop with the sparsity module's real `Pruner`: GMP and gradual n:m under AdamW and
//! Adafactor (weight decay, huge gradients, no clipping) keep every pruned weight exactly
//! zero after every step, end at the scheduled sparsity with N counted from the masks, and
//! resume bit for bit mid-schedule.

use crate::train_support;

use sparse_scaling::experiment::{At, Pruning, PruningPlan, ScheduleShape};
use sparse_scaling::params::for_each_param;
use sparse_scaling::sparsity::{Embeddings, Pruner};
use sparse_scaling::train::{
    train, AdafactorConfig, AdamWConfig, BoxError, LoopOptions, OptimizerConfig, RunSummary, Sparsifier, SparsityStats,
    TrainConfig, TrainError,
};
use train_support::*;

const STEPS: u64 = 24;

/// The real pruner, checking before each re-application that the optimizer left every
/// pruned weight at exactly zero.
struct Checked {
    inner: Pruner,
    violations: usize,
    checks: u64,
}

impl Sparsifier<Tiny> for Checked {
    fn apply(&mut self, m: &mut Tiny) -> Result<(), BoxError> {
        Sparsifier::<Tiny>::apply(&mut self.inner, m)
    }
    fn on_step(&mut self, m: &mut Tiny, step: u64) -> Result<(), BoxError> {
        let masks = self.inner.masks();
        let mut bad = 0;
        for_each_param::<_, TrainError>(m, &mut |p, _, v| {
            if let Some(mask) = masks.get(p).and_then(|x| x.mask.as_ref()) {
                bad += (0..v.len()).filter(|&i| !mask.get(i) && v[i] != 0.0).count();
            }
            Ok(())
        })?;
        self.violations += bad;
        self.checks += 1;
        Sparsifier::<Tiny>::on_step(&mut self.inner, m, step)
    }
    fn zero_pruned(&self, path: &str, values: &mut [f32]) -> Result<(), BoxError> {
        Sparsifier::<Tiny>::zero_pruned(&self.inner, path, values)
    }
    fn kept(&self, path: &str) -> Option<usize> {
        Sparsifier::<Tiny>::kept(&self.inner, path)
    }
    fn stats(&self, m: &Tiny) -> SparsityStats {
        Sparsifier::<Tiny>::stats(&self.inner, m)
    }
    fn state(&self) -> Result<serde_json::Value, BoxError> {
        Sparsifier::<Tiny>::state(&self.inner)
    }
    fn restore(&mut self, m: &Tiny, s: serde_json::Value) -> Result<(), BoxError> {
        Sparsifier::<Tiny>::restore(&mut self.inner, m, s)
    }
}

/// A point's pruning as the loop sees it: the plan and its target sparsity.
#[derive(Clone)]
struct Sparsity {
    plan: PruningPlan,
    target: f64,
}

impl Sparsity {
    fn final_sparsity(&self) -> f64 {
        self.target
    }
}

fn gmp(s: f64) -> Sparsity {
    let plan = Pruning::Gmp {
        shape: ScheduleShape::CUBIC,
        start: At::Fraction(0.25),
        end: At::Fraction(0.75),
        update_every: 2,
    }
    .resolve(s, STEPS)
    .unwrap();
    Sparsity { plan, target: s }
}

fn nm_2_4() -> Sparsity {
    let nm = Pruning::NM {
        shape: ScheduleShape::CUBIC,
        n: 2,
        m: 4,
        gradual: true,
        start: At::Fraction(0.25),
        end: At::Fraction(0.75),
        update_every: 2,
    };
    Sparsity { plan: nm.resolve(0.5, STEPS).unwrap(), target: 0.5 }
}

fn adamw() -> OptimizerConfig {
    OptimizerConfig::AdamW(AdamWConfig { lr: 0.05, weight_decay: 0.5, warmup_steps: 2, ..Default::default() })
}

fn adafactor() -> OptimizerConfig {
    OptimizerConfig::Adafactor(AdafactorConfig { warmup_steps: 2, weight_decay: 0.5, ..Default::default() })
}

fn run(
    sparsity: &Sparsity,
    optimizer: OptimizerConfig,
    init: u64,
    opts: &LoopOptions,
) -> (Result<RunSummary, TrainError>, Tiny, Checked) {
    let cfg = TrainConfig { steps: STEPS, batch_size: 16, optimizer, grad_clip: None, eval_every: 8, seed: 3 };
    let mut model = tiny(init);
    let pruner = Pruner::new(&tiny(1), &sparsity.plan, sparsity.target, STEPS, Embeddings::Dense).unwrap();
    let mut checked = Checked { inner: pruner, violations: 0, checks: 0 };
    let mut stream = Stream::new(17, 16);
    stream.scale = 1e3;
    let val = stream.validation(2);
    let r = train(&mut model, &mut stream, &val, &cfg, &mut checked, opts);
    (r, model, checked)
}

fn pruned_stay_zero(sparsity: Sparsity, optimizer: OptimizerConfig) -> (RunSummary, Tiny) {
    let (r, model, checked) = run(&sparsity, optimizer, 1, &LoopOptions::default());
    let s = r.unwrap();
    assert_eq!(checked.checks, STEPS);
    assert_eq!(checked.violations, 0, "pruned weights moved by the optimizer");
    let target = sparsity.final_sparsity();
    let prunable = (IN * HID + HID * CLASSES) as f64;
    assert!((s.sparsity - target).abs() <= 2.0 / prunable, "S = {} vs {target}", s.sparsity);
    assert_eq!(s.nonzeros, ((1.0 - s.sparsity) * prunable).round() as u64);
    assert!(s.layers.iter().all(|l| l.counted_in_n));
    // the weights really are that sparse
    let mut zeros = 0;
    for_each_param::<_, TrainError>(&model, &mut |p, _, v| {
        if p.ends_with("weight") {
            zeros += v.iter().filter(|x| **x == 0.0).count();
        }
        Ok(())
    })
    .unwrap();
    assert!(zeros as f64 >= target * prunable - 1.0, "{zeros} zeros");
    (s, model)
}

#[test]
fn gmp_under_adamw() {
    pruned_stay_zero(gmp(0.75), adamw());
}

#[test]
fn gmp_under_adafactor() {
    pruned_stay_zero(gmp(0.875), adafactor());
}

#[test]
fn gradual_nm_ends_exactly_2_of_4_under_both_optimizers() {
    for opt in [adamw(), adafactor()] {
        let (_, model) = pruned_stay_zero(nm_2_4(), opt);
        for_each_param::<_, TrainError>(&model, &mut |p, shape, v| {
            if p.ends_with("weight") {
                let cols = shape[1];
                for (g, group) in v.chunks(4).enumerate() {
                    let nz = group.iter().filter(|x| **x != 0.0).count();
                    assert_eq!(nz, 2, "{p} group {g} (row {}) has {nz} non-zeros", g * 4 / cols);
                }
            }
            Ok(())
        })
        .unwrap();
    }
}

#[test]
fn resume_mid_schedule_with_the_real_pruner_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    for (name, sp, opt) in [("gmp", gmp(0.75), adamw()), ("nm", nm_2_4(), adafactor())] {
        let (full, full_model, _) = run(&sp, opt, 1, &LoopOptions::default());
        let full = full.unwrap();
        let ck = dir.path().join(format!("{name}.ckpt"));
        let o = |stop| LoopOptions {
            checkpoint: Some(ck.clone()),
            checkpoint_every: 4,
            stop_after: stop,
            ..Default::default()
        };
        let (r, _, _) = run(&sp, opt, 1, &o(Some(11)));
        assert!(matches!(r, Err(TrainError::Stopped { step: 11, .. })));
        let (r, model, _) = run(&sp, opt, 99, &o(None));
        let r = r.unwrap();
        assert_eq!(r.val_curve, full.val_curve, "{name}");
        assert_eq!(r.train_curve, full.train_curve, "{name}");
        assert_eq!((r.nonzeros, r.data_seen), (full.nonzeros, full.data_seen));
        assert!(weights(&model) == weights(&full_model), "{name}: weights differ");
    }
}
