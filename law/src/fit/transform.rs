//! Box bounds on parameters as a smooth change of variables: the optimizer works on an
//! unconstrained coordinate `u` per parameter, mapped into the bounds by softplus (one side)
//! or a sigmoid (both sides), so that BFGS needs no constraint handling.

use super::Bounds;

/// Map between a parameter and the optimizer's unconstrained coordinate.
#[derive(Debug, Clone, Copy)]
pub(super) enum Transform {
    /// No bounds: the parameter is the coordinate.
    Free,
    /// `parameter = lower + softplus(u)`.
    Lower(f64),
    /// `parameter = upper − softplus(−u)`.
    Upper(f64),
    /// `parameter = lower + (upper − lower) · sigmoid(u)`.
    Both(f64, f64),
}

/// `ln(1 + eᵘ)` (`u` itself above 30, where the two differ by less than 1e-13).
fn softplus(u: f64) -> f64 {
    if u > 30.0 {
        u
    } else {
        u.exp().ln_1p()
    }
}

/// `1 / (1 + e⁻ᵘ)`.
fn sigmoid(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

impl Transform {
    /// The map for a parameter with these bounds (none: [`Transform::Free`]).
    pub(super) fn new(b: Option<&Bounds>) -> Transform {
        match b.map(|b| (b.lower, b.upper)) {
            Some((Some(l), Some(u))) => Transform::Both(l, u),
            Some((Some(l), None)) => Transform::Lower(l),
            Some((None, Some(u))) => Transform::Upper(u),
            _ => Transform::Free,
        }
    }

    /// Parameter value and d value / du.
    pub(super) fn forward(self, u: f64) -> (f64, f64) {
        match self {
            Transform::Free => (u, 1.0),
            Transform::Lower(l) => (l + softplus(u), sigmoid(u)),
            Transform::Upper(h) => (h - softplus(-u), sigmoid(-u)),
            Transform::Both(l, h) => {
                let s = sigmoid(u);
                (l + (h - l) * s, (h - l) * s * (1.0 - s))
            }
        }
    }

    /// The coordinate of a parameter value; values on or outside a bound are first moved
    /// just inside it.
    pub(super) fn inverse(self, x: f64) -> f64 {
        let inv_softplus = |y: f64| {
            if y > 30.0 {
                y
            } else {
                y.exp_m1().max(1e-300).ln()
            }
        };
        match self {
            Transform::Free => x,
            Transform::Lower(l) => inv_softplus((x - l).max(1e-12)),
            Transform::Upper(h) => -inv_softplus((h - x).max(1e-12)),
            Transform::Both(l, h) => {
                let t = ((x - l) / (h - l)).clamp(1e-9, 1.0 - 1e-9);
                (t / (1.0 - t)).ln()
            }
        }
    }
}
