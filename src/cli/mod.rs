//! The `sparse-scaling` command line: one file per subcommand, each with its clap `Args`
//! struct and a `run` function; `main.rs` only dispatches. What `fit` and `analyse` share is
//! in modules of its own: [`CliError`], their common arguments ([`fit_args`]), their files
//! ([`files`]) and the fitting itself ([`fitting`]).

pub mod analyse;
pub mod check;
pub mod fit;
pub mod plan;
pub mod report;
pub mod run;

mod error;
pub mod files;
pub mod fit_args;
pub mod fitting;

pub use error::CliError;

/// What every subcommand returns; `main` prints the error with its chain of causes and exits
/// with status 2.
pub type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync + 'static>>;
