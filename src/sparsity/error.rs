//! Errors of the sparsity area: one enum, structured fields, messages that say how to fix.

use thiserror::Error;

/// Everything that can go wrong when configuring or running a pruner.
///
/// Every variant names the offending value (and layer, where there is one) and says how to fix it.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SparsityError {
    /// A sparsity outside `0 ≤ S < 1`.
    #[error("{field} = {value} is not a valid sparsity: it must satisfy 0 ≤ S < 1 (S = 1 would remove every weight); use e.g. 0.5, 0.75 or 0.875")]
    InvalidSparsity {
        /// Which setting (e.g. `schedule.sparsity`).
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// `t_start ≥ t_end` or `t_end > steps`.
    #[error("schedule start step {t_start} and end step {t_end} do not satisfy t_start < t_end ≤ steps = {steps}; the paper uses start = Fraction(0.25), end = Fraction(0.75)")]
    ScheduleOrder {
        /// Resolved start step.
        t_start: u64,
        /// Resolved end step.
        t_end: u64,
        /// Total steps of the run.
        steps: u64,
    },
    /// `update_freq == 0`.
    #[error("update_freq = 0: masks must be recomputed every update_freq ≥ 1 steps; the paper uses 100")]
    InvalidUpdateFreq,
    /// A schedule shape with an invalid parameter.
    #[error("the schedule shape {shape:?} is invalid: a polynomial needs a finite power above 0, e.g. `Polynomial(3.0)` (cubic)")]
    InvalidShape {
        /// The shape.
        shape: crate::experiment::ScheduleShape,
    },
    /// A run of zero steps.
    #[error("a run of 0 steps cannot be pruned on a schedule; give steps ≥ 1")]
    ZeroSteps,
    /// `n ≥ m` or `n = 0`.
    #[error(
        "n:m = {n}:{m} is not a valid pattern: it needs 1 ≤ n < m (keep n of every m weights); use e.g. 2:4 or 4:8"
    )]
    InvalidNm {
        /// Weights kept per group.
        n: usize,
        /// Group size.
        m: usize,
    },
    /// An n:m plan asked to reach a sparsity other than 1 − n/m.
    #[error("sparsity = {sparsity} but n:m = {n}:{m} ends at sparsity 1 − n/m = {expected}; use sparsity {expected} for this pattern")]
    NmSparsity {
        /// Weights kept per group.
        n: usize,
        /// Group size.
        m: usize,
        /// The target sparsity asked for.
        sparsity: f64,
        /// 1 − n/m.
        expected: f64,
    },
    /// The input width of a layer is not a multiple of `m`.
    #[error("layer `{layer}` has input width {width}, which is not a multiple of m = {m}, so it cannot be cut into groups of {m} consecutive input weights; choose an m that divides {width} (e.g. 4 or 8) or a model width that is a multiple of {m}")]
    NmWidth {
        /// Parameter path.
        layer: String,
        /// Its input width (last axis).
        width: usize,
        /// The group size asked for.
        m: usize,
    },
    /// A layer with more than `u32::MAX` weights (ranking packs indices into 32 bits).
    #[error("layer `{layer}` has {size} weights; per-layer top-k supports at most 4294967295 weights per layer; split the layer")]
    LayerTooLarge {
        /// Parameter path.
        layer: String,
        /// Number of weights.
        size: usize,
    },
    /// A pruning method was asked for but the model has no prunable parameter.
    #[error("the model has no prunable parameter: a weight is prunable when it is rank 2, its path ends in `weight` and a path component is exactly `attn`, `self_attn`, `cross_attn` or `mlp` (paths seen: {paths}); name the model's fields after this contract or use method: Dense")]
    NoPrunable {
        /// A sample of the paths that were seen.
        paths: String,
    },
    /// Two parameters with the same path.
    #[error("two parameters of the model have the path `{path}`; masks are addressed by path, so give the fields distinct names in the model's TensorCollection impl")]
    DuplicatePath {
        /// The repeated path.
        path: String,
    },
    /// A parameter path that the pruner does not know.
    #[error("no parameter `{path}` in this pruner's masks; use one of the paths of the model the pruner was built for (see Pruner::masks())")]
    UnknownParam {
        /// The path asked for.
        path: String,
    },
    /// A buffer whose length does not match the parameter's size.
    #[error("buffer for `{path}` has {got} values but the parameter has {expected}; pass a buffer of the parameter's shape (e.g. its Adam moment)")]
    LengthMismatch {
        /// Parameter path.
        path: String,
        /// Parameter size.
        expected: usize,
        /// Buffer length given.
        got: usize,
    },
    /// Saved masks or pruner state do not fit the model (a corrupt or foreign checkpoint).
    #[error("saved sparsity state does not match the model: {detail}; resume with the checkpoint written for this model and config, or start the run afresh")]
    StateMismatch {
        /// What differs.
        detail: String,
    },
    /// A bit-packed mask whose stored words do not match its length.
    #[error("corrupt mask: {detail}; the checkpoint is damaged, use an earlier one or start afresh")]
    CorruptMask {
        /// What is wrong.
        detail: String,
    },
}
