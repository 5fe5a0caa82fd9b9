//! The training loop: optimizers, schedules, validation, checkpoints, progress (docs/THEORY.md §5).
//!
//! One call, [`train`], runs one point of a sparse scaling study: it draws batches from a
//! seeded stream, takes AdamW or Adafactor steps (docs/THEORY.md §5) on any dfdx model, lets a
//! pruner (docs/THEORY.md §4) recompute and re-apply masks after every step, validates on a fixed
//! held-out set, writes checkpoints from which a killed run resumes bit for bit, and returns
//! a [`RunSummary`] with the numbers the law needs: final loss, N, S, D.
//!
//! The pieces:
//! * [`config`]: [`TrainConfig`], [`AdamWConfig`], [`AdafactorConfig`] (serde, validated);
//! * [`lr`]: warm-up + cosine (AdamW) and rsqrt (Adafactor) schedules;
//! * [`adamw`], [`adafactor`]: the per-tensor update rules;
//! * [`optim`]: one step over a whole model (mask, clip, update) via dfdx's tensor visitor;
//! * [`checkpoint`]: the checkpoint file (magic, version, checksum, atomic write);
//! * [`trainer`]: the loop itself; [`progress`]: the progress bar;
//! * [`sparsifier`]: the sparsity module's `Pruner` as the loop's [`Sparsifier`].
//!
//! Every walk over the model's parameters is a pass of [`crate::params`].
//!
//! Models are any [`SparseModel`] (ViT, T5), data any [`Stream`] of the data crate whose
//! batches know their [`DataUnits`].
//!
//! Pruned weights stay exactly zero: gradients of pruned weights are zeroed before clipping,
//! their optimizer state is zeroed before each update (so it cannot revive them), every
//! update of a pruned weight is exactly 0, and the pruner re-applies its masks after every
//! step.
//!
//! Determinism: the loop draws no random numbers (no dropout, docs/THEORY.md §5); the data
//! stream's randomness lives in its serialisable position; every reduction runs in a fixed
//! order. So for a fixed thread count, a run resumed from a checkpoint ends with exactly the
//! numbers of an uninterrupted one (`tests/train/resume.rs`).

pub mod adafactor;
pub mod adamw;
pub mod checkpoint;
pub mod config;
pub mod lr;
pub mod optim;
pub mod progress;
pub mod sparsifier;
pub mod trainer;

use std::path::PathBuf;

use dfdx::nn::tensor_collection::TensorCollection;
use dfdx::prelude::Cpu;
use serde::{Deserialize, Serialize};

pub use checkpoint::CheckpointError;
pub use config::{AdafactorConfig, AdamWConfig, OptimizerConfig, TrainConfig};
pub use trainer::train;

/// A boxed error from a component the trainer calls (model, data stream, pruner).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

pub use crate::model::SparseModel;
pub use sparse_scaling_data::{Stream, StreamPosition};

/// How much data a batch counts for D (docs/THEORY.md §1–2): images for ViT; for T5 tokens as the
/// paper counts them, `batch × input length` (its conversion: 128 × 512 tokens per step); for
/// the decoder-only model the tokens of its rows, `batch × length`, likewise padding included
/// (docs/THEORY.md §6).
pub trait DataUnits {
    /// D contributed by this batch.
    fn data_units(&self) -> u64;
}

impl DataUnits for sparse_scaling_data::ImageBatch {
    fn data_units(&self) -> u64 {
        self.batch as u64
    }
}

impl DataUnits for sparse_scaling_data::TextBatch {
    fn data_units(&self) -> u64 {
        (self.batch * self.input_len) as u64
    }
}

impl DataUnits for sparse_scaling_data::LmBatch {
    fn data_units(&self) -> u64 {
        (self.batch * self.len) as u64
    }
}

/// Sparsity of one pruned layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSparsity {
    /// Parameter path.
    pub path: String,
    /// Number of weights.
    pub size: u64,
    /// Number of unpruned weights (from the mask).
    pub nonzeros: u64,
    /// Whether the layer counts in N (attention and MLP matrices); embeddings and the output
    /// head are reported but not counted.
    pub counted_in_n: bool,
    /// Measured sparsity `1 − nonzeros/size`.
    pub sparsity: f64,
}

/// Counts a pruner reports: what the law calls N and S (docs/THEORY.md §1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparsityStats {
    /// Per pruned (or prunable) layer.
    pub layers: Vec<LayerSparsity>,
    /// Overall sparsity of the prunable layers.
    pub sparsity: f64,
    /// N: unpruned weights in the prunable layers (embeddings and head excluded).
    pub nonzeros: u64,
    /// All parameters of the model.
    pub total_params: u64,
    /// N̄: the mean over the steps trained so far of the non-zero count each step trained
    /// with (Jin et al., ICLR 2025); `None` where the sparsifier does not keep it.
    pub avg_nonzeros: Option<f64>,
}

/// What the loop needs from a pruner. The sparsity module's `Pruner` implements it
/// ([`sparsifier`]); [`Dense`] is the no-op for dense runs.
pub trait Sparsifier<M> {
    /// Applies the current masks (zeroes pruned weights). Called once before training.
    fn apply(&mut self, model: &mut M) -> Result<(), BoxError>;
    /// Called after optimizer step `step` (0-based): recompute masks when due, re-apply.
    fn on_step(&mut self, model: &mut M, step: u64) -> Result<(), BoxError>;
    /// Zeroes the entries of `values` (laid out like parameter `path`) that are pruned;
    /// used on gradients and optimizer state. Unmasked parameters are left alone.
    fn zero_pruned(&self, path: &str, values: &mut [f32]) -> Result<(), BoxError>;
    /// Number of unpruned entries of parameter `path`, `None` if it has no mask.
    fn kept(&self, path: &str) -> Option<usize>;
    /// Per-layer and overall counts, measured from the masks.
    fn stats(&self, model: &M) -> SparsityStats;
    /// Serialisable state (masks, schedule position), for checkpoints.
    fn state(&self) -> Result<serde_json::Value, BoxError>;
    /// Restores a state returned by [`Sparsifier::state`], checking it fits `model`.
    fn restore(&mut self, model: &M, state: serde_json::Value) -> Result<(), BoxError>;
}

/// No pruning: a dense run. Its "prunable layers" (for N) are the weight-decayed matrices
/// ([`crate::params::ParamRole::is_decayed`]); for the paper's exact N (embeddings and head
/// excluded) use the sparsity module's pruner at S = 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dense;

impl<M: TensorCollection<f32, Cpu>> Sparsifier<M> for Dense {
    fn apply(&mut self, _model: &mut M) -> Result<(), BoxError> {
        Ok(())
    }
    fn on_step(&mut self, _model: &mut M, _step: u64) -> Result<(), BoxError> {
        Ok(())
    }
    fn zero_pruned(&self, _path: &str, _values: &mut [f32]) -> Result<(), BoxError> {
        Ok(())
    }
    fn kept(&self, _path: &str) -> Option<usize> {
        None
    }
    fn stats(&self, model: &M) -> SparsityStats {
        let mut layers = Vec::new();
        let mut total = 0u64;
        // The walk's callback never fails, so neither does the walk.
        let _ = crate::params::for_each_param(model, &mut |path, shape, v| -> Result<(), std::convert::Infallible> {
            total += v.len() as u64;
            if crate::params::role_of(path, shape).is_decayed() {
                let nz = v.iter().filter(|x| **x != 0.0).count() as u64;
                let size = v.len() as u64;
                layers.push(LayerSparsity {
                    path: path.to_string(),
                    size,
                    nonzeros: nz,
                    counted_in_n: true,
                    sparsity: 1.0 - nz as f64 / size.max(1) as f64,
                });
            }
            Ok(())
        });
        let size: u64 = layers.iter().map(|l| l.size).sum();
        let nonzeros: u64 = layers.iter().map(|l| l.nonzeros).sum();
        SparsityStats {
            layers,
            sparsity: 1.0 - nonzeros as f64 / size.max(1) as f64,
            nonzeros,
            total_params: total,
            avg_nonzeros: Some(nonzeros as f64),
        }
    }
    fn state(&self) -> Result<serde_json::Value, BoxError> {
        Ok(serde_json::Value::Null)
    }
    fn restore(&mut self, _model: &M, _state: serde_json::Value) -> Result<(), BoxError> {
        Ok(())
    }
}

/// How to run (as opposed to what to compute): checkpoints, progress display, stopping early.
/// None of these change the numbers a run produces.
#[derive(Debug, Clone, Default)]
pub struct LoopOptions {
    /// Checkpoint file. When it exists the run resumes from it; it is rewritten atomically
    /// every `checkpoint_every` steps and at the end. `None`: no checkpoints.
    pub checkpoint: Option<PathBuf>,
    /// Steps between checkpoints (0: only when stopping and at the end).
    pub checkpoint_every: u64,
    /// Show a progress bar (it is hidden anyway when stderr is not a terminal).
    pub progress: bool,
    /// Stop once this many steps (counted from step 0) are done, before the next one, with a
    /// checkpoint of that state: returns [`TrainError::Stopped`] (at once if the run, e.g.
    /// resumed, is already there). Ignored if it is ≥ the run's length. For time-boxed jobs,
    /// progress in chunks, and testing resumption.
    pub stop_after: Option<u64>,
    /// A label shown in front of the progress bar.
    pub label: String,
}

/// One validation measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossPoint {
    /// Number of optimizer steps taken when it was measured.
    pub step: u64,
    /// The loss.
    pub loss: f64,
}

/// What a finished run returns and the results store records (docs/THEORY.md §1 symbols).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSummary {
    /// Validation loss after the last step.
    pub final_val_loss: f64,
    /// Lowest validation loss measured.
    pub best_val_loss: f64,
    /// Step at which `best_val_loss` was measured.
    pub best_step: u64,
    /// N: unpruned weights in the prunable layers, counted from the masks.
    pub nonzeros: u64,
    /// All parameters of the model.
    pub total_params: u64,
    /// N̄ over this run's steps (see [`SparsityStats::avg_nonzeros`]).
    pub avg_nonzeros: Option<f64>,
    /// S: measured overall sparsity of the prunable layers.
    pub sparsity: f64,
    /// Measured sparsity per prunable layer.
    pub layers: Vec<LayerSparsity>,
    /// D: data seen (images for ViT, tokens for T5).
    pub data_seen: u64,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Wall time of the run in seconds, summed over resumed segments.
    pub wall_time_s: f64,
    /// Steps per second over the run.
    pub steps_per_s: f64,
    /// Validation loss at every validation.
    pub val_curve: Vec<LossPoint>,
    /// Mean training loss over each validation interval (step: end of the interval).
    pub train_curve: Vec<LossPoint>,
    /// Step the run was resumed from, if it was.
    pub resumed_from: Option<u64>,
}

impl From<String> for TrainError {
    /// A failure inside a parameter walk (e.g. allocating a gradient).
    fn from(detail: String) -> Self {
        TrainError::Device(detail)
    }
}

/// Everything that can go wrong in a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value is out of range.
    #[error("training config: `{field}` = {value} is invalid: {fix}")]
    Config {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// The validation set has no batches.
    #[error("the validation set is empty: give at least one held-out batch")]
    EmptyValidation,
    /// The model's loss failed.
    #[error("the model's loss failed at step {step}")]
    Model {
        /// Step (or validation after that many steps).
        step: u64,
        /// The model's error.
        #[source]
        source: BoxError,
    },
    /// The data stream failed.
    #[error("the data stream failed at step {step}")]
    Data {
        /// Step.
        step: u64,
        /// The stream's error.
        #[source]
        source: BoxError,
    },
    /// The pruner failed.
    #[error("the pruner failed at step {step}")]
    Pruner {
        /// Step.
        step: u64,
        /// The pruner's error.
        #[source]
        source: BoxError,
    },
    /// The loss or gradient stopped being a finite number.
    #[error("the {what} became {value} at step {step}: the run diverged; lower the learning rate or enable gradient clipping")]
    NonFinite {
        /// Step.
        step: u64,
        /// Which quantity.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// Reading or writing a checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// An internal device or bookkeeping failure.
    #[error("training internals: {0}")]
    Device(String),
    /// The run stopped early on request ([`LoopOptions::stop_after`]) after a checkpoint.
    #[error("stopped after step {step} as asked{}", checkpoint.as_ref().map(|p| format!("; resume from {}", p.display())).unwrap_or_default())]
    Stopped {
        /// Steps completed.
        step: u64,
        /// Where the checkpoint was written.
        checkpoint: Option<PathBuf>,
    },
}
