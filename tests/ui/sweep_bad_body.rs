sparse_scaling::sweep!(mod s ("experiments/quickstart.ron"));

fn main() {}
