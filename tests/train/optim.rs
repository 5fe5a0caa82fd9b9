//! Learning-rate schedules at known steps, global-norm clipping, config validation, and a
//! small model that clearly learns with either optimizer.

use crate::train_support;

use dfdx::prelude::*;
use sparse_scaling::experiment::At;
use sparse_scaling::params::for_each_grad;
use sparse_scaling::train::lr::{adafactor_rho, adamw_lr};
use sparse_scaling::train::optim::{optimizer_step, OptState};
use sparse_scaling::train::{
    train, AdafactorConfig, AdamWConfig, Dense, LoopOptions, OptimizerConfig, TrainConfig, TrainError,
};
use train_support::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 + 1e-9 * b.abs()
}

#[test]
fn adamw_schedule_at_known_steps() {
    // docs/THEORY.md §5: peak 4e-4, 1k warm-up, cosine to 0.
    let c = AdamWConfig::default();
    let t = 10_000;
    assert!(close(adamw_lr(&c, 0, t), 4e-7));
    assert!(close(adamw_lr(&c, 499, t), 2e-4));
    assert!(close(adamw_lr(&c, 999, t), 4e-4));
    assert!(close(adamw_lr(&c, 1000, t), 4e-4));
    assert!(close(adamw_lr(&c, 5500, t), 2e-4)); // half-way through the cosine
    assert!(close(adamw_lr(&c, 3250, t), 2e-4 * (1.0 + (std::f64::consts::PI / 4.0).cos())));
    assert!(adamw_lr(&c, 9999, t) > 0.0 && adamw_lr(&c, 9999, t) < 1e-10);
    assert_eq!(adamw_lr(&c, 10_000, t), 0.0);
    // monotone: up during warm-up, down after
    for s in 1..t {
        let (a, b) = (adamw_lr(&c, s - 1, t), adamw_lr(&c, s, t));
        assert!(if s < 1000 { b > a } else { b <= a }, "step {s}: {a} -> {b}");
    }
    // to a floor, with warm-up as a fraction
    let f = AdamWConfig {
        lr: 1e-3,
        final_lr_fraction: 0.1,
        warmup_steps: At::Fraction(0.02).resolve(1000),
        ..Default::default()
    };
    assert!(close(adamw_lr(&f, 19, 1000), 1e-3));
    assert!(close(adamw_lr(&f, 1000, 1000), 1e-4));
    assert!(close(adamw_lr(&f, 510, 1000), 5.5e-4));
}

#[test]
fn adafactor_schedule_at_known_steps() {
    // docs/THEORY.md §5: rsqrt with 10k warm-up (T5X: 1/sqrt(max(step, 10k))).
    let c = AdafactorConfig::default();
    assert!(close(adafactor_rho(&c, 0), 0.01));
    assert!(close(adafactor_rho(&c, 9_999), 0.01));
    assert!(close(adafactor_rho(&c, 39_999), 0.005));
    assert!(close(adafactor_rho(&c, 249_999), 0.002));
    let s = AdafactorConfig { scale: 2.0, warmup_steps: At::Fraction(0.04).resolve(2500), ..Default::default() };
    assert!(close(adafactor_rho(&s, 0), 0.2));
    assert!(close(adafactor_rho(&s, 399), 0.1));
}

/// Gradients of a tiny model on a batch whose loss is multiplied by `scale`.
fn grads_of(model: &Tiny, scale: f32) -> Gradients<f32, Cpu> {
    let mut stream = Stream::new(1, 32);
    stream.scale = scale;
    use sparse_scaling::data::Stream as _;
    use sparse_scaling::model::SparseModel;
    let b = stream.next_batch(32).unwrap();
    let dev = Cpu::default();
    let scalar: Tensor<(), f32, Cpu> = dev.zeros();
    let (_, tape) = scalar.traced(model.alloc_grads()).split_tape();
    model.loss(&b, tape).unwrap().backward()
}

fn global_norm(model: &mut Tiny, g: &mut Gradients<f32, Cpu>) -> f64 {
    let mut s = 0.0f64;
    for_each_grad::<_, TrainError>(model, g, &mut |_, _, g| {
        s += g.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        Ok(())
    })
    .unwrap();
    s.sqrt()
}

#[test]
fn clipping_bounds_the_global_norm() {
    for (clip, scale) in [(1.0, 1e3f32), (0.25, 10.0), (1.0, 1e-3)] {
        let mut model = tiny(4);
        let mut g = grads_of(&model, scale);
        let before = global_norm(&mut model, &mut g);
        let cfg = TrainConfig { steps: 10, grad_clip: Some(clip), ..Default::default() };
        let cfg = TrainConfig {
            optimizer: OptimizerConfig::AdamW(AdamWConfig { warmup_steps: 1, ..Default::default() }),
            ..cfg
        };
        let stats = optimizer_step(&cfg, &mut OptState::default(), 0, &mut model, &mut g, &Dense).unwrap();
        assert!((stats.grad_norm - before).abs() <= 1e-9 * before, "reported norm is the pre-clip norm");
        let after = global_norm(&mut model, &mut g);
        if before > clip {
            assert!((after - clip).abs() < 1e-5 * clip, "clip {clip}: {before} -> {after}");
        } else {
            assert_eq!(after, before, "norms under the threshold are left alone");
        }
    }
    // and without clipping a big gradient stays big
    let mut model = tiny(4);
    let mut g = grads_of(&model, 1e3);
    let cfg = TrainConfig {
        steps: 10,
        grad_clip: None,
        optimizer: OptimizerConfig::AdamW(AdamWConfig { warmup_steps: 1, ..Default::default() }),
        ..Default::default()
    };
    let stats = optimizer_step(&cfg, &mut OptState::default(), 0, &mut model, &mut g, &Dense).unwrap();
    assert!(stats.grad_norm > 10.0);
    assert!((global_norm(&mut model, &mut g) - stats.grad_norm).abs() < 1e-9 * stats.grad_norm);
}

#[test]
fn configs_validate_and_reject_unknown_fields() {
    TrainConfig::default().validate().unwrap();
    let adafactor = OptimizerConfig::Adafactor(AdafactorConfig::default());
    TrainConfig { optimizer: adafactor, ..Default::default() }.validate().unwrap();
    let ok = TrainConfig::new(100, 32, OptimizerConfig::default(), Some(1.0), 10, 0);
    let e = ok.unwrap_err().to_string(); // 1k warm-up does not fit in 100 steps
    assert!(e.contains("optimizer.AdamW.warmup") && e.contains("Fraction"), "{e}");
    let c = TrainConfig::new(
        100,
        32,
        OptimizerConfig::AdamW(AdamWConfig { warmup_steps: At::Fraction(0.1).resolve(100), ..Default::default() }),
        Some(1.0),
        10,
        0,
    );
    assert!(c.is_ok());
    for (bad, field) in [
        (TrainConfig { steps: 0, ..Default::default() }, "steps"),
        (TrainConfig { batch_size: 0, steps: 2000, ..Default::default() }, "batch_size"),
        (TrainConfig { eval_every: 0, steps: 2000, ..Default::default() }, "eval_every"),
        (TrainConfig { grad_clip: Some(-1.0), steps: 2000, ..Default::default() }, "grad_clip"),
        (
            TrainConfig {
                steps: 2000,
                optimizer: OptimizerConfig::AdamW(AdamWConfig { beta2: 1.0, ..Default::default() }),
                ..Default::default()
            },
            "beta2",
        ),
        (
            TrainConfig {
                optimizer: OptimizerConfig::Adafactor(AdafactorConfig { clip_threshold: 0.0, ..Default::default() }),
                ..Default::default()
            },
            "clip_threshold",
        ),
    ] {
        let e = bad.validate().unwrap_err();
        assert!(matches!(e, TrainError::Config { .. }));
        assert!(e.to_string().contains(field), "{e}");
    }
    let parsed: TrainConfig =
        ron::from_str("(steps: 500, optimizer: Adafactor((warmup_steps: 10)), eval_every: 50)").unwrap();
    assert_eq!(parsed.steps, 500);
    assert!(
        matches!(parsed.optimizer, OptimizerConfig::Adafactor(a) if a.warmup_steps == 10 && a.clip_threshold == 1.0)
    );
    let typo = ron::from_str::<TrainConfig>("(steps: 500, eval_evry: 50)").unwrap_err().to_string();
    assert!(typo.contains("eval_evry"), "{typo}");
    let typo = ron::from_str::<TrainConfig>("(optimizer: AdamW((lr: 1e-3, wd: 0.1)))").unwrap_err().to_string();
    assert!(typo.contains("wd"), "{typo}");
}

fn learns(optimizer: OptimizerConfig) -> f64 {
    let mut model = tiny(8);
    let mut stream = Stream::new(30, 32);
    let val = stream.validation(4);
    let cfg = TrainConfig { steps: 300, batch_size: 32, optimizer, grad_clip: Some(1.0), eval_every: 100, seed: 0 };
    let s = train(&mut model, &mut stream, &val, &cfg, &mut Dense, &LoopOptions::default()).unwrap();
    assert_eq!(s.val_curve.len(), 3);
    eprintln!("val curve {:?}, {:.0} steps/s", s.val_curve, s.steps_per_s);
    s.final_val_loss
}

#[test]
fn a_small_model_clearly_learns_with_either_optimizer() {
    let uniform = (CLASSES as f64).ln();
    let a = learns(OptimizerConfig::AdamW(AdamWConfig {
        lr: 1e-2,
        warmup_steps: At::Fraction(0.05).resolve(300),
        ..Default::default()
    }));
    assert!(a < 0.5 * uniform, "AdamW: validation loss {a} vs uniform {uniform}");
    let f = learns(OptimizerConfig::Adafactor(AdafactorConfig { warmup_steps: 30, ..Default::default() }));
    assert!(f < 0.5 * uniform, "Adafactor: validation loss {f} vs uniform {uniform}");
}
