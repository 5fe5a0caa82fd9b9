//! Walking a model's parameters by path name, with dfdx 0.13's tensor visitor.
//!
//! Every optimizer and the checkpoint code go through these walks, so nothing is written per
//! model: any `TensorCollection<f32, Cpu>` works. Paths are dfdx's dotted field names
//! (e.g. `blocks.0.attn.q.weight`). Only tensors marked `do_gradient_update` are visited,
//! always in the collection's declaration order (which makes every float reduction over
//! parameters happen in a fixed order, a requirement for bit-exact resumption).

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut, ViewTensorName,
    ViewTensorRef,
};
use dfdx::prelude::{Cpu, Gradients, HasShape, Shape, Tensor};

use super::TrainError;

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

/// Callback over a parameter's path, shape and values.
pub type ParamFn<'f> = dyn FnMut(&str, &[usize], &[f32]) -> Result<(), TrainError> + 'f;
/// Callback over a parameter's path, shape and writable values (or gradient).
pub type ParamMutFn<'f> = dyn FnMut(&str, &[usize], &mut [f32]) -> Result<(), TrainError> + 'f;

enum Mode<'f> {
    /// Values and gradients, values written back.
    Update(&'f mut dyn FnMut(ParamGrad<'_>) -> Result<(), TrainError>),
    /// Gradients only (values not copied).
    Grads(&'f mut ParamMutFn<'f>),
}

struct GradWalker<'g, 'f> {
    grads: &'g mut Gradients<f32, Cpu>,
    scratch: Vec<f32>,
    mode: Mode<'f>,
}

impl TensorVisitor<f32, Cpu> for GradWalker<'_, '_> {
    type Viewer = (ViewTensorName, ViewTensorMut);
    type Err = TrainError;
    type E2 = f32;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, Cpu>,
        (path, p): (String, &mut Tensor<S, f32, Cpu>),
    ) -> Result<Option<Tensor<S, f32, Cpu>>, TrainError> {
        if !opts.do_gradient_update {
            return Ok(None);
        }
        let shape = p.shape().concrete();
        let shape: &[usize] = shape.as_ref();
        let g = self
            .grads
            .get_or_alloc_mut(&*p)
            .map_err(|e| TrainError::Device(format!("allocating the gradient of {path}: {e}")))?;
        match &mut self.mode {
            Mode::Grads(f) => f(&path, shape, &mut g[..])?,
            Mode::Update(f) => {
                let n = p.shape().num_elements();
                self.scratch.clear();
                self.scratch.resize(n, 0.0);
                p.copy_into(&mut self.scratch);
                f(ParamGrad { path: &path, shape, value: &mut self.scratch, grad: &mut g[..] })?;
                p.copy_from(&self.scratch);
            }
        }
        Ok(None)
    }
}

/// Calls `f` on every trainable parameter with its gradient, then writes the values back.
/// A parameter missing from `grads` (unused in the loss) gets a zero gradient.
pub fn for_each_param_grad<M: TensorCollection<f32, Cpu>>(
    model: &mut M,
    grads: &mut Gradients<f32, Cpu>,
    f: &mut dyn FnMut(ParamGrad<'_>) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    let mut w = GradWalker { grads, scratch: Vec::new(), mode: Mode::Update(f) };
    M::iter_tensors(&mut RecursiveWalker { m: (String::new(), model), f: &mut w })?;
    Ok(())
}

/// Calls `f(path, shape, grad)` on every trainable parameter's gradient.
pub fn for_each_grad<M: TensorCollection<f32, Cpu>>(
    model: &mut M,
    grads: &mut Gradients<f32, Cpu>,
    f: &mut ParamMutFn<'_>,
) -> Result<(), TrainError> {
    let mut w = GradWalker { grads, scratch: Vec::new(), mode: Mode::Grads(f) };
    M::iter_tensors(&mut RecursiveWalker { m: (String::new(), model), f: &mut w })?;
    Ok(())
}

struct RefWalker<'f> {
    scratch: Vec<f32>,
    f: &'f mut ParamFn<'f>,
}

impl TensorVisitor<f32, Cpu> for RefWalker<'_> {
    type Viewer = (ViewTensorName, ViewTensorRef);
    type Err = TrainError;
    type E2 = f32;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, Cpu>,
        (path, p): (String, &Tensor<S, f32, Cpu>),
    ) -> Result<Option<Tensor<S, f32, Cpu>>, TrainError> {
        if !opts.do_gradient_update {
            return Ok(None);
        }
        let shape = p.shape().concrete();
        self.scratch.clear();
        self.scratch.resize(p.shape().num_elements(), 0.0);
        p.copy_into(&mut self.scratch);
        (self.f)(&path, shape.as_ref(), &self.scratch)?;
        Ok(None)
    }
}

/// Calls `f(path, shape, values)` on every trainable parameter.
pub fn for_each_param<M: TensorCollection<f32, Cpu>>(
    model: &M,
    f: &mut ParamFn<'_>,
) -> Result<(), TrainError> {
    let mut w = RefWalker { scratch: Vec::new(), f };
    M::iter_tensors(&mut RecursiveWalker { m: (String::new(), model), f: &mut w })?;
    Ok(())
}

struct MutWalker<'f> {
    scratch: Vec<f32>,
    f: &'f mut ParamMutFn<'f>,
}

impl TensorVisitor<f32, Cpu> for MutWalker<'_> {
    type Viewer = (ViewTensorName, ViewTensorMut);
    type Err = TrainError;
    type E2 = f32;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, Cpu>,
        (path, p): (String, &mut Tensor<S, f32, Cpu>),
    ) -> Result<Option<Tensor<S, f32, Cpu>>, TrainError> {
        if !opts.do_gradient_update {
            return Ok(None);
        }
        let shape = p.shape().concrete();
        self.scratch.clear();
        self.scratch.resize(p.shape().num_elements(), 0.0);
        p.copy_into(&mut self.scratch);
        (self.f)(&path, shape.as_ref(), &mut self.scratch)?;
        p.copy_from(&self.scratch);
        Ok(None)
    }
}

/// Calls `f(path, shape, values)` on every trainable parameter and writes the values back.
pub fn for_each_param_mut<M: TensorCollection<f32, Cpu>>(
    model: &mut M,
    f: &mut ParamMutFn<'_>,
) -> Result<(), TrainError> {
    let mut w = MutWalker { scratch: Vec::new(), f };
    M::iter_tensors(&mut RecursiveWalker { m: (String::new(), model), f: &mut w })?;
    Ok(())
}

/// True for tensors that get weight decay: at least two dimensions, and a path that names
/// neither a norm nor a bias (so LayerNorm/RMSNorm scales, biases and the relative-position
/// bias are excluded).
pub fn is_decayed(path: &str, shape: &[usize]) -> bool {
    let p = path.to_ascii_lowercase();
    shape.len() >= 2 && !p.contains("norm") && !p.contains("bias")
}
