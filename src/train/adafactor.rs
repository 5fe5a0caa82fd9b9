//! The Adafactor-style optimizer of the paper's T5 runs (Shazeer & Stern 2018; docs/THEORY.md §5).
//!
//! At 1-based step `t`, with `β2_t = 1 − t^(−0.8)` and `g² + ε1` the squared gradient:
//! * a tensor viewed as `rows × cols` (all leading dimensions × the last one) with both at
//!   least `min_dim_to_factor` keeps factored second moments: row means `R` and column means
//!   `C`, and `v̂_ij = R_i C_j / mean(R)`; smaller tensors keep a full `v`;
//! * `u = g / √v̂`, clipped to `RMS(u) ≤ d` (`d = clip_threshold`, 1.0);
//! * the step is relative, `α = max(ε2, RMS(w)) · ρ_t`, with `ρ_t` the rsqrt schedule
//!   (`lr::adafactor_rho`), and `w ← w − α·λ·w − α·u` (λ: optional decoupled weight decay);
//! * no first moment (β1 = 0), as in T5.1.1 training.
//!
//! Sparsity: every mean and RMS above counts the unpruned weights only — the paper's
//! "RMS statistics over non-zero weights only" — so a 90%-sparse layer gets the step size of
//! its surviving weights instead of a 10× smaller one. Pruned entries get `u = 0` and their
//! full `v` is zeroed, so a pruned weight stays exactly 0 (its decay term is `α·λ·0`).

use super::config::AdafactorConfig;

/// How a tensor of this shape keeps its second moments: `Some((rows, cols))` when factored.
pub fn factored_dims(cfg: &AdafactorConfig, shape: &[usize]) -> Option<(usize, usize)> {
    if shape.len() < 2 {
        return None;
    }
    let cols = shape[shape.len() - 1];
    let rows: usize = shape[..shape.len() - 1].iter().product();
    (rows >= cfg.min_dim_to_factor && cols >= cfg.min_dim_to_factor).then_some((rows, cols))
}

/// Lengths of the state buffers of a tensor of this shape: `[rows, cols]` or `[numel]`.
pub fn state_lens(cfg: &AdafactorConfig, shape: &[usize]) -> Vec<usize> {
    match factored_dims(cfg, shape) {
        Some((r, c)) => vec![r, c],
        None => vec![shape.iter().product()],
    }
}

/// One Adafactor update of one tensor, in place.
///
/// `mask` marks kept weights with 1.0 and pruned ones with 0.0 (`None`: all kept); `state`
/// holds the buffers of [`state_lens`]. `rho` is the scheduled relative step, `t` the 1-based
/// step count, `decay` whether weight decay applies to this tensor. Pruned weights must be
/// zero on entry (the pruner keeps them so); they stay exactly zero.
#[allow(clippy::too_many_arguments)]
pub fn adafactor_update(
    cfg: &AdafactorConfig,
    rho: f64,
    t: u64,
    decay: bool,
    shape: &[usize],
    value: &mut [f32],
    grad: &[f32],
    mask: Option<&[f32]>,
    state: &mut [Vec<f32>],
) {
    // Monomorphised twice so that the unmasked case carries no per-element mask work.
    match mask {
        Some(m) => update::<true>(cfg, rho, t, decay, shape, value, grad, m, state),
        None => update::<false>(cfg, rho, t, decay, shape, value, grad, &[], state),
    }
}

#[allow(clippy::too_many_arguments)]
fn update<const MASKED: bool>(
    cfg: &AdafactorConfig,
    rho: f64,
    t: u64,
    decay: bool,
    shape: &[usize],
    value: &mut [f32],
    grad: &[f32],
    mask: &[f32],
    state: &mut [Vec<f32>],
) {
    let n = value.len();
    let m_at = |k: usize| if MASKED { mask[k] } else { 1.0 };
    let kept = if MASKED { mask.iter().filter(|&&x| x != 0.0).count() } else { n };
    if kept == 0 {
        return;
    }
    let beta2 = (1.0 - (t as f64).powf(-cfg.decay_exponent)) as f32;
    let eps1 = cfg.eps1 as f32;
    let mut u = vec![0.0f32; n];
    match (factored_dims(cfg, shape), state) {
        (Some((rows, cols)), [row, col]) => {
            // Means of g² + ε1 over the kept entries of each row and column.
            let mut col_sum = vec![0.0f32; cols];
            let mut col_cnt = vec![0.0f32; cols];
            let mut row_has = vec![false; rows];
            for i in 0..rows {
                let g = &grad[i * cols..(i + 1) * cols];
                let (mut s, mut c) = (0.0f32, 0.0f32);
                for j in 0..cols {
                    let m = m_at(i * cols + j);
                    let g2 = (g[j] * g[j] + eps1) * m;
                    s += g2;
                    c += m;
                    col_sum[j] += g2;
                    col_cnt[j] += m;
                }
                row_has[i] = c > 0.0;
                let mean = if c > 0.0 { s / c } else { eps1 };
                row[i] = beta2 * row[i] + (1.0 - beta2) * mean;
            }
            for j in 0..cols {
                let mean = if col_cnt[j] > 0.0 { col_sum[j] / col_cnt[j] } else { eps1 };
                col[j] = beta2 * col[j] + (1.0 - beta2) * mean;
            }
            // v̂_ij = R_i C_j / mean(R), mean over rows that still have weights
            let (mut rs, mut rc) = (0.0f64, 0usize);
            for i in (0..rows).filter(|&i| row_has[i]) {
                rs += row[i] as f64;
                rc += 1;
            }
            let rmean = (rs / rc.max(1) as f64).max(f64::MIN_POSITIVE);
            let cinv: Vec<f32> = col.iter().map(|&c| 1.0 / c.max(f32::MIN_POSITIVE).sqrt()).collect();
            for i in 0..rows {
                let rinv = (1.0 / ((row[i] as f64 / rmean).max(f64::MIN_POSITIVE)).sqrt()) as f32;
                let g = &grad[i * cols..(i + 1) * cols];
                let ur = &mut u[i * cols..(i + 1) * cols];
                for j in 0..cols {
                    ur[j] = g[j] * rinv * cinv[j] * m_at(i * cols + j);
                }
            }
        }
        (_, [v]) => {
            for k in 0..n {
                let m = m_at(k);
                let vk = (beta2 * v[k] + (1.0 - beta2) * (grad[k] * grad[k] + eps1)) * m;
                v[k] = vk;
                u[k] = if m != 0.0 { grad[k] / vk.sqrt() } else { 0.0 };
            }
        }
        (_, other) => {
            // state_lens and this function agree on the layout; a mismatch can only come from
            // a checkpoint, which is checked against state_lens when loaded.
            debug_assert!(false, "adafactor state has {} buffers", other.len());
            return;
        }
    }
    // RMS over kept entries: pruned u are 0 and pruned weights are 0, so plain sums suffice.
    let (mut su, mut sw) = (0.0f64, 0.0f64);
    for (uc, wc) in u.chunks(1024).zip(value.chunks(1024)) {
        su += uc.iter().map(|&x| x * x).sum::<f32>() as f64;
        sw += wc.iter().map(|&x| x * x).sum::<f32>() as f64;
    }
    let rms_u = (su / kept as f64).sqrt();
    let rms_w = (sw / kept as f64).sqrt();
    let clip = (rms_u / cfg.clip_threshold).max(1.0);
    let alpha = rms_w.max(cfg.eps2) * rho;
    let step = (alpha / clip) as f32;
    let shrink = if decay { (1.0 - alpha * cfg.weight_decay) as f32 } else { 1.0 };
    for (w, &uk) in value.iter_mut().zip(&u) {
        *w = *w * shrink - step * uk;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factoring_follows_min_dim() {
        let c = AdafactorConfig::default();
        assert_eq!(factored_dims(&c, &[4, 3]), Some((4, 3)));
        assert_eq!(factored_dims(&c, &[2, 3, 5]), Some((6, 5)));
        assert_eq!(factored_dims(&c, &[7]), None);
        assert_eq!(factored_dims(&c, &[1, 7]), None);
        assert_eq!(state_lens(&c, &[4, 3]), vec![4, 3]);
    }

    #[test]
    fn update_has_rms_alpha_and_is_clipped() {
        // One step from zero state: β2_1 = 0, so v̂ = g² (rank-one exact for a rank-one g²)
        // and u = sign(g); RMS(u) = 1 ≤ d, step = α = max(ε2, RMS(w)) · ρ.
        let c = AdafactorConfig::default();
        let shape = [2, 2];
        let mut w = [3.0f32, -3.0, 3.0, -3.0];
        let g = [1.0f32, 2.0, 2.0, 4.0]; // g² = outer([1,2],[1,2])² is rank one
        let mut st = vec![vec![0.0f32; 2], vec![0.0f32; 2]];
        adafactor_update(&c, 0.1, 1, false, &shape, &mut w, &g, None, &mut st);
        for (a, b) in w.iter().zip([2.7f32, -3.3, 2.7, -3.3]) {
            assert!((a - b).abs() < 1e-5, "{w:?}");
        }
    }

    #[test]
    fn rms_counts_kept_weights_only() {
        // Half the weights pruned: RMS(w) over kept weights is 2, not 2/√2.
        let c = AdafactorConfig::default();
        let shape = [4];
        let mut w = [2.0f32, 0.0, -2.0, 0.0];
        let g = [1.0f32, 5.0, -1.0, 5.0];
        let mask = [1.0f32, 0.0, 1.0, 0.0];
        let mut st = vec![vec![0.0f32; 4]];
        adafactor_update(&c, 0.1, 1, false, &shape, &mut w, &g, Some(&mask), &mut st);
        assert!((w[0] - 1.8).abs() < 1e-6 && (w[2] + 1.8).abs() < 1e-6, "{w:?}");
        assert_eq!((w[1], w[3]), (0.0, 0.0));
        assert_eq!((st[0][1], st[0][3]), (0.0, 0.0));
    }
}
