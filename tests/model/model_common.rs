//! Shared helpers of the model tests: visit parameters by name, set them to fixed values, and
//! naive f64 reference pieces (an independent implementation used to check the dfdx forward).
#![allow(dead_code)]

use std::collections::BTreeMap;

use sparse_scaling::dfdx::prelude::*;
use sparse_scaling::dfdx::tensor::CpuError;

/// One parameter: dotted path, rank, values (row-major).
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub rank: usize,
    pub values: Vec<f32>,
}

struct Collect<'a>(&'a mut Vec<Param>);

impl<'a> TensorVisitor<f32, Cpu> for Collect<'a> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = CpuError;
    type E2 = f32;
    type D2 = Cpu;
    fn visit<S: Shape>(
        &mut self,
        _opts: TensorOptions<S, f32, Cpu>,
        (t, name): (&Tensor<S, f32, Cpu>, String),
    ) -> Result<Option<Tensor<S, f32, Cpu>>, CpuError> {
        self.0.push(Param { name, rank: S::NUM_DIMS, values: t.as_vec() });
        Ok(None)
    }
}

/// All parameters of a model in visitor order.
pub fn params<M: TensorCollection<f32, Cpu>>(m: &M) -> Vec<Param> {
    let mut out = Vec::new();
    let mut v = Collect(&mut out);
    M::iter_tensors(&mut RecursiveWalker { m: (m, String::new()), f: &mut v }).unwrap();
    out
}

struct SetAll<F: FnMut(&str, usize) -> f32>(F);

impl<F: FnMut(&str, usize) -> f32> TensorVisitor<f32, Cpu> for SetAll<F> {
    type Viewer = (ViewTensorMut, ViewTensorName);
    type Err = CpuError;
    type E2 = f32;
    type D2 = Cpu;
    fn visit<S: Shape>(
        &mut self,
        _opts: TensorOptions<S, f32, Cpu>,
        (t, name): (&mut Tensor<S, f32, Cpu>, String),
    ) -> Result<Option<Tensor<S, f32, Cpu>>, CpuError> {
        let n = t.shape().num_elements();
        let v: Vec<f32> = (0..n).map(|i| (self.0)(&name, i)).collect();
        t.copy_from(&v);
        Ok(None)
    }
}

/// Sets every parameter `name[i]` to `f(name, i)` through the visitor.
pub fn set_params<M: TensorCollection<f32, Cpu>>(m: &mut M, f: impl FnMut(&str, usize) -> f32) {
    let mut v = SetAll(f);
    M::iter_tensors(&mut RecursiveWalker { m: (m, String::new()), f: &mut v }).unwrap();
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

struct GradCheck<'a> {
    grads: &'a Gradients<f32, Cpu>,
    zero: Vec<String>,
}

impl<'a> TensorVisitor<f32, Cpu> for GradCheck<'a> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = CpuError;
    type E2 = f32;
    type D2 = Cpu;
    fn visit<S: Shape>(
        &mut self,
        _opts: TensorOptions<S, f32, Cpu>,
        (t, name): (&Tensor<S, f32, Cpu>, String),
    ) -> Result<Option<Tensor<S, f32, Cpu>>, CpuError> {
        let g = self.grads.get(t).as_vec();
        if !g.iter().any(|&x| x != 0.0) || g.iter().any(|x| !x.is_finite()) {
            self.zero.push(name);
        }
        Ok(None)
    }
}

/// Names of parameters whose gradient is all zero (or not finite).
pub fn zero_grad_params<M: TensorCollection<f32, Cpu>>(m: &M, grads: &Gradients<f32, Cpu>) -> Vec<String> {
    let mut v = GradCheck { grads, zero: Vec::new() };
    M::iter_tensors(&mut RecursiveWalker { m: (m, String::new()), f: &mut v }).unwrap();
    v.zero
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

pub fn logsumexp(row: &[f64]) -> f64 {
    let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + row.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

pub fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}
