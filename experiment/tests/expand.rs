//! Expansion into points and the stability of their content hashes.

use proptest::prelude::*;
use sparse_scaling_experiment::{Experiment, PruningPlan};

const BASE: &str = r#"(
    name: "h",
    model: (family: Vit, sizes: Widths([32, 64]), heads: 4),
    sparsity: [0.0, 0.5],
    steps: [100],
    seeds: [0],
)"#;

fn hashes(src: &str) -> Vec<String> {
    Experiment::from_ron_str(src).unwrap().expand().unwrap().into_iter().map(|p| p.hash).collect()
}

#[test]
fn hash_ignores_formatting_order_comments_and_defaults() {
    let reference = hashes(BASE);
    let reformatted = r#"// a comment
    (steps:[100],seeds:[0], /* inline */ sparsity:[0.0,5e-1],
     model:(heads:4, sizes:Widths([32,64]), family:Vit, depth: 2, mlp_ratio: 4.0),
     name:"renamed", description: "names are not hashed",
     pruning: [Gmp(start: Fraction(0.25), end: Fraction(0.75), update_every: 100)],
     checkpoint_every: 7)"#;
    assert_eq!(hashes(reformatted), reference);
}

#[test]
fn hash_changes_with_every_real_change() {
    let reference = hashes(BASE);
    let variants = [
        BASE.replace("steps: [100]", "steps: [101]"),
        BASE.replace("seeds: [0]", "seeds: [1]"),
        BASE.replace("heads: 4", "heads: 8"),
        BASE.replace("heads: 4", "heads: 4, depth: 3"),
        BASE.replace("heads: 4", "heads: 4, mlp_ratio: 2.0"),
        BASE.replace("seeds: [0]", "seeds: [0], batch_size: 16"),
        BASE.replace("seeds: [0]", "seeds: [0], optimizer: AdamW(lr: 2e-3)"),
        BASE.replace("seeds: [0]", "seeds: [0], lr_schedule: (min_lr_ratio: 0.1)"),
        BASE.replace("seeds: [0]", "seeds: [0], validation: (examples: 128)"),
        BASE.replace("seeds: [0]", "seeds: [0], data: ImageFolder(path: \"imgs\")"),
        BASE.replace("family: Vit", "family: Vit, vit: (classes: 100)"),
    ];
    for v in &variants {
        let h = hashes(v);
        assert_eq!(h.len(), reference.len(), "{v}");
        for (a, b) in h.iter().zip(&reference) {
            assert_ne!(a, b, "a real change must change every hash: {v}");
        }
    }
    // pruning schedule changes only the sparse points
    let h = hashes(&BASE.replace("seeds: [0]", "seeds: [0], pruning: [Gmp(update_every: 10)]"));
    assert_eq!(h[0], reference[0], "dense point unaffected by the pruning schedule");
    assert_ne!(h[1], reference[1]);
}

#[test]
fn hash_is_pinned() {
    // Changing what the hash covers invalidates every results directory; bump HASH_VERSION
    // deliberately and update this value when that is intended.
    let p = &Experiment::from_ron_str(BASE).unwrap().expand().unwrap()[0];
    assert_eq!(p.hash.len(), 16);
    assert_eq!(p.hash, PINNED, "canonical form: {}", p.spec.canonical_json());
}
const PINNED: &str = "981c87a649a96852";

#[test]
fn product_zip_and_dedup() {
    let e = Experiment::from_ron_str(BASE).unwrap();
    let pts = e.expand().unwrap();
    assert_eq!(pts.len(), 4);
    assert!(pts.iter().enumerate().all(|(i, p)| p.index == i));
    assert_eq!(pts[0].spec.pruning, PruningPlan::Dense);
    assert!(matches!(pts[1].spec.pruning, PruningPlan::Gmp { start: 25, end: 75, update_every: 100, .. }));
    assert!(pts[1].spec.pruning.shape().is_cubic());
    // dense points are shared between pruning methods
    let src = BASE.replace("steps: [100]", "steps: [100], pruning: [Gmp(), FromDense(dense_steps: 50)]");
    assert_eq!(hashes(&src).len(), 2 * (1 + 2));
    // zip pairs element-wise, broadcasting length-1 lists
    let src = BASE.replace("seeds: [0]", "seeds: [0], axes: Zip");
    let pts = Experiment::from_ron_str(&src).unwrap().expand().unwrap();
    assert_eq!(pts.len(), 2);
    assert_eq!((pts[0].spec.dims.width, pts[0].spec.sparsity), (32, 0.0));
    assert_eq!((pts[1].spec.dims.width, pts[1].spec.sparsity), (64, 0.5));
    let src = BASE.replace("sparsity: [0.0, 0.5]", "sparsity: [0.0, 0.5, 0.75]").replace("seeds: [0]", "axes: Zip");
    let err = Experiment::from_ron_str(&src).unwrap().expand().unwrap_err();
    assert!(err.to_string().contains("Zip"), "{err}");
}

#[test]
fn derived_axes_keep_n_constant() {
    let src = r#"(name: "d", model: (family: Vit, sizes: Widths([32, 48])), sparsity: [0.0, 0.75], steps: [10], axes: Derived)"#;
    let pts = Experiment::from_ron_str(src).unwrap().expand().unwrap();
    let widths: Vec<usize> = pts.iter().map(|p| p.spec.dims.width).collect();
    assert_eq!(widths, [32, 64, 48, 96]);
    assert_eq!(pts[0].spec.nonzero_params(), pts[1].spec.nonzero_params());
    // non-zero targets: total size N/(1 − S), N approximately constant
    let src = r#"(name: "n", model: (family: T5, sizes: NonZero([2e5])), sparsity: [0.0, 0.5, 0.75], steps: [10])"#;
    let pts = Experiment::from_ron_str(src).unwrap().expand().unwrap();
    for p in &pts {
        let n = p.spec.nonzero_params();
        assert!((n / 2e5 - 1.0).abs() < 0.35, "N = {n} at S = {}", p.spec.sparsity);
        assert_eq!(p.spec.dims.width % 16, 0);
        assert_eq!(p.target_nonzero, Some(2e5));
    }
    assert!(pts[2].spec.dims.width > pts[0].spec.dims.width);
}

#[test]
fn nm_points_pair_with_their_level() {
    let src = r#"(name: "nm", model: (family: Vit, sizes: Widths([32])), sparsity: [0.0, 0.5, 0.75],
        pruning: [Gmp(), NM(n: 2, m: 4), NM(n: 4, m: 8), NM(n: 1, m: 4)], steps: [10])"#;
    let pts = Experiment::from_ron_str(src).unwrap().expand().unwrap();
    let labels: Vec<(f64, String)> = pts.iter().map(|p| (p.spec.sparsity, p.spec.pruning.label())).collect();
    assert_eq!(
        labels,
        [(0.0, "dense"), (0.5, "gmp"), (0.5, "2:4"), (0.5, "4:8"), (0.75, "gmp"), (0.75, "1:4")]
            .map(|(s, l)| (s, l.to_string()))
    );
}

#[test]
fn roundtrip_through_ron_keeps_hashes() {
    let e = Experiment::from_ron_str(BASE).unwrap();
    let again = Experiment::from_ron_str(&e.to_ron()).unwrap();
    assert_eq!(again, e);
    assert_eq!(hashes(&e.to_ron()), hashes(BASE));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn hashes_are_unique_and_deterministic(steps in 1u64..10_000, seed in 0u64..1000, lr in 1e-5f64..1e-1) {
        let src = format!(r#"(name: "p", model: (family: T5, sizes: Widths([32, 48])), sparsity: [0.0, 0.5],
            steps: [{steps}, {}], seeds: [{seed}], optimizer: AdamW(lr: {lr:e}))"#, steps + 1);
        let a = hashes(&src);
        prop_assert_eq!(&a, &hashes(&src));
        let mut u = a.clone();
        u.sort();
        u.dedup();
        prop_assert_eq!(u.len(), a.len());
    }
}

#[test]
fn decoder_points_count_tokens_and_leave_other_hashes_alone() {
    use sparse_scaling_experiment::{Family, ShapeKey};
    let src = r#"(name: "lm", model: (family: Decoder, sizes: Widths([32, 64]), decoder: (seq_len: 16)),
        sparsity: [0.0, 0.5], steps: [100], batch_size: 8)"#;
    let pts = Experiment::from_ron_str(src).unwrap().expand().unwrap();
    assert_eq!(pts.len(), 4);
    let s = &pts[3].spec;
    assert_eq!(s.family, Family::Decoder);
    assert_eq!((s.dims.width, s.dims.mlp_width), (64, 160), "the gated MLP's default ratio 2.5");
    assert_eq!(s.prunable_params(), 2 * (4 * 64 * 64 + 3 * 64 * 160));
    assert_eq!(s.nonzero_params(), 0.5 * s.prunable_params() as f64);
    assert_eq!(s.data_seen(), 100.0 * 8.0 * 16.0, "D in tokens: steps × batch × seq_len");
    assert_eq!(ShapeKey::of(s), ShapeKey::Decoder { width: 64, mlp_width: 160, depth: 2, heads: 4, vocab: 384 });
    assert_eq!(ShapeKey::of(s).to_string(), "decoder width 64 (MLP width 160), depth 2, 4 heads, vocabulary 384");
    assert!(s.canonical_json().contains(r#""decoder":{"seq_len":16,"vocab":384}"#), "{}", s.canonical_json());
    // the sequence length is part of the hash
    assert_ne!(hashes(src), hashes(&src.replace("seq_len: 16", "seq_len: 32")));
    // ViT and T5 specs serialise without a `decoder` key, so their hashes are unchanged
    let t5 = r#"(name: "t", model: (family: T5, sizes: Widths([32])), steps: [10])"#;
    for spec in [BASE, t5].map(|s| Experiment::from_ron_str(s).unwrap().expand().unwrap()[0].spec.clone()) {
        assert!(!spec.canonical_json().contains("decoder"), "{}", spec.canonical_json());
    }
}

/// Schedule shapes are declared per pruning method, travel with the plan and change the hash —
/// except the default cubic one, which keeps the hashes of files written before shapes existed.
#[test]
fn schedule_shapes_are_an_axis_of_the_plan_and_the_hash() {
    use sparse_scaling_experiment::ScheduleShape;
    let exp = |pruning: &str| {
        let src = format!(
            r#"(name: "s", model: (family: Vit, sizes: Widths([32])), sparsity: [0.0, 0.75], pruning: [{pruning}], steps: [1000])"#
        );
        Experiment::from_ron_str(&src).unwrap().expand().unwrap()
    };
    let hash = |pruning: &str| exp(pruning)[1].hash.clone();
    let cubic = hash("Gmp()");
    assert_eq!(hash("Gmp(shape: Polynomial(3.0))"), cubic, "cubic is the default, in the hash as before");
    assert_ne!(hash("Gmp(shape: Geometric)"), cubic);
    assert_ne!(hash("Gmp(shape: Polynomial(2.0))"), cubic);
    assert_eq!(hash("Gmp(shape: Linear)"), hash("Gmp(shape: Polynomial(1.0))"), "linear is power 1: one form");
    let geo = exp("Gmp(shape: Geometric, start: Fraction(0.1), end: Fraction(0.9), update_every: 20)");
    assert_eq!(geo[1].spec.pruning.shape(), ScheduleShape::Geometric);
    assert_eq!(geo[1].spec.pruning.schedule(), Some((100, 900, 20)));
    assert_eq!(geo[1].spec.pruning.label(), "gmp+geometric");
    let one = exp("Gmp(shape: OneShot, start: Step(300))");
    assert_eq!(one[1].spec.pruning.schedule(), Some((300, 301, 100)), "one-shot: the whole target at `start`");
    let nm = exp("NM(n: 1, m: 4, shape: Linear)");
    assert_eq!(nm[1].spec.pruning.label(), "1:4+linear");
    let fd = exp("FromDense(dense_steps: 50, shape: Geometric)");
    assert_eq!(fd[1].spec.pruning.shape(), ScheduleShape::Geometric);
    // the dense point of every method is the same point
    assert_eq!(exp("Gmp(shape: Geometric)")[0].hash, exp("Gmp()")[0].hash);
    // a polynomial needs a positive power
    let bad = r#"(name: "s", model: (family: Vit, sizes: Widths([32])), sparsity: [0.5], pruning: [Gmp(shape: Polynomial(0.0))], steps: [100])"#;
    let err = Experiment::from_ron_str(bad).unwrap().expand().unwrap_err().to_string();
    assert!(err.contains("pruning[0].shape") && err.contains("Polynomial(3.0)"), "{err}");
    // one-shot at the last step is fine, after it is not
    let late = r#"(name: "s", model: (family: Vit, sizes: Widths([32])), sparsity: [0.5], pruning: [Gmp(shape: OneShot, start: Step(100))], steps: [100])"#;
    assert!(Experiment::from_ron_str(late).unwrap().expand().is_err());
}

/// The closed-form mean density of each shape against a numerical integral of its s(p).
#[test]
fn mean_density_is_the_integral_of_the_shape() {
    use sparse_scaling_experiment::ScheduleShape;
    for shape in [ScheduleShape::CUBIC, ScheduleShape::Polynomial(1.5), ScheduleShape::Linear, ScheduleShape::Geometric]
    {
        for s in [0.3, 0.75, 0.95] {
            let n = 100_000;
            let integral: f64 = (0..n).map(|i| shape.sparsity(s, (i as f64 + 0.5) / n as f64)).sum::<f64>() / n as f64;
            assert!((shape.ramp_mean_sparsity(s) - integral).abs() < 1e-6, "{shape:?} at {s}");
        }
    }
    let cubic = PruningPlan::Gmp { shape: ScheduleShape::CUBIC, start: 250, end: 750, update_every: 1 };
    for s in [0.5, 0.75, 0.875] {
        assert!((cubic.mean_density(s, 1000) - (1.0 - 0.625 * s)).abs() < 1e-12);
    }
}
