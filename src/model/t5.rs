//! T5.1.1 encoder–decoder (Raffel et al. 2020; the "T5.1.1" changes: gated-GELU MLP, no bias
//! anywhere, untied output projection), the language model of the paper's C4 study (docs/THEORY.md §5:
//! pre-norm RMSNorm, bucketed relative position bias per layer stack, z-loss 1e-4, no dropout).
//!
//! * shared token embedding for encoder and decoder inputs (no scaling);
//! * encoder layers: `x + self_attn(RMS(x))`, `x + mlp(RMS(x))`; decoder layers add
//!   `x + cross_attn(RMS(x), encoder)` between them; each stack ends in an RMSNorm;
//! * attention without score scaling (folded into the initialisation of `q`), with a learned
//!   relative position bias computed once per stack and shared by its layers (bidirectional
//!   buckets in the encoder, causal in the decoder) plus a causal mask in the decoder and a
//!   key-padding mask wherever encoder PAD tokens are keys;
//! * gated-GELU MLP `wo(gelu_tanh(wi_0 x) ⊙ wi_1 x)` (tanh-approximate GELU, as T5.1.1);
//! * untied `lm_head` on the decoder output; loss = cross-entropy over non-PAD targets
//!   (teacher forcing: decoder input = targets shifted right, PAD as start token) plus
//!   `z_loss · logsumexp²` (Mesh TensorFlow's z-loss) averaged over the same tokens.
//!
//! Const parameters: `V` vocabulary, `D` width (= heads × head width), `F` MLP width, `H` heads,
//! `LE`/`LD` encoder/decoder layers, `NB` relative-position buckets (default 32). `H` and `NB`
//! are const because they shape the relative-bias table. Runtime ([`T5Config`]): relative
//! max distance, z-loss.

use dfdx::prelude::*;
use dfdx::tensor::CpuError;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::num_traits::Float;
use serde::{Deserialize, Serialize};

use super::attention::{Bias, RelativeBias, T5Attention, MASKED};
use super::layers::{
    count_targets, hand_over_tape, next_token_loss, normal_tensor, residual, Act, Embed, GatedMlp, LinearNoBias,
    RmsNorm, SelfAttentionLayer, T5Stack,
};
use super::{Family, Kernels, ModelError, ModelInfo, SparseModel, TextBatch, PAD};

/// Runtime configuration of a [`T5`]: the parts that do not shape a parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T5Config {
    /// Relative distance beyond which all offsets share the last bucket (T5: 128).
    #[serde(default = "default_max_distance")]
    pub relative_max_distance: usize,
    /// Weight of the z-loss `logsumexp(logits)²` (T5X / the paper: 1e-4; 0 disables it).
    #[serde(default = "default_z_loss")]
    pub z_loss: f32,
}

fn default_max_distance() -> usize {
    128
}

fn default_z_loss() -> f32 {
    1e-4
}

impl Default for T5Config {
    /// [`T5Config::t5_1_1`].
    fn default() -> Self {
        Self::t5_1_1()
    }
}

impl T5Config {
    /// T5.1.1 defaults (Raffel et al. 2020, `relative_attention_max_distance = 128`; z-loss 1e-4
    /// as in T5X and the paper, docs/THEORY.md §5).
    pub fn t5_1_1() -> Self {
        Self { relative_max_distance: default_max_distance(), z_loss: default_z_loss() }
    }

    /// Checks the config against the const sizes `D`, `H`, `NB`.
    pub fn validate<const D: usize, const H: usize, const NB: usize>(&self) -> Result<(), ModelError> {
        check_config::<D, H, NB>(self.relative_max_distance, self.z_loss)
    }
}

/// The checks of [`T5Config::validate`], which the decoder-only model's config shares: heads
/// divide the width, an even number of buckets ≥ 4, a max distance beyond the exact buckets,
/// a finite z-loss ≥ 0.
pub(super) fn check_config<const D: usize, const H: usize, const NB: usize>(
    relative_max_distance: usize,
    z_loss: f32,
) -> Result<(), ModelError> {
    if H == 0 || D % H != 0 {
        return Err(ModelError::InvalidConfig {
            field: "heads",
            value: H.to_string(),
            reason: format!("the number of heads must be ≥ 1 and divide the width {D}; change the type's H"),
        });
    }
    if NB < 4 || NB % 2 != 0 {
        return Err(ModelError::InvalidConfig {
            field: "relative buckets",
            value: NB.to_string(),
            reason: "use an even number of relative-position buckets ≥ 4 (T5: 32)".into(),
        });
    }
    if relative_max_distance <= NB / 2 {
        return Err(ModelError::InvalidConfig {
            field: "relative_max_distance",
            value: relative_max_distance.to_string(),
            reason: format!("must exceed half the number of buckets ({}); T5 uses 128", NB / 2),
        });
    }
    if !(z_loss.is_finite() && z_loss >= 0.0) {
        return Err(ModelError::InvalidConfig {
            field: "z_loss",
            value: z_loss.to_string(),
            reason: "the z-loss weight must be a finite number ≥ 0 (T5: 1e-4; 0 disables it)".into(),
        });
    }
    Ok(())
}

/// Decoder layer: causal self-attention, cross-attention, MLP, each pre-norm with a residual.
#[derive(Debug, Clone)]
pub struct DecoderLayer<const D: usize, const F: usize, E: Dtype = f32, Dev: Storage<E> = Cpu> {
    /// RMSNorm before self-attention.
    pub self_attn_norm: RmsNorm<D, E, Dev>,
    /// Causal self-attention.
    pub self_attn: T5Attention<D, E, Dev>,
    /// RMSNorm before cross-attention.
    pub cross_attn_norm: RmsNorm<D, E, Dev>,
    /// Attention over the encoder output.
    pub cross_attn: T5Attention<D, E, Dev>,
    /// RMSNorm before the MLP.
    pub mlp_norm: RmsNorm<D, E, Dev>,
    /// Gated-GELU MLP.
    pub mlp: GatedMlp<D, F, E, Dev>,
}

/// T5.1.1 (see the module docs for the parameters).
///
/// Parameter paths: `tok_embed.weight`; `encoder.rel_bias.table`,
/// `encoder.layers.{i}.self_attn_norm.gamma`, `encoder.layers.{i}.self_attn.{q,k,v,o}.weight`,
/// `encoder.layers.{i}.mlp_norm.gamma`, `encoder.layers.{i}.mlp.{wi_0,wi_1,wo}.weight`,
/// `encoder.final_norm.gamma`; the decoder likewise plus
/// `decoder.layers.{i}.cross_attn_norm.gamma` and `decoder.layers.{i}.cross_attn.{q,k,v,o}.weight`;
/// `lm_head.weight`.
#[derive(Debug, Clone)]
pub struct T5<
    const V: usize,
    const D: usize,
    const F: usize,
    const H: usize,
    const LE: usize,
    const LD: usize,
    const NB: usize = 32,
    E: Dtype = f32,
    Dev: Storage<E> = Cpu,
> {
    /// Shared token embedding.
    pub tok_embed: Embed<V, D, E, Dev>,
    /// Encoder stack.
    pub encoder: T5Stack<SelfAttentionLayer<D, F, E, Dev>, NB, H, LE, D, E, Dev>,
    /// Decoder stack.
    pub decoder: T5Stack<DecoderLayer<D, F, E, Dev>, NB, H, LD, D, E, Dev>,
    /// Untied output projection `D → V`.
    pub lm_head: LinearNoBias<D, V, E, Dev>,
    /// Runtime configuration. Models rebuilt by dfdx visitors (`to_device`, `to_dtype`) get
    /// `T5Config::default()`; set it again with [`T5::with_config`].
    pub config: T5Config,
    /// Kernels of the forward and backward passes (default [`Kernels::Fused`]).
    pub kernels: Kernels,
}

/// The `t5_cpu.py` reference shape: byte vocabulary 384, 4 heads, 4 + 4 layers, width `D`, MLP
/// `F` (the reference uses `F = 5·D/2`), 32 buckets.
pub type T5Ref<const D: usize, const F: usize> = T5<384, D, F, 4, 4, 4>;

/// T5.1.1-base (Raffel et al. 2020 / T5.1.1 checkpoints: width 768, MLP 2048, 12 heads,
/// 12 + 12 layers), the paper's base before width scaling, with vocabulary `V`.
pub type T5Base<const V: usize> = T5<V, 768, 2048, 12, 12, 12>;

// ---------- TensorCollection impls ----------

modules!(DecoderLayer<D, F> { self_attn_norm, self_attn, cross_attn_norm, cross_attn, mlp_norm, mlp });

impl<
        const V: usize,
        const D: usize,
        const F: usize,
        const H: usize,
        const LE: usize,
        const LD: usize,
        const NB: usize,
        E,
        Dev,
    > TensorCollection<E, Dev> for T5<V, D, F, H, LE, LD, NB, E, Dev>
where
    E: Dtype + Float + rand_distr::uniform::SampleUniform,
    Dev: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = T5<V, D, F, H, LE, LD, NB, E2, D2>;
    fn iter_tensors<W: ModuleVisitor<Self, E, Dev>>(visitor: &mut W) -> Result<Option<Self::To<W::E2, W::D2>>, W::Err> {
        visitor.visit_fields(
            (
                Self::module("tok_embed", |s| &s.tok_embed, |s| &mut s.tok_embed),
                Self::module("encoder", |s| &s.encoder, |s| &mut s.encoder),
                Self::module("decoder", |s| &s.decoder, |s| &mut s.decoder),
                Self::module("lm_head", |s| &s.lm_head, |s| &mut s.lm_head),
            ),
            |(tok_embed, encoder, decoder, lm_head)| T5 {
                tok_embed,
                encoder,
                decoder,
                lm_head,
                config: T5Config::default(),
                kernels: Kernels::default(),
            },
        )
    }
}

// ---------- forward ----------

impl<const D: usize, const F: usize> DecoderLayer<D, F> {
    fn new(dev: &Cpu, rng: &mut StdRng, heads: usize) -> Result<Self, CpuError> {
        Ok(Self {
            self_attn_norm: RmsNorm::new(dev)?,
            self_attn: T5Attention::new(dev, rng, heads)?,
            cross_attn_norm: RmsNorm::new(dev)?,
            cross_attn: T5Attention::new(dev, rng, heads)?,
            mlp_norm: RmsNorm::new(dev)?,
            mlp: GatedMlp::new(dev, rng)?,
        })
    }

    /// The layer on decoder states `(batch·to, D)` attending to `enc` `(batch·ti, D)`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<T: Tape<f32, Cpu>>(
        &self,
        x: Act<D, T>,
        enc: &Act<D, NoneTape>,
        batch: usize,
        to: usize,
        ti: usize,
        heads: usize,
        self_bias: Bias<'_>,
        cross_bias: Bias<'_>,
        k: Kernels,
    ) -> Result<Act<D, T>, CpuError> {
        let h = self.self_attn_norm.forward(x.retaped::<T>(), k)?;
        let a = self.self_attn.forward_self(h, batch, to, heads, self_bias, true, k)?;
        let x = residual(x, a, k)?;
        let h = self.cross_attn_norm.forward(x.retaped::<T>(), k)?;
        let c = self.cross_attn.forward(h, enc.retaped::<T>(), batch, to, ti, heads, cross_bias, false, k)?;
        let x = residual(x, c, k)?;
        let m = self.mlp.forward(self.mlp_norm.forward(x.retaped::<T>(), k)?, k)?;
        residual(x, m, k)
    }
}

impl<
        const V: usize,
        const D: usize,
        const F: usize,
        const H: usize,
        const LE: usize,
        const LD: usize,
        const NB: usize,
    > T5<V, D, F, H, LE, LD, NB>
{
    /// Builds a T5.1.1 with deterministic initialisation from `seed` (Mesh TensorFlow / HF
    /// `T5PreTrainedModel` scales: embedding N(0, 1), `lm_head` N(0, D^-½), `q` N(0, (D·d_head)^-½),
    /// `k`/`v`/`o` N(0, D^-½), `wi` N(0, D^-½), `wo` N(0, F^-½), relative bias N(0, D^-½),
    /// norms 1). Errors if the config does not fit the const sizes.
    pub fn new(dev: &Cpu, config: T5Config, seed: u64) -> Result<Self, ModelError> {
        config.validate::<D, H, NB>()?;
        if LE == 0 || LD == 0 || V < 3 {
            return Err(ModelError::InvalidConfig {
                field: "layers/vocab",
                value: format!("LE = {LE}, LD = {LD}, V = {V}"),
                reason: "T5 needs ≥ 1 encoder and decoder layer and a vocabulary with PAD, EOS and one more token"
                    .into(),
            });
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let dstd = (D as f32).powf(-0.5);
        let tok_embed = Embed { weight: normal_tensor(dev, &mut rng, 1.0)? };
        let mut enc = Vec::with_capacity(LE);
        for _ in 0..LE {
            enc.push(SelfAttentionLayer::new(dev, &mut rng, H)?);
        }
        let encoder = T5Stack {
            rel_bias: RelativeBias::new(dev, &mut rng, dstd)?,
            layers: Repeated { modules: enc },
            final_norm: RmsNorm::new(dev)?,
        };
        let mut dec = Vec::with_capacity(LD);
        for _ in 0..LD {
            dec.push(DecoderLayer::new(dev, &mut rng, H)?);
        }
        let decoder = T5Stack {
            rel_bias: RelativeBias::new(dev, &mut rng, dstd)?,
            layers: Repeated { modules: dec },
            final_norm: RmsNorm::new(dev)?,
        };
        let lm_head = LinearNoBias::new_normal(dev, &mut rng, dstd)?;
        Ok(Self { tok_embed, encoder, decoder, lm_head, config, kernels: Kernels::default() })
    }

    /// Replaces the runtime configuration (validated).
    pub fn with_config(mut self, config: T5Config) -> Result<Self, ModelError> {
        config.validate::<D, H, NB>()?;
        self.config = config;
        Ok(self)
    }

    /// Checks lengths and token ranges of a batch.
    pub fn check_batch(&self, b: &TextBatch) -> Result<(), ModelError> {
        let shape = |what: &'static str, expected: String, actual: usize, fix: &str| ModelError::BatchShape {
            what,
            expected,
            actual: actual.to_string(),
            fix: fix.into(),
        };
        if b.batch == 0 || b.input_len == 0 || b.target_len == 0 {
            return Err(shape(
                "batch/input_len/target_len",
                "all ≥ 1".into(),
                b.batch.min(b.input_len).min(b.target_len),
                "a text batch needs at least one sequence with at least one input and one target token",
            ));
        }
        if b.inputs.len() != b.batch * b.input_len {
            return Err(shape(
                "inputs.len()",
                format!("{} (batch·input_len)", b.batch * b.input_len),
                b.inputs.len(),
                "pad every input sequence to input_len",
            ));
        }
        if b.targets.len() != b.batch * b.target_len {
            return Err(shape(
                "targets.len()",
                format!("{} (batch·target_len)", b.batch * b.target_len),
                b.targets.len(),
                "pad every target sequence to target_len",
            ));
        }
        for (what, toks) in [("input token", &b.inputs), ("target token", &b.targets)] {
            if let Some((index, &value)) = toks.iter().enumerate().find(|(_, &t)| t as usize >= V) {
                return Err(ModelError::OutOfRange {
                    what,
                    value,
                    index,
                    limit: V,
                    fix: format!("the model's vocabulary has {V} ids; use a tokenizer with that vocabulary"),
                });
            }
        }
        Ok(())
    }

    /// Final decoder states `(batch·p.to, D)` of a prepared batch, recorded on `tape`.
    ///
    /// The relative biases are computed once per stack; their history is handed over to the
    /// main activations' tape and the layers read them through `retaped`.
    fn decoder_states<T: Tape<f32, Cpu>>(&self, p: &Prepared, tape: T) -> Result<Act<D, T>, ModelError> {
        let dev = self.lm_head.weight.device().clone();
        let (bsz, ti, to) = (p.bsz, p.ti, p.to);
        let k = self.kernels;
        let maxd = self.config.relative_max_distance;

        // Encoder.
        let idx = dev.try_tensor_from_vec(p.inputs.clone(), (bsz * ti,))?;
        let x = self.tok_embed.weight.clone().put_tape(tape).try_gather(idx)?;
        let rel = self.encoder.rel_bias.forward::<T>(&dev, ti, ti, true, maxd)?;
        // Rows with different padding need a per-row bias (relative bias + key-padding mask).
        let (enc_rel, enc_full, cross_full, mut x) = if p.pad_keys {
            let mask = key_padding_mask(&dev, &p.inputs, bsz, ti, ti)?;
            let full = rel
                .try_broadcast_like::<_, Axis<0>>(&(bsz, H, ti, ti))?
                .try_add(mask.try_broadcast_like::<_, Axis<1>>(&(bsz, H, ti, ti))?)?;
            let (f, x) = hand_over_tape(full, x);
            let cm = key_padding_mask(&dev, &p.inputs, bsz, to, ti)?;
            let cm = cm.try_broadcast_like::<_, Axis<1>>(&(bsz, H, to, ti))?;
            (None, Some(f), Some(cm), x)
        } else {
            let (r, x) = hand_over_tape(rel, x);
            (Some(r), None, None, x)
        };
        let enc_bias = match (&enc_rel, &enc_full) {
            (Some(r), _) => Bias::Shared(r),
            (None, Some(f)) => Bias::Full(f),
            (None, None) => Bias::None,
        };
        let cross_bias = cross_full.as_ref().map_or(Bias::None, Bias::Full);
        for layer in &self.encoder.layers.modules {
            x = layer.forward(x, bsz, ti, H, enc_bias, false, k)?;
        }
        let enc = self.encoder.final_norm.forward(x, k)?;

        // Decoder.
        let idx = dev.try_tensor_from_vec(p.dec_in.clone(), (bsz * to,))?;
        let y = self.tok_embed.weight.retaped::<T>().try_gather(idx)?;
        let (enc, y) = hand_over_tape(enc, y);
        let rel = self.decoder.rel_bias.forward::<T>(&dev, to, to, false, maxd)?;
        let (dec_rel, mut y) = hand_over_tape(rel, y);
        for layer in &self.decoder.layers.modules {
            y = layer.forward(y, &enc, bsz, to, ti, H, Bias::Shared(&dec_rel), cross_bias, k)?;
        }
        Ok(self.decoder.final_norm.forward(y, k)?)
    }

    /// Logits `(batch·target_len, V)` of the teacher-forced decoder, recorded on `tape`.
    pub fn logits<T: Tape<f32, Cpu>>(
        &self,
        b: &TextBatch,
        tape: T,
    ) -> Result<Tensor<(usize, Const<V>), f32, Cpu, T>, ModelError> {
        self.check_batch(b)?;
        let p = Prepared::new(b, false);
        let y = self.decoder_states(&p, tape)?;
        Ok(self.lm_head.forward(y, self.kernels)?)
    }

    /// Parameter counts `(total, prunable, embedding)` from the sizes.
    pub fn param_counts() -> (usize, usize, usize) {
        let enc_layer = 2 * D + 4 * D * D + 3 * D * F;
        let dec_layer = 3 * D + 8 * D * D + 3 * D * F;
        let embedding = 2 * V * D;
        let total = embedding + LE * enc_layer + LD * dec_layer + 2 * NB * H + 2 * D;
        let prunable = LE * (4 * D * D + 3 * D * F) + LD * (8 * D * D + 3 * D * F);
        (total, prunable, embedding)
    }
}

/// A batch reduced to what the model's outputs depend on. Exact, not an approximation:
/// * input positions that are PAD in every row at the end of the sequence are dropped (they are
///   masked keys everywhere, and their own outputs only feed masked positions);
/// * for the loss, target positions after the last non-PAD target of every row are dropped
///   (their targets are ignored and, the decoder being causal, they feed no earlier position).
struct Prepared {
    bsz: usize,
    /// Kept input length.
    ti: usize,
    /// `bsz × ti` input ids.
    inputs: Vec<usize>,
    /// Whether a kept input is PAD (then a key-padding mask is needed).
    pad_keys: bool,
    /// Kept decoder length.
    to: usize,
    /// `bsz × to` decoder input ids (targets shifted right, PAD first).
    dec_in: Vec<usize>,
}

impl Prepared {
    fn new(b: &TextBatch, trim_targets: bool) -> Self {
        let (bsz, ti0, to0) = (b.batch, b.input_len, b.target_len);
        let trailing = |row: &[u32]| row.iter().rev().take_while(|&&t| t == PAD).count();
        let common_pad = (0..bsz).map(|r| trailing(&b.inputs[r * ti0..(r + 1) * ti0])).min().unwrap_or(0);
        let ti = (ti0 - common_pad).max(1);
        let mut inputs = Vec::with_capacity(bsz * ti);
        for r in 0..bsz {
            inputs.extend(b.inputs[r * ti0..r * ti0 + ti].iter().map(|&t| t as usize));
        }
        let pad_keys = inputs.contains(&(PAD as usize));
        let to = if trim_targets {
            let last = (0..bsz).map(|r| to0 - trailing(&b.targets[r * to0..(r + 1) * to0])).max().unwrap_or(to0);
            last.max(1)
        } else {
            to0
        };
        let mut dec_in = Vec::with_capacity(bsz * to);
        for r in 0..bsz {
            dec_in.push(PAD as usize);
            dec_in.extend(b.targets[r * to0..r * to0 + to - 1].iter().map(|&t| t as usize));
        }
        Self { bsz, ti, inputs, pad_keys, to, dec_in }
    }
}

/// `(batch, tq, tk)` mask: `MASKED` where the key token is PAD, else 0.
fn key_padding_mask(
    dev: &Cpu,
    keys: &[usize],
    bsz: usize,
    tq: usize,
    tk: usize,
) -> Result<super::attention::Scores, CpuError> {
    let mut m = Vec::with_capacity(bsz * tq * tk);
    for r in 0..bsz {
        let row: Vec<f32> =
            keys[r * tk..(r + 1) * tk].iter().map(|&t| if t == PAD as usize { MASKED } else { 0.0 }).collect();
        for _ in 0..tq {
            m.extend_from_slice(&row);
        }
    }
    dev.try_tensor_from_vec(m, (bsz, tq, tk))
}

impl<
        const V: usize,
        const D: usize,
        const F: usize,
        const H: usize,
        const LE: usize,
        const LD: usize,
        const NB: usize,
    > SparseModel for T5<V, D, F, H, LE, LD, NB>
{
    type Batch = TextBatch;

    fn loss<T: Tape<f32, Cpu>>(&self, b: &TextBatch, tape: T) -> Result<Tensor<(), f32, Cpu, T>, ModelError> {
        self.check_batch(b)?;
        count_targets(&b.targets)?;
        let p = Prepared::new(b, true);
        let y = self.decoder_states(&p, tape)?;
        let (z, k) = (self.config.z_loss, self.kernels);
        Ok(next_token_loss(&self.lm_head, y, &b.targets, b.target_len, p.to, z, k)?)
    }

    fn info(&self) -> ModelInfo {
        let (total, prunable, embedding) = Self::param_counts();
        ModelInfo {
            family: Family::T5,
            width: D,
            mlp_width: F,
            heads: H,
            encoder_layers: LE,
            decoder_layers: LD,
            outputs: V,
            total_params: total,
            prunable_params: prunable,
            embedding_params: embedding,
        }
    }
}
