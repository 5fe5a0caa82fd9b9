//! Per-layer ("uniform") magnitude top-k, PAPER.md §4: a layer at sparsity s keeps
//! `max(1, round(size · (1 − s)))` weights of largest |w|.
//!
//! **Tie rule**: among equal magnitudes the lower flat index wins (is kept). NaN weights rank as
//! magnitude 0. Ranking uses the IEEE bits of |w| as an integer score (for non-negative floats the
//! bit pattern orders like the value) and a radix select on it, so one layer costs four linear
//! passes.

use super::SparsityError;
use super::masks::BitMask;

/// Number of weights kept in a layer of `size` weights at sparsity `s`:
/// `max(1, round(size · (1 − s)))` (and 0 for an empty layer).
///
/// ```
/// use sparse_scaling::sparsity::kept_count;
/// assert_eq!(kept_count(100, 0.75), 25);
/// assert_eq!(kept_count(3, 0.99), 1);
/// ```
pub fn kept_count(size: usize, s: f64) -> usize {
    if size == 0 {
        return 0;
    }
    let k = (size as f64 * (1.0 - s)).round();
    (k.max(1.0) as usize).min(size)
}

/// The ranking key of weight `i` with value `w`: larger key = kept first.
#[inline]
pub(crate) fn magnitude_key(w: f32, i: usize) -> u64 {
    let a = if w.is_nan() { 0.0 } else { w.abs() };
    ((a.to_bits() as u64) << 32) | (u32::MAX - i as u32) as u64
}

/// Check that a layer's indices fit the 32-bit key.
pub(crate) fn check_size(layer: &str, size: usize) -> Result<(), SparsityError> {
    if size > u32::MAX as usize {
        Err(SparsityError::LayerTooLarge { layer: layer.into(), size })
    } else {
        Ok(())
    }
}

/// The ranking score of a weight: the IEEE bits of |w| (NaN → 0), which order like the value for
/// non-negative floats and fit in 31 bits, so bit 31 is free for a class (gradual n:m winners).
#[inline]
pub(crate) fn magnitude_score(w: f32) -> u32 {
    if w.is_nan() {
        0
    } else {
        w.abs().to_bits()
    }
}

/// Keep the `k` of `n` elements with the largest `score(i)`, ties to the lower index.
///
/// Radix select: three passes over the scores (digits of 11, 11 and 10 bits, most significant
/// first) find the k-th largest score T and how many equal-to-T elements to keep; a fourth pass
/// sets the mask (scores above T, then the lowest indices scoring exactly T). O(n), no allocation
/// beyond the mask and an 8 KiB histogram.
pub(crate) fn top_k_by_score(n: usize, k: usize, score: impl Fn(usize) -> u32) -> BitMask {
    if k >= n {
        return BitMask::ones(n);
    }
    let mut mask = BitMask::zeros(n);
    if k == 0 {
        return mask;
    }
    let mut hist = [0usize; 1 << 11];
    let (mut prefix, mut prefix_mask) = (0u32, 0u32);
    // Elements matching the prefix found so far that must still be kept.
    let mut need = k;
    for (shift, bits) in [(21u32, 11u32), (10, 11), (0, 10)] {
        let digit_mask = (1u32 << bits) - 1;
        let hist = &mut hist[..1 << bits];
        hist.fill(0);
        for i in 0..n {
            let s = score(i);
            if s & prefix_mask == prefix {
                hist[((s >> shift) & digit_mask) as usize] += 1;
            }
        }
        // Walk digits from the top; buckets wholly above the threshold are kept entirely.
        // Invariant: the matching elements number at least `need`, so this stops at some d.
        let mut d = digit_mask as usize;
        while hist[d] < need && d > 0 {
            need -= hist[d];
            d -= 1;
        }
        prefix |= (d as u32) << shift;
        prefix_mask |= digit_mask << shift;
    }
    let threshold = prefix;
    for i in 0..n {
        let s = score(i);
        if s > threshold {
            mask.set(i, true);
        } else if s == threshold && need > 0 {
            mask.set(i, true);
            need -= 1;
        }
    }
    mask
}

/// Magnitude mask of one layer at sparsity `s`: keeps the [`kept_count`] largest |w|, ties to the
/// lower index.
///
/// ```
/// use sparse_scaling::sparsity::magnitude_mask;
/// let m = magnitude_mask("l", &[0.5, -2.0, 0.5, 0.1], 0.5).unwrap();
/// // |−2| is largest; the two 0.5s tie and the lower index (0) wins.
/// assert_eq!((0..4).map(|i| m.get(i)).collect::<Vec<_>>(), [true, true, false, false]);
/// ```
pub fn magnitude_mask(layer: &str, weights: &[f32], s: f64) -> Result<BitMask, SparsityError> {
    check_size(layer, weights.len())?;
    Ok(top_k_by_score(weights.len(), kept_count(weights.len(), s), |i| magnitude_score(weights[i])))
}
