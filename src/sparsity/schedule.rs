//! A gradual pruning schedule (docs/THEORY.md §4.2): the sparsity ramps from 0 to S along a
//! [`ScheduleShape`] of the progress
//!
//! p = clip((t + 1 − t_start) / (t_end − t_start), 0, 1),
//!
//! by default the cubic one of gradual magnitude pruning (Zhu & Gupta 2017),
//! s(t) = S · (1 − (1 − p)³); also any power, geometric s(t) = 1 − (1 − S)^p, and one-shot.
//!
//! Steps `t` are 0-based optimizer steps (`t = 0` is the first update). Masks are recomputed at the
//! *update steps*: every `update_freq` steps from `t_start` on (`t_start`, `t_start + f`, …) while
//! `t < t_end`, and at `t = t_end − 1`, the step where p reaches 1 — after it the run has done
//! `t_end` steps and the layers are at exactly S. Between update steps the masks stay fixed (and are
//! re-applied after every step), so the sparsity a layer actually has after step `t` is
//! [`Schedule::effective_sparsity`]`(t)` = s(last update step ≤ t).
//!
//! Its steps come resolved from the point's [`crate::experiment::PruningPlan`].
//!
//! ```
//! use sparse_scaling::sparsity::Schedule;
//! use sparse_scaling::experiment::ScheduleShape;
//! let sched = Schedule::new(0.75, 250, 750, 10, 1000).unwrap();
//! assert_eq!(sched.sparsity_at(749), 0.75);
//! assert!(sched.is_update_step(250) && !sched.is_update_step(251));
//! let geometric = sched.with_shape(ScheduleShape::Geometric).unwrap();
//! assert!((geometric.sparsity_at(499) - 0.5).abs() < 1e-12); // half way: density √(1 − S)
//! ```

use serde::{Deserialize, Serialize};

use super::SparsityError;
use crate::experiment::ScheduleShape;

/// Check `0 ≤ s < 1` (and finite).
pub(crate) fn check_sparsity(field: &'static str, value: f64) -> Result<(), SparsityError> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(SparsityError::InvalidSparsity { field, value })
    }
}

/// A validated schedule over a run of known length.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// The ramp's shape (absent in checkpoints written before shapes existed: cubic).
    #[serde(default)]
    shape: ScheduleShape,
    final_sparsity: f64,
    t_start: u64,
    t_end: u64,
    update_freq: u64,
}

impl Schedule {
    /// A cubic schedule reaching `final_sparsity` between `t_start` and `t_end` (steps) of a run of
    /// `total_steps` steps. Requires `0 ≤ S < 1`, `t_start < t_end ≤ total_steps`,
    /// `update_freq ≥ 1`.
    pub fn new(
        final_sparsity: f64,
        t_start: u64,
        t_end: u64,
        update_freq: u64,
        total_steps: u64,
    ) -> Result<Self, SparsityError> {
        check_sparsity("schedule.sparsity", final_sparsity)?;
        if total_steps == 0 {
            return Err(SparsityError::ZeroSteps);
        }
        if t_start >= t_end || t_end > total_steps {
            return Err(SparsityError::ScheduleOrder { t_start, t_end, steps: total_steps });
        }
        if update_freq == 0 {
            return Err(SparsityError::InvalidUpdateFreq);
        }
        Ok(Schedule { shape: ScheduleShape::CUBIC, final_sparsity, t_start, t_end, update_freq })
    }

    /// The schedule `plan` prescribes at target `sparsity` over a run of `total_steps` steps, along
    /// its shape; `None` when the plan has none (dense, one-shot n:m from the first step).
    pub fn of_plan(
        plan: &crate::experiment::PruningPlan,
        sparsity: f64,
        total_steps: u64,
    ) -> Result<Option<Self>, SparsityError> {
        match plan.schedule() {
            Some((start, end, every)) => {
                Ok(Some(Schedule::new(sparsity, start, end, every, total_steps)?.with_shape(plan.shape())?))
            }
            None => Ok(None),
        }
    }

    /// The same schedule along another shape (a polynomial needs a finite power above 0).
    pub fn with_shape(self, shape: ScheduleShape) -> Result<Self, SparsityError> {
        if !shape.is_valid() {
            return Err(SparsityError::InvalidShape { shape });
        }
        Ok(Schedule { shape: shape.canonical(), ..self })
    }

    /// The ramp's shape.
    pub fn shape(&self) -> ScheduleShape {
        self.shape
    }
    /// Final sparsity S.
    pub fn final_sparsity(&self) -> f64 {
        self.final_sparsity
    }
    /// First step of the ramp.
    pub fn t_start(&self) -> u64 {
        self.t_start
    }
    /// End of the ramp: s reaches S at step `t_end − 1`.
    pub fn t_end(&self) -> u64 {
        self.t_end
    }
    /// Steps between mask updates.
    pub fn update_freq(&self) -> u64 {
        self.update_freq
    }

    /// p(t) = clip((t + 1 − t_start) / (t_end − t_start), 0, 1).
    pub fn progress(&self, t: u64) -> f64 {
        let p = (t as f64 + 1.0 - self.t_start as f64) / (self.t_end - self.t_start) as f64;
        p.clamp(0.0, 1.0)
    }

    /// s(t): the shape's closed form at p(t), docs/THEORY.md §4.2 (cubic: S · (1 − (1 − p)³)).
    pub fn sparsity_at(&self, t: u64) -> f64 {
        let p = self.progress(t);
        if self.shape.is_cubic() {
            // written out, so that cubic schedules give the bits they always gave
            let q = 1.0 - p;
            return self.final_sparsity * (1.0 - q * q * q);
        }
        self.shape.sparsity(self.final_sparsity, p)
    }

    /// Whether masks are recomputed after step `t`.
    pub fn is_update_step(&self, t: u64) -> bool {
        t >= self.t_start && t < self.t_end && ((t - self.t_start) % self.update_freq == 0 || t == self.t_end - 1)
    }

    /// The last update step `≤ t`, or `None` before the ramp starts.
    pub fn last_update_at_or_before(&self, t: u64) -> Option<u64> {
        if t < self.t_start {
            return None;
        }
        if t >= self.t_end - 1 {
            return Some(self.t_end - 1);
        }
        Some(self.t_start + (t - self.t_start) / self.update_freq * self.update_freq)
    }

    /// The sparsity the masks have after step `t`: s(last update step ≤ t), 0 before the ramp.
    pub fn effective_sparsity(&self, t: u64) -> f64 {
        self.last_update_at_or_before(t).map_or(0.0, |u| self.sparsity_at(u))
    }

    /// All update steps, in order.
    pub fn update_steps(&self) -> impl Iterator<Item = u64> + '_ {
        (self.t_start..self.t_end).filter(move |&t| self.is_update_step(t))
    }
}
