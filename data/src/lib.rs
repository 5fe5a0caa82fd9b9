//! # sparse-scaling-data
//!
//! Data for sparse scaling runs (Frantar et al., ICLR 2024; PAPER.md §4): infinite, seeded,
//! never-repeating streams so that runs live in the paper's "massive data" regime, and loaders
//! for real formats as users have them.
//!
//! - [`stream`]: [`ImageBatch`], [`TextBatch`], [`StreamPosition`] and the [`Stream`] trait.
//! - [`vocab`]: byte-level ids (ByT5 style) with T5 sentinels.
//! - [`DataError`]: the one error type; every variant names the file/line and the fix.

pub mod error;
pub mod rng;
pub mod span;
pub mod synth_image;
pub mod synth_text;
pub mod text;
pub mod stream;
pub mod vocab;

pub use error::DataError;
pub use span::SpanCorruption;
pub use synth_image::{SyntheticImageConfig, SyntheticImages};
pub use synth_text::{SyntheticText, SyntheticTextConfig};
pub use text::TextShape;
pub use stream::{ImageBatch, ImageShape, ImageStream, Stream, StreamPosition, TextBatch, TextStream};
