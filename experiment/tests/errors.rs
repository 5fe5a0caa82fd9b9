//! Malformed and invalid experiment files: every error names the file, line and column and
//! says how to fix the problem.

use sparse_scaling_experiment::{ExperimentError, ExperimentFile};

fn load(src: &str) -> Result<ExperimentFile, ExperimentError> {
    ExperimentFile::from_str("exp.ron", src)
}

fn validate(src: &str) -> ExperimentError {
    let f = load(src).expect("parses");
    f.validate().expect_err("must be invalid")
}

const GOOD: &str = r#"(
    name: "ok",
    model: (family: Vit, sizes: Widths([32, 64]), heads: 4),
    sparsity: [0.0, 0.5, 0.75],
    pruning: [Gmp(), NM(n: 2, m: 4)],
    steps: [100, 200],
    analysis: (law: "paper"),
)"#;

#[test]
fn good_file_is_valid() {
    let f = load(GOOD).unwrap();
    f.validate().unwrap();
    // 2 widths × (dense + gmp@.5 + 2:4@.5 + gmp@.75) × 2 lengths
    assert_eq!(f.expand().unwrap().len(), 2 * 4 * 2);
}

#[test]
fn syntax_error_has_position_and_fix() {
    let src = "(\n    name: \"x\"\n    model: (family: Vit, sizes: Widths([32])),\n    steps: [10],\n)";
    let err = load(src).unwrap_err();
    match &err {
        ExperimentError::Syntax { line, column, fix, .. } => {
            assert_eq!(*line, 3, "{err}");
            assert!(*column >= 5, "{err}");
            assert!(fix.contains(','), "fix should mention the missing comma: {err}");
        }
        other => panic!("expected a syntax error, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.starts_with("exp.ron:3:"), "{msg}");
    assert!(msg.contains("fix:"), "{msg}");
}

#[test]
fn unknown_field_is_named_with_position_and_alternatives() {
    let src = "(\n  name: \"x\",\n  model: (family: Vit, sizes: Widths([32])),\n  stepz: [10],\n)";
    let err = load(src).unwrap_err();
    let msg = err.to_string();
    match &err {
        ExperimentError::Syntax { line, fix, .. } => {
            assert_eq!(*line, 4, "{msg}");
            assert!(fix.contains("stepz") && fix.contains("steps"), "{msg}");
        }
        other => panic!("expected a syntax error, got {other}"),
    }
    // nested unknown field (deny_unknown_fields everywhere)
    let src = "(name: \"x\", model: (family: Vit, sizes: Widths([32]), dept: 2), steps: [10])";
    let msg = load(src).unwrap_err().to_string();
    assert!(msg.contains("exp.ron:1:") && msg.contains("dept") && msg.contains("depth"), "{msg}");
    // unknown pruning method lists the valid ones
    let src = "(name: \"x\", model: (family: Vit, sizes: Widths([32])), pruning: [Magnitude()], steps: [10])";
    let msg = load(src).unwrap_err().to_string();
    assert!(msg.contains("Magnitude") && msg.contains("Gmp") && msg.contains("NM"), "{msg}");
}

#[test]
fn sparsity_one_is_rejected_at_its_position() {
    let src = "(\n  name: \"x\",\n  model: (family: Vit, sizes: Widths([32])),\n  sparsity: [0.0,\n     1.0],\n  steps: [10],\n)";
    let err = validate(src);
    let issue = &err.issues()[0];
    assert_eq!(issue.field, "sparsity[1]");
    assert_eq!((issue.line, issue.column), (5, 6));
    assert!(issue.fix.contains("below 1"));
    let msg = err.to_string();
    assert!(msg.contains("exp.ron:5:6"), "{msg}");
    // negative and NaN-free checks too
    let err = validate("(name: \"x\", model: (family: Vit, sizes: Widths([32])), sparsity: [-0.1], steps: [10])");
    assert_eq!(err.issues()[0].field, "sparsity[0]");
}

#[test]
fn nm_group_not_dividing_a_width() {
    let src = "(\n  name: \"x\",\n  model: (family: Vit, sizes: Widths([32, 36]), heads: 2),\n  sparsity: [0.625],\n  pruning: [NM(n: 3,\n    m: 8)],\n  steps: [10],\n)";
    let err = validate(src);
    let issues = err.issues();
    assert_eq!(issues.len(), 1, "{err}");
    assert_eq!(issues[0].field, "pruning[0].m");
    assert_eq!((issues[0].line, issues[0].column), (6, 5));
    assert!(issues[0].problem.contains("36"), "{err}");
    assert!(issues[0].fix.contains("divides"), "{err}");
}

#[test]
fn n_not_below_m_and_unmatched_level() {
    let err = validate("(name: \"x\", model: (family: Vit, sizes: Widths([32])), sparsity: [0.5], pruning: [NM(n: 4, m: 4)], steps: [10])");
    assert!(err.issues().iter().any(|i| i.field == "pruning[0].n" && i.problem.contains("0 < n < m")), "{err}");
    let err = validate("(name: \"x\", model: (family: Vit, sizes: Widths([32])), sparsity: [0.75], pruning: [NM(n: 2, m: 4)], steps: [10])");
    assert!(err.issues()[0].fix.contains("add 0.5"), "{err}");
}

#[test]
fn empty_axes_are_rejected() {
    for (src, field) in [
        ("(name: \"x\", model: (family: Vit, sizes: Widths([32])), steps: [])", "steps"),
        ("(name: \"x\", model: (family: Vit, sizes: Widths([])), steps: [10])", "model.sizes"),
        ("(name: \"x\", model: (family: Vit, sizes: Widths([32])), sparsity: [], steps: [10])", "sparsity"),
        ("(name: \"x\", model: (family: Vit, sizes: Widths([32])), seeds: [], steps: [10])", "seeds"),
        ("(name: \"x\", model: (family: Vit, sizes: Widths([32])), pruning: [], steps: [10])", "pruning"),
    ] {
        let err = validate(src);
        let i = err.issues().iter().find(|i| i.field == field).unwrap_or_else(|| panic!("{field}: {err}"));
        assert!(i.problem.contains("empty"), "{err}");
        assert_eq!(i.line, 1);
        assert!(i.column > 1, "{field} should be located: {err}");
        assert!(err.to_string().contains("fix:"));
    }
}

#[test]
fn heads_schedule_and_law_problems() {
    let err = validate("(name: \"x\", model: (family: Vit, sizes: Widths([30]), heads: 4), steps: [10])");
    assert!(err.issues().iter().any(|i| i.field == "model.sizes[0]" && i.problem.contains("heads")), "{err}");
    let err = validate("(name: \"x\", model: (family: Vit, sizes: Widths([32])), sparsity: [0.5], pruning: [Gmp(start: Fraction(0.8), end: Fraction(0.5))], steps: [100])");
    assert!(err.issues().iter().any(|i| i.field == "pruning[0].start" && i.problem.contains("start < end")), "{err}");
    let err = validate("(name: \"x\", model: (family: Vit, sizes: Widths([32])), sparsity: [0.5], pruning: [Gmp(end: Step(500))], steps: [100])");
    assert!(err.issues().iter().any(|i| i.problem.contains("end ≤ steps")), "{err}");
    let err = validate(
        "(name: \"x\", model: (family: Vit, sizes: Widths([32])), steps: [100], analysis: (law: \"(a*(1-S\"))",
    );
    assert!(err.issues().iter().any(|i| i.field == "analysis.law"), "{err}");
    let err = validate(
        "(name: \"x\", model: (family: Vit, sizes: Widths([32])), steps: [100], analysis: (cost: \"6*N*D*Q\"))",
    );
    assert!(err.issues().iter().any(|i| i.field == "analysis.cost" && i.problem.contains('Q')), "{err}");
    let err = validate(
        "(name: \"x\", model: (family: Vit, sizes: Widths([32]), vit: (image_size: 10, patch_size: 4)), steps: [100])",
    );
    assert!(err.issues().iter().any(|i| i.field == "model.vit.patch_size"), "{err}");
}

#[test]
fn missing_file_and_missing_field() {
    let err = ExperimentFile::load("/nonexistent/exp.ron").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/exp.ron"));
    let err = load("(name: \"x\", model: (family: Vit, sizes: Widths([32])))").unwrap_err();
    assert!(err.to_string().contains("steps"), "{err}");
}

#[test]
fn experiments_in_repo_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../experiments");
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut n = 0;
    for e in rd.flatten() {
        if e.path().extension().is_some_and(|x| x == "ron") {
            let f = ExperimentFile::load(e.path()).unwrap_or_else(|err| panic!("{err}"));
            let pts = f.expand().unwrap_or_else(|err| panic!("{err}"));
            assert!(!pts.is_empty());
            n += 1;
        }
    }
    assert!(n >= 5, "expected the experiment files in experiments/");
}

#[test]
fn data_must_exist_and_match_the_family() {
    let err = validate(
        "(name: \"x\", model: (family: Vit, sizes: Widths([32])), steps: [10],\n data: JsonLines(path: \"c4.jsonl\"))",
    );
    assert!(err.issues().iter().any(|i| i.field == "data" && i.problem.contains("T5")), "{err}");
    let i = err.issues().iter().find(|i| i.field == "data.path").expect("missing file reported");
    assert_eq!(i.line, 2, "{err}");
    let err = validate(
        "(name: \"x\", model: (family: T5, sizes: Widths([32])), steps: [10], data: ImageFolder(path: \"/\"))",
    );
    assert!(err.issues().iter().any(|i| i.field == "data" && i.problem.contains("ViT")), "{err}");
    assert!(!err.issues().iter().any(|i| i.field == "data.path"), "{err}");
}

#[test]
fn decoder_shape_problems_have_positions() {
    let src = "(\n  name: \"x\",\n  model: (family: Decoder, sizes: Widths([32]),\n    decoder: (vocab: 256,\n      seq_len: 0)),\n  steps: [10],\n)";
    let err = validate(src);
    let issues = err.issues();
    assert_eq!(issues.len(), 2, "{err}");
    let vocab = issues.iter().find(|i| i.field == "model.decoder.vocab").expect("vocabulary reported");
    assert_eq!((vocab.line, vocab.column), (4, 15), "{err}");
    assert!(vocab.problem.contains("256") && vocab.fix.contains("vocab: 384"), "{err}");
    let len = issues.iter().find(|i| i.field == "model.decoder.seq_len").expect("sequence length reported");
    assert_eq!((len.line, len.column), (5, 7), "{err}");
    assert!(err.to_string().contains("exp.ron:5:7"), "{err}");
    // the defaults (vocabulary 384, 64 tokens) are valid
    load("(name: \"x\", model: (family: Decoder, sizes: Widths([32])), steps: [10])").unwrap().validate().unwrap();
}

#[test]
fn decoder_and_other_family_shapes_do_not_mix() {
    let err = validate("(name: \"x\", model: (family: Decoder, sizes: Widths([32]),\n t5: (), vit: ()), steps: [10])");
    let fields: Vec<&str> = err.issues().iter().map(|i| i.field.as_str()).collect();
    assert_eq!(fields, ["model.t5", "model.vit"], "{err}");
    assert!(err.issues().iter().all(|i| i.line == 2 && i.problem.contains("decoder model")), "{err}");
    for family in ["Vit", "T5"] {
        let err = validate(&format!(
            "(name: \"x\", model: (family: {family}, sizes: Widths([32]),\n decoder: (seq_len: 8)), steps: [10])"
        ));
        let i = &err.issues()[0];
        assert_eq!((i.field.as_str(), i.line, i.column), ("model.decoder", 2, 2), "{err}");
        assert!(i.fix.contains("family: Decoder"), "{err}");
    }
    // an unknown field of the decoder shape is a syntax error with the alternatives
    let err =
        load("(name: \"x\", model: (family: Decoder, sizes: Widths([32]), decoder: (input_len: 8)), steps: [10])")
            .unwrap_err();
    assert!(err.to_string().contains("seq_len"), "{err}");
}

#[test]
fn decoder_refuses_image_data() {
    let err = validate(
        "(name: \"x\", model: (family: Decoder, sizes: Widths([32])), steps: [10], data: ImageFolder(path: \"/\"))",
    );
    assert!(err.issues().iter().any(|i| i.field == "data" && i.problem.contains("decoder")), "{err}");
}
