//! Moving data between dfdx tensors and plain slices without leaving dfdx's allocation cache.
//!
//! dfdx 0.13 does not expose a tensor's storage outside the crate, so our ops read an input
//! with one `memcpy` (`Tensor::copy_into`, after `try_contiguous`, which is free for the
//! row-major tensors models pass) and hand their output back with `tensor_from_vec`. To keep
//! the step free of page faults, every buffer we use is taken from the device's allocation
//! cache (`Storage::try_alloc_len`) and, when we are done with it, given back to that cache
//! (or, for outputs, handed to dfdx, which gives it back when the tensor drops). With the cache
//! disabled this falls back to ordinary allocation.

use dfdx::prelude::*;

/// The storage dfdx uses for one `f32` buffer on the CPU (a `Vec` that returns itself to the
/// device's cache when dropped).
pub(crate) type CpuVec = <Cpu as Storage<f32>>::Vec;

/// A plain `Vec<f32>` borrowed from the device's allocation cache; returned to it on drop.
pub(crate) struct Buf {
    v: Vec<f32>,
    /// The (emptied) cache entry this buffer came from: putting `v` back into it and dropping
    /// it inserts `v` into the cache again.
    shell: Option<CpuVec>,
}

impl Buf {
    /// A zero-filled buffer of `len` floats.
    pub(crate) fn zeros(dev: &Cpu, len: usize) -> Result<Self, CpuError> {
        let mut shell = dev.try_alloc_len(len)?;
        let inner: &mut Vec<f32> = &mut shell;
        let v = std::mem::take(inner);
        Ok(Self { v, shell: Some(shell) })
    }

    /// A buffer holding a copy of the (contiguous) tensor's elements in row-major order.
    pub(crate) fn copy_of<S: Shape, T>(t: &Tensor<S, f32, Cpu, T>) -> Result<Self, CpuError> {
        let mut b = Self::zeros(t.device(), t.shape().num_elements())?;
        t.copy_into(&mut b.v);
        Ok(b)
    }

    /// Gives the buffer away as a plain `Vec` (to become a tensor's storage).
    pub(crate) fn into_vec(mut self) -> Vec<f32> {
        let v = std::mem::take(&mut self.v);
        if let Some(shell) = self.shell.take() {
            // The shell is an empty `Vec` plus a handle to the cache. Dropping it would insert
            // a zero-length entry into the cache on every call; forgetting it costs nothing
            // but one reference count on the device's cache (which lives as long as the
            // device does anyway).
            std::mem::forget(shell);
        }
        v
    }
}

impl std::ops::Deref for Buf {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.v
    }
}

impl std::ops::DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.v
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if let Some(mut shell) = self.shell.take() {
            let inner: &mut Vec<f32> = &mut shell;
            *inner = std::mem::take(&mut self.v);
            // `shell` drops here and returns the buffer to the device's cache (if enabled).
        }
    }
}

/// A buffer that never leaves our ops (a saved input, a backward temporary), taken from and
/// given back to our own pool of buffers keyed by length.
///
/// Why not dfdx's cache: `Storage::try_alloc_len` zero-fills every buffer it hands out, which
/// cost ≈ 6% of a ViT training step in buffers that are overwritten right away (the copy of an
/// op's input, for example). Outputs still come from dfdx's cache ([`Buf`]), because dfdx
/// gives them back to its own cache when the tensor drops; only buffers we also give back
/// ourselves live here, so the pool holds at most the peak number of such buffers in flight.
pub(crate) struct Scratch {
    v: Vec<f32>,
}

/// Free buffers by length.
static POOL: std::sync::Mutex<Option<std::collections::HashMap<usize, Vec<Vec<f32>>>>> = std::sync::Mutex::new(None);

fn pool_pop(len: usize) -> Option<Vec<f32>> {
    let mut g = POOL.lock().unwrap_or_else(|e| e.into_inner());
    g.as_mut()?.get_mut(&len)?.pop()
}

/// Drops every buffer the pool holds (the memory of ops on a model that is no longer trained).
pub fn release_scratch() {
    let mut g = POOL.lock().unwrap_or_else(|e| e.into_inner());
    *g = None;
}

impl Scratch {
    /// A buffer of `len` floats with unspecified (finite, initialised) contents: for a caller
    /// that overwrites every element.
    pub(crate) fn dirty(len: usize) -> Result<Self, CpuError> {
        if let Some(v) = pool_pop(len) {
            return Ok(Self { v });
        }
        let mut v = Vec::new();
        v.try_reserve_exact(len).map_err(|_| CpuError::OutOfMemory)?;
        v.resize(len, 0.0);
        Ok(Self { v })
    }

    /// A zero-filled buffer of `len` floats.
    pub(crate) fn zeros(len: usize) -> Result<Self, CpuError> {
        let mut s = Self::dirty(len)?;
        s.v.fill(0.0);
        Ok(s)
    }

    /// A copy of the (contiguous) tensor's elements in row-major order.
    pub(crate) fn copy_of<S: Shape, T>(t: &Tensor<S, f32, Cpu, T>) -> Result<Self, CpuError> {
        let mut s = Self::dirty(t.shape().num_elements())?;
        t.copy_into(&mut s.v);
        Ok(s)
    }
}

impl std::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.v
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.v
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.v);
        if v.capacity() == 0 {
            return;
        }
        let mut g = POOL.lock().unwrap_or_else(|e| e.into_inner());
        g.get_or_insert_with(Default::default).entry(v.len()).or_default().push(v);
    }
}

/// Wraps a buffer into a tensor of shape `shape` (no copy).
pub(crate) fn tensor_of<S: Shape>(dev: &Cpu, buf: Buf, shape: S) -> Result<Tensor<S, f32, Cpu>, CpuError> {
    dev.try_tensor_from_vec(buf.into_vec(), shape)
}

/// Takes the gradient of tensor (or ghost) `$t` out of `$grads` (allocating zeros if absent),
/// leaving an empty vector in its place; put it back with [`put_grad!`]. This is how a
/// backward op reads the gradient of its output while it writes the gradients of its inputs,
/// with the public API of dfdx 0.13 only (its ghost tensors cannot be named outside dfdx,
/// hence macros rather than functions). Use inside a closure returning `Result<_, CpuError>`.
macro_rules! take_grad {
    ($grads:expr, $t:expr) => {{
        let g: &mut Vec<f32> = $grads.get_or_alloc_mut($t)?;
        std::mem::take(g)
    }};
}

/// Puts back a gradient taken with [`take_grad!`].
macro_rules! put_grad {
    ($grads:expr, $t:expr, $g:expr) => {{
        let slot: &mut Vec<f32> = $grads.get_or_alloc_mut($t)?;
        *slot = $g;
    }};
}

/// Adds the slice `$src` into the gradient of `$t`.
macro_rules! add_grad {
    ($grads:expr, $t:expr, $src:expr) => {{
        let g: &mut Vec<f32> = $grads.get_or_alloc_mut($t)?;
        $crate::ops::par::add_into(g, $src);
    }};
}

pub(crate) use {add_grad, put_grad, take_grad};
