//! Integration tests of the pruner (docs/THEORY.md §4), in one test binary so that the suite
//! links dfdx and the crate once for all of them:
//! - `unit`: schedules, top-k, n:m, roles, configs and masks, with property tests;
//! - `model`: simulated GMP and n:m runs on a small model that follows the naming contract;
//! - `real_models`: the pruner on the project's real ViT and T5.

mod model;
mod real_models;
mod unit;
