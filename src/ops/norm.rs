//! LayerNorm (ViT) and RMSNorm (T5.1.1) over the last axis, forward and backward in one pass
//! per row each, on all threads.

use super::buf::{add_grad, put_grad, take_grad, tensor_of, Buf, Scratch};
use super::math::simd_kernel;
use super::par;
use dfdx::prelude::*;

/// Sum with 8 independent accumulators (vectorizable; the same order on every thread count).
#[inline(always)]
pub(crate) fn sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for j in 0..8 {
            acc[j] += c[j];
        }
    }
    let mut tail = 0.0;
    for v in chunks.remainder() {
        tail += *v;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Dot product with 8 independent accumulators.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += *x * *y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Σ (x − c)² with 8 accumulators.
#[inline(always)]
fn sum_sq_dev(x: &[f32], c: f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for ch in &mut chunks {
        for j in 0..8 {
            let d = ch[j] - c;
            acc[j] += d * d;
        }
    }
    let mut tail = 0.0;
    for v in chunks.remainder() {
        tail += (*v - c) * (*v - c);
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn ln_fwd_body(x: &[f32], g: &[f32], b: &[f32], eps: f32, y: &mut [f32], stats: &mut [f32]) {
    let d = g.len();
    for ((xr, yr), st) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)).zip(stats.chunks_exact_mut(2)) {
        let mean = sum(xr) / d as f32;
        let var = sum_sq_dev(xr, mean) / d as f32;
        let rstd = 1.0 / (var + eps).sqrt();
        for j in 0..d {
            yr[j] = (xr[j] - mean) * rstd * g[j] + b[j];
        }
        st[0] = mean;
        st[1] = rstd;
    }
}

#[inline(always)]
fn ln_bwd_body(x: &[f32], g: &[f32], stats: &[f32], dy: &[f32], dx: &mut [f32]) {
    let d = g.len();
    let mut dxh = vec![0.0f32; d];
    let mut xh = vec![0.0f32; d];
    for (((xr, dyr), st), dxr) in
        x.chunks_exact(d).zip(dy.chunks_exact(d)).zip(stats.chunks_exact(2)).zip(dx.chunks_exact_mut(d))
    {
        let (mean, rstd) = (st[0], st[1]);
        for j in 0..d {
            xh[j] = (xr[j] - mean) * rstd;
            dxh[j] = dyr[j] * g[j];
        }
        let m1 = sum(&dxh) / d as f32;
        let m2 = dot(&dxh, &xh) / d as f32;
        for j in 0..d {
            dxr[j] += rstd * (dxh[j] - m1 - xh[j] * m2);
        }
    }
}

/// Adds `Σ dy·x̂` into `acc[..d]` and `Σ dy` into `acc[d..]`.
#[inline(always)]
fn ln_param_body(x: &[f32], stats: &[f32], dy: &[f32], acc: &mut [f32]) {
    let d = acc.len() / 2;
    let (ag, ab) = acc.split_at_mut(d);
    for ((xr, dyr), st) in x.chunks_exact(d).zip(dy.chunks_exact(d)).zip(stats.chunks_exact(2)) {
        for j in 0..d {
            ag[j] += dyr[j] * (xr[j] - st[0]) * st[1];
            ab[j] += dyr[j];
        }
    }
}

#[inline(always)]
fn rms_fwd_body(x: &[f32], g: &[f32], eps: f32, y: &mut [f32], stats: &mut [f32]) {
    let d = g.len();
    for ((xr, yr), st) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)).zip(stats.iter_mut()) {
        let ms = dot(xr, xr) / d as f32;
        let r = 1.0 / (ms + eps).sqrt();
        for j in 0..d {
            yr[j] = xr[j] * r * g[j];
        }
        *st = r;
    }
}

#[inline(always)]
fn rms_bwd_body(x: &[f32], g: &[f32], stats: &[f32], dy: &[f32], dx: &mut [f32]) {
    let d = g.len();
    let mut dxh = vec![0.0f32; d];
    let mut xh = vec![0.0f32; d];
    for (((xr, dyr), r), dxr) in x.chunks_exact(d).zip(dy.chunks_exact(d)).zip(stats.iter()).zip(dx.chunks_exact_mut(d))
    {
        for j in 0..d {
            xh[j] = xr[j] * *r;
            dxh[j] = dyr[j] * g[j];
        }
        let m2 = dot(&dxh, &xh) / d as f32;
        for j in 0..d {
            dxr[j] += *r * (dxh[j] - xh[j] * m2);
        }
    }
}

#[inline(always)]
fn rms_param_body(x: &[f32], stats: &[f32], dy: &[f32], acc: &mut [f32]) {
    let d = acc.len();
    for ((xr, dyr), r) in x.chunks_exact(d).zip(dy.chunks_exact(d)).zip(stats.iter()) {
        for j in 0..d {
            acc[j] += dyr[j] * xr[j] * *r;
        }
    }
}

simd_kernel!(fn ln_fwd(x: &[f32], g: &[f32], b: &[f32], eps: f32, y: &mut [f32], stats: &mut [f32]) => ln_fwd_body);
simd_kernel!(fn ln_bwd(x: &[f32], g: &[f32], stats: &[f32], dy: &[f32], dx: &mut [f32]) => ln_bwd_body);
simd_kernel!(fn ln_param(x: &[f32], stats: &[f32], dy: &[f32], acc: &mut [f32]) => ln_param_body);
simd_kernel!(fn rms_fwd(x: &[f32], g: &[f32], eps: f32, y: &mut [f32], stats: &mut [f32]) => rms_fwd_body);
simd_kernel!(fn rms_bwd(x: &[f32], g: &[f32], stats: &[f32], dy: &[f32], dx: &mut [f32]) => rms_bwd_body);
simd_kernel!(fn rms_param(x: &[f32], stats: &[f32], dy: &[f32], acc: &mut [f32]) => rms_param_body);

/// The size of the last axis (1 for a scalar).
pub(crate) fn last_dim<S: Shape>(s: &S) -> usize {
    let c = s.concrete();
    let v: Vec<usize> = c.into_iter().collect();
    v.last().copied().unwrap_or(1)
}

/// Fallible [`layer_norm`].
pub fn try_layer_norm<S: Shape, D: Dim, T, Tg, Tb>(
    x: Tensor<S, f32, Cpu, T>,
    gamma: Tensor<(D,), f32, Cpu, Tg>,
    beta: Tensor<(D,), f32, Cpu, Tb>,
    eps: f32,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError>
where
    T: Tape<f32, Cpu> + Merge<Tg> + Merge<Tb>,
    Tg: Tape<f32, Cpu>,
    Tb: Tape<f32, Cpu>,
{
    let d = last_dim(x.shape());
    assert_eq!(gamma.shape().0.size(), d, "layer_norm: gamma length differs from the last axis");
    assert_eq!(beta.shape().0.size(), d, "layer_norm: beta length differs from the last axis");
    let (x, xt) = x.try_contiguous()?.split_tape();
    let (g, gt) = gamma.try_contiguous()?.split_tape();
    let (b, bt) = beta.try_contiguous()?.split_tape();
    let mut tape = xt.merge(gt).merge(bt);
    let dev = x.device().clone();
    let xv = Scratch::copy_of(&x)?;
    let gv = Scratch::copy_of(&g)?;
    let bv = Scratch::copy_of(&b)?;
    let rows = xv.len().checked_div(d).unwrap_or(0);
    let mut y = Buf::zeros(&dev, xv.len())?;
    let mut stats = Scratch::zeros(2 * rows)?;
    par::for_rows2(&mut y, d, &mut stats, 2, 8 * d, |r0, ys, ss| {
        ln_fwd(&xv[r0 * d..r0 * d + ys.len()], &gv, &bv, eps, ys, ss)
    });
    let out = tensor_of(&dev, y, *x.shape())?;
    if T::OWNS_TAPE {
        let (x_g, g_g, b_g, out_g) = (x.ghost(), g.ghost(), b.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            {
                let gx: &mut Vec<f32> = grads.get_or_alloc_mut(&x_g)?;
                par::for_rows(gx, d, 10 * d, |r0, dxs| {
                    let range = r0 * d..r0 * d + dxs.len();
                    ln_bwd(&xv[range.clone()], &gv, &stats[2 * r0..], &go[range], dxs)
                });
            }
            let acc = par::reduce_rows(rows, 2 * d, 4 * d, |r0, r1, acc| {
                ln_param(&xv[r0 * d..r1 * d], &stats[2 * r0..2 * r1], &go[r0 * d..r1 * d], acc)
            });
            add_grad!(grads, &g_g, &acc[..d]);
            add_grad!(grads, &b_g, &acc[d..]);
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// LayerNorm over the last axis: `(x − mean)/√(var + eps)·γ + β`, biased variance (as PyTorch;
/// its default `eps` is 1e-5). `x` may have any shape whose last axis has `γ`'s length.
///
/// # Panics
/// If `γ` or `β` does not match the last axis, or on allocation failure.
pub fn layer_norm<S: Shape, D: Dim, T, Tg, Tb>(
    x: Tensor<S, f32, Cpu, T>,
    gamma: Tensor<(D,), f32, Cpu, Tg>,
    beta: Tensor<(D,), f32, Cpu, Tb>,
    eps: f32,
) -> Tensor<S, f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<Tg> + Merge<Tb>,
    Tg: Tape<f32, Cpu>,
    Tb: Tape<f32, Cpu>,
{
    try_layer_norm(x, gamma, beta, eps).unwrap_or_else(|e| panic!("layer_norm: {e}"))
}

/// Fallible [`rms_norm`].
pub fn try_rms_norm<S: Shape, D: Dim, T, Tg>(
    x: Tensor<S, f32, Cpu, T>,
    gamma: Tensor<(D,), f32, Cpu, Tg>,
    eps: f32,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError>
where
    T: Tape<f32, Cpu> + Merge<Tg>,
    Tg: Tape<f32, Cpu>,
{
    let d = last_dim(x.shape());
    assert_eq!(gamma.shape().0.size(), d, "rms_norm: gamma length differs from the last axis");
    let (x, xt) = x.try_contiguous()?.split_tape();
    let (g, gt) = gamma.try_contiguous()?.split_tape();
    let mut tape = xt.merge(gt);
    let dev = x.device().clone();
    let xv = Scratch::copy_of(&x)?;
    let gv = Scratch::copy_of(&g)?;
    let rows = xv.len().checked_div(d).unwrap_or(0);
    let mut y = Buf::zeros(&dev, xv.len())?;
    let mut stats = Scratch::zeros(rows)?;
    par::for_rows2(&mut y, d, &mut stats, 1, 4 * d, |r0, ys, ss| {
        rms_fwd(&xv[r0 * d..r0 * d + ys.len()], &gv, eps, ys, ss)
    });
    let out = tensor_of(&dev, y, *x.shape())?;
    if T::OWNS_TAPE {
        let (x_g, g_g, out_g) = (x.ghost(), g.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            {
                let gx: &mut Vec<f32> = grads.get_or_alloc_mut(&x_g)?;
                par::for_rows(gx, d, 8 * d, |r0, dxs| {
                    let range = r0 * d..r0 * d + dxs.len();
                    rms_bwd(&xv[range.clone()], &gv, &stats[r0..], &go[range], dxs)
                });
            }
            let acc = par::reduce_rows(rows, d, 3 * d, |r0, r1, acc| {
                rms_param(&xv[r0 * d..r1 * d], &stats[r0..r1], &go[r0 * d..r1 * d], acc)
            });
            add_grad!(grads, &g_g, &acc);
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// RMSNorm over the last axis (T5.1.1's `T5LayerNorm`): `x/√(mean(x²) + eps)·γ`, no mean
/// subtraction and no bias (T5 uses `eps` = 1e-6).
///
/// # Panics
/// If `γ` does not match the last axis, or on allocation failure.
pub fn rms_norm<S: Shape, D: Dim, T, Tg>(
    x: Tensor<S, f32, Cpu, T>,
    gamma: Tensor<(D,), f32, Cpu, Tg>,
    eps: f32,
) -> Tensor<S, f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<Tg>,
    Tg: Tape<f32, Cpu>,
{
    try_rms_norm(x, gamma, eps).unwrap_or_else(|e| panic!("rms_norm: {e}"))
}
