//! Row predicates such as `scale >= 1`, `N > 50 && S < 0.8` or `(D == 5 || N > 100)`: which
//! points a held-out validation sets aside. A nom parser in the style of the formula parser
//! ([`crate::expr`]), one function per grammar rule; the two sides of a comparison are
//! arithmetic expressions parsed by the formula parser itself:
//!
//! ```text
//! or      := and ('||' and)*
//! and     := not ('&&' not)*
//! not     := '!' not | '(' or ')' | compare
//! compare := side ('<=' | '>=' | '==' | '!=' | '<' | '>') side
//! side    := a formula (docs: crate::expr), ending at a comparison or logical operator
//! ```
//!
//! Errors are [`ParseError`]s with the 1-based column of the failure in the whole text.

use nom::branch::alt;
use nom::bytes::complete::tag;
use nom::character::complete::{char as ch, multispace0};
use nom::combinator::value;
use nom::sequence::delimited;

use crate::data::Observations;
use crate::expr::{parse, Expr, ParseError};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl CmpOp {
    /// Applies the comparison (false when either side is NaN, except `!=`).
    pub fn apply(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
        }
    }
}

/// A parsed row predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `lhs op rhs`
    Compare(Expr, CmpOp, Expr),
    /// `a && b`
    And(Box<Predicate>, Box<Predicate>),
    /// `a || b`
    Or(Box<Predicate>, Box<Predicate>),
    /// `!a`
    Not(Box<Predicate>),
}

/// Why a predicate cannot select rows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PredicateError {
    /// The text does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A name is neither a variable nor a column of the points.
    #[error("`{name}` in `{text}` is not a variable or column of the points (available: {available}); quote column names that are not identifiers in backticks")]
    UnknownName {
        /// The predicate.
        text: String,
        /// The name.
        name: String,
        /// Comma-separated names that exist.
        available: String,
    },
}

/// The nom error: where parsing stopped and what was expected there.
#[derive(Debug, Clone, PartialEq)]
struct PErr<'a> {
    rest: &'a str,
    expected: String,
}

impl<'a> nom::error::ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(input: &'a str, _kind: nom::error::ErrorKind) -> Self {
        PErr { rest: input, expected: String::new() }
    }

    fn append(_input: &'a str, _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }

    fn or(self, other: Self) -> Self {
        if self.rest.len() <= other.rest.len() {
            self
        } else {
            other
        }
    }
}

type Res<'a, T> = nom::IResult<&'a str, T, PErr<'a>>;

fn failure<'a, T>(rest: &'a str, expected: impl Into<String>) -> Res<'a, T> {
    Err(nom::Err::Failure(PErr { rest, expected: expected.into() }))
}

/// The comparison operators, longest first.
fn cmp_op(input: &str) -> Res<'_, CmpOp> {
    delimited(
        multispace0,
        alt((
            value(CmpOp::Le, tag("<=")),
            value(CmpOp::Ge, tag(">=")),
            value(CmpOp::Eq, tag("==")),
            value(CmpOp::Ne, tag("!=")),
            value(CmpOp::Lt, tag("<")),
            value(CmpOp::Gt, tag(">")),
        )),
        multispace0,
    )(input)
}

/// `side`: the text up to the next comparison or logical operator (or a `)` that closes an
/// enclosing group), outside parentheses and backticks, parsed as a formula.
fn side(input: &str) -> Res<'_, Expr> {
    {
        let (mut depth, mut quoted, mut end) = (0usize, false, input.len());
        for (i, c) in input.char_indices() {
            match c {
                '`' => quoted = !quoted,
                _ if quoted => {}
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = i;
                    break;
                }
                ')' => depth -= 1,
                '<' | '>' | '=' | '!' | '&' | '|' if depth == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let (text, rest) = input.split_at(end);
        if text.trim().is_empty() {
            return Err(nom::Err::Error(PErr { rest: input, expected: "an expression".into() }));
        }
        match parse(text) {
            Ok(e) => Ok((rest, e)),
            Err(e) => {
                // Point into the whole text: skip the characters of `text` before the failure.
                let skip: usize = text.char_indices().nth(e.column - 1).map_or(text.len(), |(b, _)| b);
                Err(nom::Err::Failure(PErr { rest: &input[skip..], expected: e.expected }))
            }
        }
    }
}

/// `compare`
fn compare(input: &str) -> Res<'_, Predicate> {
    {
        let (rest, lhs) = side(input)?;
        let (rest, op) = match cmp_op(rest) {
            Ok(r) => r,
            Err(_) => return failure(rest, "a comparison (<, <=, >, >=, ==, !=)"),
        };
        let (rest, rhs) = match side(rest) {
            Ok(r) => r,
            Err(nom::Err::Error(e)) => return failure(e.rest, "an expression after the comparison"),
            Err(e) => return Err(e),
        };
        Ok((rest, Predicate::Compare(lhs, op, rhs)))
    }
}

/// `not`: `'!' not | '(' or ')' | compare`; a parenthesis may also open an arithmetic side,
/// as in `(N + 1) > 5`, so a group is tried first and a comparison after it.
fn not(input: &str) -> Res<'_, Predicate> {
    {
        let (input, _) = multispace0(input)?;
        if let Some(r) = input.strip_prefix('!').filter(|r| !r.starts_with('=')) {
            let (rest, p) = not(r)?;
            return Ok((rest, Predicate::Not(Box::new(p))));
        }
        let group = if input.starts_with('(') {
            let g = (|| {
                let (r, _) = ch('(')(input)?;
                let (r, p) = or(r)?;
                let (r, _) = multispace0(r)?;
                match ch::<&str, PErr>(')')(r) {
                    Ok((r, _)) => Ok((r, p)),
                    Err(_) => failure(r, "')' or a logical operator (&&, ||)"),
                }
            })();
            match g {
                // `(N) > 5`: the group parsed but a comparison follows, so it was a side.
                Ok((r, p)) if cmp_op(r).is_err() => return Ok((r, p)),
                Ok(_) => None,
                Err(e) => Some(e),
            }
        } else {
            None
        };
        match (compare(input), group) {
            (Ok(r), _) => Ok(r),
            (Err(nom::Err::Failure(c) | nom::Err::Error(c)), Some(nom::Err::Failure(g) | nom::Err::Error(g))) => {
                // Report whichever reading got further.
                Err(nom::Err::Failure(if g.rest.len() < c.rest.len() { g } else { c }))
            }
            (Err(e), _) => Err(e),
        }
    }
}

/// Folds `first (sep next)*` left-associatively with `join`.
fn chain<'a>(
    input: &'a str,
    sep: &'static str,
    next: fn(&'a str) -> Res<'a, Predicate>,
    join: fn(Box<Predicate>, Box<Predicate>) -> Predicate,
) -> Res<'a, Predicate> {
    let (mut rest, mut acc) = next(input)?;
    loop {
        match delimited(multispace0, tag::<&str, &str, PErr>(sep), multispace0)(rest) {
            Ok((r, _)) => {
                let (r, rhs) = next(r)?;
                acc = join(Box::new(acc), Box::new(rhs));
                rest = r;
            }
            Err(_) => return Ok((rest, acc)),
        }
    }
}

/// `and`
fn and(input: &str) -> Res<'_, Predicate> {
    chain(input, "&&", not, Predicate::And)
}

/// `or`
fn or(input: &str) -> Res<'_, Predicate> {
    chain(input, "||", and, Predicate::Or)
}

impl Predicate {
    /// Parses a predicate.
    ///
    /// ```
    /// use sparse_scaling_law::validate::Predicate;
    /// let p = Predicate::parse("scale >= 1 && (S < 0.5 || N/2 > 10)").unwrap();
    /// assert!(p.eval(&|s: &str| match s { "scale" => Some(2.0), "S" => Some(0.75), "N" => Some(30.0), _ => None }).unwrap());
    /// let e = Predicate::parse("N > ").unwrap_err();
    /// assert_eq!(e.column, 5);
    /// ```
    pub fn parse(text: &str) -> Result<Predicate, ParseError> {
        let column_of = |rest: &str| text[..text.len() - rest.len()].chars().count() + 1;
        let to_error = |e: PErr<'_>| ParseError {
            text: text.to_string(),
            column: column_of(e.rest),
            expected: if e.expected.is_empty() { "a comparison such as `N > 50`".into() } else { e.expected },
        };
        match or(text) {
            Ok((rest, p)) => {
                let rest_trimmed = rest.trim_start();
                if rest_trimmed.is_empty() {
                    Ok(p)
                } else {
                    Err(to_error(PErr { rest: rest_trimmed, expected: "&&, || or the end of the condition".into() }))
                }
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(to_error(e)),
            Err(nom::Err::Incomplete(_)) => Err(to_error(PErr { rest: "", expected: "more input".into() })),
        }
    }

    /// The names the predicate uses, in order of first appearance.
    pub fn symbols(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |e: &Expr| {
            for s in e.symbols() {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        };
        fn walk(p: &Predicate, push: &mut dyn FnMut(&Expr)) {
            match p {
                Predicate::Compare(a, _, b) => {
                    push(a);
                    push(b);
                }
                Predicate::And(a, b) | Predicate::Or(a, b) => {
                    walk(a, push);
                    walk(b, push);
                }
                Predicate::Not(a) => walk(a, push),
            }
        }
        walk(self, &mut push);
        out
    }

    /// Evaluates the predicate, asking `lookup` for each name.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<f64>) -> Result<bool, crate::EvalError> {
        Ok(match self {
            Predicate::Compare(a, op, b) => op.apply(a.eval(lookup)?, b.eval(lookup)?),
            Predicate::And(a, b) => a.eval(lookup)? && b.eval(lookup)?,
            Predicate::Or(a, b) => a.eval(lookup)? || b.eval(lookup)?,
            Predicate::Not(a) => !a.eval(lookup)?,
        })
    }

    /// The value of the predicate at every point of `obs`; names are the variables (columns) of
    /// `obs` and `loss`. `text` names the predicate in errors.
    pub fn select(&self, obs: &Observations, text: &str) -> Result<Vec<bool>, PredicateError> {
        let mut names: Vec<&str> = obs.var_names.iter().map(String::as_str).collect();
        if !names.contains(&"loss") {
            names.push("loss");
        }
        for s in self.symbols() {
            if !names.contains(&s.as_str()) {
                return Err(PredicateError::UnknownName {
                    text: text.to_string(),
                    name: s,
                    available: names.join(", "),
                });
            }
        }
        let rows = (0..obs.len())
            .map(|i| {
                let lookup = |s: &str| match obs.column(s) {
                    Some(c) => Some(c[i]),
                    None if s == "loss" => Some(obs.loss[i]),
                    None => None,
                };
                self.eval(&lookup).unwrap_or(false)
            })
            .collect();
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(text: &str, vals: &[(&str, f64)]) -> bool {
        Predicate::parse(text).unwrap().eval(&|s: &str| vals.iter().find(|(n, _)| *n == s).map(|v| v.1)).unwrap()
    }

    #[test]
    fn precedence_groups_and_sides_with_parentheses() {
        let v = [("N", 30.0), ("S", 0.5), ("D", 2.0)];
        assert!(holds("N > 10 || S > 0.9 && D > 5", &v)); // && binds tighter
        assert!(!holds("(N > 10 || S > 0.9) && D > 5", &v));
        assert!(holds("(N + 10) / 2 == 20", &v));
        assert!(holds("((N)) >= 30 && !(D != 2)", &v));
        assert!(holds("`N` <= 30", &v));
        assert!(!holds("!(S < 1)", &v));
    }

    #[test]
    fn errors_point_at_the_column() {
        for (text, column) in [("N >", 4), ("N > 5 &&", 9), ("N 5", 3), ("N > 5 5", 7), ("(N > 5", 7), ("N > (5 +", 9)]
        {
            let e = Predicate::parse(text).unwrap_err();
            assert_eq!(e.column, column, "{text}: {e}");
        }
    }

    #[test]
    fn select_names_the_unknown_column() {
        let obs = Observations::new(vec!["N".into()], vec![vec![1.0, 2.0, 3.0]], vec![3.0, 2.0, 1.5], None).unwrap();
        let p = Predicate::parse("N >= 2 && loss < 1.8").unwrap();
        assert_eq!(p.select(&obs, "").unwrap(), [false, false, true]);
        let e = Predicate::parse("scale > 1").unwrap().select(&obs, "scale > 1").unwrap_err();
        assert!(e.to_string().contains("`scale`") && e.to_string().contains("N, loss"), "{e}");
    }
}
