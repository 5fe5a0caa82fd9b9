//! Every example in `experiments/` is a valid experiment: it loads, validates and expands into
//! points with distinct hashes (so a typo in an example is caught by the tests, not by a user).

use std::collections::HashSet;
use std::path::Path;

use sparse_scaling_experiment::ExperimentFile;

#[test]
fn every_example_experiment_loads_and_expands() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ron") {
            continue;
        }
        let file = ExperimentFile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let points = file.expand().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!points.is_empty(), "{} has no points", path.display());
        let hashes: HashSet<&str> = points.iter().map(|p| p.hash.as_str()).collect();
        assert_eq!(hashes.len(), points.len(), "{}: two points share a hash", path.display());
        seen += 1;
    }
    assert!(seen >= 5, "found only {seen} example experiments in {}", dir.display());
}

/// The schedule-shape study crosses three shapes at equal S and N: its sparse points differ in
/// their plan's mean density (so in N̄) but not in S or width.
#[test]
fn schedule_shapes_example_varies_mean_density_at_equal_s_and_n() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/schedule_shapes.ron");
    let points = ExperimentFile::load(&path).unwrap().expand().unwrap();
    assert_eq!(points.len(), 42);
    let at = |label: &str| {
        points
            .iter()
            .find(|p| {
                p.spec.dims.width == 48
                    && p.spec.steps == 400
                    && p.spec.sparsity == 0.75
                    && p.spec.pruning.label() == label
            })
            .unwrap_or_else(|| panic!("no `{label}` point"))
            .spec
            .pruning
            .mean_density(0.75, 400)
    };
    let (cubic, geometric, one_shot) = (at("gmp"), at("gmp+geometric"), at("gmp+one-shot"));
    assert!((cubic - (1.0 - 0.625 * 0.75)).abs() < 1e-12);
    assert!((one_shot - (1.0 - 0.75 * 0.75)).abs() < 0.01, "{one_shot}");
    assert!(geometric > cubic && cubic > one_shot, "{geometric} {cubic} {one_shot}");
}
