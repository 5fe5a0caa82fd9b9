//! The fit and analysis named in an experiment, run on its records: fits the law
//! (docs/THEORY.md §2 procedure: mean Huber loss, many starts, exact gradients), then derives the
//! dense-equivalent size m(S) and the optimal sparsity S_opt(N, C) under the experiment's
//! cost model (docs/THEORY.md §3) with the law crate, and writes tables and plots. With
//! `analysis.holdout` (or `report --holdout`), the law is fitted without the points where the
//! condition holds and analysed as fitted; those points are predicted by it, drawn as crosses
//! in `predicted_vs_measured.svg`, listed with their errors in the text and `fit.md`, and
//! written to `holdout.json` (docs/THEORY.md §2.5).
//!
//! Units: N is divided by `n_unit`, D (examples for ViT, steps for T5, tokens for the decoder) by the family's
//! `d_unit` (see [`crate::experiment::Analysis`]); S_opt sizes and budgets are in these units, and
//! C is the cost model evaluated in them.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::{write_file, ReportError};
use crate::law::analysis::Analysis;
use crate::law::fit::{Bounds, Undetermined};
use crate::law::plot::{self, FitPoint};
use crate::law::validate::{holdout, Validation};
use crate::law::{fit, FitOptions, FitResult, Law, Residual};
use crate::results::{observation_columns, observations, Record};

fn aerr(e: impl std::fmt::Display) -> ReportError {
    ReportError::Analysis(e.to_string())
}

fn geomspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n <= 1 || !(lo > 0.0 && hi > lo) {
        return vec![lo];
    }
    (0..n).map(|i| (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / (n - 1) as f64).exp()).collect()
}

/// How progress lines name a fit: `fit of <law> to <n> points (<starts> starts, <b> bootstrap
/// refits)`.
pub fn fit_task_name(law: &str, points: usize, opts: &FitOptions) -> String {
    let law: String =
        if law.chars().count() > 60 { law.chars().take(57).chain("...".chars()).collect() } else { law.to_string() };
    format!("fit of {law} to {points} points ({} starts, {} bootstrap refits)", opts.starts, opts.bootstrap)
}

/// Fits and analyses; returns the files written and a text summary.
pub fn write(
    records: &[Record],
    a: &crate::experiment::Analysis,
    out: &Path,
) -> Result<(Vec<PathBuf>, String), ReportError> {
    let family = records[0].family();
    let d_unit = a.d_unit_for(family);
    let cols = observation_columns(records, a.n_unit, d_unit)?;
    let obs = observations(records, a.n_unit, d_unit)?;
    let law = Law::from_name_or_formula(&a.law).map_err(aerr)?;
    let opts = FitOptions {
        huber_delta: a.huber_delta,
        residual: if a.log_residuals { Residual::Log } else { Residual::Raw },
        starts: a.starts,
        seed: a.seed,
        bootstrap: a.bootstrap,
        bounds: if a.nonnegative {
            law.param_names().iter().map(|p| (p.clone(), Bounds { lower: Some(0.0), upper: None })).collect()
        } else {
            Default::default()
        },
        ..FitOptions::default()
    };
    let what = fit_task_name(&a.law, obs.len(), &opts);
    // with a holdout: the fit to the other points, which rows it fitted, and its predictions of
    // the held-out ones
    let (fitted, fitted_rows, held) = match &a.holdout {
        None => {
            let f = crate::train::progress::long_task(&what, || fit(&law, &obs, &opts)).map_err(aerr)?;
            (f, (0..obs.len()).collect::<Vec<usize>>(), None)
        }
        Some(condition) => {
            let h = crate::train::progress::long_task(&what, || holdout(&law, &obs, condition, &opts))
                .map_err(|e| ReportError::Analysis(format!("analysis.holdout `{condition}`: {e}")))?;
            (h.fit, h.fitted_rows, Some(h.validation))
        }
    };
    let mut files = Vec::new();
    let mut text = String::new();

    // --- fit
    let of = match &held {
        Some(v) => format!("{} of the {} points (held out: {})", fitted_rows.len(), obs.len(), v.points.len()),
        None => format!("{} points", obs.len()),
    };
    let _ = writeln!(
        text,
        "fit of `{}` to {of} (N/{:e}, D/{:e} {}):",
        law.text(),
        a.n_unit,
        d_unit,
        crate::results::d_unit_name(family)
    );
    let mut md = String::from("| parameter | value |\n|---|---|\n");
    for (name, v) in fitted.param_names.iter().zip(&fitted.params) {
        let _ = writeln!(text, "  {name:>6} = {v:.6}");
        let _ = writeln!(md, "| {name} | {v:.6} |");
    }
    let quality = format!(
        "objective {:.4e} (mean Huber, δ = {}, {} residuals), {} after {} iterations (max |gradient| {:.2e}), R² = {:.4}, RMSE = {:.4e}",
        fitted.objective,
        a.huber_delta,
        if a.log_residuals { "log" } else { "raw" },
        if fitted.converged { "converged" } else { "NOT converged" },
        fitted.iterations,
        fitted.grad_norm,
        fitted.r2,
        fitted.rmse
    );
    let _ = writeln!(text, "  {quality}");
    text.push_str(&format_determination(&fitted));
    let _ = writeln!(md, "\n{quality}\n");
    if let Some(v) = &held {
        text.push_str(&v.table());
        md.push_str(&held_out_markdown(v, records));
        let p = out.join("holdout.json");
        write_file(&p, &serde_json::to_string_pretty(v).map_err(aerr)?)?;
        files.push(p);
    }
    let p = out.join("fit.md");
    write_file(&p, &md)?;
    files.push(p);
    let p = out.join("fit.json");
    write_file(&p, &serde_json::to_string_pretty(&fitted).map_err(aerr)?)?;
    files.push(p);
    let pts: Vec<FitPoint> = fitted_rows
        .iter()
        .zip(&fitted.predictions)
        .map(|(&row, &predicted)| FitPoint { measured: cols.loss[row], predicted, sparsity: cols.s[row] })
        .collect();
    let held_pts: Vec<FitPoint> = held.as_ref().map_or(vec![], |v| {
        v.points
            .iter()
            .map(|p| FitPoint { measured: p.measured, predicted: p.predicted, sparsity: cols.s[p.row] })
            .collect()
    });
    let svg = plot::predicted_vs_measured_held_out_svg(
        &pts,
        &held_pts,
        &format!("{}: predicted vs measured validation loss", records[0].experiment),
    )
    .map_err(aerr)?;
    let p = out.join("predicted_vs_measured.svg");
    write_file(&p, &svg)?;
    files.push(p);

    // --- analysis (needs a law in S, N, D, or in N̄ and D with N̄ as a function of S and N)
    let vars = law.var_names();
    let has = |v: &str| vars.iter().any(|x| x == v);
    let in_nbar = has("Nbar") && has("D");
    if !(in_nbar || ["S", "N", "D"].iter().all(|v| has(v))) {
        let _ = writeln!(text, "  (no sparsity analysis: the law uses neither all of S, N, D nor N̄ (`Nbar`) and D)");
        return Ok((files, text));
    }
    if law.is_grouped() {
        // One value per parameter is what the analysis needs (docs/THEORY.md §2.6).
        let _ = writeln!(
            text,
            "  (no sparsity analysis of a grouped law here: fit the results directory with `sparse-scaling fit DIR --law '…' --json fit.json`, then `sparse-scaling analyse fit.json` analyses each group's law)"
        );
        return Ok((files, text));
    }
    let nbar = match &a.nbar {
        Some(rel) => rel.clone(),
        None => nbar_relation(records).unwrap_or_else(|| crate::law::analysis::DEFAULT_NBAR.to_string()),
    };
    if in_nbar || a.cost.contains("Nbar") {
        let _ = writeln!(text, "N̄ as a function of S and N for the analysis: Nbar = {nbar}");
    }
    let an = Analysis::with_models(&law, &fitted.params, &a.cost, &nbar).map_err(aerr)?;
    let n_lo = cols.n.iter().cloned().fold(f64::INFINITY, f64::min);
    let n_hi = cols.n.iter().cloned().fold(0.0, f64::max);
    let n_mid = (n_lo * n_hi).sqrt();
    let d_mid = {
        let lo = cols.d.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = cols.d.iter().cloned().fold(0.0, f64::max);
        (lo * hi).sqrt()
    };

    // dense-equivalent size m(S)
    let grid: Vec<f64> = (0..=38).map(|i| i as f64 * 0.025).collect();
    let m: Vec<(f64, f64)> = grid
        .iter()
        .filter_map(|&s| an.dense_equivalent(s, n_mid, d_mid).ok().map(|v| (s, v)))
        .filter(|p| p.1.is_finite())
        .collect();
    let _ = write!(
        text,
        "dense-equivalent size m(S) (a model at sparsity S with N non-zeros matches a dense one with m·N):"
    );
    for s in [0.5, 0.75, 0.875] {
        if let Ok(v) = an.dense_equivalent(s, n_mid, d_mid) {
            let _ = write!(text, "  m({s}) = {v:.3}");
        }
    }
    let _ = writeln!(text);
    if !m.is_empty() {
        let p = out.join("dense_equivalent.svg");
        write_file(&p, &dense_equivalent_svg(&m)?)?;
        files.push(p);
    }

    // S_opt at a few sizes and budgets
    let sizes = if a.s_opt_sizes.is_empty() { vec![n_lo, n_mid, n_hi] } else { a.s_opt_sizes.clone() };
    let costs: Vec<f64> = records
        .iter()
        .zip(cols.s.iter().zip(cols.n.iter().zip(&cols.d)))
        .map(|(_, (&s, (&n, &d)))| an.cost(s, n, d))
        .filter(|c| c.is_finite() && *c > 0.0)
        .collect();
    let c_lo = costs.iter().cloned().fold(f64::INFINITY, f64::min);
    let c_hi = costs.iter().cloned().fold(0.0, f64::max);
    let budgets = if a.s_opt_budgets.is_empty() { geomspace(c_lo, c_hi * 1e3, 5) } else { a.s_opt_budgets.clone() };
    let mut table = String::from("| N (normalised) | C (normalised) | S_opt | D at S_opt | loss at S_opt | dense loss |\n|---|---|---|---|---|---|\n");
    let _ = writeln!(text, "optimal sparsity S_opt(N, C) under C = {}:", a.cost);
    let _ = writeln!(text, "  {:>12} {:>12} {:>8} {:>12} {:>10} {:>10}", "N", "C", "S_opt", "D", "loss", "dense loss");
    for &n in &sizes {
        for &c in &budgets {
            match an.optimal_sparsity(n, c) {
                Ok(o) => {
                    let _ = writeln!(
                        text,
                        "  {:>12.4e} {:>12.4e} {:>8.4} {:>12.4e} {:>10.4} {:>10.4}",
                        n, c, o.s, o.d, o.loss, o.dense_loss
                    );
                    let _ = writeln!(
                        table,
                        "| {n:.4e} | {c:.4e} | {:.4} | {:.4e} | {:.4} | {:.4} |",
                        o.s, o.d, o.loss, o.dense_loss
                    );
                }
                Err(e) => {
                    let _ = writeln!(text, "  {n:>12.4e} {c:>12.4e}  (no solution: {e})");
                    let _ = writeln!(table, "| {n:.4e} | {c:.4e} | – | – | – | {e} |");
                }
            }
        }
    }
    let p = out.join("s_opt.md");
    write_file(&p, &table)?;
    files.push(p);

    // contours of S_opt over log N × log C
    let map = an.contour_map(
        ((n_lo / 10.0).log10(), (n_hi * 10.0).log10()),
        (c_lo.log10() - 1.0, (c_hi * 1e4).log10()),
        48,
        &[0.25, 0.5, 0.75, 0.875],
    );
    match plot::contours_svg(
        &map,
        "optimal sparsity S_opt(N, C)",
        &format!("N / {:e}", a.n_unit),
        "C (normalised units)",
    ) {
        Ok(svg) => {
            let p = out.join("s_opt_contours.svg");
            write_file(&p, &svg)?;
            files.push(p);
        }
        Err(e) => {
            let _ = writeln!(text, "  (no contour plot: {e})");
        }
    }
    Ok((files, text))
}

/// The held-out points as a Markdown table: the record each comes from, its measured and
/// predicted loss and the relative error, then the summary.
fn held_out_markdown(v: &Validation, records: &[Record]) -> String {
    let mut md = String::from("## held out\n\n");
    if let crate::law::validate::Scheme::Holdout { condition } = &v.scheme {
        let _ =
            writeln!(md, "The {} points where `{condition}`, predicted by the fit to the others:\n", v.points.len());
    }
    md.push_str("| hash | S | N | D | measured | predicted | relative error |\n|---|---|---|---|---|---|---|\n");
    for p in &v.points {
        let value = |k: &str| p.values.get(k).map_or("–".to_string(), |x| format!("{x:.4e}"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.5} | {:.5} | {:+.3}% |",
            records.get(p.row).map_or("?", |r| r.hash.as_str()),
            p.values.get("S").map_or("–".to_string(), |s| s.to_string()),
            value("N"),
            value("D"),
            p.measured,
            p.predicted,
            100.0 * p.rel_error
        );
    }
    let _ = writeln!(
        md,
        "\nmean |relative error| {:.2}%, max {:.2}%, RMSE {:.4e}",
        100.0 * v.mean_abs_rel_error,
        100.0 * v.max_abs_rel_error,
        v.rmse
    );
    md
}

fn dense_equivalent_svg(m: &[(f64, f64)]) -> Result<String, ReportError> {
    const WHAT: &str = "dense-equivalent size";
    let ymax = m.iter().map(|p| p.1).fold(1.0f64, f64::max) * 1.05;
    plot::svg_canvas((720, 520), super::draw_err(WHAT), |root| {
        let mut chart = plot::chart_on(root, "dense-equivalent size m(S) of the fitted law")
            .build_cartesian_2d(0.0..1.0, 0.0..ymax)
            .map_err(super::draw_err(WHAT))?;
        chart
            .configure_mesh()
            .x_desc("sparsity S")
            .y_desc("m(S): dense size / non-zeros")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(super::draw_err(WHAT))?;
        chart
            .draw_series(LineSeries::new(m.iter().copied(), super::PALETTE[0].stroke_width(3)))
            .map_err(super::draw_err(WHAT))?;
        chart
            .draw_series(LineSeries::new([(0.0, 1.0), (1.0, 1.0)], RGBColor(150, 150, 150).stroke_width(1)))
            .map_err(super::draw_err(WHAT))?;
        Ok(())
    })
}

/// N̄ = N/(1 − S)·(1 − κ·S) when every sparse record's closed-form mean density
/// ([`crate::experiment::PruningPlan::mean_density`]) is 1 − κ·S with one κ (polynomial and
/// one-shot shapes at the same fractions of their runs); `None` otherwise (geometric shapes,
/// mixed schedules, no sparse record).
pub fn nbar_relation(records: &[Record]) -> Option<String> {
    let mut kappa: Option<f64> = None;
    for r in records.iter().filter(|r| r.sparsity() > 0.0) {
        let k = (1.0 - r.spec.pruning.mean_density(r.sparsity(), r.spec.steps)) / r.sparsity();
        match kappa {
            Some(k0) if (k - k0).abs() > 1e-9 => return None,
            _ => kappa = Some(k),
        }
    }
    kappa.map(|k| format!("N/(1-S)*(1-{k:?}*S)"))
}

/// The variables that limit a parameter, each with its number of distinct values.
type Limits = BTreeSet<(String, usize)>;

/// Which parameters the data determine, and for the others why not, grouped by the variables
/// that limit them: "e, f, g: not determined by 3 distinct D values; add training lengths".
pub fn format_determination(f: &FitResult) -> String {
    let mut o = String::new();
    if f.determination.is_empty() {
        return o;
    }
    let undetermined = f.undetermined();
    if undetermined.is_empty() {
        let _ = writeln!(o, "\nevery parameter is determined by the data");
        return o;
    }
    let determined: Vec<&str> = f.determination.iter().filter(|s| s.determined).map(|s| s.name.as_str()).collect();
    if !determined.is_empty() {
        let _ = writeln!(o, "\ndetermined by the data: {}", determined.join(", "));
    } else {
        o.push('\n');
    }
    // The variables that limit a parameter: its own and those of the parameters it moves with.
    let limited = |name: &str| -> Limits {
        let own = |n: &str| f.determination.iter().find(|s| s.name == n).map_or(vec![], |s| s.limited_by.clone());
        let mut set: Limits = own(name).into_iter().collect();
        if let Some(s) = f.determination.iter().find(|s| s.name == name) {
            for c in &s.causes {
                if let Undetermined::FlatDirection { with, .. } = c {
                    with.iter().for_each(|w| set.extend(own(w)));
                }
            }
        }
        set
    };
    let mut groups: Vec<(Limits, Vec<&str>)> = Vec::new();
    for s in &undetermined {
        let key = limited(&s.name);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, names)) => names.push(&s.name),
            None => groups.push((key, vec![&s.name])),
        }
    }
    for (vars, names) in &groups {
        if vars.is_empty() {
            let _ = writeln!(o, "{}: not determined", names.join(", "));
        } else {
            let by: Vec<String> = vars.iter().map(|(v, k)| format!("{k} distinct {v} values")).collect();
            let add: Vec<String> = vars.iter().map(|(v, _)| more_of(v)).collect();
            let _ =
                writeln!(o, "{}: not determined by {}; add {}", names.join(", "), by.join(" and "), add.join(" or "));
        }
        for n in names {
            let reason = undetermined.iter().find(|s| s.name == *n).and_then(|s| s.reason.as_deref()).unwrap_or("");
            let _ = writeln!(o, "  {n}: {reason}");
        }
    }
    o
}

/// What a variable's distinct values are called in advice ("add training lengths").
fn more_of(var: &str) -> String {
    match var {
        "D" => "training lengths".into(),
        "N" => "model sizes".into(),
        "Nbar" => "schedules or sizes".into(),
        "S" => "sparsities".into(),
        v => format!("values of {v}"),
    }
}
