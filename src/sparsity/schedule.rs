//! The cubic gradual-magnitude-pruning schedule (Zhu & Gupta 2017; PAPER.md §4):
//!
//! s(t) = S · (1 − (1 − p)³),  p = clip((t + 1 − t_start) / (t_end − t_start), 0, 1).
//!
//! Steps `t` are 0-based optimizer steps (`t = 0` is the first update). Masks are recomputed at the
//! *update steps*: every `update_freq` steps from `t_start` on (`t_start`, `t_start + f`, …) while
//! `t < t_end`, and at `t = t_end − 1`, the step where p reaches 1 — after it the run has done
//! `t_end` steps and the layers are at exactly S. Between update steps the masks stay fixed (and are
//! re-applied after every step), so the sparsity a layer actually has after step `t` is
//! [`CubicSchedule::effective_sparsity`]`(t)` = s(last update step ≤ t).

use serde::{Deserialize, Serialize};

use super::SparsityError;

/// A point in a run: a fraction of the total steps, or an absolute step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum StepPoint {
    /// A fraction of the run in `[0, 1]`, resolved as `round(f · steps)`.
    Fraction(f64),
    /// An absolute 0-based step.
    Step(u64),
}

impl StepPoint {
    /// Resolve against a run of `total_steps` steps. `field` names the setting in errors.
    pub fn resolve(self, total_steps: u64, field: &'static str) -> Result<u64, SparsityError> {
        match self {
            StepPoint::Step(s) => Ok(s),
            StepPoint::Fraction(f) => {
                if !(0.0..=1.0).contains(&f) {
                    return Err(SparsityError::InvalidFraction { field, value: f });
                }
                Ok((f * total_steps as f64).round() as u64)
            }
        }
    }
}

fn default_update_freq() -> u64 {
    100
}

/// When pruning ramps up, without the target sparsity (used by gradual n:m, whose target is
/// `1 − n/m`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RampConfig {
    /// Where pruning starts (`t_start`).
    pub start: StepPoint,
    /// Where the final sparsity is reached (`t_end`).
    pub end: StepPoint,
    /// Recompute masks every this many steps between start and end (paper: 100).
    #[serde(default = "default_update_freq")]
    pub update_freq: u64,
}

impl RampConfig {
    /// The paper's ramp: start at 25%, end at 75% of training, masks every 100 steps
    /// (PAPER.md §4, from the authors' t5x configs).
    pub fn paper() -> Self {
        RampConfig { start: StepPoint::Fraction(0.25), end: StepPoint::Fraction(0.75), update_freq: 100 }
    }

    /// This ramp with final sparsity `sparsity`.
    pub fn with_sparsity(self, sparsity: f64) -> ScheduleConfig {
        ScheduleConfig { sparsity, start: self.start, end: self.end, update_freq: self.update_freq }
    }
}

/// The configuration of a cubic schedule, as written in experiment files.
///
/// ```
/// use sparse_scaling::sparsity::ScheduleConfig;
/// let cfg: ScheduleConfig = ron::from_str(
///     "(sparsity: 0.75, start: Fraction(0.25), end: Fraction(0.75), update_freq: 10)").unwrap();
/// let sched = cfg.resolve(1000).unwrap();
/// assert_eq!((sched.t_start(), sched.t_end()), (250, 750));
/// assert_eq!(sched.sparsity_at(749), 0.75);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Final sparsity S of the pruned layers, `0 ≤ S < 1`.
    pub sparsity: f64,
    /// Where pruning starts (`t_start`).
    pub start: StepPoint,
    /// Where the final sparsity is reached (`t_end`).
    pub end: StepPoint,
    /// Recompute masks every this many steps between start and end (paper: 100).
    #[serde(default = "default_update_freq")]
    pub update_freq: u64,
}

impl ScheduleConfig {
    /// The paper's schedule at final sparsity `sparsity`: 25% → 75% of training, masks every 100
    /// steps (PAPER.md §4).
    pub fn paper(sparsity: f64) -> Self {
        RampConfig::paper().with_sparsity(sparsity)
    }

    /// Resolve fractions against a run of `total_steps` steps and validate.
    pub fn resolve(&self, total_steps: u64) -> Result<CubicSchedule, SparsityError> {
        let t_start = self.start.resolve(total_steps, "schedule.start")?;
        let t_end = self.end.resolve(total_steps, "schedule.end")?;
        CubicSchedule::new(self.sparsity, t_start, t_end, self.update_freq, total_steps)
    }
}

/// Check `0 ≤ s < 1` (and finite).
pub(crate) fn check_sparsity(field: &'static str, value: f64) -> Result<(), SparsityError> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(SparsityError::InvalidSparsity { field, value })
    }
}

/// A validated cubic schedule over a run of known length.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CubicSchedule {
    final_sparsity: f64,
    t_start: u64,
    t_end: u64,
    update_freq: u64,
}

impl CubicSchedule {
    /// A schedule reaching `final_sparsity` between `t_start` and `t_end` (steps) of a run of
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
        Ok(CubicSchedule { final_sparsity, t_start, t_end, update_freq })
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

    /// s(t) = S · (1 − (1 − p)³), PAPER.md §4.
    pub fn sparsity_at(&self, t: u64) -> f64 {
        let q = 1.0 - self.progress(t);
        self.final_sparsity * (1.0 - q * q * q)
    }

    /// Whether masks are recomputed after step `t`.
    pub fn is_update_step(&self, t: u64) -> bool {
        t >= self.t_start
            && t < self.t_end
            && ((t - self.t_start) % self.update_freq == 0 || t == self.t_end - 1)
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
