fn main() {
    let l = sparse_scaling::law!("(a*(1-S)^b + c) * N^(-d) + e*D^(-f) + g");
    assert_eq!(l.param_names().len(), 7);
    let c = sparse_scaling::law!("E + A/P^alpha + B/T^beta", vars = [P, T]);
    assert_eq!(c.var_names(), ["P", "T"]);
}
