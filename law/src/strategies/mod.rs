//! [proptest](https://docs.rs/proptest) strategies for users' own property tests of fits and
//! analyses (crate feature `proptest`; in the root crate, `sparse_scaling::strategies` with its
//! feature `proptest`).
//!
//! For any [`Law`](crate::Law):
//! - [`ParamRanges`]: its parameters, each uniform within a given range;
//! - [`Design`]: where it is observed, a grid or explicit points of its variables;
//! - [`design_observations`] and [`law_case`]: noise-free or noisy observations of it over a
//!   design, for given or drawn parameters;
//! - the invariants users check, as functions a property test calls with `?`:
//!   [`fit_recovers`] (a fit recovers its generating parameters within a tolerance) and
//!   [`s_opt_non_decreasing`] (S_opt does not fall as the budget grows at fixed N, over budgets
//!   from [`increasing_budgets`]; docs/THEORY.md §3).
//!
//! For the paper's law in its normalised form there are ready-made ranges and random points of
//! (S, N, D): [`paper_normalised_params`], [`ObservationSpace`], [`observations`],
//! [`paper_case`].
//!
//! ```
//! use proptest::prelude::*;
//! use sparse_scaling_law::{analysis::Analysis, FitOptions, Law};
//! use sparse_scaling_law::strategies::{
//!     fit_recovers, increasing_budgets, law_case, s_opt_non_decreasing, Design, ParamRanges,
//! };
//!
//! // A law of one's own: the paper's, with a data term that is a power of D per non-zero
//! let law = Law::parse("(a*(1-S)^b + c)*N^(-d) + e*(D/N)^(-f) + g", &["S", "N", "D"]).unwrap();
//! let ranges = ParamRanges::new(&law, &[
//!     ("a", 0.3, 1.0), ("b", 0.5, 1.5), ("c", 0.5, 2.0), ("d", 0.2, 0.4),
//!     ("e", 0.2, 0.8), ("f", 0.2, 0.5), ("g", 0.5, 1.2),
//! ]).unwrap();
//! let design = Design::grid(&[
//!     ("S", &[0.0, 0.5, 0.75, 0.875]), ("N", &[1.3, 5.3, 21.2, 85.0]), ("D", &[2.5, 5.0, 10.0]),
//! ]).unwrap();
//! let opts = FitOptions { starts: 8, ..FitOptions::default() };
//! proptest!(ProptestConfig::with_cases(2), |((truth, obs) in law_case(&law, &ranges, &design, 0.0).unwrap(),
//!                                            c in increasing_budgets(2.0, 4.0, 3..5))| {
//!     let r = fit_recovers(&law, &obs, &truth, &opts, 1e-2)?;
//!     s_opt_non_decreasing(&Analysis::new(&law, &r.params).unwrap(), 10.0, &c, 1e-6)?;
//! });
//! ```

mod design;
mod error;
mod invariants;
mod paper;
mod params;

pub use design::{design_observations, law_case, Design};
pub use error::StrategyError;
pub use invariants::{fit_recovers, increasing_budgets, s_opt_non_decreasing};
pub use paper::{observations, paper_case, paper_normalised_params, ObservationSpace, PAPER_NORMALISED_RANGES};
pub use params::ParamRanges;

#[cfg(test)]
mod tests;
