//! Text in memory ([`TextCorpus`], e.g. from [`load_jsonl`](crate::load_jsonl)), byte-tokenised
//! (ByT5 style, [`crate::vocab`]) and served as a resumable stream with a held-out validation
//! split: span-corrupted for T5 ([`TextCorpusStream`], [`crate::span_corruption`]), or as rows
//! for next-token prediction by a decoder-only model ([`LmCorpusStream`], docs/THEORY.md §6).
//!
//! The paper's T5 runs train on C4 (docs/THEORY.md §5). Following T5's `span_corruption`
//! preprocessing, documents are concatenated and split into chunks of the raw length whose
//! corruption fits the input/target lengths (`pack = true`); with `pack = false` a chunk never
//! crosses a document boundary (the last chunk of a document is shorter and padded). The
//! next-token stream cuts its rows of `seq_len` tokens the same way, uncorrupted.

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::loaders::epochs::{Epochs, Loader, Names};
use crate::rng::{hash_bytes, mix, Rng};
use crate::stream::{check_batch_size, LmBatch, LmStream, Stream, StreamPosition, TextBatch, TextStream};
use crate::text::{corrupt_batch, TextShape};
use crate::vocab;

static LOADER: Loader = Loader {
    kind: "text-corpus",
    split_domain: 0x5350_4c54,
    shuffle_domain: 0x5348_4654,
    sort_held_out: true,
    names: Names { dataset: "the text corpus", items: "documents", typical_fraction: "0.01" },
};
/// The next-token stream: its own kind, the same split and shuffles as [`LOADER`] (so the same
/// seed and fraction hold out the same documents).
static LM_LOADER: Loader = Loader {
    kind: "lm-corpus",
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
    chunks: Chunks,
    cfg: TextCorpusConfig,
}

/// Rows of next-token prediction from a [`TextCorpus`]: splitting, shuffling and packing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LmCorpusConfig {
    /// Seed of the split and the per-epoch shuffles.
    pub seed: u64,
    /// Tokens per row (1..=2^20).
    pub seq_len: usize,
    /// Concatenate documents before cutting rows; `false` keeps a row inside one document
    /// (a document's last row is shorter and padded with PAD).
    pub pack: bool,
    /// Fraction of documents held out for validation (rounded; at least 1 if > 0).
    pub validation_fraction: f64,
}

impl Default for LmCorpusConfig {
    /// Seed 0, 128 tokens per row, packing on, 1% of documents held out.
    fn default() -> Self {
        LmCorpusConfig { seed: 0, seq_len: 128, pack: true, validation_fraction: 0.01 }
    }
}

/// A corpus as an infinite stream of rows for next-token prediction (uncorrupted chunks of
/// `seq_len` byte tokens, PAD-padded when a row ends with its document).
#[derive(Clone, Debug)]
pub struct LmCorpusStream {
    chunks: Chunks,
    cfg: LmCorpusConfig,
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

/// What the two corpus streams share: the corpus cut into chunks of `raw_len` byte tokens
/// (packed or not), its split, and where training stands.
#[derive(Clone, Debug)]
struct Chunks {
    corpus: TextCorpus,
    raw_len: usize,
    pack: bool,
    epochs: Epochs,
}

impl Chunks {
    /// Splits the corpus; the fingerprint covers the stream's config (`cfg_json`) and the data.
    fn new(
        loader: &'static Loader,
        corpus: TextCorpus,
        raw_len: usize,
        pack: bool,
        seed: u64,
        validation_fraction: f64,
        cfg_json: &str,
    ) -> Result<Self, DataError> {
        let fingerprint = mix(&[
            hash_bytes(cfg_json.as_bytes()),
            corpus.len() as u64,
            hash_bytes(&corpus.bytes),
            hash_bytes(&corpus.offsets.iter().flat_map(|o| (*o as u64).to_le_bytes()).collect::<Vec<u8>>()),
        ]);
        let epochs = Epochs::new(loader, corpus.len(), seed, validation_fraction, fingerprint)?;
        Ok(Chunks { corpus, raw_len, pack, epochs })
    }

    fn chunker(&self) -> Chunker<'_> {
        Chunker { corpus: &self.corpus, raw_len: self.raw_len, pack: self.pack }
    }

    /// The next `n` training chunks, and the number of examples served before them.
    fn next(&mut self, n: usize) -> Result<(Vec<Vec<u32>>, u64), DataError> {
        check_batch_size(n)?;
        let chunker = Chunker { corpus: &self.corpus, raw_len: self.raw_len, pack: self.pack };
        let mut chunks = Vec::with_capacity(n);
        while chunks.len() < n {
            let mut chunk = Vec::with_capacity(self.raw_len);
            loop {
                let (order, index, offset) = self.epochs.place();
                if chunker.take(order, index, offset, &mut chunk) {
                    break;
                }
                // Epoch exhausted: a packed chunk continues into the next epoch.
                self.epochs.next_epoch();
                if !self.pack && !chunk.is_empty() {
                    break;
                }
            }
            chunks.push(chunk);
        }
        Ok((chunks, self.epochs.count(n)))
    }

    /// Chunks of the held-out documents in a fixed order; at most `n_examples`, and at most as
    /// many as they yield.
    fn held_out(&self, n_examples: usize, batch_size: usize) -> Result<Vec<Vec<u32>>, DataError> {
        let valid = self.epochs.held_out(batch_size)?;
        let chunker = self.chunker();
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
        Ok(chunks)
    }

    /// Positions are at a byte of a document, or at the end of the epoch.
    fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError> {
        let corpus = &self.corpus;
        self.epochs.seek(pos, |doc| corpus.document(doc).len())
    }
}

impl TextCorpusStream {
    /// Splits and prepares the stream.
    pub fn new(corpus: TextCorpus, cfg: TextCorpusConfig) -> Result<Self, DataError> {
        let raw_len = cfg.shape.raw_len()?;
        let cfg_json = serde_json::to_string(&cfg).unwrap_or_default();
        let chunks = Chunks::new(&LOADER, corpus, raw_len, cfg.pack, cfg.seed, cfg.validation_fraction, &cfg_json)?;
        Ok(TextCorpusStream { chunks, cfg })
    }

    /// Raw (uncorrupted) tokens per chunk.
    pub fn raw_len(&self) -> usize {
        self.chunks.raw_len
    }

    /// Documents used for training / held out.
    pub fn split_sizes(&self) -> (usize, usize) {
        (self.chunks.epochs.train().len(), self.chunks.epochs.valid().len())
    }

    /// Dataset indices of the held-out documents.
    pub fn validation_documents(&self) -> &[usize] {
        self.chunks.epochs.valid()
    }

    /// Dataset indices of the training documents.
    pub fn training_documents(&self) -> &[usize] {
        self.chunks.epochs.train()
    }

    /// The underlying corpus.
    pub fn corpus(&self) -> &TextCorpus {
        &self.chunks.corpus
    }
}

impl Stream for TextCorpusStream {
    type Batch = TextBatch;

    fn next_batch(&mut self, batch_size: usize) -> Result<TextBatch, DataError> {
        let (chunks, start) = self.chunks.next(batch_size)?;
        let seed = self.cfg.seed;
        let rngs = (0..batch_size as u64).map(move |i| Rng::new(&[seed, DOMAIN_MASK, start + i]));
        Ok(corrupt_batch(&self.cfg.shape, &chunks, rngs))
    }

    fn position(&self) -> StreamPosition {
        self.chunks.epochs.position()
    }

    /// Positions are at a byte of a document, or at the end of the epoch.
    fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError> {
        self.chunks.seek(pos)
    }

    fn examples_seen(&self) -> u64 {
        self.chunks.epochs.examples_seen()
    }

    /// Chunks of the held-out documents in a fixed order; at most as many as they yield.
    fn validation_set(&self, n_examples: usize, batch_size: usize) -> Result<Vec<TextBatch>, DataError> {
        let chunks = self.chunks.held_out(n_examples, batch_size)?;
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

impl LmCorpusStream {
    /// Splits and prepares the stream.
    pub fn new(corpus: TextCorpus, cfg: LmCorpusConfig) -> Result<Self, DataError> {
        if cfg.seq_len == 0 || cfg.seq_len > 1 << 20 {
            return Err(DataError::Config {
                field: "seq_len",
                value: cfg.seq_len.to_string(),
                reason: "use 1..=1048576 tokens per row".into(),
            });
        }
        let cfg_json = serde_json::to_string(&cfg).unwrap_or_default();
        let (seq_len, pack, seed, fraction) = (cfg.seq_len, cfg.pack, cfg.seed, cfg.validation_fraction);
        let chunks = Chunks::new(&LM_LOADER, corpus, seq_len, pack, seed, fraction, &cfg_json)?;
        Ok(LmCorpusStream { chunks, cfg })
    }

    /// Documents used for training / held out.
    pub fn split_sizes(&self) -> (usize, usize) {
        (self.chunks.epochs.train().len(), self.chunks.epochs.valid().len())
    }

    /// Dataset indices of the held-out documents.
    pub fn validation_documents(&self) -> &[usize] {
        self.chunks.epochs.valid()
    }

    /// Dataset indices of the training documents.
    pub fn training_documents(&self) -> &[usize] {
        self.chunks.epochs.train()
    }

    /// The underlying corpus.
    pub fn corpus(&self) -> &TextCorpus {
        &self.chunks.corpus
    }
}

impl Stream for LmCorpusStream {
    type Batch = LmBatch;

    fn next_batch(&mut self, batch_size: usize) -> Result<LmBatch, DataError> {
        let (rows, _) = self.chunks.next(batch_size)?;
        Ok(LmBatch::from_rows(self.cfg.seq_len, &rows))
    }

    fn position(&self) -> StreamPosition {
        self.chunks.epochs.position()
    }

    /// Positions are at a byte of a document, or at the end of the epoch.
    fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError> {
        self.chunks.seek(pos)
    }

    fn examples_seen(&self) -> u64 {
        self.chunks.epochs.examples_seen()
    }

    /// Rows of the held-out documents in a fixed order; at most as many as they yield.
    fn validation_set(&self, n_examples: usize, batch_size: usize) -> Result<Vec<LmBatch>, DataError> {
        let rows = self.chunks.held_out(n_examples, batch_size)?;
        Ok(rows.chunks(batch_size).map(|group| LmBatch::from_rows(self.cfg.seq_len, group)).collect())
    }
}

impl LmStream for LmCorpusStream {
    fn seq_len(&self) -> usize {
        self.cfg.seq_len
    }
}
