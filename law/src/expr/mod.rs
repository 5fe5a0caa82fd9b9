//! Expression trees for scaling laws (docs/THEORY.md §1, Eq. 1 is one such expression).
//!
//! An [`Expr`] is built by [`parse`] from text such as
//! `(a_s*(1-S)^b_s + c_s) * N^(-b_n) + (a_d/D)^b_d + c`, printed back with `Display`
//! (printing then parsing gives the same tree), differentiated symbolically with
//! [`Expr::diff`], tidied with [`Expr::simplify`] and evaluated with [`Expr::eval`].
//! Fast evaluation over many points goes through [`crate::compile::Tape`] instead.
//!
//! Invariant: every number held in a tree made by this crate is finite and non-negative
//! (a negative constant is `Neg(Num(c))`); this is what makes printing round-trip exactly.
//!
//! Size: the tree walks here recurse once per level; every tree from outside the crate is
//! first checked against [`MAX_NODES`] and [`MAX_DEPTH`] without recursion (`limits.rs`), and
//! dropping a tree never recurses (`drop.rs`).

mod diff;
mod drop;
mod indexed;
mod limits;
mod parse;
mod simplify;

use std::fmt;

pub use indexed::{indexed_name, split_indexed};
pub use limits::{LimitError, Shape, MAX_DEPTH, MAX_NODES};
pub use parse::{parse, ParseError};

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `a ^ b` (right-associative; binds tighter than unary minus: `-x^2 = -(x^2)`)
    Pow,
}

impl BinOp {
    /// The operator's symbol in formula text.
    pub fn symbol(self) -> char {
        match self {
            BinOp::Add => '+',
            BinOp::Sub => '-',
            BinOp::Mul => '*',
            BinOp::Div => '/',
            BinOp::Pow => '^',
        }
    }

    /// Applies the operator to two numbers.
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Pow => a.powf(b),
        }
    }
}

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// Natural logarithm.
    Log,
    /// Exponential.
    Exp,
    /// Square root.
    Sqrt,
    /// Absolute value.
    Abs,
    /// Sign: -1, 0 or 1 (appears in derivatives of `abs`, `min`, `max`).
    Sign,
    /// Smaller of two arguments.
    Min,
    /// Larger of two arguments.
    Max,
}

impl Func {
    /// All functions, for parsing and for tests.
    pub const ALL: [Func; 7] = [Func::Log, Func::Exp, Func::Sqrt, Func::Abs, Func::Sign, Func::Min, Func::Max];

    /// The name used in formula text.
    pub fn name(self) -> &'static str {
        match self {
            Func::Log => "log",
            Func::Exp => "exp",
            Func::Sqrt => "sqrt",
            Func::Abs => "abs",
            Func::Sign => "sign",
            Func::Min => "min",
            Func::Max => "max",
        }
    }

    /// Looks a function up by name.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Number of arguments the function takes.
    pub fn arity(self) -> usize {
        match self {
            Func::Min | Func::Max => 2,
            _ => 1,
        }
    }

    /// Applies a one-argument function (`Min`/`Max` use `b`).
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Func::Log => a.ln(),
            Func::Exp => a.exp(),
            Func::Sqrt => a.sqrt(),
            Func::Abs => a.abs(),
            Func::Sign => {
                if a > 0.0 {
                    1.0
                } else if a < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Func::Min => a.min(b),
            Func::Max => a.max(b),
        }
    }
}

/// An expression tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number literal (finite, non-negative in trees made by this crate).
    Num(f64),
    /// A named symbol: a variable (S, N, D, …) or a parameter (`a`, or `a[method]`, indexed
    /// by a categorical column: see [`split_indexed`]).
    Sym(String),
    /// Unary minus.
    Neg(Box<Expr>),
    /// A binary operation.
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// A function call; the argument count equals [`Func::arity`].
    Call(Func, Vec<Expr>),
}

/// Error of [`Expr::eval`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// A symbol had no value.
    #[error("no value for symbol `{name}`: give it a value (variables come from the data, parameters from the fit)")]
    UnknownSymbol {
        /// The symbol's name.
        name: String,
    },
}

impl Expr {
    /// A number; negative values become `Neg(Num(-v))` to keep the printing invariant.
    pub fn num(v: f64) -> Expr {
        if v < 0.0 || (v == 0.0 && v.is_sign_negative()) {
            Expr::Neg(Box::new(Expr::Num(-v)))
        } else {
            Expr::Num(v)
        }
    }

    /// A symbol.
    pub fn sym(name: impl Into<String>) -> Expr {
        Expr::Sym(name.into())
    }

    /// `-e`
    #[allow(clippy::should_implement_trait)]
    pub fn neg(e: Expr) -> Expr {
        Expr::Neg(Box::new(e))
    }

    /// A binary operation.
    pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Bin(op, Box::new(a), Box::new(b))
    }

    /// A one-argument function call.
    pub fn call1(f: Func, a: Expr) -> Expr {
        Expr::Call(f, vec![a])
    }

    /// The value if this is a constant (`Num` or `Neg(Num)`).
    pub fn as_const(&self) -> Option<f64> {
        match self {
            Expr::Num(v) => Some(*v),
            Expr::Neg(e) => match &**e {
                Expr::Num(v) => Some(-*v),
                _ => None,
            },
            _ => None,
        }
    }

    /// Symbols in order of first appearance (left to right), without repeats.
    pub fn symbols(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_symbols(&mut out);
        out
    }

    fn collect_symbols(&self, out: &mut Vec<String>) {
        match self {
            Expr::Num(_) => {}
            Expr::Sym(s) => {
                if !out.iter().any(|o| o == s) {
                    out.push(s.clone());
                }
            }
            Expr::Neg(e) => e.collect_symbols(out),
            Expr::Bin(_, a, b) => {
                a.collect_symbols(out);
                b.collect_symbols(out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.collect_symbols(out)),
        }
    }

    /// Whether `name` occurs in the tree.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Expr::Num(_) => false,
            Expr::Sym(s) => s == name,
            Expr::Neg(e) => e.contains(name),
            Expr::Bin(_, a, b) => a.contains(name) || b.contains(name),
            Expr::Call(_, args) => args.iter().any(|a| a.contains(name)),
        }
    }

    /// Number of nodes.
    pub fn size(&self) -> usize {
        match self {
            Expr::Num(_) | Expr::Sym(_) => 1,
            Expr::Neg(e) => 1 + e.size(),
            Expr::Bin(_, a, b) => 1 + a.size() + b.size(),
            Expr::Call(_, args) => 1 + args.iter().map(Expr::size).sum::<usize>(),
        }
    }

    /// Replaces every symbol `name` by `with`.
    pub fn substitute(&self, name: &str, with: &Expr) -> Expr {
        match self {
            Expr::Sym(s) if s == name => with.clone(),
            Expr::Num(_) | Expr::Sym(_) => self.clone(),
            Expr::Neg(e) => Expr::neg(e.substitute(name, with)),
            Expr::Bin(op, a, b) => Expr::bin(*op, a.substitute(name, with), b.substitute(name, with)),
            Expr::Call(f, args) => Expr::Call(*f, args.iter().map(|a| a.substitute(name, with)).collect()),
        }
    }

    /// Evaluates the tree, asking `lookup` for the value of each symbol.
    ///
    /// ```
    /// let e = sparse_scaling_law::parse("a * N^(-b) + c").unwrap();
    /// let v = e.eval(&|s: &str| match s { "a" => Some(2.0), "N" => Some(4.0), "b" => Some(0.5), "c" => Some(1.0), _ => None }).unwrap();
    /// assert_eq!(v, 2.0);
    /// ```
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<f64>) -> Result<f64, EvalError> {
        Ok(match self {
            Expr::Num(v) => *v,
            Expr::Sym(s) => lookup(s).ok_or_else(|| EvalError::UnknownSymbol { name: s.clone() })?,
            Expr::Neg(e) => -e.eval(lookup)?,
            Expr::Bin(op, a, b) => op.apply(a.eval(lookup)?, b.eval(lookup)?),
            Expr::Call(f, args) => {
                let a = args[0].eval(lookup)?;
                let b = match args.get(1) {
                    Some(e) => e.eval(lookup)?,
                    None => 0.0,
                };
                f.apply(a, b)
            }
        })
    }

    /// Evaluates with symbol values given as `(name, value)` pairs.
    pub fn eval_with(&self, values: &[(&str, f64)]) -> Result<f64, EvalError> {
        self.eval(&|s: &str| values.iter().find(|(n, _)| *n == s).map(|(_, v)| *v))
    }

    /// Binding strength used by the printer: higher binds tighter.
    fn precedence(&self) -> u8 {
        match self {
            Expr::Bin(BinOp::Add | BinOp::Sub, ..) => 1,
            Expr::Bin(BinOp::Mul | BinOp::Div, ..) => 2,
            Expr::Neg(_) => 3,
            Expr::Bin(BinOp::Pow, ..) => 4,
            Expr::Num(_) | Expr::Sym(_) | Expr::Call(..) => 5,
        }
    }
}

/// Whether `name` can be printed bare (otherwise it is printed in backticks).
pub fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && Func::from_name(name).is_none()
}

fn write_number(f: &mut fmt::Formatter<'_>, v: f64) -> fmt::Result {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        write!(f, "{}", v as i64)
    } else if v.is_finite() {
        // Debug prints the shortest text that parses back to the same f64, with an exponent
        // for very large or small values (e.g. `1e-7`).
        write!(f, "{v:?}")
    } else {
        // Not produced by this crate; printed so that it at least reads clearly.
        write!(f, "{v}")
    }
}

fn write_child(f: &mut fmt::Formatter<'_>, e: &Expr, min_prec: u8) -> fmt::Result {
    if e.precedence() < min_prec {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Num(v) => write_number(f, *v),
            Expr::Sym(s) => {
                if is_plain_identifier(s) || indexed::is_plain_indexed(s) {
                    write!(f, "{s}")
                } else {
                    write!(f, "`{s}`")
                }
            }
            Expr::Neg(e) => {
                write!(f, "-")?;
                write_child(f, e, 3)
            }
            Expr::Bin(op, a, b) => {
                let (lp, rp) = match op {
                    BinOp::Add | BinOp::Sub => (1, 2),
                    BinOp::Mul | BinOp::Div => (2, 3),
                    BinOp::Pow => (5, 3),
                };
                write_child(f, a, lp)?;
                match op {
                    BinOp::Pow => write!(f, "^")?,
                    _ => write!(f, " {} ", op.symbol())?,
                }
                write_child(f, b, rp)
            }
            Expr::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, ")")
            }
        }
    }
}

impl std::str::FromStr for Expr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}
