//! A results directory shared by a ViT and a T5 experiment: `report`, `fit` and `analyse`
//! refuse the mix with an error that names both families and the `--family` flags, and with
//! `--family` use exactly that family's records. Records come from a fake executor (the loss
//! follows a known law), so no training runs.

use std::path::Path;
use std::process::{Command, Output};

use sparse_scaling::experiment::{ExperimentFile, Point};
use sparse_scaling::runner::{self, RunOptions};

use crate::runner_support::{text, KnownLaw};

const VIT: &str = r#"(
    name: "mixed-vit",
    model: (family: Vit, sizes: Widths([32, 64, 128])),
    sparsity: [0.0, 0.5, 0.75],
    steps: [20, 40, 80],
    analysis: (starts: 4, n_unit: 1e3),
)"#;

const T5: &str = r#"(
    name: "mixed-t5",
    model: (family: T5, sizes: Widths([32, 64])),
    sparsity: [0.0, 0.5],
    steps: [20, 40],
)"#;

/// Runs both experiments into one results directory; returns (ViT points, T5 points).
fn mixed_dir(dir: &Path) -> (Vec<Point>, Vec<Point>) {
    let mut opts = RunOptions::new(dir);
    opts.progress = false;
    let mut out = Vec::new();
    for (name, text) in [("vit.ron", VIT), ("t5.ron", T5)] {
        std::fs::write(dir.join(name), text).unwrap();
        let pts = ExperimentFile::from_str(name, text).unwrap().expand().unwrap();
        runner::run(name, &pts, Path::new("."), &KnownLaw, &opts).unwrap();
        out.push(pts);
    }
    let t5 = out.pop().unwrap();
    let vit = out.pop().unwrap();
    (vit, t5)
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sparse-scaling")).args(args).output().unwrap()
}

/// The command fails cleanly (status 2, no panic) and its error names both families and both
/// `--family` flags.
fn assert_mixed_error(args: &[&str]) {
    let o = cli(args);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?} should fail\nstdout: {out}\nstderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for needle in ["several model families", "vit, t5", "`--family vit`", "`--family t5`"] {
        assert!(err.contains(needle), "{args:?}: error lacks {needle:?}:\n{err}");
    }
}

/// Rows of `report/points.csv`: (family column, hash column).
fn csv_rows(dir: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("report").join("points.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let fam = header.iter().position(|h| *h == "family").unwrap();
    let hash = header.iter().position(|h| *h == "hash").unwrap();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[fam].to_string(), cells[hash].to_string())
        })
        .collect()
}

fn sorted_hashes(points: &[Point]) -> Vec<String> {
    let mut h: Vec<String> = points.iter().map(|p| p.hash.clone()).collect();
    h.sort();
    h
}

#[test]
fn report_selects_one_family_and_refuses_a_mix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (vit, t5) = mixed_dir(dir);
    let d = dir.to_str().unwrap();

    // no filter: refused before anything is written
    assert_mixed_error(&["report", d]);
    assert!(!dir.join("report").exists(), "a refused report must not write files");

    for (flag, family, points) in [("t5", "t5", &t5), ("vit", "vit", &vit)] {
        let o = cli(&["report", d, "--family", flag]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "report --family {flag}: {err}");
        let rows = csv_rows(dir);
        assert!(rows.iter().all(|(f, _)| f == family), "--family {flag} kept other families: {rows:?}");
        let mut hashes: Vec<String> = rows.into_iter().map(|(_, h)| h).collect();
        hashes.sort();
        assert_eq!(hashes, sorted_hashes(points), "--family {flag}: not exactly the family's points");
        let md = std::fs::read_to_string(dir.join("report").join("points.md")).unwrap();
        let other = if family == "vit" { "| t5 |" } else { "| vit |" };
        assert!(!md.contains(other), "points.md of --family {flag} has {other} rows:\n{md}");
        assert!(out.contains("points.csv"), "{out}");
    }

    // with the ViT experiment's analysis over every record: the fit uses only the ViT points
    let exp = dir.join("vit.ron");
    let e = exp.to_str().unwrap();
    assert_mixed_error(&["report", d, "--experiment", e, "--all"]);
    let o = cli(&["report", d, "--experiment", e, "--all", "--family", "vit"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains(&format!("to {} points", vit.len())), "{out}");
    assert!(dir.join("report").join("fit.json").exists());

    // a family without records: the error names what the directory has
    let only_vit = tempfile::tempdir().unwrap();
    let mut opts = RunOptions::new(only_vit.path());
    opts.progress = false;
    runner::run("vit", &vit, Path::new("."), &KnownLaw, &opts).unwrap();
    let o = cli(&["report", only_vit.path().to_str().unwrap(), "--family", "t5"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no t5 records") && err.contains("`--family vit`"), "{err}");
}

#[test]
fn fit_and_analyse_select_one_family() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (vit, t5) = mixed_dir(dir);
    let d = dir.to_str().unwrap();

    assert_mixed_error(&["fit", d, "--starts", "2"]);
    for (flag, n) in [("vit", vit.len()), ("t5", t5.len())] {
        let o = cli(&["fit", d, "--family", flag, "--n-unit", "1e3", "--starts", "4"]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "fit --family {flag}: {err}");
        assert!(out.contains(&format!("({n} points)")), "fit --family {flag}:\n{out}");
    }
    // T5 records are fitted with D in steps (the ViT ones in examples)
    let o = cli(&["fit", d, "--family", "t5", "--starts", "2"]);
    assert!(text(&o).0.contains("D = steps/1e5"), "{}", text(&o).0);

    // analyse with given coefficients takes its reference sizes from the directory
    let params = ["--law", "paper-normalised", "--params", "0.5,0.8,1.5,0.25,0.6,0.3,0.7"];
    let mut args = vec!["analyse", d];
    args.extend(params);
    assert_mixed_error(&args);
    args.extend(["--family", "vit"]);
    let o = cli(&args);
    assert!(o.status.success(), "analyse --family vit: {}", text(&o).1);

    // --family is for results directories only
    let csv = dir.join("points.csv");
    std::fs::write(&csv, "S,N,D,loss\n0,1,1,3\n0.5,2,1,2.5\n0,3,2,2\n0.5,4,2,1.8\n").unwrap();
    let o = cli(&["fit", csv.to_str().unwrap(), "--family", "vit"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--family applies to results directories"), "{err}");
}
