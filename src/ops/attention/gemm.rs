//! The attention kernels for long sequences: one batch element's forward and backward pass
//! with one `gemm` call per product and head (at or above [`super::GEMM_ATT_MIN`]), the
//! row-wise softmax work in between done by the row routines of [`super::super::softmax`].

use super::super::linear::{matmul_strided, row_major, transposed, Mat};
use super::super::math::simd_kernel;
use super::super::softmax::{masked_softmax_row, softmax_grad_rows};
use super::{Att, AttGrads, AttIn};

/// Row-wise part of the forward pass on one head's score block `s (sq×sk)` that already
/// holds `Q·Kᵀ` (unscaled): scale, add bias, mask, softmax in place.
#[inline(always)]
fn att_rows_body(a: &Att, bias: &[f32], s: &mut [f32]) {
    let sk = a.sk;
    for (i, row) in s.chunks_exact_mut(sk).enumerate() {
        let br = if bias.is_empty() { bias } else { &bias[i * sk..(i + 1) * sk] };
        masked_softmax_row(row, a.scale, br, a.lim(i));
    }
}

simd_kernel!(fn att_rows(a: &Att, bias: &[f32], s: &mut [f32]) => att_rows_body);

/// One batch element's forward pass: `out (sq×d)` (zeroed on entry) and `probs (heads×sq×sk)`.
pub(super) fn att_fwd(a: &Att, inp: AttIn<'_>, bias: &[f32], out: &mut [f32], probs: &mut [f32]) {
    let AttIn { q, k, v } = inp;
    let (sq, sk, d, dh, ld) = (a.sq, a.sk, a.d, a.dh, a.ld);
    let hb = sq * sk;
    for h in 0..a.heads {
        let c0 = h * dh;
        let s = &mut probs[h * hb..(h + 1) * hb];
        // S = Q_h · K_hᵀ
        matmul_strided(
            (sq, dh, sk),
            s,
            sk,
            false,
            &q[c0..],
            Mat { rs: ld as isize, cs: 1 },
            &k[c0..],
            Mat { rs: 1, cs: ld as isize },
            1.0,
        );
        let bh: &[f32] = if bias.is_empty() { &[] } else { &bias[h * hb..(h + 1) * hb] };
        att_rows(a, bh, s);
        // O_h = P · V_h, written into head h's columns of out
        matmul_strided(
            (sq, sk, dh),
            &mut out[c0..],
            d,
            false,
            s,
            row_major(sk),
            &v[c0..],
            Mat { rs: ld as isize, cs: 1 },
            1.0,
        );
    }
}

/// One batch element's backward pass (see [`AttGrads`]).
pub(super) fn att_bwd(a: &Att, inp: AttIn<'_>, probs: &[f32], dout: &[f32], g: AttGrads<'_>) {
    let (AttIn { q, k, v }, AttGrads { dq, dk, dv, ds }) = (inp, g);
    let (sq, sk, d, dh, ld) = (a.sq, a.sk, a.d, a.dh, a.ld);
    let hb = sq * sk;
    let by_rows = Mat { rs: d as isize, cs: 1 };
    let in_rows = Mat { rs: ld as isize, cs: 1 };
    let in_cols = Mat { rs: 1, cs: ld as isize };
    for h in 0..a.heads {
        let c0 = h * dh;
        let p = &probs[h * hb..(h + 1) * hb];
        let dsh = &mut ds[h * hb..(h + 1) * hb];
        // dP = dO_h · V_hᵀ, then dS = P ⊙ (dP − rowsum(P ⊙ dP)) in place
        matmul_strided((sq, dh, sk), dsh, sk, false, &dout[c0..], by_rows, &v[c0..], in_cols, 1.0);
        softmax_grad_rows(p, sk, dsh);
        // dQ_h = scale · dS · K_h ; dK_h = scale · dSᵀ · Q_h ; dV_h = Pᵀ · dO_h
        matmul_strided((sq, sk, dh), &mut dq[c0..], d, true, dsh, row_major(sk), &k[c0..], in_rows, a.scale);
        matmul_strided((sk, sq, dh), &mut dk[c0..], d, true, dsh, transposed(sk), &q[c0..], in_rows, a.scale);
        matmul_strided((sk, sq, dh), &mut dv[c0..], d, true, p, transposed(sk), &dout[c0..], by_rows, 1.0);
    }
}
