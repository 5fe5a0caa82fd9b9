//! Mean cross-entropy of logits against integer targets, with T5's optional z-loss and an
//! optional ignored class (T5's PAD): log-softmax, loss and gradient fused, on all threads.

use super::buf::{put_grad, take_grad, Scratch};
use super::math::{exp, simd_kernel};
use super::norm::sum;
use super::par;
use super::softmax::softmax_in_place;
use dfdx::prelude::*;

/// Rows of `x` (`c` classes each): `lse` ← log Σ exp of the row and `loss` ← its weighted loss
/// `w·(lse − x_t + z_loss·lse²)` (0 for a row of weight 0).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn xent_fwd_body(
    x: &[f32],
    c: usize,
    targets: &[usize],
    weights: &[f32],
    z_loss: f32,
    lse: &mut [f32],
    loss: &mut [f32],
) {
    let mut tmp = vec![0.0f32; c];
    for ((((xr, t), w), l), out) in x.chunks_exact(c).zip(targets).zip(weights).zip(lse.iter_mut()).zip(loss.iter_mut())
    {
        tmp.copy_from_slice(xr);
        let z = softmax_in_place(&mut tmp);
        *l = z;
        *out = if *w == 0.0 { 0.0 } else { *w * (z - xr[*t] + z_loss * z * z) };
    }
}

/// Rows of `dx` += the gradient of `g ×` their weighted loss (rows of weight 0 untouched).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn xent_bwd_body(
    x: &[f32],
    c: usize,
    targets: &[usize],
    weights: &[f32],
    lse: &[f32],
    g: f32,
    z_loss: f32,
    dx: &mut [f32],
) {
    for ((((xr, t), w), l), dr) in x.chunks_exact(c).zip(targets).zip(weights).zip(lse).zip(dx.chunks_exact_mut(c)) {
        if *w == 0.0 {
            continue;
        }
        let gw = g * *w;
        // d/dx [lse − x_t + z·lse²] = softmax·(1 + 2z·lse) − onehot(t)
        let f = gw * (1.0 + 2.0 * z_loss * *l);
        for j in 0..c {
            dr[j] += f * exp(xr[j] - *l);
        }
        dr[*t] -= gw;
    }
}

simd_kernel!(fn xent_fwd(x: &[f32], c: usize, targets: &[usize], weights: &[f32], z_loss: f32, lse: &mut [f32], loss: &mut [f32]) => xent_fwd_body);
simd_kernel!(fn xent_bwd(x: &[f32], c: usize, targets: &[usize], weights: &[f32], lse: &[f32], g: f32, z_loss: f32, dx: &mut [f32]) => xent_bwd_body);

/// Fallible [`cross_entropy`].
pub fn try_cross_entropy<M: Dim, C: Dim, T: Tape<f32, Cpu>>(
    logits: Tensor<(M, C), f32, Cpu, T>,
    targets: &[usize],
    z_loss: f32,
) -> Result<Tensor<Rank0, f32, Cpu, T>, CpuError> {
    try_cross_entropy_ignoring(logits, targets, None, z_loss)
}

/// Fallible [`cross_entropy_ignoring`].
pub fn try_cross_entropy_ignoring<M: Dim, C: Dim, T: Tape<f32, Cpu>>(
    logits: Tensor<(M, C), f32, Cpu, T>,
    targets: &[usize],
    ignore: Option<usize>,
    z_loss: f32,
) -> Result<Tensor<Rank0, f32, Cpu, T>, CpuError> {
    let (m, c) = (logits.shape().0.size(), logits.shape().1.size());
    assert_eq!(targets.len(), m, "cross_entropy: {} targets for {m} rows", targets.len());
    if let Some(t) = targets.iter().find(|t| **t >= c && Some(**t) != ignore) {
        panic!("cross_entropy: target class {t} is not below the number of classes {c}");
    }
    let counted = targets.iter().filter(|t| Some(**t) != ignore).count();
    let w = if counted == 0 { 0.0 } else { 1.0 / counted as f32 };
    let weights: Vec<f32> = targets.iter().map(|t| if Some(*t) == ignore { 0.0 } else { w }).collect();
    // Ignored rows may carry any id; point them at class 0 so the kernels index safely.
    let tv: Vec<usize> = targets.iter().map(|t| if Some(*t) == ignore { 0 } else { *t }).collect();
    let (x, mut tape) = logits.try_contiguous()?.split_tape();
    let dev = x.device().clone();
    let xv = Scratch::copy_of(&x)?;
    let mut lse = Scratch::zeros(m)?;
    let mut losses = Scratch::zeros(m)?;
    par::for_rows2(&mut lse, 1, &mut losses, 1, 16 * c, |r0, ls, os| {
        let r1 = r0 + ls.len();
        xent_fwd(&xv[r0 * c..r1 * c], c, &tv[r0..r1], &weights[r0..r1], z_loss, ls, os)
    });
    let total = sum(&losses);
    drop(losses);
    let out = dev.try_tensor_from_vec(vec![total], ())?;
    if T::OWNS_TAPE {
        let (x_g, out_g) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            let g = go.first().copied().unwrap_or(0.0);
            {
                let gx: &mut Vec<f32> = grads.get_or_alloc_mut(&x_g)?;
                par::for_rows(gx, c, 16 * c, |r0, dxs| {
                    let r1 = r0 + dxs.len() / c;
                    let (t, w) = (&tv[r0..r1], &weights[r0..r1]);
                    xent_bwd(&xv[r0 * c..r1 * c], c, t, w, &lse[r0..r1], g, z_loss, dxs)
                });
            }
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// Mean cross-entropy of `logits: (Rows, Classes)` against integer `targets` (one per row),
/// with T5's optional z-loss `z_loss·(log Σ exp)²` per row (0 disables it); log-softmax,
/// loss and gradient fused.
///
/// # Panics
/// If `targets` has another length than the rows or holds a class out of range (loaders
/// validate labels before they get here), or on allocation failure.
pub fn cross_entropy<M: Dim, C: Dim, T: Tape<f32, Cpu>>(
    logits: Tensor<(M, C), f32, Cpu, T>,
    targets: &[usize],
    z_loss: f32,
) -> Tensor<Rank0, f32, Cpu, T> {
    try_cross_entropy(logits, targets, z_loss).unwrap_or_else(|e| panic!("cross_entropy: {e}"))
}

/// [`cross_entropy`] averaged over the rows whose target is not `ignore` (T5: PAD); rows with
/// target `ignore` contribute nothing, neither loss nor gradient. The loss is 0 if every row is
/// ignored.
///
/// # Panics
/// As [`cross_entropy`].
pub fn cross_entropy_ignoring<M: Dim, C: Dim, T: Tape<f32, Cpu>>(
    logits: Tensor<(M, C), f32, Cpu, T>,
    targets: &[usize],
    ignore: Option<usize>,
    z_loss: f32,
) -> Tensor<Rank0, f32, Cpu, T> {
    try_cross_entropy_ignoring(logits, targets, ignore, z_loss).unwrap_or_else(|e| panic!("cross_entropy: {e}"))
}
