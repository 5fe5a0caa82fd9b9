//! Synthetic images for ViT: an infinite, seeded, never-repeating classification stream.
//!
//! The paper's ViT runs use JFT-4B, a stream so large that no image is seen twice
//! (docs/THEORY.md §5). This generator plays that role at small scale. Example `i` is a pure
//! function of `(seed, i)`, so streams seek in O(1) and never repeat (continuous noise on every
//! pixel).
//!
//! Structure at several scales, so that wider models and longer training keep improving:
//! - **coarse**: each class has a low-frequency colour signature (learned first);
//! - **mid**: each class has `modes_per_class` sub-types, each a layout of `parts_per_mode`
//!   textured blobs drawn from a texture bank *shared by all classes* (so which textures
//!   appear says little; where and together with what says the class);
//! - **long tail**: modes are Zipf-distributed within a class, so rare layouts need both data
//!   and capacity to be learned;
//! - **nuisance**: random shift, part jitter, contrast, brightness, distractor blobs, pixel
//!   noise;
//! - **irreducible**: a fraction `label_noise` of labels is replaced by a uniform random class.

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::rng::{hash_bytes, zipf_cdf, Rng};
use crate::stream::{ImageBatch, ImageShape, ImageStream};
use crate::synthetic::cursor::{Synthetic, SyntheticCursor};

const KIND: &str = "synthetic-image";
const DOMAIN_STRUCTURE: u64 = 0x5354_5255;
const DOMAIN_EXAMPLE: u64 = 0x4558_414d;
const DOMAIN_CALIB: u64 = 0x4341_4c49;

/// Configuration of [`SyntheticImages`]. All fields have defaults (see [`Default`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticImageConfig {
    /// Seed of the class structure and of the examples.
    pub seed: u64,
    /// Channels (1 or 3 typical).
    pub channels: usize,
    /// Height in pixels (≥ 4).
    pub height: usize,
    /// Width in pixels (≥ 4).
    pub width: usize,
    /// Number of classes (≥ 2).
    pub classes: usize,
    /// Sub-types per class (≥ 1); Zipf-distributed.
    pub modes_per_class: usize,
    /// Zipf exponent of the mode frequencies (0 = uniform).
    pub mode_zipf: f64,
    /// Textured blobs per mode (≥ 1).
    pub parts_per_mode: usize,
    /// Textures in the shared bank (≥ 1).
    pub textures: usize,
    /// Random distractor blobs per image.
    pub distractors: usize,
    /// Amplitude of the class colour signature relative to a part (0 disables it).
    pub signature_strength: f32,
    /// Std of i.i.d. pixel noise relative to a part's amplitude.
    pub noise_std: f32,
    /// Maximal global shift in pixels.
    pub max_shift: usize,
    /// Fraction of labels replaced by a uniformly random class (irreducible loss).
    pub label_noise: f64,
}

impl Default for SyntheticImageConfig {
    /// 1×28×28 images (patch 7 → 16 tokens of 49 values, a small CPU-sized ViT),
    /// 10 classes × 32 Zipf modes × 3 parts.
    fn default() -> Self {
        SyntheticImageConfig {
            seed: 0,
            channels: 1,
            height: 28,
            width: 28,
            classes: 10,
            modes_per_class: 32,
            mode_zipf: 1.0,
            parts_per_mode: 3,
            textures: 48,
            distractors: 2,
            signature_strength: 0.5,
            noise_std: 0.35,
            max_shift: 2,
            label_noise: 0.02,
        }
    }
}

impl SyntheticImageConfig {
    /// Checks every field's range; errors say which field and what to use.
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |field: &'static str, value: String, reason: &str| {
            Err(DataError::Config { field, value, reason: reason.to_string() })
        };
        if self.channels == 0 || self.channels > 16 {
            return bad("channels", self.channels.to_string(), "use 1..=16 (1 or 3 typical)");
        }
        if self.height < 4 || self.width < 4 || self.height > 1024 || self.width > 1024 {
            return bad("height/width", format!("{}x{}", self.height, self.width), "use 4..=1024 pixels per side");
        }
        if self.classes < 2 || self.classes > 1_000_000 {
            return bad("classes", self.classes.to_string(), "use at least 2 classes");
        }
        if self.modes_per_class == 0 {
            return bad("modes_per_class", "0".into(), "use at least 1");
        }
        if self.parts_per_mode == 0 {
            return bad("parts_per_mode", "0".into(), "use at least 1");
        }
        if self.textures == 0 {
            return bad("textures", "0".into(), "use at least 1");
        }
        if !(self.mode_zipf >= 0.0 && self.mode_zipf.is_finite()) {
            return bad("mode_zipf", self.mode_zipf.to_string(), "use a finite value >= 0");
        }
        if !(self.noise_std >= 0.0 && self.noise_std.is_finite()) {
            return bad("noise_std", self.noise_std.to_string(), "use a finite value >= 0");
        }
        if !(self.signature_strength >= 0.0 && self.signature_strength.is_finite()) {
            return bad("signature_strength", self.signature_strength.to_string(), "use a finite value >= 0");
        }
        if self.max_shift >= self.height.min(self.width) {
            return bad("max_shift", self.max_shift.to_string(), "must be below the image side");
        }
        if !(0.0..=1.0).contains(&self.label_noise) {
            return bad("label_noise", self.label_noise.to_string(), "must be in [0, 1]");
        }
        Ok(())
    }

    fn fingerprint(&self) -> u64 {
        // serde_json of a plain struct of numbers cannot fail.
        hash_bytes(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

/// One textured blob of a mode: texture id, integer centre, envelope scale, amplitude.
#[derive(Clone, Debug)]
struct Part {
    texture: usize,
    cy: i32,
    cx: i32,
    scale: usize,
    amp: f32,
}

/// The synthetic image stream. Cheap to clone; `Send`.
#[derive(Clone, Debug)]
pub struct SyntheticImages {
    cfg: SyntheticImageConfig,
    /// Padded texture grids: `textures × C × (H+2s) × (W+2s)`.
    textures: Vec<f32>,
    pad_h: usize,
    pad_w: usize,
    /// Gaussian envelopes per scale: `(2H) × (2W)` each, centred at (H, W).
    envelopes: Vec<Vec<f32>>,
    /// Class colour signatures: `classes × C × H × W` (low frequency).
    signatures: Vec<f32>,
    /// `classes × modes` lists of parts.
    modes: Vec<Vec<Part>>,
    mode_cdf: Vec<f64>,
    /// Per-channel normalisation.
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    cursor: SyntheticCursor,
}

impl SyntheticImages {
    /// Builds the class structure from the seed (a few ms) and calibrates normalisation.
    pub fn new(cfg: SyntheticImageConfig) -> Result<Self, DataError> {
        cfg.validate()?;
        let (c, h, w, s) = (cfg.channels, cfg.height, cfg.width, cfg.max_shift);
        let mut rng = Rng::new(&[cfg.seed, DOMAIN_STRUCTURE]);
        let (pad_h, pad_w) = (h + 2 * s, w + 2 * s);
        let side = h.min(w) as f32;

        // Texture bank: sums of two oriented plane waves at scales from coarse to near-Nyquist,
        // each with its own colour.
        let mut textures = vec![0.0f32; cfg.textures * c * pad_h * pad_w];
        for t in 0..cfg.textures {
            let mut comps = Vec::new();
            for _ in 0..2 {
                // cycles per image side: log-uniform in [0.75, side/3]
                let lo = 0.75f64.ln();
                let hi = ((side as f64) / 3.0).max(1.0).ln();
                let cycles = (lo + rng.uniform() * (hi - lo)).exp();
                let theta = rng.uniform() * std::f64::consts::PI;
                let k = std::f64::consts::TAU * cycles / side as f64;
                let (ky, kx) = (k * theta.sin(), k * theta.cos());
                let phase = rng.uniform() * std::f64::consts::TAU;
                let colour: Vec<f32> = (0..c).map(|_| rng.normal()).collect();
                comps.push((ky, kx, phase, colour));
            }
            let base = t * c * pad_h * pad_w;
            for y in 0..pad_h {
                for x in 0..pad_w {
                    for (ky, kx, phase, colour) in &comps {
                        let v = (ky * y as f64 + kx * x as f64 + phase).cos() as f32;
                        for ch in 0..c {
                            textures[base + (ch * pad_h + y) * pad_w + x] += v * colour[ch] * 0.7;
                        }
                    }
                }
            }
        }

        // Envelopes at three scales relative to the image side.
        let envelopes: Vec<Vec<f32>> = [0.12f32, 0.2, 0.32]
            .iter()
            .map(|&frac| {
                let sigma = (frac * side).max(0.8);
                let inv = 1.0 / (2.0 * sigma * sigma);
                let mut e = vec![0.0f32; 4 * h * w];
                for y in 0..2 * h {
                    for x in 0..2 * w {
                        let dy = y as f32 - h as f32;
                        let dx = x as f32 - w as f32;
                        e[y * 2 * w + x] = (-(dy * dy + dx * dx) * inv).exp();
                    }
                }
                e
            })
            .collect();

        // Class signatures: one very low-frequency wave per class.
        let mut signatures = vec![0.0f32; cfg.classes * c * h * w];
        for k in 0..cfg.classes {
            let theta = rng.uniform() * std::f64::consts::PI;
            let cycles = 0.25 + 0.5 * rng.uniform();
            let kk = std::f64::consts::TAU * cycles / side as f64;
            let phase = rng.uniform() * std::f64::consts::TAU;
            let colour: Vec<f32> = (0..c).map(|_| rng.normal()).collect();
            for y in 0..h {
                for x in 0..w {
                    let v = (kk * (theta.sin() * y as f64 + theta.cos() * x as f64) + phase).cos() as f32;
                    for ch in 0..c {
                        signatures[((k * c + ch) * h + y) * w + x] = v * colour[ch];
                    }
                }
            }
        }

        // Modes: layouts of parts.
        let mut modes = Vec::with_capacity(cfg.classes * cfg.modes_per_class);
        for _ in 0..cfg.classes * cfg.modes_per_class {
            let parts = (0..cfg.parts_per_mode)
                .map(|_| Part {
                    texture: rng.below(cfg.textures as u64) as usize,
                    cy: rng.below(h as u64) as i32,
                    cx: rng.below(w as u64) as i32,
                    scale: rng.below(3) as usize,
                    amp: (0.7 + 0.6 * rng.uniform_f32()) * if rng.below(2) == 0 { 1.0 } else { -1.0 },
                })
                .collect();
            modes.push(parts);
        }
        let mode_cdf = zipf_cdf(cfg.modes_per_class, cfg.mode_zipf);

        let mut this = SyntheticImages {
            cursor: SyntheticCursor::new(KIND, cfg.fingerprint()),
            cfg,
            textures,
            pad_h,
            pad_w,
            envelopes,
            signatures,
            modes,
            mode_cdf,
            mean: vec![0.0; c],
            inv_std: vec![1.0; c],
        };
        this.calibrate();
        Ok(this)
    }

    /// Per-channel mean/std from 256 examples of a calibration domain.
    fn calibrate(&mut self) {
        let (c, hw) = (self.cfg.channels, self.cfg.height * self.cfg.width);
        let mut buf = vec![0.0f32; c * hw];
        let mut sum = vec![0.0f64; c];
        let mut sq = vec![0.0f64; c];
        let n = 256;
        for i in 0..n {
            let mut rng = Rng::new(&[self.cfg.seed, DOMAIN_CALIB, i]);
            self.render_raw(&mut rng, &mut buf);
            for ch in 0..c {
                for &v in &buf[ch * hw..(ch + 1) * hw] {
                    sum[ch] += v as f64;
                    sq[ch] += (v as f64) * (v as f64);
                }
            }
        }
        let count = (n as usize * hw) as f64;
        for ch in 0..c {
            let m = sum[ch] / count;
            let var = (sq[ch] / count - m * m).max(1e-12);
            self.mean[ch] = m as f32;
            self.inv_std[ch] = (1.0 / var.sqrt()) as f32;
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SyntheticImageConfig {
        &self.cfg
    }

    /// Renders one unnormalised image into `out` (CHW) and returns its label.
    fn render_raw(&self, rng: &mut Rng, out: &mut [f32]) -> u32 {
        let cfg = &self.cfg;
        let (c, h, w, s) = (cfg.channels, cfg.height, cfg.width, cfg.max_shift as i64);
        let class = rng.below(cfg.classes as u64) as usize;
        let mode = rng.categorical_cdf(&self.mode_cdf);
        let dy = rng.below(2 * s as u64 + 1) as i64 - s;
        let dx = rng.below(2 * s as u64 + 1) as i64 - s;

        // Coarse class signature (shifted with clamping at the border).
        let sig = &self.signatures[class * c * h * w..(class + 1) * c * h * w];
        let strength = cfg.signature_strength * (0.6 + 0.8 * rng.uniform_f32());
        for ch in 0..c {
            for y in 0..h {
                let sy = (y as i64 - dy).clamp(0, h as i64 - 1) as usize;
                for x in 0..w {
                    let sx = (x as i64 - dx).clamp(0, w as i64 - 1) as usize;
                    out[(ch * h + y) * w + x] = strength * sig[(ch * h + sy) * w + sx];
                }
            }
        }

        let parts = &self.modes[class * cfg.modes_per_class + mode];
        for p in parts {
            let jy = rng.below(3) as i64 - 1;
            let jx = rng.below(3) as i64 - 1;
            let amp = p.amp * (0.8 + 0.4 * rng.uniform_f32());
            self.add_blob(out, p.texture, p.scale, p.cy as i64 + dy + jy, p.cx as i64 + dx + jx, dy, dx, amp);
        }
        for _ in 0..cfg.distractors {
            let t = rng.below(cfg.textures as u64) as usize;
            let scale = rng.below(3) as usize;
            let cy = rng.below(h as u64) as i64;
            let cx = rng.below(w as u64) as i64;
            let amp = 0.6 * rng.normal();
            self.add_blob(out, t, scale, cy, cx, dy, dx, amp);
        }

        // Contrast, per-channel brightness, pixel noise.
        let contrast = (0.25 * rng.normal()).exp();
        for ch in 0..c {
            let bright = 0.25 * rng.normal();
            for quad in out[ch * h * w..(ch + 1) * h * w].chunks_mut(4) {
                for (v, n) in quad.iter_mut().zip(rng.normal4()) {
                    *v = *v * contrast + bright + cfg.noise_std * n;
                }
            }
        }

        if cfg.label_noise > 0.0 && rng.uniform() < cfg.label_noise {
            rng.below(cfg.classes as u64) as u32
        } else {
            class as u32
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_blob(&self, out: &mut [f32], texture: usize, scale: usize, cy: i64, cx: i64, dy: i64, dx: i64, amp: f32) {
        let cfg = &self.cfg;
        let (c, h, w, s) = (cfg.channels, cfg.height, cfg.width, cfg.max_shift as i64);
        let env = &self.envelopes[scale];
        let tex = &self.textures[texture * c * self.pad_h * self.pad_w..];
        for y in 0..h {
            let ey = (y as i64 - cy + h as i64).clamp(0, 2 * h as i64 - 1) as usize;
            let ty = (y as i64 - dy + s) as usize;
            for x in 0..w {
                let ex = (x as i64 - cx + w as i64).clamp(0, 2 * w as i64 - 1) as usize;
                let e = amp * env[ey * 2 * w + ex];
                if e.abs() < 1e-3 {
                    continue;
                }
                let tx = (x as i64 - dx + s) as usize;
                for ch in 0..c {
                    out[(ch * h + y) * w + x] += e * tex[(ch * self.pad_h + ty) * self.pad_w + tx];
                }
            }
        }
    }

    /// Example number `index` (training indices are `< 2^63`): normalised CHW pixels and label.
    pub fn example(&self, index: u64, out: &mut [f32]) -> u32 {
        let mut rng = Rng::new(&[self.cfg.seed, DOMAIN_EXAMPLE, index]);
        let label = self.render_raw(&mut rng, out);
        let hw = self.cfg.height * self.cfg.width;
        for ch in 0..self.cfg.channels {
            let (m, is) = (self.mean[ch], self.inv_std[ch]);
            for v in out[ch * hw..(ch + 1) * hw].iter_mut() {
                *v = (*v - m) * is;
            }
        }
        label
    }
}

impl Synthetic for SyntheticImages {
    type Batch = ImageBatch;

    fn cursor(&self) -> &SyntheticCursor {
        &self.cursor
    }

    fn cursor_mut(&mut self) -> &mut SyntheticCursor {
        &mut self.cursor
    }

    fn batch_from(&self, start: u64, n: usize) -> ImageBatch {
        let cfg = &self.cfg;
        let len = cfg.channels * cfg.height * cfg.width;
        let mut pixels = vec![0.0f32; n * len];
        let mut labels = Vec::with_capacity(n);
        for (i, img) in pixels.chunks_mut(len).enumerate() {
            labels.push(self.example(start + i as u64, img));
        }
        ImageBatch { batch: n, channels: cfg.channels, height: cfg.height, width: cfg.width, pixels, labels }
    }
}

impl ImageStream for SyntheticImages {
    fn shape(&self) -> ImageShape {
        ImageShape {
            channels: self.cfg.channels,
            height: self.cfg.height,
            width: self.cfg.width,
            classes: self.cfg.classes,
        }
    }
}
