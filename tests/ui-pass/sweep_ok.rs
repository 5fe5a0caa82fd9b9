use sparse_scaling::runner::registry::{SizeTable, SizeVisitor};
use sparse_scaling::experiment::Family;

sparse_scaling::sweep! {
    pub mod tiny {
        name: "tiny",
        model: (family: Vit, sizes: Widths([32, 48]), heads: 4),
        sparsity: [0.0, 0.5],
        steps: [10],
    }
}

struct Widths;
impl SizeVisitor for Widths {
    type Output = (usize, usize);
    fn vit<const D: usize, const F: usize>(self) -> (usize, usize) {
        (D, F)
    }
    fn t5<const D: usize, const F: usize>(self) -> (usize, usize) {
        (D, F)
    }
}

fn main() {
    assert_eq!(tiny::POINTS, 4);
    assert_eq!(tiny::Sizes::sizes().len(), 2);
    assert_eq!(tiny::Sizes::dispatch(Family::Vit, 48, 192, Widths), Some((48, 192)));
    assert_eq!(tiny::Sizes::dispatch(Family::Vit, 64, 256, Widths), None);
    assert_eq!(tiny::experiment().experiment.name, "tiny");
    let _run: fn(_) -> _ = tiny::run;
}
