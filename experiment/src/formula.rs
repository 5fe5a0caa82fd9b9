//! Checks of the formulas and numbers an experiment's analysis uses (its law, cost model, the
//! condition of the points it holds out, and S_opt budgets and sizes), with the law crate's own
//! parser and evaluator, so that whatever would fail in the final analysis after all training is
//! reported by `check` before any (issue 12, parts 1 and 3). The law, cost model and holdout are
//! also evaluated over the sweep's points, in the units the analysis fits in (N / `n_unit`,
//! D / `d_unit`; docs/THEORY.md §1).

use sparse_scaling_law::validate::Predicate;
use sparse_scaling_law::{Expr, Law, LawError, MAX_DEPTH, MAX_NODES};

use crate::error::Issue;
use crate::schema::{Analysis, Experiment};

/// The variables a measured point has: S, N, D and N̄ (`Nbar`, the mean non-zero count over
/// training, docs/THEORY.md §7).
pub const VARS: [&str; 4] = ["S", "N", "D", "Nbar"];

/// Parameter values the law is tried with at each point: the fit's starts lie in (0, 1).
const TRIAL_PARAMS: [f64; 3] = [0.25, 0.5, 0.75];

fn issue(field: &str, problem: impl Into<String>, fix: impl Into<String>) -> Issue {
    Issue { field: field.into(), line: 0, column: 0, problem: problem.into(), fix: fix.into() }
}

/// How to fix a formula the law crate refused.
fn fix_for(e: &LawError, otherwise: &str) -> String {
    match e {
        LawError::Limit(_) => format!("write a shorter formula (at most {MAX_NODES} nodes and {MAX_DEPTH} levels)"),
        LawError::Parse(p) if p.expected.contains("shorter formula") || p.expected.contains("within the limits") => {
            format!("write a shorter formula (at most {MAX_NODES} nodes and {MAX_DEPTH} levels)")
        }
        LawError::MistypedBuiltin { suggestion, .. } => format!("write `law: \"{suggestion}\"`"),
        _ => otherwise.to_string(),
    }
}

/// The sweep's points as (S, N, D, N̄) in the analysis's units, N̄ from each plan's closed-form
/// mean density.
fn sweep_points(e: &Experiment, a: &Analysis) -> Vec<[f64; 4]> {
    let d_unit = a.d_unit_for(e.model.family);
    e.expand_unchecked()
        .iter()
        .map(|p| {
            let (s, n) = (p.spec.sparsity, p.spec.nonzero_params() / a.n_unit);
            let nbar = if s > 0.0 { n / (1.0 - s) * p.spec.pruning.mean_density(s, p.spec.steps) } else { n };
            [s, n, p.spec.data_seen() / d_unit, nbar]
        })
        .collect()
}

fn at(p: &[f64; 4]) -> String {
    format!("S = {}, N = {:.6e}, D = {:.6e}", p[0], p[1], p[2])
}

/// Every problem with the experiment's analysis section. `points_valid` says that the rest of
/// the experiment is valid, so that its points can be expanded and the formulas evaluated
/// over them; otherwise only the text of the formulas and the numbers are checked.
pub fn analysis_issues(e: &Experiment, points_valid: bool) -> Vec<Issue> {
    let Some(a) = &e.analysis else { return Vec::new() };
    let mut out = Vec::new();
    let law = match Law::from_name_or_formula(&a.law) {
        Ok(law) => match law.var_names().iter().find(|v| !VARS.contains(&v.as_str())) {
            Some(v) => {
                out.push(issue(
                    "analysis.law",
                    format!("the law uses variable `{v}`, but measured points only have S, N, D and Nbar"),
                    "write the law in S, N, D (and Nbar, the mean non-zero count over training)",
                ));
                None
            }
            None => Some(law),
        },
        Err(err) => {
            let fix = fix_for(&err, "use a built-in law name such as \"paper\", or a formula in S, N, D, e.g. \"(a*(1-S)^b + c)*N^(-d) + e*D^(-f) + g\"");
            out.push(issue("analysis.law", err.to_string(), fix));
            None
        }
    };
    let cost_fix =
        "write the training cost as an expression in S, N, D that is positive over the sweep, e.g. \"6*N/(1-S)*D\"";
    let cost = match sparse_scaling_law::parse(&a.cost) {
        Ok(expr) => match expr.symbols().into_iter().find(|s| !VARS.contains(&s.as_str())) {
            Some(s) => {
                out.push(issue(
                    "analysis.cost",
                    format!("unknown symbol `{s}` in the cost model (only S, N, D and Nbar are known)"),
                    cost_fix,
                ));
                None
            }
            None => Some(expr),
        },
        Err(err) => {
            let fix = fix_for(&LawError::Parse(err.clone()), cost_fix);
            out.push(issue("analysis.cost", err.to_string(), fix));
            None
        }
    };
    if let Some(nbar) = &a.nbar {
        let in_s_n = sparse_scaling_law::parse(nbar).map_err(|e| e.to_string()).and_then(|e| {
            match e.symbols().into_iter().find(|s| s != "S" && s != "N") {
                Some(s) => Err(format!("unknown symbol `{s}` in `{nbar}` (N̄ is a function of S and N)")),
                None => Ok(()),
            }
        });
        if let Err(msg) = in_s_n {
            out.push(issue(
                "analysis.nbar",
                msg,
                "write N̄ as an expression in S and N, e.g. \"N/(1-S)*(1-0.625*S)\" for the cubic 25 %–75 % schedule",
            ));
        }
    }
    let holdout = a.holdout.as_deref().and_then(|text| holdout_predicate(text, &mut out));
    // (the sizes are checked with the other numbers, in bounds.rs)
    for (name, values) in [("s_opt_budgets", &a.s_opt_budgets)] {
        for (i, v) in values.iter().enumerate() {
            if !(v.is_finite() && *v > 0.0) {
                out.push(issue(
                    &format!("analysis.{name}[{i}]"),
                    format!("{v} is not a positive number"),
                    "give positive values in the analysis's units (N / n_unit, C of the cost model), or leave the list empty for the measured range",
                ));
            }
        }
    }
    let units_valid = a.n_unit.is_finite() && a.n_unit > 0.0 && a.d_unit.map_or(true, |d| d.is_finite() && d > 0.0);
    if !(points_valid && units_valid) {
        return out;
    }
    let points = sweep_points(e, a);
    if let Some(law) = &law {
        out.extend(law_over_points(law, &points));
    }
    if let Some(cost) = &cost {
        out.extend(cost_over_points(cost, &points, cost_fix));
    }
    if let Some((text, pred)) = holdout {
        out.extend(holdout_over_points(text, &pred, &points));
    }
    out
}

/// How to write `analysis.holdout`.
const HOLDOUT_FIX: &str = "write a condition over S, N, D, Nbar (the analysis's units) and loss, e.g. \"N > 50\" or \"S == 0.875\"; the points where it holds are held out of the fit";

/// `analysis.holdout` parsed, when it parses and uses only the measured points' names.
fn holdout_predicate<'a>(text: &'a str, out: &mut Vec<Issue>) -> Option<(&'a str, Predicate)> {
    let pred = match Predicate::parse(text) {
        Ok(p) => p,
        Err(e) => {
            out.push(issue("analysis.holdout", e.to_string(), HOLDOUT_FIX));
            return None;
        }
    };
    if let Some(s) = pred.symbols().into_iter().find(|s| !VARS.contains(&s.as_str()) && s != "loss") {
        out.push(issue(
            "analysis.holdout",
            format!("unknown name `{s}` in `{text}` (measured points have S, N, D, Nbar and loss)"),
            HOLDOUT_FIX,
        ));
        return None;
    }
    Some((text, pred))
}

/// A holdout that does not depend on the loss must hold out some of the sweep's points and
/// leave some to fit.
fn holdout_over_points(text: &str, pred: &Predicate, points: &[[f64; 4]]) -> Option<Issue> {
    if pred.symbols().iter().any(|s| s == "loss") {
        return None; // decided only once the points are measured
    }
    let held = points
        .iter()
        .filter(|p| {
            let lookup = |s: &str| VARS.iter().position(|v| *v == s).map(|i| p[i]);
            pred.eval(&lookup).unwrap_or(false)
        })
        .count();
    let problem = if held == 0 {
        format!("`{text}` holds at none of the sweep's {} points, so nothing would be held out", points.len())
    } else if held == points.len() {
        format!("`{text}` holds at all {} of the sweep's points, so none would be left to fit", points.len())
    } else {
        return None;
    };
    Some(issue("analysis.holdout", problem, HOLDOUT_FIX))
}

/// The law is finite at every point for at least one of the trial parameter vectors (else no
/// start of the fit can succeed there).
fn law_over_points(law: &Law, points: &[[f64; 4]]) -> Option<Issue> {
    let vars_of = |p: &[f64; 4]| -> Vec<f64> {
        law.var_names().iter().map(|v| VARS.iter().position(|x| x == v).map_or(f64::NAN, |i| p[i])).collect()
    };
    for p in points {
        let vars = vars_of(p);
        let failures: Vec<(String, f64)> = TRIAL_PARAMS
            .iter()
            .filter_map(|t| law.first_non_finite(&vars, &vec![*t; law.param_names().len()]))
            .collect();
        if failures.len() == TRIAL_PARAMS.len() {
            let (term, value) = &failures[1];
            return Some(issue(
                "analysis.law",
                format!(
                    "the law is not finite at the sweep's point {}: with every parameter 0.5 the term `{term}` is {value} (and likewise with 0.25 and 0.75), so the final fit would fail",
                    at(p)
                ),
                "change that term so that it is finite over the sweep (no division by a term that can be 0, log and sqrt only of positive terms), or check n_unit and d_unit",
            ));
        }
    }
    None
}

/// The cost model is finite and positive at every point.
fn cost_over_points(cost: &Expr, points: &[[f64; 4]], fix: &str) -> Option<Issue> {
    for p in points {
        let c = cost.eval_with(&[("S", p[0]), ("N", p[1]), ("D", p[2]), ("Nbar", p[3])]).unwrap_or(f64::NAN);
        if !(c.is_finite() && c > 0.0) {
            return Some(issue(
                "analysis.cost",
                format!(
                    "the cost model is {c} at the sweep's point {}; a training cost must be finite and positive",
                    at(p)
                ),
                fix,
            ));
        }
    }
    None
}
