//! Synthetic streams: infinite, seeded and never repeating, so that runs live in the paper's
//! "massive data" regime (every example seen at most once; docs/THEORY.md §5). Example `i` is a
//! pure function of `(seed, i)`, so a stream seeks in O(1) and a checkpoint stores an index.
//!
//! - [`images`]: [`SyntheticImages`](crate::SyntheticImages), classification images for ViT;
//! - [`text`]: [`SyntheticText`](crate::SyntheticText), span-corrupted documents for T5, and
//!   [`SyntheticLm`](crate::SyntheticLm), the same documents for next-token prediction;
//! - `cursor`: what they share (the index cursor, the validation range, their one
//!   [`Stream`](crate::Stream) implementation).

mod cursor;
pub mod images;
pub mod text;
