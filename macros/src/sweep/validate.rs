//! Checks a sweep at compile time with the run-time code of `sparse_scaling::spec`: RON
//! syntax, unknown fields, and every value check (S outside [0, 1), n ≥ m, m or the head count
//! not dividing a width, schedule start ≥ end, empty axes, a law formula that does not parse).
//! Each problem becomes a `syn::Error` on the offending tokens; several are combined.

use std::path::PathBuf;

use proc_macro2::Span;
use sparse_scaling_experiment::{ExperimentError, ExperimentFile, Point};

use super::parse::{Body, SweepInput};

/// A sweep that passed every check.
pub struct Checked {
    /// The RON text of the experiment.
    pub text: String,
    /// Label used for the file in run-time messages.
    pub label: String,
    /// For a file body: the path relative to the manifest (for `include_str!`).
    pub file: Option<String>,
    /// The expanded points.
    pub points: Vec<Point>,
}

pub fn validate(input: &SweepInput) -> syn::Result<Checked> {
    match &input.body {
        Body::File(lit) => {
            let rel = lit.value();
            let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
            let path = PathBuf::from(&dir).join(&rel);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                syn::Error::new_spanned(
                    lit,
                    format!(
                        "cannot read {}: {e}\n  fix: the path is relative to the crate root ({dir})",
                        path.display()
                    ),
                )
            })?;
            // Problems are reported on the literal, with the file's own line and column.
            let file =
                ExperimentFile::from_str(&rel, &text).map_err(|e| syn::Error::new_spanned(lit, e.to_string()))?;
            let points = file.expand().map_err(|e| syn::Error::new_spanned(lit, e.to_string()))?;
            Ok(Checked { text, label: rel.clone(), file: Some(rel), points })
        }
        Body::Inline(ron) => {
            let label = format!("sweep!({})", input.name);
            let at = |column: usize| -> Span { ron.span_at(column) };
            let file = ExperimentFile::from_str(&label, &ron.text).map_err(|e| match &e {
                ExperimentError::Syntax { column, message, fix, .. } => {
                    syn::Error::new(at(*column), format!("sweep!: {message}\n  fix: {fix}"))
                }
                other => syn::Error::new(ron.whole, other.to_string()),
            })?;
            let issues = file.issues();
            let mut errors = issues
                .iter()
                .map(|i| syn::Error::new(at(i.column), format!("sweep!: {}\n  fix: {}", i.problem, i.fix)));
            if let Some(mut first) = errors.next() {
                errors.for_each(|e| first.combine(e));
                return Err(first);
            }
            let points = file.expand().map_err(|e| syn::Error::new(ron.whole, e.to_string()))?;
            Ok(Checked { text: ron.text.clone(), label, file: None, points })
        }
    }
}
