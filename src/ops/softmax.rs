//! Softmax over the last axis (optionally with an additive bias and a causal mask), fused
//! multi-head attention, and cross-entropy on logits.

use super::buf::{add_grad, put_grad, take_grad, tensor_of, Buf, Scratch};
use super::math::{exp, simd_kernel};
use super::linear::{matmul_strided, row_major, transposed, Mat};
use super::norm::{dot, last_dim};
use super::par;
use dfdx::prelude::*;
use rayon::prelude::*;

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
fn softmax_in_place(s: &mut [f32]) -> f32 {
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

/// Rows of `y` (row length `n`): `y = softmax(x [+ bias])` with key `j` of query row `i`
/// (`i` = row index modulo `sq`) masked out when `causal` and `j > i`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn softmax_rows_body(
    x: &[f32],
    bias: &[f32],
    n: usize,
    sq: usize,
    first_row: usize,
    causal: bool,
    y: &mut [f32],
) {
    for (r, yr) in y.chunks_exact_mut(n).enumerate() {
        let xr = &x[r * n..(r + 1) * n];
        let lim = if causal { ((first_row + r) % sq + 1).min(n) } else { n };
        if bias.is_empty() {
            yr[..lim].copy_from_slice(&xr[..lim]);
        } else {
            let br = &bias[r * n..(r + 1) * n];
            for j in 0..lim {
                yr[j] = xr[j] + br[j];
            }
        }
        softmax_in_place(&mut yr[..lim]);
        yr[lim..].fill(0.0);
    }
}

/// `dx = y ⊙ (dy − Σ dy ⊙ y)` per row, written (not accumulated) into `dx`.
#[inline(always)]
fn softmax_bwd_body(y: &[f32], dy: &[f32], n: usize, dx: &mut [f32]) {
    for ((yr, dyr), dxr) in y.chunks_exact(n).zip(dy.chunks_exact(n)).zip(dx.chunks_exact_mut(n)) {
        let s = dot(yr, dyr);
        for j in 0..n {
            dxr[j] = yr[j] * (dyr[j] - s);
        }
    }
}

simd_kernel!(fn softmax_rows(x: &[f32], bias: &[f32], n: usize, sq: usize, first_row: usize, causal: bool, y: &mut [f32]) => softmax_rows_body);
simd_kernel!(fn softmax_bwd(y: &[f32], dy: &[f32], n: usize, dx: &mut [f32]) => softmax_bwd_body);

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
            assert_eq!(
                b.shape().concrete(),
                x.shape().concrete(),
                "softmax: bias shape differs from the input's"
            );
            let (b, bt) = b.try_contiguous()?.split_tape();
            tape = tape.merge(bt);
            Some(b)
        }
        None => None,
    };
    let dev = x.device().clone();
    let xv = Scratch::copy_of(&x)?;
    let bv = match &bias {
        Some(b) => Some(Scratch::copy_of(b)?),
        None => None,
    };
    let mut y = Buf::zeros(&dev, xv.len())?;
    par::for_rows(&mut y, n, 12 * n, |r0, ys| {
        let range = r0 * n..r0 * n + ys.len();
        let b: &[f32] = bv.as_ref().map_or(&[], |b| &b[range.clone()]);
        softmax_rows(&xv[range], b, n, sq, r0, causal, ys)
    });
    drop(xv);
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
            let mut dx = Scratch::zeros(yv.len())?;
            par::for_rows(&mut dx, n, 4 * n, |r0, ds| {
                let range = r0 * n..r0 * n + ds.len();
                softmax_bwd(&yv[range.clone()], &go[range], n, ds)
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

/// Sizes of one attention call.
#[derive(Clone, Copy)]
pub(super) struct Att {
    pub(super) sq: usize,
    pub(super) sk: usize,
    pub(super) d: usize,
    pub(super) heads: usize,
    pub(super) dh: usize,
    /// Row stride of the q, k and v inputs (`d`, or `3·d` when they are the column blocks of
    /// one fused projection); outputs and gradients always have row stride `d`.
    pub(super) ld: usize,
    pub(super) scale: f32,
    pub(super) causal: bool,
}

impl Att {
    fn lim(&self, i: usize) -> usize {
        if self.causal {
            (i + 1).min(self.sk)
        } else {
            self.sk
        }
    }
}

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

/// One batch element: `out_b (sq×d)` (zeroed on entry) and `probs_b (heads×sq×sk)`.
#[inline(always)]
fn att_fwd_body(
    a: &Att,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    bias: &[f32],
    out: &mut [f32],
    probs: &mut [f32],
) {
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

/// One batch element of the backward pass; accumulates into `dq_b`, `dk_b`, `dv_b` (zeroed
/// on entry) and writes the score gradients `ds_b (heads×sq×sk)`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn att_bwd_body(
    a: &Att,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    probs: &[f32],
    dout: &[f32],
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    ds: &mut [f32],
) {
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

/// Row-wise part of the forward pass on one head's score block `s (sq×sk)` that already
/// holds `Q·Kᵀ` (unscaled): scale, add bias, mask, softmax in place.
#[inline(always)]
fn att_rows_body(a: &Att, bias: &[f32], s: &mut [f32]) {
    let sk = a.sk;
    for (i, row) in s.chunks_exact_mut(sk).enumerate() {
        let lim = a.lim(i);
        if bias.is_empty() {
            for v in row[..lim].iter_mut() {
                *v *= a.scale;
            }
        } else {
            let br = &bias[i * sk..(i + 1) * sk];
            for j in 0..lim {
                row[j] = row[j] * a.scale + br[j];
            }
        }
        softmax_in_place(&mut row[..lim]);
        row[lim..].fill(0.0);
    }
}

/// `ds ← p ⊙ (ds − Σ_j p ⊙ ds)` per row (`ds` holds `dP` on entry).
#[inline(always)]
fn att_drows_body(p: &[f32], n: usize, ds: &mut [f32]) {
    for (pr, dr) in p.chunks_exact(n).zip(ds.chunks_exact_mut(n)) {
        let s = dot(pr, dr);
        for j in 0..n {
            dr[j] = pr[j] * (dr[j] - s);
        }
    }
}

simd_kernel!(fn att_rows(a: &Att, bias: &[f32], s: &mut [f32]) => att_rows_body);
simd_kernel!(fn att_drows(p: &[f32], n: usize, ds: &mut [f32]) => att_drows_body);

/// Products per head above this size (`sq·sk·dh`) go through `gemm`; below it the loops of
/// `att_fwd`/`att_bwd` are faster than a `gemm` call's set-up.
const GEMM_ATT_MIN: usize = 24 * 1024;

/// One batch element's forward pass with one `gemm` per product (long sequences).
fn att_fwd_gemm(a: &Att, q: &[f32], k: &[f32], v: &[f32], bias: &[f32], out: &mut [f32], probs: &mut [f32]) {
    let (sq, sk, d, dh, ld) = (a.sq, a.sk, a.d, a.dh, a.ld);
    let hb = sq * sk;
    for h in 0..a.heads {
        let c0 = h * dh;
        let s = &mut probs[h * hb..(h + 1) * hb];
        // S = Q_h · K_hᵀ
        matmul_strided((sq, dh, sk), s, sk, false, &q[c0..], Mat { rs: ld as isize, cs: 1 }, &k[c0..], Mat { rs: 1, cs: ld as isize }, 1.0);
        let bh: &[f32] = if bias.is_empty() { &[] } else { &bias[h * hb..(h + 1) * hb] };
        att_rows(a, bh, s);
        // O_h = P · V_h, written into head h's columns of out
        matmul_strided((sq, sk, dh), &mut out[c0..], d, false, s, row_major(sk), &v[c0..], Mat { rs: ld as isize, cs: 1 }, 1.0);
    }
}

/// One batch element's backward pass with `gemm` (long sequences); same contract as `att_bwd`.
#[allow(clippy::too_many_arguments)]
fn att_bwd_gemm(
    a: &Att,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    probs: &[f32],
    dout: &[f32],
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    ds: &mut [f32],
) {
    let (sq, sk, d, dh, ld) = (a.sq, a.sk, a.d, a.dh, a.ld);
    let hb = sq * sk;
    let by_rows = Mat { rs: d as isize, cs: 1 };
    let in_rows = Mat { rs: ld as isize, cs: 1 };
    let in_cols = Mat { rs: 1, cs: ld as isize };
    for h in 0..a.heads {
        let c0 = h * dh;
        let p = &probs[h * hb..(h + 1) * hb];
        let dsh = &mut ds[h * hb..(h + 1) * hb];
        // dP = dO_h · V_hᵀ
        matmul_strided((sq, dh, sk), dsh, sk, false, &dout[c0..], by_rows, &v[c0..], in_cols, 1.0);
        att_drows(p, sk, dsh);
        // dQ_h = scale · dS · K_h ; dK_h = scale · dSᵀ · Q_h ; dV_h = Pᵀ · dO_h
        matmul_strided((sq, sk, dh), &mut dq[c0..], d, true, dsh, row_major(sk), &k[c0..], in_rows, a.scale);
        matmul_strided((sk, sq, dh), &mut dk[c0..], d, true, dsh, transposed(sk), &q[c0..], in_rows, a.scale);
        matmul_strided((sk, sq, dh), &mut dv[c0..], d, true, p, transposed(sk), &dout[c0..], by_rows, 1.0);
    }
}

simd_kernel!(fn att_fwd(a: &Att, q: &[f32], k: &[f32], v: &[f32], bias: &[f32], out: &mut [f32], probs: &mut [f32]) => att_fwd_body);
simd_kernel!(fn att_bwd(a: &Att, q: &[f32], k: &[f32], v: &[f32], probs: &[f32], dout: &[f32], dq: &mut [f32], dk: &mut [f32], dv: &mut [f32], ds: &mut [f32]) => att_bwd_body);

/// Fallible [`attention`].
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn try_attention<B: Dim, Sq: Dim, Sk: Dim, D: Dim, H: Dim, T, Tk, Tv, Tb>(
    q: Tensor<(B, Sq, D), f32, Cpu, T>,
    k: Tensor<(B, Sk, D), f32, Cpu, Tk>,
    v: Tensor<(B, Sk, D), f32, Cpu, Tv>,
    heads: usize,
    scale: f32,
    bias: Option<Tensor<(H, Sq, Sk), f32, Cpu, Tb>>,
    causal: bool,
) -> Result<Tensor<(B, Sq, D), f32, Cpu, T>, CpuError>
where
    T: Tape<f32, Cpu> + Merge<Tk> + Merge<Tv> + Merge<Tb>,
    Tk: Tape<f32, Cpu>,
    Tv: Tape<f32, Cpu>,
    Tb: Tape<f32, Cpu>,
{
    let (bd, sqd, dd) = *q.shape();
    let (b, sq, d) = (bd.size(), sqd.size(), dd.size());
    let sk = k.shape().1.size();
    assert!(heads > 0 && d % heads == 0, "attention: {heads} heads do not divide width {d}");
    assert_eq!(k.shape().0.size(), b, "attention: k batch differs from q");
    assert_eq!(k.shape().2.size(), d, "attention: k width differs from q");
    assert_eq!(v.shape().concrete(), k.shape().concrete(), "attention: v shape differs from k");
    let a = Att {
        sq,
        sk,
        d,
        heads,
        dh: d / heads,
        ld: d,
        scale,
        causal,
    };
    let (q, qt) = q.try_contiguous()?.split_tape();
    let (k, kt) = k.try_contiguous()?.split_tape();
    let (v, vt) = v.try_contiguous()?.split_tape();
    let mut tape = qt.merge(kt).merge(vt);
    let bias = match bias {
        Some(bb) => {
            let (hh, s1, s2) = *bb.shape();
            assert!(
                (hh.size() == heads || hh.size() == b * heads) && (s1.size(), s2.size()) == (sq, sk),
                "attention: bias must be (heads, q length, k length) or (batch·heads, q length, k length)"
            );
            let (bb, bt) = bb.try_contiguous()?.split_tape();
            tape = tape.merge(bt);
            Some(bb)
        }
        None => None,
    };
    let dev = q.device().clone();
    let qv = Scratch::copy_of(&q)?;
    let kv = Scratch::copy_of(&k)?;
    let vv = Scratch::copy_of(&v)?;
    let bv = match &bias {
        Some(bb) => Some(Scratch::copy_of(bb)?),
        None => None,
    };
    // A bias with one (heads, sq, sk) block per batch element, or one block shared by all.
    let per_batch = bv.as_ref().is_some_and(|v| v.len() == b * heads * sq * sk && b > 1);
    let mut out = Buf::zeros(&dev, b * sq * d)?;
    let mut probs = Scratch::zeros(b * heads * sq * sk)?;
    att_forward(&a, b, AttIn { q: &qv, k: &kv, v: &vv }, bv.as_deref(), &mut out, &mut probs);
    drop(bv);
    let out = tensor_of(&dev, out, (bd, sqd, dd))?;
    if T::OWNS_TAPE {
        let (q_g, k_g, v_g, out_g) = (q.ghost(), k.ghost(), v.ghost(), out.ghost());
        let b_g = bias.map(|bb| bb.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            let mut dq = Scratch::zeros(b * sq * d)?;
            let mut dk = Scratch::zeros(b * sk * d)?;
            let mut dv = Scratch::zeros(b * sk * d)?;
            let mut ds = Scratch::dirty(probs.len())?;
            let inp = AttIn { q: &qv, k: &kv, v: &vv };
            att_backward(&a, b, inp, &probs, &go, &mut dq, &mut dk, &mut dv, &mut ds);
            add_grad!(grads, &q_g, &dq);
            add_grad!(grads, &k_g, &dk);
            add_grad!(grads, &v_g, &dv);
            if let Some(b_g) = &b_g {
                add_grad!(grads, b_g, &score_bias_grad(&a, b, &ds, per_batch));
            }
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// The q, k and v inputs of the attention kernels (row stride `Att::ld`; batch element `bi`
/// starts at row `bi·sq` of `q` and `bi·sk` of `k` and `v`).
#[derive(Clone, Copy)]
pub(super) struct AttIn<'a> {
    pub(super) q: &'a [f32],
    pub(super) k: &'a [f32],
    pub(super) v: &'a [f32],
}

impl AttIn<'_> {
    fn batch(&self, a: &Att, bi: usize) -> (&[f32], &[f32], &[f32]) {
        (&self.q[bi * a.sq * a.ld..], &self.k[bi * a.sk * a.ld..], &self.v[bi * a.sk * a.ld..])
    }
}

/// Forward pass over `b` batch elements, in parallel over the batch: `out (b·sq × d)` (zeroed
/// on entry) and the probabilities `probs (b·heads·sq·sk)`. `bias` holds one `(heads, sq, sk)`
/// block for all batch elements or one per batch element.
pub(super) fn att_forward(a: &Att, b: usize, inp: AttIn<'_>, bias: Option<&[f32]>, out: &mut [f32], probs: &mut [f32]) {
    let (sq, sk, d) = (a.sq, a.sk, a.d);
    let pb = a.heads * sq * sk;
    let cost = 4 * a.heads * sq * sk * a.dh;
    let use_gemm = sq * sk * a.dh >= GEMM_ATT_MIN;
    let bslice: &[f32] = bias.unwrap_or(&[]);
    let per_batch = bslice.len() == b * pb && b > 1;
    let bias_of = |bi: usize| if per_batch { &bslice[bi * pb..(bi + 1) * pb] } else { bslice };
    par::for_rows2(out, sq * d, probs, pb, cost, |b0, os, ps| {
        for (i, (o, p)) in os.chunks_exact_mut(sq * d).zip(ps.chunks_exact_mut(pb)).enumerate() {
            let bi = b0 + i;
            let (q, k, v) = inp.batch(a, bi);
            let run = if use_gemm { att_fwd_gemm } else { att_fwd };
            run(a, q, k, v, bias_of(bi), o, p);
        }
    });
}

/// Backward pass over `b` batch elements, in parallel over the batch: accumulates into `dq
/// (b·sq × d)`, `dk`, `dv (b·sk × d)` (zeroed on entry) and writes the score gradients `ds`.
#[allow(clippy::too_many_arguments)]
pub(super) fn att_backward(
    a: &Att,
    b: usize,
    inp: AttIn<'_>,
    probs: &[f32],
    go: &[f32],
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    ds: &mut [f32],
) {
    let (sq, sk, d) = (a.sq, a.sk, a.d);
    let pb = a.heads * sq * sk;
    let cost = 4 * a.heads * sq * sk * a.dh;
    let use_gemm = sq * sk * a.dh >= GEMM_ATT_MIN;
    let one = |bi: usize, dq: &mut [f32], dk: &mut [f32], dv: &mut [f32], ds: &mut [f32]| {
        let (q, k, v) = inp.batch(a, bi);
        let run = if use_gemm { att_bwd_gemm } else { att_bwd };
        run(a, q, k, v, &probs[bi * pb..(bi + 1) * pb], &go[bi * sq * d..(bi + 1) * sq * d], dq, dk, dv, ds)
    };
    if b > 1 && rayon::current_num_threads() > 1 && b * cost >= 2 * par::SEQ_WORK {
        dq.par_chunks_mut(sq * d)
            .zip(dk.par_chunks_mut(sk * d))
            .zip(dv.par_chunks_mut(sk * d))
            .zip(ds.par_chunks_mut(pb))
            .enumerate()
            .for_each(|(bi, (((dq, dk), dv), ds))| one(bi, dq, dk, dv, ds));
    } else {
        for bi in 0..b {
            let (q0, k0) = (bi * sq * d, bi * sk * d);
            one(
                bi,
                &mut dq[q0..q0 + sq * d],
                &mut dk[k0..k0 + sk * d],
                &mut dv[k0..k0 + sk * d],
                &mut ds[bi * pb..(bi + 1) * pb],
            );
        }
    }
}

/// Gradient of a score bias from the score gradients `ds (b·heads·sq·sk)`: `ds` itself when
/// the bias has one block per batch element (`per_batch`), else its sum over the batch, in
/// fixed chunks (the same bits with any thread count).
pub(super) fn score_bias_grad<'a>(a: &Att, b: usize, ds: &'a [f32], per_batch: bool) -> std::borrow::Cow<'a, [f32]> {
    if per_batch {
        return std::borrow::Cow::Borrowed(ds);
    }
    let pb = a.heads * a.sq * a.sk;
    std::borrow::Cow::Owned(par::reduce_rows(b, pb, pb, |r0, r1, acc| {
        for r in r0..r1 {
            for (a, v) in acc.iter_mut().zip(&ds[r * pb..(r + 1) * pb]) {
                *a += *v;
            }
        }
    }))
}

/// Multi-head attention `softmax(scale·Q_h·K_hᵀ + bias_h [+ causal mask])·V_h` for every head
/// `h`, fused, on all threads (over the batch).
///
/// `q: (B, Sq, D)`, `k`, `v: (B, Sk, D)` are the projected queries, keys and values with the
/// heads side by side along `D` (head `h` owns columns `h·D/heads ..`), i.e. exactly what a
/// linear layer returns: no head permutes needed. The output `(B, Sq, D)` has the same layout
/// (ready for the output projection). `scale` is `1/√(D/heads)` for ViT and 1 for T5.1.1;
/// `bias: (heads, Sq, Sk)` is added to the scores of every batch element (T5's relative
/// position bias; its gradient is summed over the batch), or `bias: (B·heads, Sq, Sk)` holds
/// one block per batch element (relative bias plus padding masks, `-1e9` where masked); with
/// `causal`, key `j > i` is masked for query `i` (probability exactly 0). Saves the probabilities (`B·heads·Sq·Sk` floats) for the backward pass.
///
/// # Panics
/// On inconsistent shapes (heads not dividing `D`, `k`/`v`/bias shapes), or on allocation
/// failure.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn attention<B: Dim, Sq: Dim, Sk: Dim, D: Dim, H: Dim, T, Tk, Tv, Tb>(
    q: Tensor<(B, Sq, D), f32, Cpu, T>,
    k: Tensor<(B, Sk, D), f32, Cpu, Tk>,
    v: Tensor<(B, Sk, D), f32, Cpu, Tv>,
    heads: usize,
    scale: f32,
    bias: Option<Tensor<(H, Sq, Sk), f32, Cpu, Tb>>,
    causal: bool,
) -> Tensor<(B, Sq, D), f32, Cpu, T>
where
    T: Tape<f32, Cpu> + Merge<Tk> + Merge<Tv> + Merge<Tb>,
    Tk: Tape<f32, Cpu>,
    Tv: Tape<f32, Cpu>,
    Tb: Tape<f32, Cpu>,
{
    try_attention(q, k, v, heads, scale, bias, causal).unwrap_or_else(|e| panic!("attention: {e}"))
}

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
    for ((((xr, t), w), l), out) in x
        .chunks_exact(c)
        .zip(targets)
        .zip(weights)
        .zip(lse.iter_mut())
        .zip(loss.iter_mut())
    {
        tmp.copy_from_slice(xr);
        let z = softmax_in_place(&mut tmp);
        *l = z;
        *out = if *w == 0.0 { 0.0 } else { *w * (z - xr[*t] + z_loss * z * z) };
    }
}

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
    for ((((xr, t), w), l), dr) in x
        .chunks_exact(c)
        .zip(targets)
        .zip(weights)
        .zip(lse)
        .zip(dx.chunks_exact_mut(c))
    {
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
    let total = super::norm::sum(&losses);
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
    try_cross_entropy_ignoring(logits, targets, ignore, z_loss)
        .unwrap_or_else(|e| panic!("cross_entropy: {e}"))
}
