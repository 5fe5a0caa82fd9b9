//! T5 span corruption (Raffel et al., 2020, §3.1.4; the paper's T5 runs use it, docs/THEORY.md §5).
//!
//! Follows T5's `random_spans_noise_mask`: for a sequence of `length` tokens,
//! `num_noise = round(length · density)` clamped to `1..=length-1`,
//! `num_spans = max(1, round(num_noise / mean_span))`; the noise tokens and the non-noise
//! tokens are each cut into `num_spans` non-empty segments at uniformly random places, and the
//! segments are interleaved starting with non-noise. Inputs keep the non-noise tokens with each
//! noise span replaced by one sentinel; targets are `sentinel(i)` followed by noise span `i`,
//! for every span, then EOS. (The mask always ends in a noise span, so no trailing sentinel.)

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::rng::Rng;
use crate::vocab::{self, EOS, PAD};

/// Span-corruption settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanCorruption {
    /// Fraction of tokens masked (T5: 0.15).
    pub noise_density: f64,
    /// Mean length of a masked span (T5: 3.0).
    pub mean_span: f64,
}

impl Default for SpanCorruption {
    /// T5's defaults: 15% noise, mean span 3.
    fn default() -> Self {
        SpanCorruption { noise_density: 0.15, mean_span: 3.0 }
    }
}

/// The counts T5 derives from a raw length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanCounts {
    /// Tokens masked.
    pub noise_tokens: usize,
    /// Number of masked spans.
    pub spans: usize,
}

impl SpanCorruption {
    /// Checks ranges: `0 < noise_density < 1`, `mean_span >= 1`.
    pub fn validate(&self) -> Result<(), DataError> {
        if !(self.noise_density > 0.0 && self.noise_density < 1.0) {
            return Err(DataError::Config {
                field: "noise_density",
                value: self.noise_density.to_string(),
                reason: "must be in (0, 1); T5 uses 0.15".into(),
            });
        }
        if !(self.mean_span >= 1.0 && self.mean_span.is_finite()) {
            return Err(DataError::Config {
                field: "mean_span",
                value: self.mean_span.to_string(),
                reason: "must be a finite number >= 1; T5 uses 3".into(),
            });
        }
        Ok(())
    }

    /// Number of noise tokens and spans for a raw length (as T5 computes them).
    pub fn counts(&self, length: usize) -> SpanCounts {
        let length = length.max(2);
        let noise = ((length as f64 * self.noise_density).round() as usize).clamp(1, length - 1);
        // T5 takes `max(1, round(noise / mean_span))`; we also cap it by the non-noise count
        // so that both segmentations exist (only matters for densities above ~0.5), and by the
        // number of sentinel ids so that every span has its own (only matters beyond ~2,500
        // raw tokens at T5's settings).
        let cap = noise.min(length - noise).min(vocab::NUM_SENTINELS);
        let spans = ((noise as f64 / self.mean_span).round() as usize).clamp(1, cap);
        SpanCounts { noise_tokens: noise, spans }
    }

    /// Input and target lengths (each including the EOS) that corrupting `raw` tokens gives.
    pub fn output_lengths(&self, raw: usize) -> (usize, usize) {
        let c = self.counts(raw);
        // Spans interleave non-noise first and end with noise, so targets carry exactly one
        // sentinel per noise span (T5's `_tokens_length_to_inputs_length_targets_length`).
        (raw.max(2) - c.noise_tokens + c.spans + 1, c.noise_tokens + c.spans + 1)
    }

    /// The largest raw length whose corrupted input fits `input_len` and targets fit
    /// `target_len` (T5's `random_spans_helper`, with both limits). Errors if not even 2
    /// tokens fit.
    pub fn raw_length(&self, input_len: usize, target_len: usize) -> Result<usize, DataError> {
        self.validate()?;
        let fits = |raw: usize| {
            let (i, t) = self.output_lengths(raw);
            i <= input_len && t <= target_len
        };
        if !fits(2) {
            return Err(DataError::Config {
                field: "input_len/target_len",
                value: format!("{input_len}/{target_len}"),
                reason: "too short for span corruption; use input_len >= 3 and target_len >= 3 (T5 uses 512 and 114)"
                    .into(),
            });
        }
        // Output lengths grow monotonically with raw length, so search upwards.
        let mut raw = 2;
        while fits(raw + 1) {
            raw += 1;
        }
        Ok(raw)
    }

    /// Noise mask for `length` tokens (true = masked), T5's `random_spans_noise_mask`.
    pub fn noise_mask(&self, length: usize, rng: &mut Rng) -> Vec<bool> {
        if length == 0 {
            return Vec::new();
        }
        let padded = length.max(2);
        let c = self.counts(padded);
        let noise_lengths = random_segmentation(c.noise_tokens, c.spans, rng);
        let nonnoise_lengths = random_segmentation(padded - c.noise_tokens, c.spans, rng);
        let mut mask = Vec::with_capacity(padded);
        for (nn, n) in nonnoise_lengths.iter().zip(&noise_lengths) {
            mask.resize(mask.len() + nn, false);
            mask.resize(mask.len() + n, true);
        }
        mask.truncate(length);
        mask
    }

    /// Corrupts `tokens`: returns `(inputs, targets)`, each ending with EOS, unpadded.
    pub fn corrupt(&self, tokens: &[u32], rng: &mut Rng) -> (Vec<u32>, Vec<u32>) {
        let mask = self.noise_mask(tokens.len(), rng);
        apply_mask(tokens, &mask)
    }
}

/// Cuts `items` into `segments` non-empty pieces at uniformly random places (T5's
/// `_random_segmentation`). Needs `1 <= segments <= items`; clamps otherwise.
fn random_segmentation(items: usize, segments: usize, rng: &mut Rng) -> Vec<usize> {
    let segments = segments.clamp(1, items.max(1));
    if items == 0 {
        return vec![0];
    }
    // Choose segments-1 distinct cut points among the items-1 gaps (partial Fisher–Yates).
    let mut gaps: Vec<usize> = (1..items).collect();
    let k = segments - 1;
    for i in 0..k {
        let j = i + rng.below((gaps.len() - i) as u64) as usize;
        gaps.swap(i, j);
    }
    let mut cuts = gaps[..k].to_vec();
    cuts.sort_unstable();
    let mut lengths = Vec::with_capacity(segments);
    let mut prev = 0;
    for c in cuts {
        lengths.push(c - prev);
        prev = c;
    }
    lengths.push(items - prev);
    lengths
}

/// Applies a noise mask: inputs get one sentinel per noise span, targets get one sentinel per
/// non-noise span (T5's `noise_span_to_unique_sentinel` on the mask and its complement).
pub fn apply_mask(tokens: &[u32], mask: &[bool]) -> (Vec<u32>, Vec<u32>) {
    let mut inputs = Vec::with_capacity(tokens.len() + 1);
    let mut targets = Vec::with_capacity(tokens.len() / 4 + 4);
    let (mut in_span, mut tgt_span) = (0usize, 0usize);
    for (i, (&t, &m)) in tokens.iter().zip(mask).enumerate() {
        let first = i == 0 || mask[i - 1] != m;
        if m {
            if first {
                inputs.push(vocab::sentinel(in_span));
                in_span += 1;
            }
            targets.push(t);
        } else {
            if first {
                targets.push(vocab::sentinel(tgt_span));
                tgt_span += 1;
            }
            inputs.push(t);
        }
    }
    inputs.push(EOS);
    targets.push(EOS);
    (inputs, targets)
}

/// Rebuilds the original tokens from corrupted inputs and targets (inverse of
/// [`apply_mask`]); used by tests and for inspecting batches. Stops at EOS/PAD.
pub fn reconstruct(inputs: &[u32], targets: &[u32]) -> Vec<u32> {
    let stop = |t: &&u32| **t != EOS && **t != PAD;
    let inputs: Vec<u32> = inputs.iter().take_while(stop).copied().collect();
    let targets: Vec<u32> = targets.iter().take_while(stop).copied().collect();
    // Spans of targets keyed by sentinel.
    let mut spans: Vec<(u32, Vec<u32>)> = Vec::new();
    for &t in &targets {
        if vocab::is_sentinel(t) {
            spans.push((t, Vec::new()));
        } else if let Some(last) = spans.last_mut() {
            last.1.push(t);
        }
    }
    let mut out = Vec::with_capacity(inputs.len() + targets.len());
    for &t in &inputs {
        if vocab::is_sentinel(t) {
            if let Some((_, span)) = spans.iter().find(|(s, _)| *s == t) {
                out.extend_from_slice(span);
            }
        } else {
            out.push(t);
        }
    }
    out
}

/// Writes a corrupted example into padded rows; truncates (keeping the final EOS) if too long.
pub(crate) fn write_padded(row: &mut [u32], seq: &[u32]) {
    let n = seq.len().min(row.len());
    row[..n].copy_from_slice(&seq[..n]);
    if seq.len() > row.len() {
        if let Some(last) = row.last_mut() {
            *last = EOS;
        }
    }
    for r in row[n..].iter_mut() {
        *r = PAD;
    }
}
