//! The experiment schema: what a `.ron` experiment file contains.
//!
//! Every struct denies unknown fields, so a typo is an error with its position rather than a
//! silently ignored setting. Every field except `name`, `model` and `steps` has a default; the
//! defaults follow the paper's recipe where it has one (GMP from 25 % to 75 % of training,
//! Frantar et al. 2024 §2 / Zhu & Gupta 2017; AdamW with warm-up and cosine decay, gradient
//! clipping at 1.0 — the generic recipe of the authors' code, docs/THEORY.md §5).
//!
//! A minimal file:
//!
//! ```
//! let exp = sparse_scaling_experiment::Experiment::from_ron_str(r#"(
//!     name: "tiny",
//!     model: (family: Vit, sizes: Widths([32, 64])),
//!     sparsity: [0.0, 0.5],
//!     steps: [100],
//! )"#).unwrap();
//! assert_eq!(exp.expand().unwrap().len(), 4);
//! ```

use serde::{Deserialize, Serialize};

pub use crate::pruning::{At, Pruning};

/// One experiment: a sweep over model size × sparsity × pruning method × training length ×
/// seed, the training recipe shared by all its points, and the analysis to run at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Name of the experiment (used in reports; not part of any point's hash, so that two
    /// experiments that share a point share its record).
    pub name: String,
    /// Free text shown by `check` and in reports.
    #[serde(default)]
    pub description: String,
    /// Model family, sizes and shape.
    pub model: Model,
    /// Sparsity levels S (fraction of zeros in every pruned layer), each in [0, 1).
    /// Default `[0.0]`.
    #[serde(default = "default_sparsity")]
    pub sparsity: Vec<f64>,
    /// Pruning methods to compare (an axis). Default `[Gmp()]`. A point at S = 0 is dense
    /// whatever the method; an n:m method only pairs with the sparsity level 1 − n/m.
    #[serde(default = "default_pruning")]
    pub pruning: Vec<Pruning>,
    /// Training lengths in optimizer steps (an axis).
    pub steps: Vec<u64>,
    /// How the axes combine into points. Default `Product`.
    #[serde(default)]
    pub axes: Axes,
    /// Optimizer. Default AdamW.
    #[serde(default)]
    pub optimizer: Optimizer,
    /// Learning-rate schedule and gradient clipping.
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Examples (images or sequences) per optimizer step. Default 32.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Training data. Default: the family's built-in synthetic stream.
    #[serde(default)]
    pub data: Data,
    /// Held-out validation set and how often to evaluate.
    #[serde(default)]
    pub validation: Validation,
    /// Seeds (an axis): each seeds model initialisation and the data stream. Default `[0]`.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Steps between checkpoints of a running point (not part of the hash: resuming is
    /// bit-identical). Default: a tenth of the point's steps, at least 1.
    #[serde(default)]
    pub checkpoint_every: Option<u64>,
    /// Fit and analysis to run once every point has a record. Default: none.
    #[serde(default)]
    pub analysis: Option<Analysis>,
}

fn default_sparsity() -> Vec<f64> {
    vec![0.0]
}
fn default_pruning() -> Vec<Pruning> {
    vec![Pruning::default()]
}
fn default_batch_size() -> usize {
    32
}
fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// Model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    /// Vision Transformer (classification on images).
    Vit,
    /// T5.1.1 encoder–decoder (span corruption on text).
    T5,
    /// Decoder-only language model (T5.1.1's layers, causal, next-token prediction on text;
    /// docs/THEORY.md §6).
    Decoder,
}

impl Family {
    /// Every family, in the order `check` and error messages list them.
    pub const ALL: [Family; 3] = [Family::Vit, Family::T5, Family::Decoder];

    /// The default unit of D in fits, as the authors normalise it (docs/THEORY.md §1): 1e9
    /// examples (ViT), 1e5 steps (T5); 1e6 tokens for the decoder.
    pub fn d_unit(self) -> f64 {
        match self {
            Family::Vit => 1e9,
            Family::T5 => 1e5,
            Family::Decoder => 1e6,
        }
    }

    /// Lower-case name (`vit`, `t5`, `decoder`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Vit => "vit",
            Family::T5 => "t5",
            Family::Decoder => "decoder",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses a lower-case family name, as the command line's `--family` takes it.
///
/// ```
/// use sparse_scaling_experiment::Family;
/// assert_eq!("t5".parse::<Family>(), Ok(Family::T5));
/// assert!("bert".parse::<Family>().unwrap_err().contains("vit, t5, decoder"));
/// ```
impl std::str::FromStr for Family {
    type Err = String;
    fn from_str(s: &str) -> Result<Family, String> {
        Family::ALL.into_iter().find(|f| f.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
            format!("unknown model family `{s}`: use one of {}", names.join(", "))
        })
    }
}

/// The model: family, the size axis and the shape shared by all sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// `Vit`, `T5` or `Decoder`.
    pub family: Family,
    /// The size axis.
    pub sizes: Sizes,
    /// Transformer blocks (T5: per stack, encoder and decoder each): one number (`depth: 4`)
    /// or a list that makes depth an axis (`depth: [2, 4, 6]`), crossed with the sizes under
    /// `Product` and `Derived` and paired element by element under `Zip`. Default 2.
    #[serde(default)]
    pub depth: Option<Depth>,
    /// Attention heads; must divide every width. Default 4.
    #[serde(default)]
    pub heads: Option<usize>,
    /// MLP hidden width / model width; `width × mlp_ratio` must be an integer.
    /// Default 4 (ViT) and 2.5 (T5.1.1's gated MLP, 2048/768 ≈ 2.67 rounded to keep small
    /// widths integral; the decoder uses the same gated MLP and default).
    #[serde(default)]
    pub mlp_ratio: Option<f64>,
    /// Widths derived from non-zero targets or tied to sparsity are rounded to a multiple of
    /// this. Default 16.
    #[serde(default)]
    pub width_multiple: Option<usize>,
    /// ViT input shape (only with `family: Vit`).
    #[serde(default)]
    pub vit: Option<VitShape>,
    /// T5 sequence shape (only with `family: T5`).
    #[serde(default)]
    pub t5: Option<T5Shape>,
    /// Decoder sequence shape (only with `family: Decoder`).
    #[serde(default)]
    pub decoder: Option<DecoderShape>,
}

/// Depth of a model: one number of blocks, or a list of them (an axis). Written as a plain
/// number or a list in a file; a single number keeps the form every earlier file has.
///
/// ```
/// use sparse_scaling_experiment::{Depth, Experiment};
/// let exp = Experiment::from_ron_str(r#"(
///     name: "deep", model: (family: Vit, sizes: Widths([32]), depth: [2, 4]), steps: [10],
/// )"#).unwrap();
/// assert_eq!(exp.model.depth, Some(Depth::Axis(vec![2, 4])));
/// assert_eq!(exp.model.depths(), vec![2, 4]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Depth {
    /// One depth for every point (`depth: 4`).
    One(usize),
    /// Depth as an axis (`depth: [2, 4, 6]`).
    Axis(Vec<usize>),
}

impl Depth {
    /// The depths, in the order written.
    pub fn values(&self) -> Vec<usize> {
        match self {
            Depth::One(d) => vec![*d],
            Depth::Axis(ds) => ds.clone(),
        }
    }
}

impl Serialize for Depth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Depth::One(d) => s.serialize_u64(*d as u64),
            Depth::Axis(ds) => ds.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Depth {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Depth, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Depth;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of blocks such as `4`, or a list of them such as `[2, 4, 6]`")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Depth, E> {
                usize::try_from(v).map(Depth::One).map_err(|_| E::custom(format!("depth {v} is too large")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Depth, E> {
                u64::try_from(v)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Depth, A::Error> {
                let mut out = Vec::new();
                while let Some(d) = seq.next_element::<usize>()? {
                    out.push(d);
                }
                Ok(Depth::Axis(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The size axis of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Sizes {
    /// Explicit model widths (d_model); with `axes: Derived`, the widths at S = 0.
    Widths(Vec<usize>),
    /// Target numbers of non-zero parameters N in the pruned layers. At sparsity S the model
    /// gets the total size N / (1 − S), as in the paper's T5 table (docs/THEORY.md §2): the width
    /// is the multiple of `width_multiple` whose dense prunable count is nearest to it.
    NonZero(Vec<f64>),
}

/// ViT input and head shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitShape {
    /// Side of the square input image in pixels. Default 16.
    #[serde(default = "d_image")]
    pub image_size: usize,
    /// Side of a square patch; must divide `image_size`. Default 4.
    #[serde(default = "d_patch")]
    pub patch_size: usize,
    /// Colour channels. Default 3.
    #[serde(default = "d_channels")]
    pub channels: usize,
    /// Number of classes. Default 10.
    #[serde(default = "d_classes")]
    pub classes: usize,
}
fn d_image() -> usize {
    16
}
fn d_patch() -> usize {
    4
}
fn d_channels() -> usize {
    3
}
fn d_classes() -> usize {
    10
}
impl Default for VitShape {
    fn default() -> Self {
        VitShape { image_size: d_image(), patch_size: d_patch(), channels: d_channels(), classes: d_classes() }
    }
}

/// T5 sequence shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T5Shape {
    /// Vocabulary size. Default 384 (the data crate's byte-level vocabulary: PAD, EOS, UNK,
    /// 256 bytes, sentinels).
    #[serde(default = "d_vocab")]
    pub vocab: usize,
    /// Encoder input length in tokens. Default 64.
    #[serde(default = "d_input_len")]
    pub input_len: usize,
    /// Decoder target length in tokens. Default 16.
    #[serde(default = "d_target_len")]
    pub target_len: usize,
}
fn d_vocab() -> usize {
    TEXT_VOCAB
}

/// Token ids the text data uses: the data crate's byte-level vocabulary (PAD, EOS, UNK, 256
/// bytes, span sentinels; `sparse_scaling_data::vocab::VOCAB_SIZE`). A T5's vocabulary must
/// hold them all.
pub const TEXT_VOCAB: usize = 384;
fn d_input_len() -> usize {
    64
}
fn d_target_len() -> usize {
    16
}
impl Default for T5Shape {
    fn default() -> Self {
        T5Shape { vocab: d_vocab(), input_len: d_input_len(), target_len: d_target_len() }
    }
}

/// Decoder-only language model shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderShape {
    /// Vocabulary size; at least [`TEXT_VOCAB`]. Default 384 (the data crate's byte-level
    /// vocabulary).
    #[serde(default = "d_vocab")]
    pub vocab: usize,
    /// Tokens per training sequence (the model predicts each next token). Default 64.
    #[serde(default = "d_input_len")]
    pub seq_len: usize,
}
impl Default for DecoderShape {
    fn default() -> Self {
        DecoderShape { vocab: d_vocab(), seq_len: d_input_len() }
    }
}

/// How the axes (depths, sizes, sparsity, steps; pruning and seeds are always crossed) combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Axes {
    /// Every depth × every size × every sparsity × every length.
    #[default]
    Product,
    /// The i-th size with the i-th sparsity, the i-th length and the i-th depth; lists must
    /// have equal lengths, a list of length 1 (or a single depth) is repeated.
    Zip,
    /// Full product, with the width tied to the sparsity so that N stays constant at each
    /// depth: the given widths are those at S = 0, and at sparsity S the width is w/√(1 − S)
    /// rounded to a multiple of `width_multiple` (the prunable count grows with width²).
    Derived,
}

/// Optimizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Optimizer {
    /// AdamW with decoupled weight decay.
    AdamW {
        /// Peak learning rate. Default 1e-3.
        #[serde(default = "d_lr")]
        lr: f64,
        /// Default 0.9.
        #[serde(default = "d_beta1")]
        beta1: f64,
        /// Default 0.999.
        #[serde(default = "d_beta2")]
        beta2: f64,
        /// Default 1e-8.
        #[serde(default = "d_eps")]
        eps: f64,
        /// Default 0.0.
        #[serde(default)]
        weight_decay: f64,
    },
    /// Adafactor-style RMS-scaled updates whose statistics count only non-zero weights
    /// (docs/THEORY.md §5).
    Adafactor {
        /// Multiplier of the rsqrt schedule: relative step ρ = scale / √max(step, warm-up).
        /// Default 1.0 (T5X).
        #[serde(default = "d_one")]
        scale: f64,
        /// Exponent of the second-moment decay β2_t = 1 − t^(−decay_exponent). Default 0.8.
        #[serde(default = "d_decay_exponent")]
        decay_exponent: f64,
        /// Update clipping threshold (RMS). Default 1.0.
        #[serde(default = "d_one")]
        clip_threshold: f64,
    },
}
fn d_lr() -> f64 {
    1e-3
}
fn d_beta1() -> f64 {
    0.9
}
fn d_beta2() -> f64 {
    0.999
}
fn d_eps() -> f64 {
    1e-8
}
fn d_decay_exponent() -> f64 {
    0.8
}
fn d_one() -> f64 {
    1.0
}
impl Default for Optimizer {
    fn default() -> Self {
        Optimizer::AdamW { lr: d_lr(), beta1: d_beta1(), beta2: d_beta2(), eps: d_eps(), weight_decay: 0.0 }
    }
}

/// Learning-rate schedule. AdamW: linear warm-up to `lr`, then cosine decay to
/// `min_lr_ratio × lr` at the last step (docs/THEORY.md §5, the authors' generic example).
/// Adafactor: the T5X rsqrt schedule, constant during warm-up, then ∝ 1/√step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrSchedule {
    /// Linear warm-up from 0 to the peak. Default `Fraction(0.05)`.
    #[serde(default = "d_warmup")]
    pub warmup: At,
    /// Final learning rate as a fraction of the peak (AdamW). Default 0.0.
    #[serde(default)]
    pub min_lr_ratio: f64,
    /// Clip the global gradient norm to this (none: no clipping). Default 1.0.
    #[serde(default = "d_clip")]
    pub grad_clip: Option<f64>,
}
fn d_warmup() -> At {
    At::Fraction(0.05)
}
fn d_clip() -> Option<f64> {
    Some(1.0)
}
impl Default for LrSchedule {
    fn default() -> Self {
        LrSchedule { warmup: d_warmup(), min_lr_ratio: 0.0, grad_clip: d_clip() }
    }
}

/// Training data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Data {
    /// The family's built-in infinite synthetic stream (images for ViT, text for T5 and the
    /// decoder),
    /// seeded by the point's seed.
    #[default]
    Synthetic,
    /// An image folder, one sub-folder per class (ViT); the number of sub-folders must equal
    /// `model.vit.classes`. Relative paths are relative to the experiment file.
    ImageFolder {
        /// Folder path.
        path: String,
        /// Filter for images whose size is not `model.vit.image_size` (`check` says which
        /// size it found). Default `Bilinear`.
        #[serde(default = "Resize::bilinear", skip_serializing_if = "Resize::is_bilinear")]
        resize: Resize,
    },
    /// CIFAR-10 binary batches (ViT): a file, or a folder of `*.bin` such as
    /// `cifar-10-batches-bin/`. The images are 32×32 RGB with 10 classes; they train at 32×32
    /// when `model.vit.image_size` is 32 (patch 4: 64 tokens), and are resized otherwise.
    CifarBinary {
        /// File or folder path.
        path: String,
        /// Filter that brings the 32×32 images to `model.vit.image_size` when it is another
        /// size (`check` states it). Default `Box` (block means, e.g. 32×32 → 16×16).
        #[serde(default = "Resize::box_filter", skip_serializing_if = "Resize::is_box")]
        resize: Resize,
    },
    /// C4-style JSON lines (`.jsonl` or `.jsonl.gz`, field `text`) with byte-level tokens (T5,
    /// decoder).
    JsonLines {
        /// File path.
        path: String,
    },
}

/// A resampling filter for images whose size is not the declared `image_size`. Each data
/// source has its own default (`Box` for CIFAR-10, `Bilinear` for image folders), and a
/// default filter is not written into a point's hash, so files without `resize` keep theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Resize {
    /// Area averaging: each pixel is the mean of the source area it covers (for an integer
    /// factor f, the mean of an f × f block).
    Box,
    /// Linear (triangle) filter, widened when shrinking.
    Bilinear,
    /// Nearest neighbour.
    Nearest,
}

impl Resize {
    fn bilinear() -> Resize {
        Resize::Bilinear
    }
    fn box_filter() -> Resize {
        Resize::Box
    }
    fn is_bilinear(&self) -> bool {
        *self == Resize::Bilinear
    }
    fn is_box(&self) -> bool {
        *self == Resize::Box
    }

    /// The filter's name as a file writes it (`Box`, `Bilinear`, `Nearest`).
    pub fn name(self) -> &'static str {
        match self {
            Resize::Box => "Box",
            Resize::Bilinear => "Bilinear",
            Resize::Nearest => "Nearest",
        }
    }
}

/// Validation set and evaluation frequency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Held-out examples. Default 256.
    #[serde(default = "d_val_examples")]
    pub examples: usize,
    /// Evaluate every this many steps (and at the end). Default: a tenth of the steps.
    #[serde(default)]
    pub every: Option<u64>,
}
fn d_val_examples() -> usize {
    256
}
impl Default for Validation {
    fn default() -> Self {
        Validation { examples: d_val_examples(), every: None }
    }
}

/// The fit and analysis to run after the last point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// A built-in law's name or a formula in S, N, D. Default `"paper-normalised"`: the
    /// paper's law in the authors' fitting form `(a·(1−S)^b + c)·N^(−d) + e·D^(−f) + g`
    /// (docs/THEORY.md §1).
    #[serde(default = "d_law")]
    pub law: String,
    /// Huber δ. Default 0.01 (ViT procedure, docs/THEORY.md §2).
    #[serde(default = "d_huber")]
    pub huber_delta: f64,
    /// Huber on log residuals (T5 procedure) instead of raw ones. Default false.
    #[serde(default)]
    pub log_residuals: bool,
    /// Random starts. Default 25.
    #[serde(default = "d_starts")]
    pub starts: usize,
    /// Seed of the starts and the bootstrap. Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Bootstrap resamples for confidence intervals (0: none). Default 0.
    #[serde(default)]
    pub bootstrap: usize,
    /// Constrain every coefficient to be ≥ 0 (the paper's law has positive coefficients; with
    /// few training lengths an unconstrained fit can trade a negative offset against a huge
    /// coefficient). Default true.
    #[serde(default = "d_true")]
    pub nonnegative: bool,
    /// Training cost C as an expression in S, N, D (normalised units). Default
    /// `"6*N/(1-S)*D"`: a sparse run costs what its dense parent costs (docs/THEORY.md §3).
    #[serde(default = "d_cost")]
    pub cost: String,
    /// N is divided by this before fitting. Default 1e6 (docs/THEORY.md §1).
    #[serde(default = "d_n_unit")]
    pub n_unit: f64,
    /// D is divided by this before fitting. D is examples seen for ViT (default unit 1e9) and
    /// optimizer steps for T5 (default unit 1e5), as in the authors' code (docs/THEORY.md §1);
    /// tokens seen for the decoder (default unit 1e6).
    #[serde(default)]
    pub d_unit: Option<f64>,
    /// Non-zero sizes N (normalised) at which to report S_opt. Default: the measured sizes.
    #[serde(default)]
    pub s_opt_sizes: Vec<f64>,
    /// Compute budgets C (normalised) at which to report S_opt. Default: the measured range.
    #[serde(default)]
    pub s_opt_budgets: Vec<f64>,
    /// N̄ (variable `Nbar`, the mean non-zero count over training) as an expression in S and N,
    /// for analysing a law or cost model that uses `Nbar` (such as the built-in `avg-params`).
    /// Default: derived from the records when their schedules make the mean density linear in S
    /// (polynomial and one-shot shapes at fractions of the run; the paper's cubic 25 %–75 %
    /// gives `N/(1-S)*(1-0.625*S)`), else that paper relation (docs/THEORY.md §7).
    #[serde(default)]
    pub nbar: Option<String>,
    /// Points to hold out of the fit: a condition over the measured points' S, N, D, Nbar (in
    /// the analysis's units) and `loss`, such as `"N > 50"` or `"S == 0.875"` (the grammar of
    /// `fit --holdout`). The law is fitted to the other points and analysed; the report marks
    /// the held-out points in `predicted_vs_measured.svg`, lists each with its prediction and
    /// relative error, and writes them to `holdout.json` (docs/THEORY.md §2.5). `report
    /// --holdout` overrides it. Default: none (every point is fitted).
    #[serde(default)]
    pub holdout: Option<String>,
}
fn d_true() -> bool {
    true
}
fn d_law() -> String {
    "paper-normalised".to_string()
}
fn d_huber() -> f64 {
    0.01
}
fn d_starts() -> usize {
    25
}
fn d_cost() -> String {
    "6*N/(1-S)*D".to_string()
}
fn d_n_unit() -> f64 {
    N_UNIT
}

/// The default unit of N in fits: the authors normalise N to millions (docs/THEORY.md §1).
pub const N_UNIT: f64 = 1e6;

impl Analysis {
    /// The unit D is divided by for `family`: the configured one, else 1e9 examples (ViT),
    /// 1e5 steps (T5) or 1e6 tokens (decoder).
    pub fn d_unit_for(&self, family: Family) -> f64 {
        self.d_unit.unwrap_or(family.d_unit())
    }
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            law: d_law(),
            huber_delta: d_huber(),
            log_residuals: false,
            starts: d_starts(),
            seed: 0,
            bootstrap: 0,
            nonnegative: true,
            cost: d_cost(),
            n_unit: d_n_unit(),
            d_unit: None,
            s_opt_sizes: Vec::new(),
            s_opt_budgets: Vec::new(),
            nbar: None,
            holdout: None,
        }
    }
}

impl Model {
    /// The depth axis with its default (`[2]`): one entry for a single depth.
    pub fn depths(&self) -> Vec<usize> {
        self.depth.as_ref().map_or(vec![2], Depth::values)
    }
    /// Heads with their default.
    pub fn heads(&self) -> usize {
        self.heads.unwrap_or(4)
    }
    /// MLP ratio with its family default.
    pub fn mlp_ratio(&self) -> f64 {
        self.mlp_ratio.unwrap_or(match self.family {
            Family::Vit => 4.0,
            Family::T5 | Family::Decoder => 2.5,
        })
    }
    /// Width multiple with its default.
    pub fn width_multiple(&self) -> usize {
        self.width_multiple.unwrap_or(16)
    }
}
