//! Real image data as users have it: an image folder (one sub-folder per class, PNG/JPEG) or
//! CIFAR-10 binary batches, loaded into memory and served as a shuffled, epoch-wrapping,
//! resumable [`ImageStream`] with a held-out validation split.
//!
//! The paper's ViT runs read JFT-4B (PAPER.md §4); these loaders let the same training code run
//! on whatever images a user has. Pixels are kept as bytes and normalised per channel with the
//! mean and std of the training split.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::loaders::epochs::{check_held_out, hold_out, shuffled, Names};
use crate::rng::{hash_bytes, mix};
use crate::stream::{check_batch_size, ImageBatch, ImageShape, ImageStream, Stream, StreamPosition};

const KIND: &str = "image-dataset";
const DOMAIN_SPLIT: u64 = 0x5350_4c49;
const DOMAIN_SHUFFLE: u64 = 0x5348_5546;
const NAMES: Names = Names { dataset: "the image dataset", items: "images", typical_fraction: "0.05" };

/// CIFAR-10 class names, in label order (Krizhevsky, 2009).
pub const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
/// Bytes per CIFAR-10 record: 1 label byte + 3×32×32 pixel bytes (channel-major).
pub const CIFAR10_RECORD: usize = 1 + 3 * 32 * 32;

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
}

/// How to read an image folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFolderConfig {
    /// The folder holding one sub-folder per class (class = sub-folder name, sorted).
    pub root: PathBuf,
    /// 1 (grey) or 3 (RGB); images are converted.
    pub channels: usize,
    /// Expected height; `None` takes the first image's.
    pub height: Option<usize>,
    /// Expected width; `None` takes the first image's.
    pub width: Option<usize>,
    /// Resize images of another size (bilinear) instead of failing.
    #[serde(default)]
    pub resize: bool,
}

impl ImageFolderConfig {
    /// RGB images of the given size, no resizing.
    pub fn new(root: impl Into<PathBuf>, height: usize, width: usize) -> Self {
        ImageFolderConfig {
            root: root.into(),
            channels: 3,
            height: Some(height),
            width: Some(width),
            resize: false,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io { path: path.to_path_buf(), source }
}

fn is_image_file(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let path = e.map_err(io_err(dir))?.path();
        // Hidden entries (.DS_Store, .ipynb_checkpoints, …) are never classes or images.
        if !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
            v.push(path);
        }
    }
    v.sort();
    Ok(v)
}

/// Loads an image folder: `root/<class>/<image>.{png,jpg,jpeg}`. Classes are the sub-folders
/// sorted by name; files with other extensions and hidden entries (names starting with `.`)
/// are skipped. Errors name the offending file.
pub fn load_image_folder(cfg: &ImageFolderConfig) -> Result<ImageDataset, DataError> {
    if cfg.channels != 1 && cfg.channels != 3 {
        return Err(DataError::Config {
            field: "channels",
            value: cfg.channels.to_string(),
            reason: "use 1 (grey) or 3 (RGB)".into(),
        });
    }
    for (field, v) in [("height", cfg.height), ("width", cfg.width)] {
        if matches!(v, Some(0)) || v.is_some_and(|v| v > 65_535) {
            return Err(DataError::Config {
                field,
                value: format!("{v:?}"),
                reason: "use 1..=65535 or leave unset to take the first image's size".into(),
            });
        }
    }
    let class_dirs: Vec<PathBuf> =
        sorted_entries(&cfg.root)?.into_iter().filter(|p| p.is_dir()).collect();
    if class_dirs.is_empty() {
        return Err(DataError::Empty {
            path: cfg.root.clone(),
            what: "no class sub-folders; put the images of each class in its own sub-folder, e.g. root/cat/1.png".into(),
        });
    }
    let mut size = cfg.height.zip(cfg.width).map(|(h, w)| (w as u32, h as u32));
    let (mut pixels, mut labels, mut class_names) = (Vec::new(), Vec::new(), Vec::new());
    for (label, dir) in class_dirs.iter().enumerate() {
        class_names.push(dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let files: Vec<PathBuf> =
            sorted_entries(dir)?.into_iter().filter(|p| p.is_file() && is_image_file(p)).collect();
        if files.is_empty() {
            return Err(DataError::Empty {
                path: dir.clone(),
                what: "class folder has no .png/.jpg/.jpeg images; add images or remove the folder".into(),
            });
        }
        for file in files {
            let img = decode(&file)?;
            let (w, h) = (img.width(), img.height());
            let (ew, eh) = match size {
                Some(s) => s,
                None => {
                    // Partial size: fill the missing side from the first image.
                    let s = (cfg.width.map_or(w, |v| v as u32), cfg.height.map_or(h, |v| v as u32));
                    size = Some(s);
                    s
                }
            };
            let img = if (w, h) != (ew, eh) {
                if !cfg.resize {
                    return Err(DataError::ImageSize {
                        path: file,
                        expected_width: ew,
                        expected_height: eh,
                        found_width: w,
                        found_height: h,
                    });
                }
                img.resize_exact(ew, eh, image::imageops::FilterType::Triangle)
            } else {
                img
            };
            push_chw(&img, cfg.channels, &mut pixels);
            labels.push(label as u32);
        }
    }
    let (w, h) = size.unwrap_or((0, 0));
    Ok(ImageDataset {
        shape: ImageShape {
            channels: cfg.channels,
            height: h as usize,
            width: w as usize,
            classes: class_names.len(),
        },
        pixels,
        labels,
        class_names,
    })
}

fn decode(file: &Path) -> Result<image::DynamicImage, DataError> {
    let reader = image::ImageReader::open(file).map_err(io_err(file))?;
    let reader = reader.with_guessed_format().map_err(io_err(file))?;
    reader
        .decode()
        .map_err(|e| DataError::ImageDecode { path: file.to_path_buf(), message: e.to_string() })
}

fn push_chw(img: &image::DynamicImage, channels: usize, out: &mut Vec<u8>) {
    if channels == 1 {
        out.extend_from_slice(img.to_luma8().as_raw());
    } else {
        let rgb = img.to_rgb8();
        let raw = rgb.as_raw();
        for c in 0..3 {
            out.extend(raw.iter().skip(c).step_by(3));
        }
    }
}

/// Loads CIFAR-10 binary batches (`data_batch_1.bin` … `test_batch.bin`): records of 1 label
/// byte and 3072 pixel bytes (R, G, B planes of 32×32). Errors name the file and record.
pub fn load_cifar10(files: &[PathBuf]) -> Result<ImageDataset, DataError> {
    if files.is_empty() {
        return Err(DataError::Request(
            "no CIFAR-10 files given; pass e.g. cifar-10-batches-bin/data_batch_1.bin".into(),
        ));
    }
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for file in files {
        let bytes = std::fs::read(file).map_err(io_err(file))?;
        if bytes.is_empty() {
            return Err(DataError::Empty {
                path: file.clone(),
                what: "no CIFAR-10 records (0 bytes); re-download the file".into(),
            });
        }
        if bytes.len() % CIFAR10_RECORD != 0 {
            return Err(DataError::CifarLength {
                path: file.clone(),
                found: bytes.len() as u64,
                record: CIFAR10_RECORD,
            });
        }
        for (r, rec) in bytes.chunks_exact(CIFAR10_RECORD).enumerate() {
            if rec[0] > 9 {
                return Err(DataError::CifarLabel { path: file.clone(), record: r, label: rec[0] });
            }
            labels.push(rec[0] as u32);
            pixels.extend_from_slice(&rec[1..]);
        }
    }
    Ok(ImageDataset {
        shape: ImageShape { channels: 3, height: 32, width: 32, classes: 10 },
        pixels,
        labels,
        class_names: CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect(),
    })
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
    cfg: ImageDataConfig,
    train: Vec<usize>,
    valid: Vec<usize>,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    fingerprint: u64,
    epoch: u64,
    index: usize,
    order: Vec<usize>,
    seen: u64,
}

impl ImageDataStream {
    /// Splits and prepares the stream. Errors if the split leaves no training images.
    pub fn new(data: ImageDataset, cfg: ImageDataConfig) -> Result<Self, DataError> {
        let (train, valid) = hold_out(data.len(), cfg.validation_fraction, cfg.seed, DOMAIN_SPLIT, &NAMES)?;
        let n = data.len();
        let (c, hw) = (data.shape.channels, data.shape.height * data.shape.width);
        let (mut sum, mut sq) = (vec![0f64; c], vec![0f64; c]);
        for &i in &train {
            let img = data.image(i);
            for ch in 0..c {
                for &v in &img[ch * hw..(ch + 1) * hw] {
                    let v = v as f64 / 255.0;
                    sum[ch] += v;
                    sq[ch] += v * v;
                }
            }
        }
        let count = (train.len() * hw) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
        let inv_std: Vec<f32> = (0..c)
            .map(|ch| {
                let m = sum[ch] / count;
                (1.0 / (sq[ch] / count - m * m).max(1e-6).sqrt()) as f32
            })
            .collect();
        let mut words = vec![
            cfg.seed,
            cfg.validation_fraction.to_bits(),
            n as u64,
            c as u64,
            data.shape.height as u64,
            data.shape.width as u64,
            data.shape.classes as u64,
            hash_bytes(&data.pixels),
        ];
        words.extend(data.labels.iter().map(|&l| l as u64));
        let fingerprint = mix(&words);
        let mut s = ImageDataStream {
            data,
            cfg,
            train,
            valid,
            mean,
            inv_std,
            fingerprint,
            epoch: 0,
            index: 0,
            order: Vec::new(),
            seen: 0,
        };
        s.order = s.epoch_order(0);
        Ok(s)
    }

    fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        shuffled(&self.train, &[self.cfg.seed, DOMAIN_SHUFFLE, epoch])
    }

    /// Number of training images (one epoch).
    pub fn train_len(&self) -> usize {
        self.train.len()
    }

    /// Number of held-out images.
    pub fn validation_len(&self) -> usize {
        self.valid.len()
    }

    /// The underlying dataset.
    pub fn dataset(&self) -> &ImageDataset {
        &self.data
    }

    /// Dataset indices of the held-out images.
    pub fn validation_indices(&self) -> &[usize] {
        &self.valid
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
        let mut idx = Vec::with_capacity(batch_size);
        while idx.len() < batch_size {
            if self.index >= self.order.len() {
                self.epoch += 1;
                self.index = 0;
                self.order = self.epoch_order(self.epoch);
            }
            idx.push(self.order[self.index]);
            self.index += 1;
        }
        self.seen += batch_size as u64;
        Ok(self.batch_of(&idx))
    }

    fn position(&self) -> StreamPosition {
        StreamPosition {
            kind: KIND.into(),
            fingerprint: self.fingerprint,
            epoch: self.epoch,
            index: self.index as u64,
            offset: 0,
            examples_seen: self.seen,
        }
    }

    fn seek(&mut self, pos: &StreamPosition) -> Result<(), DataError> {
        pos.check(KIND, self.fingerprint)?;
        if pos.index > self.train.len() as u64 {
            return Err(DataError::Request(format!(
                "position index {} is beyond the epoch length {}; the checkpoint is corrupt",
                pos.index,
                self.train.len()
            )));
        }
        if pos.epoch != self.epoch {
            self.order = self.epoch_order(pos.epoch);
        }
        self.epoch = pos.epoch;
        self.index = pos.index as usize;
        self.seen = pos.examples_seen;
        Ok(())
    }

    fn examples_seen(&self) -> u64 {
        self.seen
    }

    /// The held-out images in a fixed order; at most `validation_len()` of them.
    fn validation_set(&self, n_examples: usize, batch_size: usize) -> Result<Vec<ImageBatch>, DataError> {
        check_batch_size(batch_size)?;
        check_held_out(&self.valid, self.cfg.validation_fraction, &NAMES)?;
        let n = n_examples.min(self.valid.len());
        Ok(self.valid[..n].chunks(batch_size).map(|c| self.batch_of(c)).collect())
    }
}

impl ImageStream for ImageDataStream {
    fn shape(&self) -> ImageShape {
        self.data.shape
    }
}
