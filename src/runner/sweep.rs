//! Running a sweep declared with `sweep!` in a user's crate: the same runner as the CLI's
//! `run`, with the size table the macro generated instead of the CLI's built-in one, then the
//! experiment's fit, analysis and report once every point has a record.

use super::executor::TrainExecutor;
use super::registry::SizeTable;
use super::{run, RunError, RunOptions, RunReport};
use crate::experiment::ExperimentFile;
use crate::report::{write_report, ReportSummary};
use crate::results::{ResultsDir, ResultsError};

/// What [`run_sweep`] did.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    /// The status of every selected point.
    pub run: RunReport,
    /// The report (fit, analysis, tables, plots), once every point has a record.
    pub report: Option<ReportSummary>,
}

/// Trains the selected points of `file` with the sizes of `T`, skipping finished points and
/// resuming interrupted ones, then — when every point has a record — writes the report with
/// the experiment's fit and analysis into `options.results`.
pub fn run_sweep<T: SizeTable>(file: &ExperimentFile, options: RunOptions) -> Result<SweepOutcome, RunError> {
    let points = file.expand()?;
    let store = ResultsDir::open(&options.results)?;
    // kept beside the results, so that `sparse-scaling report <dir>` knows the analysis
    let copy = store.root().join("experiment.ron");
    if !copy.exists() {
        std::fs::write(&copy, &file.source).map_err(|source| ResultsError::Io {
            action: "write",
            path: copy.clone(),
            source,
        })?;
    }
    let executor = TrainExecutor::<T>::new(false);
    let run_report = run(&file.experiment.name, &points, &file.base_dir(), &executor, &options)?;
    let report = if run_report.all_finished {
        // the report covers this experiment's points only, even in a shared results directory
        let hashes: Vec<String> = points.iter().map(|p| p.hash.clone()).collect();
        Some(write_report(&options.results, file.experiment.analysis.as_ref(), Some(&hashes), None, false)?)
    } else {
        None
    };
    Ok(SweepOutcome { run: run_report, report })
}
