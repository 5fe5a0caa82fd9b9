//! The `sparse-scaling` binary: parses the command line and dispatches to `sparse_scaling::cli`.

use clap::{Parser, Subcommand};
use sparse_scaling::cli;

#[derive(Parser)]
#[command(
    name = "sparse-scaling",
    version,
    about = "Scaling laws for weight-sparse Transformers: run sweeps, fit L(S, N, D), analyse optimal sparsity."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment (all points, or a subset), then its fit and analysis.
    Run(cli::run::Args),
    /// Expand an experiment into points; optionally write a Slurm job-array script.
    Plan(cli::plan::Args),
    /// Validate an experiment file and list its expanded points.
    Check(cli::check::Args),
    /// Fit a scaling law to measured points (CSV or a results directory).
    Fit(cli::fit::Args),
    /// Fit several laws to the same points with the same held-out points; rank them by held-out error.
    Compare(cli::compare::Args),
    /// Derived quantities of a fitted law: dense-equivalent size, optimal sparsity, contours.
    #[command(alias = "analyze")]
    Analyse(cli::analyse::Args),
    /// Write tables and SVG plots for a results directory.
    Report(cli::report::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => cli::run::run(a),
        Command::Plan(a) => cli::plan::run(a),
        Command::Check(a) => cli::check::run(a),
        Command::Fit(a) => cli::fit::run(a),
        Command::Compare(a) => cli::compare::run(a),
        Command::Analyse(a) => cli::analyse::run(a),
        Command::Report(a) => cli::report::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {}", cli::error_chain(&*e));
        std::process::exit(2);
    }
}
