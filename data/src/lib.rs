//! # sparse-scaling-data
//!
//! Data for sparse scaling runs (Frantar et al., ICLR 2024; PAPER.md §4): infinite, seeded,
//! never-repeating streams so that runs live in the paper's "massive data" regime, and loaders
//! for real formats as users have them. No dfdx here: batches are plain `Vec<f32>`/`Vec<u32>`.
//!
//! - [`stream`]: [`ImageBatch`], [`TextBatch`], [`StreamPosition`] and the [`Stream`] trait
//!   (with [`ImageStream`] / [`TextStream`] adding shapes).
//! - Synthetic: [`SyntheticImages`] (ViT) and [`SyntheticText`] (T5); example `i` is a pure
//!   function of `(seed, i)`.
//! - Real formats: [`load_image_folder`], [`load_cifar10`] → [`ImageDataStream`];
//!   [`load_jsonl`] (`.jsonl`, `.jsonl.gz`, C4) → [`TextCorpusStream`].
//! - [`vocab`]: byte-level ids (ByT5 style) with T5 sentinels; [`span_corruption`]: T5 span corruption.
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

pub mod error;
pub mod loaders;
pub mod rng;
pub mod span_corruption;
pub mod stream;
pub mod synthetic;
pub mod text;
pub mod vocab;

pub use error::DataError;
pub use loaders::cifar10::{cifar10_files, load_cifar10};
pub use loaders::corpus::{TextCorpus, TextCorpusConfig, TextCorpusStream};
pub use loaders::image_folder::{load_image_folder, ImageFolderConfig};
pub use loaders::images::{ImageDataConfig, ImageDataStream, ImageDataset};
pub use loaders::jsonl::{load_jsonl, JsonlConfig};
pub use span_corruption::SpanCorruption;
pub use stream::{
    BoxStream, ImageBatch, ImageShape, ImageStream, Stream, StreamPosition, TextBatch, TextStream,
};
pub use synthetic::images::{SyntheticImageConfig, SyntheticImages};
pub use synthetic::text::{SyntheticText, SyntheticTextConfig};
pub use text::TextShape;
