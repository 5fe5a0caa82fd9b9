//! The `sparse-scaling` command line: one file per subcommand, each with its clap `Args`
//! struct and a `run` function. `main.rs` only dispatches.

pub mod analyse;
pub mod check;
pub mod fit;
pub mod plan;
pub mod report;
pub mod run;

/// What every subcommand returns; `main` prints the error with its chain of causes and exits
/// with status 2.
pub type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync + 'static>>;

/// `--family vit|t5`: which model family of a results directory to use (a directory may hold
/// several experiments; one law fits, and one plot compares, one family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FamilyArg {
    /// Vision Transformers.
    Vit,
    /// T5.1.1 encoder–decoders.
    T5,
}

impl From<FamilyArg> for crate::spec::Family {
    fn from(f: FamilyArg) -> Self {
        match f {
            FamilyArg::Vit => crate::spec::Family::Vit,
            FamilyArg::T5 => crate::spec::Family::T5,
        }
    }
}
