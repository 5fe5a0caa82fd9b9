//! Text in memory ([`TextCorpus`], e.g. from [`load_jsonl`](crate::load_jsonl)), byte-tokenised
//! (ByT5 style, [`crate::vocab`]) and span-corrupted (T5, [`crate::span_corruption`]) into a
//! resumable [`TextStream`] with a held-out validation split ([`TextCorpusStream`]).
//!
//! The paper's T5 runs train on C4 (docs/THEORY.md §5). Following T5's `span_corruption`
//! preprocessing, documents are concatenated and split into chunks of the raw length whose
//! corruption fits the input/target lengths (`pack = true`); with `pack = false` a chunk never
//! crosses a document boundary (the last chunk of a document is shorter and padded).

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::loaders::epochs::{Epochs, Loader, Names};
use crate::rng::{hash_bytes, mix, Rng};
use crate::stream::{check_batch_size, Stream, StreamPosition, TextBatch, TextStream};
use crate::text::{corrupt_batch, TextShape};
use crate::vocab;

static LOADER: Loader = Loader {
    kind: "text-corpus",
    split_domain: 0x5350_4c54,
    shuffle_domain: 0x5348_4654,
    sort_held_out: true,
    names: Names { dataset: "the text corpus", items: "documents", typical_fraction: "0.01" },
};
const DOMAIN_MASK: u64 = 0x4d53_4b54;
const DOMAIN_VALID_MASK: u64 = 0x564d_534b;

/// Documents in memory: all bytes one after another, with offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextCorpus {
    bytes: Vec<u8>,
    /// `len + 1` offsets into `bytes`.
    offsets: Vec<usize>,
}

impl Default for TextCorpus {
    /// No documents.
    fn default() -> Self {
        TextCorpus { bytes: Vec::new(), offsets: vec![0] }
    }
}

impl TextCorpus {
    /// A corpus from in-memory documents (empty documents are skipped).
    pub fn from_documents<S: AsRef<[u8]>>(docs: impl IntoIterator<Item = S>) -> Self {
        let mut c = TextCorpus::default();
        for d in docs {
            c.push(d.as_ref());
        }
        c
    }

    /// Appends a document (an empty one is skipped).
    pub(crate) fn push(&mut self, doc: &[u8]) {
        if !doc.is_empty() {
            self.bytes.extend_from_slice(doc);
            self.offsets.push(self.bytes.len());
        }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True if there are no documents.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of document `i`.
    pub fn document(&self, i: usize) -> &[u8] {
        &self.bytes[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Total bytes over all documents.
    pub fn total_bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// Splitting, shuffling, packing and corruption of a [`TextCorpus`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextCorpusConfig {
    /// Seed of the split, the per-epoch shuffles and the corruption.
    pub seed: u64,
    /// Sequence lengths and span corruption.
    pub shape: TextShape,
    /// Concatenate documents before chunking (T5); `false` keeps chunks inside documents.
    pub pack: bool,
    /// Fraction of documents held out for validation (rounded; at least 1 if > 0).
    pub validation_fraction: f64,
}

impl Default for TextCorpusConfig {
    /// Seed 0, default shape, packing on, 1% of documents held out.
    fn default() -> Self {
        TextCorpusConfig { seed: 0, shape: TextShape::default(), pack: true, validation_fraction: 0.01 }
    }
}

/// A corpus as an infinite stream of span-corrupted chunks.
#[derive(Clone, Debug)]
pub struct TextCorpusStream {
    corpus: TextCorpus,
    cfg: TextCorpusConfig,
    raw_len: usize,
    /// The split, and where training stands (document, byte offset inside it).
    epochs: Epochs,
}

/// Cuts documents, taken in some order, into chunks of `raw_len` byte tokens.
struct Chunker<'a> {
    corpus: &'a TextCorpus,
    raw_len: usize,
    pack: bool,
}

impl Chunker<'_> {
    /// Fills `out` up to `raw_len` tokens from the documents of `order`, starting at document
    /// `index`, byte `offset`, and moves the two on. Returns false when `order` ran out first
    /// (with a partial chunk in `out` when packing); without packing a chunk ends with its
    /// document.
    fn take(&self, order: &[usize], index: &mut usize, offset: &mut usize, out: &mut Vec<u32>) -> bool {
        while out.len() < self.raw_len {
            let Some(&doc) = order.get(*index) else { return false };
            let d = self.corpus.document(doc);
            let take = (self.raw_len - out.len()).min(d.len() - *offset);
            out.extend(d[*offset..*offset + take].iter().map(|&b| vocab::byte_to_id(b)));
            *offset += take;
            if *offset >= d.len() {
                *index += 1;
                *offset = 0;
                if !self.pack {
                    return true;
                }
            }
        }
        true
    }
}

impl TextCorpusStream {
    /// Splits and prepares the stream.
    pub fn new(corpus: TextCorpus, cfg: TextCorpusConfig) -> Result<Self, DataError> {
        let raw_len = cfg.shape.raw_len()?;
        let cfg_json = serde_json::to_string(&cfg).unwrap_or_default();
        let fingerprint = mix(&[
            hash_bytes(cfg_json.as_bytes()),
            corpus.len() as u64,
            hash_bytes(&corpus.bytes),
            hash_bytes(&corpus.offsets.iter().flat_map(|o| (*o as u64).to_le_bytes()).collect::<Vec<u8>>()),
        ]);
        let epochs = Epochs::new(&LOADER, corpus.len(), cfg.seed, cfg.validation_fraction, fingerprint)?;
        Ok(TextCorpusStream { corpus, cfg, raw_len, epochs })
    }

    /// Raw (uncorrupted) tokens per chunk.
    pub fn raw_len(&self) -> usize {
        self.raw_len
    }

    /// Documents used for training / held out.
    pub fn split_sizes(&self) -> (usize, usize) {
        (self.epochs.train().len(), self.epochs.valid().len())
    }

    /// Dataset indices of the held-out documents.
    pub fn validation_documents(&self) -> &[usize] {
        self.epochs.valid()
    }

    /// Dataset indices of the training documents.
    pub fn training_documents(&self) -> &[usize] {
        self.epochs.train()
    }

    /// The underlying corpus.
    pub fn corpus(&self) -> &TextCorpus {
        &self.corpus
    }
}

impl Stream for TextCorpusStream {
    type Batch = TextBatch;

    fn next_batch(&mut self, batch_size: usize) -> Result<TextBatch, DataError> {
        check_batch_size(batch_size)?;
        let chunker = Chunker { corpus: &self.corpus, raw_len: self.raw_len, pack: self.cfg.pack };
        let mut chunks = Vec::with_capacity(batch_size);
        while chunks.len() < batch_size {
            let mut chunk = Vec::with_capacity(self.raw_len);
            loop {
                let (order, index, offset) = self.epochs.place();
                if chunker.take(order, index, offset, &mut chunk) {
                    break;
                }
                // Epoch exhausted: a packed chunk continues into the next epoch.
                self.epochs.next_epoch();
                if !self.cfg.pack && !chunk.is_empty() {
                    break;
                }
            }
            chunks.push(chunk);
        }
        let start = self.epochs.count(batch_size);
        let seed = self.cfg.seed;
        let rngs = (0..batch_size as u64).map(move |i| Rng::new(&[seed, DOMAIN_MASK, start + i]));
        Ok(corrupt_batch(&self.cfg.shape, &chunks, rngs))
    }

    fn position(&self) -> StreamPosition {
        self.epochs.position()
    }

    /// Positions are at a byte of a document, or at the end of the epoch.
    fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError> {
        let corpus = &self.corpus;
        self.epochs.seek(pos, |doc| corpus.document(doc).len())
    }

    fn examples_seen(&self) -> u64 {
        self.epochs.examples_seen()
    }

    /// Chunks of the held-out documents in a fixed order; at most as many as they yield.
    fn validation_set(&self, n_examples: usize, batch_size: usize) -> Result<Vec<TextBatch>, DataError> {
        let valid = self.epochs.held_out(batch_size)?;
        let chunker = Chunker { corpus: &self.corpus, raw_len: self.raw_len, pack: self.cfg.pack };
        let (mut index, mut offset) = (0, 0);
        let mut chunks = Vec::new();
        while chunks.len() < n_examples {
            let mut chunk = Vec::with_capacity(self.raw_len);
            let more = chunker.take(valid, &mut index, &mut offset, &mut chunk);
            if !chunk.is_empty() {
                chunks.push(chunk);
            }
            if !more || index >= valid.len() {
                break;
            }
        }
        let seed = self.cfg.seed;
        let mut out = Vec::new();
        for (b, group) in chunks.chunks(batch_size).enumerate() {
            let base = (b * batch_size) as u64;
            let rngs = (0..group.len() as u64).map(move |i| Rng::new(&[seed, DOMAIN_VALID_MASK, base + i]));
            out.push(corrupt_batch(&self.cfg.shape, group, rngs));
        }
        Ok(out)
    }
}

impl TextStream for TextCorpusStream {
    fn input_len(&self) -> usize {
        self.cfg.shape.input_len
    }
    fn target_len(&self) -> usize {
        self.cfg.shape.target_len
    }
}
