sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: Vit, sizes: Widths([32]), heads: 4),
        steps: [18446744073709551615],
        optimizer: AdamW(weight_decay: inf),
    }
}

fn main() {}
