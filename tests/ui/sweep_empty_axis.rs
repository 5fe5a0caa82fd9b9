sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: Vit, sizes: Widths([32]), heads: 4),
        sparsity: [],
        steps: [100],
    }
}

fn main() {}
