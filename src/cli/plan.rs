//! `sparse-scaling plan` (to be written).

/// Arguments of `sparse-scaling plan`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `sparse-scaling plan`.
pub fn run(_args: Args) -> super::CliResult {
    Err("not implemented yet".into())
}
