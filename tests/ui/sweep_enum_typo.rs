sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: Vitt, sizes: Widths([32]), heads: 4),
        steps: [100],
    }
}

fn main() {}
