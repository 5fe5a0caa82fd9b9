//! The model shapes compiled into this binary.
//!
//! dfdx needs parameter shapes at compile time, so the training code of a model is
//! monomorphised per [`ShapeKey`]: family, width, MLP width, depth and the input/output
//! shape. The runner can therefore only train keys listed in a table; `check` and `run`
//! reject other points with [`UnsupportedSize`], which lists what is compiled and how to add
//! a shape.
//!
//! **Other shapes:** `sparse-scaling run FILE.ron` builds, once, a runner whose table has
//! exactly the file's keys (`super::build`), so a study never needs this table edited. To
//! add a shape to the CLI itself, add its key to the `compiled_shapes!` invocation below and
//! rebuild. Each
//! key adds about 17 s (ViT) to 24 s (T5) of compile time on 2 cores (one more copy of the model
//! and training code; measured in `docs/PERFORMANCE.md`, "Build time as a sweep gains sizes").
//! In your own crate, the `sweep!` macro generates exactly the keys your sweep needs instead.

use std::path::PathBuf;

use crate::experiment::{ExperimentFile, Family, Point, Pos, ShapeKey, Sizes};

/// Receives the const shape of a compiled key (see [`SizeTable::dispatch`]).
pub trait SizeVisitor {
    /// What visiting returns.
    type Output;
    /// Called for a ViT with `PV` values per patch, `NP` patches, width `D`, MLP width `F`,
    /// `L` blocks and `K` classes.
    fn vit<const PV: usize, const NP: usize, const D: usize, const F: usize, const L: usize, const K: usize>(
        self,
    ) -> Self::Output;
    /// Called for a T5 with vocabulary `V`, width `D`, MLP width `F`, `H` heads and `L` layers
    /// per stack.
    fn t5<const V: usize, const D: usize, const F: usize, const H: usize, const L: usize>(self) -> Self::Output;
    /// Called for a decoder-only model with vocabulary `V`, width `D`, MLP width `F`, `H`
    /// heads and `L` layers.
    fn decoder<const V: usize, const D: usize, const F: usize, const H: usize, const L: usize>(self) -> Self::Output;
}

/// A point's model shape is not compiled into this binary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}point {index} needs a {key} model, which is not compiled into this binary.\n  compiled {family} models: {compiled}\n  fix: run the file with `sparse-scaling run` without `--no-build`: it builds, once, a runner with exactly the file's shapes; or use a compiled shape in the experiment (default mlp_ratio, depth and input shape); or add the key to `compiled_shapes!` in src/runner/registry.rs and rebuild; or declare the study with the `sweep!` macro in your own crate, which compiles exactly its shapes", located(.at))]
pub struct UnsupportedSize {
    /// Point index.
    pub index: usize,
    /// The point's key.
    pub key: ShapeKey,
    /// Its family.
    pub family: Family,
    /// The compiled keys of that family, described.
    pub compiled: String,
    /// Where the point's model is declared, when the experiment file is known.
    pub at: Option<Box<Declared>>,
}

/// Where a point's model shape is declared in an experiment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The experiment file.
    pub file: PathBuf,
    /// Line and column of the field.
    pub pos: Pos,
    /// The field path (`model.sizes[2]`: a width no compiled key of the family has; `model`:
    /// the width is compiled, so depth, MLP ratio or input shape is what differs).
    pub field: String,
}

/// `file:line:column: ` (the prefix of a located error), or nothing.
fn located(at: &Option<Box<Declared>>) -> String {
    match at {
        Some(d) => format!("{}:{}:{}: ({}) ", d.file.display(), d.pos.line, d.pos.column, d.field),
        None => String::new(),
    }
}

macro_rules! compiled_shapes {
    (
        vit: [$(($vd:literal, $vf:literal, $vl:literal, $vpv:literal, $vnp:literal, $vk:literal)),* $(,)?],
        t5: [$(($td:literal, $tf:literal, $tl:literal, $th:literal, $tv:literal)),* $(,)?],
        decoder: [$(($dd:literal, $df:literal, $dl:literal, $dh:literal, $dv:literal)),* $(,)?] $(,)?
    ) => {
        /// Every compiled key.
        pub const COMPILED: &[ShapeKey] = &[
            $(ShapeKey::Vit { width: $vd, mlp_width: $vf, depth: $vl, patch_values: $vpv, patches: $vnp, classes: $vk },)*
            $(ShapeKey::T5 { width: $td, mlp_width: $tf, depth: $tl, heads: $th, vocab: $tv },)*
            $(ShapeKey::Decoder { width: $dd, mlp_width: $df, depth: $dl, heads: $dh, vocab: $dv },)*
        ];

        /// Calls the visitor with the const shape of `key`, or returns `None` when that key
        /// is not compiled.
        pub fn dispatch<V: SizeVisitor>(key: ShapeKey, visitor: V) -> Option<V::Output> {
            match key {
                $(ShapeKey::Vit { width: $vd, mlp_width: $vf, depth: $vl, patch_values: $vpv, patches: $vnp, classes: $vk } => {
                    Some(visitor.vit::<$vpv, $vnp, $vd, $vf, $vl, $vk>())
                })*
                $(ShapeKey::T5 { width: $td, mlp_width: $tf, depth: $tl, heads: $th, vocab: $tv } => {
                    Some(visitor.t5::<$tv, $td, $tf, $th, $tl>())
                })*
                $(ShapeKey::Decoder { width: $dd, mlp_width: $df, depth: $dl, heads: $dh, vocab: $dv } => {
                    Some(visitor.decoder::<$dv, $dd, $df, $dh, $dl>())
                })*
                _ => None,
            }
        }
    };
}

// ViT: (width, MLP width, depth, values per patch, patches, classes) — depth 2 on the synthetic
// 16×16 RGB images in 4×4 patches (48 values, 16 patches), 10 classes. T5: (width, MLP width,
// layers per stack, heads, vocabulary) — 2 + 2 layers, 4 heads, the data crate's 384-token
// byte vocabulary. Decoder: (width, MLP width, layers, heads, vocabulary) — 2 layers, 4 heads,
// the same vocabulary.
compiled_shapes! {
    vit: [
        (32, 128, 2, 48, 16, 10),
        (48, 192, 2, 48, 16, 10),
        (64, 256, 2, 48, 16, 10),
        (96, 384, 2, 48, 16, 10),
        (128, 512, 2, 48, 16, 10),
    ],
    t5: [(32, 80, 2, 4, 384), (48, 120, 2, 4, 384), (64, 160, 2, 4, 384), (96, 240, 2, 4, 384)],
    decoder: [(32, 80, 2, 4, 384), (48, 120, 2, 4, 384), (64, 160, 2, 4, 384)],
}

/// Whether `point`'s model is compiled into this binary.
pub fn check(point: &Point) -> Result<(), UnsupportedSize> {
    check_in::<Builtin>(point)
}

/// [`check`] against any size table (the CLI's [`Builtin`], or one generated by `sweep!`).
pub fn check_in<T: SizeTable>(point: &Point) -> Result<(), UnsupportedSize> {
    let key = ShapeKey::of(&point.spec);
    if T::keys().contains(&key) {
        return Ok(());
    }
    let family = key.family();
    let compiled: Vec<String> = T::keys().iter().filter(|k| k.family() == family).map(ToString::to_string).collect();
    Err(UnsupportedSize {
        index: point.index,
        key,
        family,
        compiled: if compiled.is_empty() { "none".into() } else { compiled.join("; ") },
        at: None,
    })
}

/// [`check_in`] for a point of `file`, with the error located at the point's width in
/// `model.sizes` (or at `model` when that width is compiled with another depth or input shape).
pub fn check_in_file<T: SizeTable>(file: &ExperimentFile, point: &Point) -> Result<(), UnsupportedSize> {
    check_in::<T>(point).map_err(|mut e| {
        let width = e.key.width();
        let width_compiled = T::keys().iter().any(|k| k.family() == e.family && k.width() == width);
        let field = match &file.experiment.model.sizes {
            Sizes::Widths(ws) if !width_compiled => {
                ws.iter().position(|&w| w == width).map(|i| format!("model.sizes[{i}]"))
            }
            _ => None,
        }
        .unwrap_or_else(|| if width_compiled { "model".into() } else { "model.sizes".into() });
        e.at = Some(Box::new(Declared { file: file.path.clone(), pos: file.position(&field), field }));
        e
    })
}

/// The points of `file` whose shapes are not in `T`, each located in the file.
pub fn missing_in_file<T: SizeTable>(file: &ExperimentFile, points: &[Point]) -> Vec<UnsupportedSize> {
    points.iter().filter_map(|p| check_in_file::<T>(file, p).err()).collect()
}

/// A table of compiled shapes: the CLI's built-in one ([`Builtin`]), or one generated by
/// `sweep!` in a user's crate with exactly the keys that sweep needs.
pub trait SizeTable {
    /// Every key in the table.
    fn keys() -> &'static [ShapeKey];
    /// Calls the visitor with the const shape of `key`, or returns `None` when that key is
    /// not in the table.
    fn dispatch<V: SizeVisitor>(key: ShapeKey, visitor: V) -> Option<V::Output>;
}

/// The shapes compiled into the `sparse-scaling` binary (`compiled_shapes!` above).
pub struct Builtin;

impl SizeTable for Builtin {
    fn keys() -> &'static [ShapeKey] {
        COMPILED
    }
    fn dispatch<V: SizeVisitor>(key: ShapeKey, visitor: V) -> Option<V::Output> {
        dispatch(key, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the const shape back into a key.
    struct Back;
    impl SizeVisitor for Back {
        type Output = ShapeKey;
        fn vit<const PV: usize, const NP: usize, const D: usize, const F: usize, const L: usize, const K: usize>(
            self,
        ) -> ShapeKey {
            ShapeKey::Vit { width: D, mlp_width: F, depth: L, patch_values: PV, patches: NP, classes: K }
        }
        fn t5<const V: usize, const D: usize, const F: usize, const H: usize, const L: usize>(self) -> ShapeKey {
            ShapeKey::T5 { width: D, mlp_width: F, depth: L, heads: H, vocab: V }
        }
        fn decoder<const V: usize, const D: usize, const F: usize, const H: usize, const L: usize>(self) -> ShapeKey {
            ShapeKey::Decoder { width: D, mlp_width: F, depth: L, heads: H, vocab: V }
        }
    }

    #[test]
    fn dispatch_matches_table() {
        for &key in COMPILED {
            assert_eq!(dispatch(key, Back), Some(key), "the const shape of {key} is the key's");
        }
        let vit = ShapeKey::Vit { width: 64, mlp_width: 256, depth: 2, patch_values: 48, patches: 16, classes: 10 };
        assert!(dispatch(vit, Back).is_some());
        let deeper = ShapeKey::Vit { width: 64, mlp_width: 256, depth: 6, patch_values: 48, patches: 16, classes: 10 };
        assert!(dispatch(deeper, Back).is_none(), "depth is part of the key");
        let cifar = ShapeKey::Vit { width: 64, mlp_width: 256, depth: 2, patch_values: 48, patches: 64, classes: 10 };
        assert!(dispatch(cifar, Back).is_none(), "so is the image shape");
        let t5 = ShapeKey::T5 { width: 32, mlp_width: 128, depth: 2, heads: 4, vocab: 384 };
        assert!(dispatch(t5, Back).is_none(), "T5 at the ViT MLP ratio is not compiled");
        let decoder = ShapeKey::Decoder { width: 48, mlp_width: 120, depth: 2, heads: 4, vocab: 384 };
        assert_eq!(dispatch(decoder, Back), Some(decoder), "the decoder is compiled");
        let t5 = ShapeKey::T5 { width: 48, mlp_width: 120, depth: 2, heads: 4, vocab: 384 };
        assert_eq!(dispatch(t5, Back), Some(t5), "and is a different key from the T5 of the same sizes");
    }

    #[test]
    fn an_unsupported_point_is_located_in_its_file() {
        let text = "(\n  name: \"x\",\n  model: (family: Vit, sizes: Widths([32, 80])),\n  sparsity: [0.0],\n  steps: [10],\n)";
        let file = ExperimentFile::from_str("x.ron", text).unwrap();
        let points = file.expand().unwrap();
        let missing = missing_in_file::<Builtin>(&file, &points);
        assert_eq!(missing.len(), 1, "width 32 is compiled");
        let e = missing[0].to_string();
        assert!(e.starts_with("x.ron:3:43: (model.sizes[1]) point 1 needs a vit width 80"), "{e}");
        assert_eq!(check_in::<Builtin>(&points[1]).unwrap_err().at, None, "a point alone has no place");
        // a compiled width at another depth: the model is what differs
        let deeper =
            ExperimentFile::from_str("x.ron", &text.replace("Widths([32, 80])", "Widths([32]), depth: 3")).unwrap();
        let points = deeper.expand().unwrap();
        let missing = missing_in_file::<Builtin>(&deeper, &points);
        assert!(
            missing[0].to_string().starts_with("x.ron:3:3: (model) point 0 needs a vit width 32"),
            "{}",
            missing[0]
        );
    }
}
