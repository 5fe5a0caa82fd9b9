//! Laws: an expression plus which of its symbols are variables (S, N, D, C, …) and which are
//! parameters to fit. Built-in laws cite their source (docs/THEORY.md §1–2, Chinchilla, §4).

use crate::expr::{parse, split_indexed, Expr, LimitError, ParseError};
use crate::group::Expansion;

/// Variables recognised when a law is parsed without declared variables.
pub const DEFAULT_VARS: [&str; 5] = ["S", "N", "D", "C", "Nbar"];

/// Errors building a [`Law`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LawError {
    /// The formula text does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The expression is over the size or depth limit ([`crate::MAX_NODES`], [`crate::MAX_DEPTH`]).
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// No built-in law has this name.
    #[error("no built-in law named `{name}`; built-in laws are: {known}")]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// Comma-separated names of the built-in laws.
        known: String,
    },
    /// A name that is not a formula (a single word using none of the variables) is close to a
    /// built-in law's name: most likely a typo of it.
    #[error("`{name}` is not a built-in law (did you mean `{suggestion}`?); built-in laws are: {known}")]
    MistypedBuiltin {
        /// The name given.
        name: String,
        /// The closest built-in name.
        suggestion: String,
        /// Comma-separated names of the built-in laws.
        known: String,
    },
    /// A symbol is neither a declared variable nor a declared parameter.
    #[error("unknown symbol `{name}` in law `{text}`: declare it as a variable (one of {vars}) or as a parameter, or fix its spelling")]
    UnknownSymbol {
        /// The symbol.
        name: String,
        /// The law's text.
        text: String,
        /// Comma-separated declared variables.
        vars: String,
    },
    /// A variable the law needs is missing (e.g. from the data).
    #[error("the law uses variable `{name}` but it is not available (available: {available}); map a data column to `{name}`")]
    UnknownVariable {
        /// The variable.
        name: String,
        /// Comma-separated available names.
        available: String,
    },
    /// The formula uses none of the variables.
    #[error("law `{text}` uses none of the variables {vars}; write the law in terms of them or declare its variables")]
    NoVariables {
        /// The law's text.
        text: String,
        /// Comma-separated variables looked for.
        vars: String,
    },
    /// The formula has no parameter to fit.
    #[error("law `{text}` has no parameters to fit: every symbol is a variable ({vars})")]
    NoParameters {
        /// The law's text.
        text: String,
        /// Comma-separated variables.
        vars: String,
    },
    /// A parameter is indexed by two different columns (`a[method]` and `a[depth]`).
    #[error("`{base}` is indexed by two columns ({columns}) in law `{text}`; a parameter has one value per value of one column: give the second one another name")]
    IndexedTwice {
        /// The parameter's base name.
        base: String,
        /// The two indexed names, comma-separated.
        columns: String,
        /// The law's text.
        text: String,
    },
    /// A parameter is used both shared (`a`) and per group (`a[method]`).
    #[error("`{base}` is both one shared parameter (`{base}`) and one per group (`{indexed}`) in law `{text}`; write `{indexed}` everywhere for a value per group, or `{base}` everywhere for one shared value")]
    SharedAndIndexed {
        /// The base name.
        base: String,
        /// The indexed name.
        indexed: String,
        /// The law's text.
        text: String,
    },
    /// A variable is indexed (`N[method]`): only parameters can have a value per group.
    #[error("`{name}` indexes the variable `{base}` in law `{text}`; only parameters can have one value per group (e.g. `a[method]*N^(-d)`): index a parameter instead")]
    IndexedVariable {
        /// The indexed name.
        name: String,
        /// The variable.
        base: String,
        /// The law's text.
        text: String,
    },
    /// A name was declared twice, or as both variable and parameter.
    #[error("`{name}` is declared twice (variables and parameters must be distinct names)")]
    DuplicateName {
        /// The name.
        name: String,
    },
}

/// A scaling law: an expression, its variables and its parameters.
///
/// ```
/// use sparse_scaling_law::Law;
/// let law = Law::builtin("paper-normalised").unwrap();
/// assert_eq!(law.param_names(), ["a", "b", "c", "d", "e", "f", "g"]);
/// assert_eq!(law.var_names(), ["S", "N", "D"]);
/// assert_eq!(law.partial("g").to_string(), "1");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Law {
    name: Option<String>,
    text: String,
    expr: Expr,
    vars: Vec<String>,
    params: Vec<String>,
    /// For a grouped law bound to data: the law as written and the groups it was bound to.
    expansion: Option<Box<Expansion>>,
}

/// A parameter indexed by a categorical column: `a[method]` has one value per value of `method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    /// The parameter's name in the formula, `a[method]`.
    pub param: String,
    /// Its base name, `a`.
    pub base: String,
    /// The column, `method`.
    pub column: String,
}

/// A built-in law: name, formula, variables, and where it comes from.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// Name for [`Law::builtin`].
    pub name: &'static str,
    /// The formula.
    pub text: &'static str,
    /// Its variables.
    pub vars: &'static [&'static str],
    /// Source and notes.
    pub source: &'static str,
}

/// The built-in laws.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "paper",
        text: "(a_S*(1 - S)^b_S + c_S) * (1/N)^b_N + (a_D/D)^b_D + c",
        vars: &["S", "N", "D"],
        source: "docs/THEORY.md §1, Eq. 1 of Frantar et al. (ICLR 2024), raw units: N non-zero parameters, D data seen. \
                 Published T5 coefficients (Table 1): a_S=16.8, b_S=0.722, c_S=45.0, b_N=0.245, a_D=6.90e8, b_D=0.203, c=0.651.",
    },
    Builtin {
        name: "paper-normalised",
        text: "(a*(1 - S)^b + c) * N^(-d) + e*D^(-f) + g",
        vars: &["S", "N", "D"],
        source: "docs/THEORY.md §1, the authors' fitting form in google-research/jaxpruner projects/bigsparse \
                 (sparsity-scaling.ipynb), with N/1e6 and D normalised (ViT: examples/1e9, T5: steps/1e5).",
    },
    Builtin {
        name: "chinchilla",
        text: "E + A/N^alpha + B/D^beta",
        vars: &["N", "D"],
        source: "Hoffmann et al. (2022), 'Training Compute-Optimal Large Language Models', Eq. 2: the dense law.",
    },
    Builtin {
        name: "avg-params",
        text: "E + A/Nbar^alpha + B/D^beta",
        vars: &["Nbar", "D"],
        source: "Jin et al. (ICLR 2025), 'The Journey Matters: Average Parameter Count over Pre-training Unifies Sparse and \
                 Dense Scaling Laws' (arXiv 2501.12486): Chinchilla's form with N replaced by N̄, the mean non-zero \
                 parameter count over training (docs/THEORY.md §7). Results directories give N̄ as `Nbar` (in N's unit).",
    },
    Builtin {
        name: "nm",
        text: "(a*(1 - q*S)^b + c) * N^(-d) + e*D^(-f) + g",
        vars: &["S", "N", "D"],
        source: "n:m sparsity (docs/THEORY.md §4; paper §4.1 'n:m sparsity'): the paper finds 2:4 and 4:8 close to unstructured \
                 at equal S. Here S = 1 - n/m and q is the fraction of unstructured sparsity the pattern is worth \
                 (q = 1: as good as unstructured). Fit q with a..g fixed from an unstructured fit (FitOptions::fixed).",
    },
    Builtin {
        name: "from-dense",
        text: "(a*(1 - S)^b + c) * N^(-d) + e*(k*D)^(-f) + g",
        vars: &["S", "N", "D"],
        source: "Pruning a pretrained dense model (docs/THEORY.md §4; paper §4.2): D counts data after the dense checkpoint and k \
                 is the data multiplier relative to sparse-from-scratch (paper: from scratch needs 4.90x, 4.27x, 2.45x \
                 more data at 50%, 75%, 87.5%). Fit k per sparsity level with a..g fixed from a from-scratch fit.",
    },
];

fn join(names: &[String]) -> String {
    names.join(", ")
}

/// Comma-separated names of the built-in laws.
fn known() -> String {
    BUILTINS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
}

/// The built-in name closest to `name` by edit distance, if it is close: at most 3 edits,
/// and fewer than half of the name's characters (case and `-`/`_` are ignored).
pub fn suggest_builtin(name: &str) -> Option<&'static str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let name = norm(name);
    BUILTINS
        .iter()
        .map(|b| (edit_distance(&name, &norm(b.name)), b.name))
        .filter(|(d, _)| *d <= 3 && 2 * d < name.chars().count().max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance between two strings (in characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

impl Law {
    /// Parses a law. `vars` names the variables; empty means [`DEFAULT_VARS`] (S, N, D, C, Nbar),
    /// of which those that occur become the law's variables (in that order). Declared
    /// variables are kept in the given order even if the formula does not use them. Every
    /// other symbol is a parameter, in order of first appearance.
    ///
    /// ```
    /// use sparse_scaling_law::Law;
    /// let law = Law::parse("E + A/N^alpha + B/D^beta", &[]).unwrap();
    /// assert_eq!(law.var_names(), ["N", "D"]);
    /// assert_eq!(law.param_names(), ["E", "A", "alpha", "B", "beta"]);
    /// ```
    pub fn parse(text: &str, vars: &[&str]) -> Result<Law, LawError> {
        let expr = parse(text)?;
        Law::from_expr(text, expr, vars)
    }

    /// Builds a law from an already-parsed expression (see [`Law::parse`]). The expression
    /// must be within [`crate::MAX_NODES`] and [`crate::MAX_DEPTH`] (else [`LawError::Limit`]).
    pub fn from_expr(text: &str, expr: Expr, vars: &[&str]) -> Result<Law, LawError> {
        expr.check_limits()?;
        let symbols = expr.symbols();
        let vars: Vec<String> = if vars.is_empty() {
            DEFAULT_VARS.iter().filter(|v| symbols.iter().any(|s| s == *v)).map(|v| v.to_string()).collect()
        } else {
            let mut out: Vec<String> = Vec::new();
            for v in vars {
                if out.iter().any(|o| o == v) {
                    return Err(LawError::DuplicateName { name: v.to_string() });
                }
                out.push(v.to_string());
            }
            out
        };
        let looked_for = if vars.is_empty() { DEFAULT_VARS.join(", ") } else { join(&vars) };
        if !vars.iter().any(|v| symbols.contains(v)) {
            return Err(LawError::NoVariables { text: text.to_string(), vars: looked_for });
        }
        let params: Vec<String> = symbols.into_iter().filter(|s| !vars.contains(s)).collect();
        if params.is_empty() {
            return Err(LawError::NoParameters { text: text.to_string(), vars: join(&vars) });
        }
        let var_like: Vec<String> = vars.iter().cloned().chain(DEFAULT_VARS.iter().map(|v| v.to_string())).collect();
        check_indexed(text, &params, &var_like)?;
        Ok(Law { name: None, text: text.to_string(), expr, vars, params, expansion: None })
    }

    /// A law made by binding a grouped law to its groups (`crate::group`): every part given.
    pub(crate) fn expanded(expr: Expr, vars: Vec<String>, params: Vec<String>, expansion: Expansion) -> Law {
        let text = expansion.law.text.clone();
        Law { name: None, text, expr, vars, params, expansion: Some(Box::new(expansion)) }
    }

    /// A law over some of this law's parameters, with another expression (one group's law).
    pub(crate) fn with_expr(&self, expr: Expr, params: Vec<String>) -> Law {
        Law { name: self.name.clone(), text: expr.to_string(), expr, vars: self.vars.clone(), params, expansion: None }
    }

    /// The parameters indexed by a categorical column (`a[method]`), in parameter order. Empty
    /// for a law without them and for a grouped law bound to data (see [`Law::expansion`]).
    ///
    /// ```
    /// use sparse_scaling_law::Law;
    /// let law = Law::parse("(a[method]*(1-S)^b + c[method])*N^(-d) + g", &[]).unwrap();
    /// let cols: Vec<_> = law.indexed().into_iter().map(|i| (i.base, i.column)).collect();
    /// assert_eq!(cols, [("a".to_string(), "method".to_string()), ("c".into(), "method".into())]);
    /// ```
    pub fn indexed(&self) -> Vec<Indexed> {
        if self.expansion.is_some() {
            return Vec::new();
        }
        self.params
            .iter()
            .filter_map(|p| {
                split_indexed(p).map(|(base, column)| Indexed {
                    param: p.clone(),
                    base: base.to_string(),
                    column: column.to_string(),
                })
            })
            .collect()
    }

    /// Whether the law has parameters indexed by a column and is not yet bound to data.
    pub fn is_grouped(&self) -> bool {
        !self.indexed().is_empty()
    }

    /// The columns the law's parameters are indexed by, in order of first use (for a bound
    /// law, those of the law as written).
    pub fn group_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for i in self.unbound().indexed() {
            if !out.contains(&i.column) {
                out.push(i.column);
            }
        }
        out
    }

    /// For a grouped law bound to data (`crate::group::bind`): the law as written and the
    /// groups it was bound to.
    pub fn expansion(&self) -> Option<&Expansion> {
        self.expansion.as_deref()
    }

    /// The law as written: for a grouped law bound to data, the law with `a[method]`; else
    /// this law.
    pub fn unbound(&self) -> &Law {
        self.expansion.as_ref().map_or(self, |e| &e.law)
    }

    /// Parses a law whose parameters are declared too: a symbol that is neither in `vars`
    /// nor in `params` is an error ([`LawError::UnknownSymbol`]), which catches typos.
    /// Parameters keep the declared order.
    pub fn parse_declared(text: &str, vars: &[&str], params: &[&str]) -> Result<Law, LawError> {
        let expr = parse(text)?;
        for p in params {
            if vars.contains(p) || params.iter().filter(|q| *q == p).count() > 1 {
                return Err(LawError::DuplicateName { name: p.to_string() });
            }
        }
        for s in expr.symbols() {
            if !vars.contains(&s.as_str()) && !params.contains(&s.as_str()) {
                return Err(LawError::UnknownSymbol { name: s, text: text.to_string(), vars: vars.join(", ") });
            }
        }
        let mut law = Law::from_expr(text, expr, vars)?;
        law.params = params.iter().map(|p| p.to_string()).collect();
        Ok(law)
    }

    /// A built-in law by name (see [`BUILTINS`] for the list and sources).
    pub fn builtin(name: &str) -> Result<Law, LawError> {
        let b = BUILTINS.iter().find(|b| b.name == name).ok_or_else(|| match suggest_builtin(name) {
            Some(suggestion) => {
                LawError::MistypedBuiltin { name: name.to_string(), suggestion: suggestion.to_string(), known: known() }
            }
            None => LawError::UnknownBuiltin { name: name.to_string(), known: known() },
        })?;
        let mut law = Law::parse(b.text, b.vars)?;
        law.name = Some(b.name.to_string());
        Ok(law)
    }

    /// A built-in law's name, or else parses `spec` as a formula with default variables.
    /// A single word close to a built-in name (`chinchila`, `paper-normalized`) that is not a
    /// valid law is reported as [`LawError::MistypedBuiltin`].
    pub fn from_name_or_formula(spec: &str) -> Result<Law, LawError> {
        match BUILTINS.iter().find(|b| b.name == spec) {
            Some(_) => Law::builtin(spec),
            None => Law::parse(spec, &[]).map_err(|e| Law::explain_unknown_name(spec, e)),
        }
    }

    /// Turns the error of parsing `spec` as a formula into a "did you mean" when `spec` looks
    /// like a mistyped built-in name (one word, close to a built-in name). Callers that try
    /// built-in names first and then formulas use this on the formula's error.
    pub fn explain_unknown_name(spec: &str, error: LawError) -> LawError {
        let word = !spec.trim().is_empty()
            && spec.trim().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        match (word, &error) {
            (true, LawError::Parse(_) | LawError::NoVariables { .. }) => match suggest_builtin(spec.trim()) {
                Some(s) => LawError::MistypedBuiltin {
                    name: spec.trim().to_string(),
                    suggestion: s.to_string(),
                    known: known(),
                },
                None => error,
            },
            _ => error,
        }
    }

    /// The built-in name, if this law is a built-in.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The formula text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The expression tree.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Parameter names, in order of first appearance (or as declared).
    pub fn param_names(&self) -> &[String] {
        &self.params
    }

    /// Variable names.
    pub fn var_names(&self) -> &[String] {
        &self.vars
    }

    /// Index of a parameter.
    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p == name)
    }

    /// Index of a variable.
    pub fn var_index(&self, name: &str) -> Option<usize> {
        self.vars.iter().position(|p| p == name)
    }

    /// The simplified symbolic derivative with respect to a parameter or variable.
    pub fn partial(&self, symbol: &str) -> Expr {
        self.expr.diff(symbol)
    }

    /// Evaluates at one point: `vars` in [`Law::var_names`] order, `params` in
    /// [`Law::param_names`] order. Slow (tree walk); for many points use
    /// [`crate::compile::Tape`].
    pub fn eval(&self, vars: &[f64], params: &[f64]) -> f64 {
        let lookup = |s: &str| {
            self.var_index(s)
                .and_then(|i| vars.get(i).copied())
                .or_else(|| self.param_index(s).and_then(|i| params.get(i).copied()))
        };
        self.expr.eval(&lookup).unwrap_or(f64::NAN)
    }

    /// Where the law stops giving a usable prediction at one point: the innermost term whose
    /// value is not finite although its operands are (e.g. `N/0`, `log(S)` at S = 0), or
    /// `None` when the whole prediction is finite. `vars` and `params` are in
    /// [`Law::var_names`] and [`Law::param_names`] order. Used to explain a failed fit.
    ///
    /// ```
    /// use sparse_scaling_law::Law;
    /// let law = Law::parse("a + b*N/(D - D)", &[]).unwrap();
    /// let (term, value) = law.first_non_finite(&[2.0, 3.0], &[0.5, 0.5]).unwrap();
    /// assert_eq!((term.as_str(), value), ("b * N / (D - D)", f64::INFINITY));
    /// ```
    pub fn first_non_finite(&self, vars: &[f64], params: &[f64]) -> Option<(String, f64)> {
        let lookup = |s: &str| {
            self.var_index(s)
                .and_then(|i| vars.get(i).copied())
                .or_else(|| self.param_index(s).and_then(|i| params.get(i).copied()))
        };
        first_non_finite(&self.expr, &lookup).err()
    }

    /// Checks that every variable the formula uses is in `available` (e.g. data columns).
    pub fn check_vars_available(&self, available: &[String]) -> Result<(), LawError> {
        for v in &self.vars {
            if self.expr.contains(v) && !available.contains(v) {
                return Err(LawError::UnknownVariable { name: v.clone(), available: join(available) });
            }
        }
        Ok(())
    }

    /// A copy with some parameters replaced by constants (they are no longer parameters).
    pub fn with_fixed(&self, fixed: &[(&str, f64)]) -> Law {
        let mut expr = self.expr.clone();
        for (n, v) in fixed {
            expr = expr.substitute(n, &Expr::num(*v));
        }
        let params = self.params.iter().filter(|p| !fixed.iter().any(|(n, _)| n == *p)).cloned().collect();
        Law { name: None, text: expr.to_string(), expr, vars: self.vars.clone(), params, expansion: None }
    }
}

/// Checks the indexed parameters (`a[method]`) of a law: none is a variable, none is also
/// used shared, and none is indexed by two columns.
fn check_indexed(text: &str, params: &[String], vars: &[String]) -> Result<(), LawError> {
    let indexed: Vec<(&str, &str)> =
        params.iter().filter_map(|p| split_indexed(p).map(|(base, _)| (p.as_str(), base))).collect();
    for (k, (name, base)) in indexed.iter().enumerate() {
        if vars.iter().any(|v| v == base) {
            return Err(LawError::IndexedVariable {
                name: name.to_string(),
                base: base.to_string(),
                text: text.into(),
            });
        }
        if params.iter().any(|p| p == base) {
            return Err(LawError::SharedAndIndexed {
                base: base.to_string(),
                indexed: name.to_string(),
                text: text.into(),
            });
        }
        if let Some((other, _)) = indexed[..k].iter().find(|(_, b)| b == base) {
            return Err(LawError::IndexedTwice {
                base: base.to_string(),
                columns: format!("{other}, {name}"),
                text: text.into(),
            });
        }
    }
    Ok(())
}

/// The value of `e`, or the innermost non-finite term (as text) and its value. Recurses once
/// per level: only called on a law's tree, which is within [`crate::MAX_DEPTH`].
fn first_non_finite(e: &Expr, lookup: &dyn Fn(&str) -> Option<f64>) -> Result<f64, (String, f64)> {
    let v = match e {
        Expr::Num(v) => *v,
        Expr::Sym(s) => lookup(s).unwrap_or(f64::NAN),
        Expr::Neg(a) => -first_non_finite(a, lookup)?,
        Expr::Bin(op, a, b) => op.apply(first_non_finite(a, lookup)?, first_non_finite(b, lookup)?),
        Expr::Call(f, args) => {
            let a = first_non_finite(&args[0], lookup)?;
            let b = match args.get(1) {
                Some(b) => first_non_finite(b, lookup)?,
                None => 0.0,
            };
            f.apply(a, b)
        }
    };
    if v.is_finite() {
        Ok(v)
    } else {
        Err((e.to_string(), v))
    }
}

impl std::fmt::Display for Law {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.expr)
    }
}
