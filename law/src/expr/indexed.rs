//! Parameters indexed by a categorical column (issue 10, part 3; docs/THEORY.md §2.6): in
//! `(a[method]*(1-S)^b + c[method])*N^(-d) + e*D^(-f) + g`, `a[method]` is one parameter per
//! value of the column `method`. In a tree it is a symbol whose name is `base[column]`; the
//! parser reads `a[method]` (or ``a[`pruning method`]``) into that name and the printer writes
//! it back bare when both parts are plain identifiers, so formulas round-trip.
//!
//! Bound to data, `a[method]` becomes one parameter per value, named the same way: `a[gmp]`,
//! `a[2:4]` (see `crate::group`).

use super::is_plain_identifier;

/// The name of parameter `base` indexed by `column` (or of its value for one group):
/// `base[column]`.
///
/// ```
/// assert_eq!(sparse_scaling_law::expr::indexed_name("a", "method"), "a[method]");
/// ```
pub fn indexed_name(base: &str, column: &str) -> String {
    format!("{base}[{column}]")
}

/// Splits `base[column]` into its base (a plain identifier) and column (not empty); `None` for
/// any other name.
///
/// ```
/// use sparse_scaling_law::expr::split_indexed;
/// assert_eq!(split_indexed("a[method]"), Some(("a", "method")));
/// assert_eq!(split_indexed("a[2:4]"), Some(("a", "2:4")));
/// assert_eq!(split_indexed("a"), None);
/// assert_eq!(split_indexed("a[]"), None);
/// ```
pub fn split_indexed(name: &str) -> Option<(&str, &str)> {
    let open = name.find('[')?;
    let inner = name.strip_suffix(']')?.get(open + 1..)?;
    let base = &name[..open];
    (is_plain_identifier(base) && !inner.is_empty()).then_some((base, inner))
}

/// Whether an indexed name can be printed bare (`a[method]`), i.e. both parts are plain
/// identifiers; otherwise it is printed in backticks.
pub(super) fn is_plain_indexed(name: &str) -> bool {
    split_indexed(name).is_some_and(|(_, column)| is_plain_identifier(column))
}
