//! Values that parse but would fail later are rejected by validation, with their position and
//! a fix: non-finite or out-of-range optimizer and schedule values, training lengths above
//! `MAX_STEPS`, non-positive sizes, and points above `MAX_POINT_BYTES` of memory (issue 12,
//! part 3).

use sparse_scaling_experiment::{ExperimentError, ExperimentFile, MemoryEstimate, MAX_POINT_BYTES, MAX_STEPS};

const BASE: &str = "(\n  name: \"x\",\n  model: (family: Vit, sizes: Widths([32])),\n  steps: [10],\n  EXTRA\n)";

fn file(extra: &str) -> ExperimentFile {
    ExperimentFile::from_str("exp.ron", &BASE.replace("EXTRA", extra)).expect("parses")
}

fn invalid(extra: &str) -> ExperimentError {
    file(extra).validate().expect_err(extra)
}

/// The one issue of `extra`, checked to sit at `field` on line 5 (where `extra` is written).
fn one_issue(extra: &str, field: &str) -> sparse_scaling_experiment::Issue {
    let err = invalid(extra);
    let issues = err.issues();
    assert_eq!(issues.len(), 1, "{extra}: {err}");
    assert_eq!(issues[0].field, field, "{err}");
    assert_eq!(issues[0].line, 5, "{err}");
    assert!(err.to_string().contains("exp.ron:5:"), "{err}");
    issues[0].clone()
}

#[test]
fn non_finite_optimizer_and_schedule_values_are_rejected() {
    for (extra, field) in [
        ("optimizer: AdamW(weight_decay: inf),", "optimizer.weight_decay"),
        ("optimizer: AdamW(weight_decay: NaN),", "optimizer.weight_decay"),
        ("optimizer: AdamW(lr: inf),", "optimizer.lr"),
        ("optimizer: AdamW(eps: inf),", "optimizer.eps"),
        ("optimizer: AdamW(beta1: NaN),", "optimizer.beta1"),
        ("optimizer: Adafactor(clip_threshold: inf),", "optimizer.clip_threshold"),
        ("optimizer: Adafactor(scale: inf),", "optimizer.scale"),
        ("lr_schedule: (grad_clip: inf),", "lr_schedule.grad_clip"),
        ("lr_schedule: (min_lr_ratio: NaN),", "lr_schedule.min_lr_ratio"),
        ("analysis: (huber_delta: inf),", "analysis.huber_delta"),
        ("analysis: (n_unit: inf),", "analysis.n_unit"),
    ] {
        let i = one_issue(extra, field);
        assert!(i.problem.contains("not a finite number"), "{extra}: {}", i.problem);
        assert!(i.fix.starts_with("use"), "{extra}: {}", i.fix);
    }
}

#[test]
fn out_of_range_optimizer_values_are_rejected() {
    for (extra, field, range) in [
        ("optimizer: AdamW(lr: -1e-3),", "optimizer.lr", "positive"),
        ("optimizer: AdamW(beta1: 1.0),", "optimizer.beta1", "[0, 1)"),
        ("optimizer: AdamW(beta2: -0.1),", "optimizer.beta2", "[0, 1)"),
        ("optimizer: AdamW(weight_decay: -0.1),", "optimizer.weight_decay", "0 or positive"),
        ("optimizer: Adafactor(decay_exponent: 1.5),", "optimizer.decay_exponent", "(0, 1]"),
    ] {
        let i = one_issue(extra, field);
        assert!(i.problem.contains("outside its range") && i.problem.contains(range), "{extra}: {}", i.problem);
    }
    // decoupled decay at lr·λ ≥ 1 would zero every weight in one step
    let i = one_issue("optimizer: AdamW(lr: 0.1, weight_decay: 10.0),", "optimizer.weight_decay");
    assert!(i.problem.contains("lr × weight_decay") && i.fix.contains("1/lr"), "{}", i.problem);
    file("optimizer: AdamW(lr: 0.1, weight_decay: 9.0),").validate().unwrap();
}

#[test]
fn step_counts_above_the_bound_are_rejected() {
    let src = BASE.replace("steps: [10],", "steps: [10,\n    18446744073709551615],").replace("EXTRA", "");
    let err = ExperimentFile::from_str("exp.ron", &src).unwrap().validate().unwrap_err();
    let issues = err.issues();
    assert_eq!(issues.len(), 1, "{err}");
    let i = &issues[0];
    assert_eq!((i.field.as_str(), i.line, i.column), ("steps[1]", 5, 5), "{err}");
    assert!(i.problem.contains("18446744073709551615") && i.problem.contains("1000000000"), "{}", i.problem);
    assert!(i.fix.contains(&MAX_STEPS.to_string()), "{}", i.fix);
    let i = one_issue("sparsity: [0.5], pruning: [FromDense(dense_steps: 2000000000)],", "pruning[0].dense_steps");
    assert!(i.problem.contains("above the bound"), "{}", i.problem);
    // the bound itself is allowed
    let src = BASE.replace("steps: [10],", "steps: [1000000000],").replace("EXTRA", "");
    ExperimentFile::from_str("exp.ron", &src).unwrap().validate().unwrap();
}

#[test]
fn non_positive_sizes_are_rejected() {
    let i = one_issue("analysis: (s_opt_sizes: [1.0, -1.0]),", "analysis.s_opt_sizes[1]");
    assert!(i.problem.contains("-1") && i.problem.contains("positive"), "{}", i.problem);
    let i = one_issue("analysis: (s_opt_sizes: [0.0]),", "analysis.s_opt_sizes[0]");
    assert!(i.problem.contains("positive"), "{}", i.problem);
}

#[test]
fn a_point_above_the_memory_bound_names_its_estimate() {
    // The batch of issue 12: 10^12 images of 16×16×3 floats are 3.07e15 bytes on their own.
    let f = file("batch_size: 1000000000000,");
    let i = one_issue("batch_size: 1000000000000,", "batch_size");
    assert_eq!(i.column, 3);
    let point = f.experiment.expand_unchecked().remove(0);
    let estimate = MemoryEstimate::of(&point.spec);
    assert!(estimate.total() > MAX_POINT_BYTES && estimate.data >= 3.072e15, "{estimate:?}");
    assert!(i.problem.contains("needs at least") && i.problem.contains("PiB"), "{}", i.problem);
    assert!(i.problem.contains(&estimate.describe()), "{}", i.problem);
    assert!(i.fix.contains("lower `batch_size`"), "{}", i.fix);
    // a validation set too large to hold
    let i = one_issue("validation: (examples: 100000000000000),", "validation.examples");
    assert!(i.fix.contains("validation.examples"), "{}", i.fix);
    // a model too large to count in 64 bits: rejected, not overflowing
    let src = BASE.replace("Widths([32])", "Widths([1000000000])").replace("EXTRA", "");
    let err = ExperimentFile::from_str("exp.ron", &src).unwrap().validate().unwrap_err();
    assert_eq!(err.issues()[0].field, "model.sizes", "{err}");
    assert!(err.issues()[0].fix.contains("smaller `model.sizes`"), "{err}");
}

#[test]
fn the_memory_estimate_grows_with_what_a_run_holds() {
    let at = |extra: &str| MemoryEstimate::of(&file(extra).expand().unwrap()[0].spec);
    let small = at("batch_size: 32,");
    let large = at("batch_size: 64,");
    assert_eq!(small.parameters, large.parameters);
    assert_eq!(small.optimizer, large.optimizer);
    assert!((large.activations / small.activations - 2.0).abs() < 1e-12);
    // Adafactor keeps no per-weight moments
    assert_eq!(at("optimizer: Adafactor(),").optimizer, 0.0);
    // every part of the default quickstart-sized point is positive and the total adds them up
    assert!(small.parameters > 0.0 && small.activations > 0.0 && small.data > 0.0);
    assert_eq!(small.total(), small.parameters + small.optimizer + small.activations + small.data);
}
