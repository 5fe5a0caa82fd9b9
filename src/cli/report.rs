//! `sparse-scaling report <results dir>`: tables and SVG plots of a results directory
//! (see [`crate::report`]). The experiment (its points and analysis settings) comes from
//! `--experiment`, else from the `experiment.ron` that `run` keeps in the results directory;
//! without either, every record is reported and no fit runs. A report covers one model
//! family: in a directory that mixes families' records, choose one with `--family vit|t5|decoder`.
//! Damaged records stop the report, each named with what is wrong with it, unless
//! `--skip-damaged` (then it says how many it skipped, and which).

use std::path::PathBuf;

use super::output::println;
use crate::experiment::ExperimentFile;

/// Arguments of `sparse-scaling report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The results directory.
    pub results: PathBuf,
    /// Take the analysis settings from this experiment file.
    #[arg(long)]
    pub experiment: Option<PathBuf>,
    /// Only tables and curves: no fit.
    #[arg(long)]
    pub no_fit: bool,
    /// Use every record in the directory, not only the experiment's points.
    #[arg(long)]
    pub all: bool,
    /// Only the records of this model family. Required when the (selected) records mix
    /// families: one law fits, and one plot compares, a single family.
    #[arg(long, value_name = "vit|t5")]
    pub family: Option<crate::experiment::Family>,
    /// Leave out damaged records (truncated, garbage, wrong hash, …) instead of stopping; the
    /// report says how many it skipped and which.
    #[arg(long)]
    pub skip_damaged: bool,
}

/// Runs `sparse-scaling report`.
pub fn run(args: Args) -> super::CliResult {
    if !args.results.join("points").is_dir() {
        return Err(format!(
            "{} is not a results directory (it has no points/ folder)\n  fix: give the directory passed to `run --results` (default results/<experiment name>)",
            args.results.display()
        )
        .into());
    }
    let exp_path = args.experiment.clone().unwrap_or_else(|| args.results.join("experiment.ron"));
    let file = if exp_path.exists() { Some(ExperimentFile::load(&exp_path)?) } else { None };
    let analysis = if args.no_fit { None } else { file.as_ref().and_then(|f| f.experiment.analysis.clone()) };
    let hashes: Option<Vec<String>> = match (&file, args.all) {
        (Some(f), false) => Some(f.expand()?.into_iter().map(|p| p.hash).collect()),
        _ => None,
    };
    let summary = crate::report::write_report(
        &args.results,
        analysis.as_ref(),
        hashes.as_deref(),
        args.family,
        args.skip_damaged,
    )?;
    if !summary.skipped.is_empty() {
        super::files::note(&crate::results::skipped_note(&summary.skipped));
    }
    if !summary.text.is_empty() {
        println(&summary.text)?;
    }
    for f in &summary.files {
        println(format_args!("wrote {}", f.display()))?;
    }
    Ok(())
}
