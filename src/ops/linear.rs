//! `y = x·Wᵀ + b` on token-flattened 2-D tensors, with the bias fused into the matrix product
//! and every product run by the `gemm` crate on all of rayon's threads.

use super::buf::{add_grad, put_grad, take_grad, tensor_of, Buf, Scratch};
use super::par;
use dfdx::prelude::*;
use rayon::prelude::*;

/// Row-major matrix view: `rows × cols`, element `(i, j)` at `i·rs + j·cs`.
#[derive(Clone, Copy)]
pub struct Mat {
    /// Row stride.
    pub rs: isize,
    /// Column stride.
    pub cs: isize,
}

/// Row-major `rows × cols` matrix.
pub const fn row_major(cols: usize) -> Mat {
    Mat { rs: cols as isize, cs: 1 }
}

/// Transpose of a row-major matrix with `cols` columns.
pub const fn transposed(cols: usize) -> Mat {
    Mat { rs: 1, cs: cols as isize }
}

/// `dst (m×n, row stride dst_rs) = [dst +] scale · lhs (m×k) · rhs (k×n)` with the given
/// `gemm` parallelism; the one place that calls `gemm`.
#[allow(clippy::too_many_arguments)]
fn gemm_checked(
    (m, k, n): (usize, usize, usize),
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lm: Mat,
    rhs: &[f32],
    rm: Mat,
    scale: f32,
    parallelism: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst_rs >= n && (m - 1) * dst_rs + n <= dst.len(), "matmul: destination too small");
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_rs..r * dst_rs + n].fill(0.0);
            }
        }
        return;
    }
    let last = |mt: Mat, r: usize, c: usize| (r - 1) as isize * mt.rs + (c - 1) as isize * mt.cs;
    assert!(last(lm, m, k) < lhs.len() as isize, "matmul: lhs too small");
    assert!(last(rm, k, n) < rhs.len() as isize, "matmul: rhs too small");
    // SAFETY: the asserts above bound every index the product touches, given the strides;
    // `dst` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lm.cs,
            lm.rs,
            rhs.as_ptr(),
            rm.cs,
            rm.rs,
            if accumulate { 1.0 } else { 0.0 },
            scale,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// `dst (m×n, row stride dst_rs) = [dst +] scale · lhs (m×k) · rhs (k×n)`, on the calling
/// thread only (for many small products run in parallel by the caller).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_strided(
    mkn: (usize, usize, usize),
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lm: Mat,
    rhs: &[f32],
    rm: Mat,
    scale: f32,
) {
    gemm_checked(mkn, dst, dst_rs, accumulate, lhs, lm, rhs, rm, scale, gemm::Parallelism::None);
}

/// `dst (m×n) = [dst +] lhs (m×k) · rhs (k×n)`, threaded over rayon's pool when `threaded`.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    (m, k, n): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: &[f32],
    lm: Mat,
    rhs: &[f32],
    rm: Mat,
    threaded: bool,
) {
    let parallelism = if threaded && rayon::current_num_threads() > 1 {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    gemm_checked((m, k, n), dst, n, accumulate, lhs, lm, rhs, rm, 1.0, parallelism);
}

/// The same product with `gemm` on the calling thread only (`Parallelism::None`): for the
/// benchmarks that compare [`matmul`]'s threading with other ways of splitting a product.
#[allow(clippy::too_many_arguments)]
pub fn matmul_one_thread(
    (m, k, n): (usize, usize, usize),
    dst: &mut [f32],
    dst_rs: usize,
    lhs: &[f32],
    lm: Mat,
    rhs: &[f32],
    rm: Mat,
) {
    gemm_checked((m, k, n), dst, dst_rs, false, lhs, lm, rhs, rm, 1.0, gemm::Parallelism::None);
}

/// `dst (n×k) += Σ_chunks aᵀ(n×m_c) · b(m_c×k)` for row-major `a (m×n)` and `b (m×k)`: a
/// product whose inner dimension is the (long) token axis, split into fixed chunks of tokens
/// that run in parallel and are summed in order (same result with any thread count).
pub(crate) fn matmul_tn_accumulate((m, n, k): (usize, usize, usize), dst: &mut [f32], a: &[f32], b: &[f32]) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // Chunks of at least 256 tokens and at most 8 chunks; fixed by the shapes only.
    let chunk = m.div_ceil(8).max(256);
    let n_chunks = m.div_ceil(chunk);
    if n_chunks == 1 {
        matmul((n, m, k), dst, true, a, transposed(n), b, row_major(k), true);
        return;
    }
    let part = |c: usize| {
        let r0 = c * chunk;
        let r1 = ((c + 1) * chunk).min(m);
        let mut p = vec![0.0f32; n * k];
        matmul(
            (n, r1 - r0, k),
            &mut p,
            false,
            &a[r0 * n..r1 * n],
            transposed(n),
            &b[r0 * k..r1 * k],
            row_major(k),
            false,
        );
        p
    };
    let parts: Vec<Vec<f32>> = if rayon::current_num_threads() > 1 {
        (0..n_chunks).into_par_iter().map(part).collect()
    } else {
        (0..n_chunks).map(part).collect()
    };
    let mut sum = parts[0].clone();
    for p in &parts[1..] {
        for (s, v) in sum.iter_mut().zip(p) {
            *s += *v;
        }
    }
    par::add_into(&mut dst[..n * k], &sum);
}

/// Column sums of a row-major `rows × width` matrix, deterministic for any thread count.
pub(crate) fn column_sums(g: &[f32], rows: usize, width: usize) -> Vec<f32> {
    par::reduce_rows(rows, width, width, |r0, r1, acc| {
        for r in r0..r1 {
            for (a, v) in acc.iter_mut().zip(&g[r * width..(r + 1) * width]) {
                *a += *v;
            }
        }
    })
}

/// Fallible [`linear`].
pub fn try_linear<M: Dim, K: Dim, N: Dim, T, Tw, Tb>(
    x: Tensor<(M, K), f32, Cpu, T>,
    w: Tensor<(N, K), f32, Cpu, Tw>,
    b: Option<Tensor<(N,), f32, Cpu, Tb>>,
) -> Result<Tensor<(M, N), f32, Cpu, T>, CpuError>
where
    T: Tape<f32, Cpu> + Merge<Tw> + Merge<Tb>,
    Tw: Tape<f32, Cpu>,
    Tb: Tape<f32, Cpu>,
{
    let (m, k) = (x.shape().0.size(), x.shape().1.size());
    let nd = w.shape().0;
    let n = nd.size();
    assert_eq!(w.shape().1.size(), k, "linear: x has {k} features but w expects {}", w.shape().1.size());
    let (x, xt) = x.try_contiguous()?.split_tape();
    let (w, wt) = w.try_contiguous()?.split_tape();
    let mut tape = xt.merge(wt);
    let b = match b {
        Some(b) => {
            let (b, bt) = b.try_contiguous()?.split_tape();
            tape = tape.merge(bt);
            Some(b)
        }
        None => None,
    };
    let dev = x.device().clone();
    let xv = Scratch::copy_of(&x)?;
    let wv = Scratch::copy_of(&w)?;
    let mut out = Buf::zeros(&dev, m * n)?;
    if let Some(b) = &b {
        let bv = Scratch::copy_of(b)?;
        par::for_rows(&mut out, n, n, |_, rows| {
            for row in rows.chunks_exact_mut(n) {
                row.copy_from_slice(&bv);
            }
        });
    }
    matmul((m, k, n), &mut out, b.is_some(), &xv, row_major(k), &wv, transposed(k), true);
    let out = tensor_of(&dev, out, (x.shape().0, nd))?;
    if T::OWNS_TAPE {
        let (x_g, w_g, b_g, out_g) = (x.ghost(), w.ghost(), b.map(|b| b.ghost()), out.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            {
                // dx (m×k) += dy (m×n) · W (n×k)
                let gx: &mut Vec<f32> = grads.get_or_alloc_mut(&x_g)?;
                matmul((m, n, k), gx, true, &go, row_major(n), &wv, row_major(k), true);
            }
            {
                // dW (n×k) += dyᵀ (n×m) · x (m×k)
                let gw: &mut Vec<f32> = grads.get_or_alloc_mut(&w_g)?;
                matmul_tn_accumulate((m, n, k), gw, &go, &xv);
            }
            if let Some(b_g) = &b_g {
                let db = column_sums(&go, m, n);
                add_grad!(grads, b_g, &db);
            }
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// `y = x·Wᵀ + b` for token-flattened `x: (Tokens, In)`, `w: (Out, In)` (dfdx's and PyTorch's
/// layout), optional `b: (Out,)`; returns `(Tokens, Out)` carrying `x`'s tape. See the module
/// documentation of [`crate::ops`].
///
/// # Panics
/// If `w`'s input width differs from `x`'s, or on allocation failure (like dfdx's own ops).
pub fn linear<M: Dim, K: Dim, N: Dim, T, Tw, Tb>(
    x: Tensor<(M, K), f32, Cpu, T>,
    w: Tensor<(N, K), f32, Cpu, Tw>,
    b: Option<Tensor<(N,), f32, Cpu, Tb>>,
) -> Tensor<(M, N), f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<Tw> + Merge<Tb>,
    Tw: Tape<f32, Cpu>,
    Tb: Tape<f32, Cpu>,
{
    try_linear(x, w, b).unwrap_or_else(|e| panic!("linear: {e}"))
}

/// [`linear`] without a bias (T5 has none).
pub fn linear_no_bias<M: Dim, K: Dim, N: Dim, T, Tw>(
    x: Tensor<(M, K), f32, Cpu, T>,
    w: Tensor<(N, K), f32, Cpu, Tw>,
) -> Tensor<(M, N), f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<Tw> + Merge<NoneTape>,
    Tw: Tape<f32, Cpu>,
{
    linear(x, w, None::<Tensor<(N,), f32, Cpu, NoneTape>>)
}
