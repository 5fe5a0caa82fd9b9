//! Every op of `sparse_scaling::ops`, forward and backward, against the same computation
//! composed from dfdx 0.13's own ops, on random inputs of odd sizes; and bit-for-bit equality
//! of our ops with 1 and 2 rayon threads.

use dfdx::prelude::*;
use sparse_scaling::ops::{self, Gelu};

type Dyn2 = (usize, usize);

fn dev(seed: u64) -> Cpu {
    Cpu::seed_from_u64(seed)
}

/// |a − b| ≤ atol + rtol·|b| elementwise, with a message naming the quantity.
fn assert_close(what: &str, a: &[f32], b: &[f32], rtol: f32, atol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    let mut worst = (0.0f32, 0usize);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let err = (x - y).abs() - rtol * y.abs();
        if err > worst.0 {
            worst = (err, i);
        }
        assert!(x.is_finite() && y.is_finite(), "{what}: non-finite at {i}: {x} vs {y}");
    }
    let i = worst.1;
    assert!(worst.0 <= atol, "{what}: element {i}: ours {} vs dfdx {} (excess {})", a[i], b[i], worst.0);
}

const RTOL: f32 = 1e-4;
const ATOL: f32 = 2e-5;

/// A random upstream gradient: the loss is Σ out ⊙ r.
fn weighted_sum<S: Shape, T: Tape<f32, Cpu>>(
    out: Tensor<S, f32, Cpu, T>,
    r: &Tensor<S, f32, Cpu>,
) -> Tensor<Rank0, f32, Cpu, T> {
    (out * r.clone()).sum()
}

#[test]
fn linear_matches_dfdx_forward_and_backward() {
    let d = dev(1);
    let (m, k, n) = (301, 67, 45);
    let x: Tensor<Dyn2, f32, _> = d.sample_normal_like(&(m, k));
    let w: Tensor<Dyn2, f32, _> = d.sample_normal_like(&(n, k));
    let b: Tensor<(usize,), f32, _> = d.sample_normal_like(&(n,));
    let r: Tensor<Dyn2, f32, _> = d.sample_normal_like(&(m, n));

    let ours = ops::linear(x.leaky_trace(), w.clone(), Some(b.clone()));
    let ref_ = x.leaky_trace().matmul(w.clone().permute()) + b.clone().broadcast_like::<_, Axis<0>>(&(m, n));
    assert_close("linear out", &ours.as_vec(), &ref_.as_vec(), RTOL, ATOL);

    let g1 = weighted_sum(ours, &r).backward();
    let g2 = weighted_sum(ref_, &r).backward();
    assert_close("linear dx", &g1.get(&x).as_vec(), &g2.get(&x).as_vec(), RTOL, ATOL);
    assert_close("linear dw", &g1.get(&w).as_vec(), &g2.get(&w).as_vec(), RTOL, 1e-4);
    assert_close("linear db", &g1.get(&b).as_vec(), &g2.get(&b).as_vec(), RTOL, 1e-4);
}

#[test]
fn linear_without_bias_and_with_const_dims() {
    let d = dev(2);
    let x: Tensor<(usize, Const<13>), f32, _> = d.sample_normal_like(&(7, Const));
    let w: Tensor<Rank2<5, 13>, f32, _> = d.sample_normal();
    let ours = ops::linear_no_bias(x.leaky_trace(), w.clone());
    let ref_ = x.leaky_trace().matmul(w.clone().permute());
    assert_close("out", &ours.as_vec(), &ref_.as_vec(), RTOL, ATOL);
    let g1 = ours.sum().backward();
    let g2 = ref_.sum().backward();
    assert_close("dw", &g1.get(&w).as_vec(), &g2.get(&w).as_vec(), RTOL, ATOL);
    assert_close("dx", &g1.get(&x).as_vec(), &g2.get(&x).as_vec(), RTOL, ATOL);
}

/// erf in f64: Taylor series (|z| ≤ 5; absolute error < 1e-6 there) and ±1 beyond.
fn erf64(z: f64) -> f64 {
    if z.abs() > 5.0 {
        return z.signum();
    }
    let mut term = z;
    let mut sum = z;
    for n in 1..200 {
        term *= -z * z / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

/// d/dx of the exact (erf) GELU, in f64.
fn dgelu_erf64(x: f64) -> f64 {
    0.5 * (1.0 + erf64(x / std::f64::consts::SQRT_2)) + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// dfdx 0.13's `accurate_gelu` backward computes `x·exp(−x²/2)/√π` for the second term of the
/// derivative instead of `x·exp(−x²/2)/√(2π)`: this is the gradient it gets wrong.
#[test]
fn dfdx_accurate_gelu_backward_is_off_so_we_check_against_the_formula() {
    let d = dev(30);
    let x: Tensor<Rank1<3>, f32, _> = d.tensor([-1.5, 0.5, 2.0]);
    let g = x.leaky_trace().accurate_gelu().sum().backward().get(&x).as_vec();
    let ours = ops::gelu(x.leaky_trace(), Gelu::Erf).sum().backward().get(&x).as_vec();
    for (i, v) in [-1.5f64, 0.5, 2.0].iter().enumerate() {
        let want = dgelu_erf64(*v) as f32;
        assert!((ours[i] - want).abs() < 1e-5, "ours {} vs formula {want}", ours[i]);
        assert!((g[i] - want).abs() > 1e-2, "dfdx {} now agrees with the formula {want}", g[i]);
    }
}

/// The gradient of Σ r ⊙ gelu(x) for the exact GELU, from the f64 formula.
fn erf_gelu_grad(x: &[f32], r: &[f32]) -> Vec<f32> {
    x.iter().zip(r).map(|(x, r)| (*r as f64 * dgelu_erf64(*x as f64)) as f32).collect()
}

#[test]
fn erf_and_tanh_approximations_are_accurate() {
    for i in -4000..=4000 {
        let x = i as f32 * 0.0025;
        let e = sparse_scaling::ops::raw::erf(x);
        assert!((e as f64 - erf64(x as f64)).abs() < 1e-6, "erf({x}) = {e}: off by {}", e as f64 - erf64(x as f64));
        let t = sparse_scaling::ops::raw::tanh(x);
        assert!((t - x.tanh()).abs() < 3e-7, "tanh({x}) = {t}");
    }
    for i in -870..=875 {
        let x = i as f32 * 0.1 + 0.037;
        let (a, b) = (sparse_scaling::ops::raw::exp(x), x.exp());
        assert!(((a - b) / b).abs() < 4e-7, "exp({x}) = {a}, std {b}");
    }
    assert!(sparse_scaling::ops::raw::exp(f32::NAN).is_nan());
}

#[test]
fn gelu_both_kinds_match_dfdx() {
    let d = dev(3);
    let (m, n) = (37, 53);
    let x: Tensor<Dyn2, f32, _> = d.sample_normal_like(&(m, n)) * 3.0;
    let r: Tensor<Dyn2, f32, _> = d.sample_normal_like(&(m, n));
    for kind in [Gelu::Erf, Gelu::Tanh] {
        let ours = ops::gelu(x.leaky_trace(), kind);
        let ref_ = match kind {
            Gelu::Erf => x.leaky_trace().accurate_gelu(),
            Gelu::Tanh => x.leaky_trace().fast_gelu(),
        };
        assert_close(&format!("{kind:?} out"), &ours.as_vec(), &ref_.as_vec(), RTOL, ATOL);
        let g1 = weighted_sum(ours, &r).backward();
        let g2 = weighted_sum(ref_, &r).backward();
        let want = match kind {
            Gelu::Erf => erf_gelu_grad(&x.as_vec(), &r.as_vec()),
            Gelu::Tanh => g2.get(&x).as_vec(),
        };
        assert_close(&format!("{kind:?} dx"), &g1.get(&x).as_vec(), &want, RTOL, ATOL);
    }
}

#[test]
fn bias_gelu_matches_dfdx() {
    let d = dev(4);
    let (m, n) = (129, 77);
    let x: Tensor<Dyn2, f32, _> = d.sample_normal_like(&(m, n)) * 2.0;
    let b: Tensor<(usize,), f32, _> = d.sample_normal_like(&(n,));
    let r: Tensor<Dyn2, f32, _> = d.sample_normal_like(&(m, n));
    for kind in [Gelu::Erf, Gelu::Tanh] {
        let ours = ops::bias_gelu(x.leaky_trace(), b.clone(), kind);
        let z = x.leaky_trace() + b.clone().broadcast_like::<_, Axis<0>>(&(m, n));
        let ref_ = match kind {
            Gelu::Erf => z.accurate_gelu(),
            Gelu::Tanh => z.fast_gelu(),
        };
        assert_close("out", &ours.as_vec(), &ref_.as_vec(), RTOL, ATOL);
        let g1 = weighted_sum(ours, &r).backward();
        let g2 = weighted_sum(ref_, &r).backward();
        let (want_dx, want_db) = match kind {
            Gelu::Erf => {
                let z = (x.clone() + b.clone().broadcast_like::<_, Axis<0>>(&(m, n))).as_vec();
                let dz = erf_gelu_grad(&z, &r.as_vec());
                let mut db = vec![0.0f32; n];
                for row in dz.chunks(n) {
                    for (a, v) in db.iter_mut().zip(row) {
                        *a += *v;
                    }
                }
                (dz, db)
            }
            Gelu::Tanh => (g2.get(&x).as_vec(), g2.get(&b).as_vec()),
        };
        assert_close("dx", &g1.get(&x).as_vec(), &want_dx, RTOL, ATOL);
        assert_close("db", &g1.get(&b).as_vec(), &want_db, RTOL, 1e-4);
    }
}

#[test]
fn gated_gelu_matches_dfdx() {
    let d = dev(5);
    let shape = (3, 29, 31);
    let a: Tensor<(usize, usize, usize), f32, _> = d.sample_normal_like(&shape);
    let g: Tensor<(usize, usize, usize), f32, _> = d.sample_normal_like(&shape);
    let r: Tensor<(usize, usize, usize), f32, _> = d.sample_normal_like(&shape);
    for kind in [Gelu::Erf, Gelu::Tanh] {
        let ours = ops::gated_gelu(a.leaky_trace(), g.clone(), kind);
        let act = match kind {
            Gelu::Erf => a.leaky_trace().accurate_gelu(),
            Gelu::Tanh => a.leaky_trace().fast_gelu(),
        };
        let ref_ = act * g.clone();
        assert_close("out", &ours.as_vec(), &ref_.as_vec(), RTOL, ATOL);
        let g1 = weighted_sum(ours, &r).backward();
        let g2 = weighted_sum(ref_, &r).backward();
        let want_da = match kind {
            Gelu::Erf => {
                let rg: Vec<f32> = r.as_vec().iter().zip(g.as_vec()).map(|(r, g)| r * g).collect();
                erf_gelu_grad(&a.as_vec(), &rg)
            }
            Gelu::Tanh => g2.get(&a).as_vec(),
        };
        assert_close("da", &g1.get(&a).as_vec(), &want_da, RTOL, ATOL);
        assert_close("dgate", &g1.get(&g).as_vec(), &g2.get(&g).as_vec(), RTOL, ATOL);
    }
}

#[test]
fn layer_norm_matches_dfdx() {
    let d = dev(6);
    let shape = (5, 23, 37);
    let x: Tensor<(usize, usize, usize), f32, _> = d.sample_normal_like(&shape) * 3.0 + 1.0;
    let gamma: Tensor<(usize,), f32, _> = d.sample_normal_like(&(37,));
    let beta: Tensor<(usize,), f32, _> = d.sample_normal_like(&(37,));
    let r: Tensor<(usize, usize, usize), f32, _> = d.sample_normal_like(&shape);
    let ours = ops::layer_norm(x.leaky_trace(), gamma.clone(), beta.clone(), 1e-5);
    let ref_ = x.leaky_trace().normalize::<Axis<2>>(1e-5) * gamma.clone().broadcast_like::<_, Axes2<0, 1>>(&shape)
        + beta.clone().broadcast_like::<_, Axes2<0, 1>>(&shape);
    assert_close("out", &ours.as_vec(), &ref_.as_vec(), RTOL, ATOL);
    let g1 = weighted_sum(ours, &r).backward();
    let g2 = weighted_sum(ref_, &r).backward();
    assert_close("dx", &g1.get(&x).as_vec(), &g2.get(&x).as_vec(), RTOL, 1e-4);
    assert_close("dgamma", &g1.get(&gamma).as_vec(), &g2.get(&gamma).as_vec(), RTOL, 1e-4);
    assert_close("dbeta", &g1.get(&beta).as_vec(), &g2.get(&beta).as_vec(), RTOL, 1e-4);
}

#[test]
fn rms_norm_matches_dfdx() {
    let d = dev(7);
    let shape = (211, 19);
    let x: Tensor<Dyn2, f32, _> = d.sample_normal_like(&shape) * 2.0 + 0.5;
    let gamma: Tensor<(usize,), f32, _> = d.sample_normal_like(&(19,));
    let r: Tensor<Dyn2, f32, _> = d.sample_normal_like(&shape);
    let eps = 1e-6;
    let ours = ops::rms_norm(x.leaky_trace(), gamma.clone(), eps);
    let ms = x.leaky_trace().square().mean::<(usize,), Axis<1>>();
    let inv = (ms + eps).sqrt().recip();
    let ref_ =
        x.leaky_trace() * inv.broadcast_like::<_, Axis<1>>(&shape) * gamma.clone().broadcast_like::<_, Axis<0>>(&shape);
    assert_close("out", &ours.as_vec(), &ref_.as_vec(), RTOL, ATOL);
    let g1 = weighted_sum(ours, &r).backward();
    let g2 = weighted_sum(ref_, &r).backward();
    assert_close("dx", &g1.get(&x).as_vec(), &g2.get(&x).as_vec(), RTOL, 1e-4);
    assert_close("dgamma", &g1.get(&gamma).as_vec(), &g2.get(&gamma).as_vec(), RTOL, 1e-4);
}

#[test]
fn softmax_with_bias_and_causal_mask_matches_dfdx() {
    let d = dev(8);
    let shape = (3, 17, 17);
    let x: Tensor<(usize, usize, usize), f32, _> = d.sample_normal_like(&shape) * 2.0;
    let bias: Tensor<(usize, usize, usize), f32, _> = d.sample_normal_like(&shape);
    let r: Tensor<(usize, usize, usize), f32, _> = d.sample_normal_like(&shape);
    // plain
    let ours = ops::softmax(x.leaky_trace(), None::<Tensor<(usize, usize, usize), f32, Cpu>>, false);
    let ref_ = x.leaky_trace().softmax::<Axis<2>>();
    assert_close("plain out", &ours.as_vec(), &ref_.as_vec(), RTOL, 1e-6);
    let g1 = weighted_sum(ours, &r).backward();
    let g2 = weighted_sum(ref_, &r).backward();
    assert_close("plain dx", &g1.get(&x).as_vec(), &g2.get(&x).as_vec(), RTOL, ATOL);
    // with a bias and a causal mask: the reference adds -1e9 above the diagonal
    let mut mask = vec![0.0f32; 3 * 17 * 17];
    for b in 0..3 {
        for i in 0..17 {
            for j in (i + 1)..17 {
                mask[(b * 17 + i) * 17 + j] = -1e9;
            }
        }
    }
    let mask: Tensor<(usize, usize, usize), f32, _> = d.tensor_from_vec(mask, shape);
    let ours = ops::softmax(x.leaky_trace(), Some(bias.leaky_trace()), true);
    let ref_ = (x.leaky_trace() + bias.leaky_trace() + mask).softmax::<Axis<2>>();
    let (o, e) = (ours.as_vec(), ref_.as_vec());
    assert_close("masked out", &o, &e, RTOL, 1e-6);
    assert_eq!(o[1], 0.0, "a masked probability is exactly zero");
    let g1 = weighted_sum(ours, &r).backward();
    let g2 = weighted_sum(ref_, &r).backward();
    assert_close("masked dx", &g1.get(&x).as_vec(), &g2.get(&x).as_vec(), RTOL, ATOL);
    assert_close("masked dbias", &g1.get(&bias).as_vec(), &g2.get(&bias).as_vec(), RTOL, ATOL);
}

type Taped<S> = Tensor<S, f32, Cpu, OwnedTape<f32, Cpu>>;

/// dfdx-composed multi-head attention with const dims (B, S, H, DH); every input traced.
#[allow(clippy::type_complexity)]
fn attention_ref<const B: usize, const S: usize, const H: usize, const DH: usize, const D: usize>(
    q: Taped<Rank3<B, S, D>>,
    k: Taped<Rank3<B, S, D>>,
    v: Taped<Rank3<B, S, D>>,
    bias: Option<Taped<Rank3<H, S, S>>>,
    causal: bool,
    scale: f32,
) -> Taped<Rank3<B, S, D>> {
    let dev = q.device().clone();
    let q = q.reshape::<Rank4<B, S, H, DH>>().permute::<Rank4<B, H, S, DH>, _>();
    let k = k.reshape::<Rank4<B, S, H, DH>>().permute::<Rank4<B, H, DH, S>, _>();
    let v = v.reshape::<Rank4<B, S, H, DH>>().permute::<Rank4<B, H, S, DH>, _>();
    let mut s = q.matmul(k) * scale;
    if let Some(b) = bias {
        s = s + b.broadcast::<Rank4<B, H, S, S>, _>();
    }
    if causal {
        let mut m = vec![0.0f32; B * H * S * S];
        for bh in 0..B * H {
            for i in 0..S {
                for j in (i + 1)..S {
                    m[(bh * S + i) * S + j] = -1e9;
                }
            }
        }
        s = s + dev.tensor_from_vec(m, Rank4::<B, H, S, S>::default());
    }
    let p = s.softmax::<Axis<3>>();
    p.matmul(v).permute::<Rank4<B, S, H, DH>, _>().reshape::<Rank3<B, S, D>>()
}

/// Our attention (fused loops for short sequences, one `gemm` per product for long ones)
/// against the dfdx composition, with and without bias and causal mask.
fn check_attention<const B: usize, const S: usize, const H: usize, const DH: usize, const D: usize>(seed: u64) {
    let d = dev(seed);
    let q: Tensor<Rank3<B, S, D>, f32, _> = d.sample_normal();
    let k: Tensor<Rank3<B, S, D>, f32, _> = d.sample_normal();
    let v: Tensor<Rank3<B, S, D>, f32, _> = d.sample_normal();
    let bias: Tensor<Rank3<H, S, S>, f32, _> = d.sample_normal();
    let r: Tensor<Rank3<B, S, D>, f32, _> = d.sample_normal();
    for (with_bias, causal, scale) in [(false, false, 0.447), (true, true, 1.0), (true, false, 0.7)] {
        let tag = format!("S={S} bias={with_bias} causal={causal}");
        let ours = ops::attention(
            q.leaky_trace(),
            k.leaky_trace(),
            v.leaky_trace(),
            H,
            scale,
            with_bias.then(|| bias.leaky_trace()),
            causal,
        );
        let ref_ = attention_ref::<B, S, H, DH, D>(
            q.leaky_trace(),
            k.leaky_trace(),
            v.leaky_trace(),
            with_bias.then(|| bias.leaky_trace()),
            causal,
            scale,
        );
        assert_close(&format!("{tag} out"), &ours.as_vec(), &ref_.as_vec(), RTOL, ATOL);
        let g1 = weighted_sum(ours, &r).backward();
        let g2 = weighted_sum(ref_, &r).backward();
        for (name, t) in [("dq", &q), ("dk", &k), ("dv", &v)] {
            assert_close(&format!("{tag} {name}"), &g1.get(t).as_vec(), &g2.get(t).as_vec(), RTOL, 1e-4);
        }
        if with_bias {
            assert_close(&format!("{tag} dbias"), &g1.get(&bias).as_vec(), &g2.get(&bias).as_vec(), RTOL, 1e-4);
        }
    }
}

/// The fused self-attention (q, k, v projections inside the op) against three `ops::linear`
/// calls followed by `ops::attention`: outputs and the gradients of x, the weights, the biases
/// and the score bias.
fn check_self_attention(b: usize, s: usize, din: usize, n: usize, heads: usize, seed: u64) {
    let d = dev(seed);
    let x: Tensor<Dyn2, f32, _> = d.sample_normal_like(&(b * s, din));
    let w: Vec<Tensor<Dyn2, f32, _>> = (0..3).map(|_| d.sample_normal_like(&(n, din)) * 0.3).collect();
    let bs: Vec<Tensor<(usize,), f32, _>> = (0..3).map(|_| d.sample_normal_like(&(n,))).collect();
    let sb: Tensor<(usize, usize, usize), f32, _> = d.sample_normal_like(&(heads, s, s));
    let r: Tensor<Dyn2, f32, _> = d.sample_normal_like(&(b * s, n));
    for (with_bias, with_sb, causal, scale) in
        [(true, false, false, 0.35), (false, true, true, 1.0), (true, true, false, 0.5)]
    {
        let tag = format!("S={s} bias={with_bias} score_bias={with_sb} causal={causal}");
        let ours = ops::self_attention(
            x.leaky_trace(),
            [&w[0], &w[1], &w[2]],
            with_bias.then(|| [&bs[0], &bs[1], &bs[2]]),
            b,
            heads,
            scale,
            with_sb.then(|| sb.leaky_trace()),
            causal,
        );
        let proj = |p: usize| {
            ops::linear(x.leaky_trace(), w[p].clone(), with_bias.then(|| bs[p].clone())).reshape_like(&(b, s, n))
        };
        let ref_ = ops::attention(proj(0), proj(1), proj(2), heads, scale, with_sb.then(|| sb.leaky_trace()), causal)
            .reshape_like(&(b * s, n));
        assert_close(&format!("{tag} out"), &ours.as_vec(), &ref_.as_vec(), RTOL, ATOL);
        let g1 = weighted_sum(ours, &r).backward();
        let g2 = weighted_sum(ref_, &r).backward();
        assert_close(&format!("{tag} dx"), &g1.get(&x).as_vec(), &g2.get(&x).as_vec(), RTOL, 1e-4);
        for p in 0..3 {
            assert_close(&format!("{tag} dW{p}"), &g1.get(&w[p]).as_vec(), &g2.get(&w[p]).as_vec(), RTOL, 1e-4);
            if with_bias {
                assert_close(&format!("{tag} db{p}"), &g1.get(&bs[p]).as_vec(), &g2.get(&bs[p]).as_vec(), RTOL, 1e-4);
            }
        }
        if with_sb {
            assert_close(&format!("{tag} dscore_bias"), &g1.get(&sb).as_vec(), &g2.get(&sb).as_vec(), RTOL, 1e-4);
        }
    }
}

#[test]
fn fused_self_attention_matches_linear_then_attention() {
    // Short sequences (register kernels), a head width that is not a multiple of 8, and an
    // input width different from the output width.
    check_self_attention(3, 17, 20, 24, 2, 21);
    // Long sequences: each head's products go through gemm.
    check_self_attention(2, 49, 32, 32, 2, 22);
}

#[test]
fn attention_matches_dfdx_composition_short_sequences() {
    check_attention::<3, 11, 3, 5, 15>(9);
}

#[test]
fn attention_matches_dfdx_composition_long_sequences_via_gemm() {
    // 49·49·16 ≥ the size above which each head's products go through gemm.
    check_attention::<2, 49, 2, 16, 32>(15);
}

#[test]
fn cross_entropy_matches_dfdx_with_and_without_z_loss() {
    let d = dev(10);
    let (m, c) = (57, 13);
    let x: Tensor<Dyn2, f32, _> = d.sample_normal_like(&(m, c)) * 2.0;
    let targets: Vec<usize> = (0..m).map(|i| (i * 7 + 3) % c).collect();
    let mut onehot = vec![0.0f32; m * c];
    for (i, t) in targets.iter().enumerate() {
        onehot[i * c + t] = 1.0;
    }
    let onehot: Tensor<Dyn2, f32, _> = d.tensor_from_vec(onehot, (m, c));
    for z in [0.0f32, 1e-2] {
        let ours = ops::cross_entropy(x.leaky_trace(), &targets, z);
        // dfdx's cross_entropy_with_logits_loss averages over all but the last axis.
        let ce = dfdx::losses::cross_entropy_with_logits_loss(x.leaky_trace(), onehot.clone());
        let ref_ = if z > 0.0 {
            let l = x.leaky_trace().logsumexp::<(usize,), Axis<1>>();
            ce + (l.square().mean() * z)
        } else {
            ce
        };
        assert_close(&format!("z={z} loss"), &[ours.array()], &[ref_.array()], RTOL, 1e-6);
        let g1 = (ours * 3.0).backward();
        let g2 = (ref_ * 3.0).backward();
        assert_close(&format!("z={z} dx"), &g1.get(&x).as_vec(), &g2.get(&x).as_vec(), RTOL, 1e-6);
    }
}

/// Runs `f` on a rayon pool of `n` threads.
fn with_threads<R: Send>(n: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().expect("thread pool").install(f)
}

/// Forward and every gradient of a block made of all our ops, as plain vectors.
fn block_outputs(seed: u64) -> Vec<Vec<f32>> {
    let d = dev(seed);
    const B: usize = 9;
    const S: usize = 33;
    const D: usize = 48;
    let x: Tensor<Rank3<B, S, D>, f32, _> = d.sample_normal();
    let g: Tensor<Rank1<D>, f32, _> = d.sample_normal();
    let be: Tensor<Rank1<D>, f32, _> = d.sample_normal();
    let wq: Tensor<Rank2<D, D>, f32, _> = d.sample_normal::<Rank2<D, D>>() * 0.2;
    let wk: Tensor<Rank2<D, D>, f32, _> = d.sample_normal::<Rank2<D, D>>() * 0.2;
    let wv: Tensor<Rank2<D, D>, f32, _> = d.sample_normal::<Rank2<D, D>>() * 0.2;
    let w1: Tensor<Rank2<131, D>, f32, _> = d.sample_normal::<Rank2<131, D>>() * 0.2;
    let b1: Tensor<Rank1<131>, f32, _> = d.sample_normal();
    let w2: Tensor<Rank2<131, D>, f32, _> = d.sample_normal::<Rank2<131, D>>() * 0.2;
    let pb: Tensor<Rank3<4, S, S>, f32, _> = d.sample_normal();
    let targets: Vec<usize> = (0..B * S).map(|i| i % 131).collect();

    let h = ops::layer_norm(x.leaky_trace(), g.clone(), be.clone(), 1e-5);
    let flat = h.reshape::<Rank2<{ B * S }, D>>();
    let (flat, tape) = flat.split_tape();
    let q = ops::linear_no_bias(flat.clone().put_tape(tape), wq.clone()).reshape::<Rank3<B, S, D>>();
    let (q, tape) = q.split_tape();
    let k = ops::linear_no_bias(flat.clone().put_tape(tape), wk.clone()).reshape::<Rank3<B, S, D>>();
    let (k, tape) = k.split_tape();
    let v = ops::linear_no_bias(flat.put_tape(tape), wv.clone()).reshape::<Rank3<B, S, D>>();
    let a = ops::attention(v, q, k, 4, 0.3, Some(pb.clone()), true);
    let a = ops::rms_norm(a, g.clone(), 1e-6).reshape::<Rank2<{ B * S }, D>>();
    let (a, tape) = a.split_tape();
    let u = ops::bias_gelu(ops::linear_no_bias(a.clone().put_tape(tape), w1.clone()), b1.clone(), Gelu::Erf);
    let (u, tape) = u.split_tape();
    let gg = ops::gated_gelu(
        u.clone().put_tape(tape),
        ops::linear_no_bias(a.retaped::<OwnedTape<f32, Cpu>>(), w2.clone()),
        Gelu::Tanh,
    );
    let sm = ops::softmax(gg, None::<Tensor<Rank2<{ B * S }, 131>, f32, Cpu>>, false);
    let logits =
        ops::linear(ops::gelu(sm, Gelu::Erf), w1.clone().permute::<Rank2<D, 131>, _>().contiguous(), Some(g.clone()));
    let loss = ops::cross_entropy(ops::linear_no_bias(logits, w1.clone()), &targets, 1e-3);
    let mut out = vec![vec![loss.array()]];
    let grads = loss.backward();
    out.push(grads.get(&x).as_vec());
    for t in [&wq, &wk, &wv] {
        out.push(grads.get(t).as_vec());
    }
    out.push(grads.get(&w2).as_vec());
    for t in [&g, &be] {
        out.push(grads.get(t).as_vec());
    }
    out.push(grads.get(&w1).as_vec());
    out.push(grads.get(&b1).as_vec());
    out.push(grads.get(&pb).as_vec());
    out
}

#[test]
fn one_and_two_threads_give_identical_bits() {
    let one = with_threads(1, || block_outputs(11));
    let two = with_threads(2, || block_outputs(11));
    assert_eq!(one.len(), two.len());
    for (i, (a, b)) in one.iter().zip(&two).enumerate() {
        assert!(a.iter().all(|v| v.is_finite()), "output {i} not finite");
        assert!(a.iter().any(|v| *v != 0.0), "output {i} is all zeros");
        assert_eq!(a, b, "output {i} differs between 1 and 2 threads");
    }
}

#[test]
fn add_matches_dfdx_including_a_tensor_added_to_itself() {
    let d = dev(12);
    let shape = (301, 67);
    let a: Tensor<Dyn2, f32, _> = d.sample_normal_like(&shape);
    let b: Tensor<Dyn2, f32, _> = d.sample_normal_like(&shape);
    let r: Tensor<Dyn2, f32, _> = d.sample_normal_like(&shape);
    let ours = ops::add(a.leaky_trace(), b.leaky_trace());
    let ref_ = a.leaky_trace() + b.leaky_trace();
    assert_close("out", &ours.as_vec(), &ref_.as_vec(), 0.0, 0.0);
    let g1 = weighted_sum(ours, &r).backward();
    let g2 = weighted_sum(ref_, &r).backward();
    assert_close("da", &g1.get(&a).as_vec(), &g2.get(&a).as_vec(), 0.0, 0.0);
    assert_close("db", &g1.get(&b).as_vec(), &g2.get(&b).as_vec(), 0.0, 0.0);
    let twice = ops::add(a.leaky_trace(), a.leaky_trace());
    let g = weighted_sum(twice, &r).backward().get(&a).as_vec();
    let want: Vec<f32> = r.as_vec().iter().map(|v| 2.0 * v).collect();
    assert_close("d(a+a)", &g, &want, 0.0, 0.0);
}

#[test]
fn attention_with_a_per_batch_bias_matches_dfdx() {
    const B: usize = 3;
    const S: usize = 7;
    const H: usize = 2;
    const DH: usize = 4;
    const D: usize = 8;
    let d = dev(13);
    let q: Tensor<Rank3<B, S, D>, f32, _> = d.sample_normal();
    let k: Tensor<Rank3<B, S, D>, f32, _> = d.sample_normal();
    let v: Tensor<Rank3<B, S, D>, f32, _> = d.sample_normal();
    let bias: Tensor<Rank4<B, H, S, S>, f32, _> = d.sample_normal();
    let r: Tensor<Rank3<B, S, D>, f32, _> = d.sample_normal();
    let flat = bias.clone().reshape::<Rank3<{ B * H }, S, S>>();
    let ours =
        ops::attention(q.leaky_trace(), k.leaky_trace(), v.leaky_trace(), H, 0.5, Some(flat.leaky_trace()), false);
    // reference: per-head bias composed with dfdx
    let qh = q.leaky_trace().reshape::<Rank4<B, S, H, DH>>().permute::<Rank4<B, H, S, DH>, _>();
    let kh = k.leaky_trace().reshape::<Rank4<B, S, H, DH>>().permute::<Rank4<B, H, DH, S>, _>();
    let vh = v.leaky_trace().reshape::<Rank4<B, S, H, DH>>().permute::<Rank4<B, H, S, DH>, _>();
    let p = (qh.matmul(kh) * 0.5 + bias.leaky_trace()).softmax::<Axis<3>>();
    let ref_ = p.matmul(vh).permute::<Rank4<B, S, H, DH>, _>().reshape::<Rank3<B, S, D>>();
    assert_close("out", &ours.as_vec(), &ref_.as_vec(), RTOL, ATOL);
    let g1 = weighted_sum(ours, &r).backward();
    let g2 = weighted_sum(ref_, &r).backward();
    assert_close("dbias", &g1.get(&flat).as_vec(), &g2.get(&bias).as_vec(), RTOL, ATOL);
    assert_close("dk", &g1.get(&k).as_vec(), &g2.get(&k).as_vec(), RTOL, ATOL);
}

#[test]
fn cross_entropy_ignoring_pad_rows_matches_a_weighted_dfdx_loss() {
    let d = dev(14);
    let (m, c) = (23, 11);
    let x: Tensor<Dyn2, f32, _> = d.sample_normal_like(&(m, c));
    let targets: Vec<usize> = (0..m).map(|i| if i % 4 == 0 { 0 } else { 1 + (i * 5) % (c - 1) }).collect();
    let n = targets.iter().filter(|t| **t != 0).count();
    let w: Vec<f32> = targets.iter().map(|t| if *t == 0 { 0.0 } else { 1.0 / n as f32 }).collect();
    let ours = ops::cross_entropy_ignoring(x.leaky_trace(), &targets, Some(0), 0.01);
    let idx: Tensor<(usize,), usize, _> = d.tensor_from_vec(targets.clone(), (m,));
    let wt: Tensor<(usize,), f32, _> = d.tensor_from_vec(w, (m,));
    let lse = x.leaky_trace().logsumexp::<(usize,), Axis<1>>();
    let zl = x.leaky_trace().logsumexp::<(usize,), Axis<1>>().square() * 0.01;
    let picked = x.leaky_trace().select(idx);
    let ref_ = ((lse - picked + zl) * wt).sum();
    assert_close("loss", &[ours.array()], &[ref_.array()], RTOL, 1e-6);
    let g1 = ours.backward();
    let g2 = ref_.backward();
    assert_close("dx", &g1.get(&x).as_vec(), &g2.get(&x).as_vec(), RTOL, 1e-6);
    assert!(g1.get(&x).as_vec()[..c].iter().all(|v| *v == 0.0), "an ignored row gets no gradient");
}
