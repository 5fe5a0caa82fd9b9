//! # sparse-scaling-experiment
//!
//! Experiment files for sparse scaling studies (Frantar et al., ICLR 2024): a `.ron` file
//! declares model family and sizes × sparsity levels × pruning methods × training lengths ×
//! seeds, the training recipe, and the fit and analysis to run afterwards (docs/THEORY.md §1–5).
//!
//! - [`schema`]: the types of a file, with their defaults.
//! - [`ExperimentFile::load`]: reads a file; RON syntax and schema errors carry the file, line,
//!   column and a fix.
//! - [`ExperimentFile::validate`]: checks values (0 ≤ S < 1, n < m, m divides the input
//!   widths, heads divide the width, start < end ≤ steps, non-empty axes, law formula parses;
//!   [`bounds`]: finite, in-range optimizer values, at most [`MAX_STEPS`] steps, at most
//!   [`MAX_POINT_BYTES`] of memory per point by the [`memory`] estimate) and reports every
//!   problem with its field path, position and fix.
//! - [`Experiment::expand`]: the points, each fully resolved, with a stable content hash
//!   ([`point`] documents what the hash covers).
//!
//! ```
//! use sparse_scaling_experiment::ExperimentFile;
//! let src = r#"(name: "bad", model: (family: Vit, sizes: Widths([32])), sparsity: [1.0], steps: [10])"#;
//! let err = ExperimentFile::from_str("bad.ron", src).and_then(|f| f.validate()).unwrap_err();
//! assert!(err.to_string().contains("bad.ron:1:"));
//! assert!(err.to_string().contains("outside [0, 1)"));
//! ```

#![warn(missing_docs)]
// Validation writes `!(x > 0.0)` on purpose: it is true for NaN, which must be rejected too.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod bounds;
pub mod error;
mod expand;
pub mod formula;
pub mod memory;
pub mod point;
pub mod pruning;
pub mod schema;
pub mod shape;
pub mod span;
mod syntax;

use std::path::{Path, PathBuf};

pub use bounds::MAX_STEPS;
pub use error::{ExperimentError, Issue};
pub use memory::{MemoryEstimate, MAX_POINT_BYTES};
pub use point::{Dims, Point, PointLr, PointSpec};
pub use pruning::{At, Pruning, PruningPlan, ScheduleShape};
pub use schema::*;
pub use shape::ShapeKey;
pub use span::{Pos, SpanIndex};

/// RON options used for every experiment file: `implicit_some` is on, so optional fields
/// are written `depth: 4` rather than `depth: Some(4)`.
pub fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
}

/// An experiment together with the file it came from (for error positions).
#[derive(Debug, Clone)]
pub struct ExperimentFile {
    /// The file (or a label such as `<string>`).
    pub path: PathBuf,
    /// Its text.
    pub source: String,
    /// The parsed experiment.
    pub experiment: Experiment,
    spans: SpanIndex,
}

impl ExperimentFile {
    /// Reads and parses `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<ExperimentFile, ExperimentError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ExperimentError::Io { path: path.to_path_buf(), source })?;
        let source = syntax::decode(path, bytes)?;
        Self::from_str(path, &source)
    }

    /// Parses `source`, labelling errors with `path`. A leading UTF-8 byte-order mark is
    /// skipped.
    pub fn from_str(path: impl AsRef<Path>, source: &str) -> Result<ExperimentFile, ExperimentError> {
        let path = path.as_ref().to_path_buf();
        let source = syntax::strip_bom(source);
        let experiment: Experiment =
            ron_options().from_str(source).map_err(|e| syntax::syntax_error(&path, source, &e))?;
        Ok(ExperimentFile { path, source: source.to_string(), experiment, spans: SpanIndex::build(source) })
    }

    /// Every problem, positioned in the file and sorted by position.
    pub fn issues(&self) -> Vec<Issue> {
        let mut issues = self.experiment.issues();
        if let Data::ImageFolder { path, .. } | Data::CifarBinary { path, .. } | Data::JsonLines { path } =
            &self.experiment.data
        {
            let p = Path::new(path);
            let full = if p.is_absolute() { p.to_path_buf() } else { self.base_dir().join(p) };
            if !full.exists() {
                issues.push(Issue {
                    field: "data.path".into(),
                    line: 0,
                    column: 0,
                    problem: format!("{} does not exist", full.display()),
                    fix: "give a path that exists; relative paths are relative to the experiment file".into(),
                });
            }
        }
        for i in &mut issues {
            let p = self.spans.find(&i.field);
            i.line = p.line;
            i.column = p.column;
        }
        issues.sort_by_key(|i| (i.line, i.column));
        issues
    }

    /// `Ok` when the experiment is valid, else [`ExperimentError::Invalid`] listing every problem.
    pub fn validate(&self) -> Result<(), ExperimentError> {
        let issues = self.issues();
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ExperimentError::Invalid { path: self.path.clone(), issues })
        }
    }

    /// Validates, then expands into points.
    pub fn expand(&self) -> Result<Vec<Point>, ExperimentError> {
        self.validate()?;
        Ok(self.experiment.expand_unchecked())
    }

    /// The directory relative paths in the file (data files) are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        self.path.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    /// Position of a field path (or its nearest ancestor) in the file.
    pub fn position(&self, field: &str) -> Pos {
        self.spans.find(field)
    }
}

impl Experiment {
    /// Parses RON text (errors are labelled `<string>`).
    pub fn from_ron_str(source: &str) -> Result<Experiment, ExperimentError> {
        ExperimentFile::from_str("<string>", source).map(|f| f.experiment)
    }

    /// `Ok` when valid, else every problem (without positions; use [`ExperimentFile`] for
    /// positions).
    pub fn validate(&self) -> Result<(), ExperimentError> {
        let issues = self.issues();
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ExperimentError::Invalid { path: PathBuf::from("<experiment>"), issues })
        }
    }

    /// Validates, then expands into points.
    pub fn expand(&self) -> Result<Vec<Point>, ExperimentError> {
        self.validate()?;
        Ok(self.expand_unchecked())
    }

    /// Pretty RON text of this experiment (all defaults written out).
    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default()).unwrap_or_default()
    }
}
