//! `sparse-scaling analyse`: the quantities of PAPER.md §3 from a fitted law — dense-equivalent
//! size m(S), optimal sparsity S_opt(N, C) under a cost model, the slopes of the S_opt contours
//! and of the dense compute-optimal line, where sparsity starts to pay, and predictions — with
//! bootstrap intervals when the fit has them; a table on stdout, `--json`, and an S_opt contour
//! plot (`--plot-contours`).
//!
//! ```text
//! sparse-scaling fit ../shared/data/t5-data.csv --preset t5-paper --bootstrap 200 --json t5-fit.json
//! sparse-scaling analyse t5-fit.json --plot-contours t5-contours.svg --json t5-analysis.json
//! sparse-scaling analyse ../shared/data/t5-data.csv --preset t5-paper --predict 0.75,603.98,5
//! ```

use std::path::{Path, PathBuf};

use super::fit::{fit_from_args, write_json, CliError, DataArgs, FitArgs, Preset};
use sparse_scaling_law::analysis::{Analysis, AnalysisReport, FitRecord, PredictionPoint, ReportSettings, SymbolicSurface, DEFAULT_COST};
use sparse_scaling_law::plot::{contours_svg, write_svg};

/// Arguments of `sparse-scaling analyse`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A fit written by `sparse-scaling fit --json` (.json), or a CSV file to fit first with the
    /// data and fit options below.
    pub input: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub fit: FitArgs,
    /// Training-cost model C(S, N, D), in the law's units (default: the paper's, a sparse run
    /// costs its dense parent). E.g. `6*N/(1-S)*(1-0.625*S)*D` for GMP that saves pruned compute.
    #[arg(long, default_value = DEFAULT_COST, value_name = "EXPR")]
    pub cost: String,
    /// Sparsities of the m(S) table.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.5, 0.75, 0.875, 0.9375])]
    pub sparsity: Vec<f64>,
    /// Inference sizes N of the S_opt table, in the law's units (default: smallest and largest N
    /// of the data, and 10× the largest).
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub sizes: Vec<f64>,
    /// Training budgets C of the S_opt table (default: 1, 3, 10, 100, 1000 × the dense
    /// compute-optimal budget of each N).
    #[arg(long, value_delimiter = ',', value_name = "C,...")]
    pub budgets: Vec<f64>,
    /// Predict the loss at S,N,D (law units; repeatable), e.g. --predict 0.75,603.98,5.
    #[arg(long, value_name = "S,N,D")]
    pub predict: Vec<String>,
    /// Write the analysis as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write S_opt over log N × log C with its contours and the dense compute-optimal line (SVG).
    #[arg(long, value_name = "FILE")]
    pub plot_contours: Option<PathBuf>,
    /// When fitting inline, also save the fit as JSON.
    #[arg(long, value_name = "FILE")]
    pub save_fit: Option<PathBuf>,
}

/// Reads a fit record written by `sparse-scaling fit --json`.
pub fn read_record(path: &Path) -> Result<FitRecord, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::Io { path: path.to_path_buf(), message: format!("cannot read: {e}") })?;
    let r: FitRecord = serde_json::from_str(&text).map_err(|e| CliError::Io {
        path: path.to_path_buf(),
        message: format!("not a fit written by `sparse-scaling fit --json`: {e}"),
    })?;
    if r.format != FitRecord::FORMAT {
        return Err(CliError::Io { path: path.to_path_buf(), message: format!("fit format {} is not supported (expected {}); refit with this version", r.format, FitRecord::FORMAT) });
    }
    if r.fit.params.len() != r.law.params.len() {
        return Err(CliError::Io { path: path.to_path_buf(), message: format!("{} values for {} parameters; the file is damaged, refit", r.fit.params.len(), r.law.params.len()) });
    }
    Ok(r)
}

fn parse_point(text: &str, k: usize) -> Result<PredictionPoint, CliError> {
    let vals: Result<Vec<f64>, _> = text.split(',').map(|v| v.trim().parse::<f64>()).collect();
    match vals.as_deref() {
        Ok([s, n, d]) => Ok(PredictionPoint { label: format!("#{k}"), s: *s, n: *n, d: *d, measured: None }),
        _ => Err(CliError::Usage(format!("--predict `{text}`: expected three numbers S,N,D, e.g. --predict 0.75,603.98,5"))),
    }
}

fn positive(what: &str, v: &[f64]) -> Result<(), CliError> {
    match v.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
        Some(x) => Err(CliError::Usage(format!("{what} {x} must be a positive number"))),
        None => Ok(()),
    }
}

/// The contour plot's ranges: N from a decade below the data to two above; C from a decade
/// below where sparsity starts to pay at the smallest N to where S_opt reaches 0.95 at the
/// largest.
fn contour_plot(record: &FitRecord, report: &AnalysisReport, cost: &str) -> Result<String, CliError> {
    let law = record.law.to_law().map_err(CliError::Law)?;
    let a = Analysis::with_cost_model(&law, &record.fit.params, cost).map_err(|e| CliError::Usage(e.to_string()))?;
    let ns = record.observations.column("N").unwrap_or(&[]);
    let n_lo = ns.iter().copied().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    let n_hi = report.reference.0;
    if !n_lo.is_finite() {
        return Err(CliError::Usage("the fit has no positive N values to set the plot's range from".into()));
    }
    let (x0, x1) = (n_lo.log10() - 1.0, n_hi.log10() + 2.0);
    let c_lo = a.contour_budget(0.0, 10f64.powf(x0)).map_err(|e| CliError::Usage(format!("contour plot: {e}")))?;
    let c_hi = a.contour_budget(0.95, 10f64.powf(x1)).map_err(|e| CliError::Usage(format!("contour plot: {e}")))?;
    let (y0, y1) = (c_lo.log10() - 1.0, c_hi.log10() + 0.5);
    let map = a.contour_map((x0, x1), (y0, y1), 60, &[0.0, 0.5, 0.75, 0.875, 0.9375]);
    let (n_unit, _) = report.units.clone().unwrap_or_else(|| ("law units".into(), "law units".into()));
    let title = format!("Optimal sparsity S_opt(N, C) — {}", record.law.name.as_deref().unwrap_or("fitted law"));
    contours_svg(&map, &title, &format!("N = {n_unit}"), &format!("C = {cost}")).map_err(CliError::Plot)
}

/// Runs `sparse-scaling analyse`.
pub fn run(args: Args) -> super::CliResult {
    // check the cost model before any fitting
    SymbolicSurface::cost_model(&args.cost).map_err(|e| CliError::Usage(format!("--cost: {e}")))?;
    let is_json = args.input.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let record = if is_json {
        if !args.data.is_empty() || !args.fit.is_empty() {
            return Err(CliError::Usage(format!("{} is a saved fit; data and fit options (--preset, --var, --law, …) only apply when analysing a CSV", args.input.display())).into());
        }
        read_record(&args.input)?
    } else {
        let r = fit_from_args(&args.input, &args.data, &args.fit)?;
        print!("{}", super::fit::format_fit(&r, false));
        println!();
        if let Some(p) = &args.save_fit {
            write_json(p, &r)?;
            println!("wrote {}\n", p.display());
        }
        r
    };
    positive("--sizes", &args.sizes)?;
    positive("--budgets", &args.budgets)?;
    let mut predictions: Vec<PredictionPoint> = record.preset.as_deref().and_then(Preset::from_name).map(Preset::predictions).unwrap_or_default();
    for (k, t) in args.predict.iter().enumerate() {
        predictions.push(parse_point(t, k + 1)?);
    }
    let settings = ReportSettings { cost: args.cost.clone(), sparsities: args.sparsity.clone(), sizes: args.sizes.clone(), budgets: args.budgets.clone(), predictions, level: 0.95 };
    for s in &settings.sparsities {
        if !(0.0..1.0).contains(s) {
            return Err(CliError::Usage(format!("--sparsity {s} must be in [0, 1)")).into());
        }
    }
    let report = AnalysisReport::from_record(&record, &settings).map_err(|e| CliError::Usage(e.to_string()))?;
    print!("{report}");
    if let Some(p) = &args.json {
        write_json(p, &report)?;
        println!("wrote {}", p.display());
    }
    if let Some(p) = &args.plot_contours {
        write_svg(p, &contour_plot(&record, &report, &args.cost)?).map_err(CliError::Plot)?;
        println!("wrote {}", p.display());
    }
    Ok(())
}
