//! Integration tests of the runner and the command-line interface, in one test binary so that
//! the suite links dfdx and the crate once for all of them:
//! - `store`: the runner's bookkeeping with a fake executor (records, claims, shards, CSV);
//! - `cli`, `e2e`, `resume`: the binary's `check`, `plan`, `run` and `report` commands, a
//!   killed run resumed, concurrent shard runners;
//! - `cli_fit`, `report_family`: `fit`, `analyse` and `report` end to end (docs/THEORY.md §2,
//!   §3), and results directories that mix model families;
//! - `decoder`: a decoder-only experiment checked and trained end to end by the real executor;
//! - `memory`: `check` and `run` refuse points too large for the machine;
//! - `streams`: a point's training stream follows its data declaration;
//! - `sweep_macro`: `sweep!` in a user's crate;
//! - `runner_support`: the helpers these tests share.

mod cli;
mod cli_fit;
mod decoder;
mod e2e;
mod memory;
mod report_family;
mod resume;
mod runner_support;
mod store;
mod streams;
mod sweep_macro;
