//! Shared text plumbing: sequence lengths, and turning raw byte-token chunks into span-corrupted
//! [`TextBatch`]es (T5 objective, docs/THEORY.md §5; span corruption in [`crate::span_corruption`]).

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::rng::Rng;
use crate::span_corruption::{write_padded, SpanCorruption};
use crate::stream::TextBatch;

/// Sequence lengths and the corruption for a text stream.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextShape {
    /// Encoder length (inputs, including EOS).
    pub input_len: usize,
    /// Decoder length (targets, including EOS).
    pub target_len: usize,
    /// Span corruption settings.
    pub corruption: SpanCorruption,
}

impl Default for TextShape {
    /// 128 input tokens and 32 target tokens (ByT5 proportions at small scale), T5 corruption.
    fn default() -> Self {
        TextShape { input_len: 128, target_len: 32, corruption: SpanCorruption::default() }
    }
}

impl TextShape {
    /// Raw tokens per example: the most whose corruption fits both lengths.
    pub fn raw_len(&self) -> Result<usize, DataError> {
        if self.input_len > 1 << 20 || self.target_len > 1 << 20 {
            return Err(DataError::Config {
                field: "input_len/target_len",
                value: format!("{}/{}", self.input_len, self.target_len),
                reason: "must be at most 2^20".into(),
            });
        }
        self.corruption.raw_length(self.input_len, self.target_len)
    }
}

/// Corrupts raw chunks (one per row) and packs them into a padded batch.
pub(crate) fn corrupt_batch(shape: &TextShape, chunks: &[Vec<u32>], rngs: impl Iterator<Item = Rng>) -> TextBatch {
    let n = chunks.len();
    let mut inputs = vec![0u32; n * shape.input_len];
    let mut targets = vec![0u32; n * shape.target_len];
    for ((i, chunk), mut rng) in chunks.iter().enumerate().zip(rngs) {
        let (inp, tgt) = shape.corruption.corrupt(chunk, &mut rng);
        write_padded(&mut inputs[i * shape.input_len..(i + 1) * shape.input_len], &inp);
        write_padded(&mut targets[i * shape.target_len..(i + 1) * shape.target_len], &tgt);
    }
    TextBatch { batch: n, input_len: shape.input_len, target_len: shape.target_len, inputs, targets }
}
