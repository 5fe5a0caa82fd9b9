//! Softmax over the last axis (optionally with an additive bias and a causal mask), fused
//! multi-head attention, and cross-entropy on logits.

use super::buf::{add_grad, put_grad, take_grad, tensor_of, Buf};
use super::math::{exp, simd_kernel};
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
    let xv = Buf::copy_of(&x)?;
    let bv = match &bias {
        Some(b) => Some(Buf::copy_of(b)?),
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
        let mut s = Buf::zeros(&dev, y.len())?;
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
            let mut dx = Buf::zeros(&dev, yv.len())?;
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
struct Att {
    sq: usize,
    sk: usize,
    d: usize,
    heads: usize,
    dh: usize,
    scale: f32,
    causal: bool,
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
    let (sq, sk, d, dh) = (a.sq, a.sk, a.d, a.dh);
    for h in 0..a.heads {
        let c0 = h * dh;
        for i in 0..sq {
            let qi = &q[i * d + c0..i * d + c0 + dh];
            let lim = a.lim(i);
            let row = &mut probs[(h * sq + i) * sk..(h * sq + i + 1) * sk];
            for j in 0..lim {
                row[j] = a.scale * dot(qi, &k[j * d + c0..j * d + c0 + dh]);
            }
            if !bias.is_empty() {
                let br = &bias[(h * sq + i) * sk..(h * sq + i + 1) * sk];
                for j in 0..lim {
                    row[j] += br[j];
                }
            }
            softmax_in_place(&mut row[..lim]);
            row[lim..].fill(0.0);
            let oi = &mut out[i * d + c0..i * d + c0 + dh];
            for j in 0..lim {
                let p = row[j];
                let vj = &v[j * d + c0..j * d + c0 + dh];
                for t in 0..dh {
                    oi[t] += p * vj[t];
                }
            }
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
    let (sq, sk, d, dh) = (a.sq, a.sk, a.d, a.dh);
    for h in 0..a.heads {
        let c0 = h * dh;
        for i in 0..sq {
            let lim = a.lim(i);
            let p = &probs[(h * sq + i) * sk..(h * sq + i + 1) * sk];
            let doi = &dout[i * d + c0..i * d + c0 + dh];
            let dsr = &mut ds[(h * sq + i) * sk..(h * sq + i + 1) * sk];
            for j in 0..lim {
                dsr[j] = dot(doi, &v[j * d + c0..j * d + c0 + dh]);
            }
            let s = dot(&p[..lim], &dsr[..lim]);
            for j in 0..lim {
                dsr[j] = p[j] * (dsr[j] - s);
            }
            dsr[lim..].fill(0.0);
            let qi = &q[i * d + c0..i * d + c0 + dh];
            for j in 0..lim {
                let g = a.scale * dsr[j];
                let kj = &k[j * d + c0..j * d + c0 + dh];
                let dqi = &mut dq[i * d + c0..i * d + c0 + dh];
                for t in 0..dh {
                    dqi[t] += g * kj[t];
                }
                let dkj = &mut dk[j * d + c0..j * d + c0 + dh];
                for t in 0..dh {
                    dkj[t] += g * qi[t];
                }
                let pj = p[j];
                let dvj = &mut dv[j * d + c0..j * d + c0 + dh];
                for t in 0..dh {
                    dvj[t] += pj * doi[t];
                }
            }
        }
    }
}

simd_kernel!(fn att_fwd(a: &Att, q: &[f32], k: &[f32], v: &[f32], bias: &[f32], out: &mut [f32], probs: &mut [f32]) => att_fwd_body);
simd_kernel!(fn att_bwd(a: &Att, q: &[f32], k: &[f32], v: &[f32], probs: &[f32], dout: &[f32], dq: &mut [f32], dk: &mut [f32], dv: &mut [f32], ds: &mut [f32]) => att_bwd_body);

/// Fallible [`attention`].
#[allow(clippy::too_many_arguments)]
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
    let qv = Buf::copy_of(&q)?;
    let kv = Buf::copy_of(&k)?;
    let vv = Buf::copy_of(&v)?;
    let bv = match &bias {
        Some(bb) => Some(Buf::copy_of(bb)?),
        None => None,
    };
    let mut out = Buf::zeros(&dev, b * sq * d)?;
    let mut probs = Buf::zeros(&dev, b * heads * sq * sk)?;
    let pb = heads * sq * sk;
    let cost = 4 * heads * sq * sk * a.dh;
    // A bias with one (heads, sq, sk) block per batch element, or one block shared by all.
    let per_batch = bv.as_ref().is_some_and(|v| v.len() == b * pb && b > 1);
    {
        let bslice: &[f32] = bv.as_deref().unwrap_or(&[]);
        let bias_of = |bi: usize| if per_batch { &bslice[bi * pb..(bi + 1) * pb] } else { bslice };
        par::for_rows2(&mut out, sq * d, &mut probs, pb, cost, |b0, os, ps| {
            for (i, (o, p)) in os.chunks_exact_mut(sq * d).zip(ps.chunks_exact_mut(pb)).enumerate() {
                let bi = b0 + i;
                att_fwd(
                    &a,
                    &qv[bi * sq * d..(bi + 1) * sq * d],
                    &kv[bi * sk * d..(bi + 1) * sk * d],
                    &vv[bi * sk * d..(bi + 1) * sk * d],
                    bias_of(bi),
                    o,
                    p,
                );
            }
        });
    }
    drop(bv);
    let out = tensor_of(&dev, out, (bd, sqd, dd))?;
    if T::OWNS_TAPE {
        let (q_g, k_g, v_g, out_g) = (q.ghost(), k.ghost(), v.ghost(), out.ghost());
        let b_g = bias.map(|bb| bb.ghost());
        tape.add_backward_op(move |grads| {
            let go = take_grad!(grads, &out_g);
            let mut dq = Buf::zeros(&dev, qv.len())?;
            let mut dk = Buf::zeros(&dev, kv.len())?;
            let mut dv = Buf::zeros(&dev, vv.len())?;
            let mut ds = Buf::zeros(&dev, probs.len())?;
            let one = |bi: usize, dq: &mut [f32], dk: &mut [f32], dv: &mut [f32], ds: &mut [f32]| {
                att_bwd(
                    &a,
                    &qv[bi * sq * d..(bi + 1) * sq * d],
                    &kv[bi * sk * d..(bi + 1) * sk * d],
                    &vv[bi * sk * d..(bi + 1) * sk * d],
                    &probs[bi * pb..(bi + 1) * pb],
                    &go[bi * sq * d..(bi + 1) * sq * d],
                    dq,
                    dk,
                    dv,
                    ds,
                )
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
            add_grad!(grads, &q_g, &dq);
            add_grad!(grads, &k_g, &dk);
            add_grad!(grads, &v_g, &dv);
            if let (Some(b_g), true) = (&b_g, per_batch) {
                add_grad!(grads, b_g, &ds);
            } else if let Some(b_g) = &b_g {
                let db = par::reduce_rows(b, pb, pb, |r0, r1, acc| {
                    for r in r0..r1 {
                        for (a, v) in acc.iter_mut().zip(&ds[r * pb..(r + 1) * pb]) {
                            *a += *v;
                        }
                    }
                });
                add_grad!(grads, b_g, &db);
            }
            put_grad!(grads, &out_g, go);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
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
#[allow(clippy::too_many_arguments)]
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
    let xv = Buf::copy_of(&x)?;
    let mut lse = Buf::zeros(&dev, m)?;
    let mut losses = Buf::zeros(&dev, m)?;
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
