//! Where a law is observed ([`Design`]: a grid or explicit points of its variables), and the
//! observations of a law there, noise-free or with relative noise ([`design_observations`],
//! [`law_case`]).

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

use super::{ParamRanges, StrategyError};
use crate::data::Observations;
use crate::law::Law;

/// The points at which a law is observed: one value per variable per point.
///
/// ```
/// use sparse_scaling_law::strategies::Design;
/// // every combination, the first axis slowest
/// let grid = Design::grid(&[("N", &[1.0, 10.0, 100.0]), ("D", &[1.0, 4.0])]).unwrap();
/// assert_eq!(grid.len(), 6);
/// assert_eq!(grid.rows()[1], [1.0, 4.0]);
/// // or the points themselves
/// let points = Design::points(&["S", "N"], vec![vec![0.0, 1.0], vec![0.5, 30.0]]).unwrap();
/// assert_eq!(points.vars(), ["S", "N"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// Variable names, one per column.
    vars: Vec<String>,
    /// The points, each with one value per variable.
    rows: Vec<Vec<f64>>,
}

impl Design {
    /// Every combination of the axes' values (`(variable, values)`), the first axis slowest.
    pub fn grid(axes: &[(&str, &[f64])]) -> Result<Design, StrategyError> {
        if axes.is_empty() {
            return Err(StrategyError::EmptyDesign { detail: " (no axes)".into() });
        }
        if let Some((name, _)) = axes.iter().find(|(_, v)| v.is_empty()) {
            return Err(StrategyError::EmptyDesign { detail: format!(" (axis `{name}` has no values)") });
        }
        let mut rows: Vec<Vec<f64>> = vec![Vec::new()];
        for (_, values) in axes {
            rows = rows.iter().flat_map(|r| values.iter().map(move |v| [r.as_slice(), &[*v]].concat())).collect();
        }
        Design::points(&axes.iter().map(|a| a.0).collect::<Vec<_>>(), rows)
    }

    /// Explicit points: `rows[i][j]` is the value of `vars[j]` at point `i`.
    pub fn points(vars: &[&str], rows: Vec<Vec<f64>>) -> Result<Design, StrategyError> {
        for (i, v) in vars.iter().enumerate() {
            if vars[..i].contains(v) {
                return Err(StrategyError::Duplicate { name: v.to_string() });
            }
        }
        if rows.is_empty() || vars.is_empty() {
            return Err(StrategyError::EmptyDesign { detail: String::new() });
        }
        for (i, r) in rows.iter().enumerate() {
            if r.len() != vars.len() {
                return Err(StrategyError::RowLength {
                    row: i + 1,
                    got: r.len(),
                    want: vars.len(),
                    vars: vars.join(", "),
                });
            }
            if let Some(j) = r.iter().position(|v| !v.is_finite()) {
                return Err(StrategyError::NotFinite { row: i + 1, var: vars[j].to_string(), value: r[j] });
            }
        }
        Ok(Design { vars: vars.iter().map(|v| v.to_string()).collect(), rows })
    }

    /// The variables, one per column.
    pub fn vars(&self) -> &[String] {
        &self.vars
    }

    /// The points.
    pub fn rows(&self) -> &[Vec<f64>] {
        &self.rows
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no points (never, for a design that was built).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The observations of the design with these losses, validated.
    fn observations(&self, loss: Vec<f64>) -> Result<Observations, StrategyError> {
        let obs = self.observations_unchecked(loss);
        obs.validate()?;
        Ok(obs)
    }

    /// The observations of the design with these losses, for a design and positive finite
    /// losses already checked by [`Design::observations`].
    fn observations_unchecked(&self, loss: Vec<f64>) -> Observations {
        let columns = (0..self.vars.len()).map(|j| self.rows.iter().map(|r| r[j]).collect()).collect();
        Observations { var_names: self.vars.clone(), columns, loss, weights: None, categorical: Vec::new() }
    }
}

/// `law` bound to a design: the column of each variable of the law, checked once.
struct Bound {
    law: Law,
    /// Per law variable: the design column holding it (`None`: the formula does not use it).
    columns: Vec<Option<usize>>,
}

impl Bound {
    fn new(law: &Law, design: &Design) -> Result<Bound, StrategyError> {
        let columns = law
            .var_names()
            .iter()
            .map(|v| match design.vars.iter().position(|d| d == v) {
                Some(j) => Ok(Some(j)),
                None if !law.expr().contains(v) => Ok(None),
                None => Err(StrategyError::MissingVariable {
                    name: v.clone(),
                    law: law.text().to_string(),
                    vars: design.vars.join(", "),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Bound { law: law.clone(), columns })
    }

    /// The law's loss at every point of `design`, or the first point where it is not a
    /// finite positive number.
    fn losses(&self, design: &Design, params: &[f64]) -> Result<Vec<f64>, StrategyError> {
        let names = self.law.param_names();
        if params.len() != names.len() {
            return Err(StrategyError::ParamCount {
                got: params.len(),
                want: names.len(),
                law: self.law.text().to_string(),
                params: names.join(", "),
            });
        }
        let mut vars = vec![0.0; self.columns.len()];
        design
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                for (v, c) in vars.iter_mut().zip(&self.columns) {
                    *v = c.map_or(0.0, |j| row[j]);
                }
                let y = self.law.eval(&vars, params);
                if y.is_finite() && y > 0.0 {
                    Ok(y)
                } else {
                    let params = names.iter().zip(params).map(|(n, v)| format!("{n} = {v}")).collect::<Vec<_>>();
                    Err(StrategyError::BadLoss {
                        law: self.law.text().to_string(),
                        params: params.join(", "),
                        row: i + 1,
                        value: y,
                    })
                }
            })
            .collect()
    }
}

fn check_noise(noise: f64) -> Result<f64, StrategyError> {
    if noise.is_finite() && noise >= 0.0 {
        Ok(noise)
    } else {
        Err(StrategyError::BadNoise { value: noise })
    }
}

/// Observations at exact losses `clean`, each multiplied by `exp(noise · u)` with `u`
/// uniform in [−1, 1] (one draw per point); exactly `clean` when `noise` is 0.
fn noisy(design: Design, clean: Vec<f64>, noise: f64) -> Result<BoxedStrategy<Observations>, StrategyError> {
    if noise == 0.0 {
        return Ok(Just(design.observations(clean)?).boxed());
    }
    // the design's values are valid data (S in [0, 1), …), and a positive loss times a
    // positive factor stays positive: every draw is valid once this is
    design.observations(clean.clone())?;
    Ok(proptest::collection::vec(-1.0f64..=1.0, clean.len())
        .prop_map(move |u| {
            design.observations_unchecked(clean.iter().zip(&u).map(|(y, u)| y * (noise * u).exp()).collect())
        })
        .boxed())
}

/// Observations of `law` with parameters `params` (law order) at every point of `design`:
/// the law's loss, multiplied by `exp(noise · u)` with `u` uniform in [−1, 1] per point
/// (`noise` 0: exactly on the law). The columns are the design's variables.
///
/// ```
/// use proptest::prelude::*;
/// use sparse_scaling_law::{fit::predict, Law};
/// use sparse_scaling_law::strategies::{design_observations, Design};
///
/// let law = Law::parse("E + A/N^alpha", &["N"]).unwrap();
/// let design = Design::grid(&[("N", &[1.0, 3.0, 10.0, 30.0, 100.0])]).unwrap();
/// let params = [1.5, 0.8, 0.3];
/// let obs = design_observations(&law, &params, &design, 0.01).unwrap();
/// proptest!(ProptestConfig::with_cases(8), |(obs in obs)| {
///     let clean = predict(&law, &obs, &params).unwrap();
///     for (y, p) in obs.loss.iter().zip(&clean) {
///         prop_assert!((y / p).ln().abs() <= 0.01 + 1e-12);
///     }
/// });
/// ```
pub fn design_observations(
    law: &Law,
    params: &[f64],
    design: &Design,
    noise: f64,
) -> Result<BoxedStrategy<Observations>, StrategyError> {
    let noise = check_noise(noise)?;
    let bound = Bound::new(law, design)?;
    let clean = bound.losses(design, params)?;
    noisy(design.clone(), clean, noise)
}

/// Parameters drawn from `ranges` together with observations of `law` at them over `design`
/// (as [`design_observations`]): `(params in law order, observations)`. Draws at which the
/// law predicts a non-positive or non-finite loss somewhere on the design are rejected, so
/// choose ranges where the law is a loss.
///
/// ```
/// use proptest::prelude::*;
/// use sparse_scaling_law::{fit, FitOptions, Law};
/// use sparse_scaling_law::strategies::{fit_recovers, law_case, Design, ParamRanges};
///
/// // Chinchilla's form (Hoffmann et al. 2022) in normalised units
/// let law = Law::parse("E + A/N^alpha + B/D^beta", &["N", "D"]).unwrap();
/// let ranges = ParamRanges::new(&law, &[
///     ("E", 1.0, 2.0), ("A", 0.5, 2.0), ("alpha", 0.2, 0.6), ("B", 0.5, 2.0), ("beta", 0.2, 0.6),
/// ]).unwrap();
/// let n = [1.0, 3.0, 10.0, 30.0, 100.0];
/// let design = Design::grid(&[("N", &n), ("D", &n)]).unwrap();
/// let cases = law_case(&law, &ranges, &design, 0.0).unwrap();
/// let opts = FitOptions { starts: 8, ..FitOptions::default() };
/// proptest!(ProptestConfig::with_cases(3), |((truth, obs) in cases)| {
///     // noise-free data: the fit finds the parameters that made it
///     fit_recovers(&law, &obs, &truth, &opts, 1e-3)?;
/// });
/// ```
pub fn law_case(
    law: &Law,
    ranges: &ParamRanges,
    design: &Design,
    noise: f64,
) -> Result<BoxedStrategy<(Vec<f64>, Observations)>, StrategyError> {
    let noise = check_noise(noise)?;
    let bound = Bound::new(law, design)?;
    // the ranges belong to this law
    if ranges.names() != law.param_names() {
        return Err(StrategyError::ParamCount {
            got: ranges.names().len(),
            want: law.param_names().len(),
            law: law.text().to_string(),
            params: law.param_names().join(", "),
        });
    }
    design.observations(vec![1.0; design.len()])?;
    let design = design.clone();
    Ok(ranges
        .strategy()
        .prop_filter_map("the law predicts a non-positive or non-finite loss on the design", move |p| {
            let clean = bound.losses(&design, &p).ok()?;
            let obs = noisy(design.clone(), clean, noise).ok()?;
            Some((p, obs))
        })
        .prop_flat_map(|(p, obs)| (Just(p), obs))
        .boxed())
}
