//! Procedural macros of sparse-scaling.
