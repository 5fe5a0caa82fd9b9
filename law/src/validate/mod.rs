//! Does a law predict beyond its data? Held-out validation and law comparison.
//!
//! - [`holdout()`]: fit the points where a condition ([`Predicate`], e.g. `N > 50`) is false,
//!   predict the others.
//! - [`cross_validate`]: leave each value of a column out in turn, refit, predict it.
//! - [`compare`]: several laws on the same points with the same scheme, ranked by held-out
//!   error ([`LawScore`]).
//! - [`Validation`]: what each reports — every held-out point ([`HeldOutPoint`]: measured,
//!   predicted, relative error, bootstrap interval) and the summary.

mod compare;
mod cv;
mod error;
mod holdout;
pub mod predicate;
mod summary;
mod text;

pub use compare::{compare, LawScore};
pub use cv::cross_validate;
pub use error::ValidateError;
pub use holdout::{holdout, HoldoutFit};
pub use predicate::{Predicate, PredicateError};
pub use summary::{Fold, HeldOutPoint, Scheme, Validation};
