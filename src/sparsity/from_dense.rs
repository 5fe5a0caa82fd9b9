//! Pruning from a dense checkpoint, PAPER.md §4: "pruning a converged dense checkpoint needs far
//! less data than sparse-from-scratch to reach the same loss".
//!
//! A [`PruningPlan`] names the dense checkpoint to start from and runs the cubic schedule over a
//! (shorter) pruning run, unstructured or towards an n:m pattern. The training loop loads the
//! checkpoint's weights into the model, then builds the [`super::Pruner`] from that model: the
//! first mask update ranks the *loaded* weights.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::nm::NmPattern;
use super::schedule::{CubicSchedule, ScheduleConfig};
use super::SparsityError;

/// Configuration of pruning a dense checkpoint (experiment files).
///
/// ```
/// use sparse_scaling::sparsity::FromDenseConfig;
/// let c: FromDenseConfig = ron::from_str(r#"(
///     checkpoint: "runs/dense/ckpt",
///     schedule: (sparsity: 0.75, start: Step(0), end: Fraction(0.5), update_freq: 10),
/// )"#).unwrap();
/// let plan = c.plan(2000).unwrap();
/// assert_eq!(plan.schedule.t_end(), 1000);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromDenseConfig {
    /// The dense checkpoint to start from (loaded by the training loop).
    pub checkpoint: PathBuf,
    /// The cubic schedule over the pruning run (fractions refer to the pruning run's steps).
    pub schedule: ScheduleConfig,
    /// Prune towards this n:m pattern (gradual n:m) instead of unstructured; then
    /// `schedule.sparsity` must be `1 − n/m`.
    #[serde(default)]
    pub nm: Option<NmPattern>,
}

/// A validated plan: start from `checkpoint`, prune on `schedule` over the pruning run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PruningPlan {
    /// The dense checkpoint to load before building the pruner.
    pub checkpoint: PathBuf,
    /// The schedule, resolved over the pruning run's steps.
    pub schedule: CubicSchedule,
    /// Optional n:m target.
    pub nm: Option<NmPattern>,
}

impl FromDenseConfig {
    /// Validate and resolve over a pruning run of `prune_steps` steps.
    pub fn plan(&self, prune_steps: u64) -> Result<PruningPlan, SparsityError> {
        let schedule = self.schedule.resolve(prune_steps)?;
        if let Some(p) = self.nm {
            p.validate()?;
            if (p.sparsity() - schedule.final_sparsity()).abs() > 1e-9 {
                return Err(SparsityError::NmSparsity {
                    n: p.n,
                    m: p.m,
                    sparsity: schedule.final_sparsity(),
                    expected: p.sparsity(),
                });
            }
        }
        Ok(PruningPlan { checkpoint: self.checkpoint.clone(), schedule, nm: self.nm })
    }
}
