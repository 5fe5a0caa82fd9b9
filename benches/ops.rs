//! Each op of `sparse_scaling::ops` (forward + backward) against the same computation composed
//! from dfdx 0.13's own ops, at the shapes of the ViT references: 32 images × 65 tokens =
//! 2080 tokens, width 64 (MLP 256, 4 heads) and width 128 (MLP 512, 4 heads); plus raw matrix
//! products in GFLOP/s (criterion's "elements/s" = flop/s) to compare with the machine's peak.
//!
//! Run: `cargo bench --bench ops` (add `-- <filter>` for one group; `RAYON_NUM_THREADS=1`
//! for one thread).

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
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2));
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
            raw::matmul(
                (TOKENS, K, N),
                &mut out,
                false,
                &xv,
                raw::row_major(K),
                &wv,
                raw::transposed(K),
                true,
            );
            black_box(&out);
        })
    });
    g.bench_function(BenchmarkId::new("dfdx_matmul", label), |b| {
        b.iter(|| black_box(x.clone().matmul(w.clone().permute())))
    });
    g.finish();
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
            let y = x.leaky_trace().normalize::<Axis<1>>(1e-5) * gamma.clone().broadcast()
                + beta.clone().broadcast();
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
            let qh = q.leaky_trace().reshape::<Rank4<BATCH, SEQ, HEADS, DH>>().permute::<Rank4<BATCH, HEADS, SEQ, DH>, _>();
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
        b.iter(|| {
            black_box(dfdx::losses::cross_entropy_with_logits_loss(x.leaky_trace(), onehot.clone()).backward())
        })
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
// One full ViT training step (forward, backward, global-norm clipping + AdamW through the
// crate's own `optimizer_step`) at the shape of `shared/reference/vit_cpu.py` (16 patches of
// 7×7 + class token = 17 tokens, 4 blocks, 4 heads, MLP 4·width, 10 classes, batch 64):
// `model_dfdx` is the model's own `loss` (plain dfdx ops, as in `src/model`), `model_ops` the
// same parameters through our ops (`vit_loss_with_ops`). Same device, same optimizer.

use sparse_scaling::model::layers::{LAYER_NORM_EPS, RMS_NORM_EPS};
use sparse_scaling::model::{ImageBatch, SparseModel, T5Config, T5Ref, TextBatch, VitConfig, VitRef, PAD};
use sparse_scaling::train::optim::{optimizer_step, OptState};
use sparse_scaling::train::{Dense, TrainConfig};

/// The ViT loss of `src/model/vit.rs`, with every hot op replaced by ours.
fn vit_loss_with_ops<const D: usize, const F: usize, T>(
    m: &VitRef<D, F>,
    b: &ImageBatch,
    tape: T,
) -> Tensor<(), f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<NoneTape>,
{
    const NP: usize = 16;
    const PV: usize = 49;
    let eps = LAYER_NORM_EPS as f32;
    let patches = m.patchify(b).expect("the bench batch fits the model");
    let dev = m.positions.device().clone();
    let bsz = b.batch;
    let x = dev.tensor_from_vec(patches, (bsz * NP, Const::<PV>)).put_tape(tape);
    let x = ops::linear(x, m.patch_embed.weight.clone(), Some(m.patch_embed.bias.clone()));
    let shape3 = (bsz, Const::<NP>, Const::<D>);
    let x = x.reshape_like(&shape3) + m.positions.retaped::<T>().broadcast_like(&shape3);
    let cls = m
        .cls_token
        .retaped::<T>()
        .broadcast_like(&(bsz, Const::<D>))
        .reshape_like(&(bsz, 1usize, Const::<D>));
    let x = x.reshape_like(&(bsz, NP, Const::<D>));
    let x = (cls, x).concat_along(Axis::<1>);
    let t = NP + 1;
    let mut x = x.reshape_like(&(bsz * t, Const::<D>));
    let heads = m.config.heads;
    let scale = 1.0 / ((D / heads) as f32).sqrt();
    let s3 = (bsz, t, Const::<D>);
    for blk in &m.blocks.modules {
        let a = &blk.attn;
        let h = ops::layer_norm(
            x.retaped::<T>(),
            blk.attn_norm.gamma.clone(),
            blk.attn_norm.beta.clone(),
            eps,
        );
        let q = ops::linear(h.retaped::<T>(), a.q.weight.clone(), Some(a.q.bias.clone()));
        let k = ops::linear(h.retaped::<T>(), a.k.weight.clone(), Some(a.k.bias.clone()));
        let v = ops::linear(h, a.v.weight.clone(), Some(a.v.bias.clone()));
        let y = ops::attention(
            q.reshape_like(&s3),
            k.reshape_like(&s3),
            v.reshape_like(&s3),
            heads,
            scale,
            None::<Tensor<(usize, usize, usize), f32, Cpu>>,
            false,
        );
        let y = ops::linear(y.reshape_like(&(bsz * t, Const::<D>)), a.o.weight.clone(), Some(a.o.bias.clone()));
        x = ops::add(x, y);
        let h = ops::layer_norm(x.retaped::<T>(), blk.mlp_norm.gamma.clone(), blk.mlp_norm.beta.clone(), eps);
        let u = ops::bias_gelu(
            ops::linear_no_bias(h, blk.mlp.fc1.weight.clone()),
            blk.mlp.fc1.bias.clone(),
            Gelu::Erf,
        );
        let y = ops::linear(u, blk.mlp.fc2.weight.clone(), Some(blk.mlp.fc2.bias.clone()));
        x = ops::add(x, y);
    }
    let x = ops::layer_norm(x, m.final_norm.gamma.clone(), m.final_norm.beta.clone(), eps);
    let pooled = x
        .reshape_like(&s3)
        .slice((.., 0..1, ..))
        .reshape_like(&(bsz, Const::<D>));
    let logits = ops::linear(pooled, m.head.weight.clone(), Some(m.head.bias.clone()));
    let labels: Vec<usize> = b.labels.iter().map(|l| *l as usize).collect();
    ops::cross_entropy(logits, &labels, 0.0)
}

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

/// One training step of `model` with the loss computed by `loss`.
fn train_step<M, L>(model: &mut M, st: &mut OptState, cfg: &TrainConfig, t: u64, loss: L) -> f32
where
    M: TensorCollection<f32, Cpu>,
    L: Fn(&M, OwnedTape<f32, Cpu>) -> Tensor<(), f32, Cpu, OwnedTape<f32, Cpu>>,
{
    let dev: Cpu = Default::default();
    let grads = model.alloc_grads();
    let scalar: Tensor<(), f32, Cpu> = dev.zeros();
    let (_, tape) = scalar.traced(grads).split_tape();
    let l = loss(model, tape);
    let v = l.array();
    let mut grads = l.backward();
    optimizer_step(cfg, st, t, model, &mut grads, &Dense).expect("finite step");
    v
}

fn bench_vit_step<const D: usize, const F: usize>(c: &mut Criterion) {
    let dev = dev();
    let mut model = VitRef::<D, F>::new(&dev, VitConfig::reference_cpu(), 0).expect("valid config");
    let batch = vit_batch(&dev);
    let mut checked = false;
    let cfg = TrainConfig::default();
    let label = format!("vit_w{D}_b64");
    let mut g = c.benchmark_group("train_step");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut st = OptState::default();
    let mut t = 0u64;
    g.bench_function(BenchmarkId::new("model_ops", &label), |bch| {
        if !checked {
            // Same loss both ways (GELU gradients differ: dfdx 0.13's accurate_gelu backward is off).
            let a = model.loss(&batch, NoneTape).expect("loss").array();
            let b = vit_loss_with_ops(&model, &batch, NoneTape).array();
            assert!((a - b).abs() < 1e-4 * a.abs().max(1.0), "losses differ: model {a}, ops {b}");
            checked = true;
        }
        bch.iter(|| {
            t += 1;
            black_box(train_step(&mut model, &mut st, &cfg, t, |m, tape| vit_loss_with_ops(m, &batch, tape)))
        })
    });
    let mut st = OptState::default();
    let mut t = 0u64;
    g.bench_function(BenchmarkId::new("model_dfdx", &label), |bch| {
        bch.iter(|| {
            t += 1;
            black_box(train_step(&mut model, &mut st, &cfg, t, |m, tape| {
                m.loss(&batch, tape).expect("loss")
            }))
        })
    });
    g.finish();
}

/// The T5.1.1 loss of `src/model/t5.rs` for batches without padding, with every hot op
/// replaced by ours (the relative-position bias is shared by the batch and handed to
/// `ops::attention` as a `(heads, q, k)` bias; the decoder's causal mask is its `causal` flag).
fn t5_loss_with_ops<const D: usize, const F: usize, T>(
    m: &T5Ref<D, F>,
    b: &TextBatch,
    tape: T,
) -> Tensor<(), f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<NoneTape>,
{
    const H: usize = 4;
    let eps = RMS_NORM_EPS as f32;
    assert!(!b.inputs.contains(&PAD) && !b.targets.contains(&PAD), "bench batches have no padding");
    let dev = m.lm_head.weight.device().clone();
    let (bsz, ti, to) = (b.batch, b.input_len, b.target_len);
    let maxd = m.config.relative_max_distance;
    let none = None::<Tensor<(usize, usize, usize), f32, Cpu>>;

    let idx = dev.tensor_from_vec(b.inputs.iter().map(|&t| t as usize).collect(), (bsz * ti,));
    let x = m.tok_embed.weight.clone().put_tape(tape).gather(idx);
    let (enc_bias, bt) = m.encoder.rel_bias.forward::<T>(&dev, ti, ti, true, maxd).expect("bias").split_tape();
    let (x, xt) = x.split_tape();
    let mut x = x.put_tape(xt.merge(bt));
    let si = (bsz, ti, Const::<D>);
    for l in &m.encoder.layers.modules {
        let a = &l.self_attn;
        let h = ops::rms_norm(x.retaped::<T>(), l.self_attn_norm.gamma.clone(), eps);
        let q = ops::linear_no_bias(h.retaped::<T>(), a.q.weight.clone());
        let k = ops::linear_no_bias(h.retaped::<T>(), a.k.weight.clone());
        let v = ops::linear_no_bias(h, a.v.weight.clone());
        let bias = Some(enc_bias.retaped::<T>());
        let y = ops::attention(q.reshape_like(&si), k.reshape_like(&si), v.reshape_like(&si), H, 1.0, bias, false);
        x = ops::add(x, ops::linear_no_bias(y.reshape_like(&(bsz * ti, Const::<D>)), a.o.weight.clone()));
        let h = ops::rms_norm(x.retaped::<T>(), l.mlp_norm.gamma.clone(), eps);
        let g = ops::linear_no_bias(h.retaped::<T>(), l.mlp.wi_0.weight.clone());
        let u = ops::linear_no_bias(h, l.mlp.wi_1.weight.clone());
        x = ops::add(x, ops::linear_no_bias(ops::gated_gelu(g, u, Gelu::Tanh), l.mlp.wo.weight.clone()));
    }
    let enc = ops::rms_norm(x, m.encoder.final_norm.gamma.clone(), eps);

    let mut dec_in = Vec::with_capacity(bsz * to);
    for r in 0..bsz {
        dec_in.push(PAD as usize);
        dec_in.extend(b.targets[r * to..(r + 1) * to - 1].iter().map(|&t| t as usize));
    }
    let idx = dev.tensor_from_vec(dec_in, (bsz * to,));
    let y = m.tok_embed.weight.retaped::<T>().gather(idx);
    let (enc, et) = enc.split_tape();
    let (dec_bias, dbt) = m.decoder.rel_bias.forward::<T>(&dev, to, to, false, maxd).expect("bias").split_tape();
    let (y, yt) = y.split_tape();
    let mut y = y.put_tape(yt.merge(et).merge(dbt));
    let so = (bsz, to, Const::<D>);
    for l in &m.decoder.layers.modules {
        let a = &l.self_attn;
        let h = ops::rms_norm(y.retaped::<T>(), l.self_attn_norm.gamma.clone(), eps);
        let q = ops::linear_no_bias(h.retaped::<T>(), a.q.weight.clone());
        let k = ops::linear_no_bias(h.retaped::<T>(), a.k.weight.clone());
        let v = ops::linear_no_bias(h, a.v.weight.clone());
        let bias = Some(dec_bias.retaped::<T>());
        let z = ops::attention(q.reshape_like(&so), k.reshape_like(&so), v.reshape_like(&so), H, 1.0, bias, true);
        y = ops::add(y, ops::linear_no_bias(z.reshape_like(&(bsz * to, Const::<D>)), a.o.weight.clone()));
        let c = &l.cross_attn;
        let h = ops::rms_norm(y.retaped::<T>(), l.cross_attn_norm.gamma.clone(), eps);
        let q = ops::linear_no_bias(h, c.q.weight.clone());
        let k = ops::linear_no_bias(enc.retaped::<T>(), c.k.weight.clone());
        let v = ops::linear_no_bias(enc.retaped::<T>(), c.v.weight.clone());
        let z = ops::attention(q.reshape_like(&so), k.reshape_like(&si), v.reshape_like(&si), H, 1.0, none.clone(), false);
        y = ops::add(y, ops::linear_no_bias(z.reshape_like(&(bsz * to, Const::<D>)), c.o.weight.clone()));
        let h = ops::rms_norm(y.retaped::<T>(), l.mlp_norm.gamma.clone(), eps);
        let g = ops::linear_no_bias(h.retaped::<T>(), l.mlp.wi_0.weight.clone());
        let u = ops::linear_no_bias(h, l.mlp.wi_1.weight.clone());
        y = ops::add(y, ops::linear_no_bias(ops::gated_gelu(g, u, Gelu::Tanh), l.mlp.wo.weight.clone()));
    }
    let y = ops::rms_norm(y, m.decoder.final_norm.gamma.clone(), eps);
    let logits = ops::linear_no_bias(y, m.lm_head.weight.clone());
    let targets: Vec<usize> = b.targets.iter().map(|&t| t as usize).collect();
    ops::cross_entropy_ignoring(logits, &targets, Some(PAD as usize), m.config.z_loss)
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

fn bench_t5_step<const D: usize, const F: usize>(c: &mut Criterion) {
    let dev = dev();
    let mut model = T5Ref::<D, F>::new(&dev, T5Config::t5_1_1(), 0).expect("valid config");
    let batch = t5_batch();
    let mut checked = false;
    let cfg = TrainConfig::default();
    let label = format!("t5_w{D}_b32");
    let mut g = c.benchmark_group("train_step");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    let mut st = OptState::default();
    let mut t = 0u64;
    g.bench_function(BenchmarkId::new("model_ops", &label), |bch| {
        if !checked {
            let a = model.loss(&batch, NoneTape).expect("loss").array();
            let b = t5_loss_with_ops(&model, &batch, NoneTape).array();
            assert!((a - b).abs() < 1e-4 * a.abs().max(1.0), "losses differ: model {a}, ops {b}");
            checked = true;
        }
        bch.iter(|| {
            t += 1;
            black_box(train_step(&mut model, &mut st, &cfg, t, |m, tape| t5_loss_with_ops(m, &batch, tape)))
        })
    });
    let mut st = OptState::default();
    let mut t = 0u64;
    g.bench_function(BenchmarkId::new("model_dfdx", &label), |bch| {
        bch.iter(|| {
            t += 1;
            black_box(train_step(&mut model, &mut st, &cfg, t, |m, tape| {
                m.loss(&batch, tape).expect("loss")
            }))
        })
    });
    g.finish();
}

fn train_steps(c: &mut Criterion) {
    bench_vit_step::<64, 256>(c);
    bench_vit_step::<128, 512>(c);
    bench_t5_step::<64, 160>(c);
    bench_t5_step::<128, 320>(c);
}

criterion_group!(benches, train_steps, matmuls, widths);

/// Runs `steps` training steps of one model outside criterion and prints the wall time per
/// step: `OPS_TRAIN_STEPS=25 OPS_MODEL=vit64 OPS_IMPL=ops cargo bench --bench ops`. With
/// `perf stat -e task-clock` around two runs of different lengths, the difference gives the
/// CPU time per step without start-up costs, a measure that a busy machine disturbs much less
/// than wall time (see docs/PERFORMANCE.md).
fn fixed_steps(steps: u64, model: &str, with_ops: bool) {
    let dev = dev();
    let cfg = TrainConfig::default();
    let mut st = OptState::default();
    let started = std::time::Instant::now();
    let mut last = 0.0;
    macro_rules! run {
        ($m:expr, $batch:expr, $ops:path) => {{
            let mut m = $m;
            let batch = $batch;
            for t in 1..=steps {
                last = if with_ops {
                    train_step(&mut m, &mut st, &cfg, t, |m, tape| $ops(m, &batch, tape))
                } else {
                    train_step(&mut m, &mut st, &cfg, t, |m, tape| m.loss(&batch, tape).expect("loss"))
                };
            }
        }};
    }
    match model {
        "vit64" => run!(VitRef::<64, 256>::new(&dev, VitConfig::reference_cpu(), 0).expect("model"), vit_batch(&dev), vit_loss_with_ops),
        "vit128" => run!(VitRef::<128, 512>::new(&dev, VitConfig::reference_cpu(), 0).expect("model"), vit_batch(&dev), vit_loss_with_ops),
        "t5_64" => run!(T5Ref::<64, 160>::new(&dev, T5Config::t5_1_1(), 0).expect("model"), t5_batch(), t5_loss_with_ops),
        "t5_128" => run!(T5Ref::<128, 320>::new(&dev, T5Config::t5_1_1(), 0).expect("model"), t5_batch(), t5_loss_with_ops),
        other => panic!("OPS_MODEL={other}: use vit64, vit128, t5_64 or t5_128"),
    }
    let per = started.elapsed().as_secs_f64() / steps.max(1) as f64;
    println!(
        "{model} impl={} threads={} steps={steps} wall ms/step={:.2} steps/s={:.2} last loss={last:.4}",
        if with_ops { "ops" } else { "dfdx" },
        rayon::current_num_threads(),
        per * 1e3,
        1.0 / per
    );
}

fn main() {
    if let Ok(n) = std::env::var("OPS_TRAIN_STEPS") {
        let steps: u64 = n.parse().expect("OPS_TRAIN_STEPS must be a whole number");
        let model = std::env::var("OPS_MODEL").unwrap_or_else(|_| "vit64".into());
        let with_ops = std::env::var("OPS_IMPL").map_or(true, |v| v != "dfdx");
        fixed_steps(steps, &model, with_ops);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
