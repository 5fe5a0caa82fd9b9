//! Forward + backward of the models at the reference shapes of `shared/reference/vit_cpu.py`
//! (batch 64, 28×28 grey images in 7×7 patches, 4 blocks, 4 heads, MLP 4×width, 10 classes) and
//! `t5_cpu.py` (batch 32, 128 input + 32 target tokens, vocabulary 384, 4 + 4 layers, 4 heads,
//! MLP 2.5×width), at two widths each, with the fused kernels and (at the smaller width) the
//! plain-dfdx reference kernels. The optimizer step is not included (see the training benches).
//!
//! Run: `cargo bench --bench model_step`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use sparse_scaling::data::{Stream, SyntheticText, SyntheticTextConfig};
use sparse_scaling::dfdx::prelude::*;
use sparse_scaling::model::{ImageBatch, Kernels, SparseModel, T5Config, T5Ref, TextBatch, VitConfig, VitRef};

fn image_batch() -> ImageBatch {
    let n = 64;
    ImageBatch {
        batch: n,
        channels: 1,
        height: 28,
        width: 28,
        pixels: (0..n * 784).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect(),
        labels: (0..n).map(|i| (i * 7 % 10) as u32).collect(),
    }
}

fn text_batch() -> TextBatch {
    let mut s = SyntheticText::new(SyntheticTextConfig::default()).expect("default synthetic text config");
    s.next_batch(32).expect("a synthetic batch")
}

fn step<M: SparseModel>(m: &M, b: &M::Batch) -> f32 {
    let loss = m.loss(b, OwnedTape::default()).expect("loss");
    let v = loss.array();
    let _grads = loss.backward();
    v
}

fn vit(c: &mut Criterion) {
    let dev = Cpu::default();
    let b = image_batch();
    let mut g = c.benchmark_group("vit_fwd_bwd");
    g.sample_size(10);
    let m64 = VitRef::<64, 256>::new(&dev, VitConfig::reference_cpu(), 0).expect("vit 64");
    let m128 = VitRef::<128, 512>::new(&dev, VitConfig::reference_cpu(), 0).expect("vit 128");
    g.bench_function(BenchmarkId::new("fused", 64), |bn| bn.iter(|| step(&m64, &b)));
    g.bench_function(BenchmarkId::new("fused", 128), |bn| bn.iter(|| step(&m128, &b)));
    let mut r64 = m64.clone();
    r64.kernels = Kernels::Reference;
    g.bench_function(BenchmarkId::new("reference", 64), |bn| bn.iter(|| step(&r64, &b)));
    g.finish();
}

fn t5(c: &mut Criterion) {
    let dev = Cpu::default();
    let b = text_batch();
    let mut g = c.benchmark_group("t5_fwd_bwd");
    g.sample_size(10);
    let m64 = T5Ref::<64, 160>::new(&dev, T5Config::default(), 0).expect("t5 64");
    let m128 = T5Ref::<128, 320>::new(&dev, T5Config::default(), 0).expect("t5 128");
    g.bench_function(BenchmarkId::new("fused", 64), |bn| bn.iter(|| step(&m64, &b)));
    g.bench_function(BenchmarkId::new("fused", 128), |bn| bn.iter(|| step(&m128, &b)));
    let mut r64 = m64.clone();
    r64.kernels = Kernels::Reference;
    g.bench_function(BenchmarkId::new("reference", 64), |bn| bn.iter(|| step(&r64, &b)));
    g.finish();
}

criterion_group!(benches, vit, t5);
criterion_main!(benches);
