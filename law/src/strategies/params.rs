//! Parameters of any law drawn uniformly within a range per parameter ([`ParamRanges`]).

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

use super::StrategyError;
use crate::law::Law;

/// One range per parameter of a law, in the law's parameter order: a draw is uniform in
/// `[low, high)` per parameter (exactly `low` when `low == high`, which fixes it).
///
/// ```
/// use proptest::prelude::*;
/// use sparse_scaling_law::Law;
/// use sparse_scaling_law::strategies::ParamRanges;
///
/// let law = Law::parse("E + A/N^alpha + B/D^beta", &["N", "D"]).unwrap();
/// // in any order; every parameter needs one
/// let ranges = ParamRanges::new(&law, &[("alpha", 0.2, 0.6), ("beta", 0.2, 0.6), ("A", 0.5, 2.0), ("B", 0.5, 2.0), ("E", 1.7, 1.7)]).unwrap();
/// proptest!(ProptestConfig::with_cases(8), |(p in ranges.strategy())| {
///     // law order: E, A, alpha, B, beta
///     prop_assert_eq!(p[0], 1.7);
///     prop_assert!((0.2..0.6).contains(&p[2]));
/// });
/// // a parameter left out, or a name that is not one, is an error that names it
/// assert!(ParamRanges::new(&law, &[("E", 1.0, 2.0)]).unwrap_err().to_string().contains("`A`"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRanges {
    /// Parameter names, law order.
    names: Vec<String>,
    /// `(low, high)` per parameter, law order.
    ranges: Vec<(f64, f64)>,
}

impl ParamRanges {
    /// Ranges `(name, low, high)` for every parameter of `law`, in any order.
    pub fn new(law: &Law, ranges: &[(&str, f64, f64)]) -> Result<ParamRanges, StrategyError> {
        let names = law.param_names().to_vec();
        let params = names.join(", ");
        let mut found: Vec<Option<(f64, f64)>> = vec![None; names.len()];
        for &(name, low, high) in ranges {
            let i = law.param_index(name).ok_or_else(|| StrategyError::UnknownParam {
                name: name.to_string(),
                law: law.text().to_string(),
                params: params.clone(),
            })?;
            if found[i].is_some() {
                return Err(StrategyError::Duplicate { name: name.to_string() });
            }
            if !(low.is_finite() && high.is_finite() && low <= high) {
                return Err(StrategyError::BadRange { name: name.to_string(), low, high });
            }
            found[i] = Some((low, high));
        }
        let ranges = found
            .iter()
            .zip(&names)
            .map(|(r, name)| {
                r.ok_or_else(|| StrategyError::MissingRange {
                    name: name.clone(),
                    law: law.text().to_string(),
                    params: params.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ParamRanges { names, ranges })
    }

    /// The parameter names, in the law's order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The range of one parameter.
    pub fn range(&self, name: &str) -> Option<(f64, f64)> {
        self.names.iter().position(|n| n == name).map(|i| self.ranges[i])
    }

    /// Whether `params` (law order) lie within the ranges.
    pub fn contains(&self, params: &[f64]) -> bool {
        params.len() == self.ranges.len()
            && params
                .iter()
                .zip(&self.ranges)
                .all(|(v, &(lo, hi))| if lo == hi { *v == lo } else { *v >= lo && *v < hi })
    }

    /// Parameter vectors (law order), each parameter uniform in its range.
    pub fn strategy(&self) -> BoxedStrategy<Vec<f64>> {
        let per: Vec<BoxedStrategy<f64>> =
            self.ranges.iter().map(|&(lo, hi)| if lo == hi { Just(lo).boxed() } else { (lo..hi).boxed() }).collect();
        per.boxed()
    }
}
