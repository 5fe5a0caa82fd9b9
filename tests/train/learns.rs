//! A tiny ViT on synthetic images and a tiny T5 on synthetic span-corrupted text clearly learn
//! in a short run through `train` (validation loss well below that of predicting uniformly:
//! ln 10 for 10 classes, ln 384 for the byte vocabulary), with GMP pruning them to 50% on the
//! way and pruned weights exactly zero at the end (issue 3, "Done when").

use dfdx::prelude::Cpu;
use sparse_scaling::data::{
    Stream, SyntheticImageConfig, SyntheticImages, SyntheticText, SyntheticTextConfig, TextShape,
};
use sparse_scaling::experiment::{At, Pruning, ScheduleShape};
use sparse_scaling::model::{Pooling, SparseModel, T5Config, Vit, VitConfig, T5};
use sparse_scaling::sparsity::{Embeddings, Pruner};
use sparse_scaling::train::{train, AdamWConfig, LoopOptions, OptimizerConfig, TrainConfig};

/// A GMP pruner to sparsity `s` over 20 %–60 % of a `steps`-step run, masks every 10 steps.
fn gmp<M: sparse_scaling::dfdx::nn::tensor_collection::TensorCollection<f32, Cpu>>(
    model: &M,
    s: f64,
    steps: u64,
) -> Pruner {
    let plan = Pruning::Gmp {
        shape: ScheduleShape::CUBIC,
        start: At::Fraction(0.2),
        end: At::Fraction(0.6),
        update_every: 10,
    }
    .resolve(s, steps)
    .unwrap();
    Pruner::new(model, &plan, s, steps, Embeddings::Dense).unwrap()
}

/// AdamW with a warm-up of 5 % of a `steps`-step run.
fn adamw(lr: f64, steps: u64) -> OptimizerConfig {
    OptimizerConfig::AdamW(AdamWConfig { lr, warmup_steps: At::Fraction(0.05).resolve(steps), ..Default::default() })
}

/// ViT on 3×16×16 images in patches of 4 (48 values, 16 patches), width 32, MLP 64, 2 blocks,
/// 10 classes.
type TinyVit = Vit<48, 16, 32, 64, 2, 10>;

#[test]
fn tiny_vit_learns_synthetic_images() {
    let dev = Cpu::default();
    let config =
        VitConfig { image_height: 16, image_width: 16, channels: 3, patch: 4, heads: 4, pooling: Pooling::ClassToken };
    let mut model = TinyVit::new(&dev, config, 0).unwrap();
    let mut stream = SyntheticImages::new(SyntheticImageConfig {
        seed: 1,
        channels: 3,
        height: 16,
        width: 16,
        classes: 10,
        ..Default::default()
    })
    .unwrap();
    let val = stream.validation_set(256, 128).unwrap();
    let cfg = TrainConfig {
        steps: 150,
        batch_size: 32,
        optimizer: adamw(3e-3, 150),
        grad_clip: Some(1.0),
        eval_every: 50,
        seed: 0,
    };
    let mut pruner = gmp(&model, 0.5, cfg.steps);
    let s = train(&mut model, &mut stream, &val, &cfg, &mut pruner, &LoopOptions::default()).unwrap();
    let uniform = 10f64.ln();
    eprintln!("ViT: val {:?}, {:.1} steps/s", s.val_curve, s.steps_per_s);
    assert!(s.final_val_loss < 0.75 * uniform, "ViT validation loss {} vs uniform {uniform}", s.final_val_loss);
    assert!((s.sparsity - 0.5).abs() < 1e-3, "S = {}", s.sparsity);
    assert_eq!(s.nonzeros as usize, model.info().prunable_params / 2);
    assert_eq!(s.total_params as usize, model.info().total_params);
    assert_eq!(s.data_seen, 150 * 32);
}

/// T5.1.1 with the 384-id byte vocabulary, width 32, MLP 64, 4 heads, 2 + 2 layers.
type TinyT5 = T5<384, 32, 64, 4, 2, 2>;

#[test]
fn tiny_t5_learns_synthetic_text() {
    let dev = Cpu::default();
    let mut model = TinyT5::new(&dev, T5Config::t5_1_1(), 0).unwrap();
    let shape = TextShape { input_len: 48, target_len: 12, ..Default::default() };
    let mut stream = SyntheticText::new(SyntheticTextConfig { seed: 2, shape, ..Default::default() }).unwrap();
    let val = stream.validation_set(64, 32).unwrap();
    let cfg = TrainConfig {
        steps: 90,
        batch_size: 16,
        optimizer: adamw(1e-2, 90),
        grad_clip: Some(1.0),
        eval_every: 30,
        seed: 0,
    };
    let mut pruner = gmp(&model, 0.5, cfg.steps);
    let s = train(&mut model, &mut stream, &val, &cfg, &mut pruner, &LoopOptions::default()).unwrap();
    let uniform = 384f64.ln();
    eprintln!("T5: val {:?}, {:.1} steps/s", s.val_curve, s.steps_per_s);
    assert!(s.final_val_loss < 0.6 * uniform, "T5 validation loss {} vs uniform {uniform}", s.final_val_loss);
    assert!((s.sparsity - 0.5).abs() < 1e-3, "S = {}", s.sparsity);
    assert_eq!(s.nonzeros as usize, model.info().prunable_params / 2);
    assert_eq!(s.data_seen, 90 * 16 * 48, "D counts batch × input length tokens");
}
