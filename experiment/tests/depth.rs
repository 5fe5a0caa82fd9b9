//! Depth as an axis: `depth: [2, 4, 6]` expands like widths, a single number keeps every hash,
//! and each depth is its own shape key.

use std::collections::BTreeSet;

use sparse_scaling_experiment::{Experiment, ExperimentFile, Point, ShapeKey};

fn points(src: &str) -> Vec<Point> {
    Experiment::from_ron_str(src).unwrap().expand().unwrap()
}

fn hashes(src: &str) -> Vec<String> {
    points(src).into_iter().map(|p| p.hash).collect()
}

const BASE: &str = r#"(
    name: "h",
    model: (family: Vit, sizes: Widths([32, 64]), heads: 4),
    sparsity: [0.0, 0.5],
    steps: [100],
    seeds: [0],
)"#;

#[test]
fn a_single_depth_keeps_every_hash() {
    // `depth: 2` (the default), `depth: [2]` and no depth at all are the same points
    let reference = hashes(BASE);
    assert_eq!(hashes(&BASE.replace("heads: 4", "heads: 4, depth: 2")), reference);
    assert_eq!(hashes(&BASE.replace("heads: 4", "heads: 4, depth: [2]")), reference);
    assert_eq!(hashes(&BASE.replace("heads: 4", "heads: 4, depth: Some(2)")), reference);
    // a single other depth is the list of that one depth
    assert_eq!(
        hashes(&BASE.replace("heads: 4", "heads: 4, depth: 4")),
        hashes(&BASE.replace("heads: 4", "heads: 4, depth: [4]"))
    );
}

#[test]
fn a_depth_list_is_a_product_axis_with_one_key_per_depth() {
    let src = BASE.replace("heads: 4", "heads: 4, depth: [2, 4, 6]");
    let pts = points(&src);
    assert_eq!(pts.len(), 3 * 2 * 2, "depths × widths × sparsities");
    let dims: Vec<(usize, usize, f64)> =
        pts.iter().map(|p| (p.spec.dims.depth, p.spec.dims.width, p.spec.sparsity)).collect();
    assert_eq!(&dims[..5], &[(2, 32, 0.0), (2, 32, 0.5), (2, 64, 0.0), (2, 64, 0.5), (4, 32, 0.0)]);
    assert_eq!(dims[11], (6, 64, 0.5));
    // the points at depth 2 are exactly those of the file without a depth list
    assert_eq!(pts[..4].iter().map(|p| p.hash.clone()).collect::<Vec<_>>(), hashes(BASE));
    // every hash differs, and each (depth, width) is its own shape key
    let unique: BTreeSet<&str> = pts.iter().map(|p| p.hash.as_str()).collect();
    assert_eq!(unique.len(), pts.len());
    let keys: BTreeSet<ShapeKey> = pts.iter().map(|p| ShapeKey::of(&p.spec)).collect();
    assert_eq!(keys.len(), 6);
    let depths: BTreeSet<usize> = keys
        .iter()
        .map(|k| match *k {
            ShapeKey::Vit { depth, .. } => depth,
            other => panic!("not a ViT key: {other}"),
        })
        .collect();
    assert_eq!(depths, BTreeSet::from([2, 4, 6]));
    // N grows with depth at the same width
    assert_eq!(pts[4].spec.prunable_params(), 2 * pts[0].spec.prunable_params());
    // the RON round trip keeps the list
    let e = Experiment::from_ron_str(&src).unwrap();
    assert_eq!(Experiment::from_ron_str(&e.to_ron()).unwrap(), e);
}

#[test]
fn zip_pairs_depths_element_by_element() {
    let src = BASE.replace("heads: 4", "heads: 4, depth: [2, 6]").replace("seeds: [0]", "axes: Zip");
    let pts = points(&src);
    let dims: Vec<(usize, usize, f64)> =
        pts.iter().map(|p| (p.spec.dims.depth, p.spec.dims.width, p.spec.sparsity)).collect();
    assert_eq!(dims, [(2, 32, 0.0), (6, 64, 0.5)]);
    // a depth list of another length is an error naming the depth field
    let bad = BASE
        .replace("Widths([32, 64]), heads: 4", "Widths([32, 48, 64]), heads: 4, depth: [2, 4]")
        .replace("seeds: [0]", "axes: Zip");
    let err = Experiment::from_ron_str(&bad).unwrap().expand().unwrap_err();
    let issue = err.issues().iter().find(|i| i.field == "model.depth").unwrap_or_else(|| panic!("{err}"));
    assert!(issue.problem.contains("has 2 entries") && issue.fix.contains("give it 3 entries"), "{err}");
}

#[test]
fn derived_and_nonzero_sizes_resolve_per_depth() {
    // Derived: the width follows sparsity at every depth
    let src = r#"(name: "d", model: (family: Vit, sizes: Widths([32]), depth: [2, 4]), sparsity: [0.0, 0.75],
        steps: [10], axes: Derived)"#;
    let dims: Vec<(usize, usize)> = points(src).iter().map(|p| (p.spec.dims.depth, p.spec.dims.width)).collect();
    assert_eq!(dims, [(2, 32), (2, 64), (4, 32), (4, 64)]);
    // NonZero: the same N at every depth, so deeper models are narrower
    let src = r#"(name: "n", model: (family: Vit, sizes: NonZero([4e5]), depth: [2, 8]), steps: [10])"#;
    let pts = points(src);
    assert_eq!(pts.len(), 2);
    let (shallow, deep) = (&pts[0].spec, &pts[1].spec);
    assert_eq!((shallow.dims.depth, deep.dims.depth), (2, 8));
    assert!(deep.dims.width < shallow.dims.width, "{} vs {}", deep.dims.width, shallow.dims.width);
    for s in [shallow, deep] {
        assert!((s.nonzero_params() / 4e5 - 1.0).abs() < 0.35, "N = {} at depth {}", s.nonzero_params(), s.dims.depth);
    }
}

#[test]
fn bad_depths_are_errors_at_their_position() {
    let src = "(\n  name: \"x\",\n  model: (family: Vit, sizes: Widths([32]),\n    depth: [2, 0]),\n  steps: [10],\n)";
    let err = ExperimentFile::from_str("exp.ron", src).unwrap().validate().unwrap_err();
    let issue = err.issues().iter().find(|i| i.field == "model.depth[1]").unwrap_or_else(|| panic!("{err}"));
    assert_eq!((issue.line, issue.column), (4, 16), "{err}");
    assert!(issue.problem.contains("depth 0"), "{err}");
    let err =
        Experiment::from_ron_str(&BASE.replace("heads: 4", "heads: 4, depth: []")).unwrap().validate().unwrap_err();
    assert!(err.issues().iter().any(|i| i.field == "model.depth" && i.problem.contains("empty")), "{err}");
    let err =
        Experiment::from_ron_str(&BASE.replace("heads: 4", "heads: 4, depth: 0")).unwrap().validate().unwrap_err();
    assert!(err.issues().iter().any(|i| i.field == "model.depth" && i.problem.contains("depth 0")), "{err}");
    // a depth that is neither a number nor a list says what it takes
    let err = Experiment::from_ron_str(&BASE.replace("heads: 4", "heads: 4, depth: \"deep\"")).unwrap_err();
    assert!(err.to_string().contains("a list of them such as `[2, 4, 6]`"), "{err}");
}

#[test]
fn the_cifar_example_expands_to_cifar_shaped_keys() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../experiments/cifar_vit.ron");
    let file = ExperimentFile::load(path).unwrap();
    let pts = file.expand().unwrap();
    assert_eq!(pts.len(), 3 * 3 * 2, "3 widths × 3 sparsities × 2 lengths");
    let keys: BTreeSet<ShapeKey> = pts.iter().map(|p| ShapeKey::of(&p.spec)).collect();
    let expected: BTreeSet<ShapeKey> = [64, 128, 192]
        .map(|width| ShapeKey::Vit {
            width,
            mlp_width: 4 * width,
            depth: 6,
            patch_values: 4 * 4 * 3,
            patches: (32 / 4) * (32 / 4),
            classes: 10,
        })
        .into_iter()
        .collect();
    assert_eq!(keys, expected);
    let unique: BTreeSet<&str> = pts.iter().map(|p| p.hash.as_str()).collect();
    assert_eq!(unique.len(), pts.len());
    assert_eq!(pts.iter().map(|p| p.spec.steps).max(), Some(120));
}
