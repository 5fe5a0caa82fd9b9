//! The bootstrap's fast refit ([`BootstrapRefit::Warm`]: one warm start over the resample's
//! distinct points weighted by their counts) gives the intervals of the procedure before it
//! ([`BootstrapRefit::Rows`]: one warm start over the resample's repeated rows) and of a full
//! multistart per resample ([`BootstrapRefit::Cold`]), on the authors' T5 table
//! (docs/THEORY.md §2; docs/PERFORMANCE.md, "Bootstrap").

use sparse_scaling_law::data::CsvMapping;
use sparse_scaling_law::{fit, BootstrapRefit, FitOptions, FitResult, Law, Observations};

fn t5() -> Observations {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/t5-data.csv");
    Observations::from_csv_path(path, &CsvMapping::t5_paper()).unwrap()
}

/// The T5 fit with `reps` resamples refitted as `refit`, each run at most `max_iter` iterations.
fn boot(refit: BootstrapRefit, reps: usize, max_iter: usize) -> FitResult {
    let law = Law::builtin("paper-normalised").unwrap();
    let opts = FitOptions { bootstrap: reps, bootstrap_refit: refit, max_iter, seed: 11, ..FitOptions::t5_paper() };
    fit(&law, &t5(), &opts).unwrap()
}

/// |a − b| relative to the larger magnitude.
fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs())
}

/// The interval endpoints as (parameter, 0 = lower / 1 = upper, value).
fn endpoints(r: &FitResult) -> Vec<(String, usize, f64)> {
    let b = r.bootstrap.as_ref().unwrap();
    r.param_names
        .iter()
        .zip(&b.intervals)
        .flat_map(|(p, (lo, hi))| [(p.clone(), 0, *lo), (p.clone(), 1, *hi)])
        .collect()
}

/// On the T5 table three training lengths cannot pin down `e*D^(-f) + g` (docs/THEORY.md §2):
/// about one resample in eight runs down a valley (f → 0, e → ∞, g → −∞) along which the
/// objective keeps falling, until the iteration limit stops it. The interval endpoints those
/// resamples set are where the limit stops them, not a property of the data: they move by far
/// more than 10 % when the limit halves. Every other endpoint must agree with the repeated
/// rows to 1e-4 relative; those set by the limit, to 5 % (the weighted sum rounds
/// differently, and a run along a valley amplifies rounding; 1.4–1.6 % measured at 1000 and
/// 3000 resamples).
#[test]
fn warm_refit_gives_the_intervals_of_the_repeated_rows() {
    let reps = 300;
    let rows = boot(BootstrapRefit::Rows, reps, 2000);
    let half = boot(BootstrapRefit::Rows, reps, 1000);
    let warm = boot(BootstrapRefit::Warm, reps, 2000);
    assert_eq!(warm.bootstrap.as_ref().unwrap().samples.len(), reps);
    let (mut data_set, mut limit_set) = (0, 0);
    for (((p, side, r), (_, _, h)), (_, _, w)) in
        endpoints(&rows).into_iter().zip(endpoints(&half)).zip(endpoints(&warm))
    {
        let by_limit = rel(r, h) > 0.1;
        let tol = if by_limit { 0.05 } else { 1e-4 };
        eprintln!(
            "{p}[{side}]: rows {r:.9e}  limit 1000 {h:.9e}  warm {w:.9e}  (rel {:.1e}, set by the limit: {by_limit})",
            rel(r, w)
        );
        assert!(rel(r, w) <= tol, "{p} endpoint {side}: warm {w} vs rows {r} (tolerance {tol})");
        if by_limit {
            limit_set += 1;
            assert!(["e", "f", "g"].contains(&p.as_str()), "{p} should be determined by the data");
        } else {
            data_set += 1;
        }
    }
    // a, b, c, d and one end of each of e, f, g are set by the data.
    assert!(data_set >= 11, "{data_set} endpoints set by the data, {limit_set} by the limit");
    assert!(limit_set >= 1, "no endpoint moved with the iteration limit: the 5 % tolerance is not needed");
}

/// A warm start reaches the optimum that every start of a full multistart reaches: the
/// parameters the data determine (a, b, c, d) get the same intervals, and each resample the
/// same values, as with 25 cold starts per resample.
#[test]
fn warm_refit_reaches_the_optimum_of_a_full_multistart() {
    let reps = 40;
    let cold = boot(BootstrapRefit::Cold, reps, 2000);
    let warm = boot(BootstrapRefit::Warm, reps, 2000);
    let (cb, wb) = (cold.bootstrap.as_ref().unwrap(), warm.bootstrap.as_ref().unwrap());
    assert_eq!((cb.samples.len(), wb.samples.len()), (reps, reps));
    for k in 0..4 {
        let (c, w) = (cb.intervals[k], wb.intervals[k]);
        eprintln!("{}: cold {c:?} warm {w:?}", warm.param_names[k]);
        assert!(rel(c.0, w.0) <= 1e-4 && rel(c.1, w.1) <= 1e-4, "{}: cold {c:?} warm {w:?}", warm.param_names[k]);
        for (i, (cs, ws)) in cb.samples.iter().zip(&wb.samples).enumerate() {
            assert!(rel(cs[k], ws[k]) <= 1e-3, "resample {i}, {}: cold {} warm {}", warm.param_names[k], cs[k], ws[k]);
        }
    }
}
