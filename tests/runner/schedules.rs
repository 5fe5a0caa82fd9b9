//! Schedule shapes as a declared axis, end to end (docs/THEORY.md §7): two shapes at equal
//! final S and N train to records whose N̄ differs as the shapes' closed forms say, and the
//! average-parameter law fits and is analysed on the results directory.

use std::process::Command;

use sparse_scaling::results::ResultsDir;

const EXP: &str = r#"(
    name: "shapes",
    model: (family: Vit, sizes: Widths([32, 48])),
    sparsity: [0.0, 0.75],
    pruning: [Gmp(update_every: 1), Gmp(shape: Geometric, update_every: 1), Gmp(shape: OneShot, start: Fraction(0.5))],
    steps: [60, 120],
    batch_size: 8,
    optimizer: AdamW(lr: 2e-3),
    validation: (examples: 32, every: 60),
    analysis: (law: "avg-params", starts: 8, n_unit: 1e4, d_unit: 1e2),
)"#;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
}

#[test]
fn shapes_give_the_mean_density_of_their_closed_forms_and_avg_params_fits() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("shapes.ron");
    std::fs::write(&exp, EXP).unwrap();
    let check = bin().arg("check").arg(&exp).output().unwrap();
    let listing = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{listing}{}", String::from_utf8_lossy(&check.stderr));
    for label in ["gmp+geometric", "gmp+one-shot", "gmp "] {
        assert!(listing.contains(label), "check lists the shape `{label}`:\n{listing}");
    }
    let results = dir.path().join("results");
    let out = bin()
        .arg("run")
        .arg(&exp)
        .arg("--results")
        .arg(&results)
        .args(["--no-progress", "--jobs", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    let records = ResultsDir::open(&results).unwrap().records().unwrap();
    // 2 widths × 2 lengths × (1 dense + 3 shapes)
    assert_eq!(records.len(), 16);
    let mut by_shape = std::collections::BTreeMap::<String, Vec<f64>>::new();
    for r in &records {
        let nbar = r.outcome.avg_nonzero_params.expect("every new record has N̄");
        let density = nbar / r.outcome.prunable_params as f64;
        let closed = r.spec.pruning.mean_density(r.sparsity(), r.spec.steps);
        // masks update every step, so the run follows the continuous closed form to ~1/(end − start)
        assert!(
            (density - closed).abs() < 0.03,
            "{} over {} steps: mean density {density} vs closed form {closed}",
            r.spec.pruning.label(),
            r.spec.steps
        );
        if r.sparsity() == 0.0 {
            assert_eq!(nbar, r.outcome.nonzero_params as f64, "a dense run's N̄ is its N");
        }
        if r.spec.dims.width == 48 && r.spec.steps == 120 {
            by_shape.entry(r.spec.pruning.label()).or_default().push(density);
        }
        // the final N is the same whatever the shape: N̄ is what differs
        assert!(
            (r.outcome.nonzero_params as f64 / r.outcome.prunable_params as f64 - (1.0 - r.sparsity())).abs() < 0.01
        );
    }
    let d = |k: &str| by_shape[k][0];
    // cubic 25–75 %: 1 − 0.625·S; one-shot at half way: 1 − 0.5·S; geometric keeps more early
    assert!((d("gmp") - (1.0 - 0.625 * 0.75)).abs() < 0.02, "{by_shape:?}");
    assert!((d("gmp+one-shot") - (1.0 - 0.5 * 0.75)).abs() < 0.02, "{by_shape:?}");
    assert!(d("gmp+one-shot") > d("gmp+geometric") && d("gmp+geometric") > d("gmp"), "{by_shape:?}");

    // the records expose N̄ as `Nbar`, and the average-parameter law fits and is analysed
    let fit = bin()
        .arg("fit")
        .arg(&results)
        .args(["--law", "avg-params", "--n-unit", "1e4", "--d-unit", "1e2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&fit.stdout);
    assert!(fit.status.success(), "{text}{}", String::from_utf8_lossy(&fit.stderr));
    assert!(text.contains("alpha") && text.contains("beta"), "{text}");
    // the report draws each schedule's density over training, with its mean
    let density = std::fs::read_to_string(results.join("report/density.svg")).unwrap();
    for label in ["gmp S = 0.75 (mean 0.531)", "gmp+geometric S = 0.75", "gmp+one-shot S = 0.75 (mean 0.625)"] {
        assert!(density.contains(label), "density.svg has no `{label}`");
    }
    let points = std::fs::read_to_string(results.join("report/points.csv")).unwrap();
    assert!(points.lines().next().unwrap().contains(",Nbar,"), "{points}");
    // the analysis of a law in N̄ says which relation to S and N it used
    assert!(stdout.contains("Nbar = N/(1-S)*(1-"), "{stdout}");
    assert!(stdout.contains("m(0.75) ="), "{stdout}");
}
