//! The sparsity section of an experiment (PAPER.md §4): which pruning method, on which schedule,
//! and whether embeddings are pruned.

use serde::{Deserialize, Serialize};

use super::from_dense::FromDenseConfig;
use super::nm::NmPattern;
use super::schedule::{RampConfig, ScheduleConfig};
use super::SparsityError;

/// How a run is sparsified.
///
/// ```
/// use sparse_scaling::sparsity::{Method, SparsityConfig};
/// let c: SparsityConfig = ron::from_str(
///     "(method: NM(n: 2, m: 4, gradual: Some((start: Fraction(0.25), end: Fraction(0.75)))))",
/// ).unwrap();
/// assert!(matches!(c.method, Method::NM { n: 2, m: 4, gradual: Some(_) }));
/// assert!(!c.prune_embeddings);
/// assert!(ron::from_str::<SparsityConfig>("(method: Dense, typo: 1)").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparsityConfig {
    /// The pruning method.
    pub method: Method,
    /// Also prune token/patch embeddings and the output head, at 1 − √(1 − S) (never counted in N).
    #[serde(default)]
    pub prune_embeddings: bool,
}

/// A pruning method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Method {
    /// No pruning (S = 0).
    Dense,
    /// Gradual magnitude pruning on a cubic schedule (Zhu & Gupta 2017).
    Gmp {
        /// The schedule.
        schedule: ScheduleConfig,
    },
    /// n:m along the input axis: one-shot from the initial weights (`gradual: None`), or reached
    /// gradually on a cubic ramp to sparsity 1 − n/m.
    NM {
        /// Weights kept per group.
        n: usize,
        /// Group size.
        m: usize,
        /// The ramp for gradual n:m.
        #[serde(default)]
        gradual: Option<RampConfig>,
    },
    /// Start from a dense checkpoint and prune it on a schedule over a shorter run.
    FromDense(FromDenseConfig),
}

impl SparsityConfig {
    /// No pruning.
    pub fn dense() -> Self {
        SparsityConfig { method: Method::Dense, prune_embeddings: false }
    }

    /// GMP with the paper's schedule (25% → 75%, every 100 steps) to sparsity `s`.
    pub fn gmp_paper(s: f64) -> Self {
        SparsityConfig { method: Method::Gmp { schedule: ScheduleConfig::paper(s) }, prune_embeddings: false }
    }

    /// Final sparsity of the pruned layers.
    pub fn final_sparsity(&self) -> f64 {
        match &self.method {
            Method::Dense => 0.0,
            Method::Gmp { schedule } => schedule.sparsity,
            Method::NM { n, m, .. } => 1.0 - *n as f64 / *m as f64,
            Method::FromDense(c) => c.schedule.sparsity,
        }
    }

    /// The dense checkpoint to load before training, if this is a from-dense run.
    pub fn checkpoint(&self) -> Option<&std::path::Path> {
        match &self.method {
            Method::FromDense(c) => Some(&c.checkpoint),
            _ => None,
        }
    }

    /// Validate against a run of `total_steps` steps (schedule order, sparsity range, n:m).
    pub fn validate(&self, total_steps: u64) -> Result<(), SparsityError> {
        match &self.method {
            Method::Dense => Ok(()),
            Method::Gmp { schedule } => schedule.resolve(total_steps).map(|_| ()),
            Method::NM { n, m, gradual } => {
                let p = NmPattern::new(*n, *m)?;
                if let Some(r) = gradual {
                    r.with_sparsity(p.sparsity()).resolve(total_steps)?;
                }
                Ok(())
            }
            Method::FromDense(c) => c.plan(total_steps).map(|_| ()),
        }
    }
}
