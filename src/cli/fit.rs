//! `sparse-scaling fit`: fits a scaling law to measured points (PAPER.md §2) and prints the
//! coefficients with their bootstrap intervals and the quality of the fit; optionally writes the
//! fit as JSON (read by `sparse-scaling analyse`) and a predicted-vs-measured SVG plot.
//!
//! ```text
//! sparse-scaling fit ../shared/data/t5-data.csv --preset t5-paper --bootstrap 200 --json t5-fit.json --plot t5-fit.svg
//! sparse-scaling fit runs.csv --var 'N=24*(12*768^2)*scale*(1-sparsity)/1e6' --var 'D=steps/1e5' \
//!     --var S=sparsity --loss val-loss --law paper-normalised --huber-delta 1e-3 --log --starts 25
//! ```
//!
//! Points come from a CSV file or a results directory written by `sparse-scaling run`
//! ([`load_results_dir`]); any other source only has to produce [`Observations`] and call
//! [`fit_observations`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::results::{d_unit_name, observation_columns, select_family, ResultsDir, ResultsError};
use crate::experiment::Family;
use sparse_scaling_law::analysis::{FitRecord, LawSpec, PredictionPoint};
use sparse_scaling_law::law::{BUILTINS, DEFAULT_VARS};
use sparse_scaling_law::plot::{predicted_vs_measured_svg, write_svg, FitPoint, PlotError};
use sparse_scaling_law::{
    fit, parse, CsvMapping, DataError, FitError, FitOptions, Law, LawError, Observations, Residual,
};

/// Named data + procedure presets; each cites its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// The authors' T5/C4 table (`t5-data.csv`, PAPER.md §2) and procedure: S = sparsity,
    /// N = 24·(12·768²)·scale·(1 − S)/1e6, D = steps/1e5, loss = val-loss; law
    /// `paper-normalised`; Huber δ = 1e-3 on log residuals, 25 starts uniform in (0, 1).
    #[value(name = "t5-paper")]
    T5Paper,
}

impl Preset {
    /// The preset's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::T5Paper => "t5-paper",
        }
    }

    /// Looks a preset up by name (as stored in a fit record).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "t5-paper" => Some(Preset::T5Paper),
            _ => None,
        }
    }

    /// Column mapping.
    pub fn mapping(self) -> CsvMapping {
        match self {
            Preset::T5Paper => CsvMapping::t5_paper(),
        }
    }

    /// Fit options.
    pub fn options(self) -> FitOptions {
        match self {
            Preset::T5Paper => FitOptions::t5_paper(),
        }
    }

    /// Default law.
    pub fn law(self) -> &'static str {
        match self {
            Preset::T5Paper => "paper-normalised",
        }
    }

    /// Reference predictions: the authors' extrapolation check (PAPER.md §2): T5-XL pruned to
    /// S = 0.75, N = 48·12·1024² non-zeros (N/1e6 = 603.98), 500k steps (D = 5), L = 1.48278.
    pub fn predictions(self) -> Vec<PredictionPoint> {
        match self {
            Preset::T5Paper => vec![PredictionPoint {
                label: "T5-XL".into(),
                s: 0.75,
                n: 48.0 * 12.0 * 1024.0 * 1024.0 / 1e6,
                d: 5.0,
                measured: Some(1.48278),
            }],
        }
    }
}

/// Where the points come from and how CSV columns become variables.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DataArgs {
    /// Named preset for the column mapping, law and fit procedure (options below override it).
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// A variable as an expression over CSV columns, e.g. `D=steps/1e5` (repeatable). Columns
    /// whose names are not identifiers are written in backticks (`val-loss`) or with `_`.
    /// Default: a column named like each variable of the law.
    #[arg(long = "var", value_name = "VAR=EXPR")]
    pub vars: Vec<String>,
    /// The loss as an expression over CSV columns (a bare column name such as val-loss works).
    /// Default: column `loss`.
    #[arg(long, value_name = "EXPR")]
    pub loss: Option<String>,
    /// Optional per-point weight as an expression over CSV columns.
    #[arg(long, value_name = "EXPR")]
    pub weight: Option<String>,
    /// Results directory only: N is divided by this (default 1e6, the authors' N/1e6).
    #[arg(long, value_name = "UNIT")]
    pub n_unit: Option<f64>,
    /// Results directory only: D is divided by this (default: ViT 1e9 examples, T5 1e5 steps,
    /// as in the authors' code).
    #[arg(long, value_name = "UNIT")]
    pub d_unit: Option<f64>,
    /// Results directory only: use the records of this model family (required when the
    /// directory mixes ViT and T5 records).
    #[arg(long, value_name = "vit|t5")]
    pub family: Option<crate::experiment::Family>,
}

impl DataArgs {
    /// Whether nothing was given.
    pub fn is_empty(&self) -> bool {
        self.preset.is_none()
            && self.vars.is_empty()
            && self.loss.is_none()
            && self.weight.is_none()
            && self.family.is_none()
    }
}

/// The law and the fitting procedure.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FitArgs {
    /// A built-in law (paper, paper-normalised, chinchilla, nm, from-dense) or a formula such as
    /// `(a*(1-S)^b + c)*N^(-d) + e*D^(-f) + g`. Default: the preset's, else paper-normalised.
    #[arg(long, value_name = "NAME|FORMULA")]
    pub law: Option<String>,
    /// Huber δ of the objective (default 1e-3, the T5 procedure).
    #[arg(long, value_name = "DELTA", allow_negative_numbers = true)]
    pub huber_delta: Option<f64>,
    /// Huber loss on log residuals `log pred − log y` (the default; T5 procedure).
    #[arg(long, conflicts_with = "raw")]
    pub log: bool,
    /// Huber loss on raw residuals `pred − y` (ViT procedure, with --huber-delta 0.01).
    #[arg(long)]
    pub raw: bool,
    /// Random starts, each parameter uniform in (0, 1) (default 25).
    #[arg(long)]
    pub starts: Option<usize>,
    /// Seed of the starts and the bootstrap (default 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Bootstrap replicates for confidence intervals (0 = none).
    #[arg(long, value_name = "B")]
    pub bootstrap: Option<usize>,
    /// Confidence level of the bootstrap intervals (default 0.95).
    #[arg(long)]
    pub confidence: Option<f64>,
    /// Iteration limit per start (default 2000).
    #[arg(long)]
    pub max_iter: Option<usize>,
}

impl FitArgs {
    /// Whether nothing was given.
    pub fn is_empty(&self) -> bool {
        self.law.is_none()
            && self.huber_delta.is_none()
            && !self.log
            && !self.raw
            && self.starts.is_none()
            && self.seed.is_none()
            && self.bootstrap.is_none()
            && self.confidence.is_none()
            && self.max_iter.is_none()
    }
}

/// Arguments of `sparse-scaling fit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV file of measured points (one row per run), or a results directory of
    /// `sparse-scaling run`.
    pub file: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
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

/// Errors of `fit` and `analyse` on the command line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `--law` is not a built-in name or a valid formula.
    #[error("--law: {0}")]
    Law(LawError),
    /// The data could not be read or is invalid.
    #[error("{0}")]
    Data(DataError),
    /// The fit failed.
    #[error("fit failed: {0}")]
    Fit(FitError),
    /// A plot could not be drawn or written.
    #[error("{0}")]
    Plot(PlotError),
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong and how to fix it.
        message: String,
    },
    /// An argument is invalid.
    #[error("{0}")]
    Usage(String),
    /// The results directory could not be read.
    #[error("{0}")]
    Results(ResultsError),
}

/// Resolves the law: `--law`, else the preset's, else `paper-normalised`. A formula's variables
/// are S, N, D, C and every name given with `--var`; its other symbols are parameters.
pub fn resolve_law(data: &DataArgs, fit: &FitArgs) -> Result<Law, CliError> {
    let spec = fit.law.clone().unwrap_or_else(|| {
        data.preset
            .map_or("paper-normalised", Preset::law)
            .to_string()
    });
    if BUILTINS.iter().any(|b| b.name == spec) {
        return Law::builtin(&spec).map_err(CliError::Law);
    }
    let mut vars: Vec<String> = DEFAULT_VARS.iter().map(|v| v.to_string()).collect();
    for a in &data.vars {
        if let Some((v, _)) = a.split_once('=') {
            let v = v.trim().to_string();
            if !v.is_empty() && !vars.contains(&v) {
                vars.push(v);
            }
        }
    }
    let vars: Vec<&str> = vars
        .iter()
        .map(String::as_str)
        .filter(|v| parse(&spec).map_or(true, |e| e.contains(v)))
        .collect();
    Law::parse(&spec, &vars).map_err(CliError::Law)
}

/// Resolves the fit options: the preset's (or the T5 procedure) with the flags applied.
pub fn resolve_options(data: &DataArgs, fit: &FitArgs) -> FitOptions {
    let mut o = data
        .preset
        .map_or_else(FitOptions::t5_paper, Preset::options);
    if let Some(d) = fit.huber_delta {
        o.huber_delta = d;
    }
    if fit.log {
        o.residual = Residual::Log;
    }
    if fit.raw {
        o.residual = Residual::Raw;
    }
    if let Some(s) = fit.starts {
        o.starts = s;
    }
    if let Some(s) = fit.seed {
        o.seed = s;
    }
    if let Some(b) = fit.bootstrap {
        o.bootstrap = b;
    }
    if let Some(c) = fit.confidence {
        o.confidence = c;
    }
    if let Some(m) = fit.max_iter {
        o.max_iter = m;
    }
    o
}

/// The header row of a CSV file (empty if unreadable; reading errors are reported later by the
/// loader with the file name).
pub fn csv_headers(path: &Path) -> Vec<String> {
    csv::Reader::from_path(path)
        .ok()
        .and_then(|mut r| {
            r.headers()
                .ok()
                .map(|h| h.iter().map(|s| s.trim().to_string()).collect())
        })
        .unwrap_or_default()
}

/// A bare CSV header that is not an identifier (`val-loss`) becomes `` `val-loss` ``.
fn quote_header(expr: &str, headers: &[String]) -> String {
    let t = expr.trim();
    if !t.starts_with('`')
        && headers.iter().any(|h| h == t)
        && !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        format!("`{t}`")
    } else {
        t.to_string()
    }
}

/// Resolves the CSV column mapping: the preset's (or one column per variable of the law, and
/// `loss`) with `--var`, `--loss` and `--weight` applied.
pub fn resolve_mapping(
    data: &DataArgs,
    law: &Law,
    headers: &[String],
) -> Result<CsvMapping, CliError> {
    let mut m = match data.preset {
        Some(p) => p.mapping(),
        None => {
            let used: Vec<&str> = law
                .var_names()
                .iter()
                .filter(|v| law.expr().contains(v))
                .map(String::as_str)
                .collect();
            CsvMapping::identity(&used)
        }
    };
    for a in &data.vars {
        let (v, e) = a.split_once('=').ok_or_else(|| {
            CliError::Usage(format!(
                "--var `{a}` is not of the form VAR=EXPRESSION, e.g. --var D=steps/1e5"
            ))
        })?;
        let (v, e) = (v.trim().to_string(), quote_header(e, headers));
        if v.is_empty() || e.is_empty() {
            return Err(CliError::Usage(format!("--var `{a}`: both the variable and the expression must be non-empty, e.g. --var D=steps/1e5")));
        }
        match m.vars.iter_mut().find(|(n, _)| *n == v) {
            Some(slot) => slot.1 = e,
            None => m.vars.push((v, e)),
        }
    }
    if let Some(l) = &data.loss {
        m.loss = quote_header(l, headers);
    }
    if let Some(w) = &data.weight {
        m.weight = Some(quote_header(w, headers));
    }
    Ok(m)
}

/// Reads the points of a CSV file with `mapping`.
pub fn load_observations(path: &Path, mapping: &CsvMapping) -> Result<Observations, CliError> {
    if path.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is a directory; expected a CSV file (one row per run)",
            path.display()
        )));
    }
    Observations::from_csv_path(path, mapping).map_err(CliError::Data)
}

/// Reads the finished points of a results directory (written by `sparse-scaling run`) as
/// observations S, N / `n_unit`, D / `d_unit`, loss = final validation loss, and a mapping that
/// records these units. With `family`, only that family's records; without, the records must
/// be of one family (else the error names the families and the `--family` flags).
pub fn load_results_dir(
    dir: &Path,
    n_unit: Option<f64>,
    d_unit: Option<f64>,
    family: Option<Family>,
) -> Result<(Observations, CsvMapping), CliError> {
    for (flag, v) in [("--n-unit", n_unit), ("--d-unit", d_unit)] {
        if let Some(v) = v {
            if !(v.is_finite() && v > 0.0) {
                return Err(CliError::Usage(format!(
                    "{flag} {v} must be a positive number, e.g. 1e6"
                )));
            }
        }
    }
    let store = ResultsDir::open(dir).map_err(CliError::Results)?;
    let records = store.records().map_err(CliError::Results)?;
    let records = select_family(records, family, dir).map_err(CliError::Results)?;
    let family = records[0].family();
    let d_name = d_unit_name(family);
    let n_unit = n_unit.unwrap_or(1e6);
    let d_unit = d_unit.unwrap_or(match family {
        Family::Vit => 1e9,
        Family::T5 => 1e5,
    });
    let cols = observation_columns(&records, n_unit, d_unit).map_err(CliError::Results)?;
    let obs = Observations::new(
        vec!["S".into(), "N".into(), "D".into()],
        vec![cols.s, cols.n, cols.d],
        cols.loss,
        None,
    )
    .map_err(|e| CliError::Usage(format!("{}: {e}", dir.display())))?;
    let mapping = CsvMapping {
        vars: vec![
            ("S".into(), "sparsity".into()),
            ("N".into(), format!("nonzero_params/{n_unit:e}")),
            ("D".into(), format!("{d_name}/{d_unit:e}")),
        ],
        loss: "final_val_loss".into(),
        weight: None,
        rename: Default::default(),
    };
    Ok((obs, mapping))
}

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
    law.check_vars_available(&obs.var_names)
        .map_err(|e| CliError::Fit(FitError::Law(e)))?;
    let result = fit(law, &obs, &options).map_err(CliError::Fit)?;
    Ok(FitRecord {
        format: FitRecord::FORMAT,
        source,
        preset: preset.map(|p| p.name().to_string()),
        mapping,
        law: LawSpec::of(law),
        options,
        observations: obs,
        fit: result,
    })
}

/// Loads (a CSV file or a results directory) and fits as the `fit`/`analyse` arguments say.
pub fn fit_from_args(
    file: &Path,
    data: &DataArgs,
    fit_args: &FitArgs,
) -> Result<FitRecord, CliError> {
    let law = resolve_law(data, fit_args)?;
    let options = resolve_options(data, fit_args);
    options.validate().map_err(CliError::Fit)?;
    if file.is_dir() {
        if !data.vars.is_empty() || data.loss.is_some() || data.weight.is_some() {
            return Err(CliError::Usage(format!(
                "{} is a results directory: its columns are fixed (S, N, D, final loss); --var/--loss/--weight apply to CSV files (use --n-unit/--d-unit to rescale)",
                file.display()
            )));
        }
        let (obs, mapping) =
            load_results_dir(file, data.n_unit, data.d_unit, data.family)?;
        return fit_observations(
            &law,
            obs,
            file.display().to_string(),
            data.preset,
            Some(mapping),
            options,
        );
    }
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
    let mapping = resolve_mapping(data, &law, &csv_headers(file))?;
    let obs = load_observations(file, &mapping)?;
    fit_observations(
        &law,
        obs,
        file.display().to_string(),
        data.preset,
        Some(mapping),
        options,
    )
}

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
    let name = r
        .law
        .name
        .as_deref()
        .map(|n| format!("{n}: "))
        .unwrap_or_default();
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
        format!(
            "{:.0}% CI ({} fits, {} failed)",
            100.0 * b.confidence,
            b.samples.len(),
            b.failed
        )
    });
    let _ = writeln!(o, "\n  {:<10} {:>14}  {}", "parameter", "value", ci_head);
    for (k, (name, v)) in f.param_names.iter().zip(&f.params).enumerate() {
        let ci = boot
            .and_then(|b| b.intervals.get(k))
            .map_or(String::new(), |(lo, hi)| {
                format!("[{}, {}]", sci(*lo), sci(*hi))
            });
        let _ = writeln!(o, "  {:<10} {:>14}  {}", name, sci(*v), ci);
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
        let _ = writeln!(
            o,
            "\n  {:>4}  {}  {:>10}  {:>10}  {:>10}",
            "row",
            r.observations
                .var_names
                .iter()
                .map(|v| format!("{v:>10}"))
                .collect::<Vec<_>>()
                .join("  "),
            "measured",
            "predicted",
            "residual"
        );
        for i in 0..r.observations.len() {
            let vals: Vec<String> = r
                .observations
                .columns
                .iter()
                .map(|c| format!("{:>10.4}", c[i]))
                .collect();
            let _ = writeln!(
                o,
                "  {:>4}  {}  {:>10.5}  {:>10.5}  {:>+10.2e}",
                i + 1,
                vals.join("  "),
                r.observations.loss[i],
                f.predictions[i],
                f.residuals[i]
            );
        }
    }
    o
}

/// Writes JSON to a file.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Io {
        path: path.to_path_buf(),
        message: format!("cannot encode JSON: {e}"),
    })?;
    std::fs::write(path, text + "\n").map_err(|e| CliError::Io {
        path: path.to_path_buf(),
        message: format!("cannot write: {e}; check that the directory exists and is writable"),
    })
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
    let title = format!(
        "{} — R² = {:.4}, {} points",
        r.law.name.as_deref().unwrap_or("fit"),
        r.fit.r2,
        pts.len()
    );
    predicted_vs_measured_svg(&pts, &title).map_err(CliError::Plot)
}

/// Runs `sparse-scaling fit`.
pub fn run(args: Args) -> super::CliResult {
    let record = fit_from_args(&args.file, &args.data, &args.fit)?;
    print!("{}", format_fit(&record, args.points));
    if let Some(p) = &args.json {
        write_json(p, &record)?;
        println!("wrote {}", p.display());
    }
    if let Some(p) = &args.plot {
        write_svg(p, &fit_plot(&record)?).map_err(CliError::Plot)?;
        println!("wrote {}", p.display());
    }
    Ok(())
}
