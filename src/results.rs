//! results store (to be written)
