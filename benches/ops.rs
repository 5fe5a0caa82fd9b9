//! Each op of `sparse_scaling::ops` (forward + backward) against the same computation composed
//! from dfdx 0.13's own ops, at the shapes of the ViT references: 32 images × 65 tokens =
//! 2080 tokens, width 64 (MLP 256, 4 heads) and width 128 (MLP 512, 4 heads); plus raw matrix
//! products in GFLOP/s (criterion's "elements/s" = flop/s) to compare with the machine's peak.
//!
//! Run: `cargo bench --bench ops` (add `-- <filter>` for one group; `RAYON_NUM_THREADS=1`
//! for one thread). The main thread joins rayon's pool (`ops::init_threads`: the training loop runs on it);
//! `OPS_MAIN_IN_POOL=0` leaves it outside (the behaviour before that change, for comparison).

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use dfdx::prelude::*;
use sparse_scaling::ops::{self, raw, Gelu};
use std::time::Duration;

const TOKENS: usize = 32 * 65;
const BATCH: usize = 32;
const SEQ: usize = 65;
const HEADS: usize = 4;

fn dev() -> Cpu {
    let d = Cpu::seed_from_u64(0);
    d.enable_cache();
    d
}

fn cfg<'a>(c: &'a mut Criterion, name: &str) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20).warm_up_time(Duration::from_millis(700)).measurement_time(Duration::from_secs(2));
    g
}

/// Raw products: the three shapes of a transformer block's linear layers, ours (gemm crate,
/// all threads) vs dfdx's 2-D `matmul`.
fn bench_matmul<const K: usize, const N: usize>(c: &mut Criterion, label: &str) {
    let d = dev();
    let x: Tensor<Rank2<TOKENS, K>, f32, _> = d.sample_normal();
    let w: Tensor<Rank2<N, K>, f32, _> = d.sample_normal();
    let (xv, wv) = (x.as_vec(), w.as_vec());
    let mut out = vec![0.0f32; TOKENS * N];
    let mut g = cfg(c, "matmul");
    g.throughput(Throughput::Elements((2 * TOKENS * K * N) as u64));
    g.bench_function(BenchmarkId::new("ours_gemm", label), |b| {
        b.iter(|| {
            raw::matmul((TOKENS, K, N), &mut out, false, &xv, raw::row_major(K), &wv, raw::transposed(K), true);
            black_box(&out);
        })
    });
    g.bench_function(BenchmarkId::new("dfdx_matmul", label), |b| {
        b.iter(|| black_box(x.clone().matmul(w.clone().permute())))
    });
    g.finish();
}

/// One product `m×k · k×n` (weights transposed, as in a linear layer) three ways: `gemm`'s
/// own threading over all of rayon's threads (`raw::matmul`, what the ops use), our own split
/// of the rows into fixed chunks of 64-row blocks (at most one chunk per 2^20 multiply-adds)
/// with one single-threaded `gemm` call per chunk, and `gemm` on one thread. Throughput in
/// flop/s.
fn bench_split(c: &mut Criterion, (m, k, n): (usize, usize, usize)) {
    use rayon::prelude::*;
    let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
    let w: Vec<f32> = (0..n * k).map(|i| ((i * 104_729) % 1000) as f32 * 1e-3 - 0.5).collect();
    let mut out = vec![0.0f32; m * n];
    let label = format!("{m}x{k}x{n}");
    let blocks = m.div_ceil(64);
    let chunks = (m * k * n / (1 << 20)).clamp(1, blocks);
    let rows_of = |i: usize| ((i * blocks / chunks) * 64).min(m);
    let mut g = cfg(c, "matmul_split");
    g.throughput(Throughput::Elements((2 * m * k * n) as u64));
    g.bench_function(BenchmarkId::new("gemm_rayon", &label), |b| {
        b.iter(|| {
            raw::matmul((m, k, n), &mut out, false, &x, raw::row_major(k), &w, raw::transposed(k), true);
            black_box(&out);
        })
    });
    g.bench_function(BenchmarkId::new("rows", &label), |b| {
        b.iter(|| {
            let mut parts: Vec<(usize, &mut [f32])> = Vec::with_capacity(chunks);
            let mut rest: &mut [f32] = &mut out;
            for i in 0..chunks {
                let (head, tail) = rest.split_at_mut((rows_of(i + 1) - rows_of(i)) * n);
                parts.push((rows_of(i), head));
                rest = tail;
            }
            parts.into_par_iter().for_each(|(r0, o)| {
                let rows = o.len() / n;
                raw::matmul_one_thread((rows, k, n), o, n, &x[r0 * k..], raw::row_major(k), &w, raw::transposed(k));
            });
            black_box(&out);
        })
    });
    g.bench_function(BenchmarkId::new("gemm_one_thread", &label), |b| {
        b.iter(|| {
            raw::matmul((m, k, n), &mut out, false, &x, raw::row_major(k), &w, raw::transposed(k), false);
            black_box(&out);
        })
    });
    g.finish();
}

/// The products of the ViT steps (`vit64`: 64 × 17 = 1088 tokens; `vit_c128`: 128 × 65 = 8320
/// tokens) and a 1024³ product, the machine's matrix-product peak.
fn matmul_splits(c: &mut Criterion) {
    for shape in [
        (1088, 64, 64),
        (1088, 64, 256),
        (1088, 256, 64),
        (8320, 128, 384),
        (8320, 128, 512),
        (8320, 512, 128),
        (1024, 1024, 1024),
    ] {
        bench_split(c, shape);
    }
}

fn matmuls(c: &mut Criterion) {
    bench_matmul::<64, 64>(c, "2080x64x64");
    bench_matmul::<64, 256>(c, "2080x64x256");
    bench_matmul::<256, 64>(c, "2080x256x64");
    bench_matmul::<128, 128>(c, "2080x128x128");
    bench_matmul::<128, 512>(c, "2080x128x512");
    bench_matmul::<512, 128>(c, "2080x512x128");
}

/// Forward + backward of `linear` (with bias), `bias_gelu`, `layer_norm`, `rms_norm` at width
/// `W`, MLP width `F`.
fn bench_width<const W: usize, const F: usize>(c: &mut Criterion) {
    let d = dev();
    let label = format!("w{W}");
    let x: Tensor<Rank2<TOKENS, W>, f32, _> = d.sample_normal();
    let w1: Tensor<Rank2<F, W>, f32, _> = d.sample_normal::<Rank2<F, W>>() * 0.1;
    let b1: Tensor<Rank1<F>, f32, _> = d.sample_normal();
    let h: Tensor<Rank2<TOKENS, F>, f32, _> = d.sample_normal();
    let gamma: Tensor<Rank1<W>, f32, _> = d.sample_normal();
    let beta: Tensor<Rank1<W>, f32, _> = d.sample_normal();

    let mut g = cfg(c, "linear_fwd_bwd");
    g.bench_function(BenchmarkId::new("ours", &label), |b| {
        b.iter(|| {
            let y = ops::linear(x.leaky_trace(), w1.clone(), Some(b1.clone()));
            black_box(y.sum().backward())
        })
    });
    g.bench_function(BenchmarkId::new("dfdx", &label), |b| {
        b.iter(|| {
            let y = x.leaky_trace().matmul(w1.clone().permute()) + b1.clone().broadcast();
            black_box(y.sum().backward())
        })
    });
    g.finish();

    let mut g = cfg(c, "bias_gelu_fwd_bwd");
    g.bench_function(BenchmarkId::new("ours_erf", &label), |b| {
        b.iter(|| black_box(ops::bias_gelu(h.leaky_trace(), b1.clone(), Gelu::Erf).sum().backward()))
    });
    g.bench_function(BenchmarkId::new("ours_tanh", &label), |b| {
        b.iter(|| black_box(ops::bias_gelu(h.leaky_trace(), b1.clone(), Gelu::Tanh).sum().backward()))
    });
    g.bench_function(BenchmarkId::new("dfdx_erf", &label), |b| {
        b.iter(|| {
            let y = (h.leaky_trace() + b1.clone().broadcast()).accurate_gelu();
            black_box(y.sum().backward())
        })
    });
    g.finish();

    let mut g = cfg(c, "layer_norm_fwd_bwd");
    g.bench_function(BenchmarkId::new("ours", &label), |b| {
        b.iter(|| {
            let y = ops::layer_norm(x.leaky_trace(), gamma.clone(), beta.clone(), 1e-5);
            black_box(y.sum().backward())
        })
    });
    g.bench_function(BenchmarkId::new("dfdx", &label), |b| {
        b.iter(|| {
            let y = x.leaky_trace().normalize::<Axis<1>>(1e-5) * gamma.clone().broadcast() + beta.clone().broadcast();
            black_box(y.sum().backward())
        })
    });
    g.finish();

    let mut g = cfg(c, "rms_norm_fwd_bwd");
    g.bench_function(BenchmarkId::new("ours", &label), |b| {
        b.iter(|| black_box(ops::rms_norm(x.leaky_trace(), gamma.clone(), 1e-6).sum().backward()))
    });
    g.bench_function(BenchmarkId::new("dfdx", &label), |b| {
        b.iter(|| {
            let inv = (x.leaky_trace().square().mean::<Rank1<TOKENS>, _>() + 1e-6).sqrt().recip();
            let y = x.leaky_trace() * inv.broadcast() * gamma.clone().broadcast();
            black_box(y.sum().backward())
        })
    });
    g.finish();
}

/// Attention at width `W` with 4 heads: our fused op vs dfdx's reshape/permute/matmul/softmax.
fn bench_attention<const W: usize, const DH: usize>(c: &mut Criterion) {
    let d = dev();
    let label = format!("w{W}");
    let q: Tensor<Rank3<BATCH, SEQ, W>, f32, _> = d.sample_normal();
    let k: Tensor<Rank3<BATCH, SEQ, W>, f32, _> = d.sample_normal();
    let v: Tensor<Rank3<BATCH, SEQ, W>, f32, _> = d.sample_normal();
    let scale = 1.0 / (DH as f32).sqrt();
    let mut g = cfg(c, "attention_fwd_bwd");
    g.bench_function(BenchmarkId::new("ours", &label), |b| {
        b.iter(|| {
            let o = ops::attention(
                q.leaky_trace(),
                k.clone(),
                v.clone(),
                HEADS,
                scale,
                None::<Tensor<Rank3<HEADS, SEQ, SEQ>, f32, Cpu>>,
                false,
            );
            black_box(o.sum().backward())
        })
    });
    g.bench_function(BenchmarkId::new("dfdx", &label), |b| {
        b.iter(|| {
            let qh =
                q.leaky_trace().reshape::<Rank4<BATCH, SEQ, HEADS, DH>>().permute::<Rank4<BATCH, HEADS, SEQ, DH>, _>();
            let kh = k.clone().reshape::<Rank4<BATCH, SEQ, HEADS, DH>>().permute::<Rank4<BATCH, HEADS, DH, SEQ>, _>();
            let vh = v.clone().reshape::<Rank4<BATCH, SEQ, HEADS, DH>>().permute::<Rank4<BATCH, HEADS, SEQ, DH>, _>();
            let p = (qh.matmul(kh) * scale).softmax::<Axis<3>>();
            let o = p.matmul(vh).permute::<Rank4<BATCH, SEQ, HEADS, DH>, _>().reshape::<Rank3<BATCH, SEQ, W>>();
            black_box(o.sum().backward())
        })
    });
    g.finish();

    let s: Tensor<Rank4<BATCH, HEADS, SEQ, SEQ>, f32, _> = d.sample_normal();
    let mut g = cfg(c, "softmax_fwd_bwd");
    g.bench_function(BenchmarkId::new("ours", "32x4x65x65"), |b| {
        b.iter(|| {
            let y = ops::softmax(s.leaky_trace(), None::<Tensor<Rank4<BATCH, HEADS, SEQ, SEQ>, f32, Cpu>>, false);
            black_box(y.sum().backward())
        })
    });
    g.bench_function(BenchmarkId::new("dfdx", "32x4x65x65"), |b| {
        b.iter(|| black_box(s.leaky_trace().softmax::<Axis<3>>().sum().backward()))
    });
    g.finish();
}

fn bench_xent(c: &mut Criterion) {
    // T5-like: 32 × 32 target tokens over a byte vocabulary of 384.
    const M: usize = 1024;
    const C: usize = 384;
    let d = dev();
    let x: Tensor<Rank2<M, C>, f32, _> = d.sample_normal();
    let targets: Vec<usize> = (0..M).map(|i| (i * 37) % C).collect();
    let mut onehot = vec![0.0f32; M * C];
    for (i, t) in targets.iter().enumerate() {
        onehot[i * C + t] = 1.0;
    }
    let onehot: Tensor<Rank2<M, C>, f32, _> = d.tensor_from_vec(onehot, Default::default());
    let mut g = cfg(c, "cross_entropy_fwd_bwd");
    g.bench_function(BenchmarkId::new("ours", "1024x384"), |b| {
        b.iter(|| black_box(ops::cross_entropy(x.leaky_trace(), &targets, 0.0).backward()))
    });
    g.bench_function(BenchmarkId::new("dfdx", "1024x384"), |b| {
        b.iter(|| black_box(dfdx::losses::cross_entropy_with_logits_loss(x.leaky_trace(), onehot.clone()).backward()))
    });
    g.finish();
}

fn widths(c: &mut Criterion) {
    bench_width::<64, 256>(c);
    bench_width::<128, 512>(c);
    bench_attention::<64, 16>(c);
    bench_attention::<128, 32>(c);
    bench_xent(c);
}

// ---------------------------------------------------------------------------------------------
// One full training step (forward, backward, global-norm clipping + AdamW through the crate's
// own `optimizer_step`) of the models in `src/model` at the shapes of
// `shared/reference/vit_cpu.py` (16 patches of 7×7 + class token = 17 tokens, 4 blocks, 4
// heads, MLP 4·width, 10 classes, batch 64) and `t5_cpu.py` (4 + 4 layers, 4 heads, MLP
// 2.5·width, vocabulary 384, batch 32, 128 input + 32 target tokens): `fused` runs the model
// with `Kernels::Fused` (our ops, the default), `dfdx` with `Kernels::Reference` (plain dfdx
// 0.13 ops). Same device (allocation cache on), same optimizer, dense (no mask).

use sparse_scaling::model::{
    Decoder, DecoderConfig, ImageBatch, Kernels, LmBatch, SparseModel, T5Config, T5Ref, TextBatch, Vit, VitConfig,
    VitRef,
};
use sparse_scaling::train::optim::{optimizer_step, OptState};
use sparse_scaling::train::{Dense, TrainConfig};

/// The batch of `vit_cpu.py`: 64 random 28×28 grey images, label `(7·i) mod 10`.
fn vit_batch(dev: &Cpu) -> ImageBatch {
    let pixels: Tensor<(usize,), f32, _> = dev.sample_normal_like(&(64 * 28 * 28,));
    ImageBatch {
        batch: 64,
        channels: 1,
        height: 28,
        width: 28,
        pixels: pixels.as_vec(),
        labels: (0..64u32).map(|i| (7 * i) % 10).collect(),
    }
}

/// The study-shaped ViT: 32×32 RGB images in 4×4 patches (64 patches of 48 values + class
/// token = 65 tokens), 6 blocks, MLP 4·width, 10 classes (`benches/pytorch/vit.py --image 32
/// --patch 4 --channels 3 --depth 6`).
type VitCifar<const D: usize, const F: usize> = Vit<48, 64, D, F, 6, 10>;

/// The decoder-only model at width 256 (4 heads of 64, MLP 2.5·width = 640, 6 layers), byte
/// vocabulary of 384 (`benches/pytorch/decoder.py`).
type Dec256 = Decoder<384, 256, 640, 4, 6>;

/// Sequences per decoder batch and tokens per sequence.
const LM_BATCH: usize = 16;
const LM_LEN: usize = 256;

/// Images per study-shaped ViT batch.
const CIFAR_BATCH: usize = 128;

fn cifar_config() -> VitConfig {
    VitConfig { image_height: 32, image_width: 32, channels: 3, patch: 4, ..VitConfig::reference_cpu() }
}

/// 128 random 32×32 RGB images, label `(7·i) mod 10`.
fn cifar_batch(dev: &Cpu) -> ImageBatch {
    let pixels: Tensor<(usize,), f32, _> = dev.sample_normal_like(&(CIFAR_BATCH * 3 * 32 * 32,));
    ImageBatch {
        batch: CIFAR_BATCH,
        channels: 3,
        height: 32,
        width: 32,
        pixels: pixels.as_vec(),
        labels: (0..CIFAR_BATCH as u32).map(|i| (7 * i) % 10).collect(),
    }
}

/// 16 rows of 256 token ids uniform in 3..384 (no padding).
fn lm_batch() -> LmBatch {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let tokens = (0..LM_BATCH * LM_LEN)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            3 + (s % 381) as u32
        })
        .collect();
    LmBatch { batch: LM_BATCH, len: LM_LEN, tokens }
}

/// Floating-point operations of one training step, counted as `3 ×` the forward pass's matrix
/// products (forward, and the two products of each backward), attention's two products per
/// head at full (also causal) length, and nothing for element-wise work: the convention of
/// "model FLOPs" (PaLM, Appendix B), so that GFLOP/s compare with a matrix-product peak.
fn step_flops(model: &str) -> f64 {
    // (tokens, d, f) → forward flops of one transformer layer's products: q, k, v, o (4d²) and
    // an MLP of `mats` matrices d×f.
    let layer = |tok: f64, d: f64, f: f64, mats: f64| 2.0 * tok * (4.0 * d * d + mats * d * f);
    let att = |b: f64, sq: f64, sk: f64, d: f64| 4.0 * b * sq * sk * d;
    let vit = |b: f64, np: f64, pv: f64, d: f64, depth: f64, k: f64| {
        let t = np + 1.0;
        2.0 * b * np * pv * d + depth * (layer(b * t, d, 4.0 * d, 2.0) + att(b, t, t, d)) + 2.0 * b * d * k
    };
    let t5 = |d: f64| {
        let (b, ti, to, f, v) = (32.0, 128.0, 32.0, 2.5 * d, 384.0);
        let enc = 4.0 * (layer(b * ti, d, f, 3.0) + att(b, ti, ti, d));
        let cross = 2.0 * (b * to * 2.0 * d * d + b * ti * 2.0 * d * d) + att(b, to, ti, d);
        let dec = 4.0 * (layer(b * to, d, f, 3.0) + att(b, to, to, d) + cross);
        enc + dec + 2.0 * b * to * d * v
    };
    let fwd = match model {
        "vit64" => vit(64.0, 16.0, 49.0, 64.0, 4.0, 10.0),
        "vit128" => vit(64.0, 16.0, 49.0, 128.0, 4.0, 10.0),
        "vit_c128" => vit(128.0, 64.0, 48.0, 128.0, 6.0, 10.0),
        "vit_c256" => vit(128.0, 64.0, 48.0, 256.0, 6.0, 10.0),
        "t5_64" => t5(64.0),
        "t5_128" => t5(128.0),
        "dec256" => {
            let (b, t, d) = (LM_BATCH as f64, LM_LEN as f64, 256.0);
            6.0 * (layer(b * t, d, 640.0, 3.0) + att(b, t, t, d)) + 2.0 * b * t * d * 384.0
        }
        _ => 0.0,
    };
    3.0 * fwd
}

/// The batch of `t5_cpu.py`: 32 sequences of 128 input and 32 target ids, uniform in 3..384.
fn t5_batch() -> TextBatch {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        3 + (s % 381) as u32
    };
    TextBatch {
        batch: 32,
        input_len: 128,
        target_len: 32,
        inputs: (0..32 * 128).map(|_| next()).collect(),
        targets: (0..32 * 32).map(|_| next()).collect(),
    }
}

/// One training step of `model` on `batch`; returns the loss.
fn train_step<M: SparseModel>(model: &mut M, batch: &M::Batch, st: &mut OptState, cfg: &TrainConfig, t: u64) -> f32 {
    let dev: Cpu = Default::default();
    let grads = model.alloc_grads();
    let scalar: Tensor<(), f32, Cpu> = dev.zeros();
    let (_, tape) = scalar.traced(grads).split_tape();
    let l = model.loss(batch, tape).expect("loss");
    let v = l.array();
    let mut grads = l.backward();
    optimizer_step(cfg, st, t, model, &mut grads, &Dense).expect("finite step");
    v
}

/// Criterion group `train_step/{fused,dfdx}/<label>` for a model whose kernels `set` switches.
fn bench_model_step<M: SparseModel>(
    c: &mut Criterion,
    label: &str,
    mut model: M,
    batch: M::Batch,
    set: fn(&mut M, Kernels),
    secs: u64,
    kernels: &[(&str, Kernels)],
) {
    let cfg = TrainConfig::default();
    let mut g = c.benchmark_group("train_step");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(secs));
    for &(name, k) in kernels {
        set(&mut model, k);
        let mut st = OptState::default();
        let mut t = 0u64;
        g.bench_function(BenchmarkId::new(name, label), |b| {
            b.iter(|| {
                t += 1;
                black_box(train_step(&mut model, &batch, &mut st, &cfg, t))
            })
        });
    }
    g.finish();
}

fn train_steps(c: &mut Criterion) {
    let d = dev();
    let both = [("fused", Kernels::Fused), ("dfdx", Kernels::Reference)];
    let fused = [("fused", Kernels::Fused)];
    let vit64 = VitRef::<64, 256>::new(&d, VitConfig::reference_cpu(), 0).expect("model");
    bench_model_step(c, "vit_w64_b64", vit64, vit_batch(&d), |m, k| m.kernels = k, 4, &both);
    let vit128 = VitRef::<128, 512>::new(&d, VitConfig::reference_cpu(), 0).expect("model");
    bench_model_step(c, "vit_w128_b64", vit128, vit_batch(&d), |m, k| m.kernels = k, 6, &both);
    let t5_64 = T5Ref::<64, 160>::new(&d, T5Config::t5_1_1(), 0).expect("model");
    bench_model_step(c, "t5_w64_b32", t5_64, t5_batch(), |m, k| m.kernels = k, 8, &both);
    let t5_128 = T5Ref::<128, 320>::new(&d, T5Config::t5_1_1(), 0).expect("model");
    bench_model_step(c, "t5_w128_b32", t5_128, t5_batch(), |m, k| m.kernels = k, 10, &both);
    // Study shapes (fused kernels only: plain dfdx takes tens of seconds per step here).
    let vc128 = VitCifar::<128, 512>::new(&d, cifar_config(), 0).expect("model");
    bench_model_step(c, "vit_cifar_w128_b128", vc128, cifar_batch(&d), |m, k| m.kernels = k, 20, &fused);
    let vc256 = VitCifar::<256, 1024>::new(&d, cifar_config(), 0).expect("model");
    bench_model_step(c, "vit_cifar_w256_b128", vc256, cifar_batch(&d), |m, k| m.kernels = k, 30, &fused);
    let dec = Dec256::new(&d, DecoderConfig::t5x_decoder_only(), 0).expect("model");
    bench_model_step(c, "decoder_w256_l6_t256", dec, lm_batch(), |m, k| m.kernels = k, 30, &fused);
}

criterion_group!(benches, train_steps, matmul_splits, matmuls, widths);

/// Runs `steps` training steps of one model outside criterion and prints the wall time per
/// step: `OPS_TRAIN_STEPS=25 OPS_MODEL=vit64 OPS_IMPL=fused cargo bench --bench ops` (`OPS_IMPL=dfdx`
/// for `Kernels::Reference`). With
/// `perf stat -e task-clock` around two runs of different lengths, the difference gives the
/// CPU time per step without start-up costs, a measure that a busy machine disturbs much less
/// than wall time (see docs/PERFORMANCE.md).
fn fixed_steps(steps: u64, model: &str, kernels: Kernels) {
    let dev = dev();
    let cfg = TrainConfig::default();
    let mut st = OptState::default();
    let started = std::time::Instant::now();
    let mut last = 0.0;
    macro_rules! run {
        ($m:expr, $batch:expr) => {{
            let mut m = $m;
            m.kernels = kernels;
            let batch = $batch;
            for t in 1..=steps {
                last = train_step(&mut m, &batch, &mut st, &cfg, t);
            }
        }};
    }
    match model {
        "vit64" => run!(VitRef::<64, 256>::new(&dev, VitConfig::reference_cpu(), 0).expect("model"), vit_batch(&dev)),
        "vit128" => run!(VitRef::<128, 512>::new(&dev, VitConfig::reference_cpu(), 0).expect("model"), vit_batch(&dev)),
        "t5_64" => run!(T5Ref::<64, 160>::new(&dev, T5Config::t5_1_1(), 0).expect("model"), t5_batch()),
        "t5_128" => run!(T5Ref::<128, 320>::new(&dev, T5Config::t5_1_1(), 0).expect("model"), t5_batch()),
        "vit_c128" => run!(VitCifar::<128, 512>::new(&dev, cifar_config(), 0).expect("model"), cifar_batch(&dev)),
        "vit_c256" => run!(VitCifar::<256, 1024>::new(&dev, cifar_config(), 0).expect("model"), cifar_batch(&dev)),
        "dec256" => run!(Dec256::new(&dev, DecoderConfig::t5x_decoder_only(), 0).expect("model"), lm_batch()),
        other => panic!("OPS_MODEL={other}: use vit64, vit128, t5_64, t5_128, vit_c128, vit_c256 or dec256"),
    }
    let per = started.elapsed().as_secs_f64() / steps.max(1) as f64;
    println!(
        "{model} kernels={kernels:?} threads={} steps={steps} wall ms/step={:.2} steps/s={:.2} GFLOP/step={:.2} \
         last loss={last:.4}",
        rayon::current_num_threads(),
        per * 1e3,
        1.0 / per,
        step_flops(model) * 1e-9
    );
}

fn main() {
    if std::env::var("OPS_MAIN_IN_POOL").as_deref() != Ok("0") {
        ops::init_threads();
    }
    if let Ok(n) = std::env::var("OPS_TRAIN_STEPS") {
        let steps: u64 = n.parse().expect("OPS_TRAIN_STEPS must be a whole number");
        let model = std::env::var("OPS_MODEL").unwrap_or_else(|_| "vit64".into());
        let kernels = match std::env::var("OPS_IMPL").as_deref() {
            Ok("dfdx") => Kernels::Reference,
            _ => Kernels::Fused,
        };
        fixed_steps(steps, &model, kernels);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
