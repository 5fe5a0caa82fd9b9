//! Errors of experiment files: every one names the file, a line and column, and the fix.

use std::fmt;
use std::path::PathBuf;

/// One problem found by validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// Field path, e.g. `sparsity[2]`, `pruning[0].m`, `model.heads`.
    pub field: String,
    /// Line of the field in the file (1-based; 0 when validated without a source).
    pub line: usize,
    /// Column (1-based; 0 without a source).
    pub column: usize,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}\n    fix: {}", self.field, self.problem, self.fix)
    }
}

/// Error of loading, validating or expanding an experiment.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The file could not be read.
    #[error("cannot read experiment file {}\n  fix: check the path (it is relative to the current directory)", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{}:{line}:{column}: the file is not UTF-8 text: byte {byte} (0x{value:02x}) is not valid UTF-8\n  fix: save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 old.ron > new.ron`), or remove the character at this position", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Offset of the first invalid byte, from 0.
        byte: usize,
        /// Its value.
        value: u8,
        /// Its line, from 1.
        line: usize,
        /// Its column (in characters of the valid text before it), from 1.
        column: usize,
    },
    /// The text is not valid RON, or does not match the schema (unknown field, wrong type…).
    #[error("{}:{line}:{column}: {message}\n  fix: {fix}", path.display())]
    Syntax {
        /// The file (`<string>` for in-memory sources).
        path: PathBuf,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// The parser's message.
        message: String,
        /// How to fix it.
        fix: String,
    },
    /// The experiment parsed but some values are invalid.
    #[error("{}: invalid experiment ({} problem{}):{}", path.display(), issues.len(), if issues.len() == 1 { "" } else { "s" }, IssueList { path, issues })]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Everything that is wrong, in file order.
        issues: Vec<Issue>,
    },
}

struct IssueList<'a> {
    path: &'a PathBuf,
    issues: &'a [Issue],
}

impl fmt::Display for IssueList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in self.issues {
            write!(f, "\n  {}:{}:{}: {}", self.path.display(), i.line, i.column, i)?;
        }
        Ok(())
    }
}

impl ExperimentError {
    /// The validation issues, if this is [`ExperimentError::Invalid`].
    pub fn issues(&self) -> &[Issue] {
        match self {
            ExperimentError::Invalid { issues, .. } => issues,
            _ => &[],
        }
    }
}

/// A fix hint for a RON/serde error.
pub(crate) fn hint(code: &ron::Error) -> String {
    use ron::Error as E;
    match code {
        E::NoSuchStructField { expected, found, outer } => format!(
            "remove `{found}`{} or rename it to one of: {}",
            outer.as_ref().map(|o| format!(" from `{o}`")).unwrap_or_default(),
            expected.join(", ")
        ),
        E::MissingStructField { field, outer } => {
            format!("add `{field}: …`{}", outer.as_ref().map(|o| format!(" to `{o}`")).unwrap_or_default())
        }
        E::DuplicateStructField { field, .. } => format!("keep only one `{field}`"),
        E::NoSuchEnumVariant { expected, found, .. } => {
            format!("replace `{found}` by one of: {}", expected.join(", "))
        }
        E::ExpectedComma => "separate fields and list elements with `,`".into(),
        E::ExpectedArrayEnd => "close the list with `]` (and check for a missing `,`)".into(),
        E::ExpectedStructLikeEnd => "close with `)`; check for a missing `,` or an extra value".into(),
        E::ExpectedMapColon => "write fields as `name: value`".into(),
        E::ExpectedFloat => "write a number such as `0.5`".into(),
        E::ExpectedInteger => "write a whole number such as `64` (no decimal point or sign)".into(),
        E::ExpectedString | E::ExpectedStringEnd => "write text in double quotes, e.g. `\"name\"`".into(),
        E::ExpectedArray => "write a list in brackets, e.g. `[0.0, 0.5]`".into(),
        E::Eof => "the file ends early: close every `(` and `[`".into(),
        E::TrailingCharacters => "remove what follows the closing `)` of the experiment".into(),
        E::InvalidValueForType { expected, .. } => format!("write {expected}"),
        E::IntegerOutOfBounds => "use a smaller, non-negative whole number".into(),
        E::UnclosedBlockComment => "close the `/*` comment with `*/`".into(),
        E::Message(m) if m.contains("unknown variant") => "use one of the variants the message lists".into(),
        _ => "compare with experiments/quickstart.ron and the schema documented in `sparse_scaling_experiment::schema`"
            .into(),
    }
}
