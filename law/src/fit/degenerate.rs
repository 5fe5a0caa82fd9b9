//! Inputs a fit cannot be trusted on, refused before fitting: fewer distinct points than free
//! parameters (each free parameter needs at least one equation; repeated rows add none), and a
//! loss that does not vary (any law with a free constant fits it exactly, and every other
//! parameter is then arbitrary). Without these checks such fits end "converged" with R² NaN or
//! 1.0 and meaningless coefficients.

use crate::data::Observations;

use super::prepare::Prepared;
use super::FitError;

/// Checks that `obs` can determine the free parameters of `prep`: at least as many distinct
/// points (distinct values of the law's variables among rows of non-zero weight) as free
/// parameters, and a loss that varies.
pub(super) fn check(prep: &Prepared, obs: &Observations) -> Result<(), FitError> {
    let rows: Vec<usize> = (0..obs.len()).filter(|&i| obs.weights.as_ref().map_or(true, |w| w[i] > 0.0)).collect();
    let mut keys: Vec<Vec<u64>> =
        rows.iter().map(|&i| prep.var_idx().iter().map(|&c| obs.columns[c][i].to_bits()).collect()).collect();
    keys.sort();
    keys.dedup();
    let free = prep.free_names();
    if keys.len() < free.len() {
        let vars: Vec<&str> = prep.var_idx().iter().map(|&c| obs.var_names[c].as_str()).collect();
        return Err(FitError::TooFewPoints {
            rows: rows.len(),
            distinct: keys.len(),
            vars: vars.join(", "),
            params: free.len(),
            names: free.join(", "),
        });
    }
    let (lo, hi) = rows
        .iter()
        .map(|&i| obs.loss[i])
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| (lo.min(y), hi.max(y)));
    if rows.len() > 1 && hi - lo <= 1e-12 * hi.abs() {
        return Err(FitError::ConstantLoss { rows: rows.len(), value: lo });
    }
    Ok(())
}
