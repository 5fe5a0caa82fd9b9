fn main() {
    let _ = sparse_scaling::law!("a * x^b + c");
}
