//! Integration tests of the models and their ops (docs/THEORY.md §5), in one test binary so
//! that the suite links dfdx and the crate once for all of them:
//! - `t5`, `vit`, `decoder`: the models against an independent naive f64 forward pass, gradients,
//!   parameter counts, the naming contract and errors (`decoder` also: causality, and a short
//!   pruned training run that learns);
//! - `ops_vs_dfdx`: every op of `sparse_scaling::ops` against dfdx's own ops, and 1 vs 2
//!   threads bit for bit;
//! - `model_common`: the helpers the model tests share.

mod decoder;
mod model_common;
mod ops_vs_dfdx;
mod t5;
mod vit;
