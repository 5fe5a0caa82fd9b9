//! Reports of a results directory: tables and SVG plots.
//!
//! `report/` gets:
//! - `points.csv` — every record in the paper's column layout ([`crate::results::write_csv`]);
//! - `points.md` — the same as a readable table;
//! - `curves.svg` — validation loss over training steps, one line per run, coloured by S;
//! - `loss_vs_n.svg` — final validation loss against N, one series per (S, steps);
//! - `findings.md` — direct comparisons of the final losses, without a fit ([`findings`]);
//! - `density.svg` — the fraction of prunable weights kept over training, one line per
//!   (schedule, S), from each plan's schedule (docs/THEORY.md §7), with its mean N̄/N_dense;
//! - with an analysis ([`analysis`]): `fit.json`, `fit.md` (coefficients, objective,
//!   convergence, R², RMSE), `predicted_vs_measured.svg` (held-out points as crosses, with
//!   `holdout.json`, when the analysis holds points out), `dense_equivalent.svg` (m(S),
//!   docs/THEORY.md §3), `s_opt_contours.svg` (S_opt over log N × log C with the dense
//!   compute-optimal line) and `s_opt.md` (S_opt at a few sizes and budgets).

pub mod analysis;
pub mod findings;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::law::plot::{chart_on, draw_legend, svg_canvas};

use crate::experiment::Family;
use crate::results::{self, Record, ResultsDir, ResultsError};

/// Errors of writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The results store failed.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// A file could not be written.
    #[error("report: cannot write {}\n  fix: check that the results directory is writable", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A plot could not be drawn.
    #[error("report: cannot draw {what}: {message}")]
    Plot {
        /// Which plot.
        what: &'static str,
        /// The cause.
        message: String,
    },
    /// The fit or analysis failed.
    #[error("report: {0}")]
    Analysis(String),
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<(), ReportError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Io { path: dir.to_path_buf(), source })?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let written =
        std::fs::write(&tmp, text).map_err(|source| ReportError::Io { path: tmp.clone(), source }).and_then(|()| {
            std::fs::rename(&tmp, path).map_err(|source| ReportError::Io { path: path.to_path_buf(), source })
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Palette for series (colour-blind friendly, Okabe–Ito).
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

fn levels(records: &[Record]) -> Vec<f64> {
    let mut l: Vec<f64> = records.iter().map(|r| r.sparsity()).collect();
    l.sort_by(f64::total_cmp);
    l.dedup();
    l
}

fn level_color(levels: &[f64], s: f64) -> RGBColor {
    let i = levels.iter().position(|&l| l == s).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

pub(crate) fn draw_err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ReportError {
    move |e| ReportError::Plot { what, message: e.to_string() }
}

/// Validation loss over steps, one line per record, coloured by sparsity.
pub fn curves_svg(records: &[Record]) -> Result<String, ReportError> {
    const WHAT: &str = "validation curves";
    let pts: Vec<(f64, f64)> = records
        .iter()
        .flat_map(|r| r.outcome.val_curve.iter().map(|c| (c.step as f64, c.loss)))
        .filter(|p| p.1.is_finite())
        .collect();
    if pts.is_empty() {
        return Err(ReportError::Plot { what: WHAT, message: "no validation measurements in the records".into() });
    }
    let xmax = pts.iter().fold(0.0f64, |a, p| a.max(p.0));
    let (ymin, ymax) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| (a.0.min(p.1), a.1.max(p.1)));
    let pad = ((ymax - ymin) * 0.05).max(1e-3);
    let lv = levels(records);
    svg_canvas((800, 560), draw_err(WHAT), |root| {
        let mut chart = chart_on(root, "validation loss over training")
            .build_cartesian_2d(0.0..xmax.max(1.0) * 1.02, (ymin - pad)..(ymax + pad))
            .map_err(draw_err(WHAT))?;
        chart
            .configure_mesh()
            .x_desc("optimizer steps")
            .y_desc("validation loss")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(draw_err(WHAT))?;
        for (i, &level) in lv.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let mut first = true;
            for r in records.iter().filter(|r| r.sparsity() == level) {
                let line: Vec<(f64, f64)> =
                    r.outcome.val_curve.iter().map(|c| (c.step as f64, c.loss)).filter(|p| p.1.is_finite()).collect();
                let s = chart.draw_series(LineSeries::new(line, color.stroke_width(2))).map_err(draw_err(WHAT))?;
                if first {
                    s.label(format!("S = {level}"))
                        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
                    first = false;
                }
            }
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 14).map_err(draw_err(WHAT))
    })
}

/// The density (fraction of prunable weights kept) over the fraction of training done, one line
/// per distinct (pruning label, S) among the sparse records, as their plans' schedules prescribe
/// (masks are updated on the schedule's steps, so the lines are steps); the legend gives each
/// line's mean density, the N̄/N_dense of docs/THEORY.md §7.
pub fn density_svg(records: &[Record]) -> Result<String, ReportError> {
    const WHAT: &str = "density over training";
    let mut lines: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for r in records.iter().filter(|r| r.sparsity() > 0.0) {
        let plan = &r.spec.pruning;
        let name = format!("{} S = {}", plan.label(), r.sparsity());
        if lines.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let steps = r.spec.steps.max(1);
        let schedule = crate::sparsity::Schedule::of_plan(plan, r.sparsity(), steps).ok().flatten();
        let stride = (steps / 400).max(1);
        let line: Vec<(f64, f64)> = (0..steps)
            .step_by(stride as usize)
            .chain(std::iter::once(steps - 1))
            .map(|t| {
                let s = match &schedule {
                    Some(sched) => sched.effective_sparsity(t),
                    None => r.sparsity(), // one-shot n:m: the pattern from the first step
                };
                ((t + 1) as f64 / steps as f64, 1.0 - s)
            })
            .collect();
        let mean = plan.mean_density(r.sparsity(), steps);
        lines.push((format!("{name} (mean {mean:.3})"), line));
    }
    if lines.is_empty() {
        return Err(ReportError::Plot { what: WHAT, message: "no sparse record".into() });
    }
    svg_canvas((800, 560), draw_err(WHAT), |root| {
        let mut chart = chart_on(root, "density of the pruned layers over training")
            .build_cartesian_2d(0.0..1.0, 0.0..1.05)
            .map_err(draw_err(WHAT))?;
        chart
            .configure_mesh()
            .x_desc("fraction of training steps")
            .y_desc("fraction of prunable weights kept")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(draw_err(WHAT))?;
        for (i, (name, line)) in lines.into_iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(draw_err(WHAT))?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft, 12).map_err(draw_err(WHAT))
    })
}

/// Final validation loss against N (log scale), one series per (sparsity, steps), and per
/// depth when the records have several depths (a depth axis).
pub fn loss_vs_n_svg(records: &[Record]) -> Result<String, ReportError> {
    const WHAT: &str = "loss against N";
    let pts: Vec<(f64, f64)> =
        records.iter().map(|r| (r.n().max(1.0), r.outcome.final_val_loss)).filter(|p| p.1.is_finite()).collect();
    if pts.is_empty() {
        return Err(ReportError::Plot { what: WHAT, message: "no finite losses in the records".into() });
    }
    let (xmin, xmax) = pts.iter().fold((f64::INFINITY, 0.0f64), |a, p| (a.0.min(p.0), a.1.max(p.0)));
    let (ymin, ymax) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| (a.0.min(p.1), a.1.max(p.1)));
    let pad = ((ymax - ymin) * 0.05).max(1e-3);
    let lv = levels(records);
    let mut groups: Vec<(f64, u64, usize)> =
        records.iter().map(|r| (r.sparsity(), r.spec.steps, r.spec.dims.depth)).collect();
    groups.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    groups.dedup();
    let several_depths = groups.iter().any(|g| g.2 != groups[0].2);
    svg_canvas((800, 560), draw_err(WHAT), |root| {
        let mut chart = chart_on(root, "final validation loss against non-zero parameters N")
            .build_cartesian_2d((xmin * 0.9..xmax * 1.1).log_scale(), (ymin - pad)..(ymax + pad))
            .map_err(draw_err(WHAT))?;
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&|x| format!("{x:.2e}"))
            .x_desc("N (non-zeros in pruned layers)")
            .y_desc("validation loss")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(draw_err(WHAT))?;
        let max_steps = groups.iter().map(|g| g.1).max().unwrap_or(1);
        for (s, steps, depth) in groups {
            let color = level_color(&lv, s);
            let mut line: Vec<(f64, f64)> = records
                .iter()
                .filter(|r| r.sparsity() == s && r.spec.steps == steps && r.spec.dims.depth == depth)
                .map(|r| (r.n().max(1.0), r.outcome.final_val_loss))
                .collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            let width = if steps == max_steps { 3 } else { 1 };
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(width)))
                .map_err(draw_err(WHAT))?
                .label(if several_depths {
                    format!("S = {s}, {steps} steps, depth {depth}")
                } else {
                    format!("S = {s}, {steps} steps")
                })
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(width)));
            chart.draw_series(line.into_iter().map(|p| Circle::new(p, 4, color.filled()))).map_err(draw_err(WHAT))?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 13).map_err(draw_err(WHAT))
    })
}

/// The records as a Markdown table.
pub fn points_markdown(records: &[Record]) -> String {
    let mut s = String::from("| hash | family | width | depth | S | pruning | steps | seed | N | D | final val loss | best val loss | s | steps/s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in records {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.4e} {} | {:.4} | {:.4} | {:.1} | {:.1} |",
            r.hash,
            r.family(),
            r.spec.dims.width,
            r.spec.dims.depth,
            r.sparsity(),
            r.spec.pruning.label(),
            r.spec.steps,
            r.spec.seed,
            r.outcome.nonzero_params,
            r.data_seen,
            results::d_unit_name(r.family()),
            r.outcome.final_val_loss,
            r.outcome.best_val_loss,
            r.run.wall_seconds,
            r.run.steps_per_second
        );
    }
    s
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone, Default)]
pub struct ReportSummary {
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Text to print (fit and analysis summary), if an analysis ran.
    pub text: String,
    /// Damaged records left out (with `skip_damaged`).
    pub skipped: Vec<results::DamagedRecord>,
}

/// Writes the report of `dir` into `dir/report/`; with `analysis`, also fits the law and
/// writes the analysis (see the module docs). With `only`, uses just the records of these
/// point hashes (one experiment's points in a shared results directory); with `family`, just
/// the records of that model family. A report covers one family: if the selected records mix
/// families, this fails before writing anything, naming the families and the `--family` flags
/// ([`ResultsError::MixedFamilies`]). A damaged record among the selected ones fails it too,
/// naming each damaged file ([`ResultsError::Damaged`]), unless `skip_damaged` (then
/// [`ReportSummary::skipped`] lists them). It never creates a `points/` folder, and it removes
/// the temporary files that killed report writers left in `report/`.
pub fn write_report(
    dir: &Path,
    analysis: Option<&crate::experiment::Analysis>,
    only: Option<&[String]>,
    family: Option<Family>,
    skip_damaged: bool,
) -> Result<ReportSummary, ReportError> {
    let store = ResultsDir::open_existing(dir)?;
    let mut scan = store.scan()?;
    if let Some(hashes) = only {
        scan.retain_hashes(hashes);
    }
    let skipped = if skip_damaged { scan.damaged.clone() } else { Vec::new() };
    let records = results::select_family(scan.intact(dir, skip_damaged)?, family, dir)?;
    let out = store.report_dir();
    // `<name>.tmp.<pid>`, left by a report writer that was killed ([`write_file`])
    results::clean_dead_temps(&out, |name| name.rsplit_once(".tmp.")?.1.parse().ok());
    let mut summary = ReportSummary { skipped, ..ReportSummary::default() };
    let mut csv = Vec::new();
    results::write_csv(&records, &mut csv)?;
    let p = out.join("points.csv");
    write_file(&p, &String::from_utf8_lossy(&csv))?;
    summary.files.push(p);
    let p = out.join("points.md");
    write_file(&p, &points_markdown(&records))?;
    summary.files.push(p);
    let p = out.join("curves.svg");
    write_file(&p, &curves_svg(&records)?)?;
    summary.files.push(p);
    let p = out.join("loss_vs_n.svg");
    write_file(&p, &loss_vs_n_svg(&records)?)?;
    summary.files.push(p);
    if records.iter().any(|r| r.sparsity() > 0.0) {
        let p = out.join("density.svg");
        write_file(&p, &density_svg(&records)?)?;
        summary.files.push(p);
    }
    let p = out.join("findings.md");
    write_file(&p, &findings::Findings::new(vec![dir.display().to_string()], &records).markdown())?;
    summary.files.push(p);
    if let Some(a) = analysis {
        let (files, text) = analysis::write(&records, a, &out)?;
        summary.files.extend(files);
        summary.text = text;
    }
    Ok(summary)
}
