//! sparsity (to be written)
