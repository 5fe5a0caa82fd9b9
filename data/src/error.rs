//! The one error type of the data crate. Every variant names the place (file, line, record)
//! and says how to fix the input; nothing in this crate panics on a bad file.

use std::path::{Path, PathBuf};

/// Errors from streams and loaders.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory could not be opened or read.
    #[error("cannot read {path}. Check that the path exists and is readable.")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file holds no usable data (no records, no documents, no images).
    #[error("{path} is empty: {what}")]
    Empty {
        /// The file or directory.
        path: PathBuf,
        /// What was missing and how to fix it.
        what: String,
    },
    /// A JSON line could not be parsed or lacks the text field.
    #[error("{path}:{line}: {message}. Each line must be a JSON object with a string field \"{field}\" (C4 format), e.g. {{\"{field}\": \"some text\"}}.")]
    JsonLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The field that was expected.
        field: String,
        /// What was wrong.
        message: String,
    },
    /// A gzip stream is corrupt or truncated.
    #[error(
        "{path}: corrupt or truncated gzip data near line {line}. Re-download the file or check it with `gzip -t`."
    )]
    Gzip {
        /// The file.
        path: PathBuf,
        /// 1-based line number reached before the failure.
        line: usize,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CIFAR-10 binary file whose length is not a multiple of the record size.
    #[error("{path}: length {found} bytes is not a multiple of the CIFAR-10 record size {record} (1 label byte + 3072 pixel bytes); the file is truncated or not a CIFAR-10 binary batch (data_batch_*.bin / test_batch.bin)")]
    CifarLength {
        /// The file.
        path: PathBuf,
        /// File length in bytes.
        found: u64,
        /// Record size in bytes (3073).
        record: usize,
    },
    /// A CIFAR-10 record with a label outside 0..=9.
    #[error("{path}: record {record} has label {label}, expected 0..=9; the file is not a CIFAR-10 binary batch (CIFAR-100 binaries have 2 label bytes and are not supported)")]
    CifarLabel {
        /// The file.
        path: PathBuf,
        /// 0-based record index.
        record: usize,
        /// The label byte found.
        label: u8,
    },
    /// An image could not be decoded.
    #[error("{path}: cannot decode image: {message}. Only PNG and JPEG are supported; re-encode or remove the file.")]
    ImageDecode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        message: String,
    },
    /// An image has a different size than the loader expects.
    #[error("{path}: image is {found_width}x{found_height}, expected {expected_width}x{expected_height}. Resize the images, or give a filter to resize them with (`ImageFolderConfig::resize = Some(Resize::Bilinear)`).")]
    ImageSize {
        /// The file.
        path: PathBuf,
        /// Expected width.
        expected_width: u32,
        /// Expected height.
        expected_height: u32,
        /// Found width.
        found_width: u32,
        /// Found height.
        found_height: u32,
    },
    /// A configuration value is out of range.
    #[error("invalid data config: {field} = {value}: {reason}")]
    Config {
        /// The field.
        field: &'static str,
        /// The offending value, printed.
        value: String,
        /// Why it is invalid and what to use instead.
        reason: String,
    },
    /// A position given to `seek` does not belong to this stream.
    #[error("cannot seek: the saved position is for stream {found:?} (fingerprint {found_fingerprint:#x}) but this is stream {expected:?} (fingerprint {expected_fingerprint:#x}). Resume with the same data config and seed as the checkpoint.")]
    PositionMismatch {
        /// This stream's kind.
        expected: String,
        /// This stream's config fingerprint.
        expected_fingerprint: u64,
        /// The position's kind.
        found: String,
        /// The position's fingerprint.
        found_fingerprint: u64,
    },
    /// A batch size of zero or similar request that cannot be served.
    #[error("invalid request: {0}")]
    Request(String),
}

impl DataError {
    /// The [`DataError::Io`] of reading `path`, for `map_err`.
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
        move |source| DataError::Io { path: path.to_path_buf(), source }
    }
}
