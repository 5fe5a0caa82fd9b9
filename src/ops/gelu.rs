//! GELU, fused with a bias add (`gelu(x + b)`) or with the gate of T5.1.1's gated-GELU MLP
//! (`gelu(a) ⊙ b`), in both of its usual forms.

use super::buf::{add_grad, put_grad, take_grad, tensor_of, Buf, Scratch};
use super::linear::column_sums;
use super::math::{erf, exp, simd_kernel, tanh};
use super::par;
use dfdx::prelude::*;

/// Which GELU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gelu {
    /// `x·Φ(x) = x/2·(1 + erf(x/√2))`: PyTorch's `nn.GELU()` / `F.gelu` default
    /// (`approximate='none'`), used by the ViT reference; dfdx's `accurate_gelu`.
    #[default]
    Erf,
    /// `x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`: PyTorch's `approximate='tanh'`, Hugging
    /// Face's `gelu_new` (T5.1.1's `gated-gelu`); dfdx's `fast_gelu`.
    Tanh,
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π)
const INV_SQRT_2PI: f32 = 0.398_942_3;
/// √(2/π)
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const C3: f32 = 0.044_715;

#[inline(always)]
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2))
}

#[inline(always)]
fn dgelu_erf(x: f32) -> f32 {
    0.5 * (1.0 + erf(x * FRAC_1_SQRT_2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x)
}

#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * (x + C3 * x * x * x)))
}

#[inline(always)]
fn dgelu_tanh(x: f32) -> f32 {
    let t = tanh(SQRT_2_OVER_PI * (x + C3 * x * x * x));
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * C3 * x * x)
}

#[inline(always)]
fn fwd_erf_body(z: &[f32], y: &mut [f32]) {
    for (y, z) in y.iter_mut().zip(z) {
        *y = gelu_erf(*z);
    }
}
#[inline(always)]
fn fwd_tanh_body(z: &[f32], y: &mut [f32]) {
    for (y, z) in y.iter_mut().zip(z) {
        *y = gelu_tanh(*z);
    }
}
#[inline(always)]
fn bwd_erf_body(z: &[f32], dy: &[f32], dz: &mut [f32]) {
    for ((d, z), g) in dz.iter_mut().zip(z).zip(dy) {
        *d = *g * dgelu_erf(*z);
    }
}
#[inline(always)]
fn bwd_tanh_body(z: &[f32], dy: &[f32], dz: &mut [f32]) {
    for ((d, z), g) in dz.iter_mut().zip(z).zip(dy) {
        *d = *g * dgelu_tanh(*z);
    }
}
#[inline(always)]
fn gated_fwd_erf_body(a: &[f32], b: &[f32], y: &mut [f32]) {
    for ((y, a), b) in y.iter_mut().zip(a).zip(b) {
        *y = gelu_erf(*a) * *b;
    }
}
#[inline(always)]
fn gated_fwd_tanh_body(a: &[f32], b: &[f32], y: &mut [f32]) {
    for ((y, a), b) in y.iter_mut().zip(a).zip(b) {
        *y = gelu_tanh(*a) * *b;
    }
}
/// `da = dy·b·gelu'(a)`, `db = dy·gelu(a)`.
#[inline(always)]
fn gated_bwd_erf_body(a: &[f32], b: &[f32], dy: &[f32], da: &mut [f32], db: &mut [f32]) {
    for i in 0..dy.len().min(a.len()).min(b.len()).min(da.len()).min(db.len()) {
        let x = a[i];
        let c = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
        let d = c + x * INV_SQRT_2PI * exp(-0.5 * x * x);
        da[i] = dy[i] * b[i] * d;
        db[i] = dy[i] * x * c;
    }
}
#[inline(always)]
fn gated_bwd_tanh_body(a: &[f32], b: &[f32], dy: &[f32], da: &mut [f32], db: &mut [f32]) {
    for i in 0..dy.len().min(a.len()).min(b.len()).min(da.len()).min(db.len()) {
        let x = a[i];
        da[i] = dy[i] * b[i] * dgelu_tanh(x);
        db[i] = dy[i] * gelu_tanh(x);
    }
}

simd_kernel!(fn fwd_erf(z: &[f32], y: &mut [f32]) => fwd_erf_body);
simd_kernel!(fn fwd_tanh(z: &[f32], y: &mut [f32]) => fwd_tanh_body);
simd_kernel!(fn bwd_erf(z: &[f32], dy: &[f32], dz: &mut [f32]) => bwd_erf_body);
simd_kernel!(fn bwd_tanh(z: &[f32], dy: &[f32], dz: &mut [f32]) => bwd_tanh_body);
simd_kernel!(fn gated_fwd_erf(a: &[f32], b: &[f32], y: &mut [f32]) => gated_fwd_erf_body);
simd_kernel!(fn gated_fwd_tanh(a: &[f32], b: &[f32], y: &mut [f32]) => gated_fwd_tanh_body);
simd_kernel!(fn gated_bwd_erf(a: &[f32], b: &[f32], dy: &[f32], da: &mut [f32], db: &mut [f32]) => gated_bwd_erf_body);
simd_kernel!(fn gated_bwd_tanh(a: &[f32], b: &[f32], dy: &[f32], da: &mut [f32], db: &mut [f32]) => gated_bwd_tanh_body);

/// Cost of one element in [`par`]'s units (a GELU is a few dozen flops).
const ELEM_COST: usize = 24;
/// Elements per "row" when a tensor has no natural row: splits stay on whole blocks.
const BLOCK: usize = 1024;

fn gelu_forward(kind: Gelu, z: &[f32], y: &mut [f32]) {
    par::for_rows(y, BLOCK, BLOCK * ELEM_COST, |r0, ys| {
        let zs = &z[r0 * BLOCK..r0 * BLOCK + ys.len()];
        match kind {
            Gelu::Erf => fwd_erf(zs, ys),
            Gelu::Tanh => fwd_tanh(zs, ys),
        }
    });
}

fn gelu_backward(kind: Gelu, z: &[f32], dy: &[f32], dz: &mut [f32]) {
    par::for_rows(dz, BLOCK, BLOCK * ELEM_COST, |r0, ds| {
        let range = r0 * BLOCK..r0 * BLOCK + ds.len();
        match kind {
            Gelu::Erf => bwd_erf(&z[range.clone()], &dy[range], ds),
            Gelu::Tanh => bwd_tanh(&z[range.clone()], &dy[range], ds),
        }
    });
}

/// Fallible [`gelu`].
pub fn try_gelu<S: Shape, T: Tape<f32, Cpu>>(
    x: Tensor<S, f32, Cpu, T>,
    kind: Gelu,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError> {
    let (x, tape) = x.try_contiguous()?.split_tape();
    let mut tape = tape;
    let dev = x.device().clone();
    let z = Scratch::copy_of(&x)?;
    let mut y = Buf::zeros(&dev, z.len())?;
    gelu_forward(kind, &z, &mut y);
    let out = tensor_of(&dev, y, *x.shape())?;
    if T::OWNS_TAPE {
        let (x_g, out_g) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            let mut dz = Scratch::dirty(z.len())?;
            gelu_backward(kind, &z, &go, &mut dz);
            add_grad!(grads, &x_g, &dz);
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// Element-wise GELU of any shape.
///
/// # Panics
/// On allocation failure, like dfdx's own ops.
pub fn gelu<S: Shape, T: Tape<f32, Cpu>>(x: Tensor<S, f32, Cpu, T>, kind: Gelu) -> Tensor<S, f32, Cpu, T> {
    try_gelu(x, kind).unwrap_or_else(|e| panic!("gelu: {e}"))
}

/// Fallible [`bias_gelu`].
pub fn try_bias_gelu<M: Dim, N: Dim, T, Tb>(
    x: Tensor<(M, N), f32, Cpu, T>,
    b: Tensor<(N,), f32, Cpu, Tb>,
    kind: Gelu,
) -> Result<Tensor<(M, N), f32, Cpu, T>, CpuError>
where
    T: Tape<f32, Cpu> + Merge<Tb>,
    Tb: Tape<f32, Cpu>,
{
    let n = x.shape().1.size();
    assert_eq!(b.shape().0.size(), n, "bias_gelu: bias length differs from the width");
    let m = x.shape().0.size();
    let (x, xt) = x.try_contiguous()?.split_tape();
    let (b, bt) = b.try_contiguous()?.split_tape();
    let mut tape = xt.merge(bt);
    let dev = x.device().clone();
    let mut z = Scratch::copy_of(&x)?;
    let bv = Scratch::copy_of(&b)?;
    let mut y = Buf::zeros(&dev, z.len())?;
    let rows_per_block = BLOCK.div_ceil(n.max(1));
    par::for_rows2(
        &mut z,
        n * rows_per_block,
        &mut y,
        n * rows_per_block,
        n * rows_per_block * ELEM_COST,
        |_, zs, ys| {
            for row in zs.chunks_exact_mut(n) {
                for (v, b) in row.iter_mut().zip(bv.iter()) {
                    *v += *b;
                }
            }
            match kind {
                Gelu::Erf => fwd_erf(zs, ys),
                Gelu::Tanh => fwd_tanh(zs, ys),
            }
        },
    );
    let out = tensor_of(&dev, y, *x.shape())?;
    if T::OWNS_TAPE {
        let (x_g, b_g, out_g) = (x.ghost(), b.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            let mut dz = Scratch::dirty(z.len())?;
            gelu_backward(kind, &z, &go, &mut dz);
            add_grad!(grads, &x_g, &dz);
            let db = column_sums(&dz, m, n);
            add_grad!(grads, &b_g, &db);
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// `gelu(x + b)` with the bias `b: (N,)` broadcast over the rows of `x: (M, N)`.
///
/// # Panics
/// If `b`'s length is not `x`'s width, or on allocation failure.
pub fn bias_gelu<M: Dim, N: Dim, T, Tb>(
    x: Tensor<(M, N), f32, Cpu, T>,
    b: Tensor<(N,), f32, Cpu, Tb>,
    kind: Gelu,
) -> Tensor<(M, N), f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<Tb>,
    Tb: Tape<f32, Cpu>,
{
    try_bias_gelu(x, b, kind).unwrap_or_else(|e| panic!("bias_gelu: {e}"))
}

/// Fallible [`gated_gelu`].
pub fn try_gated_gelu<S: Shape, T, Tg>(
    a: Tensor<S, f32, Cpu, T>,
    gate: Tensor<S, f32, Cpu, Tg>,
    kind: Gelu,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError>
where
    T: Tape<f32, Cpu> + Merge<Tg>,
    Tg: Tape<f32, Cpu>,
{
    assert_eq!(a.shape().concrete(), gate.shape().concrete(), "gated_gelu: shapes differ");
    let (a, at) = a.try_contiguous()?.split_tape();
    let (g, gt) = gate.try_contiguous()?.split_tape();
    let mut tape = at.merge(gt);
    let dev = a.device().clone();
    let av = Scratch::copy_of(&a)?;
    let gv = Scratch::copy_of(&g)?;
    let mut y = Buf::zeros(&dev, av.len())?;
    par::for_rows(&mut y, BLOCK, BLOCK * ELEM_COST, |r0, ys| {
        let range = r0 * BLOCK..r0 * BLOCK + ys.len();
        match kind {
            Gelu::Erf => gated_fwd_erf(&av[range.clone()], &gv[range], ys),
            Gelu::Tanh => gated_fwd_tanh(&av[range.clone()], &gv[range], ys),
        }
    });
    let out = tensor_of(&dev, y, *a.shape())?;
    if T::OWNS_TAPE {
        let (a_g, g_g, out_g) = (a.ghost(), g.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            let mut da = Scratch::dirty(av.len())?;
            let mut dg = Scratch::dirty(av.len())?;
            par::for_rows2(&mut da, BLOCK, &mut dg, BLOCK, BLOCK * ELEM_COST, |r0, das, dgs| {
                let range = r0 * BLOCK..r0 * BLOCK + das.len();
                let (a, g, dy) = (&av[range.clone()], &gv[range.clone()], &go[range]);
                match kind {
                    Gelu::Erf => gated_bwd_erf(a, g, dy, das, dgs),
                    Gelu::Tanh => gated_bwd_tanh(a, g, dy, das, dgs),
                }
            });
            add_grad!(grads, &a_g, &da);
            add_grad!(grads, &g_g, &dg);
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// T5.1.1's gated GELU: `gelu(a) ⊙ gate`, element-wise, any shape (both the same).
///
/// # Panics
/// If the shapes differ, or on allocation failure.
pub fn gated_gelu<S: Shape, T, Tg>(
    a: Tensor<S, f32, Cpu, T>,
    gate: Tensor<S, f32, Cpu, Tg>,
    kind: Gelu,
) -> Tensor<S, f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<Tg>,
    Tg: Tape<f32, Cpu>,
{
    try_gated_gelu(a, gate, kind).unwrap_or_else(|e| panic!("gated_gelu: {e}"))
}

/// Fallible [`add`].
pub fn try_add<S: Shape, T, Tb>(
    a: Tensor<S, f32, Cpu, T>,
    b: Tensor<S, f32, Cpu, Tb>,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError>
where
    T: Tape<f32, Cpu> + Merge<Tb>,
    Tb: Tape<f32, Cpu>,
{
    assert_eq!(a.shape().concrete(), b.shape().concrete(), "add: shapes differ");
    let (a, at) = a.try_contiguous()?.split_tape();
    let (b, bt) = b.try_contiguous()?.split_tape();
    let mut tape = at.merge(bt);
    let dev = a.device().clone();
    let mut y = Buf::copy_of(&a)?;
    let bv = Scratch::copy_of(&b)?;
    par::add_into(&mut y, &bv);
    drop(bv);
    let out = tensor_of(&dev, y, *a.shape())?;
    if T::OWNS_TAPE {
        let (a_g, b_g, out_g) = (a.ghost(), b.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            add_grad!(grads, &a_g, &go);
            add_grad!(grads, &b_g, &go);
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// Element-wise `a + b` of the same shape (residual connections), on all threads; the
/// gradient flows unchanged to both (also when `a` and `b` are the same tensor).
///
/// # Panics
/// If the shapes differ, or on allocation failure.
pub fn add<S: Shape, T, Tb>(a: Tensor<S, f32, Cpu, T>, b: Tensor<S, f32, Cpu, Tb>) -> Tensor<S, f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<Tb>,
    Tb: Tape<f32, Cpu>,
{
    try_add(a, b).unwrap_or_else(|e| panic!("add: {e}"))
}
