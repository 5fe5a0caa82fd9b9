//! `sparse-scaling run` (to be written).

/// Arguments of `sparse-scaling run`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `sparse-scaling run`.
pub fn run(_args: Args) -> super::CliResult {
    Err("not implemented yet".into())
}
