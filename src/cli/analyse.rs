//! `sparse-scaling analyse` (to be written).

/// Arguments of `sparse-scaling analyse`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `sparse-scaling analyse`.
pub fn run(_args: Args) -> super::CliResult {
    Err("not implemented yet".into())
}
