//! The formula parser (nom 7), one small function per grammar rule, in the style of nom's
//! arithmetic example:
//!
//! ```text
//! expr   := term (('+' | '-') term)*
//! term   := unary (('*' | '/') unary)*
//! unary  := '-' unary | power
//! power  := atom ('^' unary)?            -- right-associative, tighter than unary minus
//! atom   := number | call | symbol | '(' expr ')'
//! call   := name '(' expr (',' expr)* ')'   -- log exp sqrt abs sign min max
//! symbol := name index? | '`' any text without '`' '`'
//! index  := '[' (name | '`' any text without '`' '`') ']'   -- a parameter per value of a column
//! name   := [A-Za-z_][A-Za-z0-9_]*
//! number := digits ('.' digits?)? | '.' digits, then optionally [eE] [+-]? digits
//! ```
//!
//! Errors carry the column (1-based, in characters) of the furthest point the parser
//! reached and what it expected there.

use nom::branch::alt;
use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::{char as ch, digit0, digit1, multispace0, one_of};
use nom::combinator::{opt, recognize};
use nom::error::{ErrorKind, ParseError as NomParseError};
use nom::sequence::{delimited, pair, preceded, tuple};
use nom::{Err as NomErr, IResult};

use std::cell::Cell;

use super::{indexed_name, BinOp, Expr, Func, MAX_DEPTH};

/// A formula that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse formula at column {column}: expected {expected}\n  {excerpt}\n  {caret}", excerpt = self.excerpt().0, caret = self.excerpt().1)]
pub struct ParseError {
    /// The formula text.
    pub text: String,
    /// 1-based column (in characters) where parsing failed.
    pub column: usize,
    /// What the parser expected there, e.g. "a number, a name or '('".
    pub expected: String,
}

impl ParseError {
    /// A line with a `^` under the failing column, to print below the formula.
    pub fn caret(&self) -> String {
        format!("{}^", " ".repeat(self.column.saturating_sub(1)))
    }

    /// The formula as printed in the message, with the caret line below it: the whole text
    /// when it is short, else [`EXCERPT_CHARS`] characters around the column, cut with `…`.
    pub fn excerpt(&self) -> (String, String) {
        let n = self.text.chars().count();
        if n <= EXCERPT_CHARS {
            return (self.text.clone(), self.caret());
        }
        let at = self.column.saturating_sub(1).min(n);
        let start = at.saturating_sub(EXCERPT_CHARS / 2).min(n.saturating_sub(EXCERPT_CHARS));
        let end = (start + EXCERPT_CHARS).min(n);
        let body: String = self.text.chars().skip(start).take(end - start).collect();
        let (pre, post) = (if start > 0 { "…" } else { "" }, if end < n { "…" } else { "" });
        let caret = format!("{}^", " ".repeat(at - start + pre.chars().count()));
        (format!("{pre}{body}{post}"), caret)
    }
}

/// Most characters of a formula an error message prints (see [`ParseError::excerpt`]).
pub const EXCERPT_CHARS: usize = 100;

/// The error value threaded through the nom parsers: how much input was left where it
/// failed, and what was expected there.
#[derive(Debug, Clone, PartialEq)]
struct PErr<'a> {
    rest: &'a str,
    expected: Vec<&'static str>,
}

impl<'a> PErr<'a> {
    fn new(rest: &'a str, expected: &'static str) -> Self {
        PErr { rest, expected: vec![expected] }
    }
}

impl<'a> NomParseError<&'a str> for PErr<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        PErr { rest: input, expected: Vec::new() }
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }

    fn or(self, other: Self) -> Self {
        // Keep the error that got furthest; merge the expectations of equally far ones.
        match self.rest.len().cmp(&other.rest.len()) {
            std::cmp::Ordering::Less => self,
            std::cmp::Ordering::Greater => other,
            std::cmp::Ordering::Equal => {
                let mut expected = self.expected;
                for e in other.expected {
                    if !expected.contains(&e) {
                        expected.push(e);
                    }
                }
                PErr { rest: self.rest, expected }
            }
        }
    }
}

type Res<'a, T> = IResult<&'a str, T, PErr<'a>>;

/// Attaches "expected `what`" to a failure of `p` at the current position.
fn expect<'a, T>(what: &'static str, mut p: impl FnMut(&'a str) -> Res<'a, T>) -> impl FnMut(&'a str) -> Res<'a, T> {
    move |input: &'a str| match p(input) {
        Err(NomErr::Error(e)) if e.rest.len() >= input.len() || e.expected.is_empty() => {
            Err(NomErr::Error(PErr::new(input, what)))
        }
        other => other,
    }
}

/// Skips surrounding white space.
fn ws<'a, T>(p: impl FnMut(&'a str) -> Res<'a, T>) -> impl FnMut(&'a str) -> Res<'a, T> {
    delimited(multispace0, p, multispace0)
}

/// `number`
fn number(input: &str) -> Res<'_, Expr> {
    let mantissa = alt((recognize(pair(digit1, opt(pair(ch('.'), digit0)))), recognize(pair(ch('.'), digit1))));
    let exponent = tuple((one_of("eE"), opt(one_of("+-")), digit1));
    let (rest, text) = recognize(pair(mantissa, opt(exponent)))(input)?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((rest, Expr::Num(v))),
        _ => Err(NomErr::Failure(PErr::new(input, "a finite number"))),
    }
}

/// A bare identifier.
fn identifier(input: &str) -> Res<'_, &str> {
    recognize(pair(
        take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))(input)
}

/// A name in backticks, for symbols such as CSV column `` `val-loss` ``.
fn quoted(input: &str) -> Res<'_, &str> {
    let (rest, _) = ch('`')(input)?;
    let (rest, name) = take_while(|c: char| c != '`')(rest)?;
    match ch::<&str, PErr>('`')(rest) {
        Ok((rest, _)) if !name.is_empty() => Ok((rest, name)),
        Ok(_) => Err(NomErr::Failure(PErr::new(rest, "a name between the backticks"))),
        Err(_) => Err(NomErr::Failure(PErr::new(rest, "a closing '`'"))),
    }
}

/// `index`: `'[' column ']'` after a parameter's name, e.g. `a[method]`: one parameter per value
/// of a categorical column (see `indexed.rs`).
fn index(input: &str) -> Res<'_, &str> {
    let (rest, _) = preceded(multispace0, ch('['))(input)?;
    let (rest, column) =
        expect("a column name between '[' and ']'", ws(alt((quoted, identifier))))(rest).map_err(fail)?;
    let (rest, _) = expect("']'", ch(']'))(rest).map_err(fail)?;
    Ok((rest, column))
}

/// `call` or `symbol`: a function name must be followed by its argument list.
fn call_or_symbol(input: &str) -> Res<'_, Expr> {
    if let Ok((rest, name)) = quoted(input) {
        return Ok((rest, Expr::Sym(name.to_string())));
    }
    if let Err(NomErr::Failure(e)) = quoted(input) {
        return Err(NomErr::Failure(e));
    }
    let (rest, name) = identifier(input)?;
    let Some(func) = Func::from_name(name) else {
        return match index(rest) {
            Ok((rest, column)) => Ok((rest, Expr::Sym(indexed_name(name, column)))),
            Err(NomErr::Failure(e)) => Err(NomErr::Failure(e)),
            Err(_) => Ok((rest, Expr::Sym(name.to_string()))),
        };
    };
    let (rest, _) = expect("'(' after a function name", preceded(multispace0, ch('(')))(rest).map_err(fail)?;
    let _nest = Nest::enter(input)?;
    let (mut rest, first) = expr(rest).map_err(fail)?;
    let mut args = vec![first];
    while let Ok((r, _)) = ch::<&str, PErr>(',')(rest) {
        let (r, a) = expr(r).map_err(fail)?;
        args.push(a);
        rest = r;
    }
    let (rest, _) = expect("',' or ')'", ch(')'))(rest).map_err(fail)?;
    if args.len() != func.arity() {
        return Err(NomErr::Failure(PErr {
            rest: input,
            expected: vec![match func.arity() {
                1 => "a function of one argument (log, exp, sqrt, abs, sign take one)",
                _ => "a function of two arguments (min, max take two)",
            }],
        }));
    }
    Ok((rest, Expr::Call(func, args)))
}

/// Turns a recoverable error into a hard failure (once inside a construct, no backtracking).
fn fail(e: NomErr<PErr<'_>>) -> NomErr<PErr<'_>> {
    match e {
        NomErr::Error(e) => NomErr::Failure(e),
        other => other,
    }
}

/// `'(' expr ')'`
fn parens(input: &str) -> Res<'_, Expr> {
    let (rest, _) = ch('(')(input)?;
    let _nest = Nest::enter(input)?;
    let (rest, e) = expr(rest).map_err(fail)?;
    let (rest, _) = expect("an operator or ')'", ch(')'))(rest).map_err(fail)?;
    Ok((rest, e))
}

/// `atom`
fn atom(input: &str) -> Res<'_, Expr> {
    delimited(multispace0, expect("a number, a name or '('", alt((number, call_or_symbol, parens))), multispace0)(input)
}

/// `power`: `atom ('^' unary)?`
fn power(input: &str) -> Res<'_, Expr> {
    let (rest, base) = atom(input)?;
    match ws(ch::<&str, PErr>('^'))(rest) {
        Ok((r, _)) => {
            let _nest = Nest::enter(rest)?;
            let (r, exp) = unary(r).map_err(fail)?;
            Ok((r, Expr::bin(BinOp::Pow, base, exp)))
        }
        Err(_) => Ok((rest, base)),
    }
}

/// `unary`: `'-' unary | power`
fn unary(input: &str) -> Res<'_, Expr> {
    match ws(ch::<&str, PErr>('-'))(input) {
        Ok((rest, _)) => {
            let _nest = Nest::enter(input)?;
            let (rest, e) = unary(rest).map_err(fail)?;
            Ok((rest, Expr::neg(e)))
        }
        Err(_) => power(input),
    }
}

/// Folds `first (op next)*` left-associatively. Each operator nests the chain one level
/// deeper (`a + b + c` is `(a + b) + c`), so a chain stops at [`MAX_DEPTH`] operators before
/// a longer one is built.
fn left_assoc<'a>(input: &'a str, ops: &'static str, next: fn(&'a str) -> Res<'a, Expr>) -> Res<'a, Expr> {
    let (mut rest, mut acc) = next(input)?;
    let mut chain = 0;
    loop {
        match ws(one_of::<&str, &str, PErr>(ops))(rest) {
            Ok((r, op)) => {
                chain += 1;
                if LEVEL.with(Cell::get) + chain > MAX_DEPTH {
                    let at = rest.trim_start();
                    return Err(NomErr::Failure(PErr::new(at, TOO_DEEP)));
                }
                let (r, rhs) = next(r).map_err(fail)?;
                let op = match op {
                    '+' => BinOp::Add,
                    '-' => BinOp::Sub,
                    '*' => BinOp::Mul,
                    _ => BinOp::Div,
                };
                acc = Expr::bin(op, acc, rhs);
                rest = r;
            }
            Err(_) => return Ok((rest, acc)),
        }
    }
}

/// `term`: `unary (('*' | '/') unary)*`
fn term(input: &str) -> Res<'_, Expr> {
    left_assoc(input, "*/", unary)
}

/// `expr`: `term (('+' | '-') term)*`
fn expr(input: &str) -> Res<'_, Expr> {
    left_assoc(input, "+-", term)
}

/// What a formula nested deeper than [`MAX_DEPTH`] is told (the number is checked by a test).
const TOO_DEEP: &str = "at most 256 levels of nesting (parentheses, unary minus, '^', function calls, \
                        and one per operator of a chain such as a + b + c); write a shorter formula, \
                        e.g. without redundant parentheses or double minus signs";

thread_local! {
    /// The parser's current nesting level on this thread (parentheses, unary minus, exponents,
    /// function calls), so that its recursion is bounded by [`MAX_DEPTH`].
    static LEVEL: Cell<usize> = const { Cell::new(0) };
}

/// One more nesting level while alive; refused (with the column of `input`) past [`MAX_DEPTH`].
struct Nest;

impl Nest {
    fn enter(input: &str) -> Result<Nest, NomErr<PErr<'_>>> {
        LEVEL.with(|l| {
            if l.get() >= MAX_DEPTH {
                Err(NomErr::Failure(PErr::new(input, TOO_DEEP)))
            } else {
                l.set(l.get() + 1);
                Ok(Nest)
            }
        })
    }
}

impl Drop for Nest {
    fn drop(&mut self) {
        LEVEL.with(|l| l.set(l.get().saturating_sub(1)));
    }
}

/// Parses a formula into an [`Expr`].
///
/// The parser's recursion and the tree it builds are bounded by [`MAX_DEPTH`] levels and
/// [`super::MAX_NODES`] nodes (see `limits.rs`); a formula over either is an error that names the
/// limit, never a stack overflow.
///
/// ```
/// use sparse_scaling_law::{parse, Expr};
/// let e = parse("(a*(1-S)^b + c) * N^(-d) + e*D^(-f) + g").unwrap();
/// assert_eq!(parse(&e.to_string()).unwrap(), e);
/// let err = parse("a * (N + ").unwrap_err();
/// assert_eq!(err.column, 10);
/// ```
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    LEVEL.with(|l| l.set(0));
    let column_of = |rest: &str| text[..text.len() - rest.len()].chars().count() + 1;
    let to_error = |e: PErr<'_>| ParseError {
        text: text.to_string(),
        column: column_of(e.rest),
        expected: if e.expected.is_empty() { "a valid formula".to_string() } else { e.expected.join(" or ") },
    };
    match expr(text) {
        Ok((rest, e)) => {
            if rest.is_empty() {
                // The parser bounds each chain and nesting on its own; the whole tree is
                // measured here, without recursion, before anything walks it.
                match e.check_limits() {
                    Ok(_) => Ok(e),
                    Err(limit) => Err(ParseError {
                        text: text.to_string(),
                        column: 1,
                        expected: format!("a formula within the limits: {limit}"),
                    }),
                }
            } else {
                Err(to_error(PErr::new(rest, "an operator (+ - * / ^) or the end of the formula")))
            }
        }
        Err(NomErr::Error(e)) | Err(NomErr::Failure(e)) => Err(to_error(e)),
        Err(NomErr::Incomplete(_)) => Err(to_error(PErr::new("", "more input"))),
    }
}
