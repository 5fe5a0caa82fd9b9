//! Cost of the training loop's own work next to the model's forward + backward pass, on the
//! reference ViT shape (`VitRef`: 1×28×28 images in 7×7 patches, 4 blocks, 10 classes) at
//! width 64 and 128 (MLP 4×), batch 32, GMP masks at 50% on every prunable matrix:
//!
//! - `forward_backward`: loss and gradients (the model's share of a step);
//! - `adamw` / `adafactor`: one optimizer step (mask gradients, global-norm clip, update,
//!   zero pruned moments) — what `train::optim::optimizer_step` adds per step;
//! - `full_step`: forward + backward + AdamW + the pruner's re-application of masks.
//!
//! Run: `cargo bench --bench train_step`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use dfdx::nn::ZeroGrads;
use dfdx::prelude::*;
use sparse_scaling::data::{ImageBatch, Stream, SyntheticImageConfig, SyntheticImages};
use sparse_scaling::experiment::Pruning;
use sparse_scaling::model::{Pooling, SparseModel, VitConfig, VitRef};
use sparse_scaling::sparsity::{Embeddings, Pruner};
use sparse_scaling::train::optim::{optimizer_step, OptState};
use sparse_scaling::train::{AdafactorConfig, AdamWConfig, OptimizerConfig, Sparsifier, TrainConfig};

fn grads<M: SparseModel<Batch = ImageBatch>>(model: &M, batch: &ImageBatch) -> Gradients<f32, Cpu> {
    let scalar: Tensor<(), f32, Cpu> = Cpu::default().zeros();
    let (_, tape) = scalar.traced(model.alloc_grads()).split_tape();
    model.loss(batch, tape).unwrap().backward()
}

fn bench_width<const D: usize, const F: usize>(c: &mut Criterion) {
    let dev = Cpu::default();
    let config =
        VitConfig { image_height: 28, image_width: 28, channels: 1, patch: 7, heads: 4, pooling: Pooling::ClassToken };
    let mut model = VitRef::<D, F>::new(&dev, config, 0).unwrap();
    let mut stream = SyntheticImages::new(SyntheticImageConfig {
        seed: 0,
        channels: 1,
        height: 28,
        width: 28,
        classes: 10,
        ..Default::default()
    })
    .unwrap();
    let batch = stream.next_batch(32).unwrap();
    // masks at 50% (one-shot: the paper's schedule ended at step 0 of a 1-step "run")
    let plan = Pruning::default().resolve(0.5, 4).expect("GMP resolves at every sparsity");
    let mut pruner = Pruner::new(&model, &plan, 0.5, 4, Embeddings::Dense).unwrap();
    for s in 0..4 {
        Sparsifier::on_step(&mut pruner, &mut model, s).unwrap();
    }
    let adamw = TrainConfig {
        steps: 1_000_000,
        batch_size: 32,
        optimizer: OptimizerConfig::AdamW(AdamWConfig { warmup_steps: 10, ..Default::default() }),
        ..Default::default()
    };
    let adafactor = TrainConfig { optimizer: OptimizerConfig::Adafactor(AdafactorConfig::default()), ..adamw.clone() };

    let mut g = c.benchmark_group("train_step");
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("forward_backward", D), |b| b.iter(|| grads(&model, &batch)));
    for (name, cfg) in [("adamw", &adamw), ("adafactor", &adafactor)] {
        let mut m = model.clone();
        let mut st = OptState::default();
        let mut gr = grads(&m, &batch);
        let mut t = 0;
        g.bench_function(BenchmarkId::new(name, D), |b| {
            b.iter(|| {
                optimizer_step(cfg, &mut st, t, &mut m, &mut gr, &pruner).unwrap();
                t += 1;
            })
        });
    }
    let mut m = model.clone();
    let mut st = OptState::default();
    let mut t = 0;
    g.bench_function(BenchmarkId::new("full_step", D), |b| {
        b.iter(|| {
            let mut gr = grads(&m, &batch);
            optimizer_step(&adamw, &mut st, t, &mut m, &mut gr, &pruner).unwrap();
            Sparsifier::on_step(&mut pruner, &mut m, 4 + t).unwrap();
            t += 1;
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_width::<64, 256>(c);
    bench_width::<128, 512>(c);
}

criterion_group!(train_step, benches);
criterion_main!(train_step);
