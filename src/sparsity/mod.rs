//! # Sparsity: gradual magnitude pruning, n:m, pruning from dense (PAPER.md §4)
//!
//! - [`schedule`]: the cubic schedule s(t) = S · (1 − (1 − p)³), p = clip((t + 1 − t_start) /
//!   (t_end − t_start), 0, 1), with an update frequency.
//! - [`roles`]: which parameters are pruned, by path name (attention and MLP weight matrices;
//!   embeddings optionally at 1 − √(1 − S); never norms, biases, positions, relative bias).
//! - [`magnitude`]: per-layer top-k keeping `max(1, round(size · (1 − s)))`, ties to the lower index.
//! - [`nm`]: n:m along the input axis, one-shot and gradual.
//! - [`from_dense`]: prune a dense checkpoint over a shorter run.
//! - [`masks`]: bit-packed masks and the one dfdx tensor-visitor pass that reads, masks and
//!   writes any `TensorCollection<f32, Cpu>` model.
//! - [`Pruner`]: what the training loop calls after each optimizer step.

pub mod config;
mod error;
pub mod from_dense;
pub mod magnitude;
pub mod masks;
pub mod nm;
pub mod pruner;
pub mod roles;
pub mod schedule;

pub use config::{Method, SparsityConfig};
pub use error::SparsityError;
pub use from_dense::{FromDenseConfig, PruningPlan};
pub use magnitude::{kept_count, magnitude_mask};
pub use masks::{count_zeros, list_params, BitMask, Masks, ParamInfo, ParamMask};
pub use nm::{gradual_nm_mask, nm_mask, NmPattern};
pub use pruner::{LayerStats, Plan, Pruner, SparsityStats};
pub use roles::{embedding_sparsity, role_of, ParamRole};
pub use schedule::{CubicSchedule, RampConfig, ScheduleConfig, StepPoint};
