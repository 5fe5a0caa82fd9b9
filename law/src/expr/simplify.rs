//! Algebraic simplification: constant folding and the identities that keep symbolic
//! derivatives readable (`x + 0`, `1 * x`, `x^1`, `--x`, …). It never changes the value of
//! an expression at points where the original is finite.

use super::{BinOp, Expr, Func};

impl Expr {
    /// A simplified copy (bottom-up rewriting until nothing changes).
    ///
    /// ```
    /// let e = sparse_scaling_law::parse("0 * a + 1 * (b^1) - -c + 2 * 3").unwrap();
    /// assert_eq!(e.simplify().to_string(), "b + c + 6");
    /// ```
    pub fn simplify(&self) -> Expr {
        let mut cur = self.clone();
        for _ in 0..16 {
            let next = cur.simplify_once();
            if next == cur {
                break;
            }
            cur = next;
        }
        cur
    }

    fn simplify_once(&self) -> Expr {
        match self {
            Expr::Num(v) => Expr::num(*v),
            Expr::Sym(_) => self.clone(),
            Expr::Neg(e) => simplify_neg(e.simplify_once()),
            Expr::Bin(op, a, b) => simplify_bin(*op, a.simplify_once(), b.simplify_once()),
            Expr::Call(f, args) => {
                let args: Vec<Expr> = args.iter().map(Expr::simplify_once).collect();
                let consts: Option<Vec<f64>> = args.iter().map(Expr::as_const).collect();
                if let Some(c) = consts {
                    let v = f.apply(c[0], c.get(1).copied().unwrap_or(0.0));
                    if v.is_finite() {
                        return Expr::num(v);
                    }
                }
                match (f, &args[0]) {
                    (Func::Log, Expr::Call(Func::Exp, inner)) => inner[0].clone(),
                    (Func::Min | Func::Max, a) if args.len() == 2 && *a == args[1] => a.clone(),
                    _ => Expr::Call(*f, args),
                }
            }
        }
    }
}

fn simplify_neg(mut e: Expr) -> Expr {
    match &mut e {
        Expr::Num(0.0) => Expr::Num(0.0),
        Expr::Neg(inner) => take(inner),
        // -(a - b) = b - a
        Expr::Bin(BinOp::Sub, a, b) => Expr::bin(BinOp::Sub, take(b), take(a)),
        _ => Expr::neg(e),
    }
}

/// Moves a child out of its box (`Expr` implements `Drop`, so fields cannot be moved out).
fn take(slot: &mut Expr) -> Expr {
    std::mem::replace(slot, Expr::Num(0.0))
}

fn is(e: &Expr, v: f64) -> bool {
    e.as_const() == Some(v)
}

fn strip_neg(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Neg(inner) => Some(inner),
        _ => None,
    }
}

fn simplify_bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    use BinOp::*;
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        let v = op.apply(x, y);
        if v.is_finite() {
            return Expr::num(v);
        }
    }
    match op {
        Add => {
            if is(&a, 0.0) {
                return b;
            }
            if is(&b, 0.0) {
                return a;
            }
            if let Some(nb) = strip_neg(&b) {
                return Expr::bin(Sub, a, nb.clone());
            }
            if let Some(na) = strip_neg(&a) {
                return Expr::bin(Sub, b, na.clone());
            }
            if a == b {
                return Expr::bin(Mul, Expr::Num(2.0), a);
            }
            Expr::bin(Add, a, b)
        }
        Sub => {
            if is(&b, 0.0) {
                return a;
            }
            if is(&a, 0.0) {
                return simplify_neg(b);
            }
            if a == b {
                return Expr::Num(0.0);
            }
            if let Some(nb) = strip_neg(&b) {
                return Expr::bin(Add, a, nb.clone());
            }
            Expr::bin(Sub, a, b)
        }
        Mul => {
            if is(&a, 0.0) || is(&b, 0.0) {
                return Expr::Num(0.0);
            }
            if is(&a, 1.0) {
                return b;
            }
            if is(&b, 1.0) {
                return a;
            }
            if is(&a, -1.0) {
                return simplify_neg(b);
            }
            if is(&b, -1.0) {
                return simplify_neg(a);
            }
            if let Some(na) = strip_neg(&a) {
                return Expr::neg(Expr::bin(Mul, na.clone(), b));
            }
            if let Some(nb) = strip_neg(&b) {
                return Expr::neg(Expr::bin(Mul, a, nb.clone()));
            }
            // constants first: x * 2 -> 2 * x ; 2 * (3 * x) -> 6 * x
            if b.as_const().is_some() {
                return Expr::bin(Mul, b, a);
            }
            if let (Some(c), Expr::Bin(Mul, l, r)) = (a.as_const(), &b) {
                if let Some(d) = l.as_const() {
                    return Expr::bin(Mul, Expr::num(c * d), (**r).clone());
                }
            }
            // x * x -> x^2
            if a == b {
                return Expr::bin(Pow, a, Expr::Num(2.0));
            }
            // a * (1/b) -> a / b ; (1/b) * a -> a / b
            if let Expr::Bin(Div, one, den) = &b {
                if is(one, 1.0) {
                    return Expr::bin(Div, a, (**den).clone());
                }
            }
            if let Expr::Bin(Div, one, den) = &a {
                if is(one, 1.0) {
                    return Expr::bin(Div, b, (**den).clone());
                }
            }
            // a * (b * c) -> a * b * c (reads left to right)
            let mut b = b;
            if let Expr::Bin(Mul, l, r) = &mut b {
                return Expr::bin(Mul, Expr::bin(Mul, a, take(l)), take(r));
            }
            Expr::bin(Mul, a, b)
        }
        Div => {
            if is(&a, 0.0) && !is(&b, 0.0) {
                return Expr::Num(0.0);
            }
            if is(&b, 1.0) {
                return a;
            }
            if let Some(na) = strip_neg(&a) {
                return Expr::neg(Expr::bin(Div, na.clone(), b));
            }
            if let Some(nb) = strip_neg(&b) {
                return Expr::neg(Expr::bin(Div, a, nb.clone()));
            }
            Expr::bin(Div, a, b)
        }
        Pow => {
            if is(&b, 1.0) {
                return a;
            }
            if is(&b, 0.0) || is(&a, 1.0) {
                return Expr::Num(1.0);
            }
            // (x^c)^d -> x^(c*d) for constant c, d and integer d (exact for all x)
            if let (Expr::Bin(Pow, base, e1), Some(d)) = (&a, b.as_const()) {
                if let Some(c) = e1.as_const() {
                    if d.fract() == 0.0 && c.fract() == 0.0 {
                        return Expr::bin(Pow, (**base).clone(), Expr::num(c * d));
                    }
                }
            }
            Expr::bin(Pow, a, b)
        }
    }
}
