//! `sparse-scaling check` (to be written).

/// Arguments of `sparse-scaling check`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `sparse-scaling check`.
pub fn run(_args: Args) -> super::CliResult {
    Err("not implemented yet".into())
}
