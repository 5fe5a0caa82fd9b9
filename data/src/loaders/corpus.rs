//! Real text as users have it: C4-style JSON lines (`.jsonl`, or gzip-compressed `.jsonl.gz`,
//! one object per line with a string field `text`), byte-tokenised (ByT5 style, [`crate::vocab`])
//! and span-corrupted (T5, [`crate::span_corruption`]) into a resumable [`TextStream`].
//!
//! The paper's T5 runs train on C4 (PAPER.md §4). Following T5's `span_corruption`
//! preprocessing, documents are concatenated and split into chunks of the raw length whose
//! corruption fits the input/target lengths (`pack = true`); with `pack = false` a chunk never
//! crosses a document boundary (the last chunk of a document is shorter and padded).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::loaders::epochs::{check_held_out, hold_out, shuffled, Names};
use crate::rng::{hash_bytes, mix, Rng};
use crate::stream::{check_batch_size, Stream, StreamPosition, TextBatch, TextStream};
use crate::text::{corrupt_batch, TextShape};
use crate::vocab;

const KIND: &str = "text-corpus";
const DOMAIN_SPLIT: u64 = 0x5350_4c54;
const DOMAIN_SHUFFLE: u64 = 0x5348_4654;
const DOMAIN_MASK: u64 = 0x4d53_4b54;
const DOMAIN_VALID_MASK: u64 = 0x564d_534b;
const NAMES: Names = Names { dataset: "the text corpus", items: "documents", typical_fraction: "0.01" };

/// Documents in memory: all bytes one after another, with offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextCorpus {
    bytes: Vec<u8>,
    /// `len + 1` offsets into `bytes`.
    offsets: Vec<usize>,
}

impl TextCorpus {
    /// A corpus from in-memory documents (empty documents are skipped).
    pub fn from_documents<S: AsRef<[u8]>>(docs: impl IntoIterator<Item = S>) -> Self {
        let mut c = TextCorpus { bytes: Vec::new(), offsets: vec![0] };
        for d in docs {
            c.push(d.as_ref());
        }
        c
    }

    fn push(&mut self, doc: &[u8]) {
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

/// How to read JSON-lines files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlConfig {
    /// Files to read, in order; a file is gzip-decompressed if it starts with the gzip magic
    /// bytes (`.jsonl.gz`), else read as plain text.
    pub files: Vec<PathBuf>,
    /// The string field holding the document (`"text"` in C4).
    #[serde(default = "default_field")]
    pub field: String,
    /// Stop after this many documents (memory bound for large shards).
    #[serde(default)]
    pub max_documents: Option<usize>,
}

fn default_field() -> String {
    "text".into()
}

impl JsonlConfig {
    /// Reads `files`, field `text`, all documents.
    pub fn new(files: Vec<PathBuf>) -> Self {
        JsonlConfig { files, field: default_field(), max_documents: None }
    }
}

/// Loads JSON-lines files into a [`TextCorpus`]. Blank lines are skipped; documents with empty
/// text are skipped; a file with no documents, a malformed line, a missing or non-string field,
/// or corrupt gzip data is an error naming the file and line.
pub fn load_jsonl(cfg: &JsonlConfig) -> Result<TextCorpus, DataError> {
    if cfg.files.is_empty() {
        return Err(DataError::Request(
            "no JSONL files given; pass e.g. c4-train.00000-of-01024.json.gz".into(),
        ));
    }
    let mut corpus = TextCorpus { bytes: Vec::new(), offsets: vec![0] };
    for file in &cfg.files {
        if cfg.max_documents.is_some_and(|m| corpus.len() >= m) {
            break;
        }
        read_jsonl_file(file, &cfg.field, cfg.max_documents, &mut corpus)?;
    }
    Ok(corpus)
}

fn read_jsonl_file(
    path: &Path,
    field: &str,
    max_docs: Option<usize>,
    corpus: &mut TextCorpus,
) -> Result<(), DataError> {
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        let n = f.read(&mut magic[got..]).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let gz = got == 2 && magic == [0x1f, 0x8b];
    let head = std::io::Cursor::new(magic[..got].to_vec());
    let raw = head.chain(f);
    let reader: Box<dyn BufRead> = if gz {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(raw)))
    } else {
        Box::new(BufReader::new(raw))
    };
    let before = corpus.len();
    let mut lines_seen = 0usize;
    let mut reader = reader;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|source| {
            if gz {
                DataError::Gzip { path: path.to_path_buf(), line: lines_seen + 1, source }
            } else {
                DataError::Io { path: path.to_path_buf(), source }
            }
        })?;
        if n == 0 {
            break;
        }
        lines_seen += 1;
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let err = |message: String| DataError::JsonLine {
            path: path.to_path_buf(),
            line: lines_seen,
            field: field.to_string(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&line).map_err(|e| err(format!("not valid JSON ({e})")))?;
        let obj = value.as_object().ok_or_else(|| err("not a JSON object".into()))?;
        let text = match obj.get(field) {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => {
                return Err(err(format!("field \"{field}\" is not a string but {}", json_kind(other))))
            }
            None => return Err(err(format!("no field \"{field}\""))),
        };
        corpus.push(text.as_bytes());
        if max_docs.is_some_and(|m| corpus.len() >= m) {
            return Ok(());
        }
    }
    if corpus.len() == before {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            what: format!(
                "no documents ({lines_seen} lines, none with non-empty \"{field}\"); give a JSON-lines file with one {{\"{field}\": ...}} object per line"
            ),
        });
    }
    Ok(())
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
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
    train: Vec<usize>,
    valid: Vec<usize>,
    fingerprint: u64,
    epoch: u64,
    /// Next document in `order`.
    index: usize,
    /// Byte offset inside that document.
    offset: usize,
    order: Vec<usize>,
    seen: u64,
}

/// A cursor over documents in some order, producing chunks.
struct Cursor<'a> {
    corpus: &'a TextCorpus,
    index: usize,
    offset: usize,
}

impl TextCorpusStream {
    /// Splits and prepares the stream.
    pub fn new(corpus: TextCorpus, cfg: TextCorpusConfig) -> Result<Self, DataError> {
        let raw_len = cfg.shape.raw_len()?;
        let (train, mut valid) = hold_out(corpus.len(), cfg.validation_fraction, cfg.seed, DOMAIN_SPLIT, &NAMES)?;
        valid.sort_unstable();
        let n = corpus.len();
        let cfg_json = serde_json::to_string(&cfg).unwrap_or_default();
        let fingerprint = mix(&[
            hash_bytes(cfg_json.as_bytes()),
            n as u64,
            hash_bytes(&corpus.bytes),
            hash_bytes(&corpus.offsets.iter().flat_map(|o| (*o as u64).to_le_bytes()).collect::<Vec<u8>>()),
        ]);
        let mut s = TextCorpusStream {
            corpus,
            cfg,
            raw_len,
            train,
            valid,
            fingerprint,
            epoch: 0,
            index: 0,
            offset: 0,
            order: Vec::new(),
            seen: 0,
        };
        s.order = s.epoch_order(0);
        Ok(s)
    }

    fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        shuffled(&self.train, &[self.cfg.seed, DOMAIN_SHUFFLE, epoch])
    }

    /// Raw (uncorrupted) tokens per chunk.
    pub fn raw_len(&self) -> usize {
        self.raw_len
    }

    /// Documents used for training / held out.
    pub fn split_sizes(&self) -> (usize, usize) {
        (self.train.len(), self.valid.len())
    }

    /// Dataset indices of the held-out documents.
    pub fn validation_documents(&self) -> &[usize] {
        &self.valid
    }

    /// Dataset indices of the training documents.
    pub fn training_documents(&self) -> &[usize] {
        &self.train
    }

    /// The underlying corpus.
    pub fn corpus(&self) -> &TextCorpus {
        &self.corpus
    }

    /// Takes one chunk from `order` at the cursor; returns `None` when `order` is exhausted
    /// (with a partial chunk in `out` when packing).
    fn take_chunk(&self, order: &[usize], cur: &mut Cursor, out: &mut Vec<u32>) -> bool {
        while out.len() < self.raw_len {
            let Some(&doc) = order.get(cur.index) else { return false };
            let d = cur.corpus.document(doc);
            let take = (self.raw_len - out.len()).min(d.len() - cur.offset);
            out.extend(d[cur.offset..cur.offset + take].iter().map(|&b| vocab::byte_to_id(b)));
            cur.offset += take;
            if cur.offset >= d.len() {
                cur.index += 1;
                cur.offset = 0;
                if !self.cfg.pack {
                    return true;
                }
            }
        }
        true
    }
}

impl Stream for TextCorpusStream {
    type Batch = TextBatch;

    fn next_batch(&mut self, batch_size: usize) -> Result<TextBatch, DataError> {
        check_batch_size(batch_size)?;
        let mut chunks = Vec::with_capacity(batch_size);
        while chunks.len() < batch_size {
            let mut chunk = Vec::with_capacity(self.raw_len);
            loop {
                let mut cur = Cursor { corpus: &self.corpus, index: self.index, offset: self.offset };
                let done = self.take_chunk(&self.order, &mut cur, &mut chunk);
                self.index = cur.index;
                self.offset = cur.offset;
                if done {
                    break;
                }
                // Epoch exhausted: a packed chunk continues into the next epoch.
                self.epoch += 1;
                self.index = 0;
                self.offset = 0;
                self.order = self.epoch_order(self.epoch);
                if !self.cfg.pack && !chunk.is_empty() {
                    break;
                }
            }
            chunks.push(chunk);
        }
        let start = self.seen;
        let seed = self.cfg.seed;
        let rngs = (0..batch_size as u64).map(move |i| Rng::new(&[seed, DOMAIN_MASK, start + i]));
        self.seen += batch_size as u64;
        Ok(corrupt_batch(&self.cfg.shape, &chunks, rngs))
    }

    fn position(&self) -> StreamPosition {
        StreamPosition {
            kind: KIND.into(),
            fingerprint: self.fingerprint,
            epoch: self.epoch,
            index: self.index as u64,
            offset: self.offset as u64,
            examples_seen: self.seen,
        }
    }

    fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError> {
        pos.check(KIND, self.fingerprint)?;
        let order = self.epoch_order(pos.epoch);
        let ok = match order.get(pos.index as usize) {
            Some(&d) => pos.offset < self.corpus.document(d).len() as u64,
            None => pos.index as usize == order.len() && pos.offset == 0,
        };
        if !ok {
            return Err(DataError::Request(format!(
                "position (epoch {}, document {}, offset {}) is outside the corpus; the checkpoint is corrupt",
                pos.epoch, pos.index, pos.offset
            )));
        }
        self.order = order;
        self.epoch = pos.epoch;
        self.index = pos.index as usize;
        self.offset = pos.offset as usize;
        self.seen = pos.examples_seen;
        Ok(())
    }

    fn examples_seen(&self) -> u64 {
        self.seen
    }

    /// Chunks of the held-out documents in a fixed order; at most as many as they yield.
    fn validation_set(&self, n_examples: usize, batch_size: usize) -> Result<Vec<TextBatch>, DataError> {
        check_batch_size(batch_size)?;
        check_held_out(&self.valid, self.cfg.validation_fraction, &NAMES)?;
        let mut cur = Cursor { corpus: &self.corpus, index: 0, offset: 0 };
        let mut chunks = Vec::new();
        while chunks.len() < n_examples {
            let mut chunk = Vec::with_capacity(self.raw_len);
            let more = self.take_chunk(&self.valid, &mut cur, &mut chunk);
            if !chunk.is_empty() {
                chunks.push(chunk);
            }
            if !more || cur.index >= self.valid.len() {
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
