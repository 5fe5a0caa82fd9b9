//! Checks of the formulas an experiment names (its law and cost model), with the law
//! crate's own parser, so that a typo is reported by `check` before any training.

use sparse_scaling_law::Law;

/// The variables a measured point has: S, N, D and N̄ (`Nbar`, the mean non-zero count over
/// training, docs/THEORY.md §7).
pub const POINT_VARS: [&str; 4] = ["S", "N", "D", "Nbar"];

/// The law is a built-in name or a formula that parses, uses some of S, N, D, Nbar and has
/// parameters to fit. Returns the parser's message otherwise.
pub fn check_law(spec: &str) -> Result<(), String> {
    let law = Law::from_name_or_formula(spec).map_err(|e| e.to_string())?;
    if let Some(v) = law.var_names().iter().find(|v| !POINT_VARS.contains(&v.as_str())) {
        return Err(format!("the law uses variable `{v}`, but measured points only have S, N, D and Nbar"));
    }
    Ok(())
}

/// The expression parses and uses no symbols other than S, N, D and Nbar.
pub fn check_expression(text: &str) -> Result<(), String> {
    let expr = sparse_scaling_law::parse(text).map_err(|e| e.to_string())?;
    if let Some(s) = expr.symbols().into_iter().find(|s| !POINT_VARS.contains(&s.as_str())) {
        return Err(format!("unknown symbol `{s}` in `{text}` (only S, N, D and Nbar are known)"));
    }
    Ok(())
}
