//! The progress bar of a training run (indicatif): step, training loss, sparsity, steps/s.
//! Hidden when stderr is not a terminal (CI, pipes, log files) or when the caller asks.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that can be hidden; updating a hidden one costs next to nothing.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    start_step: u64,
}

impl Progress {
    /// A bar for steps `start_step..total`; shown only if `show` and stderr is a terminal.
    pub fn new(total: u64, start_step: u64, show: bool, label: &str) -> Self {
        let bar = if show && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
            // The template is a constant known to parse; fall back to the default style if not.
            if let Ok(style) =
                ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]")
            {
                bar.set_style(style);
            }
            bar.set_prefix(label.to_string());
            bar.set_position(start_step);
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress { bar, started: Instant::now(), start_step }
    }

    /// Whether anything is drawn.
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Records that `step` steps are done, with the latest training loss and sparsity.
    pub fn update(&self, step: u64, loss: f32, sparsity: f64) {
        if self.bar.is_hidden() {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = (step - self.start_step.min(step)) as f64 / secs;
        self.bar.set_position(step);
        self.bar.set_message(format!("loss {loss:.4}  S {sparsity:.3}  {rate:.2} steps/s"));
    }

    /// Shows a validation result.
    pub fn validated(&self, step: u64, loss: f64) {
        if !self.bar.is_hidden() {
            self.bar.println(format!("step {step}: validation loss {loss:.5}"));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
