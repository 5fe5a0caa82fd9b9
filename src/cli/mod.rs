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
