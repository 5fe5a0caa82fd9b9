//! A model's parameters: the one walk over them ([`walk`], [`walk_mut`] and the closure passes
//! on top) and the one rule that says what each parameter is ([`role_of`]). Pruning, the
//! optimizers, checkpoints and the statistics all go through these, for any dfdx
//! `TensorCollection<f32, Cpu>`; nothing is written per model.

pub mod role;
pub mod walk;

pub use role::{components, embedding_sparsity, role_of, ParamRole};
pub use walk::{
    for_each_grad, for_each_param, for_each_param_grad, for_each_param_mut, walk, walk_mut, Param, ParamGrad,
    ParamGradFn, Pass, TensorView, ValuesFn, ValuesMutFn,
};
