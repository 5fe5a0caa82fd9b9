//! Batches, stream positions and the [`Stream`] trait shared by the synthetic streams and the
//! real-format loaders, and [`BoxStream`], any stream behind one type.
//!
//! The paper trains in the "massive data" regime (docs/THEORY.md §5: every example seen at
//! most once). A stream is therefore infinite; where the source is finite (files), it wraps into a
//! new, differently shuffled epoch. A [`StreamPosition`] is small and serde-serialisable so
//! that a checkpoint stores it and a resumed run continues with exactly the next example.

use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// A batch of images, NCHW, normalised (roughly zero mean, unit variance per channel).
#[derive(Clone, Debug, PartialEq)]
pub struct ImageBatch {
    /// Number of images N.
    pub batch: usize,
    /// Channels C.
    pub channels: usize,
    /// Height H.
    pub height: usize,
    /// Width W.
    pub width: usize,
    /// `batch * channels * height * width` values, NCHW, row-major.
    pub pixels: Vec<f32>,
    /// One class id per image, `0..classes`.
    pub labels: Vec<u32>,
}

impl ImageBatch {
    /// Values per image (`channels * height * width`).
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The pixels of image `i` (CHW).
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }
}

/// A batch of span-corrupted text for an encoder–decoder (T5).
///
/// `inputs` is `batch × input_len`, `targets` is `batch × target_len`, both row-major, padded
/// with [`vocab::PAD`](crate::vocab::PAD) = 0. Inputs end with EOS then PAD; targets are
/// `sentinel(0) span0 sentinel(1) span1 … EOS PAD…`. The decoder input is the target shifted
/// right with PAD as start token (T5 convention); the loss ignores PAD targets.
#[derive(Clone, Debug, PartialEq)]
pub struct TextBatch {
    /// Number of rows.
    pub batch: usize,
    /// Encoder length.
    pub input_len: usize,
    /// Decoder length.
    pub target_len: usize,
    /// `batch * input_len` token ids.
    pub inputs: Vec<u32>,
    /// `batch * target_len` token ids.
    pub targets: Vec<u32>,
}

impl TextBatch {
    /// Row `i` of the inputs.
    pub fn input_row(&self, i: usize) -> &[u32] {
        &self.inputs[i * self.input_len..(i + 1) * self.input_len]
    }

    /// Row `i` of the targets.
    pub fn target_row(&self, i: usize) -> &[u32] {
        &self.targets[i * self.target_len..(i + 1) * self.target_len]
    }

    /// Non-PAD input tokens in the batch (the paper's D counts tokens seen).
    pub fn input_tokens(&self) -> usize {
        self.inputs.iter().filter(|&&t| t != crate::vocab::PAD).count()
    }

    /// Non-PAD target tokens in the batch (the positions the loss counts).
    pub fn target_tokens(&self) -> usize {
        self.targets.iter().filter(|&&t| t != crate::vocab::PAD).count()
    }

    /// Decoder inputs: targets shifted right by one, starting with PAD (T5's start token).
    pub fn decoder_inputs(&self) -> Vec<u32> {
        let mut out = vec![crate::vocab::PAD; self.targets.len()];
        for r in 0..self.batch {
            let row = self.target_row(r);
            out[r * self.target_len + 1..(r + 1) * self.target_len].copy_from_slice(&row[..self.target_len - 1]);
        }
        out
    }
}

/// A batch of token sequences for next-token prediction (a decoder-only language model,
/// docs/THEORY.md §6).
///
/// `tokens` is `batch × len`, row-major; a row shorter than `len` ends in
/// [`vocab::PAD`](crate::vocab::PAD) = 0. The model predicts every token of a row from the ones
/// before it (the first from a PAD start token, as T5's decoder); the loss ignores PAD
/// positions.
#[derive(Clone, Debug, PartialEq)]
pub struct LmBatch {
    /// Number of rows.
    pub batch: usize,
    /// Tokens per row.
    pub len: usize,
    /// `batch * len` token ids.
    pub tokens: Vec<u32>,
}

impl LmBatch {
    /// Pads one chunk of tokens per row to `len` (a longer chunk is cut at `len`).
    pub fn from_rows(len: usize, rows: &[Vec<u32>]) -> Self {
        let mut tokens = vec![crate::vocab::PAD; rows.len() * len];
        for (out, row) in tokens.chunks_mut(len.max(1)).zip(rows) {
            let n = row.len().min(len);
            out[..n].copy_from_slice(&row[..n]);
        }
        LmBatch { batch: rows.len(), len, tokens }
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[u32] {
        &self.tokens[i * self.len..(i + 1) * self.len]
    }

    /// Non-PAD tokens in the batch (the positions the loss counts).
    pub fn non_pad_tokens(&self) -> usize {
        self.tokens.iter().filter(|&&t| t != crate::vocab::PAD).count()
    }
}

/// Where a stream stands: enough to continue with exactly the next example.
///
/// `kind` and `fingerprint` identify the stream and its config (seed, sizes, files), so that
/// seeking with a position saved by a different stream is an error rather than silent garbage.
/// For synthetic streams `index` is the next example's number and `epoch`/`offset` are 0; for
/// file loaders `epoch` is the pass over the data (each with its own shuffle), `index` the next
/// item in that epoch's order and `offset` the token offset inside it (packed text).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamPosition {
    /// Stream kind, e.g. `"synthetic-image"`.
    pub kind: String,
    /// Hash of the stream's config (seed, sizes, files).
    pub fingerprint: u64,
    /// Pass over the data (0 for synthetic streams).
    pub epoch: u64,
    /// Next item in the epoch (or next example for synthetic streams).
    pub index: u64,
    /// Offset inside the item (packed text), else 0.
    pub offset: u64,
    /// Examples returned so far (rows of all batches).
    pub examples_seen: u64,
}

impl StreamPosition {
    /// Checks that `self` was produced by a stream with this kind and fingerprint.
    pub fn check(&self, kind: &str, fingerprint: u64) -> Result<(), DataError> {
        if self.kind != kind || self.fingerprint != fingerprint {
            return Err(DataError::PositionMismatch {
                expected: kind.to_string(),
                expected_fingerprint: fingerprint,
                found: self.kind.clone(),
                found_fingerprint: self.fingerprint,
            });
        }
        Ok(())
    }
}

/// An infinite, seeded, resumable source of batches.
///
/// Contract (tested for every implementation in `data/tests/`):
/// - same config and seed → same batches;
/// - `seek(&p)` with `p = position()` makes the following batches equal to what the stream
///   would have returned from `p` on;
/// - [`validation_set`](Stream::validation_set) is fixed (independent of the stream's
///   position) and disjoint from the examples training ever sees.
pub trait Stream: Send {
    /// The batch type ([`ImageBatch`], [`TextBatch`] or [`LmBatch`]).
    type Batch;

    /// The next `batch_size` examples. Errors only on a zero batch size or on files that
    /// became unreadable.
    fn next_batch(&mut self, batch_size: usize) -> Result<Self::Batch, DataError>;

    /// The current position (serialise it into a checkpoint).
    fn position(&self) -> StreamPosition;

    /// Continue from a saved position. Fails if the position is from another stream/config.
    fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError>;

    /// Examples returned so far (D for images; rows for text).
    fn examples_seen(&self) -> u64;

    /// A fixed held-out set of `n_examples` examples in batches of `batch_size` (the last batch
    /// may be smaller), drawn from examples training never sees. Same result on every call.
    fn validation_set(&self, n_examples: usize, batch_size: usize) -> Result<Vec<Self::Batch>, DataError>;
}

/// Any [`Stream`] behind a box: one type whatever the source, so that code generic over the
/// stream (a training loop per model size) is compiled once for all data sources.
pub struct BoxStream<B>(Box<dyn Stream<Batch = B>>);

impl<B> BoxStream<B> {
    /// Boxes `stream`.
    pub fn new(stream: impl Stream<Batch = B> + 'static) -> Self {
        BoxStream(Box::new(stream))
    }
}

impl<B> Stream for BoxStream<B> {
    type Batch = B;

    fn next_batch(&mut self, batch_size: usize) -> Result<B, DataError> {
        self.0.next_batch(batch_size)
    }

    fn position(&self) -> StreamPosition {
        self.0.position()
    }

    fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError> {
        self.0.seek(pos)
    }

    fn examples_seen(&self) -> u64 {
        self.0.examples_seen()
    }

    fn validation_set(&self, n_examples: usize, batch_size: usize) -> Result<Vec<B>, DataError> {
        self.0.validation_set(n_examples, batch_size)
    }
}

/// Shape of the images a stream produces, and the number of classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// Channels.
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
    /// Number of classes (labels are `0..classes`).
    pub classes: usize,
}

/// A stream of images: [`Stream`] plus the shape the model must be built for.
pub trait ImageStream: Stream<Batch = ImageBatch> {
    /// Image shape and number of classes.
    fn shape(&self) -> ImageShape;
}

/// A stream of span-corrupted text: [`Stream`] plus the sequence lengths.
pub trait TextStream: Stream<Batch = TextBatch> {
    /// Encoder length of every batch.
    fn input_len(&self) -> usize;
    /// Decoder length of every batch.
    fn target_len(&self) -> usize;
}

/// A stream of token sequences for next-token prediction: [`Stream`] plus the sequence length.
pub trait LmStream: Stream<Batch = LmBatch> {
    /// Tokens per row of every batch.
    fn seq_len(&self) -> usize;
}

/// The error of asking for a batch of zero examples.
pub(crate) fn check_batch_size(batch_size: usize) -> Result<(), DataError> {
    if batch_size == 0 {
        return Err(DataError::Request("batch size 0: ask for at least one example per batch".into()));
    }
    Ok(())
}
