//! File loaders: real formats as users have them, loaded into memory and served as infinite,
//! resumable streams (a seeded held-out split, then a new seeded order every epoch).
//!
//! - [`images`]: [`ImageDataset`](crate::ImageDataset) from an image folder or CIFAR-10
//!   binaries, served by [`ImageDataStream`](crate::ImageDataStream);
//! - [`corpus`]: [`TextCorpus`](crate::TextCorpus) from C4-style JSON lines, served by
//!   [`TextCorpusStream`](crate::TextCorpusStream);
//! - `epochs`: what the two share (the split, the epochs, the position).

pub mod corpus;
mod epochs;
pub mod images;
