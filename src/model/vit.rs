//! Vision Transformer (Dosovitskiy et al. 2021), the image model of the paper's JFT-4B study
//! (docs/THEORY.md §5: "ViT-B-like stack scaled by width"): non-overlapping patches, a linear patch
//! embedding, learned positions, a class token or mean pooling, pre-norm blocks of multi-head
//! self-attention and a GELU MLP, a final LayerNorm and a linear head; softmax cross-entropy.
//!
//! Const parameters (they fix parameter shapes): `PV` values per patch (`channels · patch²`), `NP`
//! patches per image, `D` width, `F` MLP width, `L` blocks, `K` classes. Runtime
//! ([`VitConfig`]): image size, channels, patch size, heads, pooling.
//!
//! Every linear map is a 2-D product on token-flattened activations `(B·T, ·)`.
//!
//! Patch layout: patches are taken row by row (patch `(py, px)` is token `py·(W/p) + px`) and the
//! `PV` values of one patch are ordered channel, then row, then column inside the patch.

use dfdx::prelude::*;
use dfdx::tensor::CpuError;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::num_traits::Float;
use serde::{Deserialize, Serialize};

use super::attention::MultiHeadAttention;
use super::layers::{normal_tensor, residual, Act, LayerNorm, Linear};
use super::{Family, ImageBatch, Kernels, ModelError, ModelInfo, SparseModel};
use crate::ops;

/// How the image representation is read off the final tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// A learned class token is prepended; its final state feeds the head (original ViT).
    #[default]
    ClassToken,
    /// The final states of all patch tokens are averaged ("gap" in big_vision). The class token
    /// parameter still exists (so the parameter set does not depend on this switch) but is unused
    /// and gets zero gradient.
    Mean,
}

/// Runtime configuration of a [`Vit`]: everything that does not change a parameter's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitConfig {
    /// Image height in pixels; a multiple of `patch`.
    pub image_height: usize,
    /// Image width in pixels; a multiple of `patch`.
    pub image_width: usize,
    /// Channels per pixel (1 grey, 3 RGB).
    pub channels: usize,
    /// Side of the square patches in pixels.
    pub patch: usize,
    /// Attention heads; must divide the width `D`.
    pub heads: usize,
    /// Class token or mean pooling.
    #[serde(default)]
    pub pooling: Pooling,
}

impl Default for VitConfig {
    /// [`VitConfig::reference_cpu`].
    fn default() -> Self {
        Self::reference_cpu()
    }
}

impl VitConfig {
    /// The CPU reference model of `shared/reference/vit_cpu.py`: 28×28 grey images, 7×7 patches
    /// (16 patches of 49 values), 4 heads, class token. Use with [`VitRef`] (4 blocks, 10 classes).
    pub fn reference_cpu() -> Self {
        Self { image_height: 28, image_width: 28, channels: 1, patch: 7, heads: 4, pooling: Pooling::ClassToken }
    }

    /// ViT-B/16 at 224×224 (Dosovitskiy et al. 2021, Table 1: 12 blocks, width 768, MLP 3072,
    /// 12 heads), the paper's base stack before width scaling (docs/THEORY.md §5). Use with [`VitB16`].
    pub fn vit_b16() -> Self {
        Self { image_height: 224, image_width: 224, channels: 3, patch: 16, heads: 12, pooling: Pooling::ClassToken }
    }

    /// Checks this config against the const sizes of `Vit<PV, NP, D, ..>`.
    pub fn validate<const PV: usize, const NP: usize, const D: usize>(&self) -> Result<(), ModelError> {
        let bad = |field: &'static str, value: usize, reason: String| {
            Err(ModelError::InvalidConfig { field, value: value.to_string(), reason })
        };
        if self.patch == 0 {
            return bad("patch", 0, "the patch side must be at least 1 pixel".into());
        }
        if self.channels == 0 {
            return bad("channels", 0, "images need at least one channel".into());
        }
        if self.image_height == 0 || self.image_height % self.patch != 0 {
            return bad(
                "image_height",
                self.image_height,
                format!("must be a positive multiple of the patch size {}", self.patch),
            );
        }
        if self.image_width == 0 || self.image_width % self.patch != 0 {
            return bad(
                "image_width",
                self.image_width,
                format!("must be a positive multiple of the patch size {}", self.patch),
            );
        }
        let pv = self.channels * self.patch * self.patch;
        if pv != PV {
            return bad(
                "patch",
                self.patch,
                format!(
                    "channels·patch² = {}·{}² = {pv}, but the model type takes {PV} values per patch; \
                     pick a patch size and channel count whose product channels·patch² is {PV}, or \
                     change the type's PV parameter to {pv}",
                    self.channels, self.patch
                ),
            );
        }
        let np = (self.image_height / self.patch) * (self.image_width / self.patch);
        if np != NP {
            return bad(
                "image_height",
                self.image_height,
                format!(
                    "a {}×{} image in {}-pixel patches has {np} patches, but the model type has {NP} \
                     positions; change the image size or the type's NP parameter to {np}",
                    self.image_height, self.image_width, self.patch
                ),
            );
        }
        if self.heads == 0 || D % self.heads != 0 {
            return bad("heads", self.heads, format!("the number of heads must be ≥ 1 and divide the width {D}"));
        }
        Ok(())
    }
}

/// The ViT MLP: `fc2(gelu(fc1(x)))` with erf GELU.
#[derive(Debug, Clone)]
pub struct VitMlp<const D: usize, const F: usize, E: Dtype = f32, Dev: Storage<E> = Cpu> {
    /// `D → F`.
    pub fc1: Linear<D, F, E, Dev>,
    /// `F → D`.
    pub fc2: Linear<F, D, E, Dev>,
}

/// One pre-norm block: `x + attn(LN(x))`, then `x + mlp(LN(x))`.
#[derive(Debug, Clone)]
pub struct VitBlock<const D: usize, const F: usize, E: Dtype = f32, Dev: Storage<E> = Cpu> {
    /// Norm before attention.
    pub attn_norm: LayerNorm<D, E, Dev>,
    /// Multi-head self-attention.
    pub attn: MultiHeadAttention<D, E, Dev>,
    /// Norm before the MLP.
    pub mlp_norm: LayerNorm<D, E, Dev>,
    /// GELU MLP.
    pub mlp: VitMlp<D, F, E, Dev>,
}

/// Vision Transformer with `L` blocks of width `D` (see the module docs for the parameters).
///
/// Parameter paths: `patch_embed.{weight,bias}`, `cls_token`, `positions`,
/// `blocks.{i}.attn_norm.{gamma,beta}`, `blocks.{i}.attn.{q,k,v,o}.{weight,bias}`,
/// `blocks.{i}.mlp_norm.{gamma,beta}`, `blocks.{i}.mlp.{fc1,fc2}.{weight,bias}`,
/// `final_norm.{gamma,beta}`, `head.{weight,bias}`.
#[derive(Debug, Clone)]
pub struct Vit<
    const PV: usize,
    const NP: usize,
    const D: usize,
    const F: usize,
    const L: usize,
    const K: usize,
    E: Dtype = f32,
    Dev: Storage<E> = Cpu,
> {
    /// Patch embedding `PV → D`.
    pub patch_embed: Linear<PV, D, E, Dev>,
    /// Class token (already including its position).
    pub cls_token: Tensor<Rank1<D>, E, Dev>,
    /// Learned positions of the `NP` patch tokens.
    pub positions: Tensor<Rank2<NP, D>, E, Dev>,
    /// The `L` blocks.
    pub blocks: Repeated<VitBlock<D, F, E, Dev>, L>,
    /// Final LayerNorm.
    pub final_norm: LayerNorm<D, E, Dev>,
    /// Classification head `D → K`.
    pub head: Linear<D, K, E, Dev>,
    /// Runtime configuration. Models rebuilt by dfdx visitors (`to_device`, `to_dtype`) get
    /// `VitConfig::default()`; copy the config over with [`Vit::with_config`] in that case.
    pub config: VitConfig,
    /// Kernels of the forward and backward passes (default [`Kernels::Fused`]).
    pub kernels: Kernels,
}

/// The `vit_cpu.py` reference shape (16 patches of 49 values, 4 blocks, 10 classes) at width `D`,
/// MLP `F` (the reference uses `F = 4·D`).
pub type VitRef<const D: usize, const F: usize> = Vit<49, 16, D, F, 4, 10>;

/// ViT-B/16 (patch 16 on 224×224 RGB: 768 values per patch, 196 patches; 12 blocks of width 768,
/// MLP 3072) with `K` classes.
pub type VitB16<const K: usize> = Vit<768, 196, 768, 3072, 12, K>;

modules!(VitMlp<D, F> { fc1, fc2 });

modules!(VitBlock<D, F> { attn_norm, attn, mlp_norm, mlp });

impl<const PV: usize, const NP: usize, const D: usize, const F: usize, const L: usize, const K: usize, E, Dev>
    TensorCollection<E, Dev> for Vit<PV, NP, D, F, L, K, E, Dev>
where
    E: Dtype + Float + rand_distr::uniform::SampleUniform,
    Dev: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = Vit<PV, NP, D, F, L, K, E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, E, Dev>>(visitor: &mut V) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("patch_embed", |s| &s.patch_embed, |s| &mut s.patch_embed),
                Self::tensor("cls_token", |s| &s.cls_token, |s| &mut s.cls_token, TensorOptions::reset_to_zeros()),
                Self::tensor(
                    "positions",
                    |s| &s.positions,
                    |s| &mut s.positions,
                    TensorOptions::reset_with(|t| {
                        let b = E::from((3.0 / D as f64).sqrt()).unwrap_or(E::one());
                        t.try_fill_with_distr(rand_distr::Uniform::new(-b, b))
                    }),
                ),
                Self::module("blocks", |s| &s.blocks, |s| &mut s.blocks),
                Self::module("final_norm", |s| &s.final_norm, |s| &mut s.final_norm),
                Self::module("head", |s| &s.head, |s| &mut s.head),
            ),
            |(patch_embed, cls_token, positions, blocks, final_norm, head)| Vit {
                patch_embed,
                cls_token,
                positions,
                blocks,
                final_norm,
                head,
                config: VitConfig::default(),
                kernels: Kernels::default(),
            },
        )
    }
}

impl<const D: usize, const F: usize> VitMlp<D, F> {
    /// `fc2(gelu(fc1(x)))`.
    pub fn forward<T: Tape<f32, Cpu>>(&self, x: Act<D, T>, k: Kernels) -> Result<Act<D, T>, CpuError> {
        self.fc2.forward(self.fc1.forward_gelu(x, k)?, k)
    }
}

impl<const D: usize, const F: usize> VitBlock<D, F> {
    /// Xavier-uniform matrices, zero biases, unit norms.
    pub fn new(dev: &Cpu, rng: &mut StdRng) -> Result<Self, CpuError> {
        Ok(Self {
            attn_norm: LayerNorm::new(dev)?,
            attn: MultiHeadAttention::new(dev, rng)?,
            mlp_norm: LayerNorm::new(dev)?,
            mlp: VitMlp { fc1: Linear::new_xavier(dev, rng)?, fc2: Linear::new_xavier(dev, rng)? },
        })
    }

    /// The block on `(batch·t, D)` activations.
    pub fn forward<T: Tape<f32, Cpu>>(
        &self,
        x: Act<D, T>,
        batch: usize,
        t: usize,
        heads: usize,
        k: Kernels,
    ) -> Result<Act<D, T>, CpuError> {
        let a = self.attn.forward(self.attn_norm.forward(x.retaped::<T>(), k)?, batch, t, heads, k)?;
        let x = residual(x, a, k)?;
        let m = self.mlp.forward(self.mlp_norm.forward(x.retaped::<T>(), k)?, k)?;
        residual(x, m, k)
    }
}

impl<const PV: usize, const NP: usize, const D: usize, const F: usize, const L: usize, const K: usize>
    Vit<PV, NP, D, F, L, K>
{
    /// Builds a ViT with deterministic initialisation from `seed` (big_vision conventions:
    /// xavier-uniform dense kernels, zero biases, unit norms, zero class token, positions
    /// N(0, 1/√D); the head is N(0, 0.02) rather than zero so that gradients reach every
    /// parameter from the first step). Errors if `config` does not fit the const sizes.
    pub fn new(dev: &Cpu, config: VitConfig, seed: u64) -> Result<Self, ModelError> {
        config.validate::<PV, NP, D>()?;
        if L == 0 || K == 0 {
            return Err(ModelError::InvalidConfig {
                field: "depth/classes",
                value: format!("L = {L}, K = {K}"),
                reason: "a ViT needs at least one block and one class; change the type parameters".into(),
            });
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let patch_embed = Linear::new_xavier(dev, &mut rng)?;
        let cls_token = dev.try_zeros()?;
        let positions = normal_tensor(dev, &mut rng, 1.0 / (D as f32).sqrt())?;
        let mut blocks = Vec::with_capacity(L);
        for _ in 0..L {
            blocks.push(VitBlock::new(dev, &mut rng)?);
        }
        Ok(Self {
            patch_embed,
            cls_token,
            positions,
            blocks: Repeated { modules: blocks },
            final_norm: LayerNorm::new(dev)?,
            head: Linear::new_normal(dev, &mut rng, 0.02)?,
            config,
            kernels: Kernels::default(),
        })
    }

    /// Replaces the runtime configuration (validated against the const sizes).
    pub fn with_config(mut self, config: VitConfig) -> Result<Self, ModelError> {
        config.validate::<PV, NP, D>()?;
        self.config = config;
        Ok(self)
    }

    /// Checks that a batch matches the configured image shape (labels are checked by `loss`).
    pub fn check_batch(&self, b: &ImageBatch) -> Result<(), ModelError> {
        let c = &self.config;
        let fix = "build the data stream with the image size and channels of the model config";
        let mismatch = |what, expected: usize, actual: usize| ModelError::BatchShape {
            what,
            expected: expected.to_string(),
            actual: actual.to_string(),
            fix: fix.into(),
        };
        if b.batch == 0 {
            return Err(mismatch("batch", 1, 0));
        }
        if b.channels != c.channels {
            return Err(mismatch("channels", c.channels, b.channels));
        }
        if b.height != c.image_height {
            return Err(mismatch("height", c.image_height, b.height));
        }
        if b.width != c.image_width {
            return Err(mismatch("width", c.image_width, b.width));
        }
        let n = b.batch * b.channels * b.height * b.width;
        if b.pixels.len() != n {
            return Err(ModelError::BatchShape {
                what: "pixels.len()",
                expected: format!("{n} (batch·channels·height·width)"),
                actual: b.pixels.len().to_string(),
                fix: "the pixel vector must hold every image in NCHW order".into(),
            });
        }
        Ok(())
    }

    /// Cuts the images into patches: `(batch·NP) × PV`, row-major (see the module docs).
    pub fn patchify(&self, b: &ImageBatch) -> Result<Vec<f32>, ModelError> {
        self.check_batch(b)?;
        let (c, h, w, p) = (b.channels, b.height, b.width, self.config.patch);
        let (gh, gw) = (h / p, w / p);
        let mut out = Vec::with_capacity(b.batch * NP * PV);
        for n in 0..b.batch {
            for py in 0..gh {
                for px in 0..gw {
                    for ch in 0..c {
                        for y in 0..p {
                            let row = ((n * c + ch) * h + py * p + y) * w + px * p;
                            out.extend_from_slice(&b.pixels[row..row + p]);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Class logits `(batch, K)`, recorded on `tape`.
    pub fn logits<T: Tape<f32, Cpu>>(
        &self,
        b: &ImageBatch,
        tape: T,
    ) -> Result<Tensor<(usize, Const<K>), f32, Cpu, T>, ModelError> {
        let patches = self.patchify(b)?;
        let dev = self.positions.device().clone();
        let bsz = b.batch;
        let x = dev.try_tensor_from_vec(patches, (bsz * NP, Const::<PV>))?.put_tape(tape);
        let k = self.kernels;
        let x = self.patch_embed.forward(x, k)?;
        let shape3 = (bsz, Const::<NP>, Const::<D>);
        let x = x.try_reshape_like(&shape3)?;
        let x = x.try_add(self.positions.retaped::<T>().try_broadcast_like(&shape3)?)?;
        let (x, t) = match self.config.pooling {
            Pooling::ClassToken => {
                let cls = self
                    .cls_token
                    .retaped::<T>()
                    .try_broadcast_like(&(bsz, Const::<D>))?
                    .try_reshape_like(&(bsz, 1usize, Const::<D>))?;
                let x = x.try_reshape_like(&(bsz, NP, Const::<D>))?;
                let x = (cls, x).try_concat_along(Axis::<1>)?;
                (x.try_reshape_like(&(bsz * (NP + 1), Const::<D>))?, NP + 1)
            }
            Pooling::Mean => (x.try_reshape_like(&(bsz * NP, Const::<D>))?, NP),
        };
        let mut x = x;
        for blk in &self.blocks.modules {
            x = blk.forward(x, bsz, t, self.config.heads, k)?;
        }
        let x = self.final_norm.forward(x, k)?.try_reshape_like(&(bsz, t, Const::<D>))?;
        let pooled: Act<D, T> = match self.config.pooling {
            Pooling::ClassToken => x.try_slice((.., 0..1, ..))?.try_reshape_like(&(bsz, Const::<D>))?,
            Pooling::Mean => x.try_mean::<(usize, Const<D>), Axis<1>>()?,
        };
        Ok(self.head.forward(pooled, k)?)
    }

    /// Mean softmax cross-entropy of `logits` against `labels` (each `< K`).
    pub fn cross_entropy<T: Tape<f32, Cpu>>(
        logits: Tensor<(usize, Const<K>), f32, Cpu, T>,
        labels: &[u32],
        kernels: Kernels,
    ) -> Result<Tensor<(), f32, Cpu, T>, ModelError> {
        let n = logits.shape().0;
        if labels.len() != n {
            return Err(ModelError::BatchShape {
                what: "labels.len()",
                expected: n.to_string(),
                actual: labels.len().to_string(),
                fix: "give exactly one label per image".into(),
            });
        }
        if let Some((index, &value)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= K) {
            return Err(ModelError::OutOfRange {
                what: "label",
                value,
                index,
                limit: K,
                fix: "the model's class count K must exceed every label; build it with more classes".into(),
            });
        }
        let labels: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
        if kernels == Kernels::Fused {
            return Ok(ops::try_cross_entropy(logits, &labels, 0.0)?);
        }
        let dev = logits.device().clone();
        let idx = dev.try_tensor_from_vec(labels, (n,))?;
        let lse = logits.retaped::<T>().try_logsumexp::<(usize,), Axis<1>>()?;
        let picked = logits.try_select(idx)?;
        Ok(lse.try_sub(picked)?.try_mean()?)
    }

    /// Parameter counts `(total, prunable, embedding)` from the sizes.
    pub fn param_counts() -> (usize, usize, usize) {
        let block = 4 * D + 4 * (D * D + D) + (D * F + F) + (F * D + D);
        let total = (PV * D + D) + D + NP * D + L * block + 2 * D + (D * K + K);
        (total, L * (4 * D * D + 2 * D * F), PV * D + D * K)
    }
}

impl<const PV: usize, const NP: usize, const D: usize, const F: usize, const L: usize, const K: usize> SparseModel
    for Vit<PV, NP, D, F, L, K>
{
    type Batch = ImageBatch;

    fn loss<T: Tape<f32, Cpu>>(&self, batch: &ImageBatch, tape: T) -> Result<Tensor<(), f32, Cpu, T>, ModelError> {
        // Check labels before the forward pass so that bad input costs nothing.
        if batch.labels.len() != batch.batch {
            return Err(ModelError::BatchShape {
                what: "labels.len()",
                expected: batch.batch.to_string(),
                actual: batch.labels.len().to_string(),
                fix: "give exactly one label per image".into(),
            });
        }
        let logits = self.logits(batch, tape)?;
        Self::cross_entropy(logits, &batch.labels, self.kernels)
    }

    fn info(&self) -> ModelInfo {
        let (total, prunable, embedding) = Self::param_counts();
        ModelInfo {
            family: Family::Vit,
            width: D,
            mlp_width: F,
            heads: self.config.heads,
            encoder_layers: L,
            decoder_layers: 0,
            outputs: K,
            total_params: total,
            prunable_params: prunable,
            embedding_params: embedding,
        }
    }
}
