//! Integration tests of the training loop (docs/THEORY.md §5), in one test binary so that the
//! suite links dfdx and the crate once for all of them:
//! - `optim`: learning-rate schedules, clipping, config validation, learning with either optimizer;
//! - `masks`, `gmp`: pruned weights stay exactly zero through the optimizers (test and real pruner);
//! - `resume`, `checkpoint`: bit-for-bit resumption, and clear errors for damaged checkpoints;
//! - `learns`: a tiny ViT and T5 learn on synthetic data;
//! - `train_support`: the fixtures these tests share.

mod checkpoint;
mod gmp;
mod learns;
mod masks;
mod optim;
mod resume;
mod train_support;
