//! placeholder
pub mod analysis;
