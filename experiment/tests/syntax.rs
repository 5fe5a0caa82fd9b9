//! Messages for malformed `.ron` text: each names the file, line and column where the mistake
//! is, says what is wrong and how to fix it (issue 12, part 5).

use sparse_scaling_experiment::{ExperimentError, ExperimentFile};

/// The error of loading `src`, and its position, message and fix.
fn syntax(src: &str) -> (usize, usize, String, String) {
    match ExperimentFile::from_str("exp.ron", src).expect_err("must not parse") {
        ExperimentError::Syntax { line, column, message, fix, .. } => (line, column, message, fix),
        other => panic!("expected a syntax error, got {other}"),
    }
}

#[test]
fn a_decimal_where_a_whole_number_is_expected_is_named() {
    let (line, column, message, fix) = syntax(
        "(\n  name: \"x\",\n  model: (family: Vit, sizes: Widths([32])),\n  steps: [10],\n  batch_size: 100.5,\n)",
    );
    assert_eq!((line, column), (5, 15), "{message}");
    assert!(
        message.contains("`100.5`") && message.contains("`batch_size`") && message.contains("whole number"),
        "{message}"
    );
    assert!(!message.contains("comma"), "{message}");
    assert!(fix.contains("`100`"), "{fix}");
    // in a list, and with an exponent
    let (line, column, message, fix) =
        syntax("(name: \"x\", model: (family: Vit, sizes: Widths([32])),\n steps: [10, 1e3])");
    assert_eq!((line, column), (2, 14), "{message}");
    assert!(message.contains("`1e3`") && message.contains("`steps`"), "{message}");
    assert!(fix.contains("`1000`"), "{fix}");
}

#[test]
fn an_unterminated_string_is_reported_where_it_opens() {
    // The string runs into the next string's opening quote; the parser then stops at `d`.
    let src = "(\n  name: \"x,\n  model: (family: Vit, sizes: Widths([32])),\n  description: \"d\",\n  steps: [10],\n)";
    let (line, column, message, fix) = syntax(src);
    assert_eq!((line, column), (2, 9), "{message}");
    assert!(message.contains("closing `\"`") && !message.starts_with("Expected comma"), "{message}");
    assert!(fix.contains('"'), "{fix}");
    // A string that runs to the end of the file.
    let src = "(\n  name: \"x\",\n  description: \"abc,\n  model: (family: Vit, sizes: Widths([32])), steps: [10])";
    let (line, column, message, _) = syntax(src);
    assert_eq!((line, column), (3, 16), "{message}");
    assert!(message.contains("never closed"), "{message}");
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let src = "\u{feff}(name: \"x\", model: (family: Vit, sizes: Widths([32])), steps: [10])";
    let f = ExperimentFile::from_str("exp.ron", src).expect("a BOM is accepted");
    assert_eq!(f.expand().unwrap().len(), 1);
    // and positions after it are those an editor shows
    let (line, column, _, _) = syntax("\u{feff}(name: \"x\" model: (family: Vit, sizes: Widths([32])), steps: [10])");
    assert_eq!((line, column), (1, 12));
}

#[test]
fn an_unclosed_block_comment_is_reported_where_it_opens() {
    let src = "(\n  name: \"x\",\n  /* sizes to try: /* small */ 32\n  model: (family: Vit, sizes: Widths([32])),\n  steps: [10],\n)\n";
    let (line, column, message, fix) = syntax(src);
    assert_eq!((line, column), (3, 3), "{message}");
    assert!(message.contains("`/*`") && message.contains("never closed"), "{message}");
    assert!(fix.contains("`*/`"), "{fix}");
}

#[test]
fn a_file_that_is_not_utf8_names_the_byte() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("latin1.ron");
    let mut bytes = b"(\n  name: \"x\",\n  description: \"caf".to_vec();
    bytes.push(0xe9); // é in Latin-1
    bytes.extend_from_slice(b"\",\n  model: (family: Vit, sizes: Widths([32])), steps: [10])");
    std::fs::write(&path, &bytes).unwrap();
    let err = ExperimentFile::load(&path).unwrap_err();
    match &err {
        ExperimentError::NotUtf8 { byte, value, line, column, .. } => {
            assert_eq!((*byte, *value, *line, *column), (34, 0xe9, 3, 20), "{err}");
        }
        other => panic!("expected NotUtf8, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("latin1.ron:3:20") && msg.contains("not UTF-8") && msg.contains("byte 34"), "{msg}");
    assert!(!msg.contains("check the path"), "{msg}");
}

#[test]
fn misspelt_names_get_a_suggestion() {
    let base = "(name: \"x\", model: (family: Vit, sizes: Widths([32])), steps: [10])";
    for (from, to, typo, suggestion) in [
        ("family: Vit", "family: Vitt", "Vitt", "`Vit`"),
        ("family: Vit", "family: decoder", "decoder", "`Decoder`"),
        ("Widths([32])", "Width([32])", "Width", "`Widths`"),
        ("Widths([32])", "NonZeros([1e4])", "NonZeros", "`NonZero`"),
        ("steps: [10]", "steps: [10], pruning: [Gpm()]", "Gpm", "`Gmp`"),
        ("steps: [10]", "steps: [10], optimizer: Adam()", "Adam", "`AdamW`"),
        ("steps: [10]", "steps: [10], optimizer: Adafctor()", "Adafctor", "`Adafactor`"),
        ("steps: [10]", "steps: [10], axes: Zipp", "Zipp", "`Zip`"),
        ("steps: [10]", "stepz: [10]", "stepz", "`steps`"),
    ] {
        let src = base.replace(from, to);
        let (_, column, message, fix) = syntax(&src);
        assert!(message.contains(&format!("`{typo}`")), "{src}: {message}");
        assert!(fix.contains(&format!("did you mean {suggestion}?")), "{src}: {message} / {fix}");
        // the position is that of the misspelt name
        assert_eq!(column, src.find(typo).unwrap() + 1, "{src}: {message}");
    }
    // no suggestion for a name far from every choice, but the choices are listed
    let (_, _, message, fix) = syntax(&base.replace("family: Vit", "family: Bert"));
    assert!(!fix.contains("did you mean") && message.contains("`Vit`, `T5`, `Decoder`"), "{message} / {fix}");
}
