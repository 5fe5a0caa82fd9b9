//! Fitting from many starts (docs/THEORY.md §2): the start points (the `initial` values,
//! random ones uniform in the start range as in the authors' notebook, a grid), one BFGS run
//! from each, in parallel (rayon), and the choice of the best.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Observations;

use super::bfgs::{inf_norm, StopReason};
use super::objective::Objective;
use super::prepare::Prepared;
use super::{FitError, FitOptions};

/// Summary of one start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartSummary {
    /// Starting parameter values (all parameters, law order).
    pub start: Vec<f64>,
    /// Final parameter values.
    pub params: Vec<f64>,
    /// Final objective.
    pub objective: f64,
    /// Largest gradient component at the end (in the optimizer's coordinates).
    pub grad_norm: f64,
    /// Whether the run met a convergence criterion.
    pub converged: bool,
    /// Why it stopped.
    pub stop: StopReason,
    /// Iterations.
    pub iterations: usize,
    /// Objective evaluations.
    pub evaluations: usize,
}

/// The outcome of one optimizer run.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StartOutcome {
    /// Final values of the free parameters.
    pub(super) free_params: Vec<f64>,
    /// Final objective.
    pub(super) objective: f64,
    /// Largest gradient component at the end (in the optimizer's coordinates).
    pub(super) grad_norm: f64,
    /// Why it stopped.
    pub(super) stop: StopReason,
    /// Iterations.
    pub(super) iterations: usize,
    /// Objective evaluations.
    pub(super) evaluations: usize,
}

/// One optimizer run from `start` (free parameters).
pub(super) fn run_start(obj: &Objective, start: &[f64], opts: &FitOptions) -> StartOutcome {
    let out = obj.minimize(start, &opts.bfgs_settings());
    StartOutcome {
        free_params: obj.params_of(&out.x),
        objective: out.f,
        grad_norm: inf_norm(&out.g),
        stop: out.reason,
        iterations: out.iterations,
        evaluations: out.evaluations,
    }
}

/// The start points (free parameters): the `initial` one if given, then `opts.starts` random
/// ones from the seeded generator, then the grid.
fn start_points(prep: &Prepared, opts: &FitOptions) -> Result<Vec<Vec<f64>>, FitError> {
    let k = prep.free_names().len();
    let mut starts = Vec::new();
    if let Some(init) = &opts.initial {
        let mid = 0.5 * (opts.init_low + opts.init_high);
        starts.push(prep.free_names().iter().map(|p| init.get(p).copied().unwrap_or(mid)).collect());
    }
    let mut rng = StdRng::seed_from_u64(opts.seed);
    for _ in 0..opts.starts {
        starts.push((0..k).map(|_| rng.gen_range(opts.init_low..opts.init_high)).collect());
    }
    if let Some(levels) = &opts.grid {
        let total = (levels.len() as f64).powi(k as i32);
        if total > 100_000.0 {
            return Err(FitError::Options {
                field: "grid".into(),
                message: format!(
                    "{} levels for {k} parameters make {total} starts; use fewer levels or random starts",
                    levels.len()
                ),
            });
        }
        let total = total as usize;
        for mut idx in 0..total {
            let mut s = Vec::with_capacity(k);
            for _ in 0..k {
                s.push(levels[idx % levels.len()]);
                idx /= levels.len();
            }
            starts.push(s);
        }
    }
    Ok(starts)
}

/// The index of the best run: the lowest finite objective (the first of equals); among runs
/// that reached the same objective (to 1e-12 relative), a converged one is preferred. `None`
/// when no objective is finite.
fn best_run(runs: &[StartOutcome]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, r) in runs.iter().enumerate() {
        if r.objective.is_finite() && !best.is_some_and(|b| r.objective >= runs[b].objective) {
            best = Some(i);
        }
    }
    if let Some(b) = best {
        if !runs[b].stop.converged() {
            let tie = runs.iter().position(|r| r.stop.converged() && r.objective <= runs[b].objective * (1.0 + 1e-12));
            best = tie.or(best);
        }
    }
    best
}

/// The result of fitting from every start.
pub(super) struct MultiStart {
    /// Free parameters of the best start.
    pub(super) best_free: Vec<f64>,
    /// Every start, in order.
    pub(super) summaries: Vec<StartSummary>,
    /// Index of the best start.
    pub(super) best: usize,
}

/// Runs BFGS from every start point in parallel and picks the best (see [`best_run`]).
pub(super) fn run_starts(prep: &Prepared, obs: &Observations, opts: &FitOptions) -> Result<MultiStart, FitError> {
    let obj = prep.objective(obs, opts)?;
    let starts = start_points(prep, opts)?;
    let runs: Vec<StartOutcome> = starts.par_iter().map(|s| run_start(&obj, s, opts)).collect();
    let best = best_run(&runs).ok_or(FitError::NoValidStart { starts: starts.len() })?;
    let summaries = starts
        .iter()
        .zip(&runs)
        .map(|(s, r)| StartSummary {
            start: prep.full_params(s),
            params: prep.full_params(&r.free_params),
            objective: r.objective,
            grad_norm: r.grad_norm,
            converged: r.stop.converged(),
            stop: r.stop,
            iterations: r.iterations,
            evaluations: r.evaluations,
        })
        .collect();
    Ok(MultiStart { best_free: runs[best].free_params.clone(), summaries, best })
}
