//! `sparse-scaling report <results dir>`: tables and SVG plots of a results directory
//! (see [`crate::report`]). The analysis settings come from `--experiment`, else from the
//! `experiment.ron` that `run` keeps in the results directory.

use std::path::PathBuf;

use crate::spec::ExperimentFile;

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
    let analysis = if args.no_fit || !exp_path.exists() {
        None
    } else {
        ExperimentFile::load(&exp_path)?.experiment.analysis
    };
    let summary = crate::report::write_report(&args.results, analysis.as_ref())?;
    if !summary.text.is_empty() {
        println!("{}", summary.text);
    }
    for f in &summary.files {
        println!("wrote {}", f.display());
    }
    Ok(())
}
