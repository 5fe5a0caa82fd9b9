//! Hostile inputs of `analyse`: a fit file written by `fit --json`, edited — each field
//! removed, given the wrong type, null, a huge or negative number; its formulas replaced by
//! 50 000 terms, a syntax error or a division by zero; the file cut short, emptied, prefixed
//! with a BOM, given bytes that are not UTF-8 — and `analyse`'s own flags given bad values.

use std::path::Path;

use serde_json::Value;

use crate::harness::{AsRefOs, Case, BIN};

/// Writes a fit of `csv` to `json` with the real binary.
fn write_fit(csv: &Path, json: &Path) {
    let o = std::process::Command::new(BIN)
        .args(["fit".as_ref(), csv.as_os_str(), "--starts".as_ref(), "2".as_ref(), "--json".as_ref(), json.as_os_str()])
        .output()
        .unwrap();
    assert!(o.status.success(), "the base fit: {}", String::from_utf8_lossy(&o.stderr));
}

/// Every (path of keys, value) of objects in `v`, depth first, arrays left whole.
fn fields(v: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    if let Value::Object(m) = v {
        for (k, x) in m {
            path.push(k.clone());
            out.push((path.clone(), x.clone()));
            fields(x, path, out);
            path.pop();
        }
    }
}

fn edit(v: &Value, path: &[String], new: Option<Value>) -> Value {
    let mut v = v.clone();
    let mut at = &mut v;
    for k in &path[..path.len() - 1] {
        at = at.get_mut(k).unwrap();
    }
    let m = at.as_object_mut().unwrap();
    match new {
        Some(x) => {
            m.insert(path[path.len() - 1].clone(), x);
        }
        None => {
            m.remove(&path[path.len() - 1]);
        }
    }
    v
}

/// The cases; their files are written into `dir` (`base_csv` is the CSV the base fit is of).
pub fn cases(dir: &Path, base_csv: &Path) -> Vec<Case> {
    let fit = dir.join("fit.json");
    write_fit(base_csv, &fit);
    let text = std::fs::read_to_string(&fit).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let mut all = Vec::new();
    fields(&value, &mut Vec::new(), &mut all);
    let long_sum = format!("a{}", "+N".repeat(50_000));

    // (name, bytes, field, accepted is fine)
    let mut files: Vec<(String, Vec<u8>, String, bool)> = Vec::new();
    for (path, old) in &all {
        let key = path.join(".");
        let last = path[path.len() - 1].clone();
        let json = |v: &Value| serde_json::to_vec_pretty(v).unwrap();
        files.push((format!("{key} removed"), json(&edit(&value, path, None)), last.clone(), true));
        let wrong = if old.is_string() { Value::from(42) } else { Value::from("x") };
        // a string where null was is the right type for an optional text field
        let fine = old.is_null();
        files.push((format!("{key} of the wrong type"), json(&edit(&value, path, Some(wrong))), last.clone(), fine));
        if old.is_number() {
            for (what, x, fine) in
                [("-1", Value::from(-1), true), ("1e308", Value::from(1e308), true), ("null", Value::Null, true)]
            {
                files.push((format!("{key} = {what}"), json(&edit(&value, path, Some(x))), last.clone(), fine));
            }
        }
        if let Value::Array(a) = old {
            if a.iter().all(Value::is_number) && !a.is_empty() {
                let short = Value::from(a[..a.len() - 1].to_vec());
                files.push((format!("{key} one short"), json(&edit(&value, path, Some(short))), last.clone(), false));
                let nulls = Value::from(vec![Value::Null; a.len()]);
                files.push((format!("{key} all null"), json(&edit(&value, path, Some(nulls))), last.clone(), true));
            }
        }
        if let Value::String(s) = old {
            // a formula (a law, a cost model): replace it
            // (`fit.law` is the fit's display copy of the law, never read back)
            if sparse_scaling::law::parse(s).is_ok() && s.chars().any(|c| "+*^".contains(c)) && key != "fit.law" {
                for (what, f) in
                    [("50 000 terms", long_sum.as_str()), ("a syntax error", "a+"), ("a division by zero", "a/0 + N")]
                {
                    files.push((
                        format!("{key} with {what}"),
                        json(&edit(&value, path, Some(Value::from(f)))),
                        last.clone(),
                        false,
                    ));
                }
            }
        }
    }
    files.push((
        "an unknown field".into(),
        text.replacen('{', "{\"colour\": 1,", 1).into_bytes(),
        "colour".into(),
        false,
    ));
    files.push(("empty".into(), vec![], String::new(), false));
    files.push(("{}".into(), b"{}".to_vec(), String::new(), false));
    files.push(("[]".into(), b"[]".to_vec(), String::new(), false));
    files.push(("a NaN literal".into(), text.replacen(": ", ": NaN, \"x\": ", 1).into_bytes(), String::new(), false));
    files.push(("a BOM".into(), [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(), String::new(), true));
    let mut latin1 = text.clone().into_bytes();
    let q = latin1.iter().position(|&b| b == b'"').unwrap();
    latin1[q + 1] = 0xE9;
    files.push(("a byte that is not UTF-8".into(), latin1, String::new(), false));
    for k in 1..10 {
        files.push((format!("cut at {k}0%"), text.as_bytes()[..text.len() * k / 10].to_vec(), String::new(), false));
    }

    let mut cases = Vec::new();
    for (i, (name, bytes, field, fine)) in files.into_iter().enumerate() {
        let file_name = format!("fit-{i:03}.json");
        let path = dir.join(&file_name);
        std::fs::write(&path, bytes).unwrap();
        let names: Vec<&str> = [file_name.as_str(), field.as_str()].into_iter().filter(|s| !s.is_empty()).collect();
        let c = Case::new("analyse", format!("analyse {file_name} ({name})"), &[&"analyse", &path], &names);
        cases.push(if fine { c.either() } else { c });
    }

    // analyse's own flags, on the intact fit
    let flags: Vec<(&str, String, bool)> = vec![
        ("--cost", long_sum.replace('a', "6*N*D")[..].into(), false),
        ("--cost", "6*N*D/0".into(), false),
        ("--cost", "-6*N*D".into(), false),
        ("--cost", "Q*N".into(), false),
        ("--cost", "N*".into(), false),
        ("--nbar", "N+".into(), false),
        ("--budgets", "-1".into(), false),
        ("--budgets", "0".into(), false),
        ("--budgets", "NaN".into(), false),
        ("--budgets", "1e400".into(), false),
        ("--sizes", "-1".into(), false),
        ("--sizes", "x".into(), false),
        ("--sizes", "-1,10".into(), false),
        ("--params", "-1,1,1,1,1,1,1".into(), false),
        ("--sparsity", "1.5".into(), false),
        ("--sparsity", "1".into(), false),
        ("--params", "1,2".into(), false),
        ("--params", "NaN,1,1,1,1,1,1".into(), false),
        ("--predict", "a,b,c".into(), false),
        ("--predict", "0.5,1".into(), false),
        ("--predict", "1.5,10,1".into(), false),
        ("--reference", "1".into(), false),
        ("--reference", "-1,-1".into(), false),
        ("--plot-contours", "/nonexistent-dir/c.svg".into(), false),
        ("--json", "/nonexistent-dir/a.json".into(), false),
        ("--save-fit", "/nonexistent-dir/f.json".into(), false),
    ];
    for (flag, value, fine) in flags {
        let shown: String = value.chars().take(40).collect();
        let args: Vec<&dyn AsRefOs> = vec![&"analyse", &fit, &flag, &value];
        let mut names = vec![flag];
        if value.starts_with('/') {
            names.push(&value);
        }
        let c = Case::new("analyse", format!("analyse fit.json {flag} {shown}"), &args, &names);
        cases.push(if fine { c.either() } else { c });
    }
    cases.push(Case::new(
        "analyse",
        "analyse a missing fit file",
        &[&"analyse", &dir.join("nofit.json")],
        &["nofit.json"],
    ));
    cases.push(Case::new(
        "analyse",
        "analyse a folder",
        &[&"analyse", &dir.to_path_buf()],
        &[&dir.display().to_string()],
    ));
    cases
}
