//! How much memory a point needs while it trains: a lower bound, so that a point it rejects
//! cannot fit, and a machine-independent ceiling ([`MAX_POINT_BYTES`]) that validation
//! enforces everywhere (`check`, `plan`, `run` and `sweep!` at compile time).
//!
//! The estimate counts, in 4-byte floats (every tensor of a run is `f32`; token ids are `u32`):
//!
//! - **parameters**: the weights and their gradients, 2·P, where P counts the prunable matrices
//!   ([`crate::point::prunable_params`]) plus the embeddings and the output layer (norms and
//!   biases are left out), and one bit per prunable weight for the pruning mask;
//! - **optimizer state**: AdamW's two moments, 2·P; Adafactor's factored statistics (a row and a
//!   column per matrix) are negligible and not counted;
//! - **activations**: what one training step keeps for its backward pass, per example and
//!   block, for each of its T tokens: 8·d values of width d (norm input and output, q, k, v,
//!   attention output, residuals) and 2·f (GELU MLP) or 3·f (gated-GELU MLP) values of the MLP
//!   width f, plus the attention scores and probabilities, 2·h·T per token; a T5 decoder block
//!   adds its cross-attention; text models keep logits and their softmax, 2·V per target token;
//! - **data**: one training batch and the whole held-out validation set, which the runner keeps
//!   in memory (images as floats, token sequences as ids).
//!
//! Temporary buffers of the forward and backward pass, the allocator's slack and the program
//! itself come on top, so a real run needs more; `check` compares the estimate with the
//! machine's memory.

use crate::point::{prunable_params, PointSpec};
use crate::schema::{Family, Optimizer};

/// Bytes of an `f32` (and of a `u32` token id).
const FLOAT: f64 = 4.0;

/// The most memory one point may need, 2^50 bytes (1 PiB): no single machine has this much, and
/// under this bound every count a run computes (parameters, batch elements) fits comfortably in
/// the integers the code uses. Validation rejects points above it wherever they are checked;
/// `check` and `run` also compare each point with the memory of the machine they run on.
pub const MAX_POINT_BYTES: f64 = (1u64 << 50) as f64;

/// A lower bound on the memory a point needs while it trains, in bytes, by part (see the
/// module docs for what each part counts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryEstimate {
    /// Weights, their gradients and the pruning masks.
    pub parameters: f64,
    /// Optimizer state.
    pub optimizer: f64,
    /// Activations one training step keeps for the backward pass.
    pub activations: f64,
    /// One training batch and the validation set.
    pub data: f64,
}

/// The part of a [`MemoryEstimate`] that is largest, which says what to change to shrink it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryPart {
    /// Weights, gradients and masks.
    Parameters,
    /// Optimizer state.
    Optimizer,
    /// Activations of a training step.
    Activations,
    /// A training batch and the validation set.
    Data,
}

impl MemoryEstimate {
    /// The estimate for `spec`, computed in floating point (it cannot overflow, whatever the
    /// shape).
    pub fn of(spec: &PointSpec) -> MemoryEstimate {
        let d = spec.dims.width as f64;
        let f = spec.dims.mlp_width as f64;
        let l = spec.dims.depth as f64;
        let h = spec.dims.heads as f64;
        let b = spec.batch_size as f64;
        // saturates at u64::MAX, far above MAX_POINT_BYTES
        let prunable = prunable_params(spec.family, &spec.dims) as f64;
        // Per token of a block: 8 values of width d, and the MLP's.
        let block =
            |tokens: f64, mlp_values: f64, attended: f64| tokens * (8.0 * d + mlp_values * f + 2.0 * h * attended);
        let (extra_params, per_example, example_input) = match spec.family {
            Family::Vit => {
                let v = spec.vit.clone().unwrap_or_default();
                let side = v.image_size as f64 / v.patch_size.max(1) as f64;
                let patch_values = (v.patch_size * v.patch_size * v.channels) as f64;
                let t = side * side + 1.0;
                let params = patch_values * d + t * d + d * v.classes as f64;
                let pixels = (v.image_size * v.image_size * v.channels) as f64;
                (params, l * block(t, 2.0, t) + pixels + v.classes as f64, pixels)
            }
            Family::T5 => {
                let s = spec.t5.clone().unwrap_or_default();
                let (ti, tt, vocab) = (s.input_len as f64, s.target_len as f64, s.vocab as f64);
                let encoder = l * block(ti, 3.0, ti);
                // self-attention over the targets, then cross-attention over the inputs (4·d more)
                let decoder = l * (block(tt, 3.0, tt + ti) + tt * 4.0 * d);
                (2.0 * vocab * d, encoder + decoder + 2.0 * tt * vocab, ti + 2.0 * tt)
            }
            Family::Decoder => {
                let s = spec.decoder.clone().unwrap_or_default();
                let (t, vocab) = (s.seq_len as f64, s.vocab as f64);
                (2.0 * vocab * d, l * block(t, 3.0, t) + 2.0 * t * vocab, t + 1.0)
            }
        };
        let p = prunable + extra_params;
        let optimizer = match spec.optimizer {
            Optimizer::AdamW { .. } => 2.0 * p * FLOAT,
            Optimizer::Adafactor { .. } => 0.0,
        };
        MemoryEstimate {
            parameters: 2.0 * p * FLOAT + prunable / 8.0,
            optimizer,
            activations: b * per_example * FLOAT,
            data: (b + spec.val_examples as f64) * example_input * FLOAT,
        }
    }

    /// Total bytes.
    pub fn total(&self) -> f64 {
        self.parameters + self.optimizer + self.activations + self.data
    }

    /// The largest part.
    pub fn largest(&self) -> MemoryPart {
        let parts = [
            (self.parameters, MemoryPart::Parameters),
            (self.optimizer, MemoryPart::Optimizer),
            (self.activations, MemoryPart::Activations),
            (self.data, MemoryPart::Data),
        ];
        parts.into_iter().fold((f64::NEG_INFINITY, MemoryPart::Parameters), |m, x| if x.0 > m.0 { x } else { m }).1
    }

    /// The estimate in words: `3.1 GiB (parameters 1.0 MiB, optimizer state …, …)`.
    pub fn describe(&self) -> String {
        format!(
            "{} (parameters and gradients {}, optimizer state {}, activations {}, data {})",
            bytes(self.total()),
            bytes(self.parameters),
            bytes(self.optimizer),
            bytes(self.activations),
            bytes(self.data)
        )
    }

    /// How to make the point smaller, for the part that dominates.
    pub fn fix(&self) -> &'static str {
        match self.largest() {
            MemoryPart::Activations => {
                "lower `batch_size` (activations grow with it), or use a smaller model or shorter inputs"
            }
            MemoryPart::Data => "lower `validation.examples` (the validation set is held in memory) or `batch_size`",
            MemoryPart::Parameters | MemoryPart::Optimizer => {
                "use smaller `model.sizes`, a smaller `model.depth` or `model.mlp_ratio`, or a smaller vocabulary"
            }
        }
    }

    /// The experiment field to point at for the part that dominates.
    pub fn field(&self) -> &'static str {
        match self.largest() {
            MemoryPart::Activations => "batch_size",
            MemoryPart::Data => "validation.examples",
            MemoryPart::Parameters | MemoryPart::Optimizer => "model.sizes",
        }
    }
}

/// A byte count in binary units, e.g. `1.5 GiB`.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = b;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{x:.0} B")
    } else {
        format!("{x:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_units() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(MAX_POINT_BYTES), "1.0 PiB");
    }
}
