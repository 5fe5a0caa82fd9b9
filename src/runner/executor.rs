//! The real [`PointExecutor`]: builds the point's model (a ViT or T5 monomorphised for its
//! width, via [`registry::dispatch`]), its data stream and pruner, and runs the training loop
//! with a checkpoint in the point's checkpoint directory, so that a killed run resumes where
//! it stopped with bit-identical results (`crate::train`).
//!
//! Pruning from a dense checkpoint (docs/THEORY.md §4.5) runs in two phases inside one point: a
//! dense run of `dense_steps` (checkpoint `dense.ckpt`), then GMP over the point's `steps` on
//! the same data stream (checkpoint `train.ckpt`). Each phase resumes on its own.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dfdx::prelude::Cpu;

use super::registry::{self, Builtin, SizeTable, SizeVisitor, T5_SHAPE, VIT_SHAPE};
use super::{ExecContext, Execution, PointExecutor};
use crate::data::{
    load_cifar10, load_image_folder, load_jsonl, DataError, ImageDataConfig, ImageDataStream, ImageDataset, ImageFolderConfig, JsonlConfig, Stream,
    StreamPosition, SyntheticImageConfig, SyntheticImages, SyntheticText, SyntheticTextConfig, TextCorpusConfig, TextCorpusStream, TextShape,
};
use crate::model::{SparseModel, T5Config, VitConfig, Vit, T5};
use crate::results::{CurvePoint, Outcome};
use crate::sparsity::{Embeddings, Pruner};
use crate::experiment::{Data, Optimizer, Point};
use crate::train::{self, AdafactorConfig, AdamWConfig, DataUnits, OptimizerConfig, LoopOptions, TrainConfig};

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
        let d = &point.spec.dims;
        T::dispatch(point.spec.family, d.width, d.mlp_width, Visit { point, ctx, loop_progress: self.loop_progress })
            .ok_or_else(|| -> BoxError { "size not compiled (checked above)".into() })?
    }
}

struct Visit<'a, 'b> {
    point: &'a Point,
    ctx: &'a ExecContext<'b>,
    loop_progress: bool,
}

/// A boxed data stream, so that each model size is compiled once whatever the data source.
pub struct DynStream<B>(Box<dyn Stream<Batch = B>>);

impl<B> Stream for DynStream<B> {
    type Batch = B;
    fn next_batch(&mut self, batch_size: usize) -> Result<B, DataError> {
        self.0.next_batch(batch_size)
    }
    fn position(&self) -> StreamPosition {
        self.0.position()
    }
    fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError> {
        self.0.seek(pos)
    }
    fn examples_seen(&self) -> u64 {
        self.0.examples_seen()
    }
    fn validation_set(&self, n_examples: usize, batch_size: usize) -> Result<Vec<B>, DataError> {
        self.0.validation_set(n_examples, batch_size)
    }
}

fn resolve(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Shrinks images by an integer factor (box filter), e.g. CIFAR's 32×32 to the compiled 16×16.
pub fn downsample(mut data: ImageDataset, height: usize, width: usize) -> Result<ImageDataset, BoxError> {
    let sh = data.shape;
    if (sh.height, sh.width) == (height, width) {
        return Ok(data);
    }
    if height == 0 || width == 0 || sh.height % height != 0 || sh.width % width != 0 || sh.height / height != sh.width / width {
        return Err(format!(
            "the images are {}×{}, the compiled ViTs take {height}×{width}; use images whose size is an integer multiple of it",
            sh.height, sh.width
        )
        .into());
    }
    let f = sh.height / height;
    let (c, n) = (sh.channels, data.len());
    let mut out = Vec::with_capacity(n * c * height * width);
    for i in 0..n {
        let img = data.image(i);
        for ch in 0..c {
            for y in 0..height {
                for x in 0..width {
                    let mut acc = 0u32;
                    for dy in 0..f {
                        for dx in 0..f {
                            acc += img[(ch * sh.height + y * f + dy) * sh.width + x * f + dx] as u32;
                        }
                    }
                    out.push(((acc + (f * f / 2) as u32) / (f * f) as u32) as u8);
                }
            }
        }
    }
    data.pixels = out;
    data.shape.height = height;
    data.shape.width = width;
    Ok(data)
}

/// The training stream of a ViT point: the synthetic stream, an image folder, or CIFAR-style
/// binaries (downsampled to the compiled image size); relative paths against `base`.
pub fn image_stream(point: &Point, base: &Path) -> Result<DynStream<crate::data::ImageBatch>, BoxError> {
    let spec = &point.spec;
    let shape = spec.vit.clone().unwrap_or_default();
    let dataset = match &spec.data {
        Data::Synthetic => {
            return Ok(DynStream(Box::new(SyntheticImages::new(SyntheticImageConfig {
                seed: spec.seed,
                channels: shape.channels,
                height: shape.image_size,
                width: shape.image_size,
                classes: shape.classes,
                ..SyntheticImageConfig::default()
            })?)))
        }
        Data::ImageFolder { path } => load_image_folder(&ImageFolderConfig {
            root: resolve(base, path),
            channels: shape.channels,
            height: Some(shape.image_size),
            width: Some(shape.image_size),
            resize: true,
        })?,
        Data::CifarBinary { path } => {
            let p = resolve(base, path);
            let files = if p.is_dir() {
                let mut f: Vec<PathBuf> = std::fs::read_dir(&p)
                    .map_err(|e| format!("cannot list {}: {e}", p.display()))?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|x| x.extension().is_some_and(|e| e == "bin"))
                    .collect();
                f.sort();
                f
            } else {
                vec![p]
            };
            downsample(load_cifar10(&files)?, shape.image_size, shape.image_size)?
        }
        Data::JsonLines { .. } => {
            return Err("JSON-lines text data is for T5 models; give ViTs `Synthetic`, `ImageFolder` or `CifarBinary` data".into())
        }
    };
    if dataset.shape.classes > shape.classes {
        return Err(format!("the data has {} classes, the compiled ViTs have {} outputs", dataset.shape.classes, shape.classes).into());
    }
    let fraction = (spec.val_examples as f64 / dataset.len().max(1) as f64).clamp(0.0, 0.5);
    Ok(DynStream(Box::new(ImageDataStream::new(dataset, ImageDataConfig { seed: spec.seed, validation_fraction: fraction })?)))
}

/// The training stream of a T5 point: the synthetic text stream or C4-style JSON lines.
pub fn text_stream(point: &Point, base: &Path) -> Result<DynStream<crate::data::TextBatch>, BoxError> {
    let spec = &point.spec;
    let t = spec.t5.clone().unwrap_or_default();
    let shape = TextShape { input_len: t.input_len, target_len: t.target_len, ..TextShape::default() };
    match &spec.data {
        Data::Synthetic => Ok(DynStream(Box::new(SyntheticText::new(SyntheticTextConfig { seed: spec.seed, shape, ..SyntheticTextConfig::default() })?))),
        Data::JsonLines { path } => {
            let corpus = load_jsonl(&JsonlConfig::new(vec![resolve(base, path)]))?;
            let cfg = TextCorpusConfig { seed: spec.seed, shape, ..TextCorpusConfig::default() };
            Ok(DynStream(Box::new(TextCorpusStream::new(corpus, cfg)?)))
        }
        _ => Err("image data is for ViT models; give T5 models `Synthetic` or `JsonLines` data".into()),
    }
}

impl SizeVisitor for Visit<'_, '_> {
    type Output = Result<Execution, BoxError>;

    fn vit<const D: usize, const F: usize>(self) -> Self::Output {
        const PV: usize = VIT_SHAPE.patch_size * VIT_SHAPE.patch_size * VIT_SHAPE.channels;
        const NP: usize = (VIT_SHAPE.image_size / VIT_SHAPE.patch_size) * (VIT_SHAPE.image_size / VIT_SHAPE.patch_size);
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
        let model = Vit::<PV, NP, D, F, { VIT_SHAPE.depth }, { VIT_SHAPE.classes }>::new(&dev, config, spec.seed)?;
        let stream = image_stream(self.point, self.ctx.base_dir)?;
        run_point(model, stream, self.point, self.ctx, self.loop_progress)
    }

    fn t5<const D: usize, const F: usize>(self) -> Self::Output {
        let spec = &self.point.spec;
        let dev = Cpu::default();
        let model = T5::<{ T5_SHAPE.vocab }, D, F, { T5_SHAPE.heads }, { T5_SHAPE.depth }, { T5_SHAPE.depth }>::new(&dev, T5Config::t5_1_1(), spec.seed)?;
        let stream = text_stream(self.point, self.ctx.base_dir)?;
        run_point(model, stream, self.point, self.ctx, self.loop_progress)
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
    TrainConfig { steps, batch_size: spec.batch_size, optimizer, grad_clip: spec.lr.grad_clip, eval_every: spec.val_every.max(1), seed: spec.seed }
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

fn run_point<M, S>(mut model: M, mut stream: S, point: &Point, ctx: &ExecContext<'_>, loop_progress: bool) -> Result<Execution, BoxError>
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
    if offset > 0 {
        let cfg = train_config(point, offset);
        let mut dense = crate::train::Dense;
        let show = |step: u64, _: Option<f64>| ctx.progress.update(step, total, None);
        train_chunked(&mut model, &mut stream, &validation, &cfg, &mut dense, &opts("dense.ckpt"), point.checkpoint_every, &show)?;
    }
    let cfg = train_config(point, spec.steps);
    let mut pruner = Pruner::new(&model, &spec.pruning, spec.sparsity, spec.steps, Embeddings::Dense)?;
    let show = |step: u64, _: Option<f64>| ctx.progress.update(offset + step, total, None);
    let (summary, resumed_from) = train_chunked(&mut model, &mut stream, &validation, &cfg, &mut pruner, &opts("train.ckpt"), point.checkpoint_every, &show)?;
    ctx.progress.update(total, total, Some(summary.final_val_loss));
    let counted: Vec<_> = summary.layers.iter().filter(|l| l.counted_in_n).collect();
    let outcome = Outcome {
        nonzero_params: summary.nonzeros,
        prunable_params: counted.iter().map(|l| l.size).sum(),
        total_params: summary.total_params,
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
