//! Models: ViT, T5.1.1 and a decoder-only language model written on dfdx 0.13, pre-norm, with the
//! blocks the paper's models use (docs/THEORY.md §5; Frantar et al. 2023, §2 "Experimental
//! setup"; the decoder-only network of docs/THEORY.md §6). Dense dfdx's built-in transformer is
//! post-norm with ReLU and no masks or relative bias, so the blocks are our own.
//!
//! Every model implements [`SparseModel`]: a dfdx [`TensorCollection`] (so one visitor pass can
//! prune, count, optimise or checkpoint it) that computes the mean training loss of a batch.
//!
//! Speed: every projection is one 2-D product on token-flattened activations `(B·T, width)`.
//! With [`Kernels::Fused`] (the default) the hot spots run on the fused, multi-threaded ops of
//! [`crate::ops`] (linear, bias + GELU, gated GELU, LayerNorm, RMSNorm, attention without head
//! permutes, cross-entropy with z-loss); [`Kernels::Reference`] runs the same function on plain
//! dfdx ops. The tests check both against an independent naive f64 implementation and against
//! finite differences.
//!
//! Weight shapes are const generic parameters (dfdx needs parameter shapes known at compile time);
//! batch size and sequence length are runtime, as are the parts of the configuration that do not
//! change a parameter's shape (ViT heads, patch size, pooling; T5 and decoder relative-attention
//! max distance, z-loss). Depth is a const parameter because dfdx's `TensorCollection::iter_tensors` has no
//! access to the value being visited, so the number of blocks must be known from the type.
//!
//! # Parameter naming contract
//!
//! The sparsity code classifies parameters by the dotted path dfdx's visitor gives them
//! (`ViewTensorName`), never by model type. Every model in this module keeps to these rules:
//!
//! * **Prunable** (attention q, k, v, o and MLP matrices; counted in N): the path has a component
//!   exactly `attn`, `self_attn`, `cross_attn` or `mlp`, its last component is exactly `weight`, and
//!   the tensor is rank 2 stored as `(out, in)` like dfdx's `Linear` (input axis last, so n:m groups
//!   run along the last axis). Example: `blocks.3.attn.q.weight`, `decoder.layers.0.mlp.wi_0.weight`.
//! * **Embedding-like** (optionally pruned at 1 − √(1 − S), never counted in N): the path has a
//!   component exactly `embed`, `tok_embed`, `patch_embed`, `lm_head` or `head`, its last component
//!   is `weight`, rank 2, `(out, in)` for projections and `(vocab, width)` for the token table.
//!   Example: `tok_embed.weight`, `patch_embed.weight`, `head.weight`, `lm_head.weight`.
//! * **Everything else** matches neither rule: norm gains are `gamma` / `beta` under components
//!   such as `norm1`, `final_norm`; biases end in `bias`; positions are `positions`; the class token
//!   is `cls_token`; the T5 and decoder-only relative-position bias is `encoder.rel_bias.table` /
//!   `decoder.rel_bias.table`. None of these lies under an `attn`/`mlp`/embedding component with
//!   last component `weight`.
//!
//! [`crate::params::role_of`] applies the rule, so models, pruner, optimizers and tests share one
//! definition.

/// `impl TensorCollection` for a struct whose fields are all sub-modules, each visited under
/// its own field name (the names the parameter naming contract above relies on). The struct's
/// generic parameters are its `usize` constants, then the dtype and the device. The models
/// here use it, and so can a user's own model:
///
/// ```
/// use sparse_scaling::dfdx::{nn::modules, prelude::*};
/// struct Mlp<E: Dtype, Dev: Device<E>> {
///     fc1: modules::Linear<4, 8, E, Dev>,
///     fc2: modules::Linear<8, 4, E, Dev>,
/// }
/// sparse_scaling::modules!(Mlp<> { fc1, fc2 });
/// let dev = Cpu::default();
/// let m = Mlp::<f32, Cpu> { fc1: dev.build_module::<Linear<4, 8>, f32>(), fc2: dev.build_module::<Linear<8, 4>, f32>() };
/// let paths: Vec<String> = sparse_scaling::sparsity::list_params(&m).into_iter().map(|p| p.path).collect();
/// assert_eq!(paths, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// ```
#[macro_export]
macro_rules! modules {
    ($name:ident < $($g:ident),* > { $($field:ident),+ $(,)? }) => {
        impl<$(const $g: usize,)* E, Dev> $crate::dfdx::prelude::TensorCollection<E, Dev> for $name<$($g,)* E, Dev>
        where
            E: $crate::model::Element,
            Dev: $crate::dfdx::prelude::Device<E>,
        {
            type To<E2: $crate::dfdx::prelude::Dtype, D2: $crate::dfdx::prelude::Device<E2>> = $name<$($g,)* E2, D2>;

            fn iter_tensors<V: $crate::dfdx::prelude::ModuleVisitor<Self, E, Dev>>(
                visitor: &mut V,
            ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
                visitor.visit_fields(
                    ($(Self::module(stringify!($field), |s| &s.$field, |s| &mut s.$field),)+),
                    |($($field,)+)| $name { $($field),+ },
                )
            }
        }
    };
}

/// What [`modules!`] asks of a model's element type: what dfdx's own layers (`Linear`,
/// `Embedding`, `LayerNorm1D`) ask to be tensor collections.
pub trait Element: Dtype + rand_distr::num_traits::Float + rand_distr::uniform::SampleUniform {}

impl<E: Dtype + rand_distr::num_traits::Float + rand_distr::uniform::SampleUniform> Element for E {}

pub mod attention;
pub mod decoder;
pub mod layers;
pub mod t5;
pub mod vit;

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

pub use attention::relative_position_bucket;
pub use decoder::{Decoder, DecoderConfig};
pub use t5::{T5Base, T5Config, T5Ref, T5};
pub use vit::{Pooling, Vit, VitB16, VitConfig, VitRef};

/// Batches come from the data crate: [`ImageBatch`] (NCHW pixels + labels) for ViT,
/// [`TextBatch`] (row-major `batch × len` token ids, PAD = 0, EOS = 1) for T5 and [`LmBatch`]
/// (row-major `batch × len` token ids, PAD-padded) for the decoder-only model.
pub use sparse_scaling_data::{ImageBatch, LmBatch, TextBatch};

/// Token id of padding (also the decoder start token); `sparse_scaling_data::vocab::PAD`.
pub const PAD: u32 = sparse_scaling_data::vocab::PAD;

/// Which kernels a model's forward and backward passes use. Both compute the same function
/// (the tests check both against an independent naive implementation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kernels {
    /// Plain dfdx 0.13 ops: the reference.
    Reference,
    /// The fused, multi-threaded ops of [`crate::ops`] (linear, bias+GELU, gated GELU,
    /// LayerNorm, RMSNorm, attention, cross-entropy). The default.
    #[default]
    Fused,
}

/// Which architecture a model is: the experiment crate's one `Family`.
pub use crate::experiment::Family;

/// Sizes and parameter counts of a built model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Architecture.
    pub family: Family,
    /// Embedding (model) width.
    pub width: usize,
    /// Hidden width of the MLPs.
    pub mlp_width: usize,
    /// Attention heads per attention layer.
    pub heads: usize,
    /// Blocks in the encoder (ViT: all blocks).
    pub encoder_layers: usize,
    /// Blocks in the decoder (ViT: 0; decoder-only: all blocks).
    pub decoder_layers: usize,
    /// Output classes (ViT) or vocabulary size (T5, decoder-only).
    pub outputs: usize,
    /// All trainable scalars.
    pub total_params: usize,
    /// Scalars in prunable matrices (attention and MLP weights): N of the paper at density 1.
    pub prunable_params: usize,
    /// Scalars in embedding-like matrices (token/patch embedding, output head).
    pub embedding_params: usize,
}

/// Errors of model construction and of the forward pass.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A configuration value is not usable with this model type.
    #[error("invalid model config: `{field}` = {value}: {reason}")]
    InvalidConfig {
        /// Name of the config field.
        field: &'static str,
        /// The value given.
        value: String,
        /// Why it is invalid and how to fix it.
        reason: String,
    },
    /// A batch does not have the shape the model was built for.
    #[error("batch shape mismatch in `{what}`: expected {expected}, got {actual}; {fix}")]
    BatchShape {
        /// Which quantity disagrees.
        what: &'static str,
        /// What the model needs.
        expected: String,
        /// What the batch has.
        actual: String,
        /// How to fix it.
        fix: String,
    },
    /// A label or token id is outside the model's output range.
    #[error("{what} {value} at index {index} is out of range (must be < {limit}); {fix}")]
    OutOfRange {
        /// "label" or "token".
        what: &'static str,
        /// The offending value.
        value: u32,
        /// Flat index into the batch vector.
        index: usize,
        /// Exclusive upper bound.
        limit: usize,
        /// How to fix it.
        fix: String,
    },
    /// dfdx's CPU device failed (out of memory or a wrong element count).
    #[error("tensor device error")]
    Device(#[from] dfdx::tensor::CpuError),
}

/// A model the training loop can train and the pruner can sparsify.
///
/// `TensorCollection` gives the named-parameter visitor (see the naming contract in the module
/// docs); `loss` is the mean training loss of one batch, recorded on `tape` (pass
/// `OwnedTape` from `model.alloc_grads()` / `.traced()` to train, `NoneTape` to evaluate).
pub trait SparseModel: TensorCollection<f32, Cpu> + Clone + Send {
    /// The batch type (ViT: [`ImageBatch`], T5: [`TextBatch`], decoder-only: [`LmBatch`]).
    type Batch;

    /// Mean training loss of a batch. ViT: softmax cross-entropy of the labels. T5: teacher-forced
    /// cross-entropy averaged over non-PAD target tokens, plus `z_loss · mean(logsumexp²)` over the
    /// same tokens when the config's z-loss is non-zero. Decoder-only: the same over the non-PAD
    /// tokens of the rows, each predicted from the tokens before it.
    fn loss<T: Tape<f32, Cpu>>(&self, batch: &Self::Batch, tape: T) -> Result<Tensor<(), f32, Cpu, T>, ModelError>;

    /// Family, sizes and parameter counts.
    fn info(&self) -> ModelInfo;
}

/// Paper width scaling (docs/THEORY.md §5: "embedding and MLP width × √scale, depth and heads fixed").
///
/// Returns `(width, mlp_width)` for a base model scaled by `scale`, each rounded to the nearest
/// multiple of `multiple` (use the head count, or a multiple of it, so heads still divide the
/// width). Errors when `scale` is not positive and finite or `multiple` is 0.
///
/// ```
/// use sparse_scaling::model::scaled_widths;
/// // ViT-B-like base (768, 3072) at scale 0.25 -> × 0.5.
/// assert_eq!(scaled_widths(768, 3072, 0.25, 12).unwrap(), (384, 1536));
/// ```
pub fn scaled_widths(
    base_width: usize,
    base_mlp: usize,
    scale: f64,
    multiple: usize,
) -> Result<(usize, usize), ModelError> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(ModelError::InvalidConfig {
            field: "scale",
            value: format!("{scale}"),
            reason: "the width scale must be a positive finite number, e.g. 0.25 or 2".into(),
        });
    }
    if multiple == 0 {
        return Err(ModelError::InvalidConfig {
            field: "multiple",
            value: "0".into(),
            reason: "round widths to a multiple ≥ 1 (usually the number of heads)".into(),
        });
    }
    let f = scale.sqrt();
    let round = |w: usize| {
        let m = multiple as f64;
        (((w as f64 * f) / m).round() as usize).max(1) * multiple
    };
    Ok((round(base_width), round(base_mlp)))
}
