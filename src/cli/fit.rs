//! `sparse-scaling fit`: fits a scaling law to measured points (docs/THEORY.md §2) and prints
//! the coefficients with their bootstrap intervals and the quality of the fit; optionally writes
//! the fit as JSON (read by `sparse-scaling analyse`) and a predicted-vs-measured SVG plot.
//!
//! ```text
//! sparse-scaling fit law/tests/data/t5-data.csv --preset t5-paper --bootstrap 200 --json t5-fit.json --plot t5-fit.svg
//! sparse-scaling fit runs.csv --var 'N=24*(12*768^2)*scale*(1-sparsity)/1e6' --var 'D=steps/1e5' \
//!     --var S=sparsity --loss val-loss --law paper-normalised --huber-delta 1e-3 --log --starts 25
//! ```
//!
//! The arguments it shares with `analyse` are in [`super::fit_args`], the loading and fitting
//! in [`super::fitting`].

use std::path::PathBuf;

use super::files::write_json;
use super::fit_args::{DataArgs, FitArgs};
use super::fitting::{fit_from_args, format_fit};
use super::output::{print, println};
use super::CliError;
use sparse_scaling_law::analysis::FitRecord;
use sparse_scaling_law::plot::{predicted_vs_measured_svg, write_svg, FitPoint};

/// Arguments of `sparse-scaling fit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV file of measured points (one row per run), or a results directory of
    /// `sparse-scaling run`.
    pub file: PathBuf,
    /// Where the points come from and how CSV columns become variables.
    #[command(flatten)]
    pub data: DataArgs,
    /// The law and the fitting procedure.
    #[command(flatten)]
    pub fit: FitArgs,
    /// Write the fit (law, options, points, coefficients, intervals, residuals) as JSON; this is
    /// the input of `sparse-scaling analyse`.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a predicted-vs-measured SVG plot, coloured by sparsity.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Also print every point with its prediction and residual.
    #[arg(long)]
    pub points: bool,
}

/// The predicted-vs-measured plot of a fit.
pub fn fit_plot(r: &FitRecord) -> Result<String, CliError> {
    let s = r.observations.column("S");
    let pts: Vec<FitPoint> = (0..r.observations.len())
        .map(|i| FitPoint {
            measured: r.observations.loss[i],
            predicted: r.fit.predictions[i],
            sparsity: s.map_or(0.0, |c| c[i]),
        })
        .collect();
    let title = format!("{} — R² = {:.4}, {} points", r.law.name.as_deref().unwrap_or("fit"), r.fit.r2, pts.len());
    predicted_vs_measured_svg(&pts, &title).map_err(CliError::Plot)
}

/// Runs `sparse-scaling fit`.
pub fn run(args: Args) -> super::CliResult {
    let record = fit_from_args(&args.file, &args.data, &args.fit)?;
    print(format_fit(&record, args.points))?;
    if let Some(p) = &args.json {
        write_json(p, &record)?;
        println(format_args!("wrote {}", p.display()))?;
    }
    if let Some(p) = &args.plot {
        write_svg(p, &fit_plot(&record)?).map_err(CliError::Plot)?;
        println(format_args!("wrote {}", p.display()))?;
    }
    Ok(())
}
