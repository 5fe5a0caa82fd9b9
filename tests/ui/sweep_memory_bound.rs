sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: Vit, sizes: Widths([32]), heads: 4),
        steps: [100],
        batch_size: 1000000000000,
    }
}

fn main() {}
