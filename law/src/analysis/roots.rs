//! Safe one-dimensional root finding: outward bracket search, grid scans for sign changes,
//! and Brent's method (Brent 1973, *Algorithms for Minimization without Derivatives*, ch. 4:
//! inverse quadratic interpolation and secant steps, falling back to bisection whenever a step
//! would leave the bracket or shrink it too slowly). Every routine keeps a sign-changing bracket,
//! so it cannot diverge; non-finite function values are reported, never iterated on.

/// Why a root could not be found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RootFail {
    /// No sign change between `lo` and `hi` (the widest interval searched).
    NoBracket { lo: f64, hi: f64 },
    /// The function was NaN at `at`.
    NotFinite { at: f64 },
}

/// A bracket `[a, b]` with `f(a)` and `f(b)` of opposite signs (or one of them zero).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bracket {
    pub a: f64,
    pub b: f64,
    pub fa: f64,
    pub fb: f64,
}

fn opposite(fa: f64, fb: f64) -> bool {
    fa == 0.0 || fb == 0.0 || (fa < 0.0) != (fb < 0.0)
}

/// Brent's method on a bracket; returns x with |x - root| <= `xtol` (absolute) + 4 ulp.
pub(crate) fn brent(mut f: impl FnMut(f64) -> f64, br: Bracket, xtol: f64, max_iter: usize) -> Result<f64, RootFail> {
    let Bracket { mut a, mut b, mut fa, mut fb } = br;
    if fa.is_nan() {
        return Err(RootFail::NotFinite { at: a });
    }
    if fb.is_nan() {
        return Err(RootFail::NotFinite { at: b });
    }
    if fa == 0.0 {
        return Ok(a);
    }
    if fb == 0.0 {
        return Ok(b);
    }
    if !opposite(fa, fb) {
        return Err(RootFail::NoBracket { lo: a.min(b), hi: a.max(b) });
    }
    // c is the previous iterate on the other side of the root from b.
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    for _ in 0..max_iter {
        if (fb > 0.0) == (fc > 0.0) {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            // make b the best estimate
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 0.5 * xtol;
        let m = 0.5 * (c - b);
        if m.abs() <= tol || fb == 0.0 {
            return Ok(b);
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            let s = fb / fa;
            let (mut p, mut q);
            if a == c {
                // secant step
                p = 2.0 * m * s;
                q = 1.0 - s;
            } else {
                // inverse quadratic interpolation through a, b, c
                let qa = fa / fc;
                let r = fb / fc;
                p = s * (2.0 * m * qa * (qa - r) - (b - a) * (r - 1.0));
                q = (qa - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if 2.0 * p < (3.0 * m * q - (tol * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = m;
                e = m;
            }
        } else {
            d = m;
            e = m;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol { d } else { tol.copysign(m) };
        fb = f(b);
        if fb.is_nan() {
            return Err(RootFail::NotFinite { at: b });
        }
    }
    Ok(b)
}

/// Searches outward from `t0` (steps `step`, growing by 1.6× each time, alternately up and
/// down) for the first interval over which `f` changes sign, within `[t0 - limit, t0 + limit]`.
/// A side on which `f` turns NaN stops being searched.
pub(crate) fn bracket_outward(
    mut f: impl FnMut(f64) -> f64,
    t0: f64,
    step: f64,
    limit: f64,
) -> Result<Bracket, RootFail> {
    let f0 = f(t0);
    if f0.is_nan() {
        return Err(RootFail::NotFinite { at: t0 });
    }
    if f0 == 0.0 {
        return Ok(Bracket { a: t0, b: t0, fa: 0.0, fb: 0.0 });
    }
    let (mut up, mut fup, mut up_open) = (t0, f0, true);
    let (mut dn, mut fdn, mut dn_open) = (t0, f0, true);
    let mut delta = step;
    while (up_open || dn_open) && delta <= 2.0 * limit {
        let d = delta.min(limit);
        if up_open {
            let t = t0 + d;
            let ft = f(t);
            if ft.is_nan() {
                up_open = false;
            } else if opposite(fup, ft) {
                return Ok(Bracket { a: up, b: t, fa: fup, fb: ft });
            } else {
                up = t;
                fup = ft;
            }
        }
        if dn_open {
            let t = t0 - d;
            let ft = f(t);
            if ft.is_nan() {
                dn_open = false;
            } else if opposite(fdn, ft) {
                return Ok(Bracket { a: t, b: dn, fa: ft, fb: fdn });
            } else {
                dn = t;
                fdn = ft;
            }
        }
        if d >= limit {
            break;
        }
        delta *= 1.6;
    }
    Err(RootFail::NoBracket { lo: dn, hi: up })
}

/// Evaluates `f` on the (increasing) `grid` and returns every cell where `f` goes from negative
/// to non-negative (the local minima of a function whose derivative is `f`). NaN values split
/// the scan: a cell touching a NaN is skipped.
pub(crate) fn rising_crossings(mut f: impl FnMut(f64) -> f64, grid: &[f64]) -> (Vec<Bracket>, Vec<f64>) {
    let values: Vec<f64> = grid.iter().map(|&t| f(t)).collect();
    let mut out = Vec::new();
    for i in 1..grid.len() {
        let (fa, fb) = (values[i - 1], values[i]);
        if fa.is_nan() || fb.is_nan() {
            continue;
        }
        if fa < 0.0 && fb >= 0.0 {
            out.push(Bracket { a: grid[i - 1], b: grid[i], fa, fb });
        }
    }
    (out, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brent_finds_cube_root_of_two() {
        let f = |x: f64| x * x * x - 2.0;
        let br = Bracket { a: 0.0, b: 3.0, fa: f(0.0), fb: f(3.0) };
        let x = brent(f, br, 1e-14, 200).unwrap();
        assert!((x - 2f64.cbrt()).abs() < 1e-13, "{x}");
    }

    #[test]
    fn brent_rejects_non_bracket() {
        let f = |x: f64| x * x + 1.0;
        let br = Bracket { a: -1.0, b: 1.0, fa: 2.0, fb: 2.0 };
        assert!(matches!(brent(f, br, 1e-12, 100), Err(RootFail::NoBracket { .. })));
    }

    #[test]
    fn brent_handles_steep_exponential() {
        // cost-like function in log space
        let f = |t: f64| 1e-3 * t.exp() - 5e7;
        let br = bracket_outward(f, 0.0, 0.5, 800.0).unwrap();
        let t = brent(f, br, 1e-13, 300).unwrap();
        assert!((t - (5e10f64).ln()).abs() < 1e-11, "{t}");
    }

    #[test]
    fn outward_search_goes_down_too() {
        let f = |t: f64| t + 30.0;
        let br = bracket_outward(f, 0.0, 0.1, 100.0).unwrap();
        assert!(br.a <= -30.0 && br.b >= -30.0, "{br:?}");
        assert!(bracket_outward(|t: f64| t * t + 1.0, 0.0, 0.1, 50.0).is_err());
    }

    #[test]
    fn crossings_are_minima_only() {
        // derivative of a double well: minima at ±1, maximum at 0
        let g = |x: f64| 4.0 * x * x * x - 4.0 * x;
        let grid: Vec<f64> = (0..=40).map(|i| -2.0 + 0.1 * i as f64 + 0.013).collect();
        let (cells, _) = rising_crossings(g, &grid);
        assert_eq!(cells.len(), 2);
        for c in cells {
            let x = brent(g, c, 1e-14, 100).unwrap();
            assert!((x.abs() - 1.0).abs() < 1e-12);
        }
    }
}
