//! # sparse-scaling-data
//!
//! Data for sparse scaling runs (Frantar et al., ICLR 2024; docs/THEORY.md §5): infinite,
//! seeded, never-repeating streams so that runs live in the paper's "massive data" regime, and
//! loaders for real formats as users have them. No dfdx here: batches are plain
//! `Vec<f32>`/`Vec<u32>`.
//!
//! - [`stream`]: [`ImageBatch`], [`TextBatch`], [`LmBatch`], [`StreamPosition`], the [`Stream`]
//!   trait (with [`ImageStream`] / [`TextStream`] / [`LmStream`] adding shapes) and
//!   [`BoxStream`] (any stream, one type).
//! - [`synthetic`]: [`SyntheticImages`] (ViT), [`SyntheticText`] (T5) and [`SyntheticLm`]
//!   (decoder-only, next-token prediction); example `i` is a pure function of `(seed, i)`.
//! - [`loaders`]: [`load_image_folder`], [`load_cifar10`] → [`ImageDataset`] (brought to a
//!   declared size with [`ImageDataset::resize`] and a named [`Resize`] filter) →
//!   [`ImageDataStream`]; [`load_jsonl`] (`.jsonl`,
//!   `.jsonl.gz`, C4) → [`TextCorpus`] → [`TextCorpusStream`] (span corruption) or
//!   [`LmCorpusStream`] (next-token prediction).
//! - Shared by both: [`rng`] (counter-based seeding), [`vocab`] (byte-level ids, ByT5 style,
//!   with T5 sentinels), [`span_corruption`] (T5 span corruption) and [`text`] (sequence
//!   lengths, corrupted batches).
//! - [`DataError`]: the one error type; every variant names the file/line and the fix.
//!
//! ```
//! use sparse_scaling_data::{Stream, SyntheticImages, SyntheticImageConfig};
//! let mut s = SyntheticImages::new(SyntheticImageConfig::default())?;
//! let b = s.next_batch(4)?;
//! assert_eq!(b.pixels.len(), 4 * 28 * 28);
//! let pos = s.position();              // store in a checkpoint (serde)
//! let next = s.next_batch(4)?;
//! s.seek(&pos)?;                       // resume: the same examples again
//! assert_eq!(s.next_batch(4)?, next);
//! # Ok::<(), sparse_scaling_data::DataError>(())
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod loaders;
pub mod rng;
pub mod span_corruption;
pub mod stream;
pub mod synthetic;
pub mod text;
pub mod vocab;

pub use error::DataError;
pub use loaders::cifar10::{cifar10_files, cifar10_records, load_cifar10};
pub use loaders::corpus::{LmCorpusConfig, LmCorpusStream, TextCorpus, TextCorpusConfig, TextCorpusStream};
pub use loaders::image_folder::{load_image_folder, summarize_image_folder, ImageFolderConfig, ImageFolderSummary};
pub use loaders::images::{ImageDataConfig, ImageDataStream, ImageDataset};
pub use loaders::jsonl::{load_jsonl, JsonlConfig};
pub use loaders::resize::Resize;
pub use span_corruption::SpanCorruption;
pub use stream::{
    BoxStream, ImageBatch, ImageShape, ImageStream, LmBatch, LmStream, Stream, StreamPosition, TextBatch, TextStream,
};
pub use synthetic::images::{SyntheticImageConfig, SyntheticImages};
pub use synthetic::text::{SyntheticLm, SyntheticText, SyntheticTextConfig};
pub use text::TextShape;
