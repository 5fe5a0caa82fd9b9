//! Training configuration: optimizer, learning-rate schedule, clipping, validation cadence.
//!
//! Defaults follow docs/THEORY.md §5: the authors' generic example uses AdamW with peak learning
//! rate 4e-4, 1k warm-up steps, cosine decay to 0 and global-norm gradient clipping at 1.0;
//! their T5 runs use an Adafactor-style optimizer (RMS-scaled relative steps, update clipping
//! 1.0, an rsqrt schedule with 10k warm-up steps, RMS statistics over non-zero weights only).
//! Warm-up lengths are in steps: an experiment's fractions of the run (10k of 500k steps is 2 %)
//! are resolved once, when the experiment is planned.

use serde::{Deserialize, Serialize};

use super::TrainError;

/// AdamW (Loshchilov & Hutter 2019) with linear warm-up and cosine decay to a floor.
///
/// Weight decay is decoupled (`w ← w − lr·λ·w`) and applies only to weight matrices: tensors
/// with at least two dimensions whose path names neither a norm (`norm`) nor a bias (`bias`).
/// LayerNorm/RMSNorm scales, biases and the relative-position bias are not decayed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamWConfig {
    /// Peak learning rate, reached at the end of warm-up. docs/THEORY.md §5.3: 4e-4.
    pub lr: f64,
    /// First-moment decay β1 (0.9).
    pub beta1: f64,
    /// Second-moment decay β2 (0.999).
    pub beta2: f64,
    /// Denominator ε (1e-8).
    pub eps: f64,
    /// Decoupled weight decay λ (1e-4), see the type's docs for which tensors it touches.
    pub weight_decay: f64,
    /// Steps of linear warm-up from 0 to `lr`. docs/THEORY.md §5.3: 1k steps.
    pub warmup_steps: u64,
    /// Learning rate at the last step, as a fraction of `lr`. docs/THEORY.md §5.3: cosine to 0.
    pub final_lr_fraction: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 4e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
            warmup_steps: 1000,
            final_lr_fraction: 0.0,
        }
    }
}

/// Adafactor-style optimizer (Shazeer & Stern 2018) as the paper's T5 runs use it.
///
/// Second moments of matrices are factored into row and column statistics; the step is
/// relative (`α = max(ε2, RMS(w)) · ρ_t`); updates are clipped to RMS ≤ `clip_threshold`;
/// `ρ_t = scale / √max(t, warm-up)` (the T5X "rsqrt with warm-up": constant during warm-up,
/// then decaying as 1/√t). Every RMS counts the non-zero (unpruned) weights only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdafactorConfig {
    /// Multiplier of the rsqrt schedule (1.0: ρ = 1/√max(t, warm-up), as in T5X).
    pub scale: f64,
    /// Steps of the rsqrt schedule's constant phase. docs/THEORY.md §5.3: 10k steps at paper
    /// scale.
    pub warmup_steps: u64,
    /// Exponent of the second-moment decay `β2_t = 1 − t^(−decay_exponent)` (0.8).
    pub decay_exponent: f64,
    /// ε1 added to squared gradients (1e-30).
    pub eps1: f64,
    /// ε2, the smallest parameter scale used for the relative step (1e-3).
    pub eps2: f64,
    /// Update clipping threshold d: updates are scaled to RMS ≤ d. docs/THEORY.md §5.3: 1.0.
    pub clip_threshold: f64,
    /// Decoupled weight decay, multiplied by the step size (0 in the paper's runs).
    pub weight_decay: f64,
    /// Tensors with at least this many rows and columns get factored second moments (2).
    pub min_dim_to_factor: usize,
}

impl Default for AdafactorConfig {
    fn default() -> Self {
        AdafactorConfig {
            scale: 1.0,
            warmup_steps: 10_000,
            decay_exponent: 0.8,
            eps1: 1e-30,
            eps2: 1e-3,
            clip_threshold: 1.0,
            weight_decay: 0.0,
            min_dim_to_factor: 2,
        }
    }
}

/// Which optimizer a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum OptimizerConfig {
    /// AdamW with warm-up and cosine decay (docs/THEORY.md §5.3, the authors' generic example).
    AdamW(AdamWConfig),
    /// The Adafactor-style optimizer of the paper's T5 runs (docs/THEORY.md §5.3).
    Adafactor(AdafactorConfig),
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::AdamW(AdamWConfig::default())
    }
}

/// Everything that determines the numbers a training run produces (besides model, data and
/// pruner). Stored in every checkpoint; a checkpoint written under another config is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Number of optimizer steps (one batch each).
    pub steps: u64,
    /// Examples per batch (docs/THEORY.md §5.3: 128 for T5).
    pub batch_size: usize,
    /// The optimizer and its schedule.
    pub optimizer: OptimizerConfig,
    /// Global-norm gradient clipping threshold (docs/THEORY.md §5.3: 1.0); `None` disables it.
    /// Applied to the masked gradients of all parameters before either optimizer.
    pub grad_clip: Option<f64>,
    /// Validate on the held-out set every this many steps (and always after the last step).
    pub eval_every: u64,
    /// Seed of the run. The loop itself draws no random numbers (no dropout, docs/THEORY.md §5.3);
    /// it is recorded so that a checkpoint cannot be resumed under another seed.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 10_000,
            batch_size: 128,
            optimizer: OptimizerConfig::default(),
            grad_clip: Some(1.0),
            eval_every: 500,
            seed: 0,
        }
    }
}

fn bad(field: &'static str, value: String, fix: &'static str) -> TrainError {
    TrainError::Config { field, value, fix }
}

impl TrainConfig {
    /// A validated config.
    pub fn new(
        steps: u64,
        batch_size: usize,
        optimizer: OptimizerConfig,
        grad_clip: Option<f64>,
        eval_every: u64,
        seed: u64,
    ) -> Result<Self, TrainError> {
        let c = TrainConfig { steps, batch_size, optimizer, grad_clip, eval_every, seed };
        c.validate()?;
        Ok(c)
    }

    /// Checks every field; the error names the field and how to fix it.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.steps == 0 {
            return Err(bad("steps", "0".into(), "train for at least one step"));
        }
        if self.batch_size == 0 {
            return Err(bad("batch_size", "0".into(), "use at least one example per batch"));
        }
        if self.eval_every == 0 {
            return Err(bad("eval_every", "0".into(), "validate every n ≥ 1 steps"));
        }
        if let Some(c) = self.grad_clip {
            if !(c.is_finite() && c > 0.0) {
                return Err(bad("grad_clip", c.to_string(), "use a positive finite norm, or None to disable clipping"));
            }
        }
        match self.optimizer {
            OptimizerConfig::AdamW(a) => {
                if !(a.lr.is_finite() && a.lr > 0.0) {
                    return Err(bad(
                        "optimizer.AdamW.lr",
                        a.lr.to_string(),
                        "use a positive learning rate such as 4e-4",
                    ));
                }
                for (name, b) in [("optimizer.AdamW.beta1", a.beta1), ("optimizer.AdamW.beta2", a.beta2)] {
                    if !(0.0..1.0).contains(&b) {
                        return Err(bad(name, b.to_string(), "betas lie in [0, 1), e.g. 0.9 and 0.999"));
                    }
                }
                if !(a.eps.is_finite() && a.eps > 0.0) {
                    return Err(bad("optimizer.AdamW.eps", a.eps.to_string(), "use a small positive ε such as 1e-8"));
                }
                if !(a.weight_decay.is_finite() && a.weight_decay >= 0.0) {
                    return Err(bad(
                        "optimizer.AdamW.weight_decay",
                        a.weight_decay.to_string(),
                        "use a non-negative decay",
                    ));
                }
                if !(0.0..=1.0).contains(&a.final_lr_fraction) {
                    return Err(bad(
                        "optimizer.AdamW.final_lr_fraction",
                        a.final_lr_fraction.to_string(),
                        "use a fraction of the peak in [0, 1]",
                    ));
                }
                let w = a.warmup_steps;
                if w >= self.steps {
                    return Err(bad(
                        "optimizer.AdamW.warmup_steps",
                        format!("{w} steps of a {}-step run", self.steps),
                        "warm-up must end before the run does; shorten it (an experiment's `warmup: Fraction(0.02)` adapts to every length)",
                    ));
                }
            }
            OptimizerConfig::Adafactor(a) => {
                if !(a.scale.is_finite() && a.scale > 0.0) {
                    return Err(bad(
                        "optimizer.Adafactor.scale",
                        a.scale.to_string(),
                        "use a positive multiplier such as 1.0",
                    ));
                }
                if !(a.decay_exponent > 0.0 && a.decay_exponent <= 1.0) {
                    return Err(bad(
                        "optimizer.Adafactor.decay_exponent",
                        a.decay_exponent.to_string(),
                        "use an exponent in (0, 1], e.g. 0.8",
                    ));
                }
                if !(a.eps1.is_finite() && a.eps1 > 0.0 && a.eps2.is_finite() && a.eps2 >= 0.0) {
                    return Err(bad(
                        "optimizer.Adafactor.eps1/eps2",
                        format!("{}, {}", a.eps1, a.eps2),
                        "use eps1 > 0 (1e-30) and eps2 ≥ 0 (1e-3)",
                    ));
                }
                if !(a.clip_threshold.is_finite() && a.clip_threshold > 0.0) {
                    return Err(bad(
                        "optimizer.Adafactor.clip_threshold",
                        a.clip_threshold.to_string(),
                        "use a positive threshold such as 1.0",
                    ));
                }
                if !(a.weight_decay.is_finite() && a.weight_decay >= 0.0) {
                    return Err(bad(
                        "optimizer.Adafactor.weight_decay",
                        a.weight_decay.to_string(),
                        "use a non-negative decay",
                    ));
                }
                if a.min_dim_to_factor == 0 {
                    return Err(bad(
                        "optimizer.Adafactor.min_dim_to_factor",
                        "0".into(),
                        "use at least 1 (2 factors every matrix)",
                    ));
                }
            }
        }
        Ok(())
    }
}
