//! The pruner: one object the training loop calls after every optimizer step (docs/THEORY.md
//! §4: masks recomputed every `update_every` steps between the schedule's start and end,
//! re-applied after every step so pruned weights stay exactly zero).
//!
//! It consumes a point's [`PruningPlan`] as planning resolved it (absolute steps), with the
//! point's target sparsity and run length.
//!
//! ```
//! # use sparse_scaling::sparsity::*;
//! # use sparse_scaling::experiment::{PruningPlan, ScheduleShape};
//! # fn demo<M: dfdx::nn::tensor_collection::TensorCollection<f32, dfdx::prelude::Cpu>>(model: &mut M) -> Result<(), SparsityError> {
//! let plan = PruningPlan::Gmp { shape: ScheduleShape::CUBIC, start: 2_500, end: 7_500, update_every: 100 };
//! let mut pruner = Pruner::new(model, &plan, 0.75, 10_000, Embeddings::Dense)?;
//! pruner.apply(model);
//! for step in 0..10_000 {
//!     // … forward, backward, optimizer update; for each Adam moment buffer of a parameter:
//!     // pruner.zero_pruned(path, &mut moment)?;
//!     pruner.on_step(model, step)?;
//! }
//! let stats = pruner.stats(model);
//! println!("N = {}, S = {}", stats.n_nonzero, stats.sparsity);
//! # Ok(()) }
//! ```

use dfdx::nn::tensor_collection::TensorCollection;
use dfdx::prelude::{Cpu, Gradients};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::magnitude::{check_size, magnitude_mask};
use super::masks::{count_zeros, BitMask, Masks};
use super::nm::{gradual_nm_mask, nm_mask, NmPattern};
use super::schedule::{check_sparsity, Schedule};
use super::SparsityError;
use crate::experiment::PruningPlan;
use crate::params::{embedding_sparsity, ParamRole};

/// Whether token/patch embeddings and the output head are pruned too (at 1 − √(1 − S),
/// docs/THEORY.md §4.3; never counted in N).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Embeddings {
    /// Left dense (the paper's runs, and what the runner does).
    #[default]
    Dense,
    /// Pruned at 1 − √(1 − S) alongside the prunable layers.
    Pruned,
}

/// Measured sparsity of one parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerMaskStats {
    /// Parameter path.
    pub path: String,
    /// Its role.
    pub role: ParamRole,
    /// Number of weights.
    pub size: usize,
    /// Weights kept by the mask.
    pub kept: usize,
    /// Sparsity of the mask, (size − kept) / size.
    pub sparsity: f64,
    /// Sparsity the mask was computed for.
    pub target: f64,
    /// Exact zeros in the model's weights (≥ size − kept once masks are applied).
    pub zeros_in_weights: usize,
}

/// What the masks say about a model's sparsity, overall and per layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaskStats {
    /// Every prunable and embedding parameter.
    pub layers: Vec<LayerMaskStats>,
    /// N: non-zeros of the prunable layers, counted from the masks.
    pub n_nonzero: usize,
    /// Size of the prunable layers (N at S = 0).
    pub prunable_params: usize,
    /// Overall sparsity of the prunable layers, 1 − N / prunable_params.
    pub sparsity: f64,
    /// Size of embedding/head parameters.
    pub embedding_params: usize,
    /// Kept embedding/head weights (by mask).
    pub embedding_nonzero: usize,
    /// Every parameter of the model.
    pub total_params: usize,
}

/// Keeps masks for a model and applies a [`PruningPlan`] over a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pruner {
    plan: PruningPlan,
    sparsity: f64,
    total_steps: u64,
    embeddings: Embeddings,
    /// The plan's schedule with its target, validated (`None`: masks never change).
    schedule: Option<Schedule>,
    /// The plan's n:m pattern, validated.
    nm: Option<NmPattern>,
    masks: Masks,
    /// The step whose sparsity the masks hold (`None` before the first update).
    last_update: Option<u64>,
    /// The steps trained so far and their non-zero counts, for N̄ ([`Pruner::avg_nonzero`]).
    /// `None` in a state restored from a checkpoint written before this was kept.
    #[serde(default)]
    nonzero_sum: Option<NonzeroTally>,
}

/// The non-zero counts of the steps trained so far, kept without counting masks every step:
/// the count only changes when masks are recomputed, so the steps since the last recompute
/// all trained with the masks' current count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NonzeroTally {
    /// Σ of the non-zero counts of the steps before the last recompute.
    sum: u64,
    /// How many steps that sum covers.
    summed: u64,
    /// Steps trained so far.
    steps: u64,
}

impl Pruner {
    /// Validates `plan` at target `sparsity` for a run of `total_steps` steps and builds masks
    /// for `model`.
    ///
    /// For one-shot n:m the masks are computed now from `model`'s weights; call
    /// [`Pruner::apply`] once before the first step so the first forward pass is already sparse.
    pub fn new<M: TensorCollection<f32, Cpu>>(
        model: &M,
        plan: &PruningPlan,
        sparsity: f64,
        total_steps: u64,
        embeddings: Embeddings,
    ) -> Result<Self, SparsityError> {
        check_sparsity("sparsity", sparsity)?;
        let nm = match plan.nm() {
            Some((n, m)) => {
                let p = NmPattern::new(n, m)?;
                if (p.sparsity() - sparsity).abs() > 1e-9 {
                    return Err(SparsityError::NmSparsity { n, m, sparsity, expected: p.sparsity() });
                }
                Some(p)
            }
            None => None,
        };
        let schedule = Schedule::of_plan(plan, sparsity, total_steps)?;
        let masks = Masks::for_model(model, embeddings == Embeddings::Pruned);
        if *plan != PruningPlan::Dense && !masks.params.iter().any(|p| p.role == ParamRole::Prunable) {
            let paths: Vec<&str> = masks.params.iter().take(8).map(|p| p.path.as_str()).collect();
            return Err(SparsityError::NoPrunable { paths: paths.join(", ") });
        }
        if let Some(path) = masks.duplicate_path() {
            return Err(SparsityError::DuplicatePath { path: path.into() });
        }
        for p in &masks.params {
            if p.mask.is_some() {
                check_size(&p.path, p.numel())?;
            }
        }
        if let Some(nm) = nm {
            for p in masks.params.iter().filter(|p| p.role == ParamRole::Prunable) {
                nm.check_layer(&p.path, &p.shape)?;
            }
        }
        let mut pruner = Pruner {
            plan: plan.clone(),
            sparsity,
            total_steps,
            embeddings,
            schedule,
            nm,
            masks,
            last_update: None,
            nonzero_sum: Some(NonzeroTally::default()),
        };
        if let (Some(nm), None) = (nm, schedule) {
            let weights = pruner.masks.read_weights(model);
            pruner.recompute(&weights, nm.sparsity())?;
        }
        Ok(pruner)
    }

    /// Continues from `saved` (e.g. deserialised from a checkpoint) in place of `self`: checks
    /// that it was made for the same plan, sparsity, run length and embedding setting, and
    /// that its masks describe `model`.
    pub fn resume<M: TensorCollection<f32, Cpu>>(&mut self, model: &M, saved: Pruner) -> Result<(), SparsityError> {
        let settings = |p: &Pruner| (p.plan.clone(), p.sparsity, p.total_steps, p.embeddings);
        if settings(&saved) != settings(self) {
            return Err(SparsityError::StateMismatch {
                detail: format!(
                    "the checkpoint was written for {:?} at sparsity {} over {} steps (embeddings {:?}), this run has {:?} at sparsity {} over {} steps (embeddings {:?})",
                    saved.plan, saved.sparsity, saved.total_steps, saved.embeddings, self.plan, self.sparsity, self.total_steps, self.embeddings
                ),
            });
        }
        saved.masks.check_matches(model)?;
        *self = saved;
        Ok(())
    }

    /// Call after optimizer step `step` (0-based): recomputes masks if an update is due (or was
    /// missed), then re-applies them. Returns whether any mask changed.
    ///
    /// A recompute ranks the weights *after* zeroing those already pruned, so the pruned set only
    /// grows during a ramp (weights are never regrown), as in Zhu & Gupta's GMP.
    pub fn on_step<M: TensorCollection<f32, Cpu>>(&mut self, model: &mut M, step: u64) -> Result<bool, SparsityError> {
        // step `step` trained with the masks as they are now
        if let Some(t) = &mut self.nonzero_sum {
            t.steps += 1;
        }
        let due = self.schedule.and_then(|s| s.last_update_at_or_before(step).map(|u| (u, s.sparsity_at(u))));
        if let Some((u, s)) = due.filter(|&(u, _)| Some(u) != self.last_update) {
            let mut weights = self.masks.read_weights(model);
            // Rank the masked weights (Zhu & Gupta: pruned weights score 0), so a weight the
            // optimizer moved while pruned is not regrown, whatever the optimizer did.
            self.zero_buffers(&mut weights);
            let changed = self.recompute(&weights, s)?;
            self.last_update = Some(u);
            self.zero_buffers(&mut weights);
            self.masks.write_weights(model, &weights);
            Ok(changed)
        } else {
            self.apply(model);
            Ok(false)
        }
    }

    /// Zero every pruned weight of `model`.
    pub fn apply<M: TensorCollection<f32, Cpu>>(&self, model: &mut M) {
        self.masks.apply(model);
    }

    /// Zero the pruned entries of a flat buffer shaped like parameter `path` (its gradient, an
    /// Adam moment, …). Parameters that are never pruned are left alone.
    pub fn zero_pruned(&self, path: &str, buf: &mut [f32]) -> Result<(), SparsityError> {
        self.masks.zero_pruned(path, buf)
    }

    /// Zero the gradients of pruned weights in dfdx `Gradients`.
    pub fn mask_gradients<M: TensorCollection<f32, Cpu>>(&self, model: &M, grads: &mut Gradients<f32, Cpu>) {
        self.masks.mask_gradients(model, grads)
    }

    /// The masks.
    pub fn masks(&self) -> &Masks {
        &self.masks
    }

    /// The plan this pruner follows.
    pub fn plan(&self) -> &PruningPlan {
        &self.plan
    }

    /// The validated schedule (`None` when the masks never change: dense, one-shot n:m).
    pub fn schedule(&self) -> Option<&Schedule> {
        self.schedule.as_ref()
    }

    /// Whether embeddings and the head are pruned too.
    pub fn embeddings(&self) -> Embeddings {
        self.embeddings
    }

    /// The step whose schedule value the masks hold (`None` before the first update).
    pub fn last_update(&self) -> Option<u64> {
        self.last_update
    }

    /// Non-zero weights the prunable layers' masks keep now (their size where unmasked).
    pub fn kept_prunable(&self) -> u64 {
        self.masks.params.iter().filter(|p| p.role == ParamRole::Prunable).map(|p| p.kept() as u64).sum()
    }

    /// N̄: the mean, over the steps trained so far (one [`Pruner::on_step`] each), of the
    /// prunable layers' non-zero count each step trained with — the average parameter count
    /// of Jin et al. (ICLR 2025). `None` before the first step, or when the state came from a
    /// checkpoint that did not keep the sum.
    pub fn avg_nonzero(&self) -> Option<f64> {
        match self.nonzero_sum {
            Some(t) if t.steps > 0 => {
                let sum = t.sum.saturating_add(self.kept_prunable().saturating_mul(t.steps - t.summed));
                Some(sum as f64 / t.steps as f64)
            }
            _ => None,
        }
    }

    /// The sparsity the pruned layers' masks currently hold (cheap; for progress bars).
    pub fn current_sparsity(&self) -> f64 {
        match (self.schedule, self.nm) {
            (Some(schedule), _) => self.last_update.map_or(0.0, |u| schedule.sparsity_at(u)),
            (None, Some(nm)) => nm.sparsity(),
            (None, None) => 0.0,
        }
    }

    /// Per-layer and overall sparsity, N and total parameters (N counted from the masks; the
    /// zeros actually present in `model`'s weights reported per layer too).
    pub fn stats<M: TensorCollection<f32, Cpu>>(&self, model: &M) -> MaskStats {
        let zeros = count_zeros(model);
        let mut st = MaskStats {
            layers: Vec::new(),
            n_nonzero: 0,
            prunable_params: 0,
            sparsity: 0.0,
            embedding_params: 0,
            embedding_nonzero: 0,
            total_params: 0,
        };
        for (i, p) in self.masks.params.iter().enumerate() {
            let size = p.numel();
            st.total_params += size;
            let kept = p.kept();
            match p.role {
                ParamRole::Prunable => {
                    st.prunable_params += size;
                    st.n_nonzero += kept;
                }
                ParamRole::Embedding => {
                    st.embedding_params += size;
                    st.embedding_nonzero += kept;
                }
                ParamRole::Dense | ParamRole::Matrix => continue,
            }
            let z = zeros.get(i).filter(|z| z.0 == p.path).map_or(0, |z| z.1);
            st.layers.push(LayerMaskStats {
                path: p.path.clone(),
                role: p.role,
                size,
                kept,
                sparsity: p.sparsity(),
                target: p.target,
                zeros_in_weights: z,
            });
        }
        if st.prunable_params > 0 {
            st.sparsity = 1.0 - st.n_nonzero as f64 / st.prunable_params as f64;
        }
        st
    }

    /// Recompute every mask from `weights` (as read by `Masks::read_weights`) with the pruned
    /// layers at sparsity `s`. Returns whether any mask changed.
    fn recompute(&mut self, weights: &[Option<Vec<f32>>], s: f64) -> Result<bool, SparsityError> {
        let (nm, one_shot) = match (self.schedule, self.nm) {
            (None, None) => return Ok(false),
            (schedule, nm) => (nm, schedule.is_none()),
        };
        // the steps since the last recompute trained with the count the masks have now
        let kept = self.kept_prunable();
        if let Some(t) = &mut self.nonzero_sum {
            t.sum = t.sum.saturating_add(kept.saturating_mul(t.steps - t.summed));
            t.summed = t.steps;
        }
        let emb_s = embedding_sparsity(s);
        let new: Vec<Option<Result<(BitMask, f64), SparsityError>>> = self
            .masks
            .params
            .par_iter()
            .zip(weights.par_iter())
            .map(|(p, w)| {
                let w = w.as_ref()?;
                p.mask.as_ref()?;
                Some(match (p.role, nm) {
                    (ParamRole::Prunable, Some(nm)) if one_shot => nm_mask(&p.path, w, &p.shape, nm).map(|m| (m, s)),
                    (ParamRole::Prunable, Some(nm)) => gradual_nm_mask(&p.path, w, &p.shape, nm, s).map(|m| (m, s)),
                    (ParamRole::Prunable, None) => magnitude_mask(&p.path, w, s).map(|m| (m, s)),
                    _ => magnitude_mask(&p.path, w, emb_s).map(|m| (m, emb_s)),
                })
            })
            .collect();
        let mut changed = false;
        for (p, n) in self.masks.params.iter_mut().zip(new) {
            if let Some(r) = n {
                let (m, target) = r?;
                if p.mask.as_ref() != Some(&m) {
                    changed = true;
                }
                p.mask = Some(m);
                p.target = target;
            }
        }
        Ok(changed)
    }

    /// Apply the masks to buffers read by `Masks::read_weights`.
    fn zero_buffers(&self, bufs: &mut [Option<Vec<f32>>]) {
        bufs.par_iter_mut().zip(self.masks.params.par_iter()).for_each(|(b, p)| {
            if let (Some(b), Some(m)) = (b.as_mut(), &p.mask) {
                m.zero_pruned(b);
            }
        });
    }
}
