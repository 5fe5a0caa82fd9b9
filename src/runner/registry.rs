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

/// A point's size is not compiled into this binary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("point {index} needs a {family} model of width {width} with MLP width {mlp_width}, which is not compiled into this binary.\n  compiled {family} sizes (width/MLP width): {compiled}\n  fix: use one of these widths in the experiment (with the default mlp_ratio), or add `({width}, {mlp_width})` to the {family} list of `compiled_sizes!` in src/runner/registry.rs and rebuild")]
pub struct UnsupportedSize {
    /// Point index.
    pub index: usize,
    /// Family.
    pub family: Family,
    /// Width asked for.
    pub width: usize,
    /// MLP width asked for.
    pub mlp_width: usize,
    /// The compiled sizes of that family, formatted.
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

/// Whether `point`'s size is compiled.
pub fn check(point: &Point) -> Result<(), UnsupportedSize> {
    let d = &point.spec.dims;
    if COMPILED.iter().any(|c| c.family == point.spec.family && c.width == d.width && c.mlp_width == d.mlp_width) {
        return Ok(());
    }
    Err(UnsupportedSize {
        index: point.index,
        family: point.spec.family,
        width: d.width,
        mlp_width: d.mlp_width,
        compiled: COMPILED
            .iter()
            .filter(|c| c.family == point.spec.family)
            .map(|c| format!("{}/{}", c.width, c.mlp_width))
            .collect::<Vec<_>>()
            .join(", "),
    })
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
