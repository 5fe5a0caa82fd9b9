fn main() {
    let _ = sparse_scaling::law!("(a*(1-S)^b + c) * N^(-d) + * D");
}
