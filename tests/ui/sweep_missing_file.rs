sparse_scaling::sweep!(mod s = "experiments/does_not_exist.ron");

fn main() {}
