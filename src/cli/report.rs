//! `sparse-scaling report <results dir>`: tables and SVG plots of a results directory
//! (see [`crate::report`]). The experiment (its points and analysis settings) comes from
//! `--experiment`, else from the `experiment.ron` that `run` keeps in the results directory;
//! without either, every record is reported and no fit runs. A report covers one model
//! family: in a directory that mixes families' records, choose one with `--family vit|t5|decoder`.
//! `--holdout CONDITION` fits without the points where it holds and marks them in the
//! predicted-vs-measured plot (as the experiment's `analysis.holdout`). Damaged records stop the report, each named with what is wrong with it, unless
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
    /// Hold out of the fit the points where this condition holds (over S, N, D, Nbar in the
    /// analysis's units, and loss; e.g. `N > 50`), predict them with the fit to the others and
    /// mark them in predicted_vs_measured.svg. Overrides the experiment's `analysis.holdout`.
    #[arg(long, value_name = "CONDITION")]
    pub holdout: Option<String>,
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
    let mut analysis = if args.no_fit { None } else { file.as_ref().and_then(|f| f.experiment.analysis.clone()) };
    if let Some(condition) = &args.holdout {
        match analysis.as_mut() {
            Some(a) => a.holdout = Some(condition.clone()),
            None if args.no_fit => {
                return Err("--holdout needs a fit, and --no-fit turns it off\n  fix: drop one of the two".into())
            }
            None => {
                return Err(format!(
                    "--holdout needs a fit, but {} has no `analysis` section\n  fix: give --experiment with an analysis, or add `analysis: ()` to the experiment file",
                    exp_path.display()
                )
                .into())
            }
        }
    }
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
