//! The text form of a [`Validation`]: one row per held-out point, the folds of a
//! cross-validation and the summary line.

use std::fmt::Write as _;

use super::summary::{Scheme, Validation};

/// A percentage with two decimals.
fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

impl Validation {
    /// The held-out points (and, for cross-validation, the folds) and the summary, as a text
    /// table: what `fit --holdout`/`--cv` prints and `report` writes.
    pub fn table(&self) -> String {
        let v = self;
        let mut o = String::new();
        let how = match &v.scheme {
            Scheme::Holdout { condition } => {
                format!("the {} points where `{condition}` (fitted without them)", v.points.len())
            }
            Scheme::CrossValidation { column } => {
                format!("each value of {column} in turn ({} folds, each fitted without it)", v.folds.len())
            }
        };
        let _ = writeln!(o, "\nheld out: {how}");
        let names: Vec<&String> = v.points.first().map_or(vec![], |p| p.values.keys().chain(p.labels.keys()).collect());
        let ci = v.confidence.map(|c| format!("  {:.0}% interval", 100.0 * c)).unwrap_or_default();
        let _ = writeln!(
            o,
            "  {:>4}  {}  {:>10}  {:>10}  {:>10}{ci}",
            "row",
            names.iter().map(|n| format!("{n:>10}")).collect::<Vec<_>>().join("  "),
            "measured",
            "predicted",
            "rel. error"
        );
        for p in &v.points {
            let vals: Vec<String> = p
                .values
                .values()
                .map(|x| format!("{x:>10.4}"))
                .chain(p.labels.values().map(|l| format!("{l:>10}")))
                .collect();
            let interval = p.interval.map(|(lo, hi)| format!("  [{lo:.5}, {hi:.5}]")).unwrap_or_default();
            let _ = writeln!(
                o,
                "  {:>4}  {}  {:>10.5}  {:>10.5}  {:>+10.3}%{interval}",
                p.row + 1,
                vals.join("  "),
                p.measured,
                p.predicted,
                100.0 * p.rel_error
            );
        }
        if !v.folds.is_empty() {
            let _ = writeln!(
                o,
                "\n  {:>12}  {:>6}  {:>6}  {:>12}  {:>10}  {:>10}",
                "left out", "fitted", "held", "objective", "converged", "mean |err|"
            );
            for f in &v.folds {
                let _ = writeln!(
                    o,
                    "  {:>12}  {:>6}  {:>6}  {:>12.4e}  {:>10}  {:>10}",
                    format!("{}", f.value),
                    f.fitted,
                    f.held_out,
                    f.objective,
                    if f.converged { "yes" } else { "NO" },
                    pct(f.mean_abs_rel_error)
                );
            }
        }
        let coverage = match (v.coverage, v.confidence) {
            (Some(c), Some(l)) => format!("; {} of the measurements inside their {:.0}% interval", pct(c), 100.0 * l),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "held-out error: mean |relative error| {}, max {}, RMSE {:.4e} ({} points){coverage}",
            pct(v.mean_abs_rel_error),
            pct(v.max_abs_rel_error),
            v.rmse,
            v.points.len()
        );
        o
    }
}
