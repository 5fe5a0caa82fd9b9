//! [`Surface`]s from expressions: a fitted [`Law`] (its parameters bound to fitted values) or a
//! cost model such as the paper's C = 6·N/(1−S)·D (docs/THEORY.md §3). The partial derivatives
//! (∂/∂S, ∂/∂N, ∂/∂D) are the expressions' own symbolic derivatives, simplified once.
//!
//! A law or cost model in N̄ (the average non-zero parameter count over training, variable
//! `Nbar`; docs/THEORY.md §7) is analysed in S, N, D by substituting N̄ as a function of them:
//! by default [`DEFAULT_NBAR`], the paper's cubic 25 %–75 % schedule.

use super::{Analysis, AnalysisError, Surface};
use crate::expr::{parse, Expr};
use crate::law::Law;

/// The paper's training-cost model: a sparse run costs what its dense parent costs,
/// C = 6 · (N / (1 − S)) · D (docs/THEORY.md §3).
pub const DEFAULT_COST: &str = "6*N/(1-S)*D";

/// N̄ as a function of S and N under the paper's schedule (cubic, 25 % → 75 % of training):
/// the mean density over the run is 1 − 0.625·S, and N counts the final non-zeros, so
/// N̄ = N/(1 − S)·(1 − 0.625·S) (docs/THEORY.md §7). Another schedule has another relation
/// (`PruningPlan::mean_density` in the experiment crate gives it for any shape).
pub const DEFAULT_NBAR: &str = "N/(1-S)*(1-0.625*S)";

fn default_nbar() -> Expr {
    // a constant formula that the parser's own tests cover
    parse(DEFAULT_NBAR).unwrap_or_else(|_| Expr::sym("N"))
}

/// The variables the analysis binds, in gradient order.
const VARS: [&str; 3] = ["S", "N", "D"];

/// An expression in S, N and D (parameters already replaced by numbers) with its symbolic
/// gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolicSurface {
    value: Expr,
    partials: [Expr; 3],
}

impl SymbolicSurface {
    /// From an expression whose symbols are S, N, D, `Nbar` (replaced by [`DEFAULT_NBAR`]) and
    /// the names in `bindings` (which are replaced by their values). `what` names it in errors
    /// ("the law", "the cost model").
    pub fn from_expr(what: &str, expr: &Expr, bindings: &[(&str, f64)]) -> Result<Self, AnalysisError> {
        Self::from_expr_with_nbar(what, expr, bindings, &default_nbar())
    }

    /// [`SymbolicSurface::from_expr`] with `Nbar` replaced by `nbar`, an expression in S and N.
    pub fn from_expr_with_nbar(
        what: &str,
        expr: &Expr,
        bindings: &[(&str, f64)],
        nbar: &Expr,
    ) -> Result<Self, AnalysisError> {
        let mut e = expr.substitute("Nbar", nbar);
        for (name, v) in bindings {
            e = e.substitute(name, &Expr::num(*v));
        }
        let e = e.simplify();
        if let Some(name) = e.symbols().into_iter().find(|s| !VARS.contains(&s.as_str())) {
            return Err(AnalysisError::UnknownVariable { what: what.to_string(), name });
        }
        let partials = [e.diff("S"), e.diff("N"), e.diff("D")];
        Ok(Self { value: e, partials })
    }

    /// The law with its parameters set to `params` (in [`Law::param_names`] order).
    pub fn from_law(law: &Law, params: &[f64]) -> Result<Self, AnalysisError> {
        Self::from_law_with_nbar(law, params, &default_nbar())
    }

    /// [`SymbolicSurface::from_law`] with `Nbar` replaced by `nbar`, an expression in S and N.
    pub fn from_law_with_nbar(law: &Law, params: &[f64], nbar: &Expr) -> Result<Self, AnalysisError> {
        let names = law.param_names();
        if names.len() != params.len() {
            return Err(AnalysisError::ParameterCount {
                expected: names.len(),
                got: params.len(),
                names: names.join(", "),
            });
        }
        let bindings: Vec<(&str, f64)> = names.iter().map(|n| n.as_str()).zip(params.iter().copied()).collect();
        Self::from_expr_with_nbar("the law", law.expr(), &bindings, nbar)
    }

    /// A cost model C(S, N, D) from text, e.g. [`DEFAULT_COST`] or
    /// `6*N/(1-S)*(1-0.625*S)*D` (a GMP run that saves the compute of pruned weights).
    pub fn cost_model(text: &str) -> Result<Self, AnalysisError> {
        let e =
            parse(text).map_err(|e| AnalysisError::Parse { what: "the cost model".into(), message: e.to_string() })?;
        Self::from_expr("the cost model", &e, &[])
    }

    /// The expression (parameters substituted, simplified).
    pub fn expr(&self) -> &Expr {
        &self.value
    }

    /// The symbolic partial derivative with respect to S (0), N (1) or D (2).
    pub fn partial(&self, i: usize) -> Option<&Expr> {
        self.partials.get(i)
    }
}

fn eval3(e: &Expr, s: f64, n: f64, d: f64) -> f64 {
    let lookup = |name: &str| match name {
        "S" => Some(s),
        "N" => Some(n),
        "D" => Some(d),
        _ => None,
    };
    e.eval(&lookup).unwrap_or(f64::NAN)
}

impl Surface for SymbolicSurface {
    fn value(&self, s: f64, n: f64, d: f64) -> f64 {
        eval3(&self.value, s, n, d)
    }
    fn gradient(&self, s: f64, n: f64, d: f64) -> [f64; 3] {
        [eval3(&self.partials[0], s, n, d), eval3(&self.partials[1], s, n, d), eval3(&self.partials[2], s, n, d)]
    }
}

impl Analysis {
    /// The analysis of a fitted law (parameters in [`Law::param_names`] order) under the paper's
    /// cost model [`DEFAULT_COST`].
    ///
    /// ```
    /// use sparse_scaling_law::{Law, analysis::{Analysis, PaperCoefficients}};
    /// let law = Law::builtin("paper-normalised").unwrap();
    /// let a = Analysis::new(&law, &PaperCoefficients::T5_PUBLISHED_NORMALISED).unwrap();
    /// let m = a.dense_equivalent(0.75, 100.0, 5.0).unwrap();
    /// assert!((m - 2.16).abs() < 0.01);
    /// ```
    pub fn new(law: &Law, params: &[f64]) -> Result<Self, AnalysisError> {
        Self::with_cost_model(law, params, DEFAULT_COST)
    }

    /// The analysis of a fitted law under a cost model given as text in S, N and D.
    pub fn with_cost_model(law: &Law, params: &[f64], cost: &str) -> Result<Self, AnalysisError> {
        Self::with_models(law, params, cost, DEFAULT_NBAR)
    }

    /// The analysis of a fitted law under a cost model, with N̄ (variable `Nbar`, in the law or
    /// the cost) replaced by `nbar`, an expression in S and N such as [`DEFAULT_NBAR`].
    ///
    /// ```
    /// use sparse_scaling_law::{Law, analysis::Analysis};
    /// // Jin et al.'s law in N̄, analysed with N̄ = N (a schedule that prunes at the first step)
    /// let law = Law::builtin("avg-params").unwrap();
    /// let a = Analysis::with_models(&law, &[1.7, 400.0, 0.34, 410.0, 0.28], "6*N/(1-S)*D", "N").unwrap();
    /// // in N̄ alone, a sparse model is worth exactly its non-zeros
    /// assert!((a.dense_equivalent(0.75, 10.0, 1e3).unwrap() - 1.0).abs() < 1e-9);
    /// ```
    pub fn with_models(law: &Law, params: &[f64], cost: &str, nbar: &str) -> Result<Self, AnalysisError> {
        let nbar_expr =
            parse(nbar).map_err(|e| AnalysisError::Parse { what: "N̄ (`Nbar`)".into(), message: e.to_string() })?;
        let cost_expr =
            parse(cost).map_err(|e| AnalysisError::Parse { what: "the cost model".into(), message: e.to_string() })?;
        Ok(Self::from_surfaces(
            SymbolicSurface::from_law_with_nbar(law, params, &nbar_expr)?,
            SymbolicSurface::from_expr_with_nbar("the cost model", &cost_expr, &[], &nbar_expr)?,
        ))
    }
}

impl super::PaperCoefficients {
    /// The closed-form coefficients when `law` is the built-in `paper` or `paper-normalised`
    /// law (the same formula and variables), with `params` in its parameter order; `None` for
    /// any other law. Used to check the generic analysis against docs/THEORY.md §3.
    pub fn from_law(law: &Law, params: &[f64]) -> Option<Self> {
        paper_coefficients(law, params)
    }
}

fn paper_coefficients(law: &Law, params: &[f64]) -> Option<super::PaperCoefficients> {
    let same =
        |name: &str| Law::builtin(name).is_ok_and(|b| b.expr() == law.expr() && b.var_names() == law.var_names());
    let get = |n: &str| law.param_index(n).and_then(|i| params.get(i).copied());
    if params.len() != law.param_names().len() {
        return None;
    }
    if same("paper-normalised") {
        let v: Option<Vec<f64>> = ["a", "b", "c", "d", "e", "f", "g"].iter().map(|n| get(n)).collect();
        let v = v?;
        return Some(super::PaperCoefficients::from_normalised([v[0], v[1], v[2], v[3], v[4], v[5], v[6]]));
    }
    if same("paper") {
        return Some(super::PaperCoefficients {
            a_s: get("a_S")?,
            b_s: get("b_S")?,
            c_s: get("c_S")?,
            b_n: get("b_N")?,
            a_d: get("a_D")?,
            b_d: get("b_D")?,
            c: get("c")?,
        });
    }
    None
}
