//! Whether the data determine each fitted parameter ([`ParamStatus`], [`Undetermined`]):
//! `converged` is the optimizer's statement about reaching a minimum; this is the statement
//! about the minimum itself. A parameter is not determined when
//!
//! - it ends on one of its bounds (the data push it out of the allowed range);
//! - it has a large component in a near-flat direction of the objective at the optimum: the
//!   Hessian with respect to relative parameter changes (`H_ij · |θ_i| · |θ_j|`, by central
//!   differences of the exact gradient) has an eigenvalue `λ` at which the Gauss–Newton
//!   standard error of a relative change, `sqrt(2 f* / ((n − p) λ))` (f* the mean loss at the
//!   optimum, n points, p free parameters), exceeds [`FLAT_RELATIVE_SE`], or `λ` is below
//!   1e-10 of the largest (numerically singular). The parameters with a component of at least
//!   [`FLAT_COMPONENT`] in that direction are named;
//! - (with a bootstrap) its interval spans more than a factor of [`MAX_INTERVAL_RATIO`], or
//!   crosses zero, so that not even its sign is known.
//!
//! The text of each reason names the variables the parameter's partial derivative depends on
//! and how many distinct values of them the data hold ("by 3 distinct D values"), which is what
//! usually has to grow.

use serde::{Deserialize, Serialize};

use crate::data::Observations;
use crate::law::Law;

use super::eigen::symmetric_eigen;
use super::objective::Objective;
use super::{Bootstrap, FitOptions};

/// A near-flat direction is one along which the standard error of a relative parameter change
/// exceeds this (0.5: ±50 %, a 95 % interval spanning more than a factor of ten).
pub const FLAT_RELATIVE_SE: f64 = 0.5;
/// Parameters with at least this component in a near-flat unit eigenvector are named in it.
pub const FLAT_COMPONENT: f64 = 0.3;
/// A bootstrap interval `[lo, hi]` of one sign with `hi / lo` above this is too wide.
pub const MAX_INTERVAL_RATIO: f64 = 10.0;

/// Why a parameter is not determined by the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Undetermined {
    /// The parameter ends on a bound.
    OnBound {
        /// The bound.
        bound: f64,
    },
    /// The parameter moves along a near-flat direction of the objective.
    FlatDirection {
        /// Standard error of a relative change along that direction.
        relative_se: f64,
        /// The parameters that move together along it.
        with: Vec<String>,
    },
    /// The bootstrap interval spans more than a factor of [`MAX_INTERVAL_RATIO`].
    WideInterval {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
    /// The bootstrap interval crosses zero: the sign is not determined.
    CrossesZero {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
}

impl Undetermined {
    /// A short description, e.g. "its 95% interval [0.34, 900] spans more than a factor of 10".
    pub fn describe(&self, confidence: f64) -> String {
        let pct = 100.0 * confidence;
        match self {
            Undetermined::OnBound { bound } => format!("on its bound {bound}"),
            Undetermined::FlatDirection { relative_se, with } => format!(
                "a near-flat direction of the objective moves {} together (relative standard error {relative_se:.2})",
                with.join(", ")
            ),
            Undetermined::WideInterval { lo, hi } => {
                format!("its {pct:.0}% interval [{lo:.3e}, {hi:.3e}] spans more than a factor of {MAX_INTERVAL_RATIO}")
            }
            Undetermined::CrossesZero { lo, hi } => {
                format!("its {pct:.0}% interval [{lo:.3e}, {hi:.3e}] crosses zero: not even its sign is known")
            }
        }
    }
}

/// Whether the data determine one parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamStatus {
    /// The parameter.
    pub name: String,
    /// False when any cause applies. Fixed parameters are not judged (true).
    pub determined: bool,
    /// Why not, as text (causes joined by "; ", and the data that limit it); None when determined.
    pub reason: Option<String>,
    /// Why not, structured.
    pub causes: Vec<Undetermined>,
    /// Variables the parameter's effect depends on (its partial derivative's variables), with
    /// the number of distinct values of each in the data.
    pub limited_by: Vec<(String, usize)>,
}

/// What [`assess`] needs to know about the fit.
pub(super) struct Optimum<'a> {
    /// The objective over the fitted points, as a function of the parameters themselves.
    pub(super) objective: Objective,
    /// The free parameters at the optimum (free order).
    pub(super) free: &'a [f64],
    /// Names of the free parameters.
    pub(super) free_names: &'a [String],
    /// The mean loss there.
    pub(super) value: f64,
}

/// Judges every parameter of `law` (law order) at the optimum.
pub(super) fn assess(
    law: &Law,
    obs: &Observations,
    opts: &FitOptions,
    opt: Optimum<'_>,
    bootstrap: Option<&Bootstrap>,
) -> Vec<ParamStatus> {
    let p = opt.free.len();
    let mut causes: Vec<Vec<Undetermined>> = vec![Vec::new(); p];
    // On a bound.
    let mut interior = Vec::new();
    for (i, name) in opt.free_names.iter().enumerate() {
        let x = opt.free[i];
        let b = opts.bounds.get(name);
        let hit = [b.and_then(|b| b.lower), b.and_then(|b| b.upper)]
            .into_iter()
            .flatten()
            .find(|&bound| (x - bound).abs() <= 1e-6 * bound.abs().max(1.0));
        match hit {
            Some(bound) => causes[i].push(Undetermined::OnBound { bound }),
            None => interior.push(i),
        }
    }
    // Near-flat directions among the interior parameters.
    let n = obs.weights.as_ref().map_or(obs.len(), |w| w.iter().filter(|v| **v > 0.0).count());
    for (dir, se) in flat_directions(&opt, &interior, n) {
        let with: Vec<String> = dir.iter().map(|&i| opt.free_names[i].clone()).collect();
        for &i in &dir {
            causes[i].push(Undetermined::FlatDirection { relative_se: se, with: with.clone() });
        }
    }
    // Bootstrap intervals.
    if let Some(b) = bootstrap {
        for (i, name) in opt.free_names.iter().enumerate() {
            let Some(k) = law.param_index(name) else { continue };
            let (lo, hi) = b.intervals[k];
            if !(lo.is_finite() && hi.is_finite()) {
                continue;
            }
            if lo < 0.0 && hi > 0.0 {
                causes[i].push(Undetermined::CrossesZero { lo, hi });
            } else if lo == 0.0 || hi == 0.0 || (hi / lo).abs().max((lo / hi).abs()) > MAX_INTERVAL_RATIO {
                causes[i].push(Undetermined::WideInterval { lo, hi });
            }
        }
    }
    law.param_names()
        .iter()
        .map(|name| {
            let limited_by = limiting_variables(law, obs, name);
            match opt.free_names.iter().position(|f| f == name) {
                None => ParamStatus { name: name.clone(), determined: true, reason: None, causes: vec![], limited_by },
                Some(i) if causes[i].is_empty() => {
                    ParamStatus { name: name.clone(), determined: true, reason: None, causes: vec![], limited_by }
                }
                Some(i) => {
                    let texts: Vec<String> = causes[i].iter().map(|c| c.describe(opts.confidence)).collect();
                    ParamStatus {
                        name: name.clone(),
                        determined: false,
                        reason: Some(texts.join("; ")),
                        causes: std::mem::take(&mut causes[i]),
                        limited_by,
                    }
                }
            }
        })
        .collect()
}

/// The variables in `∂law/∂param` with the number of distinct values of each in `obs` (the
/// indicators of a grouped law's groups left out: they select points, they do not vary).
fn limiting_variables(law: &Law, obs: &Observations, param: &str) -> Vec<(String, usize)> {
    let d = law.partial(param);
    law.var_names()
        .iter()
        .filter(|v| d.contains(v) && law.expansion().and_then(|e| e.indicator(v)).is_none())
        .filter_map(|v| {
            let col = obs.column(v)?;
            let mut bits: Vec<u64> = col.iter().map(|x| x.to_bits()).collect();
            bits.sort_unstable();
            bits.dedup();
            Some((v.clone(), bits.len()))
        })
        .collect()
}

/// Near-flat directions of the objective among the parameters `idx` (free order): for each,
/// the parameters with a large component and the relative standard error along it.
fn flat_directions(opt: &Optimum<'_>, idx: &[usize], n: usize) -> Vec<(Vec<usize>, f64)> {
    let k = idx.len();
    if k == 0 {
        return Vec::new();
    }
    let scale: Vec<f64> =
        idx.iter().map(|&i| if opt.free[i].abs() > 1e-12 { opt.free[i].abs() } else { 1.0 }).collect();
    let p = opt.free.len();
    // Hessian of the objective in relative coordinates, by central differences of the gradient.
    let mut h = vec![vec![0.0; k]; k];
    let mut gp = vec![0.0; p];
    let mut gm = vec![0.0; p];
    for (col, &j) in idx.iter().enumerate() {
        let step = 1e-5 * scale[col];
        let mut x = opt.free.to_vec();
        x[j] = opt.free[j] + step;
        let fp = opt.objective.eval_grad(&x, &mut gp);
        x[j] = opt.free[j] - step;
        let fm = opt.objective.eval_grad(&x, &mut gm);
        if !(fp.is_finite() && fm.is_finite()) {
            return Vec::new();
        }
        for (row, &i) in idx.iter().enumerate() {
            h[row][col] = (gp[i] - gm[i]) / (2.0 * step) * scale[row] * scale[col];
        }
    }
    let (values, vectors) = symmetric_eigen(&h);
    let largest = values.last().copied().unwrap_or(0.0);
    if largest.is_nan() || largest <= 0.0 {
        return Vec::new();
    }
    let dof = n.saturating_sub(p);
    let mut out = Vec::new();
    for (lambda, v) in values.iter().zip(&vectors) {
        let singular = *lambda <= 1e-10 * largest;
        // Without residual degrees of freedom there is no noise estimate: only singular counts.
        let se = if dof > 0 && *lambda > 0.0 { (2.0 * opt.value / (dof as f64 * lambda)).sqrt() } else { 0.0 };
        if singular || se > FLAT_RELATIVE_SE {
            let members: Vec<usize> =
                v.iter().enumerate().filter(|(_, c)| c.abs() >= FLAT_COMPONENT).map(|(r, _)| idx[r]).collect();
            out.push((members, if singular { f64::INFINITY } else { se }));
        }
    }
    out
}
