sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: Vit, sizes: Widths([48]), heads: 4),
        sparsity: [0.5],
        pruning: [NM(n: 16, m: 32)],
        steps: [100],
    }
}

fn main() {}
