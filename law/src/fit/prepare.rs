//! Preparing a law for fitting ([`Prepared`]): the options' parameter names checked against
//! the law, fixed parameters substituted, the law's variables mapped to data columns, and the
//! reduced law compiled once for all starts.

use crate::compile::Tape;
use crate::data::Observations;
use crate::law::{Law, LawError};

use super::objective::Objective;
use super::transform::Transform;
use super::{FitError, FitOptions};

/// The law made ready for fitting: fixed parameters substituted, compiled with the data's
/// variables first and the free parameters after, and the map between all parameters (law
/// order) and the free ones. Every start and bootstrap replicate shares it.
pub(super) struct Prepared {
    /// The reduced law, compiled.
    tape: Tape,
    /// For each law parameter: Some(index among free parameters) or None (fixed).
    free_of: Vec<Option<usize>>,
    /// Values of fixed parameters (law order; unused entries 0).
    fixed_vals: Vec<f64>,
    /// Column in the observations of each law variable.
    var_idx: Vec<usize>,
    /// Coordinate map of each free parameter.
    transforms: Vec<Transform>,
    /// Names of the free parameters, in the tape's order.
    free_names: Vec<String>,
}

/// Validates `opts` and `obs`, checks every parameter the options name against the law, maps
/// the law's variables to data columns and compiles the reduced law.
pub(super) fn prepare(law: &Law, obs: &Observations, opts: &FitOptions) -> Result<Prepared, FitError> {
    opts.validate()?;
    obs.validate()?;
    let params = law.param_names();
    let unknown = |field: &str, name: &str| FitError::UnknownParameter {
        field: field.to_string(),
        name: name.to_string(),
        params: params.join(", "),
    };
    for name in opts.fixed.keys() {
        if law.param_index(name).is_none() {
            return Err(unknown("fixed", name));
        }
    }
    for name in opts.bounds.keys() {
        if law.param_index(name).is_none() {
            return Err(unknown("bounds", name));
        }
    }
    if let Some(init) = &opts.initial {
        for name in init.keys() {
            if law.param_index(name).is_none() {
                return Err(unknown("initial", name));
            }
        }
    }
    for (name, v) in &opts.fixed {
        if !v.is_finite() {
            return Err(FitError::Options { field: "fixed".into(), message: format!("`{name}` = {v} must be finite") });
        }
    }
    // Map law variables to data columns.
    let mut var_idx = Vec::new();
    for v in law.var_names() {
        match obs.var_names.iter().position(|o| o == v) {
            Some(i) => var_idx.push(i),
            None if !law.expr().contains(v) => var_idx.push(usize::MAX),
            None => {
                return Err(LawError::UnknownVariable { name: v.clone(), available: obs.var_names.join(", ") }.into())
            }
        }
    }
    // Variables the formula does not use (declared only) get a dummy column.
    let used_vars: Vec<&String> =
        law.var_names().iter().zip(&var_idx).filter(|(_, i)| **i != usize::MAX).map(|(v, _)| v).collect();
    let var_idx: Vec<usize> = var_idx.into_iter().filter(|i| *i != usize::MAX).collect();
    let fixed_pairs: Vec<(&str, f64)> = opts.fixed.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let reduced = law.with_fixed(&fixed_pairs);
    let free_names: Vec<String> = reduced.param_names().to_vec();
    if free_names.is_empty() {
        return Err(FitError::Options {
            field: "fixed".into(),
            message: "every parameter is fixed; leave at least one free".into(),
        });
    }
    let inputs: Vec<String> = used_vars.iter().map(|v| v.to_string()).chain(free_names.iter().cloned()).collect();
    let tape = Tape::compile(reduced.expr(), &inputs)?;
    let mut free_of = Vec::new();
    let mut fixed_vals = Vec::new();
    for p in params {
        free_of.push(free_names.iter().position(|f| f == p));
        fixed_vals.push(opts.fixed.get(p).copied().unwrap_or(0.0));
    }
    let transforms = free_names.iter().map(|p| Transform::new(opts.bounds.get(p))).collect();
    Ok(Prepared { tape, free_of, fixed_vals, var_idx, transforms, free_names })
}

impl Prepared {
    /// Names of the free parameters.
    pub(super) fn free_names(&self) -> &[String] {
        &self.free_names
    }

    /// Column in the observations of each variable the law uses.
    pub(super) fn var_idx(&self) -> &[usize] {
        &self.var_idx
    }

    /// All parameters (law order) from the free ones; fixed ones take their values.
    pub(super) fn full_params(&self, free: &[f64]) -> Vec<f64> {
        self.free_of.iter().zip(&self.fixed_vals).map(|(f, v)| f.map(|i| free[i]).unwrap_or(*v)).collect()
    }

    /// The free parameters among all (law order).
    pub(super) fn free_params(&self, full: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.free_names.len()];
        for (k, f) in self.free_of.iter().enumerate() {
            if let Some(i) = f {
                out[*i] = full[k];
            }
        }
        out
    }

    /// The objective over `obs` (which must have the columns the law was prepared for).
    pub(super) fn objective(&self, obs: &Observations, opts: &FitOptions) -> Result<Objective, FitError> {
        Objective::new(&self.tape, obs, &self.var_idx, opts, self.transforms.clone())
    }
}
