//! Masks on every prunable weight, and the passes that read, mask and write a model's parameters
//! (docs/THEORY.md §4.2: masks are re-applied after every optimizer step). Each pass is a small
//! [`Pass`] on the one walk of [`crate::params`]: it sees each parameter's position, dot-joined
//! path (`blocks.0.attn.q.weight`) and tensor, so nothing is written per model. Masks are
//! bit-packed (one bit per weight, 1 = kept) and serialisable for checkpoints.

use dfdx::nn::tensor_collection::{TensorCollection, ViewTensorMut, ViewTensorRef};
use dfdx::prelude::{Cpu, Gradients, Shape, Tensor};
use dfdx::shapes::HasShape;
use serde::{Deserialize, Serialize};

use super::SparsityError;
use crate::params::{role_of, walk, walk_mut, Param, ParamRole, Pass};

/// One bit per weight, 1 = kept, packed little-endian into `u64` words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BitMaskRepr", into = "BitMaskRepr")]
pub struct BitMask {
    len: usize,
    words: Vec<u64>,
}

/// Serialised form of a [`BitMask`]: checked on load.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BitMaskRepr {
    len: usize,
    words: Vec<u64>,
}

impl TryFrom<BitMaskRepr> for BitMask {
    type Error = SparsityError;
    fn try_from(r: BitMaskRepr) -> Result<Self, SparsityError> {
        let need = r.len.div_ceil(64);
        if r.words.len() != need {
            return Err(SparsityError::CorruptMask {
                detail: format!("a mask of {} bits needs {need} words, found {}", r.len, r.words.len()),
            });
        }
        if r.len % 64 != 0 {
            let tail = r.words[need - 1] >> (r.len % 64);
            if tail != 0 {
                return Err(SparsityError::CorruptMask {
                    detail: format!("bits set beyond the mask's length {}", r.len),
                });
            }
        }
        Ok(BitMask { len: r.len, words: r.words })
    }
}

impl From<BitMask> for BitMaskRepr {
    fn from(m: BitMask) -> Self {
        BitMaskRepr { len: m.len, words: m.words }
    }
}

impl BitMask {
    /// All weights kept.
    pub fn ones(len: usize) -> Self {
        let mut words = vec![u64::MAX; len.div_ceil(64)];
        if len % 64 != 0 {
            if let Some(last) = words.last_mut() {
                *last = (1u64 << (len % 64)) - 1;
            }
        }
        BitMask { len, words }
    }

    /// All weights pruned.
    pub fn zeros(len: usize) -> Self {
        BitMask { len, words: vec![0; len.div_ceil(64)] }
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mask has no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether weight `i` is kept.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        (self.words[i / 64] >> (i % 64)) & 1 == 1
    }

    /// Keep (`true`) or prune weight `i`.
    #[inline]
    pub fn set(&mut self, i: usize, keep: bool) {
        let w = &mut self.words[i / 64];
        if keep {
            *w |= 1 << (i % 64);
        } else {
            *w &= !(1 << (i % 64));
        }
    }

    /// Number of kept weights.
    pub fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The packed words (bit `i` of word `j` is weight `64 j + i`).
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Zero every value whose bit is 0. `values.len()` must equal `self.len()` (checked by callers).
    pub fn zero_pruned(&self, values: &mut [f32]) {
        debug_assert_eq!(values.len(), self.len);
        for (chunk, &w) in values.chunks_mut(64).zip(&self.words) {
            if w == u64::MAX {
                continue;
            }
            if w == 0 {
                chunk.iter_mut().for_each(|v| *v = 0.0);
                continue;
            }
            let mut pruned = !w;
            while pruned != 0 {
                let b = pruned.trailing_zeros() as usize;
                if b >= chunk.len() {
                    break;
                }
                chunk[b] = 0.0;
                pruned &= pruned - 1;
            }
        }
    }
}

/// The mask state of one parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamMask {
    /// Dot-joined path, e.g. `blocks.0.attn.q.weight`.
    pub path: String,
    /// Dimensions (weights are `(out, in)`).
    pub shape: Vec<usize>,
    /// What the pruner does with it.
    pub role: ParamRole,
    /// Sparsity the current mask was computed for (0 for untouched parameters).
    pub target: f64,
    /// The mask; `None` for parameters this pruner never touches (Dense roles, and embeddings
    /// unless `prune_embeddings`).
    pub mask: Option<BitMask>,
}

impl ParamMask {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of kept (unmasked) elements; all of them when there is no mask.
    pub fn kept(&self) -> usize {
        self.mask.as_ref().map_or(self.numel(), BitMask::count_ones)
    }

    /// Measured sparsity of the mask: pruned / size.
    pub fn sparsity(&self) -> f64 {
        let n = self.numel();
        if n == 0 {
            0.0
        } else {
            (n - self.kept()) as f64 / n as f64
        }
    }
}

/// The masks of a whole model, in the order dfdx's visitor walks its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Masks {
    /// One entry per parameter tensor of the model.
    pub params: Vec<ParamMask>,
}

/// A parameter as the visitor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// Dot-joined path.
    pub path: String,
    /// Dimensions.
    pub shape: Vec<usize>,
}

impl Masks {
    /// Masks for `model`: every parameter with its role; masks of all ones on prunable weights
    /// (and on embeddings when `prune_embeddings`), none elsewhere.
    pub fn for_model<M: TensorCollection<f32, Cpu>>(model: &M, prune_embeddings: bool) -> Self {
        let params = list_params(model)
            .into_iter()
            .map(|p| {
                let role = role_of(&p.path, &p.shape);
                let numel: usize = p.shape.iter().product();
                let mask = match role {
                    ParamRole::Prunable => Some(BitMask::ones(numel)),
                    ParamRole::Embedding if prune_embeddings => Some(BitMask::ones(numel)),
                    _ => None,
                };
                ParamMask { path: p.path, shape: p.shape, role, target: 0.0, mask }
            })
            .collect();
        Masks { params }
    }

    /// The entry for `path`.
    pub fn get(&self, path: &str) -> Option<&ParamMask> {
        self.params.iter().find(|p| p.path == path)
    }

    /// Zero the values of `buf` (a flat buffer of the parameter's shape: the weights, their
    /// gradient, an Adam moment, …) where `path`'s mask prunes. Parameters without a mask are left
    /// alone.
    pub fn zero_pruned(&self, path: &str, buf: &mut [f32]) -> Result<(), SparsityError> {
        let p = self.get(path).ok_or_else(|| SparsityError::UnknownParam { path: path.into() })?;
        if buf.len() != p.numel() {
            return Err(SparsityError::LengthMismatch { path: path.into(), expected: p.numel(), got: buf.len() });
        }
        if let Some(m) = &p.mask {
            m.zero_pruned(buf);
        }
        Ok(())
    }

    /// The first path that occurs twice, if any (a model naming bug: masks are addressed by path).
    pub fn duplicate_path(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.params.iter().map(|p| p.path.as_str()).find(|p| !seen.insert(*p))
    }

    /// Check that these masks describe `model` (same paths and shapes, same order).
    pub fn check_matches<M: TensorCollection<f32, Cpu>>(&self, model: &M) -> Result<(), SparsityError> {
        let params = list_params(model);
        if params.len() != self.params.len() {
            return Err(SparsityError::StateMismatch {
                detail: format!("the masks list {} parameters, the model has {}", self.params.len(), params.len()),
            });
        }
        for (p, m) in params.iter().zip(&self.params) {
            if p.path != m.path || p.shape != m.shape {
                return Err(SparsityError::StateMismatch {
                    detail: format!(
                        "the masks have `{}` {:?} where the model has `{}` {:?}",
                        m.path, m.shape, p.path, p.shape
                    ),
                });
            }
            if let Some(b) = &m.mask {
                if b.len() != m.numel() {
                    return Err(SparsityError::StateMismatch {
                        detail: format!("mask of `{}` has {} bits for {} weights", m.path, b.len(), m.numel()),
                    });
                }
            }
        }
        Ok(())
    }

    /// Read the weights of every masked parameter (`None` for the others), in visitor order.
    pub fn read_weights<M: TensorCollection<f32, Cpu>>(&self, model: &M) -> Vec<Option<Vec<f32>>> {
        let select: Vec<bool> = self.params.iter().map(|p| p.mask.is_some()).collect();
        self.read_selected(model, &select)
    }

    /// Write back weights read by [`Masks::read_weights`] (entries that are `None` are skipped).
    pub fn write_weights<M: TensorCollection<f32, Cpu>>(&self, model: &mut M, bufs: &[Option<Vec<f32>>]) {
        write_each(model, &mut WriteMasked { masks: &self.params, bufs });
    }

    /// Zero every pruned weight of `model`: one visitor pass that, for each parameter whose mask
    /// prunes something, copies the weights into a small reused scratch buffer (one layer, stays
    /// in cache), zeroes the pruned entries and copies them back.
    pub fn apply<M: TensorCollection<f32, Cpu>>(&self, model: &mut M) {
        write_each(model, &mut ApplyMasks { masks: &self.params, scratch: Vec::new() });
    }

    /// Read the weights of the parameters with `select[i]`.
    fn read_selected<M: TensorCollection<f32, Cpu>>(&self, model: &M, select: &[bool]) -> Vec<Option<Vec<f32>>> {
        let mut v = ReadMasked { masks: &self.params, select, out: Vec::with_capacity(self.params.len()) };
        read_each(model, &mut v);
        v.out
    }

    /// Zero the gradients of pruned weights in dfdx `Gradients` (so an optimizer that reads them
    /// cannot move pruned weights).
    pub fn mask_gradients<M: TensorCollection<f32, Cpu>>(&self, model: &M, grads: &mut Gradients<f32, Cpu>) {
        read_each(model, &mut MaskGrads { masks: &self.params, grads });
    }
}

/// Every parameter tensor of `model`: path and shape, in visitor order.
pub fn list_params<M: TensorCollection<f32, Cpu>>(model: &M) -> Vec<ParamInfo> {
    let mut v = ListParams(Vec::new());
    read_each(model, &mut v);
    v.0
}

/// Count exact zeros in every parameter (for checking masks against the weights themselves).
pub fn count_zeros<M: TensorCollection<f32, Cpu>>(model: &M) -> Vec<(String, usize, usize)> {
    let mut v = CountZeros(Vec::new());
    read_each(model, &mut v);
    v.0
}

fn dims<S: Shape>(s: &S) -> Vec<usize> {
    s.concrete().into()
}

/// Runs an infallible reading pass.
fn read_each<M: TensorCollection<f32, Cpu>, P: Pass<View = ViewTensorRef, Err = std::convert::Infallible>>(
    model: &M,
    pass: &mut P,
) {
    match walk(model, pass) {
        Ok(()) => {}
        Err(never) => match never {},
    }
}

/// Runs an infallible writing pass.
fn write_each<M: TensorCollection<f32, Cpu>, P: Pass<View = ViewTensorMut, Err = std::convert::Infallible>>(
    model: &mut M,
    pass: &mut P,
) {
    match walk_mut(model, pass) {
        Ok(()) => {}
        Err(never) => match never {},
    }
}

// ---- the passes

struct ListParams(Vec<ParamInfo>);

impl Pass for ListParams {
    type View = ViewTensorRef;
    type Err = std::convert::Infallible;
    fn param<S: Shape>(&mut self, p: Param<'_, &Tensor<S, f32, Cpu>>) -> Result<(), Self::Err> {
        self.0.push(ParamInfo { path: p.path.to_string(), shape: dims(p.tensor.shape()) });
        Ok(())
    }
}

struct CountZeros(Vec<(String, usize, usize)>);

impl Pass for CountZeros {
    type View = ViewTensorRef;
    type Err = std::convert::Infallible;
    fn param<S: Shape>(&mut self, p: Param<'_, &Tensor<S, f32, Cpu>>) -> Result<(), Self::Err> {
        let v = p.tensor.as_vec();
        let zeros = v.iter().filter(|x| **x == 0.0).count();
        self.0.push((p.path.to_string(), zeros, v.len()));
        Ok(())
    }
}

struct ReadMasked<'a> {
    masks: &'a [ParamMask],
    select: &'a [bool],
    out: Vec<Option<Vec<f32>>>,
}

impl Pass for ReadMasked<'_> {
    type View = ViewTensorRef;
    type Err = std::convert::Infallible;
    fn param<S: Shape>(&mut self, p: Param<'_, &Tensor<S, f32, Cpu>>) -> Result<(), Self::Err> {
        let (i, path, t) = (p.index, p.path, p.tensor);
        let buf = match (self.masks.get(i), self.select.get(i)) {
            (Some(m), Some(true)) if m.path == path => {
                let mut buf = vec![0.0f32; t.shape().num_elements()];
                t.copy_into(&mut buf);
                Some(buf)
            }
            _ => None,
        };
        self.out.push(buf);
        Ok(())
    }
}

struct WriteMasked<'a> {
    masks: &'a [ParamMask],
    bufs: &'a [Option<Vec<f32>>],
}

impl Pass for WriteMasked<'_> {
    type View = ViewTensorMut;
    type Err = std::convert::Infallible;
    fn param<S: Shape>(&mut self, p: Param<'_, &mut Tensor<S, f32, Cpu>>) -> Result<(), Self::Err> {
        if let (Some(m), Some(Some(buf))) = (self.masks.get(p.index), self.bufs.get(p.index)) {
            if m.path == p.path && buf.len() == p.tensor.shape().num_elements() {
                p.tensor.copy_from(buf);
            }
        }
        Ok(())
    }
}

struct ApplyMasks<'a> {
    masks: &'a [ParamMask],
    scratch: Vec<f32>,
}

impl Pass for ApplyMasks<'_> {
    type View = ViewTensorMut;
    type Err = std::convert::Infallible;
    fn param<S: Shape>(&mut self, p: Param<'_, &mut Tensor<S, f32, Cpu>>) -> Result<(), Self::Err> {
        let (i, path, t) = (p.index, p.path, p.tensor);
        if let Some(ParamMask { path: p, mask: Some(mask), .. }) = self.masks.get(i) {
            let n = t.shape().num_elements();
            if p == path && mask.len() == n && mask.count_ones() < n {
                self.scratch.resize(n, 0.0);
                let buf = &mut self.scratch[..n];
                t.copy_into(buf);
                mask.zero_pruned(buf);
                t.copy_from(buf);
            }
        }
        Ok(())
    }
}

struct MaskGrads<'a> {
    masks: &'a [ParamMask],
    grads: &'a mut Gradients<f32, Cpu>,
}

impl Pass for MaskGrads<'_> {
    type View = ViewTensorRef;
    type Err = std::convert::Infallible;
    fn param<S: Shape>(&mut self, p: Param<'_, &Tensor<S, f32, Cpu>>) -> Result<(), Self::Err> {
        let (i, path, t) = (p.index, p.path, p.tensor);
        if let Some(ParamMask { path: p, mask: Some(mask), .. }) = self.masks.get(i) {
            if p == path && mask.count_ones() < mask.len() {
                if let Ok(g) = self.grads.get_or_alloc_mut(t) {
                    let g: &mut Vec<f32> = g;
                    if g.len() == mask.len() {
                        mask.zero_pruned(g);
                    }
                }
            }
        }
        Ok(())
    }
}
