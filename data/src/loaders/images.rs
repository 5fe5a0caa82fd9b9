//! Images in memory ([`ImageDataset`], from [`load_image_folder`](crate::load_image_folder) or
//! [`load_cifar10`](crate::load_cifar10)) served as a shuffled, epoch-wrapping, resumable
//! [`ImageStream`] with a held-out validation split ([`ImageDataStream`]).
//!
//! The paper's ViT runs read JFT-4B (docs/THEORY.md §5); these loaders let the same training
//! code run on whatever images a user has. Pixels are kept as bytes and normalised per channel
//! with the mean and std of the training split.

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::loaders::epochs::{Epochs, Loader, Names};
use crate::loaders::resize::{resize_chw, Resize};
use crate::rng::{hash_bytes, mix};
use crate::stream::{check_batch_size, ImageBatch, ImageShape, ImageStream, Stream, StreamPosition};

static LOADER: Loader = Loader {
    kind: "image-dataset",
    split_domain: 0x5350_4c49,
    shuffle_domain: 0x5348_5546,
    sort_held_out: false,
    names: Names { dataset: "the image dataset", items: "images", typical_fraction: "0.05" },
};

/// Images in memory: `len × C × H × W` bytes (CHW per image) and one label each.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageDataset {
    /// Shape and number of classes.
    pub shape: ImageShape,
    /// Pixel bytes, CHW per image, images one after another.
    pub pixels: Vec<u8>,
    /// Labels, `0..shape.classes`.
    pub labels: Vec<u32>,
    /// Class names, index = label.
    pub class_names: Vec<String>,
    /// How many of the images were resized on the way in (their size differed from
    /// `shape`'s); 0 when every image was read at its own size.
    pub resized: usize,
}

impl ImageDataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes of image `i` (CHW).
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.shape.channels * self.shape.height * self.shape.width;
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Every image resized to `height × width` with `filter` ([`Resize`]); the same size is
    /// returned unchanged. Images that change size are counted in `resized`. A zero side is
    /// an error.
    pub fn resize(mut self, height: usize, width: usize, filter: Resize) -> Result<Self, DataError> {
        let sh = self.shape;
        if (sh.height, sh.width) == (height, width) {
            return Ok(self);
        }
        for (field, v) in [("height", height), ("width", width)] {
            if v == 0 {
                return Err(DataError::Config {
                    field,
                    value: "0".into(),
                    reason: "resize images to at least 1×1 pixels".into(),
                });
            }
        }
        let n = self.len();
        let mut out = Vec::with_capacity(n * sh.channels * height * width);
        for i in 0..n {
            out.extend(resize_chw(self.image(i), sh.channels, (sh.height, sh.width), (height, width), filter));
        }
        self.pixels = out;
        self.shape.height = height;
        self.shape.width = width;
        self.resized = n;
        Ok(self)
    }
}

/// Splitting and shuffling of an [`ImageDataset`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageDataConfig {
    /// Seed of the split and the per-epoch shuffles.
    pub seed: u64,
    /// Fraction of images held out for validation (rounded; at least 1 if > 0).
    pub validation_fraction: f64,
}

impl Default for ImageDataConfig {
    /// Seed 0, 5% held out.
    fn default() -> Self {
        ImageDataConfig { seed: 0, validation_fraction: 0.05 }
    }
}

/// A finite image dataset as an infinite stream: a seeded held-out split, then the training
/// images in a new seeded order every epoch.
#[derive(Clone, Debug)]
pub struct ImageDataStream {
    data: ImageDataset,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    epochs: Epochs,
}

impl ImageDataStream {
    /// Splits and prepares the stream. Errors if the split leaves no training images.
    pub fn new(data: ImageDataset, cfg: ImageDataConfig) -> Result<Self, DataError> {
        let (c, hw) = (data.shape.channels, data.shape.height * data.shape.width);
        let mut words = vec![
            cfg.seed,
            cfg.validation_fraction.to_bits(),
            data.len() as u64,
            c as u64,
            data.shape.height as u64,
            data.shape.width as u64,
            data.shape.classes as u64,
            hash_bytes(&data.pixels),
        ];
        words.extend(data.labels.iter().map(|&l| l as u64));
        let epochs = Epochs::new(&LOADER, data.len(), cfg.seed, cfg.validation_fraction, mix(&words))?;
        let (mut sum, mut sq) = (vec![0f64; c], vec![0f64; c]);
        for &i in epochs.train() {
            let img = data.image(i);
            for ch in 0..c {
                for &v in &img[ch * hw..(ch + 1) * hw] {
                    let v = v as f64 / 255.0;
                    sum[ch] += v;
                    sq[ch] += v * v;
                }
            }
        }
        let count = (epochs.train().len() * hw) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
        let inv_std: Vec<f32> = (0..c)
            .map(|ch| {
                let m = sum[ch] / count;
                (1.0 / (sq[ch] / count - m * m).max(1e-6).sqrt()) as f32
            })
            .collect();
        Ok(ImageDataStream { data, mean, inv_std, epochs })
    }

    /// Number of training images (one epoch).
    pub fn train_len(&self) -> usize {
        self.epochs.train().len()
    }

    /// Number of held-out images.
    pub fn validation_len(&self) -> usize {
        self.epochs.valid().len()
    }

    /// The underlying dataset.
    pub fn dataset(&self) -> &ImageDataset {
        &self.data
    }

    /// Dataset indices of the held-out images.
    pub fn validation_indices(&self) -> &[usize] {
        self.epochs.valid()
    }

    fn batch_of(&self, idx: &[usize]) -> ImageBatch {
        let s = self.data.shape;
        let hw = s.height * s.width;
        let mut pixels = Vec::with_capacity(idx.len() * s.channels * hw);
        for &i in idx {
            let img = self.data.image(i);
            for ch in 0..s.channels {
                let (m, is) = (self.mean[ch], self.inv_std[ch]);
                pixels.extend(img[ch * hw..(ch + 1) * hw].iter().map(|&v| (v as f32 / 255.0 - m) * is));
            }
        }
        ImageBatch {
            batch: idx.len(),
            channels: s.channels,
            height: s.height,
            width: s.width,
            pixels,
            labels: idx.iter().map(|&i| self.data.labels[i]).collect(),
        }
    }
}

impl Stream for ImageDataStream {
    type Batch = ImageBatch;

    fn next_batch(&mut self, batch_size: usize) -> Result<ImageBatch, DataError> {
        check_batch_size(batch_size)?;
        let idx: Vec<usize> = (0..batch_size).map(|_| self.epochs.next_item()).collect();
        self.epochs.count(batch_size);
        Ok(self.batch_of(&idx))
    }

    fn position(&self) -> StreamPosition {
        self.epochs.position()
    }

    /// Positions are at an image: their offset is always 0.
    fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError> {
        self.epochs.seek(pos, |_| 1)
    }

    fn examples_seen(&self) -> u64 {
        self.epochs.examples_seen()
    }

    /// The held-out images in a fixed order; at most `validation_len()` of them.
    fn validation_set(&self, n_examples: usize, batch_size: usize) -> Result<Vec<ImageBatch>, DataError> {
        let valid = self.epochs.held_out(batch_size)?;
        let n = n_examples.min(valid.len());
        Ok(valid[..n].chunks(batch_size).map(|c| self.batch_of(c)).collect())
    }
}

impl ImageStream for ImageDataStream {
    fn shape(&self) -> ImageShape {
        self.data.shape
    }
}
