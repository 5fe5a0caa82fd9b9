//! The attention kernels for short sequences: one batch element's forward and backward pass
//! in register-blocked loops (below [`super::GEMM_ATT_MIN`] these beat a `gemm` call's
//! set-up). Keys are transposed per head and padded to whole 8-lane vectors, so that a score
//! row is `dh` vector multiply-adds over keys; weighted sums of rows accumulate in registers.

use super::super::math::simd_kernel;
use super::super::norm::dot;
use super::super::softmax::softmax_in_place;
use super::{Att, AttGrads, AttIn};

/// Keys rounded up to a whole number of 8-lane vectors.
#[inline(always)]
fn padded(sk: usize) -> usize {
    sk.div_ceil(8) * 8
}

/// `dst (dh × skp)` ← head columns `c0 .. c0 + dh` of the `sk` rows of `x` (row stride `d`),
/// transposed, with keys `sk .. skp` zero: one score row is then `dh` vector multiply-adds over
/// keys instead of `sk` dot products with horizontal sums.
#[inline(always)]
fn transpose_head(x: &[f32], sk: usize, d: usize, c0: usize, dh: usize, skp: usize, dst: &mut [f32]) {
    for t in 0..dh {
        let row = &mut dst[t * skp..(t + 1) * skp];
        for j in 0..sk {
            row[j] = x[j * d + c0 + t];
        }
        row[sk..].fill(0.0);
    }
}

/// `out[..B]` ← `Σ_r w[r] · x[off(r) ..][..B]`, with two accumulators (even and odd `r`) so
/// that consecutive multiply-adds do not wait on each other; `B` is a whole number of vectors.
#[inline(always)]
fn weighted_block<const B: usize>(w: &[f32], x: &[f32], off: impl Fn(usize) -> usize) -> [f32; B] {
    let mut a0 = [0.0f32; B];
    let mut a1 = [0.0f32; B];
    let mut r = 0;
    while r + 2 <= w.len() {
        let (w0, w1) = (w[r], w[r + 1]);
        let x0 = &x[off(r)..off(r) + B];
        let x1 = &x[off(r + 1)..off(r + 1) + B];
        for l in 0..B {
            a0[l] += w0 * x0[l];
            a1[l] += w1 * x1[l];
        }
        r += 2;
    }
    if r < w.len() {
        let x0 = &x[off(r)..off(r) + B];
        for l in 0..B {
            a0[l] += w[r] * x0[l];
        }
    }
    for l in 0..B {
        a0[l] += a1[l];
    }
    a0
}

/// `row (skp)` ← `Σ_t a[t] · xt[t, :]` for `xt (dh × skp)` (`skp` a multiple of 8), 16 or 8
/// keys at a time in registers.
#[inline(always)]
fn row_times_t(a: &[f32], xt: &[f32], skp: usize, row: &mut [f32]) {
    let mut j = 0;
    while j + 16 <= skp {
        row[j..j + 16].copy_from_slice(&weighted_block::<16>(a, xt, |t| t * skp + j));
        j += 16;
    }
    while j < skp {
        row[j..j + 8].copy_from_slice(&weighted_block::<8>(a, xt, |t| t * skp + j));
        j += 8;
    }
}

/// `dst (dh)` += `Σ_r w[r] · x[(r0 + r)·d + c0 ..][..dh]`: a weighted sum of rows of one head,
/// accumulated in registers 16 or 8 columns at a time (an accumulator in memory would chain
/// every row's add through a store and a reload).
#[inline(always)]
fn add_weighted_rows(dst: &mut [f32], w: &[f32], x: &[f32], r0: usize, d: usize, c0: usize) {
    let dh = dst.len();
    let mut t0 = 0;
    while t0 + 16 <= dh {
        let s = weighted_block::<16>(w, x, |r| (r0 + r) * d + c0 + t0);
        for (o, v) in dst[t0..t0 + 16].iter_mut().zip(s) {
            *o += v;
        }
        t0 += 16;
    }
    while t0 + 8 <= dh {
        let s = weighted_block::<8>(w, x, |r| (r0 + r) * d + c0 + t0);
        for (o, v) in dst[t0..t0 + 8].iter_mut().zip(s) {
            *o += v;
        }
        t0 += 8;
    }
    for t in t0..dh {
        let mut acc = 0.0;
        for (r, &wr) in w.iter().enumerate() {
            acc += wr * x[(r0 + r) * d + c0 + t];
        }
        dst[t] += acc;
    }
}

/// One batch element: `out (sq×d)` (zeroed on entry) and `probs (heads×sq×sk)`.
#[inline(always)]
fn att_fwd_body(a: &Att, inp: AttIn<'_>, bias: &[f32], out: &mut [f32], probs: &mut [f32]) {
    let AttIn { q, k, v } = inp;
    let (sq, sk, d, dh, ld) = (a.sq, a.sk, a.d, a.dh, a.ld);
    let skp = padded(sk);
    let mut kt = vec![0.0f32; dh * skp];
    let mut srow = vec![0.0f32; skp];
    for h in 0..a.heads {
        let c0 = h * dh;
        transpose_head(k, sk, ld, c0, dh, skp, &mut kt);
        for i in 0..sq {
            let qi = &q[i * ld + c0..i * ld + c0 + dh];
            let lim = a.lim(i);
            row_times_t(qi, &kt, skp, &mut srow);
            // Scaling and the bias are fused with the copy out of the padded score row, so
            // this is not `softmax::masked_softmax_row` (which works in place).
            let row = &mut probs[(h * sq + i) * sk..(h * sq + i + 1) * sk];
            if bias.is_empty() {
                for j in 0..lim {
                    row[j] = a.scale * srow[j];
                }
            } else {
                let br = &bias[(h * sq + i) * sk..(h * sq + i + 1) * sk];
                for j in 0..lim {
                    row[j] = a.scale * srow[j] + br[j];
                }
            }
            softmax_in_place(&mut row[..lim]);
            row[lim..].fill(0.0);
            add_weighted_rows(&mut out[i * d + c0..i * d + c0 + dh], &row[..lim], v, 0, ld, c0);
        }
    }
}

/// One batch element of the backward pass (see [`AttGrads`]).
#[inline(always)]
fn att_bwd_body(a: &Att, inp: AttIn<'_>, probs: &[f32], dout: &[f32], g: AttGrads<'_>) {
    let (AttIn { q, k, v }, AttGrads { dq, dk, dv, ds }) = (inp, g);
    let (sq, sk, d, dh, ld) = (a.sq, a.sk, a.d, a.dh, a.ld);
    let skp = padded(sk);
    let mut vt = vec![0.0f32; dh * skp];
    let mut drow = vec![0.0f32; skp];
    let mut wrow = vec![0.0f32; sk];
    let mut wcol = vec![0.0f32; sq];
    let mut pcol = vec![0.0f32; sq];
    for h in 0..a.heads {
        let c0 = h * dh;
        transpose_head(v, sk, ld, c0, dh, skp, &mut vt);
        // dS = P ⊙ (dP − rowsum(P ⊙ dP)), dP = dO·Vᵀ; then dQ_i = scale·Σ_j dS_ij·K_j.
        // (`softmax::softmax_grad_rows` fused with reading the padded dP row and scaling.)
        for i in 0..sq {
            let lim = a.lim(i);
            let p = &probs[(h * sq + i) * sk..(h * sq + i + 1) * sk];
            let doi = &dout[i * d + c0..i * d + c0 + dh];
            row_times_t(doi, &vt, skp, &mut drow);
            let s = dot(&p[..lim], &drow[..lim]);
            let dsr = &mut ds[(h * sq + i) * sk..(h * sq + i + 1) * sk];
            for j in 0..lim {
                dsr[j] = p[j] * (drow[j] - s);
                wrow[j] = a.scale * dsr[j];
            }
            dsr[lim..].fill(0.0);
            add_weighted_rows(&mut dq[i * d + c0..i * d + c0 + dh], &wrow[..lim], k, 0, ld, c0);
        }
        // dK_j = scale·Σ_i dS_ij·Q_i and dV_j = Σ_i P_ij·dO_i, summed over queries in order
        // (from i = j under a causal mask: earlier queries never see key j).
        for j in 0..sk {
            let i0 = if a.causal { j.min(sq) } else { 0 };
            for i in i0..sq {
                wcol[i - i0] = a.scale * ds[(h * sq + i) * sk + j];
                pcol[i - i0] = probs[(h * sq + i) * sk + j];
            }
            add_weighted_rows(&mut dk[j * d + c0..j * d + c0 + dh], &wcol[..sq - i0], q, i0, ld, c0);
            add_weighted_rows(&mut dv[j * d + c0..j * d + c0 + dh], &pcol[..sq - i0], dout, i0, d, c0);
        }
    }
}

simd_kernel!(
    /// [`att_fwd_body`] compiled for the widest vectors the CPU has.
    pub(super) fn att_fwd(a: &Att, inp: AttIn<'_>, bias: &[f32], out: &mut [f32], probs: &mut [f32]) => att_fwd_body
);
simd_kernel!(
    /// [`att_bwd_body`] compiled for the widest vectors the CPU has.
    pub(super) fn att_bwd(a: &Att, inp: AttIn<'_>, probs: &[f32], dout: &[f32], g: AttGrads<'_>) => att_bwd_body
);
