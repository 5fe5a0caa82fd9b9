//! Box bounds on parameters as a smooth change of variables: the optimizer works on an
//! unconstrained coordinate `u` per parameter, mapped into the bounds by softplus (one side)
//! or a sigmoid (both sides), so that BFGS needs no constraint handling. A gradient reported at
//! the optimum is projected onto the box (L-BFGS-B's projected gradient, Byrd et al. 1995): the
//! part that pushes a parameter out of its bounds is no failure to converge.

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

    /// The lower and upper bound (infinite where there is none).
    fn range(self) -> (f64, f64) {
        match self {
            Transform::Free => (f64::NEG_INFINITY, f64::INFINITY),
            Transform::Lower(l) => (l, f64::INFINITY),
            Transform::Upper(h) => (f64::NEG_INFINITY, h),
            Transform::Both(l, h) => (l, h),
        }
    }

    /// The projected gradient of a parameter at value `x` with gradient `g` (with respect to
    /// the parameter itself): `x − clamp(x − g, lower, upper)`, as in L-BFGS-B. Where the step
    /// `−g` stays inside the bounds this is `g` exactly; where it would leave them it is cut at
    /// the bound, so a parameter resting on a bound with its gradient pointing out of the box
    /// counts (almost) nothing.
    pub(super) fn projected_gradient(self, x: f64, g: f64) -> f64 {
        let (lo, hi) = self.range();
        let step = x - g;
        if step < lo {
            x - lo
        } else if step > hi {
            x - hi
        } else {
            g
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

#[cfg(test)]
mod tests {
    use super::Transform;

    #[test]
    fn a_gradient_pushing_out_of_the_box_is_cut_at_the_bound() {
        let both = Transform::Both(0.0, 2.0);
        // on the lower bound, descent (−g) points below it: nothing is left
        assert_eq!(both.projected_gradient(0.0, 3.0), 0.0);
        // 1e-10 inside the lower bound: only the distance to it is left
        assert!((both.projected_gradient(1e-10, 3.0) - 1e-10).abs() < 1e-20);
        // on the lower bound, descent points inwards: the whole gradient counts
        assert_eq!(both.projected_gradient(0.0, -0.5), -0.5);
        // on the upper bound, descent points above it
        assert_eq!(both.projected_gradient(2.0, -4.0), 0.0);
        // inside, a small step: the gradient exactly (no rounding through x − g)
        assert_eq!(both.projected_gradient(1.5, 1e-13), 1e-13);
        // a long step inside the box is cut at the bound it would cross
        assert_eq!(both.projected_gradient(1.5, 7.0), 1.5);
        assert_eq!(Transform::Lower(1.0).projected_gradient(1.0, 5.0), 0.0);
        assert_eq!(Transform::Lower(1.0).projected_gradient(1.0, -5.0), -5.0);
        assert_eq!(Transform::Upper(1.0).projected_gradient(1.0, -5.0), 0.0);
        assert_eq!(Transform::Free.projected_gradient(1.0, 1e9), 1e9);
    }

    #[test]
    fn the_map_stays_inside_its_bounds() {
        for u in [-800.0, -30.0, 0.0, 30.0, 800.0] {
            let (x, _) = Transform::Both(0.5, 2.0).forward(u);
            assert!((0.5..=2.0).contains(&x), "u = {u}: {x}");
            assert!(Transform::Lower(0.5).forward(u).0 >= 0.5);
        }
    }
}
