//! Issue 12's hostile-user corpus: several hundred bad inputs, each run through the real
//! `sparse-scaling` binary and judged by one rule (`harness::classify`), with the tally
//!
//! ```text
//! tried N / panics P / aborts A / unclear U
//! ```
//!
//! printed (per group and in total) by
//!
//! ```text
//! CARGO_TARGET_DIR=/work/main/target cargo test --test hostile -- --nocapture 2>&1 | grep 'total:'
//! ```
//!
//! (`HOSTILE_VERBOSE=1` lists every case with its verdict and first line of stderr,
//! `HOSTILE_FILTER=text` runs the cases whose name contains `text`, `HOSTILE_JOBS=n` runs n at
//! once, default 2). Most inputs are generated here rather than committed:
//! - `experiments`: `.ron` files for `check` and `plan` (wrong types, out-of-range and huge
//!   values, BOM, non-UTF-8, unterminated strings and comments, unknown fields, n:m not dividing
//!   the widths, impossible sparsity, enormous batches, infinite weight decay, bad law and cost
//!   formulas, negative budgets, truncations);
//! - `fit_inputs`: CSV files and formulas for `fit` and `compare` (empty, header only, NaN, text
//!   in numeric columns, 50 000-term formulas, deep nesting, bad options);
//! - `fit_files`: fit JSON files for `analyse`, each field edited, and `analyse`'s own flags;
//! - `results_dirs`: damaged results directories for `report`, `fit` and `plan`;
//! - `outputs`: stdout and stderr on a full device or a closed pipe, output files on a full
//!   device, in a missing or read-only folder.
//!
//! **The rule** (`harness::classify`): *abort* — killed by a signal; *panic* — exit status 101
//! or `panicked at` on stderr; *hang* — still running after `harness::TIMEOUT`; *accepted* —
//! exit 0; otherwise the command refused the input itself, and the message is *clear* when
//! stderr names the culprit (the input file's name, the flag, the field or the column) or a
//! place (`line:column`, `line N`, `column N`, `row N`), else *unclear*. When stderr itself is
//! the broken output there is no message to judge: a refusal then counts as clear. An input
//! marked `Reject` (wrong beyond doubt) that is accepted counts as *accepted though bad*.
//! The test asserts that there are no panics, aborts, hangs, unclear messages or bad inputs
//! accepted.

mod experiments;
mod fit_files;
mod fit_inputs;
mod harness;
mod outputs;
mod results_dirs;
#[path = "../runner/runner_support.rs"]
#[allow(dead_code)]
mod runner_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use harness::{Case, Expect, Ran, Verdict};

/// Every case, its files written under `dir`.
fn corpus(dir: &std::path::Path) -> Vec<Case> {
    let sub = |name: &str| {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let mut cases = experiments::cases(&sub("ron"));
    let fit_dir = sub("fit");
    cases.extend(fit_inputs::cases(&fit_dir));
    let csv = fit_dir.join("base.csv");
    let analyse_dir = sub("analyse");
    cases.extend(fit_files::cases(&analyse_dir, &csv));
    let results_dir = sub("results");
    cases.extend(results_dirs::cases(&results_dir));
    cases.extend(outputs::cases(
        &sub("output"),
        &csv,
        &analyse_dir.join("fit.json"),
        &results_dir.join("base"),
        &results_dir.join("hostile-results.ron"),
    ));
    cases
}

/// Counts of one group (or of all).
#[derive(Default, Debug)]
struct Tally {
    tried: usize,
    accepted: usize,
    clear: usize,
    unclear: usize,
    panics: usize,
    aborts: usize,
    hangs: usize,
    accepted_bad: usize,
}

impl Tally {
    fn add(&mut self, r: &Ran) {
        self.tried += 1;
        match r.verdict {
            Verdict::Accepted => {
                self.accepted += 1;
                if r.case.expect == Expect::Reject {
                    self.accepted_bad += 1;
                }
            }
            Verdict::Clear | Verdict::ClearNoStderr => self.clear += 1,
            Verdict::Unclear => self.unclear += 1,
            Verdict::Panic => self.panics += 1,
            Verdict::Abort(_) => self.aborts += 1,
            Verdict::Hang => self.hangs += 1,
        }
    }

    fn line(&self) -> String {
        format!(
            "tried {} / panics {} / aborts {} / unclear {} (clear errors {}, accepted {} of which {} should have been refused, hangs {})",
            self.tried, self.panics, self.aborts, self.unclear, self.clear, self.accepted, self.accepted_bad, self.hangs
        )
    }
}

fn is_defect(r: &Ran) -> bool {
    match r.verdict {
        Verdict::Accepted => r.case.expect == Expect::Reject,
        Verdict::Clear | Verdict::ClearNoStderr => false,
        _ => true,
    }
}

#[test]
fn hostile_inputs_never_panic_abort_hang_or_mislead() {
    let tmp = tempfile::tempdir().unwrap();
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let cases = corpus(tmp.path());
    let jobs: usize = std::env::var("HOSTILE_JOBS").ok().and_then(|j| j.parse().ok()).unwrap_or(2);
    let filter = std::env::var("HOSTILE_FILTER").unwrap_or_default();
    let cases: Vec<Case> = cases.into_iter().filter(|c| c.name.contains(&filter)).collect();
    let next = AtomicUsize::new(0);
    let ran: Mutex<Vec<(usize, Ran)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { return };
                let r = harness::run(case, &scratch, i);
                ran.lock().unwrap().push((i, r));
            });
        }
    });
    let mut ran = ran.into_inner().unwrap();
    ran.sort_by_key(|r| r.0);

    let mut total = Tally::default();
    let mut groups: BTreeMap<&str, Tally> = BTreeMap::new();
    for (_, r) in &ran {
        total.add(r);
        groups.entry(r.case.group).or_default().add(r);
    }
    let defects: Vec<&Ran> = ran.iter().map(|r| &r.1).filter(|r| is_defect(r)).collect();
    for r in &defects {
        eprintln!(
            "--- {:?} [{}] {} (exit {:?}, expected {:?})\n{}",
            r.verdict,
            r.case.group,
            r.case.name,
            r.code,
            r.case.expect,
            r.stderr.trim_end()
        );
    }
    if std::env::var_os("HOSTILE_VERBOSE").is_some() {
        for (_, r) in &ran {
            let first = r.stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            eprintln!("{:<14} {:<7} {} | {}", format!("{:?}", r.verdict), r.case.group, r.case.name, first);
        }
    }
    for (g, t) in &groups {
        eprintln!("{g:>8}: {}", t.line());
    }
    eprintln!("   total: {}", total.line());
    assert!(!filter.is_empty() || total.tried >= 300, "the corpus has shrunk: {} cases", total.tried);
    assert_eq!(
        (total.panics, total.aborts, total.unclear, total.hangs, total.accepted_bad),
        (0, 0, 0, 0, 0),
        "{}; the cases are listed above",
        total.line()
    );
}
