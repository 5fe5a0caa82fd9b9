//! Building blocks shared by the models: linear maps stored `(out, in)`, LayerNorm, RMSNorm, and
//! seeded initialisers. All forward passes act on token-flattened activations
//! `(tokens, width)` so that every projection is one 2-D matrix product (`B·T × I` by `I × O`).
//!
//! Parameter names follow the contract in the parent module: linear maps name their matrix
//! `weight` and their bias `bias`; norms name their gain `gamma` and shift `beta`.

use dfdx::prelude::*;
use dfdx::tensor::CpuError;
use rand::rngs::StdRng;
use rand_distr::num_traits::Float;
use rand_distr::uniform::SampleUniform;
use rand_distr::{Distribution, StandardNormal, Uniform};

use super::Kernels;
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
