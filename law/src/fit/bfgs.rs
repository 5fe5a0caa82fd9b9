//! Dense BFGS with a strong-Wolfe line search (Nocedal & Wright, *Numerical Optimization*,
//! 2nd ed., Algorithms 3.5, 3.6 and 6.1). Laws have few parameters (≤ ~20), so the dense
//! inverse-Hessian update is cheap, and it is more robust than L-BFGS on the ill-conditioned
//! valleys of the fitting objective (docs/THEORY.md §2). The paper's own fit used scipy's
//! BFGS with finite-difference gradients; here gradients are exact.

use serde::{Deserialize, Serialize};

/// Why the optimizer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// The largest gradient component fell below the tolerance (converged).
    Gradient,
    /// The objective stopped changing relative to its size (converged).
    ObjectiveChange,
    /// The line search failed where the quasi-Newton model predicts a decrease below
    /// [`BfgsSettings::precision_tol`]` · |f|` (default `1e-14 · |f|`), which floating point
    /// cannot resolve: a minimum to machine precision (converged).
    Precision,
    /// No step along the search direction lowered the objective (not converged, usually
    /// the limit of floating-point precision near a minimum or a non-finite region).
    LineSearch,
    /// Hit the iteration limit (not converged).
    MaxIterations,
    /// The objective was not finite at the start (not converged).
    NonFiniteStart,
}

impl StopReason {
    /// Whether this reason means convergence.
    pub fn converged(self) -> bool {
        matches!(self, StopReason::Gradient | StopReason::ObjectiveChange | StopReason::Precision)
    }
}

/// Settings of one BFGS run: the stopping criteria and the constants of the strong-Wolfe line
/// search (Nocedal & Wright, Algorithms 3.5 and 3.6). The defaults are those every fit uses;
/// the stopping criteria are overridden from [`FitOptions`](super::FitOptions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BfgsSettings {
    /// Iteration limit. Default 2000.
    pub max_iter: usize,
    /// Stop when `max |g_i| <= grad_tol`. Default 1e-10.
    pub grad_tol: f64,
    /// Stop when `f_prev - f <= rel_tol * |f|` in two successive iterations. Default 1e-15.
    pub rel_tol: f64,
    /// Sufficient-decrease (Armijo) constant c₁ of the Wolfe conditions:
    /// `f(x + a·p) <= f(x) + c1 · a · ∇f·p`. Default 1e-4.
    pub c1: f64,
    /// Curvature constant c₂ of the strong Wolfe conditions: `|∇f(x + a·p)·p| <= c2 · |∇f·p|`.
    /// Default 0.9 (the usual value for quasi-Newton methods).
    pub c2: f64,
    /// Length of the first step while the inverse Hessian is still the identity, as the
    /// largest change of any coordinate (the step is `first_step / max |p_i|`; later
    /// iterations try the unit quasi-Newton step first). Default 0.1.
    pub first_step: f64,
    /// Factor by which the bracketing phase lengthens the step while the objective keeps
    /// decreasing and the slope stays negative. Default 4.
    pub expand: f64,
    /// Where a step lands on a non-finite objective, the next trial step is the last good
    /// step plus this fraction of the distance to the failed one. Default 0.25.
    pub shrink: f64,
    /// The bracketing phase gives up when shrinking changes the step by at most this times
    /// its size. Default 1e-16.
    pub min_step_change: f64,
    /// Trial steps of the bracketing phase at most. Default 40.
    pub max_bracket_steps: usize,
    /// Trial steps of the zoom phase at most. Default 40.
    pub max_zoom_steps: usize,
    /// The zoom phase gives up when its interval is at most this times the larger end.
    /// Default 1e-15.
    pub zoom_width_tol: f64,
    /// The cubic interpolation's trial step must lie this fraction of the interval inside
    /// either end, else the zoom bisects. Default 0.1.
    pub zoom_margin: f64,
    /// A failed line search counts as convergence ([`StopReason::Precision`]) when the
    /// predicted decrease `-½ ∇f·p` is at most this times `|f|`. Default 1e-14.
    pub precision_tol: f64,
}

impl Default for BfgsSettings {
    fn default() -> Self {
        BfgsSettings {
            max_iter: 2000,
            grad_tol: 1e-10,
            rel_tol: 1e-15,
            c1: 1e-4,
            c2: 0.9,
            first_step: 0.1,
            expand: 4.0,
            shrink: 0.25,
            min_step_change: 1e-16,
            max_bracket_steps: 40,
            max_zoom_steps: 40,
            zoom_width_tol: 1e-15,
            zoom_margin: 0.1,
            precision_tol: 1e-14,
        }
    }
}

/// Result of one BFGS run.
#[derive(Debug, Clone)]
pub struct BfgsOutcome {
    /// Final point.
    pub x: Vec<f64>,
    /// Objective there.
    pub f: f64,
    /// Gradient there.
    pub g: Vec<f64>,
    /// Iterations done.
    pub iterations: usize,
    /// Objective evaluations done.
    pub evaluations: usize,
    /// Why it stopped.
    pub reason: StopReason,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The largest absolute component (0 for none).
pub(super) fn inf_norm(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, x| m.max(x.abs()))
}

struct Point {
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
}

/// Minimises `fg` (which writes the gradient into its second argument and returns the value)
/// from `x0`.
pub fn minimize(fg: &mut dyn FnMut(&[f64], &mut [f64]) -> f64, x0: &[f64], s: &BfgsSettings) -> BfgsOutcome {
    let n = x0.len();
    let mut evals = 0usize;
    let mut eval = |x: &[f64], evals: &mut usize| -> Point {
        *evals += 1;
        let mut g = vec![0.0; n];
        let f = fg(x, &mut g);
        let f = if f.is_finite() && g.iter().all(|v| v.is_finite()) { f } else { f64::INFINITY };
        Point { x: x.to_vec(), f, g }
    };
    let mut cur = eval(x0, &mut evals);
    if !cur.f.is_finite() {
        return BfgsOutcome {
            x: cur.x,
            f: cur.f,
            g: cur.g,
            iterations: 0,
            evaluations: evals,
            reason: StopReason::NonFiniteStart,
        };
    }
    // Inverse Hessian approximation, row-major.
    let mut h = vec![0.0; n * n];
    let reset = |h: &mut [f64]| {
        h.iter_mut().for_each(|v| *v = 0.0);
        (0..n).for_each(|i| h[i * n + i] = 1.0);
    };
    reset(&mut h);
    let mut first = true;
    let mut retried = false;
    let mut gamma = 1.0;
    let mut small_changes = 0;
    let mut p = vec![0.0; n];
    for it in 0..s.max_iter {
        if inf_norm(&cur.g) <= s.grad_tol {
            return done(cur, it, evals, StopReason::Gradient);
        }
        for i in 0..n {
            p[i] = -(0..n).map(|j| h[i * n + j] * cur.g[j]).sum::<f64>();
        }
        let mut dphi0 = dot(&p, &cur.g);
        if dphi0 >= 0.0 || !dphi0.is_finite() {
            reset(&mut h);
            first = true;
            p.iter_mut().zip(&cur.g).for_each(|(p, g)| *p = -g);
            dphi0 = dot(&p, &cur.g);
        }
        let a0 = if first { s.first_step / inf_norm(&p).max(1e-300) } else { 1.0 };
        let next = match line_search(&mut |x| eval(x, &mut evals), &Line { from: &cur, p: &p, dphi0, s }, a0) {
            Some(pt) => {
                retried = false;
                pt
            }
            None => {
                if -0.5 * dphi0 <= s.precision_tol * cur.f.abs() {
                    return done(cur, it, evals, StopReason::Precision);
                }
                if !first && !retried {
                    // Retry once along scaled steepest descent.
                    reset(&mut h);
                    h.iter_mut().for_each(|v| *v *= gamma);
                    retried = true;
                    continue;
                }
                return done(cur, it, evals, StopReason::LineSearch);
            }
        };
        let sv: Vec<f64> = next.x.iter().zip(&cur.x).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = next.g.iter().zip(&cur.g).map(|(a, b)| a - b).collect();
        let sy = dot(&sv, &yv);
        let decrease = cur.f - next.f;
        if decrease <= s.rel_tol * next.f.abs() {
            small_changes += 1;
        } else {
            small_changes = 0;
        }
        cur = next;
        if small_changes >= 2 {
            return done(cur, it + 1, evals, StopReason::ObjectiveChange);
        }
        if sy > 1e-300 && sy.is_finite() {
            if first {
                // Scale the initial matrix (Nocedal & Wright eq. 6.20).
                let scale = sy / dot(&yv, &yv);
                h.iter_mut().for_each(|v| *v *= scale);
                first = false;
            }
            gamma = sy / dot(&yv, &yv);
            // H <- (I - ρ s yᵀ) H (I - ρ y sᵀ) + ρ s sᵀ
            let rho = 1.0 / sy;
            let hy: Vec<f64> = (0..n).map(|i| (0..n).map(|j| h[i * n + j] * yv[j]).sum()).collect();
            let yhy = dot(&yv, &hy);
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] += -rho * (hy[i] * sv[j] + sv[i] * hy[j]) + (rho * rho * yhy + rho) * sv[i] * sv[j];
                }
            }
        }
    }
    let reason = if inf_norm(&cur.g) <= s.grad_tol { StopReason::Gradient } else { StopReason::MaxIterations };
    done(cur, s.max_iter, evals, reason)
}

fn done(p: Point, iterations: usize, evaluations: usize, reason: StopReason) -> BfgsOutcome {
    BfgsOutcome { x: p.x, f: p.f, g: p.g, iterations, evaluations, reason }
}

/// The line `x + a·p` searched from the current point, and the Wolfe tests along it.
struct Line<'a> {
    /// The current point (step 0).
    from: &'a Point,
    /// The search direction.
    p: &'a [f64],
    /// Slope of the objective along `p` at step 0 (negative).
    dphi0: f64,
    s: &'a BfgsSettings,
}

impl Line<'_> {
    /// The point at step `a`.
    fn at(&self, a: f64) -> Vec<f64> {
        self.from.x.iter().zip(self.p).map(|(x, p)| x + a * p).collect()
    }

    /// Slope of the objective along the line at `pt`.
    fn slope(&self, pt: &Point) -> f64 {
        dot(&pt.g, self.p)
    }

    /// Whether the value `f` at step `a` lacks sufficient decrease (fails Armijo, c₁).
    fn too_high(&self, a: f64, f: f64) -> bool {
        f > self.from.f + self.s.c1 * a * self.dphi0
    }

    /// Whether the slope `d` meets the strong curvature condition (c₂).
    fn flat_enough(&self, d: f64) -> bool {
        d.abs() <= -self.s.c2 * self.dphi0
    }
}

/// Strong-Wolfe line search (N&W Algorithm 3.5) from step `a0`; non-finite values count as
/// too far.
fn line_search(eval: &mut dyn FnMut(&[f64]) -> Point, line: &Line<'_>, a0: f64) -> Option<Point> {
    let s = line.s;
    let phi0 = line.from.f;
    let (mut a_prev, mut f_prev, mut d_prev) = (0.0, phi0, line.dphi0);
    let mut prev_pt: Option<Point> = None;
    let mut a = a0;
    for i in 0..s.max_bracket_steps {
        let pt = eval(&line.at(a));
        if !pt.f.is_finite() {
            // Too far: shrink toward the last good step.
            a = a_prev + s.shrink * (a - a_prev);
            if (a - a_prev).abs() <= s.min_step_change * a.abs().max(1e-300) {
                break;
            }
            continue;
        }
        let d = line.slope(&pt);
        if line.too_high(a, pt.f) || (i > 0 && pt.f >= f_prev) {
            return zoom(eval, line, (a_prev, f_prev, d_prev, prev_pt), (a, pt.f, d, Some(pt)));
        }
        if line.flat_enough(d) {
            return Some(pt);
        }
        if d >= 0.0 {
            let (f, dd) = (pt.f, d);
            return zoom(eval, line, (a, f, dd, Some(pt)), (a_prev, f_prev, d_prev, prev_pt));
        }
        a_prev = a;
        f_prev = pt.f;
        d_prev = d;
        prev_pt = Some(pt);
        a *= s.expand;
    }
    // Accept the best decrease found, if any.
    prev_pt.filter(|pt| pt.f < phi0)
}

/// One end of the zoom interval: step, value, slope, and the point if evaluated.
type End = (f64, f64, f64, Option<Point>);

/// N&W Algorithm 3.6 with safeguarded cubic interpolation.
fn zoom(eval: &mut dyn FnMut(&[f64]) -> Point, line: &Line<'_>, lo: End, hi: End) -> Option<Point> {
    let s = line.s;
    let (mut a_lo, mut f_lo, mut d_lo, mut pt_lo) = lo;
    let (mut a_hi, mut f_hi, mut d_hi, _) = hi;
    for _ in 0..s.max_zoom_steps {
        let width = a_hi - a_lo;
        if width.abs() <= s.zoom_width_tol * a_lo.abs().max(a_hi.abs()) {
            break;
        }
        let mut a = cubic_min(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi).unwrap_or(a_lo + 0.5 * width);
        let (lo_b, hi_b) = (a_lo.min(a_hi), a_lo.max(a_hi));
        let margin = s.zoom_margin * (hi_b - lo_b);
        if !(a > lo_b + margin && a < hi_b - margin) {
            a = a_lo + 0.5 * width;
        }
        let pt = eval(&line.at(a));
        if !pt.f.is_finite() {
            a_hi = a;
            f_hi = f64::INFINITY;
            d_hi = f64::NAN;
            continue;
        }
        let d = line.slope(&pt);
        if line.too_high(a, pt.f) || pt.f >= f_lo {
            a_hi = a;
            f_hi = pt.f;
            d_hi = d;
        } else {
            if line.flat_enough(d) {
                return Some(pt);
            }
            if d * (a_hi - a_lo) >= 0.0 {
                a_hi = a_lo;
                f_hi = f_lo;
                d_hi = d_lo;
            }
            a_lo = a;
            f_lo = pt.f;
            d_lo = d;
            pt_lo = Some(pt);
        }
    }
    pt_lo.filter(|pt| pt.f < line.from.f)
}

/// Minimiser of the cubic through (a, fa, da), (b, fb, db), if it exists.
fn cubic_min(a: f64, fa: f64, da: f64, b: f64, fb: f64, db: f64) -> Option<f64> {
    if !(fa.is_finite() && fb.is_finite() && da.is_finite() && db.is_finite()) {
        return None;
    }
    let d1 = da + db - 3.0 * (fa - fb) / (a - b);
    let disc = d1 * d1 - da * db;
    if disc < 0.0 {
        return None;
    }
    let d2 = (b - a).signum() * disc.sqrt();
    let x = b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2);
    x.is_finite().then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock() {
        let mut f = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let out = minimize(
            &mut f,
            &[-1.2, 1.0],
            &BfgsSettings { max_iter: 500, grad_tol: 1e-10, rel_tol: 0.0, ..BfgsSettings::default() },
        );
        assert_eq!(out.reason, StopReason::Gradient, "{out:?}");
        assert!((out.x[0] - 1.0).abs() < 1e-8 && (out.x[1] - 1.0).abs() < 1e-8, "{out:?}");
    }

    #[test]
    fn non_finite_regions_are_avoided() {
        // log barrier: f = x - log(x) has its minimum at 1 and is NaN for x <= 0.
        let mut f = |x: &[f64], g: &mut [f64]| {
            g[0] = 1.0 - 1.0 / x[0];
            x[0] - x[0].ln()
        };
        let out = minimize(
            &mut f,
            &[5.0],
            &BfgsSettings { max_iter: 200, grad_tol: 1e-12, rel_tol: 0.0, ..BfgsSettings::default() },
        );
        assert!(out.reason.converged(), "{out:?}");
        assert!((out.x[0] - 1.0).abs() < 1e-9);
    }
}
