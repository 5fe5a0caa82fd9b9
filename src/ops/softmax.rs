//! Softmax over the last axis, optionally of `x + bias` (an additive mask) and with a causal
//! mask, forward and backward on all threads; plus the row routines every softmax of this
//! module tree runs: [`softmax_in_place`], [`masked_softmax_row`] (attention's scores) and
//! [`softmax_grad_rows`] (the backward pass through a softmax).

use super::buf::{add_grad, put_grad, take_grad, tensor_of, Buf, Scratch};
use super::math::{exp, simd_kernel};
use super::norm::{dot, last_dim};
use super::par;
use dfdx::prelude::*;

/// Max with 8 accumulators (vectorizable).
#[inline(always)]
fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for j in 0..8 {
            acc[j] = acc[j].max(c[j]);
        }
    }
    let mut m = f32::NEG_INFINITY;
    for v in chunks.remainder().iter().chain(acc.iter()) {
        m = m.max(*v);
    }
    m
}

/// In place: `s ← softmax(s)`; returns log Σ exp(s) (before normalizing).
#[inline(always)]
pub(super) fn softmax_in_place(s: &mut [f32]) -> f32 {
    let m = max(s);
    let m = if m.is_finite() { m } else { 0.0 };
    let mut acc = [0.0f32; 8];
    let mut chunks = s.chunks_exact_mut(8);
    for c in &mut chunks {
        for j in 0..8 {
            c[j] = exp(c[j] - m);
            acc[j] += c[j];
        }
    }
    let mut tail = 0.0;
    for v in chunks.into_remainder() {
        *v = exp(*v - m);
        tail += *v;
    }
    let total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
    let inv = 1.0 / total;
    for v in s.iter_mut() {
        *v *= inv;
    }
    m + total.ln()
}

/// One row of scores to probabilities, in place: the first `lim` entries become
/// `softmax(scale·s + bias)` (no bias added when `bias` is empty), the rest (masked keys)
/// exactly 0.
#[inline(always)]
pub(super) fn masked_softmax_row(s: &mut [f32], scale: f32, bias: &[f32], lim: usize) {
    let (live, masked) = s.split_at_mut(lim);
    if bias.is_empty() {
        if scale != 1.0 {
            for v in live.iter_mut() {
                *v *= scale;
            }
        }
    } else {
        for (v, b) in live.iter_mut().zip(bias) {
            *v = *v * scale + *b;
        }
    }
    softmax_in_place(live);
    masked.fill(0.0);
}

/// Rows of `y` (row length `n`, holding `x` on entry): `y ← softmax(x [+ bias])` with key `j`
/// of query row `i` (`i` = row index modulo `sq`) masked out when `causal` and `j > i`.
#[inline(always)]
fn softmax_rows_body(bias: &[f32], n: usize, sq: usize, first_row: usize, causal: bool, y: &mut [f32]) {
    for (r, yr) in y.chunks_exact_mut(n).enumerate() {
        let lim = if causal { ((first_row + r) % sq + 1).min(n) } else { n };
        let br = if bias.is_empty() { bias } else { &bias[r * n..(r + 1) * n] };
        masked_softmax_row(yr, 1.0, br, lim);
    }
}

/// Softmax backward on rows of `n`, in place: `d ← y ⊙ (d − Σ y ⊙ d)` per row of the
/// probabilities `y` (`d` holds the gradient of the output on entry, of the input on exit).
#[inline(always)]
fn softmax_grad_rows_body(y: &[f32], n: usize, d: &mut [f32]) {
    for (yr, dr) in y.chunks_exact(n).zip(d.chunks_exact_mut(n)) {
        let s = dot(yr, dr);
        for j in 0..n {
            dr[j] = yr[j] * (dr[j] - s);
        }
    }
}

simd_kernel!(fn softmax_rows(bias: &[f32], n: usize, sq: usize, first_row: usize, causal: bool, y: &mut [f32]) => softmax_rows_body);
simd_kernel!(pub(super) fn softmax_grad_rows(y: &[f32], n: usize, d: &mut [f32]) => softmax_grad_rows_body);

/// The size of the second-to-last axis (1 for tensors of rank < 2).
fn second_last_dim<S: Shape>(s: &S) -> usize {
    let v: Vec<usize> = s.concrete().into_iter().collect();
    if v.len() >= 2 {
        v[v.len() - 2]
    } else {
        1
    }
}

/// Fallible [`softmax`].
pub fn try_softmax<S: Shape, T, Tb>(
    x: Tensor<S, f32, Cpu, T>,
    bias: Option<Tensor<S, f32, Cpu, Tb>>,
    causal: bool,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError>
where
    T: Tape<f32, Cpu> + Merge<Tb>,
    Tb: Tape<f32, Cpu>,
{
    let n = last_dim(x.shape());
    let sq = second_last_dim(x.shape());
    let (x, xt) = x.try_contiguous()?.split_tape();
    let mut tape = xt;
    let bias = match bias {
        Some(b) => {
            assert_eq!(b.shape().concrete(), x.shape().concrete(), "softmax: bias shape differs from the input's");
            let (b, bt) = b.try_contiguous()?.split_tape();
            tape = tape.merge(bt);
            Some(b)
        }
        None => None,
    };
    let dev = x.device().clone();
    let bv = match &bias {
        Some(b) => Some(Scratch::copy_of(b)?),
        None => None,
    };
    let mut y = Buf::copy_of(&x)?;
    par::for_rows(&mut y, n, 12 * n, |r0, ys| {
        let b: &[f32] = bv.as_ref().map_or(&[], |b| &b[r0 * n..r0 * n + ys.len()]);
        softmax_rows(b, n, sq, r0, causal, ys)
    });
    drop(bv);
    let saved = if T::OWNS_TAPE {
        let mut s = Scratch::dirty(y.len())?;
        s.copy_from_slice(&y);
        Some(s)
    } else {
        None
    };
    let out = tensor_of(&dev, y, *x.shape())?;
    if let Some(yv) = saved {
        let (x_g, b_g, out_g) = (x.ghost(), bias.map(|b| b.ghost()), out.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            let mut dx = Scratch::dirty(yv.len())?;
            par::for_rows(&mut dx, n, 4 * n, |r0, ds| {
                let range = r0 * n..r0 * n + ds.len();
                ds.copy_from_slice(&go[range.clone()]);
                softmax_grad_rows(&yv[range], n, ds)
            });
            add_grad!(grads, &x_g, &dx);
            if let Some(b_g) = &b_g {
                add_grad!(grads, b_g, &dx);
            }
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// Softmax over the last axis of any shape, of `x + bias` when a bias of the same shape is
/// given (an additive mask: use a large negative number, or `-inf`, to mask). With `causal`,
/// entry `j` of row `i` (the index along the second-to-last axis) is masked when `j > i`, and
/// its probability is exactly 0.
///
/// # Panics
/// If the bias has another shape, or on allocation failure.
pub fn softmax<S: Shape, T, Tb>(
    x: Tensor<S, f32, Cpu, T>,
    bias: Option<Tensor<S, f32, Cpu, Tb>>,
    causal: bool,
) -> Tensor<S, f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<Tb>,
    Tb: Tape<f32, Cpu>,
{
    try_softmax(x, bias, causal).unwrap_or_else(|e| panic!("softmax: {e}"))
}
