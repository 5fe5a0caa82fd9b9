//! placeholder
pub mod analysis;
pub mod plot;
