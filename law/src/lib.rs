//! # sparse-scaling-law
//!
//! Symbolic scaling laws for sparsely-connected Transformers: parse a law such as the one of
//! PAPER.md §1 (Eq. 1 of Frantar et al., ICLR 2024),
//! `L(S, N, D) = (a_S (1 − S)^b_S + c_S) · (1/N)^b_N + (a_D / D)^b_D + c`,
//! differentiate it symbolically, compile it into a tape that evaluates values and exact
//! gradients over all points at once, and fit it with the procedure of PAPER.md §2 (mean Huber
//! loss on raw or log residuals, many random starts, a quasi-Newton optimizer, bootstrap
//! confidence intervals). This crate never depends on dfdx.

pub mod expr;
pub mod law;
pub mod compile;

pub use expr::{parse, BinOp, EvalError, Expr, Func, ParseError};
pub use law::{Law, LawError};

pub mod analysis;
