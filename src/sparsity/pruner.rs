//! The pruner: one object the training loop calls after every optimizer step (PAPER.md §4:
//! masks recomputed every `update_freq` steps between t_start and t_end, re-applied after every
//! step so pruned weights stay exactly zero).
//!
//! ```
//! # use sparse_scaling::sparsity::*;
//! # fn demo<M: dfdx::nn::tensor_collection::TensorCollection<f32, dfdx::prelude::Cpu>>(model: &mut M) -> Result<(), SparsityError> {
//! let cfg = SparsityConfig::gmp_paper(0.75);
//! let mut pruner = Pruner::new(model, &cfg, 10_000)?;
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

use super::config::{Method, SparsityConfig};
use super::magnitude::{check_size, magnitude_mask};
use super::masks::{count_zeros, BitMask, Masks};
use super::nm::{gradual_nm_mask, nm_mask, NmPattern};
use super::roles::{embedding_sparsity, ParamRole};
use super::schedule::CubicSchedule;
use super::SparsityError;

/// What the pruner does over the run, resolved from the config and the run length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Plan {
    /// Never prune.
    Dense,
    /// Masks follow `schedule`: unstructured magnitude, or gradual n:m when `nm` is set.
    Gradual {
        /// The cubic schedule.
        schedule: CubicSchedule,
        /// Optional n:m target.
        nm: Option<NmPattern>,
    },
    /// Fixed n:m masks computed once from the weights the pruner was built from.
    OneShotNm {
        /// The pattern.
        nm: NmPattern,
    },
}

impl Plan {
    /// Resolve a config over a run of `total_steps` steps.
    pub fn resolve(config: &SparsityConfig, total_steps: u64) -> Result<Plan, SparsityError> {
        Ok(match &config.method {
            Method::Dense => Plan::Dense,
            Method::Gmp { schedule } => Plan::Gradual { schedule: schedule.resolve(total_steps)?, nm: None },
            Method::NM { n, m, gradual } => {
                let nm = NmPattern::new(*n, *m)?;
                match gradual {
                    Some(r) => Plan::Gradual { schedule: r.with_sparsity(nm.sparsity()).resolve(total_steps)?, nm: Some(nm) },
                    None => Plan::OneShotNm { nm },
                }
            }
            Method::FromDense(c) => {
                let p = c.plan(total_steps)?;
                Plan::Gradual { schedule: p.schedule, nm: p.nm }
            }
        })
    }

    /// The target sparsity of the pruned layers after step `step` (what the masks hold).
    pub fn target_after(&self, step: u64) -> f64 {
        match self {
            Plan::Dense => 0.0,
            Plan::Gradual { schedule, .. } => schedule.effective_sparsity(step),
            Plan::OneShotNm { nm } => nm.sparsity(),
        }
    }
}

/// Measured sparsity of one parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
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

/// What a run reports about its sparsity (issue 3, part 5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SparsityStats {
    /// Every prunable and embedding parameter.
    pub layers: Vec<LayerStats>,
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

/// Keeps masks for a model and applies a pruning method over a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pruner {
    config: SparsityConfig,
    total_steps: u64,
    plan: Plan,
    masks: Masks,
    /// The step whose sparsity the masks hold (`None` before the first update).
    last_update: Option<u64>,
}

impl Pruner {
    /// Validate `config` for a run of `total_steps` steps and build masks for `model`.
    ///
    /// For one-shot n:m the masks are computed now from `model`'s weights; call
    /// [`Pruner::apply`] once before the first step so the first forward pass is already sparse.
    pub fn new<M: TensorCollection<f32, Cpu>>(
        model: &M,
        config: &SparsityConfig,
        total_steps: u64,
    ) -> Result<Self, SparsityError> {
        let plan = Plan::resolve(config, total_steps)?;
        let masks = Masks::for_model(model, config.prune_embeddings);
        if plan != Plan::Dense && !masks.params.iter().any(|p| p.role == ParamRole::Prunable) {
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
        let nm = match &plan {
            Plan::Gradual { nm, .. } => *nm,
            Plan::OneShotNm { nm } => Some(*nm),
            Plan::Dense => None,
        };
        if let Some(nm) = nm {
            for p in masks.params.iter().filter(|p| p.role == ParamRole::Prunable) {
                nm.check_layer(&p.path, &p.shape)?;
            }
        }
        let mut pruner = Pruner { config: config.clone(), total_steps, plan, masks, last_update: None };
        if let Plan::OneShotNm { nm } = pruner.plan {
            let weights = pruner.masks.read_weights(model);
            pruner.recompute(&weights, nm.sparsity())?;
        }
        Ok(pruner)
    }

    /// Continue from a saved pruner (e.g. deserialised from a checkpoint): checks that it was
    /// made for this config, run length and model.
    pub fn resume<M: TensorCollection<f32, Cpu>>(
        saved: Pruner,
        model: &M,
        config: &SparsityConfig,
        total_steps: u64,
    ) -> Result<Self, SparsityError> {
        if &saved.config != config || saved.total_steps != total_steps {
            return Err(SparsityError::StateMismatch {
                detail: format!(
                    "the checkpoint was written for sparsity config {:?} over {} steps, this run has {:?} over {} steps",
                    saved.config, saved.total_steps, config, total_steps
                ),
            });
        }
        saved.masks.check_matches(model)?;
        Ok(saved)
    }

    /// Call after optimizer step `step` (0-based): recomputes masks if an update is due (or was
    /// missed), then re-applies them. Returns whether any mask changed.
    ///
    /// A recompute ranks the weights *after* zeroing those already pruned, so the pruned set only
    /// grows during a ramp (weights are never regrown), as in Zhu & Gupta's GMP.
    pub fn on_step<M: TensorCollection<f32, Cpu>>(&mut self, model: &mut M, step: u64) -> Result<bool, SparsityError> {
        let due = match &self.plan {
            Plan::Gradual { schedule, .. } => schedule.last_update_at_or_before(step),
            _ => None,
        };
        if due.is_some() && due != self.last_update {
            let (Plan::Gradual { schedule, .. }, Some(u)) = (&self.plan, due) else {
                unreachable!("due is only set for gradual plans")
            };
            let s = schedule.sparsity_at(u);
            let mut weights = self.masks.read_weights(model);
            // Rank the masked weights (Zhu & Gupta: pruned weights score 0), so a weight the
            // optimizer moved while pruned is not regrown, whatever the optimizer did.
            self.zero_buffers(&mut weights);
            let changed = self.recompute(&weights, s)?;
            self.last_update = due;
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

    /// The resolved plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The config this pruner was built from.
    pub fn config(&self) -> &SparsityConfig {
        &self.config
    }

    /// The step whose schedule value the masks hold (`None` before the first update).
    pub fn last_update(&self) -> Option<u64> {
        self.last_update
    }

    /// The sparsity the pruned layers' masks currently hold (cheap; for progress bars).
    pub fn current_sparsity(&self) -> f64 {
        match &self.plan {
            Plan::Dense => 0.0,
            Plan::Gradual { schedule, .. } => self.last_update.map_or(0.0, |u| schedule.sparsity_at(u)),
            Plan::OneShotNm { nm } => nm.sparsity(),
        }
    }

    /// Per-layer and overall sparsity, N and total parameters (N counted from the masks; the
    /// zeros actually present in `model`'s weights reported per layer too).
    pub fn stats<M: TensorCollection<f32, Cpu>>(&self, model: &M) -> SparsityStats {
        let zeros = count_zeros(model);
        let mut st = SparsityStats {
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
                ParamRole::Dense => continue,
            }
            let z = zeros.get(i).filter(|z| z.0 == p.path).map_or(0, |z| z.1);
            st.layers.push(LayerStats {
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
        let (nm, one_shot) = match &self.plan {
            Plan::Dense => return Ok(false),
            Plan::Gradual { nm, .. } => (*nm, false),
            Plan::OneShotNm { nm } => (Some(*nm), true),
        };
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
