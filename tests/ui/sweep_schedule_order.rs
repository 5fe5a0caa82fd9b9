sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: Vit, sizes: Widths([32]), heads: 4),
        sparsity: [0.5],
        pruning: [Gmp(start: Fraction(0.75), end: Fraction(0.25))],
        steps: [100],
    }
}

fn main() {}
