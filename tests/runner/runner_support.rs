//! Helpers shared by the runner and CLI tests: a fake executor whose loss follows a known
//! scaling law of (S, N, steps) (the form of docs/THEORY.md §1), so that results directories
//! can be written without training, and the text of a finished command.

use std::path::Path;
use std::process::{Command, Output};

use sparse_scaling::experiment::Point;
use sparse_scaling::results::{CurvePoint, Outcome};
use sparse_scaling::runner::{registry::UnsupportedSize, ExecContext, Execution, PointExecutor};

/// Loss = a known law of (S, N, steps), the same for every model family, so that only the family
/// tells records apart.
pub struct KnownLaw;

impl PointExecutor for KnownLaw {
    fn supports(&self, _point: &Point) -> Result<(), UnsupportedSize> {
        Ok(())
    }
    fn execute(
        &self,
        point: &Point,
        _ctx: &ExecContext<'_>,
    ) -> Result<Execution, Box<dyn std::error::Error + Send + Sync>> {
        let s = &point.spec;
        let n = s.nonzero_params();
        let loss = (0.5 * (1.0 - s.sparsity).powf(0.8) + 1.5) * (n / 1e3).powf(-0.25)
            + 0.6 * (s.steps as f64 / 10.0).powf(-0.3)
            + 0.7;
        Ok(Execution {
            outcome: Outcome {
                avg_nonzero_params: None,
                avg_nonzero_params_with_dense: None,
                nonzero_params: n as u64,
                prunable_params: s.prunable_params(),
                total_params: s.prunable_params() + 1000,
                layer_sparsity: vec![],
                final_val_loss: loss,
                best_val_loss: loss,
                val_curve: vec![CurvePoint { step: s.steps / 2, loss: loss + 0.1 }, CurvePoint { step: s.steps, loss }],
            },
            wall_seconds: 0.01,
            steps_per_second: 100.0,
            resumed_from_step: 0,
        })
    }
}

/// A finished command's (stdout, stderr) as text.
pub fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Runs `sparse-scaling run EXP --results RESULTS --no-progress --no-analysis EXTRA…`, asserts
/// that it succeeded, and returns its (stdout, stderr).
pub fn run_points(exp: &Path, results: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
        .arg("run")
        .arg(exp)
        .arg("--results")
        .arg(results)
        .args(["--no-progress", "--no-analysis"])
        .args(extra)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}
