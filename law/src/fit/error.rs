//! The errors of fitting ([`FitError`]): each says what is wrong and how to fix it.

use crate::compile::TapeError;
use crate::data::DataError;
use crate::law::LawError;

/// Errors of [`fit`](super::fit()) and [`predict`](super::predict()).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// The law does not fit the data (e.g. a variable missing from the data).
    #[error(transparent)]
    Law(#[from] LawError),
    /// A grouped law cannot be bound to the data (a column missing, a group with too few points).
    #[error(transparent)]
    Group(Box<crate::group::GroupError>),
    /// The observations are invalid.
    #[error(transparent)]
    Data(#[from] DataError),
    /// An option has a bad value.
    #[error("fit option `{field}`: {message}")]
    Options {
        /// The option.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// An option names a parameter the law does not have.
    #[error("fit option `{field}` names `{name}`, which is not a parameter of the law (parameters: {params})")]
    UnknownParameter {
        /// The option.
        field: String,
        /// The name.
        name: String,
        /// Comma-separated parameters.
        params: String,
    },
    /// Every start had a non-finite objective.
    #[error("no start gave a finite objective ({starts} starts tried): for every start the law's prediction is not finite (or, with log residuals, not positive) at some point; look in the law for a division by zero, a log or sqrt of a negative number or a power of a negative base at the data's values (`Law::first_non_finite` names the term), and fix the law or the data's units")]
    NoValidStart {
        /// Starts tried.
        starts: usize,
    },
    /// Fewer distinct points than free parameters: the fit cannot determine them.
    #[error("{rows} points hold {distinct} distinct values of ({vars}) for {params} free parameters ({names}); a law cannot be determined by fewer distinct points than free parameters — add measurements at other ({vars}), or fix parameters (`fixed`) or choose a law with fewer")]
    TooFewPoints {
        /// Points (rows of non-zero weight).
        rows: usize,
        /// Distinct values of the law's variables among them.
        distinct: usize,
        /// The law's variables, comma-separated.
        vars: String,
        /// Free parameters.
        params: usize,
        /// Their names, comma-separated.
        names: String,
    },
    /// The loss is the same at every point.
    #[error("the loss is {value} at all {rows} points; a law cannot be fitted to a loss that does not vary — check that the loss column (--loss) is the measured loss")]
    ConstantLoss {
        /// Points.
        rows: usize,
        /// The loss.
        value: f64,
    },
    /// Internal shape error (should not happen).
    #[error(transparent)]
    Tape(#[from] TapeError),
}

impl From<crate::group::GroupError> for FitError {
    fn from(e: crate::group::GroupError) -> Self {
        FitError::Group(Box::new(e))
    }
}
