//! Per-layer ("uniform") magnitude top-k, docs/THEORY.md §4: a layer at sparsity s keeps
//! `max(1, round(size · (1 − s)))` weights of largest |w|.
//!
//! **Tie rule**: among equal magnitudes the lower flat index wins (is kept). NaN weights rank as
//! magnitude 0. Ranking packs `(|w| bits, u32::MAX − index)` into one `u64` key — for
//! non-negative floats the IEEE bit pattern orders like the value — and selects the k largest keys
//! with `select_nth_unstable`, so one layer costs O(size).

use super::masks::BitMask;
use super::SparsityError;

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

thread_local! {
    /// Per-thread key buffer, reused across layers and updates (a layer's keys are 8 bytes per
    /// weight; allocating them afresh for every layer costs page faults).
    static KEYS: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Fill a reused per-thread buffer with one key per weight (`key(i, w)`) and keep the `k` largest
/// (key low 32 bits = `u32::MAX − index`).
pub(crate) fn top_k_by_key(weights: &[f32], k: usize, key: impl Fn(usize, f32) -> u64) -> BitMask {
    let n = weights.len();
    if k >= n {
        return BitMask::ones(n);
    }
    let mut mask = BitMask::zeros(n);
    if k == 0 {
        return mask;
    }
    KEYS.with(|cell| {
        let mut keys = cell.borrow_mut();
        keys.clear();
        keys.extend(weights.iter().enumerate().map(|(i, &w)| key(i, w)));
        // Put the k largest keys in keys[n-k..].
        keys.select_nth_unstable(n - k);
        for &key in &keys[n - k..] {
            let i = (u32::MAX - (key & 0xFFFF_FFFF) as u32) as usize;
            mask.set(i, true);
        }
    });
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
    Ok(top_k_by_key(weights, kept_count(weights.len(), s), |i, w| magnitude_key(w, i)))
}
