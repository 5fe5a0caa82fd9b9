sparse_scaling::sweep! {
    mod s {
        name: "bad",
        model: (family: Vit, sizes: Widths([32]), vit: (image_size: 30, patch_size: 4)),
        sparsity: [0.0],
        steps: [100],
    }
}

fn main() {}
