//! The errors of held-out validation and law comparison ([`ValidateError`]): each says what is
//! wrong and how to fix it.

use crate::fit::FitError;

use super::predicate::PredicateError;

/// Errors of [`holdout`](super::holdout()), [`cross_validate`](super::cross_validate()) and
/// [`compare`](super::compare()).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidateError {
    /// The holdout condition does not parse or names an unknown column.
    #[error("holdout condition: {0}")]
    Predicate(#[from] PredicateError),
    /// The condition holds at no point.
    #[error("the holdout condition `{condition}` holds at none of the {points} points, so nothing is held out; choose a condition that some points meet, e.g. the largest N")]
    NothingHeldOut {
        /// The condition.
        condition: String,
        /// Points.
        points: usize,
    },
    /// The condition holds at every point.
    #[error("the holdout condition `{condition}` holds at all {points} points, so nothing is left to fit; hold out fewer points")]
    NothingLeft {
        /// The condition.
        condition: String,
        /// Points.
        points: usize,
    },
    /// The cross-validation column does not exist.
    #[error("cross-validation column `{column}` is not a variable or column of the points (available: {available})")]
    UnknownColumn {
        /// The column.
        column: String,
        /// Comma-separated names that exist.
        available: String,
    },
    /// The cross-validation column has one value.
    #[error("cross-validation column `{column}` has the single value {value}; leaving it out leaves nothing to fit — choose a column with at least two values (a width, a length, a sparsity)")]
    OneValue {
        /// The column.
        column: String,
        /// Its value.
        value: f64,
    },
    /// A fit on the points left in failed.
    #[error("fitting {during}: {source}")]
    Fit {
        /// Which fit, e.g. "the points where `N > 50` is false" or "without D = 5".
        during: String,
        /// The fit's error.
        source: FitError,
    },
    /// A grouped law cannot be bound to the points.
    #[error(transparent)]
    Group(Box<crate::group::GroupError>),
    /// No law to compare.
    #[error("no law to compare; give at least one with --law")]
    NoLaws,
}

impl From<crate::group::GroupError> for ValidateError {
    fn from(e: crate::group::GroupError) -> Self {
        ValidateError::Group(Box::new(e))
    }
}
