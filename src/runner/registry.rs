//! The model sizes compiled into this binary.
//!
//! dfdx needs parameter shapes at compile time, so the training code of a model width is
//! monomorphised per (width, MLP width). The runner can therefore only train widths listed
//! here; `check` and `run` reject other sizes with [`UnsupportedSize`], which lists what is
//! compiled and how to add a size.
//!
//! **Adding a size:** add `(width, mlp_width)` to the family's list in the
//! `compiled_sizes!` invocation below and rebuild. Each size adds a few seconds of compile
//! time (one more copy of the model and training code). The MLP width follows the
//! experiment's `mlp_ratio` (defaults: ViT 4, T5 2.5). In your own crate, the `sweep!`
//! macro generates exactly the sizes your sweep needs instead.

use crate::spec::{Family, Point};

/// One compiled size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompiledSize {
    /// Family.
    pub family: Family,
    /// d_model.
    pub width: usize,
    /// MLP hidden width.
    pub mlp_width: usize,
}

/// Receives the const widths of a compiled size (see [`dispatch`]).
pub trait SizeVisitor {
    /// What visiting returns.
    type Output;
    /// Called for a ViT of width `D` and MLP width `F`.
    fn vit<const D: usize, const F: usize>(self) -> Self::Output;
    /// Called for a T5 of width `D` and MLP width `F`.
    fn t5<const D: usize, const F: usize>(self) -> Self::Output;
}

/// A point's model shape is not compiled into this binary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("point {index} needs a {family} model with {what}, which is not compiled into this binary.\n  compiled {family} models: {compiled}\n  fix: use a compiled size in the experiment (with the default mlp_ratio and shape), or add the (width, MLP width) to the {family} list of `compiled_sizes!` in src/runner/registry.rs and rebuild (other shapes: change VIT_SHAPE / T5_SHAPE there), or use the `sweep!` macro in your own crate")]
pub struct UnsupportedSize {
    /// Point index.
    pub index: usize,
    /// Family.
    pub family: Family,
    /// What the point needs that is not compiled.
    pub what: String,
    /// The compiled models of that family, described.
    pub compiled: String,
}

macro_rules! compiled_sizes {
    (vit: [$(($vd:literal, $vf:literal)),* $(,)?], t5: [$(($td:literal, $tf:literal)),* $(,)?] $(,)?) => {
        /// Every compiled size.
        pub const COMPILED: &[CompiledSize] = &[
            $(CompiledSize { family: Family::Vit, width: $vd, mlp_width: $vf },)*
            $(CompiledSize { family: Family::T5, width: $td, mlp_width: $tf },)*
        ];

        /// Calls the visitor with the const widths of (family, width, mlp_width), or returns
        /// `None` when that size is not compiled.
        pub fn dispatch<V: SizeVisitor>(family: Family, width: usize, mlp_width: usize, visitor: V) -> Option<V::Output> {
            match (family, width, mlp_width) {
                $((Family::Vit, $vd, $vf) => Some(visitor.vit::<$vd, $vf>()),)*
                $((Family::T5, $td, $tf) => Some(visitor.t5::<$td, $tf>()),)*
                _ => None,
            }
        }
    };
}

compiled_sizes! {
    vit: [(32, 128), (48, 192), (64, 256), (96, 384), (128, 512)],
    t5: [(32, 80), (48, 120), (64, 160), (96, 240)],
}

/// The fixed (non-width) shape of the compiled ViTs: depth 2, 16×16 RGB images in 4×4
/// patches (48 values per patch, 16 patches), 10 classes — the data crate's synthetic image
/// stream. Heads are a runtime setting of the ViT.
pub const VIT_SHAPE: VitFixed = VitFixed { depth: 2, image_size: 16, patch_size: 4, channels: 3, classes: 10 };

/// The fixed shape of the compiled T5s: 2 encoder + 2 decoder layers, 4 heads, the data
/// crate's 384-token byte vocabulary, 32 relative-position buckets. Sequence lengths are
/// runtime settings.
pub const T5_SHAPE: T5Fixed = T5Fixed { depth: 2, heads: 4, vocab: 384 };

/// Fixed shape of the compiled ViTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VitFixed {
    /// Blocks.
    pub depth: usize,
    /// Image side.
    pub image_size: usize,
    /// Patch side.
    pub patch_size: usize,
    /// Channels.
    pub channels: usize,
    /// Classes.
    pub classes: usize,
}

/// Fixed shape of the compiled T5s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct T5Fixed {
    /// Layers per stack.
    pub depth: usize,
    /// Heads.
    pub heads: usize,
    /// Vocabulary.
    pub vocab: usize,
}

/// Whether `point`'s model is compiled into this binary: its (width, MLP width) is in the
/// table and its fixed shape is the compiled one.
pub fn check(point: &Point) -> Result<(), UnsupportedSize> {
    let d = &point.spec.dims;
    let listed = |family| {
        COMPILED
            .iter()
            .filter(|c| c.family == family)
            .map(|c| format!("{}/{}", c.width, c.mlp_width))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let err = |what: String| UnsupportedSize {
        index: point.index,
        family: point.spec.family,
        what,
        compiled: match point.spec.family {
            Family::Vit => format!(
                "widths/MLP widths {}; depth {}, {}×{}×{} images, patch {}, {} classes, any heads dividing the width",
                listed(Family::Vit), VIT_SHAPE.depth, VIT_SHAPE.channels, VIT_SHAPE.image_size, VIT_SHAPE.image_size, VIT_SHAPE.patch_size, VIT_SHAPE.classes
            ),
            Family::T5 => format!(
                "widths/MLP widths {}; depth {} + {}, {} heads, vocabulary {}, any sequence lengths",
                listed(Family::T5), T5_SHAPE.depth, T5_SHAPE.depth, T5_SHAPE.heads, T5_SHAPE.vocab
            ),
        },
    };
    if !COMPILED.iter().any(|c| c.family == point.spec.family && c.width == d.width && c.mlp_width == d.mlp_width) {
        return Err(err(format!("width {} with MLP width {}", d.width, d.mlp_width)));
    }
    match point.spec.family {
        Family::Vit => {
            let v = point.spec.vit.clone().unwrap_or_default();
            let got = VitFixed { depth: d.depth, image_size: v.image_size, patch_size: v.patch_size, channels: v.channels, classes: v.classes };
            if got != VIT_SHAPE {
                return Err(err(format!(
                    "depth {}, {}×{}×{} images, patch {}, {} classes",
                    got.depth, got.channels, got.image_size, got.image_size, got.patch_size, got.classes
                )));
            }
        }
        Family::T5 => {
            let t = point.spec.t5.clone().unwrap_or_default();
            let got = T5Fixed { depth: d.depth, heads: d.heads, vocab: t.vocab };
            if got != T5_SHAPE {
                return Err(err(format!("depth {}, {} heads, vocabulary {}", got.depth, got.heads, got.vocab)));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Widths;
    impl SizeVisitor for Widths {
        type Output = (char, usize, usize);
        fn vit<const D: usize, const F: usize>(self) -> Self::Output {
            ('v', D, F)
        }
        fn t5<const D: usize, const F: usize>(self) -> Self::Output {
            ('t', D, F)
        }
    }

    #[test]
    fn dispatch_matches_table() {
        for c in COMPILED {
            let (f, d, m) = dispatch(c.family, c.width, c.mlp_width, Widths).unwrap();
            assert_eq!((f == 'v', d, m), (c.family == Family::Vit, c.width, c.mlp_width));
        }
        assert!(dispatch(Family::Vit, 33, 132, Widths).is_none());
        assert!(dispatch(Family::T5, 32, 128, Widths).is_none(), "T5 at the ViT MLP ratio is not compiled");
    }
}

/// A table of compiled sizes: the CLI's built-in one ([`Builtin`]), or one generated by
/// `sweep!` in a user's crate with exactly the sizes that sweep needs.
pub trait SizeTable {
    /// Every size in the table.
    fn sizes() -> &'static [CompiledSize];
    /// Calls the visitor with the const widths of (family, width, mlp_width), or returns
    /// `None` when that size is not in the table.
    fn dispatch<V: SizeVisitor>(family: Family, width: usize, mlp_width: usize, visitor: V) -> Option<V::Output>;
}

/// The sizes compiled into the `sparse-scaling` binary (`compiled_sizes!` above).
pub struct Builtin;

impl SizeTable for Builtin {
    fn sizes() -> &'static [CompiledSize] {
        COMPILED
    }
    fn dispatch<V: SizeVisitor>(family: Family, width: usize, mlp_width: usize, visitor: V) -> Option<V::Output> {
        dispatch(family, width, mlp_width, visitor)
    }
}
