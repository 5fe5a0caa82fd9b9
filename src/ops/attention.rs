//! Fused multi-head attention `softmax(scale·Q_h·K_hᵀ + bias_h [+ causal mask])·V_h`, forward
//! and backward, on all threads (over the batch): the [`attention`] op, and the batch drivers
//! [`att_forward`] / [`att_backward`] that it shares with [`super::self_attention`].
//!
//! Each batch element runs one of two kernels with the same contract: the register-blocked
//! loops of [`blocked`] for short sequences, or one `gemm` call per product ([`gemm`]) once a
//! head's products are large enough to repay a `gemm` call's set-up ([`GEMM_ATT_MIN`]).

mod blocked;
mod gemm;

use super::buf::{add_grad, put_grad, take_grad, tensor_of, Buf, Scratch};
use super::par;
use dfdx::prelude::*;
use rayon::prelude::*;

/// Sizes of one attention call.
#[derive(Clone, Copy)]
pub(super) struct Att {
    /// Queries per batch element.
    pub(super) sq: usize,
    /// Keys (and values) per batch element.
    pub(super) sk: usize,
    /// Width: all heads side by side.
    pub(super) d: usize,
    /// Number of heads.
    pub(super) heads: usize,
    /// Width of one head (`d / heads`).
    pub(super) dh: usize,
    /// Row stride of the q, k and v inputs (`d`, or `3·d` when they are the column blocks of
    /// one fused projection); outputs and gradients always have row stride `d`.
    pub(super) ld: usize,
    /// Factor on the scores `Q_h·K_hᵀ`.
    pub(super) scale: f32,
    /// Whether key `j > i` is masked for query `i`.
    pub(super) causal: bool,
}

impl Att {
    /// The number of keys query `i` sees (the rest are masked).
    fn lim(&self, i: usize) -> usize {
        if self.causal {
            (i + 1).min(self.sk)
        } else {
            self.sk
        }
    }
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
    /// The inputs of batch element `bi`.
    fn batch(&self, a: &Att, bi: usize) -> AttIn<'_> {
        AttIn { q: &self.q[bi * a.sq * a.ld..], k: &self.k[bi * a.sk * a.ld..], v: &self.v[bi * a.sk * a.ld..] }
    }
}

/// The outputs of the backward pass: `dq` (queries × `d`), `dk`, `dv` (keys × `d`), into which
/// it accumulates (zeroed on entry), and the score gradients `ds` (heads × queries × keys),
/// which it writes. For one batch element in the kernels, for the whole batch in
/// [`att_backward`].
pub(super) struct AttGrads<'a> {
    pub(super) dq: &'a mut [f32],
    pub(super) dk: &'a mut [f32],
    pub(super) dv: &'a mut [f32],
    pub(super) ds: &'a mut [f32],
}

/// Products per head above this size (`sq·sk·dh`) go through `gemm`; below it the loops of
/// [`blocked`] are faster than a `gemm` call's set-up.
const GEMM_ATT_MIN: usize = 24 * 1024;

/// Forward pass over `b` batch elements, in parallel over the batch: `out (b·sq × d)` (zeroed
/// on entry) and the probabilities `probs (b·heads·sq·sk)`. `bias` holds one `(heads, sq, sk)`
/// block for all batch elements or one per batch element.
pub(super) fn att_forward(a: &Att, b: usize, inp: AttIn<'_>, bias: Option<&[f32]>, out: &mut [f32], probs: &mut [f32]) {
    let (sq, sk, d) = (a.sq, a.sk, a.d);
    let pb = a.heads * sq * sk;
    let cost = 4 * a.heads * sq * sk * a.dh;
    let run = if sq * sk * a.dh >= GEMM_ATT_MIN { gemm::att_fwd } else { blocked::att_fwd };
    let bslice: &[f32] = bias.unwrap_or(&[]);
    let per_batch = bslice.len() == b * pb && b > 1;
    let bias_of = |bi: usize| if per_batch { &bslice[bi * pb..(bi + 1) * pb] } else { bslice };
    par::for_rows2(out, sq * d, probs, pb, cost, |b0, os, ps| {
        for (i, (o, p)) in os.chunks_exact_mut(sq * d).zip(ps.chunks_exact_mut(pb)).enumerate() {
            let bi = b0 + i;
            run(a, inp.batch(a, bi), bias_of(bi), o, p);
        }
    });
}

/// Backward pass over `b` batch elements, in parallel over the batch, from the probabilities
/// of [`att_forward`] and the output gradient `go (b·sq × d)`.
pub(super) fn att_backward(a: &Att, b: usize, inp: AttIn<'_>, probs: &[f32], go: &[f32], g: AttGrads<'_>) {
    let (sq, sk, d) = (a.sq, a.sk, a.d);
    let pb = a.heads * sq * sk;
    let cost = 4 * a.heads * sq * sk * a.dh;
    let run = if sq * sk * a.dh >= GEMM_ATT_MIN { gemm::att_bwd } else { blocked::att_bwd };
    let one = |bi: usize, g: AttGrads<'_>| {
        run(a, inp.batch(a, bi), &probs[bi * pb..(bi + 1) * pb], &go[bi * sq * d..(bi + 1) * sq * d], g)
    };
    let AttGrads { dq, dk, dv, ds } = g;
    if b > 1 && rayon::current_num_threads() > 1 && b * cost >= 2 * par::SEQ_WORK {
        dq.par_chunks_mut(sq * d)
            .zip(dk.par_chunks_mut(sk * d))
            .zip(dv.par_chunks_mut(sk * d))
            .zip(ds.par_chunks_mut(pb))
            .enumerate()
            .for_each(|(bi, (((dq, dk), dv), ds))| one(bi, AttGrads { dq, dk, dv, ds }));
    } else {
        for bi in 0..b {
            let (q0, k0) = (bi * sq * d, bi * sk * d);
            one(
                bi,
                AttGrads {
                    dq: &mut dq[q0..q0 + sq * d],
                    dk: &mut dk[k0..k0 + sk * d],
                    dv: &mut dv[k0..k0 + sk * d],
                    ds: &mut ds[bi * pb..(bi + 1) * pb],
                },
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
    let a = Att { sq, sk, d, heads, dh: d / heads, ld: d, scale, causal };
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
            let g = AttGrads { dq: &mut dq, dk: &mut dk, dv: &mut dv, ds: &mut ds };
            att_backward(&a, b, inp, &probs, &go, g);
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
/// `causal`, key `j > i` is masked for query `i` (probability exactly 0). Saves the
/// probabilities (`B·heads·Sq·Sk` floats) for the backward pass.
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
