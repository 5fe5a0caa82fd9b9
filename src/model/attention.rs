//! Multi-head attention on token-flattened activations, and T5's bucketed relative position bias.
//!
//! Projections are 2-D products on `(B·T, D)`; only the score and value products are batched
//! over `(B, heads)`. The additive `bias` argument carries masks (causal, key padding) and the T5
//! relative position bias (Raffel et al. 2020, §2.1 "we use a simplified form of position
//! embeddings where each embedding is simply a scalar that is added to the corresponding logit").

use dfdx::prelude::*;
use dfdx::tensor::CpuError;
use rand::rngs::StdRng;
use rand_distr::num_traits::Float;

use super::layers::{normal_tensor, Act, Linear, LinearNoBias};
use super::Kernels;
use crate::ops;

/// Attention scores or an additive bias, `(batch·heads, query, key)`.
pub type Scores<T = NoneTape> = Tensor<(usize, usize, usize), f32, Cpu, T>;

/// Additive score bias / mask of shape `(batch, heads, query, key)`.
pub type ScoreBias<T> = Tensor<(usize, usize, usize, usize), f32, Cpu, T>;

/// Value added to the scores of masked-out keys (large and finite, so a fully masked row stays
/// finite: it becomes uniform instead of NaN).
pub const MASKED: f32 = -1e9;

/// Scaled dot-product attention over `heads` heads of width `D / heads`.
///
/// `q` is `(batch·tq, D)`, `k` and `v` are `(batch·tk, D)`; scores are `q·kᵀ·scale + bias`, softmax
/// over keys. Returns `(batch·tq, D)` with the heads concatenated in order (head `h` owns columns
/// `h·D/heads .. (h+1)·D/heads`).
#[allow(clippy::too_many_arguments)]
pub fn attend<const D: usize, T: Tape<f32, Cpu>>(
    q: Act<D, T>,
    k: Act<D, T>,
    v: Act<D, T>,
    batch: usize,
    tq: usize,
    tk: usize,
    heads: usize,
    scale: f32,
    bias: Option<ScoreBias<T>>,
) -> Result<Act<D, T>, CpuError> {
    let dh = D / heads;
    let q = q.try_reshape_like(&(batch, tq, heads, dh))?.try_permute::<_, Axes4<0, 2, 1, 3>>()?;
    let k = k.try_reshape_like(&(batch, tk, heads, dh))?.try_permute::<_, Axes4<0, 2, 3, 1>>()?;
    let v = v.try_reshape_like(&(batch, tk, heads, dh))?.try_permute::<_, Axes4<0, 2, 1, 3>>()?;
    let mut scores = q.try_matmul(k)?;
    if scale != 1.0 {
        scores = scores.try_mul(scale)?;
    }
    if let Some(b) = bias {
        scores = scores.try_add(b)?;
    }
    let att = scores.try_softmax::<Axis<3>>()?;
    let out = att.try_matmul(v)?.try_permute::<_, Axes4<0, 2, 1, 3>>()?;
    out.try_reshape_like(&(batch * tq, Const::<D>))
}

/// Additive score bias of one attention call.
#[derive(Debug, Clone, Copy)]
pub enum Bias<'a> {
    /// No bias.
    None,
    /// `(heads, tq, tk)`, the same for every batch element (T5's relative position bias).
    Shared(&'a Tensor<(usize, usize, usize), f32, Cpu>),
    /// `(batch, heads, tq, tk)` (relative bias plus a key-padding mask that differs by row).
    Full(&'a ScoreBias<NoneTape>),
}

/// `(tq, tk)` causal mask: `MASKED` where key `j > i`.
pub fn causal_mask(dev: &Cpu, tq: usize, tk: usize) -> Result<Tensor<(usize, usize), f32, Cpu>, CpuError> {
    let mut m = Vec::with_capacity(tq * tk);
    for i in 0..tq {
        for j in 0..tk {
            m.push(if j > i { MASKED } else { 0.0 });
        }
    }
    dev.try_tensor_from_vec(m, (tq, tk))
}

/// Multi-head attention with an optional bias and causal mask, on the chosen kernels.
///
/// Bias tensors are read through `retaped`: their gradients land in the gradients of `q`'s
/// tape, so their own history must travel on the main activations' tape (see the T5 model).
#[allow(clippy::too_many_arguments)]
pub fn multi_head<const D: usize, T: Tape<f32, Cpu>>(
    q: Act<D, T>,
    k: Act<D, T>,
    v: Act<D, T>,
    batch: usize,
    tq: usize,
    tk: usize,
    heads: usize,
    scale: f32,
    bias: Bias<'_>,
    causal: bool,
    kernels: Kernels,
) -> Result<Act<D, T>, CpuError> {
    let fused = |bias: Option<Scores<T>>, q: Act<D, T>, k: Act<D, T>, v: Act<D, T>| -> Result<Act<D, T>, CpuError> {
        let q = q.try_reshape_like(&(batch, tq, Const::<D>))?;
        let k = k.try_reshape_like(&(batch, tk, Const::<D>))?;
        let v = v.try_reshape_like(&(batch, tk, Const::<D>))?;
        ops::try_attention(q, k, v, heads, scale, bias, causal)?.try_reshape_like(&(batch * tq, Const::<D>))
    };
    match (kernels, bias) {
        (Kernels::Fused, Bias::None) => fused(None, q, k, v),
        (Kernels::Fused, Bias::Shared(b)) => fused(Some(b.retaped::<T>()), q, k, v),
        (Kernels::Fused, Bias::Full(b)) => {
            // One (heads, tq, tk) block per batch element, stacked: (batch·heads, tq, tk).
            let b = b.retaped::<T>().try_reshape_like(&(batch * heads, tq, tk))?;
            fused(Some(b), q, k, v)
        }
        (Kernels::Reference, _) => {
            let shape = (batch, heads, tq, tk);
            let mut full: Option<ScoreBias<T>> = match bias {
                Bias::None => None,
                Bias::Shared(b) => Some(b.retaped::<T>().try_broadcast_like::<_, Axis<0>>(&shape)?),
                Bias::Full(b) => Some(b.retaped::<T>()),
            };
            if causal {
                let dev = q.device().clone();
                let m = causal_mask(&dev, tq, tk)?.try_broadcast_like::<_, Axes2<0, 1>>(&shape)?;
                full = Some(match full {
                    Some(f) => f.try_add(m)?,
                    None => m.retaped::<T>(),
                });
            }
            attend(q, k, v, batch, tq, tk, heads, scale, full)
        }
    }
}

/// Self-attention with biased projections (ViT): `q`, `k`, `v`, `o`, each `(D, D)`.
#[derive(Debug, Clone)]
pub struct MultiHeadAttention<const D: usize, E: Dtype = f32, Dev: Storage<E> = Cpu> {
    /// Query projection.
    pub q: Linear<D, D, E, Dev>,
    /// Key projection.
    pub k: Linear<D, D, E, Dev>,
    /// Value projection.
    pub v: Linear<D, D, E, Dev>,
    /// Output projection.
    pub o: Linear<D, D, E, Dev>,
}

modules!(MultiHeadAttention<D> { q, k, v, o });

impl<const D: usize> MultiHeadAttention<D> {
    /// Xavier-uniform projections, zero biases.
    pub fn new(dev: &Cpu, rng: &mut StdRng) -> Result<Self, CpuError> {
        Ok(Self {
            q: Linear::new_xavier(dev, rng)?,
            k: Linear::new_xavier(dev, rng)?,
            v: Linear::new_xavier(dev, rng)?,
            o: Linear::new_xavier(dev, rng)?,
        })
    }

    /// Self-attention of `x` (`(batch·t, D)`), scale `1/√(D/heads)`, no mask.
    pub fn forward<T: Tape<f32, Cpu>>(
        &self,
        x: Act<D, T>,
        batch: usize,
        t: usize,
        heads: usize,
        kernels: Kernels,
    ) -> Result<Act<D, T>, CpuError> {
        let scale = 1.0 / ((D / heads) as f32).sqrt();
        let y = match kernels {
            Kernels::Fused => ops::try_self_attention(
                x,
                [&self.q.weight, &self.k.weight, &self.v.weight],
                Some([&self.q.bias, &self.k.bias, &self.v.bias]),
                batch,
                heads,
                scale,
                None::<Scores<NoneTape>>,
                false,
            )?,
            Kernels::Reference => {
                let q = self.q.forward(x.retaped::<T>(), kernels)?;
                let k = self.k.forward(x.retaped::<T>(), kernels)?;
                let v = self.v.forward(x, kernels)?;
                multi_head(q, k, v, batch, t, t, heads, scale, Bias::None, false, kernels)?
            }
        };
        self.o.forward(y, kernels)
    }
}

/// Attention without biases and without score scaling (T5): `q`, `k`, `v`, `o`, each `(D, D)`.
/// T5 folds the `1/√d_head` factor into the initialisation of `q` (Mesh TensorFlow convention).
#[derive(Debug, Clone)]
pub struct T5Attention<const D: usize, E: Dtype = f32, Dev: Storage<E> = Cpu> {
    /// Query projection.
    pub q: LinearNoBias<D, D, E, Dev>,
    /// Key projection.
    pub k: LinearNoBias<D, D, E, Dev>,
    /// Value projection.
    pub v: LinearNoBias<D, D, E, Dev>,
    /// Output projection.
    pub o: LinearNoBias<D, D, E, Dev>,
}

modules!(T5Attention<D> { q, k, v, o });

impl<const D: usize> T5Attention<D> {
    /// T5 initialisation (Mesh TensorFlow / HF `T5PreTrainedModel`): q ~ N(0, (D·d_head)^-½),
    /// k, v ~ N(0, D^-½), o ~ N(0, D^-½) (inner width = D here).
    pub fn new(dev: &Cpu, rng: &mut StdRng, heads: usize) -> Result<Self, CpuError> {
        let dh = (D / heads.max(1)).max(1) as f32;
        let d = D as f32;
        Ok(Self {
            q: LinearNoBias::new_normal(dev, rng, (d * dh).powf(-0.5))?,
            k: LinearNoBias::new_normal(dev, rng, d.powf(-0.5))?,
            v: LinearNoBias::new_normal(dev, rng, d.powf(-0.5))?,
            o: LinearNoBias::new_normal(dev, rng, d.powf(-0.5))?,
        })
    }

    /// Attention of queries from `x` (`(batch·tq, D)`) over keys/values from `kv`
    /// (`(batch·tk, D)`; pass `x` again for self-attention), with an additive score bias and,
    /// when `causal`, a causal mask.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<T: Tape<f32, Cpu>>(
        &self,
        x: Act<D, T>,
        kv: Act<D, T>,
        batch: usize,
        tq: usize,
        tk: usize,
        heads: usize,
        bias: Bias<'_>,
        causal: bool,
        kernels: Kernels,
    ) -> Result<Act<D, T>, CpuError> {
        let q = self.q.forward(x, kernels)?;
        let k = self.k.forward(kv.retaped::<T>(), kernels)?;
        let v = self.v.forward(kv, kernels)?;
        let y = multi_head(q, k, v, batch, tq, tk, heads, 1.0, bias, causal, kernels)?;
        self.o.forward(y, kernels)
    }

    /// Self-attention of `x` (`(batch·t, D)`): [`Self::forward`] with `kv = x`; on
    /// [`Kernels::Fused`] the three projections run inside one op
    /// ([`ops::try_self_attention`]).
    #[allow(clippy::too_many_arguments)]
    pub fn forward_self<T: Tape<f32, Cpu>>(
        &self,
        x: Act<D, T>,
        batch: usize,
        t: usize,
        heads: usize,
        bias: Bias<'_>,
        causal: bool,
        kernels: Kernels,
    ) -> Result<Act<D, T>, CpuError> {
        if kernels == Kernels::Reference {
            return self.forward(x.retaped::<T>(), x, batch, t, t, heads, bias, causal, kernels);
        }
        let w = [&self.q.weight, &self.k.weight, &self.v.weight];
        let none = None::<[&Tensor<Rank1<D>, f32, Cpu>; 3]>;
        let y = match bias {
            Bias::None => ops::try_self_attention(x, w, none, batch, heads, 1.0, None::<Scores<NoneTape>>, causal)?,
            Bias::Shared(b) => ops::try_self_attention(x, w, none, batch, heads, 1.0, Some(b.retaped::<T>()), causal)?,
            Bias::Full(b) => {
                let b = b.retaped::<T>().try_reshape_like(&(batch * heads, t, t))?;
                ops::try_self_attention(x, w, none, batch, heads, 1.0, Some(b), causal)?
            }
        };
        self.o.forward(y, kernels)
    }
}

/// T5's relative position bucket (Raffel et al. 2020; Mesh TensorFlow
/// `_relative_position_bucket`): `relative_position = key_pos − query_pos`.
///
/// Bidirectional: half the buckets for each sign (positive offsets in the upper half). Causal:
/// only non-positive offsets get distinct buckets, future positions share bucket 0. Within the
/// buckets of one sign, the first half are exact offsets `0..max_exact`; the rest are
/// logarithmically spaced up to `max_distance`, beyond which everything shares the last bucket.
///
/// ```
/// use sparse_scaling::model::relative_position_bucket;
/// assert_eq!(relative_position_bucket(0, true, 32, 128), 0);
/// assert_eq!(relative_position_bucket(1, true, 32, 128), 17);
/// assert_eq!(relative_position_bucket(-1000, true, 32, 128), 15);
/// assert_eq!(relative_position_bucket(3, false, 32, 128), 0);
/// ```
pub fn relative_position_bucket(
    relative_position: i64,
    bidirectional: bool,
    num_buckets: usize,
    max_distance: usize,
) -> usize {
    let mut nb = num_buckets as i64;
    let mut bucket = 0i64;
    let n = if bidirectional {
        nb /= 2;
        if relative_position > 0 {
            bucket += nb;
        }
        relative_position.abs()
    } else {
        (-relative_position).max(0)
    };
    let max_exact = nb / 2;
    if n < max_exact {
        bucket += n;
    } else {
        // Same arithmetic as the reference (float32 log ratio, truncated toward zero).
        let large = max_exact
            + ((n as f32 / max_exact as f32).ln() / (max_distance as f32 / max_exact as f32).ln()
                * (nb - max_exact) as f32) as i64;
        bucket += large.min(nb - 1);
    }
    bucket.max(0) as usize
}

/// Learned relative position bias of one layer stack (shared by all its layers, as in T5):
/// `table[bucket, head]`, `NB` buckets × `H` heads.
#[derive(Debug, Clone)]
pub struct RelativeBias<const NB: usize, const H: usize, E: Dtype = f32, Dev: Storage<E> = Cpu> {
    /// Bias per bucket and head.
    pub table: Tensor<Rank2<NB, H>, E, Dev>,
}

impl<const NB: usize, const H: usize, E, Dev> TensorCollection<E, Dev> for RelativeBias<NB, H, E, Dev>
where
    E: Dtype + Float + rand_distr::uniform::SampleUniform,
    Dev: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = RelativeBias<NB, H, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, Dev>>(visitor: &mut V) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            Self::tensor("table", |s| &s.table, |s| &mut s.table, TensorOptions::reset_to_zeros()),
            |table| RelativeBias { table },
        )
    }
}

impl<const NB: usize, const H: usize> RelativeBias<NB, H> {
    /// Table ~ N(0, std) (T5 uses the model width's `D^-½`).
    pub fn new(dev: &Cpu, rng: &mut StdRng, std: f32) -> Result<Self, CpuError> {
        Ok(Self { table: normal_tensor(dev, rng, std)? })
    }

    /// Bucket index for every (query, key) pair, row-major `tq × tk`.
    pub fn buckets(tq: usize, tk: usize, bidirectional: bool, max_distance: usize) -> Vec<usize> {
        let mut idx = Vec::with_capacity(tq * tk);
        for i in 0..tq {
            for j in 0..tk {
                idx.push(relative_position_bucket(j as i64 - i as i64, bidirectional, NB, max_distance));
            }
        }
        idx
    }

    /// The bias as `(H, tq, tk)`: `out[h, i, j] = table[bucket(j − i), h]`.
    pub fn forward<T: Tape<f32, Cpu>>(
        &self,
        dev: &Cpu,
        tq: usize,
        tk: usize,
        bidirectional: bool,
        max_distance: usize,
    ) -> Result<Scores<T>, CpuError> {
        let idx = Self::buckets(tq, tk, bidirectional, max_distance);
        let idx = dev.try_tensor_from_vec(idx, (tq * tk,))?;
        let g = self.table.retaped::<T>().try_gather(idx)?; // (tq·tk, H)
        g.try_permute::<_, Axes2<1, 0>>()?.try_reshape_like(&(H, tq, tk))
    }
}
