//! Building blocks shared by the models: linear maps stored `(out, in)`, LayerNorm, RMSNorm,
//! seeded initialisers, and the T5.1.1 blocks that T5 and the decoder-only model share (token
//! embedding, gated-GELU MLP, the pre-norm self-attention layer, a layer stack with its relative
//! position bias, the output loss; docs/THEORY.md §5.1, §6). All forward passes act on
//! token-flattened activations `(tokens, width)` so that every projection is one 2-D matrix
//! product (`B·T × I` by `I × O`).
//!
//! Parameter names follow the contract in the parent module: linear maps name their matrix
//! `weight` and their bias `bias`; norms name their gain `gamma` and shift `beta`; attention
//! and MLP sit under `self_attn` and `mlp`.

use dfdx::prelude::*;
use dfdx::tensor::CpuError;
use rand::rngs::StdRng;
use rand_distr::num_traits::Float;
use rand_distr::uniform::SampleUniform;
use rand_distr::{Distribution, StandardNormal, Uniform};

use super::attention::{Bias, RelativeBias, T5Attention};
use super::{Kernels, ModelError, PAD};
use crate::ops;

/// Token-flattened activations: `(tokens, width)` on the CPU, with tape `T`.
pub type Act<const W: usize, T> = Tensor<(usize, Const<W>), f32, Cpu, T>;

/// A tensor of constant shape `S` filled from `sample`, in row-major order.
pub(crate) fn init_tensor<S: ConstShape>(
    dev: &Cpu,
    mut sample: impl FnMut() -> f32,
) -> Result<Tensor<S, f32, Cpu>, CpuError> {
    let v: Vec<f32> = (0..S::NUMEL).map(|_| sample()).collect();
    dev.try_tensor_from_vec(v, S::default())
}

/// Normal(0, std) tensor drawn from `rng`.
pub(crate) fn normal_tensor<S: ConstShape>(
    dev: &Cpu,
    rng: &mut StdRng,
    std: f32,
) -> Result<Tensor<S, f32, Cpu>, CpuError> {
    // std · N(0, 1): the same draws as Normal(0, std), with no constructor that can fail.
    let std = std.max(0.0);
    init_tensor(dev, || std * Distribution::<f32>::sample(&StandardNormal, rng))
}

/// Uniform(−bound, bound) tensor drawn from `rng`.
pub(crate) fn uniform_tensor<S: ConstShape>(
    dev: &Cpu,
    rng: &mut StdRng,
    bound: f32,
) -> Result<Tensor<S, f32, Cpu>, CpuError> {
    let b = bound.abs().max(f32::MIN_POSITIVE);
    let dist = Uniform::new_inclusive(-b, b);
    init_tensor(dev, || dist.sample(rng))
}

/// Linear map with bias, `y = x Wᵀ + b`, `weight` stored `(O, I)` like dfdx's `Linear`.
#[derive(Debug, Clone)]
pub struct Linear<const I: usize, const O: usize, E: Dtype = f32, D: Storage<E> = Cpu> {
    /// Weight matrix, `(out, in)`.
    pub weight: Tensor<Rank2<O, I>, E, D>,
    /// Bias, `(out,)`.
    pub bias: Tensor<Rank1<O>, E, D>,
}

/// Linear map without bias, `y = x Wᵀ`, `weight` stored `(O, I)`.
#[derive(Debug, Clone)]
pub struct LinearNoBias<const I: usize, const O: usize, E: Dtype = f32, D: Storage<E> = Cpu> {
    /// Weight matrix, `(out, in)`.
    pub weight: Tensor<Rank2<O, I>, E, D>,
}

/// LayerNorm over the last axis with gain `gamma` and shift `beta` (ε = 1e-6 as in ViT).
#[derive(Debug, Clone)]
pub struct LayerNorm<const W: usize, E: Dtype = f32, D: Storage<E> = Cpu> {
    /// Gain, initialised to 1.
    pub gamma: Tensor<Rank1<W>, E, D>,
    /// Shift, initialised to 0.
    pub beta: Tensor<Rank1<W>, E, D>,
}

/// RMSNorm over the last axis (T5: no mean subtraction, no bias), `x / sqrt(mean(x²) + ε) · gamma`,
/// ε = 1e-6 as in T5.
#[derive(Debug, Clone)]
pub struct RmsNorm<const W: usize, E: Dtype = f32, D: Storage<E> = Cpu> {
    /// Gain, initialised to 1.
    pub gamma: Tensor<Rank1<W>, E, D>,
}

/// ε of [`LayerNorm`].
pub const LAYER_NORM_EPS: f64 = 1e-6;
/// ε of [`RmsNorm`].
pub const RMS_NORM_EPS: f64 = 1e-6;

type Fl = f32;

impl<const I: usize, const O: usize, E, D> TensorCollection<E, D> for Linear<I, O, E, D>
where
    E: Dtype + Float + SampleUniform,
    D: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = Linear<I, O, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(visitor: &mut V) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    TensorOptions::reset_with(|t| {
                        let b = E::from((6.0 / (I + O) as f64).sqrt()).unwrap_or(E::one());
                        t.try_fill_with_distr(rand_distr::Uniform::new(-b, b))
                    }),
                ),
                Self::tensor("bias", |s| &s.bias, |s| &mut s.bias, TensorOptions::reset_to_zeros()),
            ),
            |(weight, bias)| Linear { weight, bias },
        )
    }
}

impl<const I: usize, const O: usize, E, D> TensorCollection<E, D> for LinearNoBias<I, O, E, D>
where
    E: Dtype + Float + rand_distr::uniform::SampleUniform,
    D: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = LinearNoBias<I, O, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(visitor: &mut V) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            Self::tensor(
                "weight",
                |s| &s.weight,
                |s| &mut s.weight,
                TensorOptions::reset_with(|t| {
                    let b = E::from((3.0 / I as f64).sqrt()).unwrap_or(E::one());
                    t.try_fill_with_distr(rand_distr::Uniform::new(-b, b))
                }),
            ),
            |weight| LinearNoBias { weight },
        )
    }
}

impl<const W: usize, E: Dtype, D: Device<E>> TensorCollection<E, D> for LayerNorm<W, E, D> {
    type To<E2: Dtype, D2: Device<E2>> = LayerNorm<W, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(visitor: &mut V) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor("gamma", |s| &s.gamma, |s| &mut s.gamma, TensorOptions::reset_to_ones()),
                Self::tensor("beta", |s| &s.beta, |s| &mut s.beta, TensorOptions::reset_to_zeros()),
            ),
            |(gamma, beta)| LayerNorm { gamma, beta },
        )
    }
}

impl<const W: usize, E: Dtype, D: Device<E>> TensorCollection<E, D> for RmsNorm<W, E, D> {
    type To<E2: Dtype, D2: Device<E2>> = RmsNorm<W, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(visitor: &mut V) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            Self::tensor("gamma", |s| &s.gamma, |s| &mut s.gamma, TensorOptions::reset_to_ones()),
            |gamma| RmsNorm { gamma },
        )
    }
}

impl<const I: usize, const O: usize> Linear<I, O> {
    /// Weight Uniform(±bound), bias zero.
    pub fn new_uniform(dev: &Cpu, rng: &mut StdRng, bound: Fl) -> Result<Self, CpuError> {
        Ok(Self { weight: uniform_tensor(dev, rng, bound)?, bias: dev.try_zeros()? })
    }

    /// Weight Normal(0, std), bias zero.
    pub fn new_normal(dev: &Cpu, rng: &mut StdRng, std: Fl) -> Result<Self, CpuError> {
        Ok(Self { weight: normal_tensor(dev, rng, std)?, bias: dev.try_zeros()? })
    }

    /// Xavier-uniform weight (bound √(6/(I+O))), bias zero: the ViT dense initialisation.
    pub fn new_xavier(dev: &Cpu, rng: &mut StdRng) -> Result<Self, CpuError> {
        Self::new_uniform(dev, rng, (6.0 / (I + O) as f32).sqrt())
    }

    /// `x Wᵀ + b` on token-flattened activations.
    pub fn forward<T: Tape<f32, Cpu>>(&self, x: Act<I, T>, k: Kernels) -> Result<Act<O, T>, CpuError> {
        match k {
            Kernels::Fused => ops::try_linear(x, self.weight.clone(), Some(self.bias.clone())),
            Kernels::Reference => {
                let y = x.try_matmul(self.weight.retaped::<T>().try_permute::<_, Axes2<1, 0>>()?)?;
                let shape = *y.shape();
                y.try_add(self.bias.retaped::<T>().try_broadcast_like(&shape)?)
            }
        }
    }

    /// `x Wᵀ` without the bias (for a following fused bias + activation).
    pub fn forward_no_bias<T: Tape<f32, Cpu>>(&self, x: Act<I, T>, k: Kernels) -> Result<Act<O, T>, CpuError> {
        match k {
            Kernels::Fused => ops::try_linear(x, self.weight.clone(), None::<Tensor<(Const<O>,), f32, Cpu, NoneTape>>),
            Kernels::Reference => x.try_matmul(self.weight.retaped::<T>().try_permute::<_, Axes2<1, 0>>()?),
        }
    }

    /// `gelu(x Wᵀ + b)` with the exact (erf) GELU.
    ///
    /// The reference kernels use `ops::gelu` too, not dfdx's `accurate_gelu`: dfdx 0.13's
    /// backward of `accurate_gelu` is wrong (its `x·φ(x)` term lacks the chain-rule factor
    /// `1/√2`, so gradients through it are off; `gradient_matches_finite_difference` in
    /// `tests/model/vit.rs` catches this).
    pub fn forward_gelu<T: Tape<f32, Cpu>>(&self, x: Act<I, T>, k: Kernels) -> Result<Act<O, T>, CpuError> {
        match k {
            Kernels::Fused => ops::try_bias_gelu(self.forward_no_bias(x, k)?, self.bias.clone(), ops::Gelu::Erf),
            Kernels::Reference => ops::try_gelu(self.forward(x, k)?, ops::Gelu::Erf),
        }
    }
}

impl<const I: usize, const O: usize> LinearNoBias<I, O> {
    /// Weight Normal(0, std).
    pub fn new_normal(dev: &Cpu, rng: &mut StdRng, std: Fl) -> Result<Self, CpuError> {
        Ok(Self { weight: normal_tensor(dev, rng, std)? })
    }

    /// `x Wᵀ` on token-flattened activations.
    pub fn forward<T: Tape<f32, Cpu>>(&self, x: Act<I, T>, k: Kernels) -> Result<Act<O, T>, CpuError> {
        match k {
            Kernels::Fused => ops::try_linear(x, self.weight.clone(), None::<Tensor<(Const<O>,), f32, Cpu, NoneTape>>),
            Kernels::Reference => x.try_matmul(self.weight.retaped::<T>().try_permute::<_, Axes2<1, 0>>()?),
        }
    }
}

impl<const W: usize> LayerNorm<W> {
    /// Gain 1, shift 0.
    pub fn new(dev: &Cpu) -> Result<Self, CpuError> {
        Ok(Self { gamma: dev.try_ones()?, beta: dev.try_zeros()? })
    }

    /// `(x − mean) / sqrt(var + ε) · gamma + beta` per row.
    pub fn forward<T: Tape<f32, Cpu>>(&self, x: Act<W, T>, k: Kernels) -> Result<Act<W, T>, CpuError> {
        if k == Kernels::Fused {
            return ops::try_layer_norm(x, self.gamma.clone(), self.beta.clone(), LAYER_NORM_EPS as f32);
        }
        let shape = *x.shape();
        let x = x.try_normalize::<Axis<1>>(LAYER_NORM_EPS)?;
        let g = self.gamma.retaped::<T>().try_broadcast_like(&shape)?;
        let b = self.beta.retaped::<T>().try_broadcast_like(&shape)?;
        x.try_mul(g)?.try_add(b)
    }
}

impl<const W: usize> RmsNorm<W> {
    /// Gain 1.
    pub fn new(dev: &Cpu) -> Result<Self, CpuError> {
        Ok(Self { gamma: dev.try_ones()? })
    }

    /// `x / sqrt(mean(x²) + ε) · gamma` per row.
    pub fn forward<T: Tape<f32, Cpu>>(&self, x: Act<W, T>, k: Kernels) -> Result<Act<W, T>, CpuError> {
        if k == Kernels::Fused {
            return ops::try_rms_norm(x, self.gamma.clone(), RMS_NORM_EPS as f32);
        }
        let shape = *x.shape();
        let inv = x
            .retaped::<T>()
            .try_square()?
            .try_mean::<(usize,), Axis<1>>()?
            .try_add(RMS_NORM_EPS as f32)?
            .try_sqrt()?
            .try_recip()?;
        let g = self.gamma.retaped::<T>().try_broadcast_like(&shape)?;
        x.try_mul(inv.try_broadcast_like(&shape)?)?.try_mul(g)
    }
}

// ---------- T5.1.1 blocks (T5 and the decoder-only model) ----------

/// Token embedding table `(V, D)`, parameter path `tok_embed.weight`.
#[derive(Debug, Clone)]
pub struct Embed<const V: usize, const D: usize, E: Dtype = f32, Dev: Storage<E> = Cpu> {
    /// One row per token id.
    pub weight: Tensor<Rank2<V, D>, E, Dev>,
}

/// Gated-GELU MLP: `wo(gelu_tanh(wi_0 x) ⊙ wi_1 x)`.
#[derive(Debug, Clone)]
pub struct GatedMlp<const D: usize, const F: usize, E: Dtype = f32, Dev: Storage<E> = Cpu> {
    /// Gate projection `D → F` (through GELU).
    pub wi_0: LinearNoBias<D, F, E, Dev>,
    /// Linear projection `D → F`.
    pub wi_1: LinearNoBias<D, F, E, Dev>,
    /// Output projection `F → D`.
    pub wo: LinearNoBias<F, D, E, Dev>,
}

/// T5.1.1 layer of self-attention and MLP, each pre-norm with a residual: the T5 encoder's
/// layer (bidirectional) and the decoder-only model's (causal).
#[derive(Debug, Clone)]
pub struct SelfAttentionLayer<const D: usize, const F: usize, E: Dtype = f32, Dev: Storage<E> = Cpu> {
    /// RMSNorm before self-attention.
    pub self_attn_norm: RmsNorm<D, E, Dev>,
    /// Self-attention.
    pub self_attn: T5Attention<D, E, Dev>,
    /// RMSNorm before the MLP.
    pub mlp_norm: RmsNorm<D, E, Dev>,
    /// Gated-GELU MLP.
    pub mlp: GatedMlp<D, F, E, Dev>,
}

/// A stack of `L` layers with its relative position bias and final RMSNorm.
#[derive(Debug, Clone)]
pub struct T5Stack<
    Lyr,
    const NB: usize,
    const H: usize,
    const L: usize,
    const D: usize,
    E: Dtype = f32,
    Dev: Storage<E> = Cpu,
> {
    /// Relative position bias shared by the layers of this stack.
    pub rel_bias: RelativeBias<NB, H, E, Dev>,
    /// The layers.
    pub layers: Repeated<Lyr, L>,
    /// Final RMSNorm.
    pub final_norm: RmsNorm<D, E, Dev>,
}

impl<const V: usize, const D: usize, E, Dev> TensorCollection<E, Dev> for Embed<V, D, E, Dev>
where
    E: Dtype + Float + rand_distr::uniform::SampleUniform,
    Dev: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = Embed<V, D, E2, D2>;
    fn iter_tensors<W: ModuleVisitor<Self, E, Dev>>(visitor: &mut W) -> Result<Option<Self::To<W::E2, W::D2>>, W::Err> {
        visitor.visit_fields(
            Self::tensor(
                "weight",
                |s| &s.weight,
                |s| &mut s.weight,
                TensorOptions::reset_with(|t| {
                    let b = E::from(3.0f64.sqrt()).unwrap_or(E::one());
                    t.try_fill_with_distr(rand_distr::Uniform::new(-b, b))
                }),
            ),
            |weight| Embed { weight },
        )
    }
}

modules!(GatedMlp<D, F> { wi_0, wi_1, wo });

modules!(SelfAttentionLayer<D, F> { self_attn_norm, self_attn, mlp_norm, mlp });

impl<Lyr, const NB: usize, const H: usize, const L: usize, const D: usize, E, Dev> TensorCollection<E, Dev>
    for T5Stack<Lyr, NB, H, L, D, E, Dev>
where
    E: Dtype + Float + rand_distr::uniform::SampleUniform,
    Dev: Device<E>,
    Lyr: TensorCollection<E, Dev>,
{
    type To<E2: Dtype, D2: Device<E2>> = T5Stack<Lyr::To<E2, D2>, NB, H, L, D, E2, D2>;
    fn iter_tensors<W: ModuleVisitor<Self, E, Dev>>(visitor: &mut W) -> Result<Option<Self::To<W::E2, W::D2>>, W::Err> {
        visitor.visit_fields(
            (
                Self::module("rel_bias", |s| &s.rel_bias, |s| &mut s.rel_bias),
                Self::module("layers", |s| &s.layers, |s| &mut s.layers),
                Self::module("final_norm", |s| &s.final_norm, |s| &mut s.final_norm),
            ),
            |(rel_bias, layers, final_norm)| T5Stack { rel_bias, layers, final_norm },
        )
    }
}

impl<const D: usize, const F: usize> GatedMlp<D, F> {
    /// T5 init: `wi_*` ~ N(0, D^-½), `wo` ~ N(0, F^-½).
    pub fn new(dev: &Cpu, rng: &mut StdRng) -> Result<Self, CpuError> {
        let d = (D as f32).powf(-0.5);
        Ok(Self {
            wi_0: LinearNoBias::new_normal(dev, rng, d)?,
            wi_1: LinearNoBias::new_normal(dev, rng, d)?,
            wo: LinearNoBias::new_normal(dev, rng, (F as f32).powf(-0.5))?,
        })
    }

    /// `wo(gelu_tanh(wi_0 x) ⊙ wi_1 x)`.
    pub fn forward<T: Tape<f32, Cpu>>(&self, x: Act<D, T>, k: Kernels) -> Result<Act<D, T>, CpuError> {
        let a = self.wi_0.forward(x.retaped::<T>(), k)?;
        let h = self.wi_1.forward(x, k)?;
        let g = match k {
            Kernels::Fused => ops::try_gated_gelu(a, h, ops::Gelu::Tanh)?,
            Kernels::Reference => a.try_fast_gelu()?.try_mul(h)?,
        };
        self.wo.forward(g, k)
    }
}

impl<const D: usize, const F: usize> SelfAttentionLayer<D, F> {
    /// Norms 1, T5 initialisation of attention ([`T5Attention::new`]) and MLP ([`GatedMlp::new`]).
    pub fn new(dev: &Cpu, rng: &mut StdRng, heads: usize) -> Result<Self, CpuError> {
        Ok(Self {
            self_attn_norm: RmsNorm::new(dev)?,
            self_attn: T5Attention::new(dev, rng, heads)?,
            mlp_norm: RmsNorm::new(dev)?,
            mlp: GatedMlp::new(dev, rng)?,
        })
    }

    /// The layer on `(batch·t, D)` with the stack's score bias; `causal` masks future keys.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<T: Tape<f32, Cpu>>(
        &self,
        x: Act<D, T>,
        batch: usize,
        t: usize,
        heads: usize,
        bias: Bias<'_>,
        causal: bool,
        k: Kernels,
    ) -> Result<Act<D, T>, CpuError> {
        let h = self.self_attn_norm.forward(x.retaped::<T>(), k)?;
        let a = self.self_attn.forward_self(h, batch, t, heads, bias, causal, k)?;
        let x = residual(x, a, k)?;
        let m = self.mlp.forward(self.mlp_norm.forward(x.retaped::<T>(), k)?, k)?;
        residual(x, m, k)
    }
}

/// The residual connection `x + a`: [`ops::try_add`] (on all threads) with the fused kernels,
/// dfdx's add (one thread) with the reference kernels.
pub(crate) fn residual<const D: usize, T: Tape<f32, Cpu>>(
    x: Act<D, T>,
    a: Act<D, T>,
    k: Kernels,
) -> Result<Act<D, T>, CpuError> {
    match k {
        Kernels::Fused => ops::try_add(x, a),
        Kernels::Reference => x.try_add(a),
    }
}

/// Moves the tape of `from` onto `to` (merging), leaving `from` tapeless. Used for tensors that
/// several later operations read (the score bias, the encoder output): they are read through
/// `retaped`, and their own history travels on with the main activations.
#[allow(clippy::type_complexity)] // two tensors whose tapes trade places
pub(crate) fn hand_over_tape<S1: Shape, S2: Shape, T: Tape<f32, Cpu>>(
    from: Tensor<S1, f32, Cpu, T>,
    to: Tensor<S2, f32, Cpu, T>,
) -> (Tensor<S1, f32, Cpu, NoneTape>, Tensor<S2, f32, Cpu, T>) {
    let (from, ft) = from.split_tape();
    let (to, tt) = to.split_tape();
    (from, to.put_tape(tt.merge(ft)))
}

/// Number of non-PAD targets, an error when there are none (no token to predict).
pub(crate) fn count_targets(targets: &[u32]) -> Result<usize, ModelError> {
    let n = targets.iter().filter(|&&t| t != PAD).count();
    if n == 0 {
        return Err(ModelError::BatchShape {
            what: "non-PAD targets",
            expected: "≥ 1".into(),
            actual: "0".into(),
            fix: "every batch needs at least one target token that is not PAD (0)".into(),
        });
    }
    Ok(n)
}

/// Mean loss of predicting `targets` from the final states `y`: `lm_head` on the positions
/// whose target is not PAD, then cross-entropy plus `z_loss · logsumexp²` (Mesh TensorFlow's
/// z-loss), averaged over those positions (docs/THEORY.md §5.1).
///
/// `targets` is `batch × len`, row-major; `y` holds the first `kept ≤ len` positions of each
/// row, `(batch·kept, D)` (the targets after them must be PAD). At least one target must be
/// non-PAD ([`count_targets`]).
pub(crate) fn next_token_loss<const D: usize, const V: usize, T: Tape<f32, Cpu>>(
    lm_head: &LinearNoBias<D, V>,
    y: Act<D, T>,
    targets: &[u32],
    len: usize,
    kept: usize,
    z_loss: f32,
    k: Kernels,
) -> Result<Tensor<(), f32, Cpu, T>, CpuError> {
    // Only positions with a non-PAD target enter the loss: gather them, then project.
    let (rows, targets): (Vec<usize>, Vec<usize>) = (0..targets.len() / len.max(1))
        .flat_map(|r| (0..kept).map(move |i| (r, i)))
        .filter_map(|(r, i)| {
            let t = targets[r * len + i];
            (t != PAD).then_some((r * kept + i, t as usize))
        })
        .unzip();
    let n = rows.len();
    let dev = y.device().clone();
    let y = y.try_gather(dev.try_tensor_from_vec(rows, (n,))?)?;
    let logits = lm_head.forward(y, k)?;
    if k == Kernels::Fused {
        return ops::try_cross_entropy(logits, &targets, z_loss);
    }
    let idx = dev.try_tensor_from_vec(targets, (n,))?;
    let lse = logits.retaped::<T>().try_logsumexp::<(usize,), Axis<1>>()?;
    let picked = logits.try_select(idx)?;
    let per_token = if z_loss > 0.0 {
        let zl = lse.retaped::<T>().try_square()?.try_mul(z_loss)?;
        lse.try_sub(picked)?.try_add(zl)?
    } else {
        lse.try_sub(picked)?
    };
    per_token.try_mean()
}
