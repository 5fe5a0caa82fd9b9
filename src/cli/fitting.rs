//! Fitting a law to measured points as the `fit`/`analyse` arguments say, and the fit as a
//! readable table (the fitting procedure of docs/THEORY.md §2).
//!
//! Points come from a CSV file or a results directory written by `sparse-scaling run`
//! ([`super::files::load_results_dir`]); any other source only has to produce
//! [`Observations`] and call [`fit_observations`].

use std::fmt::Write as _;
use std::path::Path;

use super::files::{csv_headers, load_observations, load_results_dir};
use super::fit_args::{resolve_law, resolve_mapping, resolve_options, DataArgs, FitArgs, Preset};
use super::CliError;
use sparse_scaling_law::analysis::{FitRecord, LawSpec};
use sparse_scaling_law::expr::is_plain_identifier;
use sparse_scaling_law::{fit, CsvMapping, FitError, FitOptions, Law, Observations, Residual};

/// Fits `law` to `obs` (from any source) and packs everything into a [`FitRecord`]. This is
/// the entry point for points that do not come from a CSV file.
pub fn fit_observations(
    law: &Law,
    obs: Observations,
    source: String,
    preset: Option<Preset>,
    mapping: Option<CsvMapping>,
    options: FitOptions,
) -> Result<FitRecord, CliError> {
    law.check_vars_available(&obs.var_names).map_err(|e| CliError::Fit(FitError::Law(e)))?;
    let what = crate::report::analysis::fit_task_name(&law.expr().to_string(), obs.len(), &options);
    let result = crate::train::progress::long_task(&what, || fit(law, &obs, &options)).map_err(|e| match e {
        FitError::NoValidStart { .. } => CliError::Usage(format!("fit failed: {e}{}", diagnose(law, &obs, &options))),
        e => CliError::Fit(e),
    })?;
    Ok(FitRecord {
        format: FitRecord::FORMAT,
        source,
        preset: preset.map(|p| p.name().to_string()),
        mapping,
        law: LawSpec::of(law),
        options,
        observations: obs,
        fit: result,
        holdout: None,
    })
}

/// Why a fit found no start: the first point where the law, with every free parameter in the
/// middle of the start range, has a non-finite term (named) or, with log residuals, a prediction
/// that is not positive. Empty when the law is usable there (then only some starts fail).
fn diagnose(law: &Law, obs: &Observations, options: &FitOptions) -> String {
    let mid = 0.5 * (options.init_low + options.init_high);
    let params: Vec<f64> = law.param_names().iter().map(|p| options.fixed.get(p).copied().unwrap_or(mid)).collect();
    for i in 0..obs.len() {
        let vars: Vec<f64> = law.var_names().iter().map(|v| obs.column(v).map_or(f64::NAN, |c| c[i])).collect();
        let at: Vec<String> = law.var_names().iter().zip(&vars).map(|(n, v)| format!("{n} = {v}")).collect();
        let at = format!("at point {} ({}) with every parameter {mid}", i + 1, at.join(", "));
        if let Some((term, value)) = law.first_non_finite(&vars, &params) {
            return format!(
                "\n  {at}, the term `{term}` is {value}: change that term so that it is finite over the data \
                 (e.g. no division by a term that can be 0, log and sqrt only of positive terms)"
            );
        }
        let pred = law.eval(&vars, &params);
        if options.residual == Residual::Log && pred <= 0.0 {
            return format!(
                "\n  {at}, the law predicts {pred}, but log residuals need a positive prediction: \
                 use a law that stays positive, or raw residuals (--raw)"
            );
        }
    }
    String::new()
}

/// Loads (a CSV file or a results directory) and fits as the `fit`/`analyse` arguments say.
pub fn fit_from_args(file: &Path, data: &DataArgs, fit_args: &FitArgs) -> Result<FitRecord, CliError> {
    let law = resolve_law(data, fit_args)?;
    let options = resolve_options(data, fit_args);
    options.validate().map_err(CliError::fit_option)?;
    let (obs, mapping) = load_from_args(file, data, &law, &[], &[])?;
    fit_observations(&law, obs, file.display().to_string(), data.preset, Some(mapping), options)
}

/// Loads the points of a CSV file or a results directory as the data arguments say, for `law`.
/// From a CSV file, each of `extra` that is not already a variable is loaded too, as a column
/// of that name (e.g. `scale` for a holdout condition `scale >= 1`), and each of `text` as a text
/// column (the columns other laws group their parameters by, `a[method]`).
pub fn load_from_args(
    file: &Path,
    data: &DataArgs,
    law: &Law,
    extra: &[String],
    text: &[String],
) -> Result<(Observations, CsvMapping), CliError> {
    if file.is_dir() {
        if !data.vars.is_empty() || data.loss.is_some() || data.weight.is_some() {
            return Err(CliError::Usage(format!(
                "{} is a results directory: its columns are fixed (S, N, D, final loss); --var/--loss/--weight apply to CSV files (use --n-unit/--d-unit to rescale)",
                file.display()
            )));
        }
        load_results_dir(file, data.n_unit, data.d_unit, data.family, data.skip_damaged)
    } else {
        if data.n_unit.is_some() || data.d_unit.is_some() {
            return Err(CliError::Usage(
                "--n-unit/--d-unit apply to results directories; for a CSV file write the scaling into --var, e.g. --var D=steps/1e5".into(),
            ));
        }
        if data.family.is_some() {
            return Err(CliError::Usage(format!(
                "--family applies to results directories; {} is a CSV file (select its rows before fitting)",
                file.display()
            )));
        }
        if data.skip_damaged {
            return Err(CliError::Usage(format!(
                "--skip-damaged applies to results directories; {} is a CSV file",
                file.display()
            )));
        }
        let mut mapping = resolve_mapping(data, law, &csv_headers(file))?;
        for name in extra {
            if name != "loss" && !mapping.vars.iter().any(|(v, _)| v == name) {
                let column = if is_plain_identifier(name) { name.clone() } else { format!("`{name}`") };
                mapping.vars.push((name.clone(), column));
            }
        }
        for name in text {
            if !mapping.categorical.contains(name) {
                mapping.categorical.push(name.clone());
            }
        }
        Ok((load_observations(file, &mapping)?, mapping))
    }
}

/// A number with 6 significant decimals, in scientific notation when very small or large.
fn sci(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:.6e}")
    } else {
        format!("{v:.6}")
    }
}

/// The fit as a readable table.
pub fn format_fit(r: &FitRecord, with_points: bool) -> String {
    let mut o = String::new();
    let f = &r.fit;
    let name = r.law.name.as_deref().map(|n| format!("{n}: ")).unwrap_or_default();
    let _ = writeln!(o, "law      {name}{}", r.law.formula);
    let _ = writeln!(o, "data     {} ({} points)", r.source, r.observations.len());
    if let Some(m) = &r.mapping {
        let vars: Vec<String> = m.vars.iter().map(|(v, e)| format!("{v} = {e}")).collect();
        let _ = writeln!(o, "mapping  {}; loss = {}", vars.join("; "), m.loss);
    }
    let res = match r.options.residual {
        Residual::Log => "log",
        Residual::Raw => "raw",
    };
    let _ = writeln!(
        o,
        "method   mean Huber loss (δ = {}) on {res} residuals, {} starts, seed {}, bootstrap {}",
        r.options.huber_delta, r.options.starts, r.options.seed, r.options.bootstrap
    );
    let boot = f.bootstrap.as_ref();
    let ci_head = boot.map_or(String::new(), |b| {
        format!("{:.0}% CI ({} fits, {} failed)", 100.0 * b.confidence, b.samples.len(), b.failed)
    });
    // Grouped parameters (`a[from-dense(2000)]`) can be longer than the column.
    let w = f.param_names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max(10);
    let _ = writeln!(o, "\n  {:<w$} {:>14}  {}", "parameter", "value", ci_head);
    for (k, (name, v)) in f.param_names.iter().zip(&f.params).enumerate() {
        let ci = boot
            .and_then(|b| b.intervals.get(k))
            .map_or(String::new(), |(lo, hi)| format!("[{}, {}]", sci(*lo), sci(*hi)));
        let _ = writeln!(o, "  {:<w$} {:>14}  {}", name, sci(*v), ci);
    }
    for g in &f.groups {
        let _ = writeln!(o, "  (one value per {} in the data: {})", g.column, g.values.join(", "));
    }
    let converged_starts = f.starts.iter().filter(|s| s.converged).count();
    let _ = writeln!(
        o,
        "\nobjective {:.6e}  {}  (stop: {:?}, largest gradient component {:.2e}, {} iterations; {}/{} starts converged)",
        f.objective,
        if f.converged { "converged" } else { "NOT converged" },
        f.stop,
        f.grad_norm,
        f.iterations,
        converged_starts,
        f.starts.len()
    );
    let _ = writeln!(o, "R² {:.6}  RMSE {:.6e}", f.r2, f.rmse);
    if with_points {
        let text = &r.observations.categorical;
        let _ = writeln!(
            o,
            "\n  {:>4}  {}{}  {:>10}  {:>10}  {:>10}",
            "row",
            r.observations.var_names.iter().map(|v| format!("{v:>10}")).collect::<Vec<_>>().join("  "),
            text.iter().map(|c| format!("  {:>10}", c.name)).collect::<String>(),
            "measured",
            "predicted",
            "residual"
        );
        for i in 0..r.observations.len() {
            let vals: Vec<String> = r.observations.columns.iter().map(|c| format!("{:>10.4}", c[i])).collect();
            let _ = writeln!(
                o,
                "  {:>4}  {}{}  {:>10.5}  {:>10.5}  {:>+10.2e}",
                i + 1,
                vals.join("  "),
                text.iter().map(|c| format!("  {:>10}", c.values[i])).collect::<String>(),
                r.observations.loss[i],
                f.predictions[i],
                f.residuals[i]
            );
        }
    }
    o
}
