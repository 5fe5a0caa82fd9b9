//! Fast training ops for `f32` tensors on dfdx's [`Cpu`](dfdx::tensor::Cpu): fused, on all of
//! rayon's threads, each with its backward pass on dfdx's tape.
//!
//! The models of this crate (ViT and T5.1.1, docs/THEORY.md §5) spend their training step in the
//! few ops below. Plain dfdx 0.13 runs its element-wise kernels on one core, multiplies
//! `(batch, tokens, width)` tensors as many small matrices, and materializes head permutes;
//! these ops instead take dfdx tensors and return dfdx tensors (the input's tape carried on,
//! so they compose with dfdx's own ops and `backward()`), and inside they work on plain
//! row-major slices: matrix products on the token-flattened 2-D matrix with the `gemm` crate
//! on all threads, element-wise work split over rows, buffers taken from and returned to the
//! device's allocation cache. Results do not depend on the number of threads (every row is
//! computed the same way; reductions over rows sum fixed chunks in a fixed order).
//!
//! | op | signature (dims are any [`Dim`](dfdx::shapes::Dim): `usize` or `Const<N>`) |
//! | --- | --- |
//! | [`linear`] | `x: (M, K)`, `w: (N, K)`, `b: Option<(N,)>` → `(M, N)`: `x·Wᵀ + b` |
//! | [`linear_no_bias`] | `x: (M, K)`, `w: (N, K)` → `(M, N)` |
//! | [`gelu`] | `x: S` (any shape), [`Gelu`] → `S` |
//! | [`bias_gelu`] | `x: (M, N)`, `b: (N,)`, [`Gelu`] → `(M, N)`: `gelu(x + b)` |
//! | [`gated_gelu`] | `a: S`, `gate: S`, [`Gelu`] → `S`: `gelu(a) ⊙ gate` (T5.1.1 MLP) |
//! | [`layer_norm`] | `x: S` (last axis `D`), `γ: (D,)`, `β: (D,)`, `eps` → `S` |
//! | [`rms_norm`] | `x: S` (last axis `D`), `γ: (D,)`, `eps` → `S` |
//! | [`softmax`] | `x: S`, `bias: Option<S>`, `causal` → `S` (over the last axis) |
//! | [`attention`] | `q: (B, Sq, D)`, `k, v: (B, Sk, D)`, `heads`, `scale`, `bias: Option<(heads, Sq, Sk)>`, `causal` → `(B, Sq, D)` |
//! | [`self_attention`] | `x: (batch·t, K)`, `w: [(N, K); 3]`, `b: Option<[(N,); 3]>`, `batch`, `heads`, `scale`, `score_bias`, `causal` → `(batch·t, N)`: attention of `x`'s q, k, v projections |
//! | [`add`] | `a: S`, `b: S` → `S`: residual add |
//! | [`cross_entropy`] | `logits: (M, C)`, `targets: &[usize]`, `z_loss` → scalar mean loss |
//! | [`cross_entropy_ignoring`] | as above plus `ignore: Option<usize>` (T5's PAD): mean over the other rows |
//!
//! One file per op family: `linear` (and the one `gemm` call behind every matrix product),
//! `gelu` (GELU, bias + GELU, gated GELU, the residual add), `norm`, `softmax` (the op and the
//! softmax row routines the other ops share), `attention` (the op, its batch drivers, and its
//! register-blocked and `gemm` kernels in `attention/`), `self_attention` (attention with the
//! q, k, v projections fused in), `cross_entropy`; `buf`, `par` and `math` hold the buffers,
//! the row splitting over threads and the `exp`/`erf`/`tanh` approximations they all use.
//!
//! Each has a `try_` twin returning `Result<_, CpuError>`; the plain ones panic only on an
//! allocation failure or on inconsistent runtime shapes (as dfdx's own ops do). The tape of
//! the result is the first argument's; weights may carry no tape ([`NoneTape`](dfdx::tensor::NoneTape),
//! their gradients land in the gradients of the first argument's tape, as with dfdx's
//! `retaped`), or their own tape, which is merged.
//!
//! Which GELU: PyTorch's `nn.GELU()` default is the exact form [`Gelu::Erf`] (the ViT
//! reference uses it); Hugging Face T5.1.1 (`gated-gelu` → `gelu_new`) uses [`Gelu::Tanh`].
//!
//! ```
//! use dfdx::prelude::*;
//! use sparse_scaling::ops;
//!
//! let dev: Cpu = Default::default();
//! let x: Tensor<(usize, Const<8>), f32, _> = dev.sample_normal_like(&(5, Const));
//! let w: Tensor<Rank2<16, 8>, f32, _> = dev.sample_normal();
//! let b: Tensor<Rank1<16>, f32, _> = dev.sample_normal();
//! let g = x.leaky_trace();
//! let h = ops::bias_gelu(ops::linear_no_bias(g, w.clone()), b.clone(), ops::Gelu::Erf);
//! let grads = h.sum().backward();
//! assert_eq!(grads.get(&w).shape(), &(Const::<16>, Const::<8>));
//! ```

mod attention;
mod buf;
pub use buf::release_scratch;
mod cross_entropy;
mod gelu;
mod linear;
mod math;
mod norm;
mod par;
pub use par::init_threads;
mod self_attention;
mod softmax;

pub use attention::{attention, try_attention};
pub use cross_entropy::{cross_entropy, cross_entropy_ignoring, try_cross_entropy, try_cross_entropy_ignoring};
pub use gelu::{add, bias_gelu, gated_gelu, gelu, try_add, try_bias_gelu, try_gated_gelu, try_gelu, Gelu};
pub use linear::{linear, linear_no_bias, try_linear};
pub use norm::{layer_norm, rms_norm, try_layer_norm, try_rms_norm};
pub use self_attention::{self_attention, try_self_attention};
pub use softmax::{softmax, try_softmax};

/// Raw kernels exposed for the benchmarks and tests of this crate only (not a stable API).
#[doc(hidden)]
pub mod raw {
    pub use super::linear::{matmul, matmul_one_thread, row_major, transposed, Mat};

    /// `exp`, `erf`, `tanh` approximations used by the kernels (see the module docs of `math`).
    pub fn exp(x: f32) -> f32 {
        super::math::exp(x)
    }
    /// See [`exp`].
    pub fn erf(x: f32) -> f32 {
        super::math::erf(x)
    }
    /// See [`exp`].
    pub fn tanh(x: f32) -> f32 {
        super::math::tanh(x)
    }
}
