//! Sweep points: fully resolved training runs, and their stable content hash.
//!
//! # What the hash covers
//!
//! The hash of a point is the SHA-256 of the string `"sparse-scaling point v1\n"` followed by
//! the canonical JSON of its [`PointSpec`] — every setting that changes the numbers a run
//! produces: family, dimensions (width, MLP width, depth, heads), input shape, sparsity,
//! resolved pruning method with absolute schedule steps, training steps, batch size,
//! optimizer, resolved learning-rate schedule, data source, validation size and frequency,
//! and seed. Canonical JSON means object keys sorted, no whitespace, numbers as serde_json
//! writes them (shortest round-trip form for floats), so the hash depends only on values:
//! not on field order, comments, spacing or number spelling (`0.5` = `5e-1`) in the `.ron`.
//!
//! Not covered: the experiment's name and description, the point's index, the checkpoint
//! interval (resuming is bit-identical, so it cannot change results), and the analysis.
//! Two experiments that contain the same run therefore share its record.
//!
//! The hash is written as the first 16 hex digits (64 bits) of the digest.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pruning::PruningPlan;
use crate::schema::{Data, DecoderShape, Family, Optimizer, T5Shape, VitShape};

/// Version tag mixed into every hash; bump it when the meaning of a field changes.
pub const HASH_VERSION: &str = "sparse-scaling point v1";

/// Model dimensions of a point.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dims {
    /// d_model.
    pub width: usize,
    /// MLP hidden width.
    pub mlp_width: usize,
    /// Blocks (T5: per stack).
    pub depth: usize,
    /// Attention heads.
    pub heads: usize,
}

/// Learning-rate schedule of one point, warm-up resolved to steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointLr {
    /// Warm-up steps.
    pub warmup_steps: u64,
    /// Final lr / peak lr.
    pub min_lr_ratio: f64,
    /// Gradient-norm clip.
    pub grad_clip: Option<f64>,
}

/// Everything that determines a point's results; hashed (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointSpec {
    /// Model family.
    pub family: Family,
    /// Dimensions.
    pub dims: Dims,
    /// ViT input shape (ViT only).
    pub vit: Option<VitShape>,
    /// T5 sequence shape (T5 only).
    pub t5: Option<T5Shape>,
    /// Decoder sequence shape (decoder only). Absent from the serialised form when `None`,
    /// so that the hashes of ViT and T5 points are those they had before the decoder existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder: Option<DecoderShape>,
    /// Target sparsity of the pruned layers.
    pub sparsity: f64,
    /// Pruning method.
    pub pruning: PruningPlan,
    /// Optimizer steps.
    pub steps: u64,
    /// Examples per step.
    pub batch_size: usize,
    /// Optimizer.
    pub optimizer: Optimizer,
    /// Learning-rate schedule.
    pub lr: PointLr,
    /// Data source.
    pub data: Data,
    /// Validation examples.
    pub val_examples: usize,
    /// Evaluate every this many steps.
    pub val_every: u64,
    /// Seed of initialisation and data.
    pub seed: u64,
}

/// One point of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// Position in the experiment's expansion (what `--point i` and Slurm task i select).
    pub index: usize,
    /// Content hash of `spec` (16 hex digits).
    pub hash: String,
    /// The resolved run.
    pub spec: PointSpec,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Non-zero target this point was derived from (`Sizes::NonZero`), if any.
    pub target_nonzero: Option<f64>,
}

impl PointSpec {
    /// Canonical JSON (sorted keys, no whitespace): the hashed text after the version line.
    pub fn canonical_json(&self) -> String {
        // Serialising plain data structs to a JSON value cannot fail (no maps with
        // non-string keys, no failing Serialize impls); fall back to Null defensively.
        let v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let mut out = String::new();
        write_canonical(&v, &mut out);
        out
    }

    /// The content hash (see the module docs).
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(HASH_VERSION.as_bytes());
        h.update(b"\n");
        h.update(self.canonical_json().as_bytes());
        let digest = h.finalize();
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// Number of weights in the pruned layers of the dense model (attention q, k, v, o and
    /// MLP matrices; no embeddings, head, norms or biases — docs/THEORY.md §1, §4).
    pub fn prunable_params(&self) -> u64 {
        prunable_params(self.family, &self.dims)
    }

    /// N: non-zero weights in the pruned layers, (1 − S) × prunable, as planned. The
    /// record stores the count the trained model reports.
    pub fn nonzero_params(&self) -> f64 {
        self.prunable_params() as f64 * (1.0 - self.sparsity)
    }

    /// D in the family's unit: examples seen (ViT), optimizer steps (T5) or tokens seen
    /// (decoder: steps × batch × sequence length); for `FromDense`, only the sparse phase.
    pub fn data_seen(&self) -> f64 {
        match self.family {
            Family::Vit => self.steps as f64 * self.batch_size as f64,
            Family::T5 => self.steps as f64,
            Family::Decoder => {
                let seq_len = self.decoder.clone().unwrap_or_default().seq_len;
                self.steps as f64 * self.batch_size as f64 * seq_len as f64
            }
        }
    }
}

/// Prunable weights of a dense model: ViT `depth·(4d² + 2·d·f)`; T5.1.1 (gated MLP with
/// two input matrices) encoder `depth·(4d² + 3·d·f)` plus decoder `depth·(8d² + 3·d·f)`
/// (self- and cross-attention); the decoder-only model `depth·(4d² + 3·d·f)`.
/// Saturates at `u64::MAX` for shapes too large to count (validation rejects them, see
/// [`crate::memory::MAX_POINT_BYTES`]).
pub fn prunable_params(family: Family, dims: &Dims) -> u64 {
    let d = dims.width as u64;
    let f = dims.mlp_width as u64;
    let l = dims.depth as u64;
    // l·(a·d² + b·d·f), saturating
    let count = |a: u64, b: u64| {
        let dd = d.saturating_mul(d).saturating_mul(a);
        let df = d.saturating_mul(f).saturating_mul(b);
        l.saturating_mul(dd.saturating_add(df))
    };
    match family {
        Family::Vit => count(4, 2),
        Family::T5 => count(4, 3).saturating_add(count(8, 3)),
        Family::Decoder => count(4, 3),
    }
}

fn write_canonical(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&map[*k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
