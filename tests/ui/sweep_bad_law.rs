sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: Vit, sizes: Widths([32]), heads: 4),
        sparsity: [0.5],
        steps: [100],
        analysis: (law: "(a*(1-S)^b + c) * N^(-d) +"),
    }
}

fn main() {}
