//! Integration tests of the runner and the command-line interface, in one test binary so that
//! the suite links dfdx and the crate once for all of them:
//! - `store`: the runner's bookkeeping with a fake executor (records, claims — stale when their
//!   process has exited or their heartbeat stopped —, shards, CSV);
//! - `analysis_once`: the final analysis runs once however many runners finish together;
//! - `cli`, `e2e`, `resume`: the binary's `check`, `plan`, `run` and `report` commands, a
//!   killed run resumed, concurrent shard runners;
//! - `cli_formulas`: formulas from every origin are bounded and their errors say where from;
//! - `cli_grouped`: grouped coefficients (`a[method]`) in `fit` and `analyse`, on a CSV and a
//!   results directory;
//! - `cli_fit`, `report_family`: `fit`, `analyse` and `report` end to end (docs/THEORY.md §2,
//!   §3), and results directories that mix model families;
//! - `damaged`: damaged records named or skipped by `report`/`fit`/`analyse`, moved aside and
//!   re-trained by `run`; dead writers' temp files; reading commands create nothing;
//! - `output`: a closed stdout ends a command quietly, a full one is an error;
//! - `jobs`: points side by side (`--jobs`, `--threads`) give the records of points one at a
//!   time, the runner logs its plan, and zero jobs or threads is an error;
//! - `logs`: the runner's timestamped lines and heartbeats when there are no bars;
//! - `on_demand`: a shape not compiled into the CLI, run through a runner built on demand;
//! - `decoder`: a decoder-only experiment checked and trained end to end by the real executor;
//! - `memory`: `check` and `run` refuse points too large for the machine;
//! - `streams`: a point's training stream follows its data declaration;
//! - `slurm`: `plan --slurm` job arrays on a real Slurm cluster (skipped without one unless
//!   `SPARSE_SCALING_SLURM_TESTS=1`);
//! - `native_data`: CIFAR at its native 32×32, resize filters and class counts, the run log's
//!   data line, a depth axis in the report;
//! - `sweep_macro`: `sweep!` in a user's crate;
//! - `schedules`: schedule shapes as an axis, N̄ in records and the average-parameter law;
//! - `runner_support`: the helpers these tests share.

mod analysis_once;
mod cli;
mod cli_findings;
mod cli_fit;
mod cli_formulas;
mod cli_grouped;
mod cli_validate;
mod damaged;
mod decoder;
mod e2e;
mod jobs;
mod logs;
mod memory;
mod native_data;
mod on_demand;
mod output;
mod report_family;
mod resume;
mod runner_support;
mod schedules;
mod slurm;
mod store;
mod streams;
mod sweep_macro;
