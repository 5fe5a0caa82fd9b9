//! Strategies for the paper's law in its normalised form (docs/THEORY.md §1,
//! `(a·(1−S)^b + c)·N^(−d) + e·D^(−f) + g`, N in millions, D in 1e5 steps): parameters within
//! ranges around the published fits, and noisy observations drawn at random points of
//! (S, N, D). For any other law, see [`super::ParamRanges`] and [`super::Design`].
//!
//! ```
//! use proptest::prelude::*;
//! use sparse_scaling_law::strategies::{paper_case, ObservationSpace};
//!
//! proptest!(ProptestConfig::with_cases(4), |((params, obs) in paper_case(ObservationSpace::t5_like(0.0)))| {
//!     // noise-free data lies on the law
//!     let law = sparse_scaling_law::Law::builtin("paper-normalised").unwrap();
//!     let pred = sparse_scaling_law::fit::predict(&law, &obs, &params).unwrap();
//!     for (p, y) in pred.iter().zip(&obs.loss) {
//!         prop_assert!((p - y).abs() < 1e-12);
//!     }
//! });
//! ```

use crate::data::Observations;
use crate::law::{Law, LawError};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

/// Ranges of the normalised law's parameters a..g: each about a factor 2–3 around the
/// published T5 and ViT fits (docs/THEORY.md §2) and the converged T5 minimum, so that every
/// draw is a plausible law (positive, decreasing in N and D, S_opt well defined).
pub const PAPER_NORMALISED_RANGES: [(f64, f64); 7] = [
    (0.2, 2.0), // a: scale of the sparsity factor
    (0.3, 1.5), // b: exponent of the density
    (0.5, 3.0), // c: sparsity-independent size factor
    (0.1, 0.5), // d: exponent of N
    (0.2, 2.0), // e: data scale
    (0.1, 0.6), // f: exponent of D
    (0.3, 1.5), // g: irreducible loss
];

/// Parameters a..g of the built-in `paper-normalised` law, each uniform in
/// [`PAPER_NORMALISED_RANGES`].
pub fn paper_normalised_params() -> impl Strategy<Value = [f64; 7]> {
    let r = PAPER_NORMALISED_RANGES;
    ((r[0].0..r[0].1, r[1].0..r[1].1, r[2].0..r[2].1, r[3].0..r[3].1), (r[4].0..r[4].1, r[5].0..r[5].1, r[6].0..r[6].1))
        .prop_map(|((a, b, c, d), (e, f, g))| [a, b, c, d, e, f, g])
}

/// Where observations are drawn: sparsity levels, log-uniform N and D ranges, how many points,
/// and the relative noise on the loss.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationSpace {
    /// Sparsity levels, each in [0, 1); every point takes one of them.
    pub sparsities: Vec<f64>,
    /// log10 range of N (in the law's units).
    pub log10_n: (f64, f64),
    /// log10 range of D (in the law's units).
    pub log10_d: (f64, f64),
    /// Number of points, min and max (inclusive).
    pub points: (usize, usize),
    /// Relative noise: each loss is multiplied by exp(noise · u), u uniform in [−1, 1].
    pub noise: f64,
}

impl ObservationSpace {
    /// Like the T5 table of docs/THEORY.md §2 in normalised units: S ∈ {0, 0.5, 0.75, 0.875},
    /// N/1e6 ∈ [10^0.5, 10^2], D/1e5 ∈ [2.5, 10], 40–60 points.
    pub fn t5_like(noise: f64) -> Self {
        Self {
            sparsities: vec![0.0, 0.5, 0.75, 0.875],
            log10_n: (0.5, 2.0),
            log10_d: (2.5f64.log10(), 1.0),
            points: (40, 60),
            noise,
        }
    }
}

/// Observations of `law` with parameters `params` (law order), drawn from `space`. The law's
/// variables must be among S, N and D.
pub fn observations(
    law: &Law,
    params: &[f64],
    space: &ObservationSpace,
) -> Result<BoxedStrategy<Observations>, LawError> {
    law.check_vars_available(&["S".to_string(), "N".to_string(), "D".to_string()])?;
    let law = law.clone();
    let params = params.to_vec();
    let levels = if space.sparsities.is_empty() { vec![0.0] } else { space.sparsities.clone() };
    let noise = space.noise.abs();
    let point = (0..levels.len(), space.log10_n.0..=space.log10_n.1, space.log10_d.0..=space.log10_d.1, -1.0f64..=1.0);
    let (lo, hi) = (space.points.0.max(1), space.points.1.max(space.points.0.max(1)));
    Ok(proptest::collection::vec(point, lo..=hi)
        .prop_filter_map("the law predicted a non-positive or non-finite loss", move |pts| {
            let s: Vec<f64> = pts.iter().map(|p| levels[p.0]).collect();
            let n: Vec<f64> = pts.iter().map(|p| 10f64.powf(p.1)).collect();
            let d: Vec<f64> = pts.iter().map(|p| 10f64.powf(p.2)).collect();
            let loss: Vec<f64> = (0..pts.len())
                .map(|i| {
                    let vars: Vec<f64> = law
                        .var_names()
                        .iter()
                        .map(|v| match v.as_str() {
                            "S" => s[i],
                            "N" => n[i],
                            _ => d[i],
                        })
                        .collect();
                    law.eval(&vars, &params) * (noise * pts[i].3).exp()
                })
                .collect();
            Observations::new(vec!["S".into(), "N".into(), "D".into()], vec![s, n, d], loss, None).ok()
        })
        .boxed())
}

/// Random parameters of the `paper-normalised` law together with noisy observations drawn
/// from it: `(params a..g, observations)`.
pub fn paper_case(space: ObservationSpace) -> impl Strategy<Value = ([f64; 7], Observations)> {
    paper_normalised_params().prop_flat_map(move |p| {
        // the built-in law always parses and uses exactly S, N, D
        let obs = Law::builtin("paper-normalised").ok().and_then(|law| observations(&law, &p, &space).ok());
        match obs {
            Some(o) => (Just(p), o).boxed(),
            None => Just(p).prop_filter_map("paper-normalised law unavailable", |_| None).boxed(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn params_are_in_range(p in paper_normalised_params()) {
            for (v, (lo, hi)) in p.iter().zip(PAPER_NORMALISED_RANGES) {
                prop_assert!(*v >= lo && *v < hi);
            }
        }

        #[test]
        fn noisy_observations_stay_within_the_noise((p, obs) in paper_case(ObservationSpace::t5_like(0.01))) {
            let law = Law::builtin("paper-normalised").unwrap();
            prop_assert!(obs.len() >= 40 && obs.len() <= 60);
            let pred = crate::fit::predict(&law, &obs, &p).unwrap();
            for (pr, y) in pred.iter().zip(&obs.loss) {
                prop_assert!((y / pr).ln().abs() <= 0.01 + 1e-12);
            }
            let s = obs.column("S").unwrap();
            prop_assert!(s.iter().all(|v| [0.0, 0.5, 0.75, 0.875].contains(v)));
        }
    }

    #[test]
    fn laws_outside_s_n_d_are_rejected() {
        let law = Law::parse("a*T^(-b)", &["T"]).unwrap();
        assert!(observations(&law, &[1.0, 0.5], &ObservationSpace::t5_like(0.0)).is_err());
    }
}
