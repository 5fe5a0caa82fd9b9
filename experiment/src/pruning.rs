//! Pruning: the method a study declares ([`Pruning`], with schedule points as [`At`]: a
//! fraction of the run or an absolute step) and the plan a point runs ([`PruningPlan`], every
//! step absolute), resolved once, at planning, by [`Pruning::resolve`]. The pruner of the root
//! crate consumes the plan as it is; nothing downstream resolves a step again.
//!
//! A schedule ramps the sparsity from 0 to the target S between `start` and `end`, with masks
//! recomputed every `update_every` steps (docs/THEORY.md §4.2). Its [`ScheduleShape`] says how:
//! by default the cubic one of gradual magnitude pruning (Zhu & Gupta 2017),
//! s(t) = S·(1 − (1 − p)³) with p = clip((t + 1 − start)/(end − start), 0, 1); also any other
//! power, geometric (each update keeps a fixed fraction of the remaining weights) and one-shot.
//!
//! ```
//! use sparse_scaling_experiment::{At, Pruning, PruningPlan, ScheduleShape};
//! let gmp = Pruning::default(); // the paper's: 25 % → 75 % of the run, masks every 100 steps
//! assert_eq!(gmp.resolve(0.75, 1000), Some(PruningPlan::Gmp { shape: ScheduleShape::CUBIC, start: 250, end: 750, update_every: 100 }));
//! assert_eq!(gmp.resolve(0.0, 1000), Some(PruningPlan::Dense));
//! // n:m pairs only with its own sparsity 1 − n/m.
//! let nm = Pruning::NM { n: 2, m: 4, gradual: true, shape: ScheduleShape::CUBIC, start: At::Step(10), end: At::Fraction(0.5), update_every: 5 };
//! assert_eq!(nm.resolve(0.75, 100), None);
//! assert_eq!(nm.resolve(0.5, 100).unwrap().schedule(), Some((10, 50, 5)));
//! // A geometric ramp: the shape travels with the plan.
//! let geo = Pruning::Gmp { shape: ScheduleShape::Geometric, start: At::Fraction(0.25), end: At::Fraction(0.75), update_every: 10 };
//! assert_eq!(geo.resolve(0.75, 1000).unwrap().shape(), ScheduleShape::Geometric);
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

/// How a schedule ramps the sparsity from 0 to the target S as its progress p goes from 0 to 1
/// (docs/THEORY.md §4.2). Part of a point's plan and hash (except the default cubic shape,
/// which is left out of the serialised plan so that hashes written before shapes existed stay
/// valid).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ScheduleShape {
    /// s = S·(1 − (1 − p)^k) for a power k > 0. k = 3 is the cubic schedule of gradual magnitude
    /// pruning (Zhu & Gupta 2017; jaxpruner's polynomial schedule) and the default.
    Polynomial(f64),
    /// s = S·p: the polynomial of power 1 (planning turns it into `Polynomial(1.0)`).
    Linear,
    /// s = 1 − (1 − S)^p: every update, at equal intervals, keeps the same fraction of the
    /// weights still unpruned (the geometric schedule of Jin et al., ICLR 2025).
    Geometric,
    /// s = S from `start` on: the whole target at one step (planning sets `end` to `start + 1`).
    OneShot,
}

impl Default for ScheduleShape {
    fn default() -> Self {
        ScheduleShape::CUBIC
    }
}

impl ScheduleShape {
    /// The cubic shape of gradual magnitude pruning, the default.
    pub const CUBIC: ScheduleShape = ScheduleShape::Polynomial(3.0);

    /// Whether this is the default cubic shape.
    pub fn is_cubic(&self) -> bool {
        *self == ScheduleShape::CUBIC
    }

    /// The sparsity at progress `p` ∈ [0, 1] of a ramp to `target`: the shape's closed form.
    ///
    /// ```
    /// use sparse_scaling_experiment::ScheduleShape;
    /// assert_eq!(ScheduleShape::CUBIC.sparsity(0.8, 0.5), 0.8 * (1.0 - 0.125));
    /// // geometric: half way, the density is √(1 − S)
    /// assert!((ScheduleShape::Geometric.sparsity(0.75, 0.5) - 0.5).abs() < 1e-12);
    /// assert_eq!(ScheduleShape::OneShot.sparsity(0.5, 0.01), 0.5);
    /// ```
    pub fn sparsity(&self, target: f64, p: f64) -> f64 {
        let p = p.clamp(0.0, 1.0);
        match *self {
            _ if p == 0.0 => 0.0,
            _ if p == 1.0 => target,
            ScheduleShape::Polynomial(k) => target * (1.0 - (1.0 - p).powf(k)),
            ScheduleShape::Linear => target * p,
            ScheduleShape::Geometric => 1.0 - (1.0 - target).powf(p),
            ScheduleShape::OneShot => target,
        }
    }

    /// The mean sparsity over the ramp, ∫₀¹ s(p) dp, for a ramp to `target`: S·k/(k + 1) for a
    /// polynomial of power k (cubic: ¾·S), 1 + S / ln(1 − S) for the geometric shape, S for
    /// one-shot (its ramp is one step).
    ///
    /// ```
    /// use sparse_scaling_experiment::ScheduleShape;
    /// assert_eq!(ScheduleShape::CUBIC.ramp_mean_sparsity(0.8), 0.8 * 0.75);
    /// ```
    pub fn ramp_mean_sparsity(&self, target: f64) -> f64 {
        match self.canonical() {
            ScheduleShape::Polynomial(k) => target * k / (k + 1.0),
            ScheduleShape::Geometric if target > 0.0 => 1.0 + target / (1.0 - target).ln(),
            ScheduleShape::Geometric => 0.0,
            ScheduleShape::OneShot | ScheduleShape::Linear => target,
        }
    }

    /// The one form planning keeps: `Linear` becomes `Polynomial(1.0)`.
    pub fn canonical(self) -> ScheduleShape {
        match self {
            ScheduleShape::Linear => ScheduleShape::Polynomial(1.0),
            s => s,
        }
    }

    /// Short name for labels: `cubic`, `linear`, `poly2.5`, `geometric`, `one-shot`.
    pub fn name(&self) -> String {
        match self.canonical() {
            s if s.is_cubic() => "cubic".into(),
            ScheduleShape::Polynomial(1.0) => "linear".into(),
            ScheduleShape::Polynomial(k) => format!("poly{k}"),
            ScheduleShape::Geometric => "geometric".into(),
            ScheduleShape::OneShot | ScheduleShape::Linear => "one-shot".into(),
        }
    }

    /// Whether this shape's parameters are valid (a polynomial's power finite and positive).
    pub fn is_valid(&self) -> bool {
        match *self {
            ScheduleShape::Polynomial(k) => k.is_finite() && k > 0.0,
            _ => true,
        }
    }
}

/// Resolves a declared shape and its start and end into the plan's `(shape, start, end)`.
fn resolve_ramp(shape: ScheduleShape, start: At, end: At, steps: u64) -> (ScheduleShape, u64, u64) {
    let start = start.resolve(steps);
    match shape.canonical() {
        ScheduleShape::OneShot => (ScheduleShape::OneShot, start, start + 1),
        shape => (shape, start, end.resolve(steps)),
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
        /// How the sparsity ramps from 0 to S. Default: cubic, `Polynomial(3.0)`.
        #[serde(default)]
        shape: ScheduleShape,
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
        /// How the sparsity ramps from 0 to S when gradual. Default: cubic, `Polynomial(3.0)`.
        #[serde(default)]
        shape: ScheduleShape,
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
        /// How the sparsity ramps from 0 to S. Default: cubic, `Polynomial(3.0)`.
        #[serde(default)]
        shape: ScheduleShape,
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
        Pruning::Gmp {
            shape: ScheduleShape::CUBIC,
            start: gmp_start(),
            end: gmp_end(),
            update_every: default_update_every(),
        }
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
            Pruning::Gmp { shape, start, end, update_every } => {
                let (shape, start, end) = resolve_ramp(shape, start, end, steps);
                PruningPlan::Gmp { shape, start, end, update_every }
            }
            Pruning::NM { n, m, gradual, shape, start, end, update_every } => {
                if m == 0 || ((1.0 - n as f64 / m as f64) - sparsity).abs() > 1e-9 {
                    return None;
                }
                let (shape, start, end) = resolve_ramp(shape, start, end, steps);
                PruningPlan::NM { n, m, gradual, shape, start, end, update_every }
            }
            Pruning::FromDense { dense_steps, shape, start, end, update_every } => {
                let (shape, start, end) = resolve_ramp(shape, start, end, steps);
                PruningPlan::FromDense { dense_steps, shape, start, end, update_every }
            }
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
    /// Gradual magnitude pruning along `shape` from `start` to `end`.
    Gmp {
        /// How the sparsity ramps (left out of the serialised plan when cubic).
        #[serde(default, skip_serializing_if = "ScheduleShape::is_cubic")]
        shape: ScheduleShape,
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
        /// How the sparsity ramps (left out of the serialised plan when cubic).
        #[serde(default, skip_serializing_if = "ScheduleShape::is_cubic")]
        shape: ScheduleShape,
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
        /// How the sparsity ramps (left out of the serialised plan when cubic).
        #[serde(default, skip_serializing_if = "ScheduleShape::is_cubic")]
        shape: ScheduleShape,
        /// First pruning step of the sparse phase.
        start: u64,
        /// Step of the sparse phase at which the target is reached.
        end: u64,
        /// Mask update interval.
        update_every: u64,
    },
}

impl PruningPlan {
    /// Short label for tables: `dense`, `gmp`, `2:4`, `from-dense(1000)`; a schedule shape
    /// other than cubic is appended, as in `gmp+geometric` or `2:4+linear`.
    pub fn label(&self) -> String {
        let method = match self {
            PruningPlan::Dense => "dense".into(),
            PruningPlan::Gmp { .. } => "gmp".into(),
            PruningPlan::NM { n, m, .. } => format!("{n}:{m}"),
            PruningPlan::FromDense { dense_steps, .. } => format!("from-dense({dense_steps})"),
        };
        match self.schedule() {
            Some(_) if !self.shape().is_cubic() => format!("{method}+{}", self.shape().name()),
            _ => method,
        }
    }

    /// The schedule's shape (cubic where there is no schedule).
    pub fn shape(&self) -> ScheduleShape {
        match *self {
            PruningPlan::Dense => ScheduleShape::CUBIC,
            PruningPlan::Gmp { shape, .. } | PruningPlan::NM { shape, .. } | PruningPlan::FromDense { shape, .. } => {
                shape
            }
        }
    }

    /// The gradual schedule `(start, end, update_every)`, if masks follow one (not for dense
    /// runs or one-shot n:m).
    pub fn schedule(&self) -> Option<(u64, u64, u64)> {
        match *self {
            PruningPlan::Dense | PruningPlan::NM { gradual: false, .. } => None,
            PruningPlan::Gmp { start, end, update_every, .. }
            | PruningPlan::NM { start, end, update_every, .. }
            | PruningPlan::FromDense { start, end, update_every, .. } => Some((start, end, update_every)),
        }
    }

    /// The closed-form mean density (fraction of the prunable weights kept), over a run of
    /// `steps` steps pruned to `sparsity` with this plan: dense before `start`, the shape's
    /// ramp mean between `start` and `end` ([`ScheduleShape::ramp_mean_sparsity`]), 1 − S
    /// after — so N̄ ≈ mean density × the dense count (Jin et al., ICLR 2025). The paper's
    /// cubic 25 %–75 % schedule gives 1 − 0.625·S. Continuous in time: a run with masks
    /// updated every step matches it to about 1/(end − start). A from-dense plan's is over its
    /// sparse phase; one-shot n:m is at 1 − S throughout.
    ///
    /// ```
    /// use sparse_scaling_experiment::{PruningPlan, ScheduleShape};
    /// let plan = PruningPlan::Gmp { shape: ScheduleShape::CUBIC, start: 250, end: 750, update_every: 10 };
    /// assert!((plan.mean_density(0.8, 1000) - (1.0 - 0.625 * 0.8)).abs() < 1e-12);
    /// ```
    pub fn mean_density(&self, sparsity: f64, steps: u64) -> f64 {
        let Some((start, end, _)) = self.schedule() else {
            return if self.nm().is_some() { 1.0 - sparsity } else { 1.0 };
        };
        let t = steps.max(1) as f64;
        let (a, b) = ((start as f64).min(t), (end as f64).min(t));
        let ramp = (b - a) * (1.0 - self.shape().ramp_mean_sparsity(sparsity));
        (a + ramp + (t - b) * (1.0 - sparsity)) / t
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
