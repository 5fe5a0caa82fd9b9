//! Pruning: the method a study declares ([`Pruning`], with schedule points as [`At`]: a
//! fraction of the run or an absolute step) and the plan a point runs ([`PruningPlan`], every
//! step absolute), resolved once, at planning, by [`Pruning::resolve`]. The pruner of the root
//! crate consumes the plan as it is; nothing downstream resolves a step again.
//!
//! The schedule is the cubic one of gradual magnitude pruning (docs/THEORY.md §4; Zhu & Gupta
//! 2017): s(t) = S·(1 − (1 − p)³), p = clip((t + 1 − start)/(end − start), 0, 1), masks
//! recomputed every `update_every` steps between `start` and `end`.
//!
//! ```
//! use sparse_scaling_experiment::{At, Pruning, PruningPlan};
//! let gmp = Pruning::default(); // the paper's: 25 % → 75 % of the run, masks every 100 steps
//! assert_eq!(gmp.resolve(0.75, 1000), Some(PruningPlan::Gmp { start: 250, end: 750, update_every: 100 }));
//! assert_eq!(gmp.resolve(0.0, 1000), Some(PruningPlan::Dense));
//! // n:m pairs only with its own sparsity 1 − n/m.
//! let nm = Pruning::NM { n: 2, m: 4, gradual: true, start: At::Step(10), end: At::Fraction(0.5), update_every: 5 };
//! assert_eq!(nm.resolve(0.75, 100), None);
//! assert_eq!(nm.resolve(0.5, 100).unwrap().schedule(), Some((10, 50, 5)));
//! ```

use serde::{Deserialize, Serialize};

/// A step in a schedule: a fraction of the point's training steps, or an absolute step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum At {
    /// Fraction of the point's steps, in [0, 1] (rounded to the nearest step).
    Fraction(f64),
    /// Absolute optimizer step.
    Step(u64),
}

impl At {
    /// The absolute step for a run of `steps` steps.
    pub fn resolve(self, steps: u64) -> u64 {
        match self {
            At::Fraction(f) => (f * steps as f64).round().max(0.0) as u64,
            At::Step(s) => s,
        }
    }
}

fn gmp_start() -> At {
    At::Fraction(0.25)
}
fn gmp_end() -> At {
    At::Fraction(0.75)
}
fn default_update_every() -> u64 {
    100
}
fn dense_start() -> At {
    At::Fraction(0.0)
}
fn dense_end() -> At {
    At::Fraction(0.5)
}
fn yes() -> bool {
    true
}

/// A pruning method (one value of the pruning axis).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Pruning {
    /// Gradual magnitude pruning from scratch (Zhu & Gupta 2017), cubic schedule
    /// s(t) = S·(1 − (1 − p)³) between `start` and `end` (docs/THEORY.md §4).
    Gmp {
        /// Pruning starts here. Default `Fraction(0.25)`.
        #[serde(default = "gmp_start")]
        start: At,
        /// Target sparsity reached here. Default `Fraction(0.75)`.
        #[serde(default = "gmp_end")]
        end: At,
        /// Masks are recomputed every this many steps. Default 100.
        #[serde(default = "default_update_every")]
        update_every: u64,
    },
    /// n:m structured sparsity: n of every m consecutive input weights kept; S = 1 − n/m.
    NM {
        /// Weights kept per group.
        n: usize,
        /// Group size; must divide every prunable layer's input width.
        m: usize,
        /// Reach the pattern gradually along the cubic schedule (the authors' way) instead
        /// of applying it from the first step. Default true.
        #[serde(default = "yes")]
        gradual: bool,
        /// Default `Fraction(0.25)`.
        #[serde(default = "gmp_start")]
        start: At,
        /// Default `Fraction(0.75)`.
        #[serde(default = "gmp_end")]
        end: At,
        /// Default 100.
        #[serde(default = "default_update_every")]
        update_every: u64,
    },
    /// Train dense for `dense_steps`, then prune that checkpoint with GMP during the point's
    /// `steps` further steps (docs/THEORY.md §4, "from a pretrained dense model"). D counts only
    /// the sparse phase's data; the dense phase is recorded separately.
    FromDense {
        /// Length of the dense run.
        dense_steps: u64,
        /// Start of pruning within the sparse phase. Default `Fraction(0.0)`.
        #[serde(default = "dense_start")]
        start: At,
        /// End of pruning within the sparse phase. Default `Fraction(0.5)`.
        #[serde(default = "dense_end")]
        end: At,
        /// Default 100.
        #[serde(default = "default_update_every")]
        update_every: u64,
    },
}

impl Default for Pruning {
    /// The paper's GMP: cubic schedule from 25 % to 75 % of training, masks every 100 steps.
    fn default() -> Self {
        Pruning::Gmp { start: gmp_start(), end: gmp_end(), update_every: default_update_every() }
    }
}

impl Pruning {
    /// The plan of this method at target sparsity `sparsity` over a run of `steps` steps:
    /// [`PruningPlan::Dense`] at S = 0 whatever the method, `None` where the method yields
    /// no point (an n:m method at any sparsity other than 1 − n/m). This is the one place a
    /// schedule's fractions become steps. It does not validate (see `Experiment::issues`).
    pub fn resolve(&self, sparsity: f64, steps: u64) -> Option<PruningPlan> {
        if sparsity == 0.0 {
            return Some(PruningPlan::Dense);
        }
        Some(match *self {
            Pruning::Gmp { start, end, update_every } => {
                PruningPlan::Gmp { start: start.resolve(steps), end: end.resolve(steps), update_every }
            }
            Pruning::NM { n, m, gradual, start, end, update_every } => {
                if m == 0 || ((1.0 - n as f64 / m as f64) - sparsity).abs() > 1e-9 {
                    return None;
                }
                PruningPlan::NM { n, m, gradual, start: start.resolve(steps), end: end.resolve(steps), update_every }
            }
            Pruning::FromDense { dense_steps, start, end, update_every } => PruningPlan::FromDense {
                dense_steps,
                start: start.resolve(steps),
                end: end.resolve(steps),
                update_every,
            },
        })
    }
}

/// The pruning of one point, every step absolute (0-based optimizer steps of the point's
/// run; for `FromDense`, of its sparse phase). Part of the point's hash: its serialised form
/// is fixed (changing it changes every hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum PruningPlan {
    /// No pruning (S = 0).
    Dense,
    /// Gradual magnitude pruning, cubic schedule from `start` to `end`.
    Gmp {
        /// First pruning step.
        start: u64,
        /// Step at which the target sparsity is reached.
        end: u64,
        /// Mask update interval.
        update_every: u64,
    },
    /// n:m pruning along the input axis.
    NM {
        /// Kept per group.
        n: usize,
        /// Group size.
        m: usize,
        /// Reached gradually along the cubic schedule; otherwise fixed from the first step
        /// (one-shot from the initial weights) and the schedule is unused.
        gradual: bool,
        /// First pruning step.
        start: u64,
        /// Step at which the pattern is exactly n:m.
        end: u64,
        /// Mask update interval.
        update_every: u64,
    },
    /// Dense training for `dense_steps`, then GMP during the point's steps.
    FromDense {
        /// Length of the dense phase.
        dense_steps: u64,
        /// First pruning step of the sparse phase.
        start: u64,
        /// Step of the sparse phase at which the target is reached.
        end: u64,
        /// Mask update interval.
        update_every: u64,
    },
}

impl PruningPlan {
    /// Short label for tables: `dense`, `gmp`, `2:4`, `from-dense(1000)`.
    pub fn label(&self) -> String {
        match self {
            PruningPlan::Dense => "dense".into(),
            PruningPlan::Gmp { .. } => "gmp".into(),
            PruningPlan::NM { n, m, .. } => format!("{n}:{m}"),
            PruningPlan::FromDense { dense_steps, .. } => format!("from-dense({dense_steps})"),
        }
    }

    /// The gradual schedule `(start, end, update_every)`, if masks follow one (not for dense
    /// runs or one-shot n:m).
    pub fn schedule(&self) -> Option<(u64, u64, u64)> {
        match *self {
            PruningPlan::Dense | PruningPlan::NM { gradual: false, .. } => None,
            PruningPlan::Gmp { start, end, update_every }
            | PruningPlan::NM { start, end, update_every, .. }
            | PruningPlan::FromDense { start, end, update_every, .. } => Some((start, end, update_every)),
        }
    }

    /// The n:m pattern `(n, m)`, if any.
    pub fn nm(&self) -> Option<(usize, usize)> {
        match *self {
            PruningPlan::NM { n, m, .. } => Some((n, m)),
            _ => None,
        }
    }

    /// Steps of dense training before the pruned phase (0 unless `FromDense`).
    pub fn dense_steps(&self) -> u64 {
        match *self {
            PruningPlan::FromDense { dense_steps, .. } => dense_steps,
            _ => 0,
        }
    }
}
