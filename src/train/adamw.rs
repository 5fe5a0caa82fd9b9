//! AdamW (Loshchilov & Hutter 2019), the optimizer of the paper's generic example (docs/THEORY.md §5).
//!
//! Per element, with bias-corrected moments and decoupled weight decay λ:
//! `m ← β1 m + (1−β1) g`, `v ← β2 v + (1−β2) g²`,
//! `w ← w − lr·λ·w − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε)`.
//!
//! Sparsity: the caller zeroes the gradients of pruned weights and `m`, `v` of pruned weights
//! are zeroed before the update, so the update of a pruned weight is exactly 0 and its decayed
//! value `0 − lr·λ·0` stays exactly 0; stale moments can never revive it.

use super::config::AdamWConfig;

/// One AdamW update of one parameter tensor, in place. `t` is the 1-based step count (for
/// the bias corrections), `lr` the scheduled learning rate, `decay` whether λ applies.
#[allow(clippy::too_many_arguments)]
pub fn adamw_update(
    cfg: &AdamWConfig,
    lr: f64,
    t: u64,
    decay: bool,
    value: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let b1 = cfg.beta1 as f32;
    let b2 = cfg.beta2 as f32;
    let bc1 = (1.0 - cfg.beta1.powf(t as f64)) as f32;
    let bc2 = (1.0 - cfg.beta2.powf(t as f64)) as f32;
    let lr32 = lr as f32;
    let eps = cfg.eps as f32;
    let shrink = if decay { (1.0 - lr * cfg.weight_decay) as f32 } else { 1.0 };
    for (((w, &g), m), v) in value.iter_mut().zip(grad).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
        let mh = *m / bc1;
        let vh = *v / bc2;
        *w = *w * shrink - lr32 * mh / (vh.sqrt() + eps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_by_lr_times_sign() {
        // After one step the bias-corrected ratio m̂/√v̂ is g/|g| (up to ε): a step of size lr.
        let cfg = AdamWConfig { weight_decay: 0.0, ..Default::default() };
        let mut w = [1.0f32, -2.0, 0.5];
        let g = [3.0f32, -0.001, 0.0];
        let (mut m, mut v) = ([0.0f32; 3], [0.0f32; 3]);
        adamw_update(&cfg, 0.1, 1, true, &mut w, &g, &mut m, &mut v);
        assert!((w[0] - 0.9).abs() < 1e-6, "{w:?}");
        assert!((w[1] - (-1.9)).abs() < 1e-4, "{w:?}");
        assert_eq!(w[2], 0.5);
    }

    #[test]
    fn decoupled_decay_shrinks_only_when_asked() {
        let cfg = AdamWConfig { weight_decay: 0.5, ..Default::default() };
        let g = [0.0f32];
        let mut a = [2.0f32];
        let mut b = [2.0f32];
        adamw_update(&cfg, 0.1, 1, true, &mut a, &g, &mut [0.0], &mut [0.0]);
        adamw_update(&cfg, 0.1, 1, false, &mut b, &g, &mut [0.0], &mut [0.0]);
        assert!((a[0] - 2.0 * (1.0 - 0.05)).abs() < 1e-6);
        assert_eq!(b[0], 2.0);
    }
}
