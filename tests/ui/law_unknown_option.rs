fn main() {
    let _ = sparse_scaling::law!("a*N^b + c", variables = [N]);
}
