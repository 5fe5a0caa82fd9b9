//! The T5 procedure of docs/THEORY.md §2 on the authors' table finds the true minimum.

use sparse_scaling_law::data::CsvMapping;
use sparse_scaling_law::{fit, FitOptions, Law, Observations};

fn t5() -> Observations {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/t5-data.csv");
    Observations::from_csv_path(path, &CsvMapping::t5_paper()).unwrap()
}

#[test]
fn t5_fit_reaches_the_true_minimum_and_extrapolates() {
    let obs = t5();
    assert_eq!(obs.len(), 48);
    let law = Law::builtin("paper-normalised").unwrap();
    let r = fit(&law, &obs, &FitOptions::t5_paper()).unwrap();
    eprintln!(
        "objective {:e} grad {:e} converged {} iters {} params {:?}",
        r.objective, r.grad_norm, r.converged, r.iterations, r.params
    );
    for s in &r.starts {
        eprintln!("  {:e} {:?} {} {}", s.objective, s.stop, s.iterations, s.evaluations);
    }
    assert!(r.objective <= 4.881e-6, "objective {}", r.objective);
    assert!(r.converged);
    let want = [0.43624, 1.34497, 1.69517, 0.23168, 0.41761, 0.38464, 0.83037];
    for (p, w) in r.params.iter().zip(want) {
        assert!((p - w).abs() < 2e-3 * (1.0 + w), "{:?}", r.params);
    }
    // T5-XL at S = 0.75: N/1e6 = 603.98, D/1e5 = 5, measured 1.48278.
    let pred = law.eval(&[0.75, 603.98, 5.0], &r.params);
    assert!((pred - 1.48278).abs() / 1.48278 < 0.02, "prediction {pred}");
    assert!(r.r2 > 0.99 && r.rmse < 0.02, "r2 {} rmse {}", r.r2, r.rmse);
}

#[test]
fn bootstrap_intervals_are_seeded_and_cover_the_fit() {
    let obs = t5();
    let law = Law::builtin("paper-normalised").unwrap();
    let opts = FitOptions { starts: 4, bootstrap: 60, seed: 7, ..FitOptions::t5_paper() };
    let r = fit(&law, &obs, &opts).unwrap();
    let b = r.bootstrap.as_ref().unwrap();
    assert_eq!(b.samples.len() + b.failed, 60);
    assert!(b.samples.len() >= 55, "{} failed", b.failed);
    for (k, name) in r.param_names.iter().enumerate() {
        let (lo, hi) = r.ci(name).unwrap();
        assert!(lo < hi, "{name}: [{lo}, {hi}]");
        assert!(lo <= r.params[k] && r.params[k] <= hi, "{name} = {} outside [{lo}, {hi}]", r.params[k]);
    }
    // Derived quantities: the exponent of the data term over that of the size term.
    let (lo, hi) = r.ci_of(|p| p[5] / p[3]).unwrap();
    let est = r.params[5] / r.params[3];
    assert!(lo <= est && est <= hi);
    // Same seed, same numbers; another seed, other samples.
    let again = fit(&law, &obs, &opts).unwrap();
    assert_eq!(again.bootstrap_samples(), r.bootstrap_samples());
    let other = fit(&law, &obs, &FitOptions { seed: 8, ..opts.clone() }).unwrap();
    assert_ne!(other.bootstrap_samples(), r.bootstrap_samples());
}

#[test]
fn vit_procedure_bounds_and_fixed_parameters() {
    let obs = t5();
    let law = Law::builtin("paper-normalised").unwrap();
    // Raw residuals (the ViT procedure) also converge on this table.
    let raw = fit(&law, &obs, &FitOptions { starts: 8, ..FitOptions::vit_paper() }).unwrap();
    assert!(raw.converged, "{:?}", raw.stop);
    // Fixing g at its log-fit value and bounding d reproduces the unconstrained optimum.
    let mut opts = FitOptions { starts: 8, ..FitOptions::t5_paper() };
    opts.fixed.insert("g".into(), 0.8303747554994257);
    opts.bounds.insert("d".into(), sparse_scaling_law::fit::Bounds { lower: Some(0.0), upper: Some(1.0) });
    let r = fit(&law, &obs, &opts).unwrap();
    assert!(r.converged);
    assert_eq!(r.param("g"), Some(0.8303747554994257));
    assert!((r.objective - 4.8801165946e-6).abs() < 1e-14, "{}", r.objective);
    // A bound that excludes the optimum is respected.
    opts.bounds.insert("d".into(), sparse_scaling_law::fit::Bounds { lower: Some(0.25), upper: None });
    let r = fit(&law, &obs, &opts).unwrap();
    assert!(r.param("d").unwrap() >= 0.25);
    assert!(r.objective > 4.8802e-6);
}

#[test]
fn grid_starts_weights_and_honest_convergence() {
    let obs = t5();
    let law = Law::builtin("paper-normalised").unwrap();
    // Grid starts only: 2 levels for 7 parameters = 128 starts.
    let grid = FitOptions { starts: 0, grid: Some(vec![0.3, 0.7]), ..FitOptions::t5_paper() };
    let r = fit(&law, &obs, &grid).unwrap();
    assert_eq!(r.starts.len(), 128);
    assert!(r.converged && r.objective <= 4.881e-6);
    // Too many grid points is an error, not a hang.
    let huge = FitOptions { grid: Some(vec![0.1; 10]), ..FitOptions::t5_paper() };
    assert!(fit(&law, &obs, &huge).is_err());

    // Weight 2 on a point is the same objective as listing it twice.
    let mut w = vec![1.0; obs.len()];
    w[5] = 2.0;
    let weighted = Observations { weights: Some(w), ..obs.clone() };
    let mut rows: Vec<usize> = (0..obs.len()).collect();
    rows.push(5);
    let doubled = obs.select(&rows);
    let opts = FitOptions { starts: 4, ..FitOptions::t5_paper() };
    let a = fit(&law, &weighted, &opts).unwrap();
    let b = fit(&law, &doubled, &opts).unwrap();
    assert!((a.objective - b.objective).abs() < 1e-12 * a.objective, "{} vs {}", a.objective, b.objective);
    let plain = fit(&law, &obs, &opts).unwrap();
    assert!((a.objective - plain.objective).abs() > 1e-9);

    // Stopped early: reported as not converged, with the reason.
    let short = FitOptions { starts: 2, max_iter: 3, ..FitOptions::t5_paper() };
    let r = fit(&law, &obs, &short).unwrap();
    assert!(!r.converged);
    assert_eq!(r.stop, sparse_scaling_law::fit::bfgs::StopReason::MaxIterations);
    assert!(r.grad_norm > 1e-8);
}
