//! The one walk over a model's parameters: dfdx 0.13's `TensorCollection::iter_tensors` with a
//! single [`TensorVisitor`], and passes on top of it, as dfdx's own `num_params` and
//! `zero_grads` are built. Every pass sees each parameter's position in walk order, its dotted
//! path (`blocks.0.attn.q.weight`), whether dfdx marks it trainable, and its tensor — shared
//! ([`walk`]) or mutable ([`walk_mut`]). The order is the collection's declaration order, the
//! same on every call, so positions index per-parameter state (masks) and every reduction over
//! parameters happens in a fixed order (bit-exact resumption needs that).
//!
//! Nothing here is written per model: any `TensorCollection<f32, Cpu>` works.
//!
//! ```
//! use dfdx::prelude::*;
//! use sparse_scaling::params::{for_each_param, walk, Pass, Param};
//! let dev = Cpu::default();
//! let model = dev.build_module::<Linear<3, 2>, f32>();
//! // A pass: count the weights.
//! struct Count(usize);
//! impl Pass for Count {
//!     type View = dfdx::nn::tensor_collection::ViewTensorRef;
//!     type Err = std::convert::Infallible;
//!     fn param<S: Shape>(&mut self, p: Param<'_, &Tensor<S, f32, Cpu>>) -> Result<(), Self::Err> {
//!         self.0 += p.tensor.shape().num_elements();
//!         Ok(())
//!     }
//! }
//! let mut count = Count(0);
//! walk(&model, &mut count).unwrap();
//! assert_eq!(count.0, 3 * 2 + 2);
//! // The same with a closure over copies of the values.
//! let mut paths = Vec::new();
//! for_each_param(&model, &mut |path, _shape, _values| -> Result<(), ()> { paths.push(path.to_string()); Ok(()) }).unwrap();
//! assert_eq!(paths, ["weight", "bias"]);
//! ```

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorViewer, TensorVisitor, ViewTensorMut, ViewTensorName,
    ViewTensorRef,
};
use dfdx::prelude::{Cpu, Gradients, HasShape, Shape, Tensor};

/// One parameter as a [`Pass`] sees it; `tensor` is `&Tensor` or `&mut Tensor`.
pub struct Param<'a, T> {
    /// Position in walk order (0 for the first parameter).
    pub index: usize,
    /// Dot-joined field path, e.g. `blocks.0.attn.q.weight`.
    pub path: &'a str,
    /// Whether dfdx marks the tensor for gradient updates.
    pub trainable: bool,
    /// The tensor.
    pub tensor: T,
}

/// The tensor view of a pass with viewer `V` (`&Tensor` for [`ViewTensorRef`], `&mut Tensor`
/// for [`ViewTensorMut`]).
pub type TensorView<'a, V, S> = <V as TensorViewer>::View<'a, Tensor<S, f32, Cpu>>;

/// Something done to every parameter of a model, in walk order.
pub trait Pass {
    /// [`ViewTensorRef`] for passes that read, [`ViewTensorMut`] for passes that write.
    type View: TensorViewer;
    /// What the pass can fail with.
    type Err;
    /// Whether the walk skips tensors dfdx does not mark for gradient updates (positions still
    /// count them, so they index the same state as in a pass that sees every tensor).
    const TRAINABLE_ONLY: bool = false;
    /// Called once per parameter tensor (per trainable one with [`Pass::TRAINABLE_ONLY`]).
    fn param<S: Shape>(&mut self, p: Param<'_, TensorView<'_, Self::View, S>>) -> Result<(), Self::Err>;
}

/// dfdx's visitor for any [`Pass`]: names the parameter, counts positions.
struct Walk<'p, P> {
    pass: &'p mut P,
    index: usize,
}

impl<P: Pass> TensorVisitor<f32, Cpu> for Walk<'_, P> {
    type Viewer = (ViewTensorName, P::View);
    type Err = P::Err;
    type E2 = f32;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, Cpu>,
        (path, tensor): <Self::Viewer as TensorViewer>::View<'_, Tensor<S, f32, Cpu>>,
    ) -> Result<Option<Tensor<S, f32, Cpu>>, P::Err> {
        let index = self.index;
        self.index += 1;
        if P::TRAINABLE_ONLY && !opts.do_gradient_update {
            return Ok(None);
        }
        self.pass.param(Param { index, path: &path, trainable: opts.do_gradient_update, tensor })?;
        Ok(None)
    }
}

/// Runs a reading pass over every parameter of `model`.
pub fn walk<M, P>(model: &M, pass: &mut P) -> Result<(), P::Err>
where
    M: TensorCollection<f32, Cpu>,
    P: Pass<View = ViewTensorRef>,
{
    M::iter_tensors(&mut RecursiveWalker { m: (String::new(), model), f: &mut Walk { pass, index: 0 } })?;
    Ok(())
}

/// Runs a writing pass over every parameter of `model`.
pub fn walk_mut<M, P>(model: &mut M, pass: &mut P) -> Result<(), P::Err>
where
    M: TensorCollection<f32, Cpu>,
    P: Pass<View = ViewTensorMut>,
{
    M::iter_tensors(&mut RecursiveWalker { m: (String::new(), model), f: &mut Walk { pass, index: 0 } })?;
    Ok(())
}

// ---- closure passes over trainable parameters (what optimizers, checkpoints and tests use)

/// A callback over a parameter's path, shape and values.
pub type ValuesFn<'f, E> = dyn FnMut(&str, &[usize], &[f32]) -> Result<(), E> + 'f;
/// A callback over a parameter's path, shape and writable values (or gradient).
pub type ValuesMutFn<'f, E> = dyn FnMut(&str, &[usize], &mut [f32]) -> Result<(), E> + 'f;
/// A callback over a parameter and its gradient.
pub type ParamGradFn<'f, E> = dyn FnMut(ParamGrad<'_>) -> Result<(), E> + 'f;

/// A parameter and its gradient, as the optimizers see them.
pub struct ParamGrad<'a> {
    /// Dotted path of the parameter in the model.
    pub path: &'a str,
    /// Its shape.
    pub shape: &'a [usize],
    /// Its values (row-major); written back to the model after the callback.
    pub value: &'a mut [f32],
    /// Its gradient (row-major), writable in place (masking, clipping).
    pub grad: &'a mut [f32],
}

/// Copies `t` into `scratch` (resized) and returns the filled slice.
fn read_into<'s, S: Shape>(t: &Tensor<S, f32, Cpu>, scratch: &'s mut Vec<f32>) -> &'s mut [f32] {
    scratch.clear();
    scratch.resize(t.shape().num_elements(), 0.0);
    t.copy_into(scratch);
    scratch
}

struct Values<F> {
    f: F,
    scratch: Vec<f32>,
}

impl<E, F: FnMut(&str, &[usize], &[f32]) -> Result<(), E>> Pass for Values<F> {
    type View = ViewTensorRef;
    type Err = E;
    const TRAINABLE_ONLY: bool = true;
    fn param<S: Shape>(&mut self, p: Param<'_, &Tensor<S, f32, Cpu>>) -> Result<(), E> {
        let shape = p.tensor.shape().concrete();
        (self.f)(p.path, shape.as_ref(), read_into(p.tensor, &mut self.scratch))
    }
}

struct ValuesMut<F> {
    f: F,
    scratch: Vec<f32>,
}

impl<E, F: FnMut(&str, &[usize], &mut [f32]) -> Result<(), E>> Pass for ValuesMut<F> {
    type View = ViewTensorMut;
    type Err = E;
    const TRAINABLE_ONLY: bool = true;
    fn param<S: Shape>(&mut self, p: Param<'_, &mut Tensor<S, f32, Cpu>>) -> Result<(), E> {
        let shape = p.tensor.shape().concrete();
        (self.f)(p.path, shape.as_ref(), read_into(p.tensor, &mut self.scratch))?;
        p.tensor.copy_from(&self.scratch);
        Ok(())
    }
}

/// Fails when a parameter's gradient cannot be allocated.
fn grad_of<'g, S: Shape, E: From<String>>(
    grads: &'g mut Gradients<f32, Cpu>,
    path: &str,
    t: &Tensor<S, f32, Cpu>,
) -> Result<&'g mut [f32], E> {
    match grads.get_or_alloc_mut(t) {
        Ok(g) => Ok(&mut g[..]),
        Err(e) => Err(E::from(format!("allocating the gradient of {path}: {e}"))),
    }
}

struct Grads<'g, F> {
    grads: &'g mut Gradients<f32, Cpu>,
    f: F,
}

impl<E: From<String>, F: FnMut(&str, &[usize], &mut [f32]) -> Result<(), E>> Pass for Grads<'_, F> {
    type View = ViewTensorRef;
    type Err = E;
    const TRAINABLE_ONLY: bool = true;
    fn param<S: Shape>(&mut self, p: Param<'_, &Tensor<S, f32, Cpu>>) -> Result<(), E> {
        let shape = p.tensor.shape().concrete();
        let g = grad_of::<S, E>(self.grads, p.path, p.tensor)?;
        (self.f)(p.path, shape.as_ref(), g)
    }
}

struct Update<'g, F> {
    grads: &'g mut Gradients<f32, Cpu>,
    f: F,
    scratch: Vec<f32>,
}

impl<E: From<String>, F: FnMut(ParamGrad<'_>) -> Result<(), E>> Pass for Update<'_, F> {
    type View = ViewTensorMut;
    type Err = E;
    const TRAINABLE_ONLY: bool = true;
    fn param<S: Shape>(&mut self, p: Param<'_, &mut Tensor<S, f32, Cpu>>) -> Result<(), E> {
        let shape = p.tensor.shape().concrete();
        let g = grad_of::<S, E>(self.grads, p.path, p.tensor)?;
        let value = read_into(p.tensor, &mut self.scratch);
        (self.f)(ParamGrad { path: p.path, shape: shape.as_ref(), value, grad: g })?;
        p.tensor.copy_from(&self.scratch);
        Ok(())
    }
}

/// Calls `f(path, shape, values)` on every trainable parameter.
pub fn for_each_param<M, E>(model: &M, f: &mut ValuesFn<'_, E>) -> Result<(), E>
where
    M: TensorCollection<f32, Cpu>,
{
    walk(model, &mut Values { f, scratch: Vec::new() })
}

/// Calls `f(path, shape, values)` on every trainable parameter and writes the values back.
pub fn for_each_param_mut<M, E>(model: &mut M, f: &mut ValuesMutFn<'_, E>) -> Result<(), E>
where
    M: TensorCollection<f32, Cpu>,
{
    walk_mut(model, &mut ValuesMut { f, scratch: Vec::new() })
}

/// Calls `f(path, shape, grad)` on every trainable parameter's gradient (a parameter missing
/// from `grads`, unused in the loss, gets a zero gradient).
pub fn for_each_grad<M, E>(model: &M, grads: &mut Gradients<f32, Cpu>, f: &mut ValuesMutFn<'_, E>) -> Result<(), E>
where
    M: TensorCollection<f32, Cpu>,
    E: From<String>,
{
    walk(model, &mut Grads { grads, f })
}

/// Calls `f` on every trainable parameter with its gradient, then writes the values back.
/// A parameter missing from `grads` (unused in the loss) gets a zero gradient.
pub fn for_each_param_grad<M, E>(
    model: &mut M,
    grads: &mut Gradients<f32, Cpu>,
    f: &mut ParamGradFn<'_, E>,
) -> Result<(), E>
where
    M: TensorCollection<f32, Cpu>,
    E: From<String>,
{
    walk_mut(model, &mut Update { grads, f, scratch: Vec::new() })
}
