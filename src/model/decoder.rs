//! Decoder-only Transformer language model: the T5.1.1 decoder stack without cross-attention,
//! trained by next-token prediction, as the paper authors' decoder-only network (t5x
//! `decoder_only_network.py`, `configs/decoder_base_c4_pretrain.gin`; docs/THEORY.md §6), built
//! from the T5.1.1 blocks of docs/THEORY.md §5.1 that [`super::T5`] uses too:
//!
//! * token embedding (no scaling), then `L` layers `x + self_attn(RMS(x))`, `x + mlp(RMS(x))`
//!   ([`SelfAttentionLayer`]) and a final RMSNorm ([`T5Stack`]);
//! * causal self-attention without score scaling (folded into the initialisation of `q`), with
//!   a learned relative position bias over causal buckets, computed once and shared by the
//!   layers;
//! * gated-GELU MLP `wo(gelu_tanh(wi_0 x) ⊙ wi_1 x)`;
//! * untied `lm_head` (the network's untied projection; the authors' base config instead
//!   computes logits through the embedding, `logits_via_embedding = True`);
//! * loss: cross-entropy of every non-PAD token given the tokens before it (input = the row
//!   shifted right, PAD as start token, as in T5's decoder) plus `z_loss · logsumexp²`,
//!   averaged over those tokens; no dropout.
//!
//! Batches are [`LmBatch`]es; D counts tokens, `batch × length` per step
//! ([`crate::train::DataUnits`]).
//!
//! Const parameters: `V` vocabulary, `D` width (= heads × head width), `F` MLP width, `H`
//! heads, `L` layers, `NB` relative-position buckets (default 32). Runtime
//! ([`DecoderConfig`]): relative max distance, z-loss.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::num_traits::Float;
use serde::{Deserialize, Serialize};

use super::attention::{Bias, RelativeBias};
use super::layers::{
    count_targets, hand_over_tape, next_token_loss, normal_tensor, Act, Embed, LinearNoBias, RmsNorm,
    SelfAttentionLayer, T5Stack,
};
use super::t5::check_config;
use super::{Family, Kernels, LmBatch, ModelError, ModelInfo, SparseModel, PAD};

/// Runtime configuration of a [`Decoder`]: the parts that do not shape a parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderConfig {
    /// Relative distance beyond which all offsets share the last bucket (t5x: 128).
    #[serde(default = "default_max_distance")]
    pub relative_max_distance: usize,
    /// Weight of the z-loss `logsumexp(logits)²` (t5x / the paper: 1e-4; 0 disables it).
    #[serde(default = "default_z_loss")]
    pub z_loss: f32,
}

fn default_max_distance() -> usize {
    128
}

fn default_z_loss() -> f32 {
    1e-4
}

impl Default for DecoderConfig {
    /// [`DecoderConfig::t5x_decoder_only`].
    fn default() -> Self {
        Self::t5x_decoder_only()
    }
}

impl DecoderConfig {
    /// The authors' decoder-only settings (t5x `decoder_only_network.py` with
    /// `configs/decoder_base_c4_pretrain.gin`, docs/THEORY.md §6): relative attention max
    /// distance 128 (with 32 buckets, the type's default `NB`), z-loss 1e-4.
    pub fn t5x_decoder_only() -> Self {
        Self { relative_max_distance: default_max_distance(), z_loss: default_z_loss() }
    }

    /// Checks the config against the const sizes `D`, `H`, `NB` (the checks of
    /// [`super::T5Config::validate`]).
    pub fn validate<const D: usize, const H: usize, const NB: usize>(&self) -> Result<(), ModelError> {
        check_config::<D, H, NB>(self.relative_max_distance, self.z_loss)
    }
}

/// Decoder-only language model (see the module docs for the parameters).
///
/// Parameter paths: `tok_embed.weight`; `decoder.rel_bias.table`,
/// `decoder.layers.{i}.self_attn_norm.gamma`, `decoder.layers.{i}.self_attn.{q,k,v,o}.weight`,
/// `decoder.layers.{i}.mlp_norm.gamma`, `decoder.layers.{i}.mlp.{wi_0,wi_1,wo}.weight`,
/// `decoder.final_norm.gamma`; `lm_head.weight`.
#[derive(Debug, Clone)]
pub struct Decoder<
    const V: usize,
    const D: usize,
    const F: usize,
    const H: usize,
    const L: usize,
    const NB: usize = 32,
    E: Dtype = f32,
    Dev: Storage<E> = Cpu,
> {
    /// Token embedding.
    pub tok_embed: Embed<V, D, E, Dev>,
    /// The layers with their shared relative position bias and the final RMSNorm.
    pub decoder: T5Stack<SelfAttentionLayer<D, F, E, Dev>, NB, H, L, D, E, Dev>,
    /// Untied output projection `D → V`.
    pub lm_head: LinearNoBias<D, V, E, Dev>,
    /// Runtime configuration. Models rebuilt by dfdx visitors (`to_device`, `to_dtype`) get
    /// `DecoderConfig::default()`; set it again with [`Decoder::with_config`].
    pub config: DecoderConfig,
    /// Kernels of the forward and backward passes (default [`Kernels::Fused`]).
    pub kernels: Kernels,
}

impl<const V: usize, const D: usize, const F: usize, const H: usize, const L: usize, const NB: usize, E, Dev>
    TensorCollection<E, Dev> for Decoder<V, D, F, H, L, NB, E, Dev>
where
    E: Dtype + Float + rand_distr::uniform::SampleUniform,
    Dev: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = Decoder<V, D, F, H, L, NB, E2, D2>;
    fn iter_tensors<W: ModuleVisitor<Self, E, Dev>>(visitor: &mut W) -> Result<Option<Self::To<W::E2, W::D2>>, W::Err> {
        visitor.visit_fields(
            (
                Self::module("tok_embed", |s| &s.tok_embed, |s| &mut s.tok_embed),
                Self::module("decoder", |s| &s.decoder, |s| &mut s.decoder),
                Self::module("lm_head", |s| &s.lm_head, |s| &mut s.lm_head),
            ),
            |(tok_embed, decoder, lm_head)| Decoder {
                tok_embed,
                decoder,
                lm_head,
                config: DecoderConfig::default(),
                kernels: Kernels::default(),
            },
        )
    }
}

impl<const V: usize, const D: usize, const F: usize, const H: usize, const L: usize, const NB: usize>
    Decoder<V, D, F, H, L, NB>
{
    /// Builds the model with deterministic initialisation from `seed` (the T5 scales of
    /// [`super::T5::new`]: embedding N(0, 1), `lm_head` N(0, D^-½), `q` N(0, (D·d_head)^-½),
    /// `k`/`v`/`o` N(0, D^-½), `wi` N(0, D^-½), `wo` N(0, F^-½), relative bias N(0, D^-½),
    /// norms 1). Errors if the config does not fit the const sizes.
    pub fn new(dev: &Cpu, config: DecoderConfig, seed: u64) -> Result<Self, ModelError> {
        config.validate::<D, H, NB>()?;
        if L == 0 || V < 2 {
            return Err(ModelError::InvalidConfig {
                field: "layers/vocab",
                value: format!("L = {L}, V = {V}"),
                reason: "the decoder needs ≥ 1 layer and a vocabulary with PAD and at least one more token".into(),
            });
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let dstd = (D as f32).powf(-0.5);
        let tok_embed = Embed { weight: normal_tensor(dev, &mut rng, 1.0)? };
        let mut layers = Vec::with_capacity(L);
        for _ in 0..L {
            layers.push(SelfAttentionLayer::new(dev, &mut rng, H)?);
        }
        let decoder = T5Stack {
            rel_bias: RelativeBias::new(dev, &mut rng, dstd)?,
            layers: Repeated { modules: layers },
            final_norm: RmsNorm::new(dev)?,
        };
        let lm_head = LinearNoBias::new_normal(dev, &mut rng, dstd)?;
        Ok(Self { tok_embed, decoder, lm_head, config, kernels: Kernels::default() })
    }

    /// Replaces the runtime configuration (validated).
    pub fn with_config(mut self, config: DecoderConfig) -> Result<Self, ModelError> {
        config.validate::<D, H, NB>()?;
        self.config = config;
        Ok(self)
    }

    /// Checks the shape and the token range of a batch.
    pub fn check_batch(&self, b: &LmBatch) -> Result<(), ModelError> {
        if b.batch == 0 || b.len == 0 {
            return Err(ModelError::BatchShape {
                what: "batch/len",
                expected: "both ≥ 1".into(),
                actual: b.batch.min(b.len).to_string(),
                fix: "a batch needs at least one row of at least one token".into(),
            });
        }
        if b.tokens.len() != b.batch * b.len {
            return Err(ModelError::BatchShape {
                what: "tokens.len()",
                expected: format!("{} (batch·len)", b.batch * b.len),
                actual: b.tokens.len().to_string(),
                fix: "pad every row to len".into(),
            });
        }
        if let Some((index, &value)) = b.tokens.iter().enumerate().find(|(_, &t)| t as usize >= V) {
            return Err(ModelError::OutOfRange {
                what: "token",
                value,
                index,
                limit: V,
                fix: format!("the model's vocabulary has {V} ids; use a tokenizer with that vocabulary"),
            });
        }
        Ok(())
    }

    /// Final states `(batch·t, D)` of the first `t` positions of every row, recorded on `tape`.
    ///
    /// The input at position `i` is token `i − 1` of its row (PAD at 0). The relative bias is
    /// computed once; its history is handed over to the main activations' tape and the layers
    /// read it through `retaped`.
    fn states<T: Tape<f32, Cpu>>(&self, b: &LmBatch, t: usize, tape: T) -> Result<Act<D, T>, ModelError> {
        let dev = self.lm_head.weight.device().clone();
        let k = self.kernels;
        let mut inputs = Vec::with_capacity(b.batch * t);
        for r in 0..b.batch {
            inputs.push(PAD as usize);
            inputs.extend(b.row(r)[..t - 1].iter().map(|&x| x as usize));
        }
        let idx = dev.try_tensor_from_vec(inputs, (b.batch * t,))?;
        let x = self.tok_embed.weight.clone().put_tape(tape).try_gather(idx)?;
        let rel = self.decoder.rel_bias.forward::<T>(&dev, t, t, false, self.config.relative_max_distance)?;
        let (rel, mut x) = hand_over_tape(rel, x);
        for layer in &self.decoder.layers.modules {
            x = layer.forward(x, b.batch, t, H, Bias::Shared(&rel), true, k)?;
        }
        Ok(self.decoder.final_norm.forward(x, k)?)
    }

    /// Logits `(batch·len, V)`: row `r·len + i` predicts token `i` of row `r` from the tokens
    /// before it. Recorded on `tape`.
    pub fn logits<T: Tape<f32, Cpu>>(
        &self,
        b: &LmBatch,
        tape: T,
    ) -> Result<Tensor<(usize, Const<V>), f32, Cpu, T>, ModelError> {
        self.check_batch(b)?;
        let y = self.states(b, b.len, tape)?;
        Ok(self.lm_head.forward(y, self.kernels)?)
    }

    /// Parameter counts `(total, prunable, embedding)` from the sizes: prunable
    /// `L·(4D² + 3·D·F)` (attention q, k, v, o and the three MLP matrices), embedding `2·V·D`
    /// (token embedding and `lm_head`).
    pub fn param_counts() -> (usize, usize, usize) {
        let layer = 2 * D + 4 * D * D + 3 * D * F;
        let embedding = 2 * V * D;
        let total = embedding + L * layer + NB * H + D;
        (total, L * (4 * D * D + 3 * D * F), embedding)
    }
}

impl<const V: usize, const D: usize, const F: usize, const H: usize, const L: usize, const NB: usize> SparseModel
    for Decoder<V, D, F, H, L, NB>
{
    type Batch = LmBatch;

    /// Positions after the last non-PAD token of every row are dropped before the forward
    /// pass: exact, as their targets are ignored and, the model being causal, they feed no
    /// earlier position.
    fn loss<T: Tape<f32, Cpu>>(&self, b: &LmBatch, tape: T) -> Result<Tensor<(), f32, Cpu, T>, ModelError> {
        self.check_batch(b)?;
        count_targets(&b.tokens)?;
        let kept = (0..b.batch)
            .map(|r| b.len - b.row(r).iter().rev().take_while(|&&x| x == PAD).count())
            .max()
            .unwrap_or(b.len)
            .max(1);
        let y = self.states(b, kept, tape)?;
        let (z, k) = (self.config.z_loss, self.kernels);
        Ok(next_token_loss(&self.lm_head, y, &b.tokens, b.len, kept, z, k)?)
    }

    fn info(&self) -> ModelInfo {
        let (total, prunable, embedding) = Self::param_counts();
        ModelInfo {
            family: Family::Decoder,
            width: D,
            mlp_width: F,
            heads: H,
            encoder_layers: 0,
            decoder_layers: L,
            outputs: V,
            total_params: total,
            prunable_params: prunable,
            embedding_params: embedding,
        }
    }
}
