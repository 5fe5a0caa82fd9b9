//! The T5 procedure of PAPER.md §2 on the authors' table finds the true minimum.

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
    eprintln!("objective {:e} grad {:e} converged {} iters {} params {:?}", r.objective, r.grad_norm, r.converged, r.iterations, r.params);
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
