//! Shared helpers of the model tests: visit parameters by name, set them to fixed values, and
//! naive f64 reference pieces (an independent implementation used to check the dfdx forward).
#![allow(dead_code)]

use std::collections::BTreeMap;

use sparse_scaling::dfdx::prelude::*;
use sparse_scaling::params::{for_each_grad, for_each_param, for_each_param_mut};

/// One parameter: dotted path, shape, values (row-major).
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// All parameters of a model in walk order (the crate's one parameter walk).
pub fn params<M: TensorCollection<f32, Cpu>>(m: &M) -> Vec<Param> {
    let mut out = Vec::new();
    for_each_param::<_, ()>(m, &mut |name, shape, values| {
        out.push(Param { name: name.to_string(), shape: shape.to_vec(), values: values.to_vec() });
        Ok(())
    })
    .unwrap();
    out
}

/// Sets every parameter `name[i]` to `f(name, i)` through the walk.
pub fn set_params<M: TensorCollection<f32, Cpu>>(m: &mut M, mut f: impl FnMut(&str, usize) -> f32) {
    for_each_param_mut::<_, ()>(m, &mut |name, _, values| {
        for (i, v) in values.iter_mut().enumerate() {
            *v = f(name, i);
        }
        Ok(())
    })
    .unwrap();
}

/// A fixed pseudo-random value in [-1, 1) from a parameter name and index (FNV-1a + splitmix64).
pub fn fixed_value(name: &str, i: usize) -> f32 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    let mut z = h.wrapping_add((i as u64 + 1).wrapping_mul(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^= z >> 31;
    ((z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
}

/// Parameters as f64 by name.
pub fn param_map<M: TensorCollection<f32, Cpu>>(m: &M) -> BTreeMap<String, Vec<f64>> {
    params(m).into_iter().map(|p| (p.name, p.values.iter().map(|&v| v as f64).collect())).collect()
}

/// Names of parameters whose gradient is all zero (or not finite).
pub fn zero_grad_params<M: TensorCollection<f32, Cpu>>(m: &M, grads: &Gradients<f32, Cpu>) -> Vec<String> {
    let mut grads = grads.clone();
    let mut zero = Vec::new();
    for_each_grad::<_, String>(m, &mut grads, &mut |name, _, g| {
        if !g.iter().any(|&x| x != 0.0) || g.iter().any(|x| !x.is_finite()) {
            zero.push(name.to_string());
        }
        Ok(())
    })
    .unwrap();
    zero
}

// ---------- naive f64 pieces ----------

/// `x (n×i) · Wᵀ (W is o×i) + b`.
pub fn linear(x: &[f64], n: usize, i: usize, w: &[f64], o: usize, b: Option<&[f64]>) -> Vec<f64> {
    assert_eq!(x.len(), n * i);
    assert_eq!(w.len(), o * i);
    let mut y = vec![0.0; n * o];
    for r in 0..n {
        for c in 0..o {
            let mut s = b.map_or(0.0, |b| b[c]);
            for k in 0..i {
                s += x[r * i + k] * w[c * i + k];
            }
            y[r * o + c] = s;
        }
    }
    y
}

pub fn layer_norm(x: &[f64], d: usize, g: &[f64], b: &[f64], eps: f64) -> Vec<f64> {
    let mut y = x.to_vec();
    for row in y.chunks_mut(d) {
        let mean = row.iter().sum::<f64>() / d as f64;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / d as f64;
        for (j, v) in row.iter_mut().enumerate() {
            *v = (*v - mean) / (var + eps).sqrt() * g[j] + b[j];
        }
    }
    y
}

pub fn rms_norm(x: &[f64], d: usize, g: &[f64], eps: f64) -> Vec<f64> {
    let mut y = x.to_vec();
    for row in y.chunks_mut(d) {
        let ms = row.iter().map(|v| v * v).sum::<f64>() / d as f64;
        for (j, v) in row.iter_mut().enumerate() {
            *v = *v / (ms + eps).sqrt() * g[j];
        }
    }
    y
}

/// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
pub fn erf(x: f64) -> f64 {
    let s = x.signum();
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.3275911 * x);
    let y = 1.0
        - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592)
            * t
            * (-x * x).exp();
    s * y
}

pub fn gelu_erf(x: f64) -> f64 {
    0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

pub fn gelu_tanh(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
}

/// Multi-head attention for one sequence pair: q (tq×d), k, v (tk×d); `bias(h, i, j)` added to
/// the scores; returns tq×d.
#[allow(clippy::too_many_arguments)] // a naive reference: plain slices and sizes, as in the formula
pub fn attention(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    tq: usize,
    tk: usize,
    d: usize,
    heads: usize,
    scale: f64,
    bias: &dyn Fn(usize, usize, usize) -> f64,
) -> Vec<f64> {
    let dh = d / heads;
    let mut out = vec![0.0; tq * d];
    for h in 0..heads {
        for i in 0..tq {
            let mut s: Vec<f64> = (0..tk)
                .map(|j| {
                    let mut dot = 0.0;
                    for e in 0..dh {
                        dot += q[i * d + h * dh + e] * k[j * d + h * dh + e];
                    }
                    dot * scale + bias(h, i, j)
                })
                .collect();
            let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let mut z = 0.0;
            for x in s.iter_mut() {
                *x = (*x - m).exp();
                z += *x;
            }
            for j in 0..tk {
                for e in 0..dh {
                    out[i * d + h * dh + e] += s[j] / z * v[j * d + h * dh + e];
                }
            }
        }
    }
    out
}

/// Independent bucket function (written from the T5 paper's description, in f64).
pub fn naive_bucket(rel: i64, bidirectional: bool, buckets: usize, max_distance: usize) -> usize {
    let (half, offset, n) = if bidirectional {
        (buckets / 2, if rel > 0 { buckets / 2 } else { 0 }, rel.unsigned_abs() as usize)
    } else {
        (buckets, 0, if rel < 0 { (-rel) as usize } else { 0 })
    };
    let exact = half / 2;
    let b = if n < exact {
        n
    } else {
        let frac = (n as f64 / exact as f64).ln() / (max_distance as f64 / exact as f64).ln();
        (exact + (frac * (half - exact) as f64).floor() as usize).min(half - 1)
    };
    offset + b
}

/// T5.1.1's gated-GELU MLP `wo(gelu_tanh(wi_0 h) ⊙ wi_1 h)` of the parameters under `{pre}.mlp`,
/// on `t` rows of width `d`, hidden width `f`.
pub fn t5_mlp(p: &BTreeMap<String, Vec<f64>>, pre: &str, h: &[f64], t: usize, d: usize, f: usize) -> Vec<f64> {
    let g0: Vec<f64> =
        linear(h, t, d, &p[&format!("{pre}.mlp.wi_0.weight")], f, None).into_iter().map(gelu_tanh).collect();
    let g1 = linear(h, t, d, &p[&format!("{pre}.mlp.wi_1.weight")], f, None);
    let gg: Vec<f64> = g0.iter().zip(&g1).map(|(a, b)| a * b).collect();
    linear(&gg, t, f, &p[&format!("{pre}.mlp.wo.weight")], d, None)
}

/// T5 attention (no biases, no score scaling) with the parameters `{pre}.{q,k,v,o}.weight`:
/// queries from `x` (`tq` rows), keys and values from `kv` (`tk` rows), `bias(h, i, j)` added to
/// the scores.
#[allow(clippy::too_many_arguments)] // a naive reference: plain slices and sizes, as in the formula
pub fn t5_attention(
    p: &BTreeMap<String, Vec<f64>>,
    pre: &str,
    x: &[f64],
    kv: &[f64],
    tq: usize,
    tk: usize,
    d: usize,
    heads: usize,
    bias: &dyn Fn(usize, usize, usize) -> f64,
) -> Vec<f64> {
    let w = |n: &str| &p[&format!("{pre}.{n}.weight")];
    let q = linear(x, tq, d, w("q"), d, None);
    let k = linear(kv, tk, d, w("k"), d, None);
    let v = linear(kv, tk, d, w("v"), d, None);
    let a = attention(&q, &k, &v, tq, tk, d, heads, 1.0, bias);
    linear(&a, tq, d, w("o"), d, None)
}

pub fn logsumexp(row: &[f64]) -> f64 {
    let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + row.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

pub fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g as f64 - w).abs() <= tol * (1.0 + w.abs()), "{what}[{i}]: got {g}, want {w}");
    }
}
