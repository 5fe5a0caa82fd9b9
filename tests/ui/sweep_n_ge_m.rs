sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: Vit, sizes: Widths([32]), heads: 4),
        sparsity: [0.5],
        pruning: [NM(n: 4, m: 4)],
        steps: [100],
    }
}

fn main() {}
