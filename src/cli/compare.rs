//! `sparse-scaling compare`: fits several laws (built-in names and formulas, `--law`
//! repeated) to the same points with the same held-out points (`--holdout CONDITION` or
//! `--cv COLUMN`) and the same procedure, and ranks them by held-out error, with the in-sample
//! objective, the number of free parameters and convergence beside it (see
//! [`sparse_scaling_law::validate::compare`]); as a table, JSON (`--json`) and one SVG of the
//! held-out predictions (`--svg`).
//!
//! ```text
//! sparse-scaling compare law/tests/data/t5-data.csv --preset t5-paper --cv D \
//!     --law paper-normalised --law '(a*(1-S)^b + c)*N^(-d) + g' --svg compare.svg
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{ArgAction, ArgMatches, Command, FromArgMatches};

use super::files::write_json;
use super::fit_args::{resolve_law, resolve_options, DataArgs, FitArgs, ValidationArgs};
use super::fitting::load_from_args;
use super::output::{print, println};
use super::CliError;
use sparse_scaling_law::plot::{compare_svg, write_svg};
use sparse_scaling_law::validate::{compare, LawScore, Scheme};
use sparse_scaling_law::{FitOptions, Law};

/// The laws to compare (`--law`, repeated) and the fitting procedure (the flags of `fit`).
#[derive(Debug, Clone, Default)]
pub struct Laws {
    /// The laws, as given.
    pub laws: Vec<String>,
    /// The procedure (its `law` is unused).
    pub fit: FitArgs,
}

impl FromArgMatches for Laws {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut m.clone())
    }

    fn from_arg_matches_mut(m: &mut ArgMatches) -> Result<Self, clap::Error> {
        let laws = m.remove_many::<String>("law").map(Iterator::collect).unwrap_or_default();
        Ok(Laws { laws, fit: FitArgs::from_arg_matches_mut(m)? })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for Laws {
    fn augment_args(cmd: Command) -> Command {
        FitArgs::augment_args(cmd).mut_arg("law", |a| {
            a.action(ArgAction::Append).required(true).help(
                "A law to compare: a built-in name (paper, paper-normalised, chinchilla, nm, from-dense) or a formula; repeat for each law",
            )
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// Arguments of `sparse-scaling compare`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV file of measured points, or a results directory of `sparse-scaling run`.
    pub file: PathBuf,
    /// Where the points come from and how CSV columns become variables.
    #[command(flatten)]
    pub data: DataArgs,
    /// The laws and the fitting procedure.
    #[command(flatten)]
    pub laws: Laws,
    /// Which points to hold out and predict (one of the two is required).
    #[command(flatten)]
    pub validation: ValidationArgs,
    /// Write the ranking (every law's fit summary and held-out points) as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write an SVG of every law's held-out predictions against the measurements.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

/// What `--json` writes.
#[derive(Debug, serde::Serialize)]
pub struct Comparison {
    /// Where the points came from.
    pub source: String,
    /// How points were held out.
    pub scheme: Scheme,
    /// The fit options every law was fitted with.
    pub options: FitOptions,
    /// The laws, best first.
    pub ranking: Vec<LawScore>,
}

/// A law's label: its name, else its formula.
fn label(s: &LawScore) -> String {
    s.name.clone().unwrap_or_else(|| s.formula.clone())
}

/// The ranking as a table.
pub fn format_comparison(c: &Comparison) -> String {
    let mut o = String::new();
    let how = match &c.scheme {
        Scheme::Holdout { condition } => format!("points where `{condition}` held out"),
        Scheme::CrossValidation { column } => format!("each value of {column} held out in turn"),
    };
    let _ = writeln!(o, "data     {} ({how})", c.source);
    let _ = writeln!(
        o,
        "\n  {:>4}  {:>11}  {:>11}  {:>12}  {:>6}  {:>9}  {:>9}  law",
        "rank", "mean |err|", "max |err|", "objective", "params", "converged", "R²"
    );
    for s in &c.ranking {
        match &s.validation {
            Some(v) => {
                let _ = writeln!(
                    o,
                    "  {:>4}  {:>10.3}%  {:>10.3}%  {:>12.4e}  {:>6}  {:>9}  {:>9.5}  {}",
                    s.rank,
                    100.0 * v.mean_abs_rel_error,
                    100.0 * v.max_abs_rel_error,
                    s.objective.unwrap_or(f64::NAN),
                    s.params,
                    if s.converged == Some(true) { "yes" } else { "NO" },
                    s.r2.unwrap_or(f64::NAN),
                    label(s)
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    "  {:>4}  {:>11}  {:>11}  {:>12}  {:>6}  {:>9}  {:>9}  {}",
                    s.rank,
                    "-",
                    "-",
                    "-",
                    s.params,
                    "-",
                    "-",
                    label(s)
                );
            }
        }
    }
    for s in &c.ranking {
        if let Some(e) = &s.error {
            let _ = writeln!(o, "\n{}: failed: {e}", label(s));
        } else if !s.undetermined.is_empty() {
            let _ =
                writeln!(o, "\n{}: not determined by the data: {} (see `fit`)", label(s), s.undetermined.join(", "));
        }
    }
    let _ = writeln!(
        o,
        "\nranked by mean |relative error| of the held-out predictions; objective, R² and convergence are of the fit {}",
        match c.scheme {
            Scheme::Holdout { .. } => "to the points not held out",
            Scheme::CrossValidation { .. } => "to all points",
        }
    );
    o
}

/// Runs the comparison the arguments describe.
pub fn comparison(args: &Args) -> Result<Comparison, CliError> {
    let scheme = args.validation.scheme().ok_or_else(|| {
        CliError::Usage(
            "compare needs held-out points: --holdout CONDITION (e.g. 'N > 50') or --cv COLUMN (e.g. D)".into(),
        )
    })?;
    let laws: Vec<Law> = args
        .laws
        .laws
        .iter()
        .map(|spec| resolve_law(&args.data, &FitArgs { law: Some(spec.clone()), ..args.laws.fit.clone() }))
        .collect::<Result<_, _>>()?;
    let options = resolve_options(&args.data, &args.laws.fit);
    options.validate().map_err(CliError::fit_option)?;
    // Load the variables of every law and the columns the scheme reads.
    let mut extra = args.validation.names()?;
    let mut text = Vec::new();
    for law in &laws[1..] {
        extra.extend(law.var_names().iter().filter(|v| law.expr().contains(v)).cloned());
        text.extend(law.group_columns());
    }
    let (obs, _) = load_from_args(&args.file, &args.data, &laws[0], &extra, &text)?;
    let ranking = compare(&laws, &obs, &scheme, &options).map_err(CliError::Validate)?;
    Ok(Comparison { source: args.file.display().to_string(), scheme, options, ranking })
}

/// Runs `sparse-scaling compare`.
pub fn run(args: Args) -> super::CliResult {
    let c = comparison(&args)?;
    print(format_comparison(&c))?;
    if let Some(p) = &args.json {
        write_json(p, &c)?;
        println(format_args!("wrote {}", p.display()))?;
    }
    if let Some(p) = &args.svg {
        let series: Vec<(String, Vec<(f64, f64)>)> = c
            .ranking
            .iter()
            .filter_map(|s| {
                let v = s.validation.as_ref()?;
                let text = format!("#{} {} ({:.2}%)", s.rank, label(s), 100.0 * v.mean_abs_rel_error);
                Some((text, v.points.iter().map(|p| (p.measured, p.predicted)).collect()))
            })
            .collect();
        let title = format!("held-out predictions of {} laws", c.ranking.len());
        write_svg(p, &compare_svg(&series, &title).map_err(CliError::Plot)?).map_err(CliError::Plot)?;
        println(format_args!("wrote {}", p.display()))?;
    }
    Ok(())
}
