//! What a parameter is, by its path name: the one rule the pruner (what is pruned, what counts
//! in N), the optimizers (what is weight-decayed) and the models' tests share. docs/THEORY.md
//! §4.3: every weight matrix of attention (q, k, v, o) and the MLP is pruned; norms, biases and
//! the relative-position bias are not; embeddings and the output head optionally at
//! 1 − √(1 − S), never counted in N.
//!
//! This is the naming contract between models and the pruner (see `crate::model`). A path is
//! the dot-joined list of field names dfdx's tensor visitor reports, e.g.
//! `blocks.0.attn.q.weight`. Decided in this order:
//!
//! - **Dense** (never pruned, never decayed): rank below 2, or a component whose name
//!   contains `norm` or `bias` (norm gains, biases, T5's relative-position bias table).
//! - **Matrix** (never pruned, weight-decayed): a component exactly `rel_bias`,
//!   `relative_bias`, `relative_attention_bias` or `pos_embed`, or any other matrix that is
//!   not a rank-2 `weight` under the components below (learned positions, class token).
//! - **Prunable**: rank 2, last component `weight`, and some component is exactly `attn`,
//!   `self_attn`, `cross_attn` or `mlp`.
//! - **Embedding**: rank 2, last component `weight`, and some component is exactly `embed`,
//!   `tok_embed`, `patch_embed`, `lm_head` or `head`.
//!
//! Weights are stored `(out, in)`: the input axis is the last, contiguous axis.

use serde::{Deserialize, Serialize};

/// Path components that make a rank-2 `weight` prunable.
pub const PRUNABLE_COMPONENTS: [&str; 4] = ["attn", "self_attn", "cross_attn", "mlp"];
/// Path components that make a rank-2 `weight` an embedding (or output projection).
pub const EMBEDDING_COMPONENTS: [&str; 5] = ["embed", "tok_embed", "patch_embed", "lm_head", "head"];

/// Path components that make a matrix never pruned (but decayed) whatever else its path says.
pub const NEVER_PRUNED_COMPONENTS: [&str; 4] = ["rel_bias", "relative_bias", "relative_attention_bias", "pos_embed"];

/// What the pruner does with a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ParamRole {
    /// An attention or MLP weight matrix: pruned to the schedule's sparsity, counted in N.
    Prunable,
    /// A token/patch embedding or output head: pruned at 1 − √(1 − S) only when configured;
    /// never counted in N.
    Embedding,
    /// Norm gains, biases, the relative-position bias, every tensor of rank below 2: never
    /// pruned, never weight-decayed.
    Dense,
    /// Any other matrix (learned positions, class token): never pruned, weight-decayed.
    Matrix,
}

impl ParamRole {
    /// Whether decoupled weight decay applies (every matrix that is not a norm or a bias).
    pub fn is_decayed(self) -> bool {
        self != ParamRole::Dense
    }
}

/// Split a visitor path into its components, ignoring empty ones (dfdx may produce `a..b` or a
/// trailing dot when a bare tensor is visited as a module).
pub fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('.').filter(|c| !c.is_empty())
}

/// The role of the parameter at `path` with dimensions `shape` (the rules in the module docs).
///
/// ```
/// use sparse_scaling::params::{role_of, ParamRole};
/// assert_eq!(role_of("blocks.0.attn.q.weight", &[64, 64]), ParamRole::Prunable);
/// assert_eq!(role_of("blocks.0.mlp.fc1.bias", &[256]), ParamRole::Dense);
/// assert_eq!(role_of("tok_embed.weight", &[256, 64]), ParamRole::Embedding);
/// assert_eq!(role_of("blocks.0.norm1.weight", &[64]), ParamRole::Dense);
/// assert_eq!(role_of("encoder.0.self_attn.rel_bias.weight", &[32, 4]), ParamRole::Dense);
/// assert_eq!(role_of("positions", &[17, 64]), ParamRole::Matrix);
/// assert!(ParamRole::Matrix.is_decayed() && !ParamRole::Dense.is_decayed());
/// ```
pub fn role_of(path: &str, shape: &[usize]) -> ParamRole {
    let lower = path.to_ascii_lowercase();
    if shape.len() < 2 || lower.contains("norm") || lower.contains("bias") {
        return ParamRole::Dense;
    }
    if shape.len() != 2
        || components(path).last() != Some("weight")
        || components(path).any(|c| NEVER_PRUNED_COMPONENTS.contains(&c))
    {
        return ParamRole::Matrix;
    }
    if components(path).any(|c| PRUNABLE_COMPONENTS.contains(&c)) {
        ParamRole::Prunable
    } else if components(path).any(|c| EMBEDDING_COMPONENTS.contains(&c)) {
        ParamRole::Embedding
    } else {
        ParamRole::Matrix
    }
}

/// Sparsity given to embeddings when the pruned layers are at `s`: 1 − √(1 − s) (docs/THEORY.md §4.3).
///
/// ```
/// let e = sparse_scaling::params::embedding_sparsity(0.75);
/// assert!((e - 0.5).abs() < 1e-12);
/// ```
pub fn embedding_sparsity(s: f64) -> f64 {
    1.0 - (1.0 - s).max(0.0).sqrt()
}
