//! `sparse-scaling fit` (to be written).

/// Arguments of `sparse-scaling fit`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `sparse-scaling fit`.
pub fn run(_args: Args) -> super::CliResult {
    Err("not implemented yet".into())
}
