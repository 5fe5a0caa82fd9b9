//! Checks of the formulas an experiment names (its law and cost model), with the law
//! crate's own parser, so that a typo is reported by `check` before any training.

use sparse_scaling_law::Law;

/// The law is a built-in name or a formula that parses, uses some of S, N, D and has
/// parameters to fit. Returns the parser's message otherwise.
pub fn check_law(spec: &str) -> Result<(), String> {
    let law = Law::from_name_or_formula(spec).map_err(|e| e.to_string())?;
    if let Some(v) = law.var_names().iter().find(|v| !["S", "N", "D"].contains(&v.as_str())) {
        return Err(format!("the law uses variable `{v}`, but measured points only have S, N and D"));
    }
    Ok(())
}

/// The expression parses and uses no symbols other than S, N, D.
pub fn check_expression(text: &str) -> Result<(), String> {
    let expr = sparse_scaling_law::parse(text).map_err(|e| e.to_string())?;
    if let Some(s) = expr.symbols().into_iter().find(|s| !["S", "N", "D"].contains(&s.as_str())) {
        return Err(format!("unknown symbol `{s}` in `{text}` (only S, N and D are known)"));
    }
    Ok(())
}
