use sparse_scaling::experiment::ShapeKey;
use sparse_scaling::runner::registry::{SizeTable, SizeVisitor};

// A depth list is an axis: one monomorphised entry per (depth, width).
sparse_scaling::sweep! {
    pub mod deep {
        name: "deep",
        model: (family: Vit, sizes: Widths([32, 48]), heads: 4, depth: [1, 3]),
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
    assert_eq!(deep::POINTS, 2 * 2 * 2);
    let keys = deep::Sizes::keys();
    assert_eq!(keys.len(), 4, "one key per (depth, width)");
    for depth in [1, 3] {
        for width in [32, 48] {
            let key =
                ShapeKey::Vit { width, mlp_width: 4 * width, depth, patch_values: 48, patches: 16, classes: 10 };
            assert!(keys.contains(&key), "{key} missing");
            assert_eq!(deep::Sizes::dispatch(key, Back), Some(key));
        }
    }
    let two = ShapeKey::Vit { width: 32, mlp_width: 128, depth: 2, patch_values: 48, patches: 16, classes: 10 };
    assert_eq!(deep::Sizes::dispatch(two, Back), None, "depth 2 is not in the sweep");
}
