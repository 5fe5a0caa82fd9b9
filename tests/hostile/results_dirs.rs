//! Damaged results directories for `report`, `fit`, `compare` and `plan`: a record truncated,
//! emptied, garbage, not UTF-8, with a null or NaN loss, the wrong hash, an unknown field or
//! format, a directory in place of the file; `points/` a file or missing; the directory a file;
//! a broken `experiment.ron` copy (garbage, a 50 000-term law); `report/` a file; leftovers
//! (a dead writer's temp file, a claim of a dead process, a garbage claim). Records come from
//! a fake executor (`runner_support::KnownLaw`), not from training.

use std::path::{Path, PathBuf};

use sparse_scaling::experiment::ExperimentFile;
use sparse_scaling::runner::{self, RunOptions};
use sparse_scaling::train::progress::LineLog;

use crate::harness::Case;
use crate::runner_support::KnownLaw;

/// The experiment of the base directory: 27 points, with an analysis.
pub const EXP: &str = r#"(
    name: "hostile-results",
    model: (family: Vit, sizes: Widths([32, 64, 128])),
    sparsity: [0.0, 0.5, 0.75],
    steps: [20, 40, 80],
    analysis: (law: "paper-normalised", starts: 2, n_unit: 1e4, d_unit: 1e4),
)"#;

/// Writes a results directory with a record for every point of [`EXP`] (and its copy of the
/// experiment); returns the record files, by point index.
fn base_dir(dir: &Path) -> Vec<PathBuf> {
    let points = ExperimentFile::from_str("hostile-results.ron", EXP).unwrap().expand().unwrap();
    let mut o = RunOptions::new(dir);
    o.progress = false;
    o.log = LineLog::memory();
    runner::run("hostile-results", &points, Path::new("."), &KnownLaw, &o).unwrap();
    std::fs::write(dir.join("experiment.ron"), EXP).unwrap();
    points.iter().map(|p| dir.join("points").join(format!("{}.json", p.hash))).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn edit(p: &Path, f: impl Fn(&str) -> String) {
    let t = std::fs::read_to_string(p).unwrap();
    std::fs::write(p, f(&t)).unwrap();
}

fn loss_to(t: &str, v: &str) -> String {
    let key = "\"final_val_loss\": ";
    let at = t.find(key).unwrap() + key.len();
    let end = at + t[at..].find([',', '\n']).unwrap();
    format!("{}{v}{}", &t[..at], &t[end..])
}

/// A damage: (name, whether the directory is still readable as it is, what it does to the
/// directory given its record files).
type Damage = (&'static str, bool, fn(&Path, &[PathBuf]));

fn damages() -> Vec<Damage> {
    vec![
        ("truncated record", false, |_, r| edit(&r[1], |t| t[..t.len() / 2].into())),
        ("empty record", false, |_, r| std::fs::write(&r[1], "").unwrap()),
        ("garbage record", false, |_, r| std::fs::write(&r[1], b"\x00\x01{{ not json").unwrap()),
        ("record not UTF-8", false, |_, r| std::fs::write(&r[1], b"{\"format\": \"\xE9\"}").unwrap()),
        ("record `null`", false, |_, r| std::fs::write(&r[1], "null").unwrap()),
        ("null loss", false, |_, r| edit(&r[1], |t| loss_to(t, "null"))),
        ("NaN loss", false, |_, r| edit(&r[1], |t| loss_to(t, "NaN"))),
        ("string loss", false, |_, r| edit(&r[1], |t| loss_to(t, "\"2.5\""))),
        ("huge loss", false, |_, r| edit(&r[1], |t| loss_to(t, "1e400"))),
        ("wrong hash", false, |_, r| {
            std::fs::copy(&r[0], &r[1]).unwrap();
        }),
        ("unknown field", false, |_, r| edit(&r[1], |t| t.replacen('{', "{\"extra\": 1,", 1))),
        ("unknown format", false, |_, r| edit(&r[1], |t| t.replacen("\"format\": 1", "\"format\": 99", 1))),
        ("directory in place of a record", false, |_, r| {
            std::fs::remove_file(&r[1]).unwrap();
            std::fs::create_dir(&r[1]).unwrap();
        }),
        ("every record empty", false, |_, r| {
            for p in r {
                std::fs::write(p, "").unwrap();
            }
        }),
        ("points/ is a file", false, |d, _| {
            std::fs::remove_dir_all(d.join("points")).unwrap();
            std::fs::write(d.join("points"), "x").unwrap();
        }),
        ("no points/", false, |d, _| std::fs::remove_dir_all(d.join("points")).unwrap()),
        ("garbage experiment.ron", false, |d, _| std::fs::write(d.join("experiment.ron"), "(((garbage").unwrap()),
        ("experiment.ron with a 50 000-term law", false, |d, _| {
            let law = format!("a{}", "+N".repeat(50_000));
            edit(&d.join("experiment.ron"), |t| t.replace("\"paper-normalised\"", &format!("\"{law}\"")));
        }),
        ("experiment.ron is a directory", false, |d, _| {
            std::fs::remove_file(d.join("experiment.ron")).unwrap();
            std::fs::create_dir(d.join("experiment.ron")).unwrap();
        }),
        ("a dead writer's temp file", true, |d, r| {
            let name = r[1].file_stem().unwrap().to_string_lossy().into_owned();
            std::fs::write(d.join("points").join(format!(".{name}.999999999.1.tmp")), "").unwrap();
        }),
        ("a dead process's claim", true, |d, r| {
            let name = r[1].file_stem().unwrap().to_string_lossy().into_owned();
            let claim = r#"{"pid":999999999,"host":"localhost","time":0,"nonce":1}"#;
            std::fs::write(d.join("points").join(format!("{name}.claim")), claim).unwrap();
        }),
        ("a garbage claim", true, |d, r| {
            let name = r[1].file_stem().unwrap().to_string_lossy().into_owned();
            std::fs::write(d.join("points").join(format!("{name}.claim")), b"\xFF\x00").unwrap();
        }),
        ("a record of another experiment", true, |d, _| {
            std::fs::write(d.join("points").join("0123456789abcdef.json"), "{}").unwrap();
        }),
    ]
}

/// The cases; their directories are made in `dir`.
pub fn cases(dir: &Path) -> Vec<Case> {
    let base = dir.join("base");
    let records = base_dir(&base);
    let exp = dir.join("hostile-results.ron");
    std::fs::write(&exp, EXP).unwrap();
    let mut cases = Vec::new();
    for (i, (name, readable, damage)) in damages().into_iter().enumerate() {
        let d = dir.join(format!("results-{i:02}"));
        copy_dir(&base, &d);
        let recs: Vec<PathBuf> = records.iter().map(|r| d.join("points").join(r.file_name().unwrap())).collect();
        damage(&d, &recs);
        let hash = recs[1].file_stem().unwrap().to_string_lossy().into_owned();
        let dir_name = d.file_name().unwrap().to_string_lossy().into_owned();
        let names = [hash.as_str(), "points", "experiment.ron", dir_name.as_str()];
        let either = |c: Case| if readable { c.either() } else { c };
        cases.push(either(Case::new("results", format!("report results-{i:02} ({name})"), &[&"report", &d], &names)));
        // `fit` reads the records only, not the experiment's copy
        let either = |c: Case| {
            if readable || name.starts_with("experiment.ron") || name.contains("experiment.ron") {
                c.either()
            } else {
                c
            }
        };
        cases.push(either(Case::new(
            "results",
            format!("fit results-{i:02} ({name})"),
            &[&"fit", &d, &"--starts", &"2", &"--max-iter", &"200", &"--n-unit", &"1e4", &"--d-unit", &"1e4"],
            &names,
        )));
        cases.push(
            Case::new(
                "results",
                format!("report --skip-damaged results-{i:02} ({name})"),
                &[&"report", &d, &"--skip-damaged", &"--no-fit"],
                &names,
            )
            .either(),
        );
        cases.push(
            Case::new(
                "results",
                format!("plan --results results-{i:02} ({name})"),
                &[&"plan", &exp, &"--results", &d],
                &names,
            )
            .either(),
        );
    }
    let file = dir.join("results-file");
    std::fs::write(&file, "not a directory").unwrap();
    cases.push(Case::new("results", "report on a file", &[&"report", &file], &["results-file"]));
    cases.push(Case::new("results", "fit on a file", &[&"fit", &file], &["results-file"]));
    cases.push(Case::new("results", "report on a missing directory", &[&"report", &dir.join("nowhere")], &["nowhere"]));
    cases
}
