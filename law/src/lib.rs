//! # sparse-scaling-law
//!
//! Symbolic scaling laws for sparsely-connected Transformers: parse a law such as the one of
//! docs/THEORY.md §1 (Eq. 1 of Frantar et al., ICLR 2024),
//! `L(S, N, D) = (a_S (1 − S)^b_S + c_S) · (1/N)^b_N + (a_D / D)^b_D + c`,
//! differentiate it symbolically, compile it into a tape that evaluates values and exact
//! gradients over all points at once, and fit it with the procedure of docs/THEORY.md §2
//! (mean Huber loss on raw or log residuals, many random starts, a quasi-Newton optimizer,
//! bootstrap confidence intervals). This crate never depends on dfdx.
//!
//! - [`expr`]: expression trees, the nom parser, printing, symbolic derivatives, simplification.
//! - [`law`]: a formula plus its variables and parameters; built-in laws with their sources.
//! - [`compile`]: the flat tape that evaluates values and gradients over all points at once.
//! - [`data`]: validated observations, CSV loading with column expressions.
//! - [`group`]: grouped coefficients — a law with `a[method]` bound to data, one `a` per method.
//! - [`fit`](mod@fit): Huber objective, BFGS from many starts, bootstrap confidence intervals.
//! - [`validate`]: held-out validation, cross-validation and law comparison.
//! - [`analysis`]: what a fitted law says (docs/THEORY.md §3): m(S), optimal sparsity, reports.
//! - [`plot`]: SVG plots of a fit and of its analysis.
//! - `strategies` (feature `proptest`): proptest strategies for laws and observations.
//!
//! ```
//! use sparse_scaling_law::{fit, CsvMapping, FitOptions, Law, Observations};
//! // The paper's law (docs/THEORY.md §1) in the authors' normalised fitting form.
//! let law = Law::parse("(a*(1 - S)^b + c) * N^(-d) + e*D^(-f) + g", &["S", "N", "D"])?;
//! // Their T5 table, with N = non-zero parameters / 1e6 and D = steps / 1e5 (docs/THEORY.md §2).
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/t5-data.csv");
//! let obs = Observations::from_csv_path(path, &CsvMapping::t5_paper())?;
//! // Their T5 procedure: log residuals, Huber δ = 1e-3, 25 starts uniform in (0, 1).
//! let result = fit(&law, &obs, &FitOptions::t5_paper())?;
//! assert!(result.converged && result.objective < 4.881e-6);
//! for (name, value) in result.named_params() {
//!     println!("{name} = {value:.5}");
//! }
//! println!("dL/dS = {}", law.partial("S"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod compile;
pub mod data;
pub mod expr;
pub mod fit;
pub mod group;
pub mod law;
pub mod validate;

pub use compile::Tape;
pub use data::{CsvMapping, DataError, Observations};
pub use expr::{parse, BinOp, EvalError, Expr, Func, LimitError, ParseError, Shape, MAX_DEPTH, MAX_NODES};
pub use fit::{fit, BootstrapRefit, FitError, FitOptions, FitResult, Residual};
pub use law::{Law, LawError};

pub mod analysis;
pub mod plot;
#[cfg(any(test, feature = "proptest"))]
pub mod strategies;
