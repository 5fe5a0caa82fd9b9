//! The shape key of a point: everything dfdx needs at compile time to build its model (dfdx
//! fixes parameter shapes in the type, docs/THEORY.md §5). Two points with the same key train
//! with the same monomorphised code; the built-in size table of the CLI, the tables `sweep!`
//! generates and `check` all speak in these keys.
//!
//! ```
//! use sparse_scaling_experiment::{Experiment, ShapeKey};
//! let exp = Experiment::from_ron_str(r#"(
//!     name: "cifar-shaped",
//!     model: (family: Vit, sizes: Widths([64]), depth: 6, vit: (image_size: 32, patch_size: 4)),
//!     steps: [100],
//! )"#).unwrap();
//! let key = ShapeKey::of(&exp.expand().unwrap()[0].spec);
//! assert_eq!(key, ShapeKey::Vit { width: 64, mlp_width: 256, depth: 6, patch_values: 48, patches: 64, classes: 10 });
//! ```

use crate::point::PointSpec;
use crate::schema::Family;

/// What a model's parameter shapes depend on, per family. Runtime settings (heads of a ViT,
/// sequence lengths, batch size) are not part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ShapeKey {
    /// A ViT.
    Vit {
        /// d_model.
        width: usize,
        /// MLP hidden width.
        mlp_width: usize,
        /// Blocks.
        depth: usize,
        /// Values per patch: patch side² × channels.
        patch_values: usize,
        /// Patches per image: (image side / patch side)².
        patches: usize,
        /// Classes.
        classes: usize,
    },
    /// A T5.1.1 encoder–decoder.
    T5 {
        /// d_model.
        width: usize,
        /// MLP hidden width.
        mlp_width: usize,
        /// Layers per stack (encoder and decoder each).
        depth: usize,
        /// Heads (they shape the relative-position bias table).
        heads: usize,
        /// Vocabulary.
        vocab: usize,
    },
    /// A decoder-only language model.
    Decoder {
        /// d_model.
        width: usize,
        /// MLP hidden width.
        mlp_width: usize,
        /// Layers.
        depth: usize,
        /// Heads (they shape the relative-position bias table).
        heads: usize,
        /// Vocabulary.
        vocab: usize,
    },
}

impl ShapeKey {
    /// The key of a point's model.
    pub fn of(spec: &PointSpec) -> ShapeKey {
        let d = &spec.dims;
        match spec.family {
            Family::Vit => {
                let v = spec.vit.clone().unwrap_or_default();
                let side = v.image_size / v.patch_size.max(1);
                ShapeKey::Vit {
                    width: d.width,
                    mlp_width: d.mlp_width,
                    depth: d.depth,
                    patch_values: v.patch_size * v.patch_size * v.channels,
                    patches: side * side,
                    classes: v.classes,
                }
            }
            Family::T5 => {
                let t = spec.t5.clone().unwrap_or_default();
                ShapeKey::T5 { width: d.width, mlp_width: d.mlp_width, depth: d.depth, heads: d.heads, vocab: t.vocab }
            }
            Family::Decoder => {
                let t = spec.decoder.clone().unwrap_or_default();
                ShapeKey::Decoder {
                    width: d.width,
                    mlp_width: d.mlp_width,
                    depth: d.depth,
                    heads: d.heads,
                    vocab: t.vocab,
                }
            }
        }
    }

    /// The family.
    pub fn family(self) -> Family {
        match self {
            ShapeKey::Vit { .. } => Family::Vit,
            ShapeKey::T5 { .. } => Family::T5,
            ShapeKey::Decoder { .. } => Family::Decoder,
        }
    }

    /// d_model.
    pub fn width(self) -> usize {
        match self {
            ShapeKey::Vit { width, .. } | ShapeKey::T5 { width, .. } | ShapeKey::Decoder { width, .. } => width,
        }
    }
}

impl std::fmt::Display for ShapeKey {
    /// `vit width 64 (MLP width 256), depth 6, 64 patches of 48 values, 10 classes`;
    /// `t5 width 64 (MLP width 160), depth 2+2, 4 heads, vocabulary 384`;
    /// `decoder width 64 (MLP width 160), depth 2, 4 heads, vocabulary 384`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ShapeKey::Vit { width, mlp_width, depth, patch_values, patches, classes } => write!(
                f,
                "vit width {width} (MLP width {mlp_width}), depth {depth}, {patches} patches of {patch_values} values, {classes} classes"
            ),
            ShapeKey::T5 { width, mlp_width, depth, heads, vocab } => {
                write!(f, "t5 width {width} (MLP width {mlp_width}), depth {depth}+{depth}, {heads} heads, vocabulary {vocab}")
            }
            ShapeKey::Decoder { width, mlp_width, depth, heads, vocab } => {
                write!(f, "decoder width {width} (MLP width {mlp_width}), depth {depth}, {heads} heads, vocabulary {vocab}")
            }
        }
    }
}
