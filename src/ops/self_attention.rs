//! Self-attention with the query, key and value projections fused into the op:
//! `attention(x·W_qᵀ + b_q, x·W_kᵀ + b_k, x·W_vᵀ + b_v)` as one tape entry.
//!
//! The same result as three [`super::try_linear`] calls followed by [`super::try_attention`],
//! with less memory traffic: `x` is copied once instead of three times, the three projections
//! are one `gemm` with `n = 3·D` whose output the attention kernels read in place (row stride
//! `3·D`), and q, k, v never become dfdx tensors (no zero-filled outputs, gradients or copies
//! for them). On the ViT of `shared/reference/vit_cpu.py` this removes 6 of the 9 full-size
//! copies per attention layer (docs/PERFORMANCE.md).

use super::attention::{att_backward, att_forward, score_bias_grad, Att, AttGrads, AttIn};
use super::buf::{add_grad, put_grad, take_grad, tensor_of, Buf, Scratch};
use super::linear::{column_sums, matmul, matmul_tn_accumulate, row_major, transposed};
use super::par;
use dfdx::prelude::*;

/// Fallible [`self_attention`].
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn try_self_attention<M: Dim, K: Dim, N: Dim, T, Tb>(
    x: Tensor<(M, K), f32, Cpu, T>,
    w: [&Tensor<(N, K), f32, Cpu>; 3],
    b: Option<[&Tensor<(N,), f32, Cpu>; 3]>,
    batch: usize,
    heads: usize,
    scale: f32,
    score_bias: Option<Tensor<(usize, usize, usize), f32, Cpu, Tb>>,
    causal: bool,
) -> Result<Tensor<(M, N), f32, Cpu, T>, CpuError>
where
    T: Tape<f32, Cpu> + Merge<Tb>,
    Tb: Tape<f32, Cpu>,
{
    let (m, k) = (x.shape().0.size(), x.shape().1.size());
    let nd = w[0].shape().0;
    let n = nd.size();
    for wp in w {
        assert_eq!(wp.shape().concrete(), [n, k], "self_attention: q, k, v weights must all be (width, input width)");
    }
    assert!(heads > 0 && n % heads == 0, "self_attention: {heads} heads do not divide width {n}");
    assert!(batch > 0 && m % batch == 0, "self_attention: {m} tokens are not {batch} sequences of equal length");
    let t = m / batch;
    let a = Att { sq: t, sk: t, d: n, heads, dh: n / heads, ld: 3 * n, scale, causal };
    let (x, mut tape) = x.try_contiguous()?.split_tape();
    let score_bias = match score_bias {
        Some(sb) => {
            let (hh, s1, s2) = *sb.shape();
            assert!(
                (hh == heads || hh == batch * heads) && (s1, s2) == (t, t),
                "self_attention: score bias must be (heads, t, t) or (batch·heads, t, t)"
            );
            let (sb, st) = sb.try_contiguous()?.split_tape();
            tape = tape.merge(st);
            Some(sb)
        }
        None => None,
    };
    let dev = x.device().clone();
    let xv = Scratch::copy_of(&x)?;
    // W_qkv (3n × k): the three weights stacked; the bias row [b_q b_k b_v].
    let mut wv = Scratch::dirty(3 * n * k)?;
    for (p, wp) in w.iter().enumerate() {
        (*wp).clone().try_contiguous()?.copy_into(&mut wv[p * n * k..(p + 1) * n * k]);
    }
    let n3 = 3 * n;
    let mut qkv = Scratch::dirty(m * n3)?;
    if let Some(bs) = &b {
        let mut row = vec![0.0f32; n3];
        for (p, bp) in bs.iter().enumerate() {
            (*bp).clone().try_contiguous()?.copy_into(&mut row[p * n..(p + 1) * n]);
        }
        par::for_rows(&mut qkv, n3, n3, |_, rows| {
            for r in rows.chunks_exact_mut(n3) {
                r.copy_from_slice(&row);
            }
        });
    }
    matmul((m, k, n3), &mut qkv, b.is_some(), &xv, row_major(k), &wv, transposed(k), true);
    let sv = match &score_bias {
        Some(sb) => Some(Scratch::copy_of(sb)?),
        None => None,
    };
    let per_batch = sv.as_ref().is_some_and(|v| v.len() == batch * heads * t * t && batch > 1);
    let mut out = Buf::zeros(&dev, m * n)?;
    let mut probs = Scratch::zeros(batch * heads * t * t)?;
    let inp = AttIn { q: &qkv, k: &qkv[n..], v: &qkv[2 * n..] };
    att_forward(&a, batch, inp, sv.as_deref(), &mut out, &mut probs);
    drop(sv);
    let out = tensor_of(&dev, out, (x.shape().0, nd))?;
    if T::OWNS_TAPE {
        let (x_g, out_g) = (x.ghost(), out.ghost());
        let w_g = w.map(|wp| wp.ghost());
        let b_g = b.map(|bs| bs.map(|bp| bp.ghost()));
        let s_g = score_bias.map(|sb| sb.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            // Planar dq | dk | dv, each (m × n).
            let mut dqkv = Scratch::zeros(3 * m * n)?;
            let mut ds = Scratch::dirty(probs.len())?;
            {
                let (dq, rest) = dqkv.split_at_mut(m * n);
                let (dk, dv) = rest.split_at_mut(m * n);
                let inp = AttIn { q: &qkv, k: &qkv[n..], v: &qkv[2 * n..] };
                att_backward(&a, batch, inp, &probs, &go, AttGrads { dq, dk, dv, ds: &mut ds });
            }
            let part = |p: usize| &dqkv[p * m * n..(p + 1) * m * n];
            {
                // dx (m×k) += Σ_p d_p (m×n) · W_p (n×k)
                let gx: &mut Vec<f32> = grads.get_or_alloc_mut(&x_g)?;
                for p in 0..3 {
                    matmul(
                        (m, n, k),
                        gx,
                        true,
                        part(p),
                        row_major(n),
                        &wv[p * n * k..(p + 1) * n * k],
                        row_major(k),
                        true,
                    );
                }
            }
            for (p, wg) in w_g.iter().enumerate() {
                // dW_p (n×k) += d_pᵀ (n×m) · x (m×k)
                let gw: &mut Vec<f32> = grads.get_or_alloc_mut(wg)?;
                matmul_tn_accumulate((m, n, k), gw, part(p), &xv);
            }
            if let Some(bg) = &b_g {
                for (p, g) in bg.iter().enumerate() {
                    add_grad!(grads, g, &column_sums(part(p), m, n));
                }
            }
            if let Some(sg) = &s_g {
                add_grad!(grads, sg, &score_bias_grad(&a, batch, &ds, per_batch));
            }
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// Multi-head self-attention of token-flattened `x: (batch·t, K)` with the projections
/// `q = x·W_qᵀ + b_q`, `k`, `v` alike (`w = [W_q, W_k, W_v]`, each `(N, K)` in dfdx's and
/// PyTorch's layout; `b` optional), `heads` heads of width `N / heads`, scores scaled by
/// `scale`, plus an optional additive `score_bias` (`(heads, t, t)` shared by the batch, or
/// `(batch·heads, t, t)`) and an optional causal mask. Returns `(batch·t, N)` with the heads
/// side by side, ready for the output projection; gradients flow to `x`, the weights, the
/// biases and the score bias. Equal (to rounding) to [`super::linear`] three times followed by
/// [`super::attention`].
///
/// # Panics
/// On inconsistent shapes (weights of different shapes, heads not dividing `N`, tokens not a
/// multiple of `batch`, a score bias of another shape) or on allocation failure.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn self_attention<M: Dim, K: Dim, N: Dim, T, Tb>(
    x: Tensor<(M, K), f32, Cpu, T>,
    w: [&Tensor<(N, K), f32, Cpu>; 3],
    b: Option<[&Tensor<(N,), f32, Cpu>; 3]>,
    batch: usize,
    heads: usize,
    scale: f32,
    score_bias: Option<Tensor<(usize, usize, usize), f32, Cpu, Tb>>,
    causal: bool,
) -> Tensor<(M, N), f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<Tb>,
    Tb: Tape<f32, Cpu>,
{
    try_self_attention(x, w, b, batch, heads, scale, score_bias, causal)
        .unwrap_or_else(|e| panic!("self_attention: {e}"))
}
