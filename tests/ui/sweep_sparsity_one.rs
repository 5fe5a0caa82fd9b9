sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: Vit, sizes: Widths([32, 64]), heads: 4),
        sparsity: [0.0, 0.5, 1.0],
        steps: [100],
    }
}

fn main() {}
