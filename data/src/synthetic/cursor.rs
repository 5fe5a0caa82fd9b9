//! What the synthetic streams ([`crate::SyntheticImages`], [`crate::SyntheticText`],
//! [`crate::SyntheticLm`]) share. Their
//! example `i` is a pure function of `(seed, i)`, so the position is just the next training
//! index: training uses indices below [`VALID_BASE`] and the validation set the indices from it
//! on, so the two never meet (docs/THEORY.md §5: no example is seen twice, and validation
//! examples are never trained on). Given how to build the batch of indices `start..start + n`
//! ([`Synthetic`]), one [`Stream`] implementation serves them all.

use crate::error::DataError;
use crate::stream::{check_batch_size, Stream, StreamPosition};

/// Validation examples use indices from here on; training never reaches them.
pub(crate) const VALID_BASE: u64 = 1 << 63;

/// Where a synthetic stream stands: the index of its next training example.
#[derive(Clone, Debug)]
pub struct SyntheticCursor {
    /// Stream kind, e.g. `"synthetic-image"` (also names the stream in errors).
    kind: &'static str,
    /// Hash of the stream's config.
    fingerprint: u64,
    /// Next training index (= examples returned so far).
    next: u64,
}

impl SyntheticCursor {
    /// A cursor at example 0.
    pub(crate) fn new(kind: &'static str, fingerprint: u64) -> Self {
        SyntheticCursor { kind, fingerprint, next: 0 }
    }

    /// Reserves the next `batch_size` training indices and returns the first.
    pub(crate) fn take(&mut self, batch_size: usize) -> Result<u64, DataError> {
        check_batch_size(batch_size)?;
        if self.next.saturating_add(batch_size as u64) >= VALID_BASE {
            return Err(DataError::Request(format!(
                "{} stream exhausted its 2^63 training examples",
                self.kind.replace('-', " ")
            )));
        }
        let start = self.next;
        self.next += batch_size as u64;
        Ok(start)
    }

    /// The position to store in a checkpoint.
    pub(crate) fn position(&self) -> StreamPosition {
        StreamPosition {
            kind: self.kind.into(),
            fingerprint: self.fingerprint,
            epoch: 0,
            index: self.next,
            offset: 0,
            examples_seen: self.next,
        }
    }

    /// Continues from a saved position (same kind and config, a training index).
    pub(crate) fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError> {
        pos.check(self.kind, self.fingerprint)?;
        if pos.index >= VALID_BASE {
            return Err(DataError::Request(format!(
                "position index {} is in the validation range (>= 2^63); the checkpoint is corrupt",
                pos.index
            )));
        }
        self.next = pos.index;
        Ok(())
    }

    /// Examples returned so far.
    pub(crate) fn examples_seen(&self) -> u64 {
        self.next
    }
}

/// The fixed validation set: examples `VALID_BASE ..` `VALID_BASE + n_examples` in batches of
/// `batch_size` (the last may be smaller), each built by `batch(first index, size)`.
pub(crate) fn validation_batches<B>(
    n_examples: usize,
    batch_size: usize,
    batch: impl Fn(u64, usize) -> B,
) -> Result<Vec<B>, DataError> {
    check_batch_size(batch_size)?;
    let mut out = Vec::new();
    let mut done = 0;
    while done < n_examples {
        let n = batch_size.min(n_examples - done);
        out.push(batch(VALID_BASE + done as u64, n));
        done += n;
    }
    Ok(out)
}

/// A synthetic stream: its cursor, and its batches as a pure function of their indices.
///
/// Public only in name (the module is private), so that the [`Stream`] implementation below
/// may be generic over it; nothing outside the crate can name or implement it.
pub trait Synthetic: Send {
    /// The batch type ([`crate::ImageBatch`], [`crate::TextBatch`] or [`crate::LmBatch`]).
    type Batch;

    /// Where the stream stands.
    fn cursor(&self) -> &SyntheticCursor;

    /// Where the stream stands, to move it.
    fn cursor_mut(&mut self) -> &mut SyntheticCursor;

    /// The batch of examples `start .. start + n` (training or validation indices alike).
    fn batch_from(&self, start: u64, n: usize) -> Self::Batch;
}

impl<T: Synthetic> Stream for T {
    type Batch = T::Batch;

    fn next_batch(&mut self, batch_size: usize) -> Result<T::Batch, DataError> {
        let start = self.cursor_mut().take(batch_size)?;
        Ok(self.batch_from(start, batch_size))
    }

    fn position(&self) -> StreamPosition {
        self.cursor().position()
    }

    fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError> {
        self.cursor_mut().seek(pos)
    }

    fn examples_seen(&self) -> u64 {
        self.cursor().examples_seen()
    }

    fn validation_set(&self, n_examples: usize, batch_size: usize) -> Result<Vec<T::Batch>, DataError> {
        validation_batches(n_examples, batch_size, |start, n| self.batch_from(start, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_takes_seeks_and_stays_out_of_the_validation_range() {
        let mut c = SyntheticCursor::new("synthetic-test", 42);
        assert_eq!(c.take(3).unwrap(), 0);
        assert_eq!(c.take(2).unwrap(), 3);
        assert_eq!(c.examples_seen(), 5);
        let pos = c.position();
        assert_eq!((pos.index, pos.examples_seen, pos.epoch, pos.offset), (5, 5, 0, 0));
        assert!(c.take(0).is_err());
        c.seek(&StreamPosition { index: 1, examples_seen: 1, ..pos.clone() }).unwrap();
        assert_eq!(c.take(1).unwrap(), 1);
        let e = c.seek(&StreamPosition { index: VALID_BASE, ..pos.clone() }).unwrap_err().to_string();
        assert!(e.contains("validation range"), "{e}");
        assert!(c.seek(&StreamPosition { fingerprint: 43, ..pos.clone() }).is_err(), "another config");
        c.seek(&StreamPosition { index: VALID_BASE - 4, ..pos }).unwrap();
        let e = c.take(4).unwrap_err().to_string();
        assert!(e.contains("synthetic test stream exhausted"), "{e}");
        assert_eq!(c.take(3).unwrap(), VALID_BASE - 4);
    }

    #[test]
    fn validation_batches_cover_the_validation_range_in_order() {
        let b = validation_batches(10, 4, |start, n| (start, n)).unwrap();
        assert_eq!(b, vec![(VALID_BASE, 4), (VALID_BASE + 4, 4), (VALID_BASE + 8, 2)]);
        assert!(validation_batches(0, 4, |s, n| (s, n)).unwrap().is_empty());
        assert!(validation_batches(3, 0, |s, n| (s, n)).is_err());
    }
}
