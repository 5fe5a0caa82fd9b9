//! `sparse-scaling fit`: fits a scaling law to measured points (docs/THEORY.md §2) and prints
//! the coefficients with their bootstrap intervals, the quality of the fit and whether the data
//! determine each parameter; optionally holds points out of the fit and predicts them
//! (`--holdout CONDITION`, `--cv COLUMN`), writes the fit as JSON (read by
//! `sparse-scaling analyse`) and a predicted-vs-measured SVG plot (held-out points marked).
//!
//! ```text
//! sparse-scaling fit law/tests/data/t5-data.csv --preset t5-paper --bootstrap 200 --json t5-fit.json --plot t5-fit.svg
//! sparse-scaling fit law/tests/data/t5-data.csv --preset t5-paper --holdout 'scale >= 1' --bootstrap 100
//! sparse-scaling fit runs.csv --var 'N=24*(12*768^2)*scale*(1-sparsity)/1e6' --var 'D=steps/1e5' \
//!     --var S=sparsity --loss val-loss --law paper-normalised --huber-delta 1e-3 --log --starts 25
//! ```
//!
//! The arguments it shares with `analyse` are in [`super::fit_args`], the loading and fitting
//! in [`super::fitting`].

use std::path::{Path, PathBuf};

use super::files::write_json;
use super::fit_args::{resolve_law, resolve_options, DataArgs, FitArgs, ValidationArgs};
use super::fitting::{fit_from_args, fit_observations, format_fit, load_from_args};
use super::output::{print, println};
use super::CliError;
use sparse_scaling_law::analysis::{FitRecord, LawSpec};
use sparse_scaling_law::plot::{predicted_vs_measured_held_out_svg, write_svg, FitPoint};
use sparse_scaling_law::validate::{cross_validate, holdout, Scheme};
use sparse_scaling_law::FitError;

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
    /// Which points to hold out of the fit and predict.
    #[command(flatten)]
    pub validation: ValidationArgs,
    /// Write the fit (law, options, points, coefficients, intervals, residuals, held-out
    /// predictions) as JSON; this is the input of `sparse-scaling analyse`.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a predicted-vs-measured SVG plot, coloured by sparsity, held-out points marked.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Also print every point with its prediction and residual.
    #[arg(long)]
    pub points: bool,
}

/// The predicted-vs-measured plot of a fit, with its held-out points if any.
pub fn fit_plot(r: &FitRecord) -> Result<String, CliError> {
    let s = r.observations.column("S");
    let pts: Vec<FitPoint> = (0..r.observations.len())
        .map(|i| FitPoint {
            measured: r.observations.loss[i],
            predicted: r.fit.predictions[i],
            sparsity: s.map_or(0.0, |c| c[i]),
        })
        .collect();
    let held: Vec<FitPoint> = r.holdout.as_ref().map_or(vec![], |v| {
        v.points
            .iter()
            .map(|p| FitPoint {
                measured: p.measured,
                predicted: p.predicted,
                sparsity: p.values.get("S").copied().unwrap_or(0.0),
            })
            .collect()
    });
    let held_text = if held.is_empty() { String::new() } else { format!(", {} held out", held.len()) };
    let title =
        format!("{} — R² = {:.4}, {} points{held_text}", r.law.name.as_deref().unwrap_or("fit"), r.fit.r2, pts.len());
    predicted_vs_measured_held_out_svg(&pts, &held, &title).map_err(CliError::Plot)
}

/// Loads and fits as the arguments say, holding out and predicting the points `validation`
/// names: with `--holdout`, the record's fit and points are those of the points left in; with
/// `--cv`, of all points, and the held-out predictions are those of each fold.
pub fn validated_fit(
    file: &Path,
    data: &DataArgs,
    fit_args: &FitArgs,
    validation: &ValidationArgs,
) -> Result<FitRecord, CliError> {
    let Some(scheme) = validation.scheme() else { return fit_from_args(file, data, fit_args) };
    let law = resolve_law(data, fit_args)?;
    let options = resolve_options(data, fit_args);
    options.validate().map_err(CliError::fit_option)?;
    let (obs, mapping) = load_from_args(file, data, &law, &validation.names()?, &[])?;
    law.check_vars_available(&obs.var_names).map_err(|e| CliError::Fit(FitError::Law(e)))?;
    let source = file.display().to_string();
    match scheme {
        Scheme::Holdout { condition } => {
            let h = holdout(&law, &obs, &condition, &options).map_err(|e| CliError::validation("--holdout", e))?;
            Ok(FitRecord {
                format: FitRecord::FORMAT,
                source,
                preset: data.preset.map(|p| p.name().to_string()),
                mapping: Some(mapping),
                law: LawSpec::of(&law),
                options,
                observations: h.fitted,
                fit: h.fit,
                holdout: Some(h.validation),
            })
        }
        Scheme::CrossValidation { column } => {
            let v = cross_validate(&law, &obs, &column, &options).map_err(|e| CliError::validation("--cv", e))?;
            let mut record = fit_observations(&law, obs, source, data.preset, Some(mapping), options)?;
            record.holdout = Some(v);
            Ok(record)
        }
    }
}

/// Runs `sparse-scaling fit`.
pub fn run(args: Args) -> super::CliResult {
    let record = validated_fit(&args.file, &args.data, &args.fit, &args.validation)?;
    print(format_fit(&record, args.points))?;
    print(crate::report::analysis::format_determination(&record.fit))?;
    if let Some(v) = &record.holdout {
        print(v.table())?;
    }
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
