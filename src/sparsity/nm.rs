//! n:m sparsity along the input axis, docs/THEORY.md §4: in each group of m consecutive weights along
//! the input axis (the last, contiguous axis of an `(out, in)` weight) keep the n largest |w|.
//!
//! - **One-shot**: [`nm_mask`] — exactly n of every m kept, ties to the lower index.
//! - **Gradual**: [`gradual_nm_mask`] — the authors' scheme: weights that win within their group
//!   (are among its n largest) rank before all others in an unstructured top-k at the schedule's
//!   sparsity s; within each class, larger |w| first, ties to the lower index. At s = 1 − n/m the
//!   top-k keeps exactly the group winners, i.e. the pattern is exactly n:m.

use serde::{Deserialize, Serialize};

use super::magnitude::{check_size, kept_count, magnitude_key, top_k_by_key};
use super::masks::BitMask;
use super::SparsityError;

/// An n:m pattern: keep n of every m consecutive input weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NmPattern {
    /// Weights kept per group.
    pub n: usize,
    /// Group size along the input axis.
    pub m: usize,
}

impl NmPattern {
    /// A validated pattern: `1 ≤ n < m`.
    pub fn new(n: usize, m: usize) -> Result<Self, SparsityError> {
        let p = NmPattern { n, m };
        p.validate()?;
        Ok(p)
    }

    /// Check `1 ≤ n < m`.
    pub fn validate(&self) -> Result<(), SparsityError> {
        if self.n == 0 || self.n >= self.m {
            Err(SparsityError::InvalidNm { n: self.n, m: self.m })
        } else {
            Ok(())
        }
    }

    /// Sparsity of the pattern, 1 − n/m.
    pub fn sparsity(&self) -> f64 {
        1.0 - self.n as f64 / self.m as f64
    }

    /// Check that a layer of `shape` can be cut into groups: its input width (last axis) must be
    /// a multiple of m.
    pub fn check_layer(&self, layer: &str, shape: &[usize]) -> Result<(), SparsityError> {
        let width = shape.last().copied().unwrap_or(0);
        if width == 0 || width % self.m != 0 {
            return Err(SparsityError::NmWidth { layer: layer.into(), width, m: self.m });
        }
        Ok(())
    }
}

/// Mark the group winners: for each group of m consecutive weights, the n of largest |w| (ties to
/// the lower index). Requires `weights.len() % m == 0` (rows are whole groups when the input width
/// is a multiple of m).
fn group_winners(weights: &[f32], p: NmPattern) -> BitMask {
    let mut mask = BitMask::zeros(weights.len());
    if p.m <= 64 {
        // Small groups (2:4, 4:8, …): n rounds of "take the largest remaining key" on a stack
        // buffer, O(n·m) per group without allocation.
        let mut keys = [0u64; 64];
        for (g, group) in weights.chunks_exact(p.m).enumerate() {
            let keys = &mut keys[..p.m];
            for (j, (k, &w)) in keys.iter_mut().zip(group).enumerate() {
                // Keys are distinct (the index is in the low bits); bit 63 marks "not yet taken".
                *k = magnitude_key(w, j) | 1 << 63;
            }
            for _ in 0..p.n {
                let (j, _) = keys.iter().enumerate().max_by_key(|(_, k)| **k).unwrap_or((0, &0));
                keys[j] = 0; // taken: below every untaken key
                mask.set(g * p.m + j, true);
            }
        }
        return mask;
    }
    let mut keys: Vec<u64> = Vec::with_capacity(p.m);
    for (g, group) in weights.chunks_exact(p.m).enumerate() {
        keys.clear();
        keys.extend(group.iter().enumerate().map(|(j, &w)| magnitude_key(w, j)));
        keys.select_nth_unstable(p.m - p.n);
        for &key in &keys[p.m - p.n..] {
            let j = (u32::MAX - (key & 0xFFFF_FFFF) as u32) as usize;
            mask.set(g * p.m + j, true);
        }
    }
    mask
}

/// One-shot n:m mask of a layer with `shape` (`(out, in)`, weights row-major).
///
/// ```
/// use sparse_scaling::sparsity::{nm_mask, NmPattern};
/// let w = [0.1, -0.9, 0.3, 0.3,   1.0, 0.0, 0.0, 0.2];
/// let m = nm_mask("l", &w, &[1, 8], NmPattern::new(2, 4).unwrap()).unwrap();
/// let kept: Vec<bool> = (0..8).map(|i| m.get(i)).collect();
/// // group 1: −0.9 and the first of the tied 0.3s; group 2: 1.0 and 0.2.
/// assert_eq!(kept, [false, true, true, false, true, false, false, true]);
/// ```
pub fn nm_mask(layer: &str, weights: &[f32], shape: &[usize], p: NmPattern) -> Result<BitMask, SparsityError> {
    p.validate()?;
    p.check_layer(layer, shape)?;
    check_size(layer, weights.len())?;
    Ok(group_winners(weights, p))
}

/// Gradual n:m mask at sparsity `s` (0 ≤ s ≤ 1 − n/m): unstructured top-k with
/// k = [`kept_count`]`(size, s)` in which group winners rank first. At `s = 1 − n/m` this is
/// exactly [`nm_mask`].
pub fn gradual_nm_mask(
    layer: &str,
    weights: &[f32],
    shape: &[usize],
    p: NmPattern,
    s: f64,
) -> Result<BitMask, SparsityError> {
    p.validate()?;
    p.check_layer(layer, shape)?;
    check_size(layer, weights.len())?;
    let winners = group_winners(weights, p);
    let n_winners = weights.len() / p.m * p.n;
    let k = kept_count(weights.len(), s);
    if k == n_winners {
        return Ok(winners);
    }
    // Winners in the upper class: set bit 63 of the key (|w| bits use at most 31 bits of the high
    // half, since the sign bit of |w| is 0).
    Ok(top_k_by_key(weights, k, |i, w| {
        let key = magnitude_key(w, i);
        if winners.get(i) {
            key | (1u64 << 63)
        } else {
            key
        }
    }))
}
