//! Symbolic differentiation (the derivatives behind the exact fitting gradient and the
//! analysis of docs/THEORY.md §3, e.g. ∂L/∂S = 0 for the optimal sparsity).

use super::{BinOp, Expr, Func};

impl Expr {
    /// The derivative of `self` with respect to `symbol`, simplified.
    ///
    /// `abs`, `min`, `max` and `sign` are differentiated piecewise (through `sign`), with
    /// the average of both sides at a kink.
    ///
    /// ```
    /// let e = sparse_scaling_law::parse("a * N^(-b)").unwrap();
    /// assert_eq!(e.diff("a").to_string(), "N^-b");
    /// ```
    pub fn diff(&self, symbol: &str) -> Expr {
        self.diff_raw(symbol).simplify()
    }

    fn diff_raw(&self, x: &str) -> Expr {
        use BinOp::*;
        if !self.contains(x) {
            return Expr::Num(0.0);
        }
        match self {
            Expr::Num(_) => Expr::Num(0.0),
            Expr::Sym(s) => Expr::Num(if s == x { 1.0 } else { 0.0 }),
            Expr::Neg(e) => Expr::neg(e.diff_raw(x)),
            Expr::Bin(op, a, b) => {
                let (a, b) = (&**a, &**b);
                let (da, db) = (a.diff_raw(x), b.diff_raw(x));
                match op {
                    Add => Expr::bin(Add, da, db),
                    Sub => Expr::bin(Sub, da, db),
                    Mul => Expr::bin(Add, Expr::bin(Mul, da, b.clone()), Expr::bin(Mul, a.clone(), db)),
                    Div => {
                        // (a/b)' = a'/b - a*b'/b^2
                        Expr::bin(
                            Sub,
                            Expr::bin(Div, da, b.clone()),
                            Expr::bin(Div, Expr::bin(Mul, a.clone(), db), Expr::bin(Pow, b.clone(), Expr::Num(2.0))),
                        )
                    }
                    Pow => {
                        if !b.contains(x) {
                            // (a^b)' = b * a^(b-1) * a'
                            let b_minus_1 = Expr::bin(Sub, b.clone(), Expr::Num(1.0));
                            Expr::bin(Mul, Expr::bin(Mul, b.clone(), Expr::bin(Pow, a.clone(), b_minus_1)), da)
                        } else {
                            // (a^b)' = a^b * (b' * log(a) + b * a'/a)
                            let inner = Expr::bin(
                                Add,
                                Expr::bin(Mul, db, Expr::call1(Func::Log, a.clone())),
                                Expr::bin(Mul, b.clone(), Expr::bin(Div, da, a.clone())),
                            );
                            Expr::bin(Mul, self.clone(), inner)
                        }
                    }
                }
            }
            Expr::Call(f, args) => {
                let a = &args[0];
                let da = a.diff_raw(x);
                match f {
                    Func::Log => Expr::bin(Div, da, a.clone()),
                    Func::Exp => Expr::bin(Mul, self.clone(), da),
                    Func::Sqrt => Expr::bin(Div, da, Expr::bin(Mul, Expr::Num(2.0), self.clone())),
                    Func::Abs => Expr::bin(Mul, Expr::call1(Func::Sign, a.clone()), da),
                    Func::Sign => Expr::Num(0.0),
                    Func::Min | Func::Max => {
                        // max(a,b)' = a'·(1+s)/2 + b'·(1−s)/2 with s = sign(a−b) (min swaps the
                        // weights): each derivative appears once, so nested min/max grow the
                        // derivative linearly, not exponentially; at a kink it is (a'+b')/2.
                        let b = &args[1];
                        let db = b.diff_raw(x);
                        let s = Expr::call1(Func::Sign, Expr::bin(Sub, a.clone(), b.clone()));
                        let plus = Expr::bin(Div, Expr::bin(Add, Expr::Num(1.0), s.clone()), Expr::Num(2.0));
                        let minus = Expr::bin(Div, Expr::bin(Sub, Expr::Num(1.0), s), Expr::Num(2.0));
                        let (wa, wb) = if *f == Func::Max { (plus, minus) } else { (minus, plus) };
                        Expr::bin(Add, Expr::bin(Mul, da, wa), Expr::bin(Mul, db, wb))
                    }
                }
            }
        }
    }
}
