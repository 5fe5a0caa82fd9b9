//! Learning-rate schedules (docs/THEORY.md §5).
//!
//! * AdamW: linear warm-up to the peak, then half-cosine decay to a floor:
//!   `lr(t) = peak · (t + 1) / W` for `t < W`, else
//!   `lr(t) = floor + (peak − floor) · ½ (1 + cos(π (t − W) / (T − W)))`,
//!   where `t` is the 0-based index of the step being taken, `W` the warm-up and `T` the run
//!   length; `lr(W) = peak` and `lr(T) = floor` (the last step taken, `T − 1`, is just above it).
//! * Adafactor: the T5X "rsqrt with warm-up" relative step `ρ(t) = scale / √max(t + 1, W)`:
//!   constant `scale/√W` during warm-up, then decaying as `1/√t`.

use super::config::{AdafactorConfig, AdamWConfig};

/// AdamW learning rate at 0-based step `t` of a `total_steps`-step run.
///
/// ```
/// use sparse_scaling::train::{lr::adamw_lr, AdamWConfig};
/// let c = AdamWConfig { lr: 1e-3, warmup_steps: 10, ..Default::default() };
/// assert!((adamw_lr(&c, 4, 110) - 5e-4).abs() < 1e-12);   // half-way up the warm-up
/// assert!((adamw_lr(&c, 10, 110) - 1e-3).abs() < 1e-12);  // peak
/// assert!((adamw_lr(&c, 60, 110) - 5e-4).abs() < 1e-12);  // half-way down the cosine
/// ```
pub fn adamw_lr(cfg: &AdamWConfig, t: u64, total_steps: u64) -> f64 {
    let peak = cfg.lr;
    let floor = cfg.lr * cfg.final_lr_fraction;
    let w = cfg.warmup_steps;
    if t < w {
        return peak * (t + 1) as f64 / w as f64;
    }
    let span = total_steps.saturating_sub(w).max(1) as f64;
    let p = (((t - w) as f64) / span).min(1.0);
    floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
}

/// Adafactor relative step size ρ at 0-based step `t`.
///
/// ```
/// use sparse_scaling::train::{lr::adafactor_rho, AdafactorConfig};
/// let c = AdafactorConfig { warmup_steps: 10_000, ..Default::default() };
/// assert!((adafactor_rho(&c, 0) - 0.01).abs() < 1e-15);      // constant during warm-up
/// assert!((adafactor_rho(&c, 39_999) - 0.005).abs() < 1e-15); // 1/√40000 after it
/// ```
pub fn adafactor_rho(cfg: &AdafactorConfig, t: u64) -> f64 {
    let w = cfg.warmup_steps.max(1);
    cfg.scale / ((t + 1).max(w) as f64).sqrt()
}
