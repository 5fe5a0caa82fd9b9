use sparse_scaling::experiment::ShapeKey;
use sparse_scaling::runner::registry::{SizeTable, SizeVisitor};

// Depth and input shape are part of the compiled shape key.
sparse_scaling::sweep! {
    pub mod tiny {
        name: "tiny",
        model: (family: Vit, sizes: Widths([32, 48]), heads: 4, depth: 3, vit: (image_size: 32, patch_size: 8)),
        sparsity: [0.0, 0.5],
        steps: [10],
    }
}

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

fn main() {
    assert_eq!(tiny::POINTS, 4);
    assert_eq!(tiny::Sizes::keys().len(), 2);
    let key = ShapeKey::Vit { width: 48, mlp_width: 192, depth: 3, patch_values: 192, patches: 16, classes: 10 };
    assert_eq!(tiny::Sizes::dispatch(key, Back), Some(key));
    let shallower = ShapeKey::Vit { width: 48, mlp_width: 192, depth: 2, patch_values: 192, patches: 16, classes: 10 };
    assert_eq!(tiny::Sizes::dispatch(shallower, Back), None);
    assert_eq!(tiny::experiment().experiment.name, "tiny");
    let _run: fn(_) -> _ = tiny::run;
}
