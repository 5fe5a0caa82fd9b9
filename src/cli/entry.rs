//! The entry point of the `sparse-scaling` command line, generic over the size table: the
//! CLI's `main` calls it with the built-in table, and an on-demand runner
//! (`crate::runner::build`) with the table `sweep!` generated for its experiment file.

use clap::{Parser, Subcommand};

use crate::runner::registry::SizeTable;

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
// parsed once per process: the size of a variant does not matter
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run an experiment (all points, or a subset), then its fit and analysis.
    Run(super::run::Args),
    /// Expand an experiment into points; optionally write a Slurm job-array script.
    Plan(super::plan::Args),
    /// Validate an experiment file and list its expanded points.
    Check(super::check::Args),
    /// Fit a scaling law to measured points (CSV or a results directory).
    Fit(super::fit::Args),
    /// Fit several laws to the same points with the same held-out points; rank them by held-out error.
    Compare(super::compare::Args),
    /// Derived quantities of a fitted law: dense-equivalent size, optimal sparsity, contours.
    #[command(alias = "analyze")]
    Analyse(super::analyse::Args),
    /// Write tables and SVG plots for a results directory.
    Report(super::report::Args),
    /// Compare final losses directly in the records: equal N, equal cost, m(S), n:m, shapes, seeds.
    Findings(super::findings::Args),
}

/// Parses the command line and runs the subcommand with the model shapes of `T`; prints an
/// error with its chain of causes and exits with status 2 on failure.
pub fn main<T: SizeTable>() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => super::run::run::<T>(a),
        Command::Plan(a) => super::plan::run::<T>(a),
        Command::Check(a) => super::check::run::<T>(a),
        Command::Fit(a) => super::fit::run(a),
        Command::Compare(a) => super::compare::run(a),
        Command::Analyse(a) => super::analyse::run(a),
        Command::Report(a) => super::report::run(a),
        Command::Findings(a) => super::findings::run(a),
    };
    if let Err(e) = result {
        super::output::eprintln(format_args!("error: {}", super::error_chain(&*e)));
        std::process::exit(2);
    }
}
