//! runner (to be written)
