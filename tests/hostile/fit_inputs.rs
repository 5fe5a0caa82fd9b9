//! Hostile inputs of `fit` and `compare`: damaged CSV files (empty, header only, NaN, text in a
//! numeric column, ragged rows, a BOM, bytes that are not UTF-8, values that overflow), paths
//! that are not CSV files, and formulas in every flag that takes one (`--law`, `--var`,
//! `--loss`, `--weight`, `--holdout`): 50 000 terms, deep nesting, division by zero, unknown
//! names, mistyped built-in names, out-of-range options.

use std::path::{Path, PathBuf};

use crate::harness::Case;

/// A clean CSV of 27 points following a known law of (S, N, D).
pub fn base_csv() -> String {
    let mut s = String::from("S,N,D,loss\n");
    for &sp in &[0.0, 0.5, 0.75] {
        for &n in &[1.0, 2.0, 4.0] {
            for &d in &[1.0, 2.0, 4.0] {
                let loss =
                    (0.5 * (1.0_f64 - sp).powf(0.8) + 1.5) * f64::powf(n, -0.25) + 0.6 * f64::powf(d, -0.3) + 0.7;
                s.push_str(&format!("{sp},{n},{d},{loss}\n"));
            }
        }
    }
    s
}

/// Broken CSV files: (name, bytes, column or other name a message may give, accepted is fine).
fn broken_csvs() -> Vec<(&'static str, Vec<u8>, &'static str, bool)> {
    let base = base_csv();
    let mut rows: Vec<String> = base.lines().map(String::from).collect();
    let with_row = |i: usize, row: &str| {
        let mut r = rows.clone();
        r[i] = row.to_string();
        r.join("\n") + "\n"
    };
    let mut out = vec![
        ("empty", vec![], "", false),
        ("header only", b"S,N,D,loss\n".to_vec(), "", false),
        ("one row", format!("{}\n{}\n", rows[0], rows[1]).into_bytes(), "", false),
        ("NaN loss", with_row(5, "0,2,2,NaN").into_bytes(), "loss", false),
        ("inf N", with_row(5, "0,inf,2,2.5").into_bytes(), "N", false),
        ("text in a numeric column", with_row(5, "0,two,2,2.5").into_bytes(), "N", false),
        ("empty cell", with_row(5, "0,,2,2.5").into_bytes(), "N", false),
        ("ragged row", with_row(5, "0,2,2").into_bytes(), "", false),
        ("extra field", with_row(5, "0,2,2,2.5,9").into_bytes(), "", false),
        ("overflowing value", with_row(5, "0,1e400,2,2.5").into_bytes(), "N", false),
        ("negative N", with_row(5, "0,-2,2,2.5").into_bytes(), "N", false),
        ("zero loss", with_row(5, "0,2,2,0").into_bytes(), "loss", true),
        ("bom", [b"\xEF\xBB\xBF".as_slice(), base.as_bytes()].concat(), "", true),
        ("not utf-8", with_row(5, "0,2\u{1},2,2.5").replace('\u{1}', "\u{0}").into_bytes(), "", false),
        ("crlf", base.replace('\n', "\r\n").into_bytes(), "", true),
        ("semicolons", base.replace(',', ";").into_bytes(), "", false),
        (
            "quoted numbers",
            base.lines()
                .map(|l| l.split(',').map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(","))
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
            "",
            true,
        ),
        ("missing loss column", base.replacen("loss", "val", 1).into_bytes(), "loss", false),
        ("duplicate column", base.replacen("D,loss", "N,loss", 1).into_bytes(), "N", false),
        (
            "all rows identical",
            {
                let r = rows[1].clone();
                (std::iter::once(rows[0].clone()).chain(std::iter::repeat(r).take(26)))
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes()
            },
            "",
            false,
        ),
    ];
    let mut latin1 = base.clone().into_bytes();
    let at = latin1.iter().position(|&b| b == b'\n').unwrap() + 3;
    latin1[at] = 0xFF;
    out.push(("byte 0xFF", latin1, "", false));
    rows.truncate(1);
    out
}

/// The cases; their files are written into `dir`.
pub fn cases(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let csv = dir.join("base.csv");
    std::fs::write(&csv, base_csv()).unwrap();
    let quick: [&dyn crate::harness::AsRefOs; 4] = [&"--starts", &"2", &"--max-iter", &"200"];
    for (i, (name, bytes, column, fine)) in broken_csvs().into_iter().enumerate() {
        let file_name = format!("csv-{i:02}.csv");
        let path = dir.join(&file_name);
        std::fs::write(&path, bytes).unwrap();
        let mut args: Vec<&dyn crate::harness::AsRefOs> = vec![&"fit", &path];
        args.extend(quick);
        let names: Vec<&str> = [file_name.as_str(), column].into_iter().filter(|s| !s.is_empty()).collect();
        let c = Case::new("fit", format!("fit {file_name} ({name})"), &args, &names);
        cases.push(if fine { c.either() } else { c });
    }
    // paths that are not CSV files; a folder named like a CSV must not get a `points/` folder
    let folder = dir.join("folder.csv");
    std::fs::create_dir_all(&folder).unwrap();
    for (name, path) in [
        ("missing file", dir.join("missing.csv")),
        ("a folder named like a CSV", folder),
        ("/dev/null", PathBuf::from("/dev/null")),
    ] {
        let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
        let shown = path.display().to_string();
        cases.push(Case::new("fit", format!("fit {name}"), &[&"fit", &path, &"--starts", &"2"], &[&file_name, &shown]));
    }

    let long_sum = format!("a{}", "+N".repeat(50_000));
    let long_product = format!("a*N{}", "*N".repeat(50_000));
    let deep = format!("a*{}N{}", "(".repeat(10_000), ")".repeat(10_000));
    let deep_minus = format!("a*{}N", "-".repeat(10_000));
    let deep_pow = format!("a*N{}", "^N".repeat(10_000));
    // (flag, value, accepted is fine)
    let flags: Vec<(&str, String, bool)> = vec![
        ("--law", String::new(), false),
        ("--law", "a+".into(), false),
        ("--law", "((((".into(), false),
        ("--law", long_sum.clone(), false),
        ("--law", long_product.clone(), false),
        ("--law", deep.clone(), false),
        ("--law", deep_minus.clone(), false),
        ("--law", deep_pow.clone(), false),
        ("--law", "a/0 + b*N^(-c)".into(), false),
        ("--law", "a*foo(N) + b".into(), false),
        ("--law", "paper-normalized".into(), false),
        ("--law", "chinchila".into(), false),
        ("--law", "N".into(), false),
        ("--law", "a*X^(-b) + c".into(), false),
        ("--law", "1e999*N + a".into(), false),
        ("--law", "a**N".into(), false),
        ("--law", "a*N^(-b) + c +".into(), false),
        ("--law", "a*Ñ".into(), false),
        ("--var", "N=N/0".into(), false),
        ("--var", "bad".into(), false),
        ("--var", "=N".into(), false),
        ("--var", "N=".into(), false),
        ("--var", "N=nocolumn".into(), false),
        ("--var", "Q=N".into(), true), // an extra variable a --holdout condition may use
        ("--var", format!("N={long_sum}"), false),
        ("--loss", "nocolumn".into(), false),
        ("--loss", "loss/0".into(), false),
        ("--loss", long_sum.clone(), false),
        ("--weight", "-1".into(), false),
        ("--weight", "nocolumn".into(), false),
        ("--weight", "0".into(), false),
        ("--holdout", "N >".into(), false),
        ("--holdout", "nocolumn > 1".into(), false),
        ("--holdout", "N > 1e9".into(), false),
        ("--holdout", "N >= 0".into(), false),
        ("--holdout", format!("N > {long_sum}"), false),
        ("--cv", "nocolumn".into(), false),
        ("--huber-delta", "-1".into(), false),
        ("--huber-delta", "NaN".into(), false),
        ("--huber-delta", "0".into(), false),
        ("--starts", "0".into(), false),
        ("--starts", "-1".into(), false),
        ("--starts", "1e3".into(), false),
        ("--confidence", "2".into(), false),
        ("--confidence", "NaN".into(), false),
        ("--max-iter", "0".into(), true),
        ("--bootstrap", "1".into(), true),
        ("--n-unit", "0".into(), false),
        ("--d-unit", "-1".into(), false),
        ("--family", "vits".into(), false),
        ("--preset", "t5-papre".into(), false),
        ("--preset", "t5-paper".into(), false),
        ("--seed", "-1".into(), false),
        ("--overestimate-penalty", "NaN".into(), false),
        ("--json", "/nonexistent-dir/fit.json".into(), false),
        ("--plot", "/nonexistent-dir/fit.svg".into(), false),
        ("--lw", "a".into(), false),
    ];
    for (flag, value, fine) in flags {
        let shown: String = value.chars().take(40).collect();
        let mut args: Vec<&dyn crate::harness::AsRefOs> = vec![&"fit", &csv, &flag, &value];
        args.extend(quick);
        // the culprit is the flag, the file the flag's expression is about, or a path given
        let mut names = vec![flag, "base.csv"];
        if value.starts_with('/') {
            names.push(&value);
        }
        let c = Case::new("fit", format!("fit {flag} {shown}"), &args, &names);
        cases.push(if fine { c.either() } else { c });
    }
    for law in [&long_sum, "a+", "paper-normalized"] {
        let shown: String = law.chars().take(40).collect();
        cases.push(Case::new(
            "fit",
            format!("compare paper-normalised {shown}"),
            &[
                &"compare",
                &csv,
                &"--law",
                &"paper-normalised",
                &"--law",
                &law,
                &"--cv",
                &"D",
                &"--starts",
                &"2",
                &"--max-iter",
                &"200",
            ],
            &["--law"],
        ));
    }
    cases.push(Case::new("fit", "fit without a file", &[&"fit"], &["<FILE>", "FILE"]));
    cases
}
