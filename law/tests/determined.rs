//! Fits that say when they cannot be trusted: inputs that cannot determine a law are errors,
//! and after a fit each parameter is reported as determined by the data or not, with why.

use sparse_scaling_law::data::CsvMapping;
use sparse_scaling_law::fit::{Bounds, Undetermined};
use sparse_scaling_law::{fit, FitError, FitOptions, Law, Observations};

fn t5() -> Observations {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/t5-data.csv");
    Observations::from_csv_path(path, &CsvMapping::t5_paper()).unwrap()
}

fn paper() -> Law {
    Law::builtin("paper-normalised").unwrap()
}

#[test]
fn degenerate_inputs_are_errors() {
    let obs = t5();
    let opts = FitOptions { starts: 4, ..FitOptions::t5_paper() };
    // One row for seven parameters.
    let e = fit(&paper(), &obs.select(&[0]), &opts).unwrap_err();
    assert!(matches!(e, FitError::TooFewPoints { distinct: 1, params: 7, .. }), "{e}");
    // One row repeated 48 times is still one point.
    let e = fit(&paper(), &obs.select(&[5; 48]), &opts).unwrap_err();
    assert!(matches!(e, FitError::TooFewPoints { rows: 48, distinct: 1, .. }), "{e}");
    assert!(e.to_string().contains("a, b, c, d, e, f, g"), "{e}");
    // Six distinct points for seven parameters; fixing one parameter makes it enough.
    let six = obs.select(&[0, 1, 2, 3, 4, 5]);
    assert!(matches!(fit(&paper(), &six, &opts).unwrap_err(), FitError::TooFewPoints { distinct: 6, .. }));
    let mut fixed = opts.clone();
    fixed.fixed.insert("g".into(), 0.83);
    assert!(!matches!(fit(&paper(), &six, &fixed), Err(FitError::TooFewPoints { .. })));
    // A loss column with no variation.
    let mut flat = obs.clone();
    flat.loss = vec![2.5; flat.len()];
    let e = fit(&paper(), &flat, &opts).unwrap_err();
    assert!(matches!(e, FitError::ConstantLoss { rows: 48, .. }), "{e}");
}

#[test]
fn t5_table_does_not_determine_the_data_term() {
    let r = fit(&paper(), &t5(), &FitOptions { starts: 8, bootstrap: 40, seed: 3, ..FitOptions::t5_paper() }).unwrap();
    assert!(r.converged);
    let status = |n: &str| r.determination.iter().find(|s| s.name == n).unwrap();
    for p in ["a", "b", "c", "d"] {
        assert!(status(p).determined, "{p}: {:?}", status(p));
    }
    let not: Vec<&str> = ["e", "f", "g"].into_iter().filter(|p| !status(p).determined).collect();
    assert!(!not.is_empty(), "{:?}", r.determination);
    for p in &not {
        let s = status(p);
        assert!(s.reason.as_deref().is_some_and(|t| !t.is_empty()) && !s.causes.is_empty(), "{s:?}");
    }
    // The data term's effect depends on D alone, of which the table has three values.
    assert_eq!(status("e").limited_by, [("D".to_string(), 3)]);
}

#[test]
fn a_parameter_on_its_bound_and_a_redundant_pair_are_not_determined() {
    let obs = t5();
    let mut opts = FitOptions { starts: 8, ..FitOptions::t5_paper() };
    opts.bounds.insert("d".into(), Bounds { lower: Some(0.25), upper: None });
    let r = fit(&paper(), &obs, &opts).unwrap();
    let d = r.determination.iter().find(|s| s.name == "d").unwrap();
    assert!(!d.determined && matches!(d.causes[0], Undetermined::OnBound { bound } if bound == 0.25), "{d:?}");
    // Only the product a·k matters: the objective is flat along a·k = const.
    let law = Law::parse("(a*k*(1-S)^b + c)*N^(-d) + e*D^(-f) + g", &["S", "N", "D"]).unwrap();
    let r = fit(&law, &obs, &FitOptions { starts: 8, ..FitOptions::t5_paper() }).unwrap();
    for p in ["a", "k"] {
        let s = r.determination.iter().find(|s| s.name == p).unwrap();
        let flat = s.causes.iter().any(|c| matches!(c, Undetermined::FlatDirection { with, .. } if with.contains(&"a".to_string()) && with.contains(&"k".to_string())));
        assert!(!s.determined && flat, "{s:?}");
    }
}

#[test]
fn overestimate_penalty_pulls_the_fit_under_the_points() {
    let law = Law::parse("E + A*N^(-alpha)", &[]).unwrap();
    let n: Vec<f64> = (1..=30).map(|i| i as f64).collect();
    let loss: Vec<f64> = n
        .iter()
        .enumerate()
        .map(|(i, n)| (1.5 + 0.8 * n.powf(-0.3)) * (1.0 + 0.02 * ((i * 7 % 9) as f64 - 4.0) / 4.0))
        .collect();
    let obs = Observations::new(vec!["N".into()], vec![n], loss, None).unwrap();
    let base = FitOptions { starts: 8, huber_delta: 1.0, ..FitOptions::t5_paper() };
    let over = |r: &sparse_scaling_law::FitResult| r.residuals.iter().filter(|r| **r > 1e-9).count();
    let worst = |r: &sparse_scaling_law::FitResult| r.residuals.iter().cloned().fold(0.0, f64::max);
    let sym = fit(&law, &obs, &base).unwrap();
    let low = fit(&law, &obs, &FitOptions { overestimate_penalty: 100.0, ..base.clone() }).unwrap();
    assert!(over(&sym) >= 10, "{}", over(&sym));
    // Over-predictions become few and small: the fit runs under the points.
    assert!(over(&low) <= over(&sym) / 2, "{:?}", low.residuals);
    assert!(worst(&low) < 0.2 * worst(&sym), "{} vs {}", worst(&low), worst(&sym));
    let bad = FitOptions { overestimate_penalty: 0.0, ..base };
    assert!(matches!(fit(&law, &obs, &bad), Err(FitError::Options { .. })));
}
