sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: T5, sizes: Widths([32]), t5: (vocab: 260)),
        sparsity: [0.0],
        steps: [100],
    }
}

fn main() {}
