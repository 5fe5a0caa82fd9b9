//! C4-style JSON lines as users have them (`.jsonl`, or gzip-compressed `.jsonl.gz`, one object
//! per line with a string field `text`), loaded into a [`TextCorpus`].

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::loaders::corpus::TextCorpus;

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
        return Err(DataError::Request("no JSONL files given; pass e.g. c4-train.00000-of-01024.json.gz".into()));
    }
    let mut corpus = TextCorpus::default();
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
    let mut f = std::fs::File::open(path).map_err(DataError::io(path))?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        let n = f.read(&mut magic[got..]).map_err(DataError::io(path))?;
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
            Some(other) => return Err(err(format!("field \"{field}\" is not a string but {}", json_kind(other)))),
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
