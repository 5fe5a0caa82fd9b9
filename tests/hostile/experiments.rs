//! Hostile experiment files for `check` and `plan`: a valid base file with one field at a
//! time replaced by a wrong type, an out-of-range, huge or non-finite value, an unknown field
//! or a mistyped name; n:m groups that do not divide the widths, impossible sparsities, an
//! enormous batch, infinite weight decay, bad cost and law formulas (50 000 terms, deep
//! nesting, division by zero), negative budgets; and broken text — a UTF-8 BOM, bytes that are
//! not UTF-8, unterminated strings and comments, the file cut short at every tenth of its
//! length, trailing garbage — and paths that are not files.

use std::path::Path;

use crate::harness::{Case, Expect};

/// The valid base: every field present, so that each can be replaced.
pub const BASE: &str = r#"// a valid experiment; each hostile case changes one thing
(
    name: "hostile",
    description: "base of the hostile corpus",
    model: (family: Vit, sizes: Widths([32, 48]), heads: 4),
    sparsity: [0.0, 0.5],
    pruning: [Gmp(start: Fraction(0.25), end: Fraction(0.75), update_every: 10)],
    steps: [20, 40],
    batch_size: 8,
    optimizer: AdamW(lr: 2e-3, weight_decay: 1e-4),
    lr_schedule: (warmup: Fraction(0.05), min_lr_ratio: 0.0, grad_clip: 1.0),
    validation: (examples: 64, every: 10),
    seeds: [0],
    analysis: (law: "paper-normalised", huber_delta: 0.01, starts: 2, seed: 0, n_unit: 1e4, d_unit: 1e4,
        cost: "6*N*D", s_opt_budgets: [1e3], s_opt_sizes: [10.0]),
)
"#;

/// `(field shown in messages, text in BASE, replacements)`: each replacement is one case.
fn replacements() -> Vec<(&'static str, &'static str, Vec<String>)> {
    let long_sum = format!("\"a{}\"", "+N".repeat(50_000));
    let long_product = format!("\"6*N*D{}\"", "*N".repeat(50_000));
    let deep = format!("\"{}N{}\"", "(".repeat(10_000), ")".repeat(10_000));
    let deep_minus = format!("\"{}N\"", "-".repeat(10_000));
    let deep_pow = format!("\"N{}\"", "^N".repeat(10_000));
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        (
            "name",
            "name: \"hostile\"",
            strs(&["name: 42", "name: hostile", "name: [\"a\"]", "name: \"\"", "name: \"a\\u{0}b\""]),
        ),
        (
            "model",
            "model: (family: Vit, sizes: Widths([32, 48]), heads: 4)",
            strs(&[
                "model: (family: Vits, sizes: Widths([32, 48]), heads: 4)",
                "model: (family: \"Vit\", sizes: Widths([32, 48]), heads: 4)",
                "model: (family: Vit, sizes: Widths([]), heads: 4)",
                "model: (family: Vit, sizes: Widths([0]), heads: 4)",
                "model: (family: Vit, sizes: Widths([-32]), heads: 4)",
                "model: (family: Vit, sizes: Widths([32.5]), heads: 4)",
                "model: (family: Vit, sizes: Widths([18446744073709551616]), heads: 4)",
                "model: (family: Vit, sizes: Widths([18446744073709551615]), heads: 4)",
                "model: (family: Vit, sizes: Widths([1000000000]), heads: 4)",
                "model: (family: Vit, sizes: Widths([33]), heads: 4)",
                "model: (family: Vit, sizes: Widths([32, 32]), heads: 4)",
                "model: (family: Vit, sizes: Width([32]), heads: 4)",
                "model: (family: Vit, sizes: NonZero([-5.0]), heads: 4)",
                "model: (family: Vit, sizes: NonZero([inf]), heads: 4)",
                "model: (family: Vit, sizes: NonZero([NaN]), heads: 4)",
                "model: (family: Vit, sizes: NonZero([1e300]), heads: 4)",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 0)",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 5)",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 1000000)",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, mlp_ratio: 0.0)",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, mlp_ratio: -4.0)",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, mlp_ratio: NaN)",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, mlp_ratio: 1e300)",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, depth: 0)",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, depth: Axis([]))",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, depth: 100000)",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, width_multiple: 0)",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, vit: (image_size: 15, patch_size: 4))",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, vit: (patch_size: 0))",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, vit: (channels: 0))",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, vit: (classes: 0))",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, vit: (image_size: 100000))",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, decoder: (vocab: 10))",
                "model: (family: T5, sizes: Widths([32, 48]), heads: 4, vit: (classes: 10))",
                "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, colour: 1)",
            ]),
        ),
        (
            "sparsity",
            "sparsity: [0.0, 0.5]",
            strs(&[
                "sparsity: []",
                "sparsity: [1.0]",
                "sparsity: [1.5]",
                "sparsity: [-0.1]",
                "sparsity: [NaN]",
                "sparsity: [inf]",
                "sparsity: [\"0.5\"]",
                "sparsity: [0.9999999999]",
                "sparsity: 0.5",
                "sparsity: [0.5, 0.5]",
            ]),
        ),
        (
            "pruning",
            "pruning: [Gmp(start: Fraction(0.25), end: Fraction(0.75), update_every: 10)]",
            strs(&[
                "pruning: [Gmp(start: Fraction(0.9), end: Fraction(0.1), update_every: 10)]",
                "pruning: [Gmp(start: Fraction(-0.5), end: Fraction(0.75), update_every: 10)]",
                "pruning: [Gmp(start: Fraction(0.25), end: Fraction(7.0), update_every: 10)]",
                "pruning: [Gmp(start: Step(1000000), end: Step(2000000), update_every: 10)]",
                "pruning: [Gmp(update_every: 0)]",
                "pruning: [Gmp(shape: Polynomial(-3.0))]",
                "pruning: [Gmp(shape: Polynomial(NaN))]",
                "pruning: [Gmp(shape: Cubic)]",
                "pruning: [NM(n: 3, m: 5)]",
                "pruning: [NM(n: 5, m: 4)]",
                "pruning: [NM(n: 0, m: 4)]",
                "pruning: [NM(n: 2, m: 0)]",
                "pruning: [NM(n: 2, m: 64)]",
                "pruning: [Magnitude()]",
                "pruning: []",
            ]),
        ),
        (
            "steps",
            "steps: [20, 40]",
            strs(&[
                "steps: []",
                "steps: [0]",
                "steps: [-1]",
                "steps: [100.5]",
                "steps: [\"100\"]",
                "steps: [18446744073709551615]",
                "steps: [18446744073709551616]",
                "steps: [1e3]",
                "steps: [1000000000000000]",
            ]),
        ),
        (
            "batch_size",
            "batch_size: 8",
            strs(&[
                "batch_size: 0",
                "batch_size: 1000000000000",
                "batch_size: -1",
                "batch_size: 1.5",
                "batch_size: 18446744073709551615",
            ]),
        ),
        (
            "optimizer",
            "optimizer: AdamW(lr: 2e-3, weight_decay: 1e-4)",
            strs(&[
                "optimizer: AdamW(lr: 0.0)",
                "optimizer: AdamW(lr: -1.0)",
                "optimizer: AdamW(lr: inf)",
                "optimizer: AdamW(lr: NaN)",
                "optimizer: AdamW(weight_decay: inf)",
                "optimizer: AdamW(weight_decay: -1.0)",
                "optimizer: AdamW(beta1: 1.0)",
                "optimizer: AdamW(beta2: 2.0)",
                "optimizer: AdamW(eps: 0.0)",
                "optimizer: AdamW(momentum: 0.9)",
                "optimizer: Adam(lr: 1e-3)",
                "optimizer: Adafactor(scale: -1.0)",
                "optimizer: Adafactor(decay_exponent: inf)",
                "optimizer: Adafactor(clip_threshold: 0.0)",
            ]),
        ),
        (
            "lr_schedule",
            "lr_schedule: (warmup: Fraction(0.05), min_lr_ratio: 0.0, grad_clip: 1.0)",
            strs(&[
                "lr_schedule: (warmup: Fraction(2.0))",
                "lr_schedule: (warmup: Fraction(-0.1))",
                "lr_schedule: (warmup: Step(1000000))",
                "lr_schedule: (min_lr_ratio: 2.0)",
                "lr_schedule: (min_lr_ratio: -1.0)",
                "lr_schedule: (grad_clip: -1.0)",
                "lr_schedule: (grad_clip: NaN)",
                "lr_schedule: (warmup: 5)",
            ]),
        ),
        (
            "validation",
            "validation: (examples: 64, every: 10)",
            strs(&["validation: (examples: 0)", "validation: (examples: 1000000000000000)", "validation: (every: 0)"]),
        ),
        ("seeds", "seeds: [0]", strs(&["seeds: []", "seeds: [-1]", "seeds: [0.5]"])),
        (
            "data",
            "seeds: [0],",
            strs(&[
                "seeds: [0], data: ImageFolder(path: \"/nonexistent/images\"),",
                "seeds: [0], data: JsonLines(path: \"/nonexistent/text.jsonl\"),",
                "seeds: [0], data: CifarBinary(path: \"/\"),",
                "seeds: [0], data: Imagenet,",
                "seeds: [0], checkpoint_every: 0,",
                "seeds: [0], axes: Diagonal,",
                "seeds: [0], colour: \"red\",",
                "seeds: [0], seeds: [1],",
            ]),
        ),
        (
            "analysis",
            "law: \"paper-normalised\"",
            vec![
                "law: \"paper-normalized\"".into(),
                "law: \"\"".into(),
                "law: \"a+\"".into(),
                "law: \"(a*N\"".into(),
                "law: \"a/0 + b*N^(-c)\"".into(),
                "law: \"a*N^(-b) + foo(D)\"".into(),
                "law: \"1e999*N\"".into(),
                format!("law: {long_sum}"),
                format!("law: {deep}"),
                format!("law: {deep_minus}"),
                format!("law: {deep_pow}"),
                "law: 5".into(),
            ],
        ),
        (
            "analysis",
            "cost: \"6*N*D\"",
            vec![
                "cost: \"6*N*D/0\"".into(),
                "cost: \"-6*N*D\"".into(),
                "cost: \"6*N*D*log(0)\"".into(),
                "cost: \"N*\"".into(),
                "cost: \"Q*N\"".into(),
                format!("cost: {long_product}"),
            ],
        ),
        (
            "analysis",
            "huber_delta: 0.01",
            strs(&["huber_delta: -1.0", "huber_delta: NaN", "huber_delta: 0.0", "huber_delta: inf"]),
        ),
        ("analysis", "starts: 2", strs(&["starts: 0", "starts: -2", "starts: 100000000000"])),
        ("analysis", "n_unit: 1e4", strs(&["n_unit: 0.0", "n_unit: -1.0", "n_unit: NaN"])),
        ("analysis", "d_unit: 1e4", strs(&["d_unit: inf", "d_unit: 0.0"])),
        (
            "analysis",
            "s_opt_budgets: [1e3]",
            strs(&["s_opt_budgets: [-1.0]", "s_opt_budgets: [0.0]", "s_opt_budgets: [inf]", "s_opt_budgets: [NaN]"]),
        ),
        (
            "analysis",
            "s_opt_sizes: [10.0]",
            strs(&["s_opt_sizes: [-10.0]", "s_opt_sizes: [0.0]", "s_opt_sizes: [inf]"]),
        ),
    ]
}

/// Inputs that a careful tool may accept: the case passes whether it is refused clearly or
/// accepted.
const EITHER: &[&str] = &[
    "name: \"\"",
    "model: (family: Vit, sizes: Widths([32, 32]), heads: 4)",
    "sparsity: [0.9999999999]",
    "sparsity: [0.5, 0.5]",
    "pruning: [Gmp(start: Step(1000000), end: Step(2000000), update_every: 10)]",
    "steps: [1e3]",
    "optimizer: AdamW(lr: 0.0)",
    "optimizer: AdamW(beta1: 1.0)",
    "optimizer: AdamW(eps: 0.0)",
    "lr_schedule: (warmup: Step(1000000))",
    "lr_schedule: (grad_clip: -1.0)",
    "huber_delta: inf",
    "seeds: [0], checkpoint_every: 0,",
    "starts: 100000000000",
    "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, mlp_ratio: 1e300)",
    "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, vit: (image_size: 100000))",
    "model: (family: Vit, sizes: Widths([32, 48]), heads: 4, depth: 100000)",
    "model: (family: Vit, sizes: Widths([32, 48]), heads: 1000000)",
    "validation: (examples: 1000000000000000)",
    "sparsity: [1.0]",
    "pruning: [NM(n: 2, m: 64)]",
    "name: \"a\\u{0}b\"",
    "model: (family: Vit, sizes: Widths([1000000000]), heads: 4)",
    "model: (family: Vit, sizes: Widths([18446744073709551615]), heads: 4)",
    "model: (family: Vit, sizes: NonZero([1e300]), heads: 4)",
    "steps: [1000000000000000]",
    "steps: [18446744073709551615]",
    "batch_size: 1000000000000",
    "batch_size: 18446744073709551615",
];

/// Broken text: (name, bytes).
fn broken_texts() -> Vec<(String, Vec<u8>)> {
    let base = BASE.as_bytes();
    let mut out: Vec<(String, Vec<u8>)> = vec![
        ("bom".into(), [b"\xEF\xBB\xBF".as_slice(), base].concat()),
        ("empty".into(), vec![]),
        ("whitespace-only".into(), b"  \n\t\n".to_vec()),
        ("unit".into(), b"()".to_vec()),
        ("json-instead".into(), br#"{"name": "hostile", "steps": [10]}"#.to_vec()),
        ("toml-instead".into(), b"name = \"hostile\"\nsteps = [10]\n".to_vec()),
        ("unterminated-string".into(), BASE.replacen("\"hostile\"", "\"hostile", 1).into_bytes()),
        ("unterminated-description".into(), BASE.replacen("corpus\"", "corpus", 1).into_bytes()),
        ("unterminated-block-comment".into(), BASE.replacen("    seeds:", "    /* seeds:", 1).into_bytes()),
        ("unterminated-comment-at-start".into(), format!("/* {BASE}").into_bytes()),
        ("missing-comma".into(), BASE.replacen("batch_size: 8,", "batch_size: 8", 1).into_bytes()),
        ("missing-closing-paren".into(), BASE.trim_end().trim_end_matches(')').as_bytes().to_vec()),
        ("trailing-garbage".into(), format!("{BASE}\nextra stuff here").into_bytes()),
        ("duplicate-field".into(), BASE.replacen("batch_size: 8,", "batch_size: 8, batch_size: 16,", 1).into_bytes()),
        (
            "deep-brackets".into(),
            BASE.replacen("[0.0, 0.5]", &format!("{}0.5{}", "[".repeat(5000), "]".repeat(5000)), 1).into_bytes(),
        ),
        ("deep-parens".into(), BASE.replacen("(family:", &format!("{}(family:", "(".repeat(5000)), 1).into_bytes()),
        ("megabyte-name".into(), BASE.replacen("\"hostile\"", &format!("\"{}\"", "x".repeat(1 << 20)), 1).into_bytes()),
        ("nul-bytes".into(), BASE.replacen("batch_size", "batch\0size", 1).into_bytes()),
        ("crlf".into(), BASE.replace('\n', "\r\n").into_bytes()),
    ];
    // bytes that are not UTF-8: in the middle, and at the start
    let mut latin1 = base.to_vec();
    let at = BASE.find("base of").unwrap();
    latin1[at + 1] = 0xE9;
    out.push(("not-utf8-in-a-string".into(), latin1));
    out.push(("not-utf8-at-start".into(), [b"\xFF\xFE".as_slice(), base].concat()));
    // seeded garbage
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    out.push(("random-bytes".into(), garbage));
    // cut short at every tenth of the file
    for k in 1..10 {
        let cut = BASE.len() * k / 10;
        let cut = (0..=cut).rev().find(|&c| BASE.is_char_boundary(c)).unwrap();
        out.push((format!("cut-at-{k}0pc"), base[..cut].to_vec()));
    }
    out
}

/// The cases; their files are written into `dir`.
pub fn cases(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let results = dir.join("plan-results");
    let mut n = 0;
    let mut add = |name: String, bytes: Vec<u8>, field: &str, expect: Expect, plan: bool| {
        n += 1;
        let file_name = format!("exp-{n:03}.ron");
        let path = dir.join(&file_name);
        std::fs::write(&path, bytes).unwrap();
        let mut names = vec![file_name.clone()];
        if !field.is_empty() {
            names.push(field.to_string());
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut c = Case::new("ron", format!("check {file_name} ({name})"), &[&"check", &path], &names);
        c.expect = expect;
        cases.push(c);
        if plan {
            let mut c = Case::new(
                "ron",
                format!("plan {file_name} ({name})"),
                &[&"plan", &path, &"--results", &results],
                &names,
            );
            c.expect = expect;
            cases.push(c);
        }
    };
    for (field, original, variants) in replacements() {
        assert!(BASE.contains(original), "{original} is in the base");
        for v in variants {
            let expect = if EITHER.contains(&v.as_str()) { Expect::Either } else { Expect::Reject };
            let shown: String = v.chars().take(70).collect();
            // `plan` lays points out without reading data
            let plan = v.len() < 100 && field != "analysis" && !v.contains("data:");
            add(shown, BASE.replacen(original, &v, 1).into_bytes(), field, expect, plan);
        }
    }
    for (name, bytes) in broken_texts() {
        // a BOM, Windows line ends and a long name are fine
        let fine = ["crlf", "bom", "megabyte-name"].contains(&name.as_str());
        let expect = if fine { Expect::Either } else { Expect::Reject };
        add(name, bytes, "", expect, false);
    }
    // paths that are not experiment files
    for (name, path) in [
        ("missing file", dir.join("does-not-exist.ron")),
        ("a directory", dir.to_path_buf()),
        ("/dev/null", "/dev/null".into()),
    ] {
        let shown = path.display().to_string();
        let file_name = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or(shown.clone());
        cases.push(Case::new("ron", format!("check {name}"), &[&"check", &path], &[&file_name, &shown]));
    }
    cases
}
