//! File loaders: real formats as users have them, loaded into memory and served as infinite,
//! resumable streams (a seeded held-out split, then a new seeded order every epoch).
//!
//! - images: [`image_folder`] (one sub-folder per class) and [`cifar10`] (binary batches) load
//!   an [`ImageDataset`](crate::ImageDataset); [`images`] serves it as an
//!   [`ImageDataStream`](crate::ImageDataStream); [`resize`] brings images to a declared size
//!   with a named filter;
//! - text: [`jsonl`] (C4-style JSON lines) loads a [`TextCorpus`](crate::TextCorpus); [`corpus`]
//!   serves it as a [`TextCorpusStream`](crate::TextCorpusStream) (span corruption) or an
//!   [`LmCorpusStream`](crate::LmCorpusStream) (next-token prediction);
//! - `epochs`: what the two streams share (the split, the epochs, the position).

pub mod cifar10;
pub mod corpus;
mod epochs;
pub mod image_folder;
pub mod images;
pub mod jsonl;
pub mod resize;
