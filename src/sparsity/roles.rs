//! Parameter roles by path name (PAPER.md §4: "Pruned: every weight matrix of attention (q, k, v,
//! o) and MLP; not norms, not biases, not the relative-position bias"; embeddings and the output
//! projection optionally at 1 − √(1 − S), not counted in N).
//!
//! This is the naming contract between models and the pruner. A path is the dot-joined list of
//! field names dfdx's tensor visitor reports, e.g. `blocks.0.attn.q.weight`.
//!
//! - **Prunable**: rank 2, last component `weight`, and some component is exactly `attn`,
//!   `self_attn`, `cross_attn` or `mlp`.
//! - **Embedding**: otherwise, rank 2, last component `weight`, and some component is exactly
//!   `embed`, `tok_embed`, `patch_embed`, `lm_head` or `head`.
//! - **Dense**: everything else (norms, biases, positions, relative bias, class token): never pruned.
//!   A component exactly `rel_bias`, `relative_bias`, `relative_attention_bias` or `pos_embed`
//!   makes a parameter Dense whatever else its path says (T5's relative bias table is a rank-2
//!   `weight` inside `self_attn`).
//!
//! Weights are stored `(out, in)`: the input axis is the last, contiguous axis.

use serde::{Deserialize, Serialize};

/// Path components that make a rank-2 `weight` prunable.
pub const PRUNABLE_COMPONENTS: [&str; 4] = ["attn", "self_attn", "cross_attn", "mlp"];
/// Path components that make a rank-2 `weight` an embedding (or output projection).
pub const EMBEDDING_COMPONENTS: [&str; 5] = ["embed", "tok_embed", "patch_embed", "lm_head", "head"];

/// Path components that make a parameter Dense regardless of the rules above.
pub const DENSE_COMPONENTS: [&str; 4] = ["rel_bias", "relative_bias", "relative_attention_bias", "pos_embed"];

/// What the pruner does with a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ParamRole {
    /// An attention or MLP weight matrix: pruned to the schedule's sparsity, counted in N.
    Prunable,
    /// A token/patch embedding or output head: pruned at 1 − √(1 − S) only when configured;
    /// never counted in N.
    Embedding,
    /// Norms, biases, positions, relative-position bias: never pruned.
    Dense,
}

/// Split a visitor path into its components, ignoring empty ones (dfdx may produce `a..b` or a
/// trailing dot when a bare tensor is visited as a module).
pub fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('.').filter(|c| !c.is_empty())
}

/// The role of the parameter at `path` with dimensions `shape`.
///
/// ```
/// use sparse_scaling::sparsity::{role_of, ParamRole};
/// assert_eq!(role_of("blocks.0.attn.q.weight", &[64, 64]), ParamRole::Prunable);
/// assert_eq!(role_of("blocks.0.mlp.fc1.bias", &[256]), ParamRole::Dense);
/// assert_eq!(role_of("tok_embed.weight", &[256, 64]), ParamRole::Embedding);
/// assert_eq!(role_of("blocks.0.norm1.weight", &[64]), ParamRole::Dense);
/// assert_eq!(role_of("encoder.0.self_attn.rel_bias.weight", &[32, 4]), ParamRole::Dense);
/// ```
pub fn role_of(path: &str, shape: &[usize]) -> ParamRole {
    let last = components(path).last();
    if shape.len() != 2
        || last != Some("weight")
        || components(path).any(|c| DENSE_COMPONENTS.contains(&c))
    {
        return ParamRole::Dense;
    }
    if components(path).any(|c| PRUNABLE_COMPONENTS.contains(&c)) {
        ParamRole::Prunable
    } else if components(path).any(|c| EMBEDDING_COMPONENTS.contains(&c)) {
        ParamRole::Embedding
    } else {
        ParamRole::Dense
    }
}

/// Sparsity given to embeddings when the pruned layers are at `s`: 1 − √(1 − s) (PAPER.md §4).
///
/// ```
/// let e = sparse_scaling::sparsity::embedding_sparsity(0.75);
/// assert!((e - 0.5).abs() < 1e-12);
/// ```
pub fn embedding_sparsity(s: f64) -> f64 {
    1.0 - (1.0 - s).max(0.0).sqrt()
}
