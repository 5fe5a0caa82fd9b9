//! Grouped coefficients (issue 10, part 3; docs/THEORY.md §2.6): binding a law whose parameters
//! are indexed by categorical columns (`a[method]`) to data.
//!
//! A law such as `(a[method]*(1-S)^b + c[method])*N^(-d) + e*D^(-f) + g` is written once; bound to
//! observations ([`bind`]), each indexed parameter becomes one ordinary parameter per value of
//! its column present in the data (`a[gmp]`, `a[2:4]`, …, values in sorted order) and the rest
//! stay shared. The bound law is an ordinary [`Law`]: `a[method]` is replaced by
//! `Σ_v a[v] · [method = v]`, where each indicator `[method = v]` is a variable (named
//! `method=v`) that is 1 on the rows of that value and 0 elsewhere, added to the observations as
//! a column. Everything that fits, bootstraps, validates or judges a law therefore works on
//! grouped laws unchanged; the indicators are exact (`x·1 + y·0 = x`).
//!
//! One group's law ([`at_group`]) replaces `a[method]` by `a[gmp]`: an ordinary law of one
//! value per parameter, which is what the analysis of docs/THEORY.md §3 needs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Observations;
use crate::expr::{indexed_name, BinOp, Expr};
use crate::fit::FitOptions;
use crate::law::{Indexed, Law};

/// Most values a column may have to index a parameter by it.
pub const MAX_GROUPS: usize = 64;

/// The values of one column that a grouped law was bound to, in sorted order (numbers in
/// numeric order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Levels {
    /// The column, e.g. `method`.
    pub column: String,
    /// Its values in the data, sorted, e.g. `["2:4", "gmp"]`.
    pub values: Vec<String>,
}

/// A grouped law bound to data: the law as written and the values of each column.
#[derive(Debug, Clone, PartialEq)]
pub struct Expansion {
    /// The law as written, with its indexed parameters (`a[method]`).
    pub law: Law,
    /// The values of each column the law's parameters are indexed by.
    pub levels: Vec<Levels>,
}

impl Expansion {
    /// The column and value a variable of the bound law indicates, if it is an indicator.
    pub fn indicator(&self, var: &str) -> Option<(&str, &str)> {
        self.levels.iter().find_map(|l| {
            l.values.iter().find(|v| indicator_name(&l.column, v) == var).map(|v| (l.column.as_str(), v.as_str()))
        })
    }
}

/// Errors binding a grouped law to data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GroupError {
    /// The column a parameter is indexed by is not in the data.
    #[error("the law indexes `{param}` by the column `{column}`, which the points do not have (text columns: {categorical}; numeric: {numeric}); index by one of them, e.g. `{}`, or add the column to the data", example(param, categorical))]
    MissingColumn {
        /// The indexed parameter, `a[method]`.
        param: String,
        /// The column.
        column: String,
        /// Comma-separated text (categorical) columns of the points ("none" if none).
        categorical: String,
        /// Comma-separated numeric columns of the points.
        numeric: String,
    },
    /// The column has more values than [`MAX_GROUPS`].
    #[error("the column `{column}` has {groups} distinct values, more than the limit of {limit} for indexing a parameter ({params}); a grouped parameter fits one value per distinct value — index by a column with a few categories (a pruning method, a family), or bin `{column}` into a few values first")]
    TooManyGroups {
        /// The column.
        column: String,
        /// Its distinct values.
        groups: usize,
        /// [`MAX_GROUPS`].
        limit: usize,
        /// The parameters indexed by it, comma-separated.
        params: String,
    },
    /// A group has too few distinct points for its own parameters.
    #[error("the group {column} = {value} has {points} distinct points, but {params} need at least {needed} per value of `{column}`{numeric}; add points of {value}, leave its rows out, or share the parameters (write `{}` without the index)", base_of(params))]
    TooFewPoints {
        /// The column.
        column: String,
        /// The value.
        value: String,
        /// Distinct points (values of the law's variables) of that value, of non-zero weight.
        points: usize,
        /// Points needed: one more than the parameters indexed by the column.
        needed: usize,
        /// The parameters indexed by the column, comma-separated.
        params: String,
        /// A hint when the column is numeric with many values.
        numeric: String,
    },
    /// A point's value is not among those the law was bound to.
    #[error("row {row} has {column} = {value}, which is not among the values the law's parameters were fitted for ({known}); predict only groups that were in the fitted data")]
    UnknownValue {
        /// 1-based row.
        row: usize,
        /// The column.
        column: String,
        /// The value.
        value: String,
        /// Comma-separated values bound.
        known: String,
    },
    /// One group's law was asked for without a value of a column the law indexes by.
    #[error("`{param}` is indexed by `{column}`: say which group, e.g. `{column}=VALUE` (values: {values})")]
    NoValue {
        /// The indexed parameter.
        param: String,
        /// Its column.
        column: String,
        /// Comma-separated values, when known.
        values: String,
    },
    /// A group's parameter is not among a fit's: the group was not in the fitted data.
    #[error("the fit has no parameter `{param}` (it has {fitted}): that group was not in the data it was fitted to; choose one of its groups")]
    NotFitted {
        /// The parameter asked for.
        param: String,
        /// Comma-separated parameters of the fit.
        fitted: String,
    },
    /// The bound law is over the size or depth limit.
    #[error("with one parameter per group the law is too large: {0}; index by a column with fewer values")]
    Limit(#[from] crate::expr::LimitError),
}

/// `a[pruning]` for the indexed `param` (`a[method]`) and the first of the comma-separated
/// `columns` (`pruning, family`), for an error message.
fn example(param: &str, columns: &str) -> String {
    let base = param.split('[').next().unwrap_or(param);
    let column = columns.split(", ").next().filter(|c| *c != "none").unwrap_or("method");
    indexed_name(base, column)
}

/// The base name of the first of the comma-separated indexed `params` (`a` of `a[method], c[method]`).
fn base_of(params: &str) -> &str {
    params.split('[').next().unwrap_or(params)
}

/// The name of the indicator variable of `column = value`: `column=value`.
pub fn indicator_name(column: &str, value: &str) -> String {
    format!("{column}={value}")
}

/// The labels of `column` at every point: a text column of `obs`, else a numeric one written
/// as text (`64`, `0.5`).
pub fn labels<'a>(obs: &'a Observations, column: &str) -> Option<std::borrow::Cow<'a, [String]>> {
    if let Some(c) = obs.categorical(column) {
        return Some(std::borrow::Cow::Borrowed(c));
    }
    obs.column(column).map(|c| std::borrow::Cow::Owned(c.iter().map(|v| format!("{v}")).collect()))
}

/// The values of each column `law`'s parameters are indexed by, as found in `obs` (sorted).
pub fn levels_of(law: &Law, obs: &Observations) -> Result<Vec<Levels>, GroupError> {
    let indexed = law.indexed();
    let mut out = Vec::new();
    for column in law.group_columns() {
        let Some(labels) = labels(obs, &column) else {
            let param = indexed.iter().find(|i| i.column == column).map_or_else(|| column.clone(), |i| i.param.clone());
            let categorical: Vec<&str> = obs.categorical.iter().map(|c| c.name.as_str()).collect();
            return Err(GroupError::MissingColumn {
                param,
                column,
                categorical: if categorical.is_empty() { "none".into() } else { categorical.join(", ") },
                numeric: obs.var_names.join(", "),
            });
        };
        let mut values: Vec<String> = labels.to_vec();
        // Numbers in numeric order (`2` before `16`), other labels in text order.
        let number = |v: &str| v.parse::<f64>().ok();
        if values.iter().all(|v| number(v).is_some()) {
            values.sort_by(|a, b| number(a).unwrap_or(0.0).total_cmp(&number(b).unwrap_or(0.0)));
        } else {
            values.sort();
        }
        values.dedup();
        if values.len() > MAX_GROUPS {
            return Err(GroupError::TooManyGroups {
                groups: values.len(),
                limit: MAX_GROUPS,
                params: params_of(&indexed, &column).join(", "),
                column,
            });
        }
        out.push(Levels { column, values });
    }
    Ok(out)
}

fn params_of<'a>(indexed: &'a [Indexed], column: &str) -> Vec<&'a str> {
    indexed.iter().filter(|i| i.column == column).map(|i| i.param.as_str()).collect()
}

/// `terms` summed as a balanced tree (depth grows with the logarithm of their number).
fn balanced_sum(mut terms: Vec<Expr>) -> Expr {
    while terms.len() > 1 {
        let mut next = Vec::with_capacity(terms.len().div_ceil(2));
        let mut it = terms.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => Expr::bin(BinOp::Add, a, b),
                None => a,
            });
        }
        terms = next;
    }
    terms.pop().unwrap_or(Expr::Num(0.0))
}

/// The grouped `law` bound to `levels`: one parameter per value for each indexed parameter
/// (named `a[value]`, in the law's parameter order, values sorted), the indicator variables
/// `column=value` after the law's own variables (none for a column with one value). A law
/// without indexed parameters is returned as it is.
pub fn expand(law: &Law, levels: &[Levels]) -> Result<Law, GroupError> {
    let indexed = law.indexed();
    if indexed.is_empty() {
        return Ok(law.clone());
    }
    let mut expr = law.expr().clone();
    let mut params = Vec::new();
    for p in law.param_names() {
        match indexed.iter().find(|i| &i.param == p) {
            Some(i) => {
                let values = levels.iter().find(|l| l.column == i.column).map_or(&[][..], |l| &l.values[..]);
                params.extend(values.iter().map(|v| indexed_name(&i.base, v)));
                let terms: Vec<Expr> = values
                    .iter()
                    .map(|v| match values.len() {
                        1 => Expr::sym(indexed_name(&i.base, v)),
                        _ => Expr::bin(
                            BinOp::Mul,
                            Expr::sym(indexed_name(&i.base, v)),
                            Expr::sym(indicator_name(&i.column, v)),
                        ),
                    })
                    .collect();
                expr = expr.substitute(&i.param, &balanced_sum(terms));
            }
            None => params.push(p.clone()),
        }
    }
    expr.check_limits()?;
    let mut vars = law.var_names().to_vec();
    for l in levels.iter().filter(|l| l.values.len() > 1) {
        vars.extend(l.values.iter().map(|v| indicator_name(&l.column, v)));
    }
    Ok(Law::expanded(expr, vars, params, Expansion { law: law.clone(), levels: levels.to_vec() }))
}

/// `obs` with the indicator columns of the bound `law` (1 on the rows of a value, 0 elsewhere);
/// `obs` itself when the law is not a bound grouped law. Labels not among the bound values are
/// an error.
pub fn with_indicators(law: &Law, obs: &Observations) -> Result<Observations, GroupError> {
    let mut out = obs.clone();
    let Some(e) = law.expansion() else { return Ok(out) };
    for l in e.levels.iter().filter(|l| l.values.len() > 1) {
        let labels = labels(obs, &l.column).unwrap_or_default();
        if let Some((row, value)) = labels.iter().enumerate().find(|(_, v)| !l.values.contains(v)) {
            return Err(GroupError::UnknownValue {
                row: row + 1,
                column: l.column.clone(),
                value: value.clone(),
                known: l.values.join(", "),
            });
        }
        for v in &l.values {
            let name = indicator_name(&l.column, v);
            let col: Vec<f64> = labels.iter().map(|x| if x == v { 1.0 } else { 0.0 }).collect();
            match out.var_names.iter().position(|n| *n == name) {
                Some(k) => out.columns[k] = col,
                None => {
                    out.var_names.push(name);
                    out.columns.push(col);
                }
            }
        }
    }
    Ok(out)
}

/// Binds `law` to `obs`: a grouped law to the values of its columns in `obs` ([`levels_of`],
/// [`expand`]), with the observations it is fitted to ([`with_indicators`]); a law bound
/// before keeps its values; any other law is returned as it is.
pub fn bind(law: &Law, obs: &Observations) -> Result<(Law, Observations), GroupError> {
    let law = if law.is_grouped() { expand(law, &levels_of(law, obs)?)? } else { law.clone() };
    let obs = with_indicators(&law, obs)?;
    Ok((law, obs))
}

/// Checks that every value of every column of the bound `law` has at least one more distinct
/// point in `obs` (rows of non-zero weight; distinct values of the law's variables) than the
/// parameters indexed by the column.
pub fn check_points(law: &Law, obs: &Observations) -> Result<(), GroupError> {
    let Some(e) = law.expansion() else { return Ok(()) };
    let indexed = e.law.indexed();
    let vars: Vec<&[f64]> = e.law.var_names().iter().filter_map(|v| obs.column(v)).collect();
    for l in &e.levels {
        let labels = labels(obs, &l.column).unwrap_or_default();
        let params = params_of(&indexed, &l.column);
        let needed = params.len() + 1;
        let numeric = l.values.iter().all(|v| v.parse::<f64>().is_ok());
        for v in &l.values {
            let mut keys: Vec<Vec<u64>> = (0..obs.len())
                .filter(|&i| labels.get(i) == Some(v) && obs.weights.as_ref().map_or(true, |w| w[i] > 0.0))
                .map(|i| vars.iter().map(|c| c[i].to_bits()).collect())
                .collect();
            keys.sort();
            keys.dedup();
            if keys.len() < needed {
                return Err(GroupError::TooFewPoints {
                    column: l.column.clone(),
                    value: v.clone(),
                    points: keys.len(),
                    needed,
                    params: params.join(", "),
                    numeric: if numeric && l.values.len() > 2 {
                        format!(
                            " (`{}` is numeric with {} values: each value is a group of its own — \
                             index by a column with a few categories instead)",
                            l.column,
                            l.values.len()
                        )
                    } else {
                        String::new()
                    },
                });
            }
        }
    }
    Ok(())
}

/// `opts` for the bound `law`: an option keyed by an indexed parameter (`a[method]`) or by its
/// base name (`a`) applies to each of its values (`a[gmp]`, `a[2:4]`, …); one keyed by one
/// value's parameter (`a[gmp]`) applies to it alone and wins over the former.
pub fn options(law: &Law, opts: &FitOptions) -> FitOptions {
    let Some(e) = law.expansion() else { return opts.clone() };
    let indexed = e.law.indexed();
    let spread = |key: &str| -> Option<Vec<String>> {
        let i = indexed.iter().find(|i| i.param == key || i.base == key)?;
        let values = e.levels.iter().find(|l| l.column == i.column)?;
        Some(values.values.iter().map(|v| indexed_name(&i.base, v)).collect())
    };
    fn map<T: Clone>(m: &BTreeMap<String, T>, spread: &dyn Fn(&str) -> Option<Vec<String>>) -> BTreeMap<String, T> {
        let mut out = BTreeMap::new();
        for (k, v) in m {
            if let Some(names) = spread(k) {
                for n in names {
                    out.entry(n).or_insert_with(|| v.clone());
                }
            }
        }
        for (k, v) in m {
            if spread(k).is_none() {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }
    let mut o = opts.clone();
    o.fixed = map(&opts.fixed, &spread);
    o.bounds = map(&opts.bounds, &spread);
    o.initial = opts.initial.as_ref().map(|m| map(m, &spread));
    o
}

/// The law of one group: `law` (as written, or bound) with each parameter indexed by a column of
/// `group` replaced by that value's parameter (`a[method]` → `a[gmp]`). Its parameters are those
/// it uses, in the bound law's order; every column the law indexes by must be in `group`.
///
/// ```
/// use sparse_scaling_law::{group::at_group, Law};
/// let law = Law::parse("(a[method]*(1-S)^b + c)*N^(-d)", &[]).unwrap();
/// let gmp = at_group(&law, &[("method", "gmp")]).unwrap();
/// assert_eq!(gmp.param_names(), ["a[gmp]", "b", "c", "d"]);
/// assert_eq!(gmp.to_string(), "(a[gmp] * (1 - S)^b + c) * N^-d");
/// ```
pub fn at_group(law: &Law, group: &[(&str, &str)]) -> Result<Law, GroupError> {
    let law_bound = law;
    let law = law.unbound();
    let mut expr = law.expr().clone();
    let mut params = Vec::new();
    for p in law.param_names() {
        match law.indexed().into_iter().find(|i| &i.param == p) {
            Some(i) => {
                let Some((_, v)) = group.iter().find(|(c, _)| *c == i.column) else {
                    let values = bound_values(law_bound, &i.column);
                    return Err(GroupError::NoValue { param: p.clone(), column: i.column, values });
                };
                let name = indexed_name(&i.base, v);
                expr = expr.substitute(p, &Expr::sym(name.clone()));
                params.push(name);
            }
            None => params.push(p.clone()),
        }
    }
    Ok(law.with_expr(expr, params))
}

/// The values `column` was bound to, comma-separated ("unknown" for a law not bound).
fn bound_values(law: &Law, column: &str) -> String {
    law.expansion()
        .and_then(|e| e.levels.iter().find(|l| l.column == column))
        .map_or_else(|| "unknown until bound to data".to_string(), |l| l.values.join(", "))
}

/// The groups of the points: each distinct combination of values of the columns `law` indexes
/// by, as `(column, value)` pairs, in the order of the bound values.
pub fn groups_in(law: &Law, obs: &Observations) -> Result<Vec<Vec<(String, String)>>, GroupError> {
    let law = law.unbound();
    let levels = levels_of(law, obs)?;
    let labels: Vec<_> = levels.iter().map(|l| labels(obs, &l.column).unwrap_or_default()).collect();
    let position = |k: usize, v: &String| levels[k].values.iter().position(|x| x == v).unwrap_or(usize::MAX);
    let mut keys: Vec<Vec<usize>> =
        (0..obs.len()).map(|i| labels.iter().enumerate().map(|(k, l)| position(k, &l[i])).collect()).collect();
    keys.sort();
    keys.dedup();
    Ok(keys
        .into_iter()
        .map(|key| {
            key.iter().enumerate().map(|(k, &j)| (levels[k].column.clone(), levels[k].values[j].clone())).collect()
        })
        .collect())
}

/// One group of a grouped fit, as an ordinary law with one value per parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedGroup {
    /// The law of the group ([`at_group`]).
    pub law: Law,
    /// Its parameters' fitted values (its order).
    pub params: Vec<f64>,
    /// Its parameters in each bootstrap sample.
    pub samples: Vec<Vec<f64>>,
}

/// The law of one group of a fit of the grouped `law` (`param_names`, `params` and `samples` as
/// in [`crate::FitResult`]), with the values of its parameters.
pub fn fitted_group(
    law: &Law,
    param_names: &[String],
    params: &[f64],
    samples: &[Vec<f64>],
    group: &[(&str, &str)],
) -> Result<FittedGroup, GroupError> {
    let g = at_group(law, group)?;
    let mut idx = Vec::new();
    for p in g.param_names() {
        match param_names.iter().position(|n| n == p) {
            Some(k) => idx.push(k),
            None => return Err(GroupError::NotFitted { param: p.clone(), fitted: param_names.join(", ") }),
        }
    }
    let pick = |v: &[f64]| idx.iter().map(|&k| v[k]).collect::<Vec<f64>>();
    Ok(FittedGroup { params: pick(params), samples: samples.iter().map(|s| pick(s)).collect(), law: g })
}
