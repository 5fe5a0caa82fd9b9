//! The README's main command in miniature: `run` on an experiment with an analysis trains
//! every point, fits the law, prints coefficients, fit quality and S_opt, and writes the
//! report; `report <dir>` regenerates it from the records alone.

use std::process::Command;

const EXP: &str = r#"(
    name: "e2e",
    model: (family: Vit, sizes: Widths([32, 48])),
    sparsity: [0.0, 0.5],
    pruning: [Gmp(update_every: 5)],
    steps: [20, 40],
    batch_size: 8,
    optimizer: AdamW(lr: 2e-3),
    validation: (examples: 32, every: 10),
    analysis: (law: "paper-normalised", starts: 8, n_unit: 1e4, d_unit: 1e2),
)"#;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
}

#[test]
fn run_fits_analyses_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("e2e.ron");
    std::fs::write(&exp, EXP).unwrap();
    let results = dir.path().join("results");
    let out = bin()
        .arg("run")
        .arg(&exp)
        .arg("--results")
        .arg(&results)
        .args(["--no-progress", "--jobs", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("trained 8"), "{stdout}");
    for needle in
        ["fit of `(a*(1 - S)^b + c)", "a = ", "g = ", "objective", "R² =", "m(0.75) =", "optimal sparsity S_opt(N, C)"]
    {
        assert!(stdout.contains(needle), "missing `{needle}` in:\n{stdout}");
    }
    let report = results.join("report");
    for f in [
        "points.csv",
        "points.md",
        "curves.svg",
        "loss_vs_n.svg",
        "fit.json",
        "fit.md",
        "predicted_vs_measured.svg",
        "dense_equivalent.svg",
        "s_opt.md",
        "s_opt_contours.svg",
    ] {
        let p = report.join(f);
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if f.ends_with(".svg") {
            assert!(text.starts_with("<svg") && text.contains("</svg>"), "{f}");
        }
    }
    let csv = std::fs::read_to_string(report.join("points.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 8);
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("fit.json")).unwrap()).unwrap();
    assert_eq!(fit["params"].as_array().unwrap().len(), 7);

    // report from the records alone (settings from the experiment kept in the results dir)
    std::fs::remove_dir_all(&report).unwrap();
    let out = bin().arg("report").arg(&results).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("objective") && report.join("s_opt_contours.svg").exists(), "{stdout}");
    // a directory that is not a results directory
    let out = bin().arg("report").arg(dir.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a results directory"));
}
