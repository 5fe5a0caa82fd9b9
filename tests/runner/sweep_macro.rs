//! `sweep!` in a user's crate: the file form reads a `.ron` at compile time, and the inline form
//! runs end to end through `run` (train every point with the sweep's own monomorphised sizes,
//! write records, skip finished points on a second run).

use sparse_scaling::runner::registry::SizeTable;
use sparse_scaling::runner::{PointStatus, RunOptions};

sparse_scaling::sweep!(mod quick = "experiments/quickstart.ron");

sparse_scaling::sweep! {
    mod tiny {
        name: "tiny-sweep-test",
        model: (family: Vit, sizes: Widths([32]), heads: 4),
        sparsity: [0.0, 0.5],
        steps: [12],
        batch_size: 8,
        validation: (examples: 16, every: 6),
    }
}

#[test]
fn file_form_expands_the_file_with_its_sizes() {
    let file = quick::experiment();
    assert_eq!(file.experiment.name, "quickstart");
    let points = file.expand().unwrap();
    assert_eq!(quick::POINTS, points.len());
    // one monomorphised entry per distinct width of the file
    let mut widths: Vec<usize> = points.iter().map(|p| p.spec.dims.width).collect();
    widths.sort();
    widths.dedup();
    assert_eq!(quick::Sizes::keys().len(), widths.len());
}

#[test]
fn inline_sweep_runs_and_skips_finished_points() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = RunOptions::new(dir.path());
    opts.progress = false;
    let first = tiny::run(opts.clone()).unwrap();
    assert_eq!(first.run.points.len(), 2);
    assert!(first.run.points.iter().all(|(_, _, s)| *s == PointStatus::Trained), "{:?}", first.run.points);
    assert!(first.run.all_finished);
    let records = std::fs::read_dir(dir.path().join("points"))
        .unwrap()
        .filter(|e| e.as_ref().map(|e| e.path().extension().is_some_and(|x| x == "json")).unwrap_or(false));
    assert_eq!(records.count(), 2);
    let second = tiny::run(opts).unwrap();
    assert!(second.run.points.iter().all(|(_, _, s)| *s == PointStatus::AlreadyDone), "{:?}", second.run.points);
}
