sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: Vit, sizes: Widths([32]), heads: 4),
        sparsity: [0.5],
        stepz: [100],
    }
}

fn main() {}
