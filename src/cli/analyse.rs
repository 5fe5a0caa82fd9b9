//! `sparse-scaling analyse`: the quantities of docs/THEORY.md §3 from a fitted law —
//! dense-equivalent size m(S), optimal sparsity S_opt(N, C) under a cost model, the slopes of the
//! S_opt contours and of the dense compute-optimal line, where sparsity starts to pay, and
//! predictions — with bootstrap intervals when the fit has them; a table on stdout, `--json`,
//! and an S_opt contour plot (`--plot-contours`).
//!
//! ```text
//! sparse-scaling fit law/tests/data/t5-data.csv --preset t5-paper --bootstrap 200 --json t5-fit.json
//! sparse-scaling analyse t5-fit.json --plot-contours t5-contours.svg --json t5-analysis.json
//! sparse-scaling analyse law/tests/data/t5-data.csv --preset t5-paper --predict 0.75,603.98,5
//! sparse-scaling analyse --preset t5-paper --params 0.56779,0.72161,1.52265,0.24513,0.63362,0.20271,0.65074 --sizes 10,100,1000
//! sparse-scaling analyse nm-fit.json --group pruning=2:4
//! ```
//!
//! A grouped law (`a[pruning]`, docs/THEORY.md §2.6) has one value of `a` per group, and the
//! analysis needs one value per parameter: it analyses the law of each group of the fitted
//! points in turn (`--group COLUMN=VALUE` picks one), with the group's own coefficients and
//! the shared ones; `--json` then writes `{"groups": [{"group": {..}, "report": {..}}, ..]}`.

use std::path::{Path, PathBuf};

use super::files::{csv_headers, load_observations, load_results_dir, read_record, write_json};
use super::fit_args::{resolve_law, resolve_mapping, DataArgs, FitArgs, Preset};
use super::fitting::{fit_from_args, format_fit};
use super::output::{print, println};
use super::CliError;
use sparse_scaling_law::analysis::{
    Analysis, AnalysisReport, FitRecord, PredictionPoint, Reference, ReportSettings, SymbolicSurface, DEFAULT_COST,
    DEFAULT_NBAR,
};
use sparse_scaling_law::plot::{contours_svg, write_svg};
use sparse_scaling_law::{group, CsvMapping, Law, LawError, Observations};

/// Arguments of `sparse-scaling analyse`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A fit written by `sparse-scaling fit --json` (.json), or a CSV file to fit first with the
    /// data and fit options below (with --params: only read for the range of N and D).
    pub input: Option<PathBuf>,
    /// Analyse these coefficients (in the law's parameter order, comma-separated) instead of a
    /// fit, e.g. the paper's published ones.
    #[arg(long, value_delimiter = ',', value_name = "V,...", allow_hyphen_values = true)]
    pub params: Vec<f64>,
    /// N and D at which m(S) and the slopes are evaluated (default: largest N and D of the data;
    /// without data, the largest of --sizes and D = 1).
    #[arg(long, value_delimiter = ',', value_name = "N,D", allow_hyphen_values = true)]
    pub reference: Vec<f64>,
    /// Where the points come from and how CSV columns become variables.
    #[command(flatten)]
    pub data: DataArgs,
    /// The law and the fitting procedure.
    #[command(flatten)]
    pub fit: FitArgs,
    /// Training-cost model C(S, N, D), in the law's units (default: the paper's, a sparse run
    /// costs its dense parent). E.g. `6*N/(1-S)*(1-0.625*S)*D` for GMP that saves pruned compute.
    #[arg(long, default_value = DEFAULT_COST, value_name = "EXPR", allow_hyphen_values = true)]
    pub cost: String,
    /// N̄ (`Nbar`, the mean non-zero count over training) as an expression in S and N, for a law
    /// or cost model in `Nbar` such as `--law avg-params` (default: the paper's cubic 25 %–75 %
    /// schedule, whose mean density is 1 − 0.625·S).
    #[arg(long, default_value = DEFAULT_NBAR, value_name = "EXPR", allow_hyphen_values = true)]
    pub nbar: String,
    /// Sparsities of the m(S) table.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.5, 0.75, 0.875, 0.9375], allow_hyphen_values = true)]
    pub sparsity: Vec<f64>,
    /// Inference sizes N of the S_opt table, in the law's units (default: smallest and largest N
    /// of the data, and 10× the largest).
    #[arg(long, value_delimiter = ',', value_name = "N,...", allow_hyphen_values = true)]
    pub sizes: Vec<f64>,
    /// Training budgets C of the S_opt table (default: 1, 3, 10, 100, 1000 × the dense
    /// compute-optimal budget of each N).
    #[arg(long, value_delimiter = ',', value_name = "C,...", allow_hyphen_values = true)]
    pub budgets: Vec<f64>,
    /// Predict the loss at S,N,D (law units; repeatable), e.g. --predict 0.75,603.98,5.
    #[arg(long, value_name = "S,N,D", allow_hyphen_values = true)]
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
    /// For a grouped law (`a[pruning]`): analyse this group only, e.g. `--group pruning=2:4`
    /// (repeat for a law indexed by several columns). Default: every group of the fitted
    /// points in turn.
    #[arg(long = "group", value_name = "COLUMN=VALUE")]
    pub group: Vec<String>,
}

fn parse_point(text: &str, k: usize) -> Result<PredictionPoint, CliError> {
    let vals: Result<Vec<f64>, _> = text.split(',').map(|v| v.trim().parse::<f64>()).collect();
    match vals.as_deref() {
        Ok([s, n, d]) if (0.0..1.0).contains(s) && *n > 0.0 && n.is_finite() && *d > 0.0 && d.is_finite() => {
            Ok(PredictionPoint { label: format!("#{k}"), s: *s, n: *n, d: *d, measured: None })
        }
        Ok([s, n, d]) => Err(CliError::Usage(format!(
            "--predict `{text}`: need 0 <= S < 1, N > 0 and D > 0, finite (got S = {s}, N = {n}, D = {d})"
        ))),
        _ => Err(CliError::Usage(format!(
            "--predict `{text}`: expected three numbers S,N,D, e.g. --predict 0.75,603.98,5"
        ))),
    }
}

/// The cost model is finite and positive over the analysis' range: at every sparsity of the
/// m(S) table and S = 0, at the smallest and largest N (and every `--sizes`), D at the
/// reference and at `--budgets`' scale (N̄ taken as N).
fn cost_over_range(args: &Args, r: &Reference) -> Result<(), CliError> {
    let cost = sparse_scaling_law::parse(&args.cost).map_err(|e| CliError::Usage(format!("--cost: {e}")))?;
    let ns: Vec<f64> = [r.n_min, r.n_max].into_iter().chain(args.sizes.iter().copied()).collect();
    for s in std::iter::once(0.0).chain(args.sparsity.iter().copied()) {
        for &n in &ns {
            let d = r.d_max;
            let c = cost.eval_with(&[("S", s), ("N", n), ("D", d), ("Nbar", n)]).unwrap_or(f64::NAN);
            if !(c.is_finite() && c > 0.0) {
                return Err(CliError::Usage(format!(
                    "--cost `{}`: the cost model is {c} at S = {s}, N = {n}, D = {d}; a training cost must be finite \
                     and positive (no division by a term that can be 0, no negative factor)",
                    args.cost
                )));
            }
        }
    }
    Ok(())
}

fn positive(what: &str, v: &[f64]) -> Result<(), CliError> {
    match v.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
        Some(x) => Err(CliError::Usage(format!("{what} {x} must be a positive number"))),
        None => Ok(()),
    }
}

/// The contour plot's ranges: N from a decade below `n_lo` to two above `n_hi`; C from a decade
/// below where sparsity starts to pay at the smallest N to where S_opt reaches 0.95 at the
/// largest.
fn contour_plot(a: &Analysis, name: &str, n_lo: f64, n_hi: f64, n_unit: &str, cost: &str) -> Result<String, CliError> {
    let (x0, x1) = (n_lo.log10() - 1.0, n_hi.log10() + 2.0);
    let c_lo = a.contour_budget(0.0, 10f64.powf(x0)).map_err(|e| CliError::Usage(format!("contour plot: {e}")))?;
    let c_hi = a.contour_budget(0.95, 10f64.powf(x1)).map_err(|e| CliError::Usage(format!("contour plot: {e}")))?;
    let (y0, y1) = (c_lo.log10() - 1.0, c_hi.log10() + 0.5);
    let map = a.contour_map((x0, x1), (y0, y1), 60, &[0.0, 0.5, 0.75, 0.875, 0.9375]);
    let title = format!("Optimal sparsity S_opt(N, C) — {name}");
    contours_svg(&map, &title, &format!("N = {n_unit}"), &format!("C = {cost}")).map_err(CliError::Plot)
}

/// What is analysed: a law, its coefficients and their bootstrap samples.
struct Subject {
    law: Law,
    params: Vec<f64>,
    samples: Vec<Vec<f64>>,
    level: f64,
    reference: Reference,
    units: Option<(String, String)>,
    preset: Option<Preset>,
    /// For a grouped law: the fit's parameter names (one per group) and its points.
    grouped: Option<(Vec<String>, Observations)>,
}

impl Subject {
    /// A fit's law, coefficients and bootstrap samples, the range of its data as the reference,
    /// and its units. `file` is the fit file it was read from (`None`: fitted just now from
    /// the command line's `--law`); errors in its law name the file and the field.
    fn of_fit(r: FitRecord, preset: Option<Preset>, file: Option<&Path>) -> Result<Self, CliError> {
        let law = r.law.to_law().map_err(|e| match file {
            Some(path) => {
                let field = match e {
                    LawError::UnknownBuiltin { .. } | LawError::MistypedBuiltin { .. } => "law.name",
                    _ => "law.formula",
                };
                CliError::Io {
                    path: path.to_path_buf(),
                    message: format!(
                        "field `{field}`: {e}; the file was damaged or edited: fix the field, or refit with `sparse-scaling fit --json`"
                    ),
                }
            }
            None => CliError::Law(e),
        })?;
        if let (Some(path), Some(name)) = (file, &r.law.name) {
            // a built-in law is rebuilt by name: its formula in the file must still be the built-in's
            if law.name() == Some(name.as_str()) && law.text() != r.law.formula {
                return Err(CliError::Io {
                    path: path.to_path_buf(),
                    message: format!(
                        "field `law.formula` is `{}`, not the formula of the built-in law `{name}` named in `law.name` \
                         (`{}`); the file was damaged or edited: restore the field, or remove `law.name` to analyse \
                         the formula, or refit with `sparse-scaling fit --json`",
                        excerpt(&r.law.formula),
                        law.text()
                    ),
                });
            }
        }
        let grouped = (!r.fit.groups.is_empty()).then(|| (r.fit.param_names.clone(), r.observations.clone()));
        Ok(Subject {
            law,
            grouped,
            samples: r.fit.bootstrap_samples().map(<[Vec<f64>]>::to_vec).unwrap_or_default(),
            level: r.fit.bootstrap.as_ref().map_or(0.95, |b| b.confidence),
            reference: Reference::of(&r.observations),
            units: r.mapping.as_ref().and_then(units_of),
            preset,
            params: r.fit.params,
        })
    }
}

/// At most 60 characters of `text`, with `…` when cut.
fn excerpt(text: &str) -> String {
    let cut: String = text.chars().take(60).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The units of N and D: the expressions a mapping gives them.
fn units_of(m: &CsvMapping) -> Option<(String, String)> {
    let get = |v: &str| m.vars.iter().find(|(n, _)| n == v).map(|(_, e)| e.clone());
    Some((get("N")?, get("D")?))
}

fn subject(args: &Args) -> Result<Subject, CliError> {
    let is_json = args.input.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")));
    if is_json {
        let input = args.input.as_deref().unwrap_or(Path::new(""));
        if !args.data.is_empty() || !args.fit.is_empty() || !args.params.is_empty() || args.save_fit.is_some() {
            return Err(CliError::Usage(format!("{} is a saved fit; data and fit options (--preset, --var, --law, --params, --save-fit, …) only apply when analysing a CSV or given coefficients", input.display())));
        }
        let r = read_record(input)?;
        let preset = r.preset.as_deref().and_then(Preset::from_name);
        return Subject::of_fit(r, preset, Some(input));
    }
    if !args.params.is_empty() {
        let law = resolve_law(&args.data, &args.fit)?;
        if law.is_grouped() {
            return Err(CliError::Usage(format!(
                "--params: the law has parameters indexed by a column ({}); analyse a grouped fit \
                 (`sparse-scaling fit --json`), or give --params for one group's law with the index \
                 replaced by its value, e.g. `a[gmp]`",
                law.indexed().iter().map(|i| i.param.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        if args.params.len() != law.param_names().len() {
            return Err(CliError::Usage(format!(
                "--params: {} values for the {} parameters {} of the law",
                args.params.len(),
                law.param_names().len(),
                law.param_names().join(", ")
            )));
        }
        let (reference, units) = match &args.input {
            Some(file) if file.is_dir() => {
                let (obs, mapping) = load_results_dir(
                    file,
                    args.data.n_unit,
                    args.data.d_unit,
                    args.data.family,
                    args.data.skip_damaged,
                )?;
                (Reference::of(&obs), units_of(&mapping))
            }
            Some(file) => {
                if args.data.family.is_some() {
                    return Err(CliError::Usage(format!(
                        "--family applies to results directories; {} is a CSV file",
                        file.display()
                    )));
                }
                let mapping = resolve_mapping(&args.data, &law, &csv_headers(file))?;
                let obs = load_observations(file, &mapping)?;
                (Reference::of(&obs), units_of(&mapping))
            }
            None => {
                let n_max = args.sizes.iter().copied().fold(f64::NAN, f64::max);
                let n_min = args.sizes.iter().copied().fold(f64::NAN, f64::min);
                if n_max.is_nan() && args.reference.is_empty() {
                    return Err(CliError::Usage("--params without data: give --sizes (and optionally --reference N,D) so the tables have sizes to show".into()));
                }
                let n_max = if n_max.is_nan() { args.reference[0] } else { n_max };
                let n_min = if n_min.is_nan() { n_max } else { n_min };
                (
                    Reference { n_min, n_max, d_max: 1.0 },
                    args.data.preset.map(|p| p.mapping()).as_ref().and_then(units_of),
                )
            }
        };
        return Ok(Subject {
            law,
            grouped: None,
            params: args.params.clone(),
            samples: vec![],
            level: 0.95,
            reference,
            units,
            preset: args.data.preset,
        });
    }
    let input = args.input.as_deref().ok_or_else(|| {
        CliError::Usage("give a fit (.json from `sparse-scaling fit --json`), a CSV file to fit, or --params".into())
    })?;
    let r = fit_from_args(input, &args.data, &args.fit)?;
    println(format_fit(&r, false))?;
    if let Some(p) = &args.save_fit {
        write_json(p, &r)?;
        println(format_args!("wrote {}\n", p.display()))?;
    }
    Subject::of_fit(r, args.data.preset, None)
}

/// Runs `sparse-scaling analyse`.
pub fn run(args: Args) -> super::CliResult {
    // check the cost model and numbers before any fitting
    SymbolicSurface::cost_model(&args.cost).map_err(|e| CliError::Usage(format!("--cost: {e}")))?;
    positive("--sizes", &args.sizes)?;
    positive("--budgets", &args.budgets)?;
    positive("--reference", &args.reference)?;
    if !(args.reference.is_empty() || args.reference.len() == 2) {
        return Err(CliError::Usage("--reference takes two numbers N,D".into()).into());
    }
    for s in &args.sparsity {
        if !(0.0..1.0).contains(s) {
            return Err(CliError::Usage(format!("--sparsity {s} must be in [0, 1)")).into());
        }
    }
    let mut predictions = Vec::new();
    for (k, t) in args.predict.iter().enumerate() {
        predictions.push(parse_point(t, k + 1)?);
    }
    let subjects = per_group(subject(&args)?, &args.group)?;
    if subjects.len() > 1 && args.plot_contours.is_some() {
        return Err(CliError::Usage(format!(
            "--plot-contours draws one law: pick a group with --group (groups: {})",
            subjects.iter().map(|(g, _)| g.as_str()).collect::<Vec<_>>().join("; ")
        ))
        .into());
    }
    let grouped = subjects.first().is_some_and(|(g, _)| !g.is_empty());
    let mut reports = Vec::new();
    for (group, sub) in subjects {
        if grouped {
            println(format_args!("\n== group {group} =="))?;
        }
        let report = analyse_one(&args, sub, &predictions)?;
        reports.push(GroupReport { group: group_map(&group), report });
    }
    if let Some(p) = &args.json {
        if grouped {
            write_json(p, &GroupReports { groups: reports })?;
        } else if let Some(r) = reports.first() {
            write_json(p, &r.report)?;
        }
        println(format_args!("wrote {}", p.display()))?;
    }
    Ok(())
}

/// One group's analysis in the JSON of a grouped fit.
#[derive(Debug, serde::Serialize)]
struct GroupReport {
    /// The group, column → value.
    group: std::collections::BTreeMap<String, String>,
    /// Its analysis.
    report: AnalysisReport,
}

/// What `--json` writes for a grouped fit.
#[derive(Debug, serde::Serialize)]
struct GroupReports {
    /// Every group analysed.
    groups: Vec<GroupReport>,
}

/// `column=value, …` as a map.
fn group_map(group: &str) -> std::collections::BTreeMap<String, String> {
    group.split(", ").filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The subjects to analyse: the subject itself (label ""), or for a grouped fit the law of each
/// group (`--group` picks some), labelled `column=value, …`, with the reference of its points.
fn per_group(sub: Subject, picked: &[String]) -> Result<Vec<(String, Subject)>, CliError> {
    let Some((names, obs)) = &sub.grouped else {
        if !picked.is_empty() {
            return Err(CliError::Usage("--group applies to a grouped law (one with `a[column]`)".into()));
        }
        return Ok(vec![(String::new(), sub)]);
    };
    let mut wanted: Vec<(String, String)> = Vec::new();
    for g in picked {
        let (c, v) = g.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("--group `{g}` is not of the form COLUMN=VALUE, e.g. --group pruning=gmp"))
        })?;
        wanted.push((c.trim().to_string(), v.trim().to_string()));
    }
    let columns = sub.law.group_columns();
    if let Some((c, _)) = wanted.iter().find(|(c, _)| !columns.contains(c)) {
        return Err(CliError::Usage(format!(
            "--group {c}=…: the law's parameters are indexed by {}, not `{c}`",
            columns.join(", ")
        )));
    }
    let all = group::groups_in(&sub.law, obs).map_err(|e| CliError::Usage(e.to_string()))?;
    let chosen: Vec<&Vec<(String, String)>> = all.iter().filter(|g| wanted.iter().all(|w| g.contains(w))).collect();
    if chosen.is_empty() {
        let known: Vec<String> = all.iter().map(|g| label(g)).collect();
        return Err(CliError::Usage(format!(
            "--group {}: no such group in the fitted points (groups: {})",
            picked.join(" --group "),
            known.join("; ")
        )));
    }
    let mut out = Vec::new();
    for g in chosen {
        let pairs: Vec<(&str, &str)> = g.iter().map(|(c, v)| (c.as_str(), v.as_str())).collect();
        let f = group::fitted_group(&sub.law, names, &sub.params, &sub.samples, &pairs)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let rows: Vec<usize> = (0..obs.len())
            .filter(|&i| pairs.iter().all(|(c, v)| group::labels(obs, c).is_some_and(|l| l[i] == *v)))
            .collect();
        out.push((
            label(g),
            Subject {
                law: f.law,
                params: f.params,
                samples: f.samples,
                level: sub.level,
                reference: Reference::of(&obs.select(&rows)),
                units: sub.units.clone(),
                preset: sub.preset,
                grouped: None,
            },
        ));
    }
    Ok(out)
}

/// `column=value, …`
fn label(group: &[(String, String)]) -> String {
    group.iter().map(|(c, v)| format!("{c}={v}")).collect::<Vec<_>>().join(", ")
}

/// Analyses one law and prints the report (and writes the contour plot).
fn analyse_one(args: &Args, mut sub: Subject, predictions: &[PredictionPoint]) -> Result<AnalysisReport, CliError> {
    if let [n, d] = args.reference[..] {
        sub.reference.n_max = n;
        sub.reference.n_min = sub.reference.n_min.min(n);
        sub.reference.d_max = d;
    }
    cost_over_range(args, &sub.reference)?;
    let mut all = sub.preset.map(Preset::predictions).unwrap_or_default();
    all.extend(predictions.iter().cloned());
    let settings = ReportSettings {
        cost: args.cost.clone(),
        nbar: args.nbar.clone(),
        sparsities: args.sparsity.clone(),
        sizes: args.sizes.clone(),
        budgets: args.budgets.clone(),
        predictions: all,
        level: sub.level,
    };
    let report = AnalysisReport::build(
        &sub.law,
        &sub.params,
        &sub.samples,
        sub.level,
        sub.reference,
        sub.units.clone(),
        &settings,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    print(&report)?;
    if let Some(p) = &args.plot_contours {
        let a = Analysis::with_models(&sub.law, &sub.params, &args.cost, &args.nbar)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let n_unit = sub.units.as_ref().map_or("law units", |u| u.0.as_str());
        let name = sub.law.name().unwrap_or("fitted law").to_string();
        let svg = contour_plot(&a, &name, sub.reference.n_min, sub.reference.n_max, n_unit, &args.cost)?;
        write_svg(p, &svg).map_err(CliError::Plot)?;
        println(format_args!("wrote {}", p.display()))?;
    }
    Ok(report)
}
