//! The training loop (docs/THEORY.md §5): draw a batch, take an optimizer step, let the pruner
//! re-apply its masks (docs/THEORY.md §4), validate at intervals, checkpoint every K steps.
//!
//! Order of one step `t` (0-based), the same in fresh and resumed runs:
//! 1. draw the next batch from the stream, add its data units to D;
//! 2. forward and backward on the model (training loss recorded);
//! 3. optimizer step: mask gradients, clip the global norm, update (see [`super::optim`]);
//! 4. `pruner.on_step(model, t)`: recompute masks when due, re-apply them;
//! 5. after `t + 1` steps: validate if `(t + 1) % eval_every == 0` or it is the last step;
//!    checkpoint if `(t + 1) % checkpoint_every == 0`, on a requested stop, and at the end.

use std::time::Instant;

use dfdx::nn::ZeroGrads;
use dfdx::prelude::{AsArray, Backward, Cpu, NoneTape, SplitTape, Trace, ZerosTensor};

use super::checkpoint::{self, Checkpoint, CheckpointError};
use super::optim::{check_layout, optimizer_step, OptState};
use super::progress::Progress;
use super::{
    DataUnits, LoopOptions, LossPoint, RunSummary, SparseModel, Sparsifier, Stream, StreamPosition, TrainConfig,
    TrainError,
};
use crate::params::{for_each_param, for_each_param_mut};

/// Mean validation loss of `model` over the held-out batches (f64 mean of the batch means).
pub fn validate<M: SparseModel>(model: &M, validation: &[M::Batch], step: u64) -> Result<f64, TrainError> {
    if validation.is_empty() {
        return Err(TrainError::EmptyValidation);
    }
    let mut sum = 0.0f64;
    for b in validation {
        let l = model.loss(b, NoneTape).map_err(|e| TrainError::Model { step, source: Box::new(e) })?.array();
        sum += l as f64;
    }
    let mean = sum / validation.len() as f64;
    if !mean.is_finite() {
        return Err(TrainError::NonFinite { step, what: "validation loss", value: mean });
    }
    Ok(mean)
}

struct RunState {
    step: u64,
    opt: OptState,
    train_loss: Vec<f32>,
    val_curve: Vec<LossPoint>,
    data_seen: u64,
    elapsed_s: f64,
    resumed_from: Option<u64>,
}

/// Trains `model` in place for `cfg.steps` steps on batches from `stream`, with `pruner`
/// keeping its masks, validating on `validation` every `cfg.eval_every` steps and after the
/// last one. With `opts.checkpoint` set, resumes from that file when it exists and writes it
/// every `opts.checkpoint_every` steps and at the end.
///
/// Deterministic: the same model, stream, pruner and config give the same numbers, whether
/// the run goes through in one piece or is stopped and resumed from checkpoints.
pub fn train<M, S, P>(
    model: &mut M,
    stream: &mut S,
    validation: &[M::Batch],
    cfg: &TrainConfig,
    pruner: &mut P,
    opts: &LoopOptions,
) -> Result<RunSummary, TrainError>
where
    M: SparseModel,
    M::Batch: DataUnits,
    S: Stream<Batch = M::Batch>,
    P: Sparsifier<M>,
{
    cfg.validate()?;
    if validation.is_empty() {
        return Err(TrainError::EmptyValidation);
    }
    let mut st = RunState {
        step: 0,
        opt: OptState::default(),
        train_loss: Vec::new(),
        val_curve: Vec::new(),
        data_seen: 0,
        elapsed_s: 0.0,
        resumed_from: None,
    };
    match &opts.checkpoint {
        Some(path) if path.exists() => {
            let ck = checkpoint::load(path)?;
            st = restore(path, ck, cfg, model, stream, pruner)?;
        }
        _ => pruner.apply(model).map_err(|source| TrainError::Pruner { step: 0, source })?,
    }

    let dev = Cpu::default();
    let progress = Progress::new(cfg.steps, st.step, opts.progress, &opts.label);
    let started = Instant::now();
    let mut shown_sparsity = if progress.is_visible() { pruner.stats(model).sparsity } else { 0.0 };
    let save = |st: &RunState, model: &M, stream: &S, pruner: &P| -> Result<(), TrainError> {
        match &opts.checkpoint {
            Some(path) => write_checkpoint(path, st, started, cfg, model, stream, pruner),
            None => Ok(()),
        }
    };

    // The step whose state is on disk (a resumed run's checkpoint is its own state).
    let mut saved_at = st.resumed_from;
    while st.step < cfg.steps {
        if opts.stop_after.is_some_and(|k| st.step >= k) {
            if saved_at != Some(st.step) {
                save(&st, model, stream, pruner)?;
            }
            progress.finish();
            return Err(TrainError::Stopped { step: st.step, checkpoint: opts.checkpoint.clone() });
        }
        let t = st.step;
        let batch = stream.next_batch(cfg.batch_size).map_err(|e| TrainError::Data { step: t, source: Box::new(e) })?;
        st.data_seen += batch.data_units();
        let grads = model.try_alloc_grads().map_err(|e| TrainError::Device(format!("allocating gradients: {e}")))?;
        let scalar: dfdx::prelude::Tensor<(), f32, Cpu> = dev.zeros();
        let (_, tape) = scalar.traced(grads).split_tape();
        let loss = model.loss(&batch, tape).map_err(|e| TrainError::Model { step: t, source: Box::new(e) })?;
        let lv: f32 = loss.array();
        if !lv.is_finite() {
            return Err(TrainError::NonFinite { step: t, what: "training loss", value: lv as f64 });
        }
        let mut grads = loss.backward();
        optimizer_step(cfg, &mut st.opt, t, model, &mut grads, pruner)?;
        drop(grads);
        pruner.on_step(model, t).map_err(|source| TrainError::Pruner { step: t, source })?;
        st.train_loss.push(lv);
        st.step = t + 1;

        if progress.is_visible() {
            if st.step % 20 == 0 {
                shown_sparsity = pruner.stats(model).sparsity;
            }
            progress.update(st.step, lv, shown_sparsity);
        }
        if st.step % cfg.eval_every == 0 || st.step == cfg.steps {
            let v = validate(model, validation, st.step)?;
            st.val_curve.push(LossPoint { step: st.step, loss: v });
            progress.validated(st.step, v);
        }
        if opts.checkpoint_every > 0 && st.step % opts.checkpoint_every == 0 && st.step < cfg.steps {
            save(&st, model, stream, pruner)?;
            saved_at = Some(st.step);
        }
    }
    progress.finish();
    let elapsed_s = st.elapsed_s + started.elapsed().as_secs_f64();
    if saved_at != Some(cfg.steps) {
        save(&st, model, stream, pruner)?;
    }

    let stats = pruner.stats(model);
    let last = st
        .val_curve
        .last()
        .copied()
        .ok_or_else(|| TrainError::Device("a finished run has no validation result".into()))?;
    let best = st.val_curve.iter().copied().fold(last, |b, p| if p.loss < b.loss { p } else { b });
    // The ops keep their scratch buffers for the next step; the run is over, so hand them back.
    crate::ops::release_scratch();
    let mut train_curve = Vec::with_capacity(st.val_curve.len());
    let mut from = 0usize;
    for p in &st.val_curve {
        let to = (p.step as usize).min(st.train_loss.len());
        if to > from {
            let s: f64 = st.train_loss[from..to].iter().map(|&x| x as f64).sum();
            train_curve.push(LossPoint { step: p.step, loss: s / (to - from) as f64 });
        }
        from = to;
    }
    Ok(RunSummary {
        final_val_loss: last.loss,
        best_val_loss: best.loss,
        best_step: best.step,
        nonzeros: stats.nonzeros,
        total_params: stats.total_params,
        avg_nonzeros: stats.avg_nonzeros,
        sparsity: stats.sparsity,
        layers: stats.layers,
        data_seen: st.data_seen,
        steps: st.step,
        wall_time_s: elapsed_s,
        steps_per_s: st.step as f64 / elapsed_s.max(1e-9),
        val_curve: st.val_curve,
        train_curve,
        resumed_from: st.resumed_from,
    })
}

fn write_checkpoint<M: SparseModel, S: Stream, P: Sparsifier<M>>(
    path: &std::path::Path,
    st: &RunState,
    started: Instant,
    cfg: &TrainConfig,
    model: &M,
    stream: &S,
    pruner: &P,
) -> Result<(), TrainError> {
    let data_position = serde_json::to_value(stream.position()).map_err(|e| CheckpointError::Malformed {
        path: path.to_path_buf(),
        detail: format!("the data position could not be encoded: {e}"),
    })?;
    let pruner_state = pruner.state().map_err(|source| TrainError::Pruner { step: st.step, source })?;
    let mut weights = Vec::new();
    for_each_param::<_, TrainError>(model, &mut |p, _, v| {
        weights.push((p.to_string(), v.to_vec()));
        Ok(())
    })?;
    let ck = Checkpoint {
        step: st.step,
        config: config_text(cfg),
        data_position,
        pruner: pruner_state,
        train_loss: st.train_loss.clone(),
        val_curve: st.val_curve.clone(),
        data_seen: st.data_seen,
        elapsed_s: st.elapsed_s + started.elapsed().as_secs_f64(),
        resumed_from: st.resumed_from,
        opt_t: st.opt.t,
        model: weights,
        opt: st.opt.slots.clone(),
    };
    checkpoint::save(path, &ck)?;
    Ok(())
}

fn restore<M: SparseModel, S: Stream, P: Sparsifier<M>>(
    path: &std::path::Path,
    ck: Checkpoint,
    cfg: &TrainConfig,
    model: &mut M,
    stream: &mut S,
    pruner: &mut P,
) -> Result<RunState, TrainError> {
    let mismatch = |detail: String| CheckpointError::Mismatch { path: path.to_path_buf(), detail };
    let ours = config_text(cfg);
    if ck.config != ours {
        return Err(mismatch(format!(
            "it was written under another training config ({}; this run has {ours})",
            ck.config
        ))
        .into());
    }
    if ck.step > cfg.steps || ck.train_loss.len() as u64 != ck.step {
        return Err(CheckpointError::Malformed {
            path: path.to_path_buf(),
            detail: format!(
                "step {} with {} recorded losses in a {}-step run",
                ck.step,
                ck.train_loss.len(),
                cfg.steps
            ),
        }
        .into());
    }
    let mut i = 0usize;
    let mut problem: Option<String> = None;
    let saved = &ck.model;
    for_each_param_mut::<_, TrainError>(model, &mut |p, _, v| {
        if problem.is_some() {
            return Ok(());
        }
        match saved.get(i) {
            Some((name, w)) if name == p && w.len() == v.len() => v.copy_from_slice(w),
            Some((name, w)) => {
                problem = Some(format!(
                    "parameter #{i} is `{name}` with {} values, the model's is `{p}` with {}",
                    w.len(),
                    v.len()
                ))
            }
            None => problem = Some(format!("the model's parameter `{p}` is missing")),
        }
        i += 1;
        Ok(())
    })?;
    if let Some(d) = problem {
        return Err(mismatch(d).into());
    }
    if i != saved.len() {
        return Err(mismatch(format!("it holds {} parameters, the model has {i}", saved.len())).into());
    }
    let opt = OptState { t: ck.opt_t, slots: ck.opt };
    check_layout(&opt, cfg, model).map_err(mismatch)?;
    pruner
        .restore(model, ck.pruner)
        .map_err(|e| mismatch(format!("the pruner could not take its saved state: {e}")))?;
    let pos: StreamPosition = serde_json::from_value(ck.data_position)
        .map_err(|e| mismatch(format!("the saved data position is not a stream position: {e}")))?;
    stream.seek(&pos).map_err(|e| mismatch(format!("the saved data position does not fit this data stream: {e}")))?;
    Ok(RunState {
        step: ck.step,
        opt,
        train_loss: ck.train_loss,
        val_curve: ck.val_curve,
        data_seen: ck.data_seen,
        elapsed_s: ck.elapsed_s,
        resumed_from: Some(ck.step),
    })
}

/// The config as JSON text (serde_json prints every float in its shortest exact form).
fn config_text(cfg: &TrainConfig) -> String {
    serde_json::to_string(cfg).unwrap_or_else(|e| format!("unprintable config: {e}"))
}
