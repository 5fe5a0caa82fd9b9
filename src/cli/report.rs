//! `sparse-scaling report` (to be written).

/// Arguments of `sparse-scaling report`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `sparse-scaling report`.
pub fn run(_args: Args) -> super::CliResult {
    Err("not implemented yet".into())
}
