//! The fitting objective (docs/THEORY.md §2; Frantar et al. 2024, following Hoffmann et al.
//! 2022): the weighted mean Huber loss of raw (`pred − y`) or log (`log pred − log y`)
//! residuals, with its exact gradient from one forward and one reverse sweep of the compiled
//! tape, in the optimizer's unconstrained coordinates (see [`super::transform`]). Optionally
//! asymmetric: over-predictions weigh `overestimate_penalty` times as much.

use crate::compile::{Bound, Tape, Workspace};
use crate::data::Observations;

use super::bfgs::{self, inf_norm, BfgsOutcome, BfgsSettings};
use super::transform::Transform;
use super::{FitError, FitOptions, Residual};

/// The objective over bound data: the weighted mean Huber loss of the residuals, as a
/// function of the optimizer's unconstrained coordinates.
pub(super) struct Objective {
    /// The compiled law with the data's variables bound.
    bound: Bound,
    /// Measured losses.
    y: Vec<f64>,
    /// Their logarithms (for log residuals).
    log_y: Vec<f64>,
    /// Per-point weight divided by the total weight.
    w: Vec<f64>,
    /// Huber δ.
    delta: f64,
    /// Log residuals (else raw).
    log: bool,
    /// Factor on the Huber loss of over-predicted points (1: symmetric).
    over: f64,
    /// Coordinate map of each free parameter.
    transforms: Vec<Transform>,
}

impl Objective {
    /// Binds `tape` (variables first, then the free parameters) to the columns `var_idx` of
    /// `obs`.
    pub(super) fn new(
        tape: &Tape,
        obs: &Observations,
        var_idx: &[usize],
        opts: &FitOptions,
        transforms: Vec<Transform>,
    ) -> Result<Objective, FitError> {
        let n = obs.len();
        let fixed: Vec<(usize, &[f64])> =
            var_idx.iter().enumerate().map(|(k, &c)| (k, obs.columns[c].as_slice())).collect();
        let bound = tape.bind(&fixed, n)?;
        let w: Vec<f64> = match &obs.weights {
            Some(w) => {
                let total: f64 = w.iter().sum();
                w.iter().map(|v| v / total).collect()
            }
            None => vec![1.0 / n as f64; n],
        };
        Ok(Objective {
            bound,
            y: obs.loss.clone(),
            log_y: obs.loss.iter().map(|v| v.ln()).collect(),
            w,
            delta: opts.huber_delta,
            log: opts.residual == Residual::Log,
            over: opts.overestimate_penalty,
            transforms,
        })
    }

    /// Parameter values at coordinates `u`.
    pub(super) fn params_of(&self, u: &[f64]) -> Vec<f64> {
        u.iter().zip(&self.transforms).map(|(u, t)| t.forward(*u).0).collect()
    }

    /// Runs BFGS from the parameter values `start` (mapped into the optimizer's coordinates).
    pub(super) fn minimize(&self, start: &[f64], settings: &BfgsSettings) -> BfgsOutcome {
        let mut ws = self.bound.workspace();
        let mut seed = vec![0.0; self.bound.n_points()];
        let u0: Vec<f64> = start.iter().zip(&self.transforms).map(|(x, t)| t.inverse(*x)).collect();
        let mut fg = |u: &[f64], g: &mut [f64]| self.value_grad(u, g, &mut ws, &mut seed);
        bfgs::minimize(&mut fg, &u0, settings)
    }

    /// The same objective as a function of the parameters themselves (no change of variables).
    pub(super) fn plain(self) -> Objective {
        let k = self.transforms.len();
        Objective { transforms: vec![Transform::Free; k], ..self }
    }

    /// Objective at coordinates `u`, and its gradient written into `grad`.
    pub(super) fn eval_grad(&self, u: &[f64], grad: &mut [f64]) -> f64 {
        let mut ws = self.bound.workspace();
        let mut seed = vec![0.0; self.bound.n_points()];
        self.value_grad(u, grad, &mut ws, &mut seed)
    }

    /// Largest component of the projected gradient at `theta`, with respect to the parameters
    /// themselves (not the optimizer's coordinates): a parameter on a bound whose gradient
    /// points out of the box counts only its distance to the bound
    /// ([`Transform::projected_gradient`]).
    pub(super) fn param_grad_norm(&self, theta: &[f64]) -> f64 {
        let mut g = vec![0.0; theta.len()];
        let mut ws = self.bound.workspace();
        let mut seed = vec![0.0; self.bound.n_points()];
        let f = self.value_seed(theta, &mut ws, &mut seed);
        if !f.is_finite() {
            return f64::INFINITY;
        }
        self.bound.backward(&mut ws, &seed);
        self.bound.input_adjoint_sums(&ws, &mut g);
        for ((g, x), t) in g.iter_mut().zip(theta).zip(&self.transforms) {
            *g = t.projected_gradient(*x, *g);
        }
        inf_norm(&g)
    }

    /// Objective and gradient with respect to the unconstrained coordinates `u`.
    fn value_grad(&self, u: &[f64], grad: &mut [f64], ws: &mut Workspace, seed: &mut [f64]) -> f64 {
        let mut theta = [0.0; 64];
        let mut dtheta = [0.0; 64];
        let k = u.len();
        let (theta, dtheta) = if k <= 64 {
            (&mut theta[..k], &mut dtheta[..k])
        } else {
            return self.value_grad_large(u, grad, ws, seed);
        };
        for i in 0..k {
            let (x, d) = self.transforms[i].forward(u[i]);
            theta[i] = x;
            dtheta[i] = d;
        }
        let f = self.value_seed(theta, ws, seed);
        if !f.is_finite() {
            return f64::INFINITY;
        }
        self.bound.backward(ws, seed);
        self.bound.input_adjoint_sums(ws, grad);
        grad.iter_mut().zip(dtheta.iter()).for_each(|(g, d)| *g *= d);
        f
    }

    /// [`Objective::value_grad`] for more than 64 parameters (allocates).
    fn value_grad_large(&self, u: &[f64], grad: &mut [f64], ws: &mut Workspace, seed: &mut [f64]) -> f64 {
        let pairs: Vec<(f64, f64)> = u.iter().zip(&self.transforms).map(|(u, t)| t.forward(*u)).collect();
        let theta: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let f = self.value_seed(&theta, ws, seed);
        if !f.is_finite() {
            return f64::INFINITY;
        }
        self.bound.backward(ws, seed);
        self.bound.input_adjoint_sums(ws, grad);
        grad.iter_mut().zip(&pairs).for_each(|(g, p)| *g *= p.1);
        f
    }

    /// Forward sweep; returns the objective and writes d objective / d pred into `seed`.
    fn value_seed(&self, theta: &[f64], ws: &mut Workspace, seed: &mut [f64]) -> f64 {
        self.bound.forward_scalars(theta, ws);
        let pred = self.bound.value(ws);
        let d = self.delta;
        let mut f = 0.0;
        for i in 0..pred.len() {
            let (r, dr) = if self.log {
                if pred[i] <= 0.0 {
                    return f64::INFINITY;
                }
                (pred[i].ln() - self.log_y[i], 1.0 / pred[i])
            } else {
                (pred[i] - self.y[i], 1.0)
            };
            let (h, dh) = if r.abs() <= d { (0.5 * r * r, r) } else { (d * (r.abs() - 0.5 * d), d * r.signum()) };
            let w = if r > 0.0 { self.w[i] * self.over } else { self.w[i] };
            f += w * h;
            seed[i] = w * dh * dr;
        }
        f
    }

    /// Predicted loss per point at parameters `theta`.
    pub(super) fn predictions(&self, theta: &[f64]) -> Vec<f64> {
        let mut ws = self.bound.workspace();
        self.bound.forward_scalars(theta, &mut ws);
        self.bound.value(&ws).to_vec()
    }
}
