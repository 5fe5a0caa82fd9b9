//! The `sparse-scaling` binary: the command line of `sparse_scaling::cli` with the model
//! shapes compiled into it (`runner::registry::Builtin`; other shapes run through a runner
//! built on demand, `runner::build`).

fn main() {
    sparse_scaling::cli::main::<sparse_scaling::runner::registry::Builtin>()
}
