//! # Sparsity: gradual magnitude pruning and n:m (docs/THEORY.md §4)
//!
//! - [`schedule`]: the cubic schedule s(t) = S · (1 − (1 − p)³), p = clip((t + 1 − t_start) /
//!   (t_end − t_start), 0, 1), with an update frequency.
//! - [`magnitude`]: per-layer top-k keeping `max(1, round(size · (1 − s)))`, ties to the lower index.
//! - [`nm`]: n:m along the input axis, one-shot and gradual.
//! - [`masks`]: bit-packed masks and the passes over a model's parameters (on the one walk of
//!   [`crate::params`]) that read, mask and write them.
//! - [`Pruner`]: what the training loop calls after each step; it consumes a point's
//!   [`crate::experiment::PruningPlan`]. Pruning from a dense checkpoint is the runner's two
//!   phases (a dense run, then this pruner over the sparse phase).
//!
//! Which parameters are pruned is [`crate::params::role_of`].

mod error;
pub mod magnitude;
pub mod masks;
pub mod nm;
pub mod pruner;
pub mod schedule;

pub use error::SparsityError;
pub use magnitude::{kept_count, magnitude_mask};
pub use masks::{count_zeros, list_params, BitMask, Masks, ParamInfo, ParamMask};
pub use nm::{gradual_nm_mask, nm_mask, NmPattern};
pub use pruner::{Embeddings, LayerMaskStats, MaskStats, Pruner};
pub use schedule::Schedule;
