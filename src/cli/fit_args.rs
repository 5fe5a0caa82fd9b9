//! The data and fit arguments that `fit` and `analyse` share ([`DataArgs`], [`FitArgs`],
//! [`Preset`]), and how they resolve into a [`Law`], [`FitOptions`] and a [`CsvMapping`]
//! (the fitting procedure of docs/THEORY.md §2).

use super::CliError;
use sparse_scaling_law::analysis::PredictionPoint;
use sparse_scaling_law::law::{BUILTINS, DEFAULT_VARS};
use sparse_scaling_law::validate::{Predicate, Scheme};
use sparse_scaling_law::{parse, BootstrapRefit, CsvMapping, FitOptions, Law, Residual};

/// Named data + procedure presets; each cites its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// The authors' T5/C4 table (`t5-data.csv`, docs/THEORY.md §2) and procedure: S = sparsity,
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

    /// Reference predictions: the authors' extrapolation check (docs/THEORY.md §2): T5-XL pruned to
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
    #[arg(long = "var", value_name = "VAR=EXPR", allow_hyphen_values = true)]
    pub vars: Vec<String>,
    /// The loss as an expression over CSV columns (a bare column name such as val-loss works).
    /// Default: column `loss`.
    #[arg(long, value_name = "EXPR", allow_hyphen_values = true)]
    pub loss: Option<String>,
    /// Optional per-point weight as an expression over CSV columns.
    #[arg(long, value_name = "EXPR", allow_hyphen_values = true)]
    pub weight: Option<String>,
    /// Results directory only: N is divided by this (default 1e6, the authors' N/1e6).
    #[arg(long, value_name = "UNIT", allow_negative_numbers = true)]
    pub n_unit: Option<f64>,
    /// Results directory only: D is divided by this (default: ViT 1e9 examples, T5 1e5 steps,
    /// as in the authors' code).
    #[arg(long, value_name = "UNIT", allow_negative_numbers = true)]
    pub d_unit: Option<f64>,
    /// Results directory only: use the records of this model family (required when the
    /// directory mixes ViT and T5 records).
    #[arg(long, value_name = "vit|t5")]
    pub family: Option<crate::experiment::Family>,
    /// Results directory only: leave out damaged records (truncated, garbage, wrong hash, …)
    /// instead of stopping; says how many were skipped, and which.
    #[arg(long)]
    pub skip_damaged: bool,
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
    /// `(a*(1-S)^b + c)*N^(-d) + e*D^(-f) + g`; `a[method]` fits one `a` per value of the column
    /// `method` (a CSV column, or `pruning`, `family`, `depth` of a results directory). Default:
    /// the preset's, else paper-normalised.
    #[arg(long, value_name = "NAME|FORMULA", allow_hyphen_values = true)]
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
    #[arg(long, allow_negative_numbers = true)]
    pub starts: Option<usize>,
    /// Seed of the starts and the bootstrap (default 1).
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Bootstrap replicates for confidence intervals (0 = none).
    #[arg(long, value_name = "B", allow_negative_numbers = true)]
    pub bootstrap: Option<usize>,
    /// Confidence level of the bootstrap intervals (default 0.95).
    #[arg(long, allow_negative_numbers = true)]
    pub confidence: Option<f64>,
    /// How each bootstrap resample is refitted: `warm` (default) from the fit over the
    /// resample's distinct points weighted by their counts, `rows` from the fit over the
    /// repeated rows (the slower procedure before `warm`), `cold` from all starts (about 25×
    /// slower).
    #[arg(long, value_name = "HOW", value_parser = ["warm", "rows", "cold"])]
    pub bootstrap_refit: Option<String>,
    /// Iteration limit per start (default 2000).
    #[arg(long, allow_negative_numbers = true)]
    pub max_iter: Option<usize>,
    /// Factor on the loss of points the law over-predicts (default 1: symmetric); above 1 the
    /// fit runs under the points, a lower envelope (as OLMo-core's `overestimate_penalty`).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub overestimate_penalty: Option<f64>,
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
            && self.bootstrap_refit.is_none()
            && self.max_iter.is_none()
            && self.overestimate_penalty.is_none()
    }
}

/// Resolves the law: `--law`, else the preset's, else `paper-normalised`. A formula's variables
/// are S, N, D, C and every name given with `--var`; its other symbols are parameters.
pub fn resolve_law(data: &DataArgs, fit: &FitArgs) -> Result<Law, CliError> {
    let spec = fit.law.clone().unwrap_or_else(|| data.preset.map_or("paper-normalised", Preset::law).to_string());
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
    let vars: Vec<&str> =
        vars.iter().map(String::as_str).filter(|v| parse(&spec).map_or(true, |e| e.contains(v))).collect();
    Law::parse(&spec, &vars).map_err(|e| CliError::Law(Law::explain_unknown_name(&spec, e)))
}

/// Resolves the fit options: the preset's (or the T5 procedure) with the flags applied.
pub fn resolve_options(data: &DataArgs, fit: &FitArgs) -> FitOptions {
    let mut o = data.preset.map_or_else(FitOptions::t5_paper, Preset::options);
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
    match fit.bootstrap_refit.as_deref() {
        Some("rows") => o.bootstrap_refit = BootstrapRefit::Rows,
        Some("cold") => o.bootstrap_refit = BootstrapRefit::Cold,
        Some(_) => o.bootstrap_refit = BootstrapRefit::Warm,
        None => {}
    }
    if let Some(m) = fit.max_iter {
        o.max_iter = m;
    }
    if let Some(x) = fit.overestimate_penalty {
        o.overestimate_penalty = x;
    }
    o
}

/// Which points to hold out of the fit and predict: by a condition, or each value of a column
/// in turn (see [`sparse_scaling_law::validate`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ValidationArgs {
    /// Fit only the points where this condition is false and predict the others, e.g.
    /// `'N > 50'` or `'scale >= 1 && S < 0.9'`: comparisons (< <= > >= == !=) of expressions
    /// over the law's variables, the CSV's columns and `loss`, joined by && and ||.
    #[arg(long, value_name = "CONDITION", conflicts_with = "cv", allow_hyphen_values = true)]
    pub holdout: Option<String>,
    /// Cross-validate: leave out each distinct value of this variable or CSV column in turn
    /// (e.g. each size or each length), refit and predict it.
    #[arg(long, value_name = "COLUMN")]
    pub cv: Option<String>,
}

impl ValidationArgs {
    /// The scheme asked for, if any.
    pub fn scheme(&self) -> Option<Scheme> {
        match (&self.holdout, &self.cv) {
            (Some(c), _) => Some(Scheme::Holdout { condition: c.clone() }),
            (None, Some(c)) => Some(Scheme::CrossValidation { column: c.trim_matches('`').to_string() }),
            (None, None) => None,
        }
    }

    /// The names the scheme reads from the points (to load from a CSV file with the variables).
    pub fn names(&self) -> Result<Vec<String>, CliError> {
        match self.scheme() {
            Some(Scheme::Holdout { condition }) => Predicate::parse(&condition)
                .map(|p| p.symbols())
                .map_err(|e| CliError::Usage(format!("--holdout: {e}"))),
            Some(Scheme::CrossValidation { column }) => Ok(vec![column]),
            None => Ok(vec![]),
        }
    }
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
pub fn resolve_mapping(data: &DataArgs, law: &Law, headers: &[String]) -> Result<CsvMapping, CliError> {
    let mut m = match data.preset {
        Some(p) => p.mapping(),
        None => {
            let used: Vec<&str> =
                law.var_names().iter().filter(|v| law.expr().contains(v)).map(String::as_str).collect();
            CsvMapping::identity(&used)
        }
    };
    for a in &data.vars {
        let (v, e) = a.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("--var `{a}` is not of the form VAR=EXPRESSION, e.g. --var D=steps/1e5"))
        })?;
        let (v, e) = (v.trim().to_string(), quote_header(e, headers));
        if v.is_empty() || e.is_empty() {
            return Err(CliError::Usage(format!(
                "--var `{a}`: both the variable and the expression must be non-empty, e.g. --var D=steps/1e5"
            )));
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
    // Columns the law's parameters are indexed by (`a[method]`) are read as text labels.
    for column in law.group_columns() {
        if !m.categorical.contains(&column) {
            m.categorical.push(column);
        }
    }
    Ok(m)
}
