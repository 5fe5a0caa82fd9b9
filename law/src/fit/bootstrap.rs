//! Bootstrap confidence intervals: the points resampled with replacement, each resample
//! refitted from the best fit (one warm start), and percentile intervals of the parameters or
//! of any quantity derived from them.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Observations;

use super::multistart::run_start;
use super::prepare::Prepared;
use super::{FitError, FitOptions};

/// Bootstrap replicates of the fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// Parameter vectors (law order, fixed ones included), one per successful replicate.
    pub samples: Vec<Vec<f64>>,
    /// Replicates whose refit failed (excluded).
    pub failed: usize,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Percentile interval per parameter (law order).
    pub intervals: Vec<(f64, f64)>,
}

/// Percentile interval of values at a confidence level.
pub fn percentile_interval(mut vals: Vec<f64>, confidence: f64) -> Option<(f64, f64)> {
    if vals.is_empty() {
        return None;
    }
    vals.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        let pos = p * (vals.len() - 1) as f64;
        let (i, frac) = (pos.floor() as usize, pos - pos.floor());
        let j = (i + 1).min(vals.len() - 1);
        vals[i] + frac * (vals[j] - vals[i])
    };
    let tail = (1.0 - confidence) / 2.0;
    Some((q(tail), q(1.0 - tail)))
}

/// Bootstrap: `opts.bootstrap` resamples of the points with replacement, each refitted from
/// `best` (one warm start), in parallel. Replicate `i` uses its own seeded generator, so the
/// result does not depend on the number of threads.
pub(super) fn replicates(
    prep: &Prepared,
    obs: &Observations,
    opts: &FitOptions,
    best: &[f64],
) -> Result<Bootstrap, FitError> {
    let n = obs.len();
    let warm = prep.free_params(best);
    let reps: Vec<Option<Vec<f64>>> = (0..opts.bootstrap)
        .into_par_iter()
        .map(|i| {
            let mut rng = StdRng::seed_from_u64(opts.seed ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1));
            let rows: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
            let sample = obs.select(&rows);
            let obj = prep.objective(&sample, opts).ok()?;
            let r = run_start(&obj, &warm, opts);
            (r.objective.is_finite() && r.free_params.iter().all(|v| v.is_finite()))
                .then(|| prep.full_params(&r.free_params))
        })
        .collect();
    let failed = reps.iter().filter(|r| r.is_none()).count();
    let samples: Vec<Vec<f64>> = reps.into_iter().flatten().collect();
    let intervals = (0..best.len())
        .map(|k| {
            percentile_interval(samples.iter().map(|s| s[k]).collect(), opts.confidence).unwrap_or((f64::NAN, f64::NAN))
        })
        .collect();
    Ok(Bootstrap { samples, failed, confidence: opts.confidence, intervals })
}
