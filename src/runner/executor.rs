//! The real [`PointExecutor`]: builds the point's model (a ViT, T5 or decoder monomorphised for its
//! [`ShapeKey`], via the size table's `dispatch`), its data stream and pruner, and runs the training loop
//! with a checkpoint in the point's checkpoint directory, so that a killed run resumes where
//! it stopped with bit-identical results (`crate::train`).
//!
//! Pruning from a dense checkpoint (docs/THEORY.md §4.5) runs in two phases inside one point: a
//! dense run of `dense_steps` (checkpoint `dense.ckpt`), then GMP over the point's `steps` on
//! the same data stream (checkpoint `train.ckpt`). Each phase resumes on its own.

use std::marker::PhantomData;
use std::path::Path;
use std::time::Instant;

use dfdx::prelude::Cpu;

use super::registry::{self, Builtin, SizeTable, SizeVisitor};
use super::{ExecContext, Execution, PointExecutor};
use crate::data::Stream;
use crate::experiment::{Optimizer, Point, ShapeKey};
use crate::model::{Decoder, DecoderConfig, SparseModel, T5Config, Vit, VitConfig, T5};
use crate::results::{CurvePoint, Outcome};
use crate::sparsity::{Embeddings, Pruner};
use crate::train::{self, AdafactorConfig, AdamWConfig, DataUnits, LoopOptions, OptimizerConfig, TrainConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Trains points with the crate's models, sparsity and training loop, for the sizes of a
/// size table: the CLI's [`Builtin`] table, or one that `sweep!` generated.
#[derive(Debug, Clone)]
pub struct TrainExecutor<T: SizeTable = Builtin> {
    /// Show the training loop's own progress bar (single job, interactive use).
    pub loop_progress: bool,
    table: PhantomData<fn() -> T>,
}

impl<T: SizeTable> TrainExecutor<T> {
    /// An executor for the sizes of `T`.
    pub fn new(loop_progress: bool) -> Self {
        TrainExecutor { loop_progress, table: PhantomData }
    }
}

impl<T: SizeTable> Default for TrainExecutor<T> {
    fn default() -> Self {
        Self::new(false)
    }
}

impl<T: SizeTable> PointExecutor for TrainExecutor<T> {
    fn supports(&self, point: &Point) -> Result<(), registry::UnsupportedSize> {
        registry::check_in::<T>(point)
    }

    fn execute(&self, point: &Point, ctx: &ExecContext<'_>) -> Result<Execution, BoxError> {
        registry::check_in::<T>(point)?;
        T::dispatch(ShapeKey::of(&point.spec), Visit { point, ctx, loop_progress: self.loop_progress })
            .ok_or_else(|| -> BoxError { "shape not compiled (checked above)".into() })?
    }
}

struct Visit<'a, 'b> {
    point: &'a Point,
    ctx: &'a ExecContext<'b>,
    loop_progress: bool,
}

impl Visit<'_, '_> {
    /// What the point's data loader read, as one line of the run log.
    fn log_data(&self, read: &str) {
        self.ctx.progress.log(&format!("point {} {}: data: {read}", self.point.index, self.point.hash));
    }
}

impl SizeVisitor for Visit<'_, '_> {
    type Output = Result<Execution, BoxError>;

    fn vit<const PV: usize, const NP: usize, const D: usize, const F: usize, const L: usize, const K: usize>(
        self,
    ) -> Self::Output {
        let spec = &self.point.spec;
        let shape = spec.vit.clone().unwrap_or_default();
        let config = VitConfig {
            image_height: shape.image_size,
            image_width: shape.image_size,
            channels: shape.channels,
            patch: shape.patch_size,
            heads: spec.dims.heads,
            pooling: Default::default(),
        };
        let dev = Cpu::default();
        let model = Vit::<PV, NP, D, F, L, K>::new(&dev, config, spec.seed)?;
        let data = super::streams::image_stream(self.point, self.ctx.base_dir)?;
        self.log_data(&data.read);
        run_point(model, data.stream, self.point, self.ctx, self.loop_progress)
    }

    fn t5<const V: usize, const D: usize, const F: usize, const H: usize, const L: usize>(self) -> Self::Output {
        let spec = &self.point.spec;
        let dev = Cpu::default();
        let model = T5::<V, D, F, H, L, L>::new(&dev, T5Config::t5_1_1(), spec.seed)?;
        let data = super::streams::text_stream(self.point, self.ctx.base_dir)?;
        self.log_data(&data.read);
        run_point(model, data.stream, self.point, self.ctx, self.loop_progress)
    }

    fn decoder<const V: usize, const D: usize, const F: usize, const H: usize, const L: usize>(self) -> Self::Output {
        let spec = &self.point.spec;
        let dev = Cpu::default();
        let model = Decoder::<V, D, F, H, L>::new(&dev, DecoderConfig::t5x_decoder_only(), spec.seed)?;
        let data = super::streams::lm_stream(self.point, self.ctx.base_dir)?;
        self.log_data(&data.read);
        run_point(model, data.stream, self.point, self.ctx, self.loop_progress)
    }
}

/// The training config of a point (or of its dense phase, with `steps` overridden).
pub fn train_config(point: &Point, steps: u64) -> TrainConfig {
    let spec = &point.spec;
    let warmup_steps = spec.lr.warmup_steps.min(steps.saturating_sub(1));
    let optimizer = match spec.optimizer {
        Optimizer::AdamW { lr, beta1, beta2, eps, weight_decay } => OptimizerConfig::AdamW(AdamWConfig {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            warmup_steps,
            final_lr_fraction: spec.lr.min_lr_ratio,
        }),
        Optimizer::Adafactor { scale, decay_exponent, clip_threshold } => OptimizerConfig::Adafactor(AdafactorConfig {
            scale,
            warmup_steps,
            decay_exponent,
            clip_threshold,
            ..AdafactorConfig::default()
        }),
    };
    TrainConfig {
        steps,
        batch_size: spec.batch_size,
        optimizer,
        grad_clip: spec.lr.grad_clip,
        eval_every: spec.val_every.max(1),
        seed: spec.seed,
    }
}

/// Trains in chunks of `chunk` steps (each ends with a checkpoint, via the loop's
/// `stop_after`), updating `progress` between chunks; resuming is bit-identical, so the result
/// equals one uninterrupted call. Returns the summary and the step the first chunk resumed
/// from (0: fresh).
#[allow(clippy::too_many_arguments)]
fn train_chunked<M, S, P>(
    model: &mut M,
    stream: &mut S,
    validation: &[M::Batch],
    cfg: &TrainConfig,
    pruner: &mut P,
    opts: &LoopOptions,
    chunk: u64,
    progress: &dyn Fn(u64, Option<f64>),
) -> Result<(train::RunSummary, u64), BoxError>
where
    M: SparseModel,
    M::Batch: DataUnits,
    S: Stream<Batch = M::Batch>,
    P: train::Sparsifier<M>,
{
    let resumed_from = match &opts.checkpoint {
        Some(p) if p.exists() => train::checkpoint::load(p)?.step,
        _ => 0,
    };
    let chunk = chunk.max(1);
    let mut at = resumed_from;
    progress(at, None);
    loop {
        let next = (at / chunk + 1) * chunk;
        let o = LoopOptions { stop_after: (next < cfg.steps).then_some(next), ..opts.clone() };
        match train::train(model, stream, validation, cfg, pruner, &o) {
            Ok(summary) => return Ok((summary, resumed_from)),
            Err(train::TrainError::Stopped { step, .. }) => {
                at = step;
                progress(at, None);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn run_point<M, S>(
    mut model: M,
    mut stream: S,
    point: &Point,
    ctx: &ExecContext<'_>,
    loop_progress: bool,
) -> Result<Execution, BoxError>
where
    M: SparseModel,
    M::Batch: DataUnits,
    S: Stream<Batch = M::Batch>,
{
    let spec = &point.spec;
    let started = Instant::now();
    let validation = stream.validation_set(spec.val_examples, spec.batch_size)?;
    let label = format!("#{} {} w{} S={}", point.index, spec.family, spec.dims.width, spec.sparsity);
    let opts = |file: &str| LoopOptions {
        checkpoint: Some(ctx.checkpoint_dir.join(file)),
        checkpoint_every: point.checkpoint_every,
        progress: loop_progress,
        stop_after: None,
        label: label.clone(),
    };
    let offset = spec.pruning.dense_steps();
    let total = offset + spec.steps;
    // a runner following the loop's steps counts them over the whole point
    let tracked = crate::train::progress::tracked_steps();
    if offset > 0 {
        let cfg = train_config(point, offset);
        let mut dense = crate::train::Dense;
        let show = |step: u64, _: Option<f64>| ctx.progress.update(step, total, None);
        train_chunked(
            &mut model,
            &mut stream,
            &validation,
            &cfg,
            &mut dense,
            &opts("dense.ckpt"),
            point.checkpoint_every,
            &show,
        )?;
    }
    if let Some(t) = &tracked {
        t.set_offset(offset);
    }
    let cfg = train_config(point, spec.steps);
    let mut pruner = Pruner::new(&model, &spec.pruning, spec.sparsity, spec.steps, Embeddings::Dense)?;
    let show = |step: u64, _: Option<f64>| ctx.progress.update(offset + step, total, None);
    let (summary, resumed_from) = train_chunked(
        &mut model,
        &mut stream,
        &validation,
        &cfg,
        &mut pruner,
        &opts("train.ckpt"),
        point.checkpoint_every,
        &show,
    )?;
    ctx.progress.update(total, total, Some(summary.final_val_loss));
    let counted: Vec<_> = summary.layers.iter().filter(|l| l.counted_in_n).collect();
    let prunable_params: u64 = counted.iter().map(|l| l.size).sum();
    // the dense phase trained every prunable weight
    let with_dense = summary.avg_nonzeros.filter(|_| offset > 0).map(|sparse| {
        (offset as f64 * prunable_params as f64 + spec.steps as f64 * sparse) / (offset + spec.steps) as f64
    });
    let outcome = Outcome {
        nonzero_params: summary.nonzeros,
        prunable_params,
        total_params: summary.total_params,
        avg_nonzero_params: summary.avg_nonzeros,
        avg_nonzero_params_with_dense: with_dense,
        layer_sparsity: counted.iter().map(|l| (l.path.clone(), l.sparsity)).collect(),
        final_val_loss: summary.final_val_loss,
        best_val_loss: summary.best_val_loss,
        val_curve: summary.val_curve.iter().map(|c| CurvePoint { step: c.step, loss: c.loss }).collect(),
    };
    Ok(Execution {
        outcome,
        wall_seconds: started.elapsed().as_secs_f64(),
        steps_per_second: summary.steps_per_s,
        resumed_from_step: resumed_from,
    })
}

/// Whether a point's checkpoint directory holds a checkpoint (used by tests and `plan`).
pub fn has_checkpoint(dir: &Path) -> bool {
    dir.join("train.ckpt").exists() || dir.join("dense.ckpt").exists()
}
