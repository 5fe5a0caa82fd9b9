//! Bootstrap confidence intervals: the points resampled with replacement, each resample
//! refitted as [`BootstrapRefit`] says (by default one warm start from the best fit over the
//! resample's distinct points, weighted by their counts), and percentile intervals of the
//! parameters or of any quantity derived from them.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Observations;

use super::bfgs::StopReason;
use super::multistart::{run_start, run_starts, StartOutcome};
use super::prepare::Prepared;
use super::{BootstrapRefit, FitError, FitOptions};

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

/// Bootstrap: `opts.bootstrap` resamples of the points with replacement, each refitted as
/// `opts.bootstrap_refit` says, in parallel. Resample `i` is drawn by its own generator seeded
/// from `(opts.seed, i)` and the results are kept in index order, so the result does not
/// depend on the number of threads.
pub(super) fn replicates(
    prep: &Prepared,
    obs: &Observations,
    opts: &FitOptions,
    best: &[f64],
) -> Result<Bootstrap, FitError> {
    let warm = prep.free_params(best);
    let reps: Vec<Option<Vec<f64>>> = (0..opts.bootstrap)
        .into_par_iter()
        .map(|i| {
            let rows = draw(obs.len(), opts.seed, i);
            let free = match opts.bootstrap_refit {
                BootstrapRefit::Rows => refit_warm(prep, &obs.select(&rows), opts, &warm)?.free_params,
                BootstrapRefit::Warm => {
                    let sample = weighted(obs, &rows);
                    let r = refit_warm(prep, &sample, opts, &warm);
                    match r {
                        Some(r) if !fails(&r) => r.free_params,
                        _ => better(r, refit_cold(prep, &sample, opts))?.free_params,
                    }
                }
                BootstrapRefit::Cold => refit_cold(prep, &weighted(obs, &rows), opts)?.free_params,
            };
            free.iter().all(|v| v.is_finite()).then(|| prep.full_params(&free))
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

/// The rows of resample `i` of `n` points: `n` draws with replacement from a generator seeded
/// from `(seed, i)`.
fn draw(n: usize, seed: u64, i: usize) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1));
    (0..n).map(|_| rng.gen_range(0..n)).collect()
}

/// The resample `rows` as its distinct points in their original order, each weighted by how
/// often it was drawn (times its own weight): the same weighted mean Huber loss as the rows
/// repeated, over fewer points.
fn weighted(obs: &Observations, rows: &[usize]) -> Observations {
    let mut count = vec![0usize; obs.len()];
    rows.iter().for_each(|&r| count[r] += 1);
    let distinct: Vec<usize> = (0..obs.len()).filter(|&r| count[r] > 0).collect();
    let mut sample = obs.select(&distinct);
    sample.weights =
        Some(distinct.iter().map(|&r| count[r] as f64 * obs.weights.as_ref().map_or(1.0, |w| w[r])).collect());
    sample
}

/// One optimizer run over `sample` from the free parameters `warm`; `None` when the sample
/// cannot be bound.
fn refit_warm(prep: &Prepared, sample: &Observations, opts: &FitOptions, warm: &[f64]) -> Option<StartOutcome> {
    let obj = prep.objective(sample, opts).ok()?;
    let r = run_start(&obj, warm, opts);
    r.objective.is_finite().then_some(r)
}

/// Every start of the fit over `sample`, the best kept; `None` when no start ends finite.
fn refit_cold(prep: &Prepared, sample: &Observations, opts: &FitOptions) -> Option<StartOutcome> {
    let mut ms = run_starts(prep, sample, opts).ok()?;
    let best = ms.summaries.swap_remove(ms.best);
    Some(StartOutcome {
        free_params: ms.best_free,
        objective: best.objective,
        grad_norm: best.grad_norm,
        stop: best.stop,
        iterations: best.iterations,
        evaluations: best.evaluations,
    })
}

/// Whether a warm run failed in a way a multistart may repair: the line search could not go
/// on from a point that is not a minimum, or the start was not finite. (A run that reaches
/// the iteration limit is kept: on the T5 table such runs follow a valley along which the
/// objective keeps falling, and every start follows it the same way, docs/PERFORMANCE.md.)
fn fails(r: &StartOutcome) -> bool {
    matches!(r.stop, StopReason::LineSearch | StopReason::NonFiniteStart)
}

/// The lower finite objective of two outcomes (the first of equals).
fn better(a: Option<StartOutcome>, b: Option<StartOutcome>) -> Option<StartOutcome> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.objective < a.objective { b } else { a }),
        (a, b) => a.or(b),
    }
}
