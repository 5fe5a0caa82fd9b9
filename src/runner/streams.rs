//! A point's training stream, built from its data declaration (`data:` in the experiment file),
//! seed, model shape and validation size: the data crate's synthetic stream of the family
//! (rendered at the declared shape), or the files the experiment names, read at their own
//! size when it is the declared one and otherwise resized with the filter the file names
//! (docs/THEORY.md §5). Each stream comes with one plain line saying what its loader read (the
//! run log's), and [`describe_data`] says the same without loading, for `check`. Boxed, so
//! that each model size is compiled once whatever the data source.

use std::path::{Path, PathBuf};

use crate::data::{
    cifar10_files, cifar10_records, load_cifar10, load_image_folder, load_jsonl, summarize_image_folder, BoxStream,
    DataError, ImageBatch, ImageDataConfig, ImageDataStream, ImageDataset, ImageFolderConfig, JsonlConfig, LmBatch,
    LmCorpusConfig, LmCorpusStream, SyntheticImageConfig, SyntheticImages, SyntheticLm, SyntheticText,
    SyntheticTextConfig, TextBatch, TextCorpusConfig, TextCorpusStream, TextShape,
};
use crate::experiment::{Data, Point, Resize, VitShape};

// The experiment crate validates T5 vocabularies against the text data's token ids without
// depending on the data crate; the two numbers must agree.
const _: () = assert!(crate::experiment::TEXT_VOCAB == crate::data::vocab::VOCAB_SIZE);

/// The data crate's filter of the schema's `resize` (the schema mirrors it without depending
/// on the data crate).
fn filter(r: Resize) -> crate::data::Resize {
    match r {
        Resize::Box => crate::data::Resize::Box,
        Resize::Bilinear => crate::data::Resize::Bilinear,
        Resize::Nearest => crate::data::Resize::Nearest,
    }
}

/// A point's stream and what its loader read.
pub struct PointStream<B> {
    /// The training stream (its validation set comes from the same source).
    pub stream: BoxStream<B>,
    /// One plain line for the run log: the files, examples, classes and split it read, and
    /// any resizing.
    pub read: String,
}

/// Why a point's stream cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Loading or preparing the data failed (the message names the file and the fix).
    #[error(transparent)]
    Data(#[from] DataError),
    /// A ViT point declares text data.
    #[error(
        "JSON-lines text data is for T5 and decoder models; give ViTs `Synthetic`, `ImageFolder` or `CifarBinary` data"
    )]
    TextForVit,
    /// A T5 point declares image data.
    #[error("image data is for ViT models; give T5 models `Synthetic` or `JsonLines` data")]
    ImagesForT5,
    /// A decoder point declares image data.
    #[error("image data is for ViT models; give decoder models `Synthetic` or `JsonLines` data")]
    ImagesForDecoder,
    /// The image data has another number of classes than the experiment declares.
    #[error("{data} has {found} classes, but `model.vit.classes` declares {declared}\n  fix: set `vit: (classes: {found})` in the experiment's model, or give data with {declared} classes (an image folder has one sub-folder per class)")]
    ClassCount {
        /// The data, named (folder and its class names, or CIFAR-10 and its path).
        data: String,
        /// Classes in the data.
        found: usize,
        /// Classes the experiment declares.
        declared: usize,
    },
    /// CIFAR-10 data for a ViT declared with other than 3 channels.
    #[error("CIFAR-10 images have 3 colour channels, but `model.vit.channels` declares {declared}\n  fix: set `vit: (channels: 3)` in the experiment's model")]
    CifarChannels {
        /// Channels the experiment declares.
        declared: usize,
    },
}

/// `path` as given if absolute, else relative to `base` (the experiment file's folder).
fn resolve(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// `name` with every class if few, else the first ones and a count.
fn class_list(names: &[String]) -> String {
    if names.len() <= 12 {
        names.join(", ")
    } else {
        format!("{}, … ({} more)", names[..10].join(", "), names.len() - 10)
    }
}

/// "1 channel", "3 channels".
fn channels(n: usize) -> String {
    format!("{n} channel{}", if n == 1 { "" } else { "s" })
}

fn check_classes(data: impl FnOnce() -> String, found: usize, shape: &VitShape) -> Result<(), StreamError> {
    if found != shape.classes {
        return Err(StreamError::ClassCount { data: data(), found, declared: shape.classes });
    }
    Ok(())
}

/// The CIFAR-10 files at `path`, checked against the declared shape (3 channels, 10 classes).
fn cifar_files(path: &Path, shape: &VitShape) -> Result<Vec<PathBuf>, StreamError> {
    let files = cifar10_files(path)?;
    if shape.channels != 3 {
        return Err(StreamError::CifarChannels { declared: shape.channels });
    }
    check_classes(|| format!("CIFAR-10 ({})", path.display()), 10, shape)?;
    Ok(files)
}

/// "resized to 16×16 with the Box filter" or the native-size statement.
fn resizing(from: (usize, usize), to: usize, resize: Resize) -> String {
    if from == (to, to) {
        format!("trained at their own {}×{}, the declared size (no resizing)", from.0, from.1)
    } else {
        format!("resized to {to}×{to} with the {} filter", resize.name())
    }
}

/// The training stream of a ViT point: the synthetic stream rendered at the declared shape, an
/// image folder, or CIFAR-10 binaries (a file or a folder of `*.bin`); images of another size
/// than the declared one are resized with the file's `resize` filter, and the data must have
/// the declared number of classes. Relative paths are against `base`. File data holds out
/// about the point's validation examples (at most half of the images).
pub fn image_stream(point: &Point, base: &Path) -> Result<PointStream<ImageBatch>, StreamError> {
    let spec = &point.spec;
    let shape = spec.vit.clone().unwrap_or_default();
    let size = shape.image_size;
    let (dataset, what): (ImageDataset, String) = match &spec.data {
        Data::Synthetic => {
            let stream = SyntheticImages::new(SyntheticImageConfig {
                seed: spec.seed,
                channels: shape.channels,
                height: size,
                width: size,
                classes: shape.classes,
                ..SyntheticImageConfig::default()
            })?;
            let read = format!(
                "synthetic images rendered at {size}×{size} with {} in {} classes, seed {} (a stream that never repeats; {} held-out validation images)",
                channels(shape.channels), shape.classes, spec.seed, spec.val_examples
            );
            return Ok(PointStream { stream: BoxStream::new(stream), read });
        }
        Data::ImageFolder { path, resize } => {
            let root = resolve(base, path);
            let ds = load_image_folder(&ImageFolderConfig {
                root: root.clone(),
                channels: shape.channels,
                height: Some(size),
                width: Some(size),
                resize: Some(filter(*resize)),
            })?;
            let names = || format!("the image folder {} (classes {})", root.display(), class_list(&ds.class_names));
            check_classes(names, ds.shape.classes, &shape)?;
            let how = if ds.resized == 0 {
                format!("all {size}×{size}, the declared size (no resizing)")
            } else {
                format!("{} of them resized to {size}×{size} with the {} filter", ds.resized, resize.name())
            };
            let what = format!(
                "image folder {}: read {} image files in {} classes ({}); {how}",
                root.display(),
                ds.len(),
                ds.shape.classes,
                class_list(&ds.class_names)
            );
            (ds, what)
        }
        Data::CifarBinary { path, resize } => {
            let at = resolve(base, path);
            let files = cifar_files(&at, &shape)?;
            let ds = load_cifar10(&files)?;
            let native = (ds.shape.height, ds.shape.width);
            let ds = ds.resize(size, size, filter(*resize))?;
            let what = format!(
                "CIFAR-10 {}: read {} file{}, {} images {}×{} in 10 classes; {}",
                at.display(),
                files.len(),
                if files.len() == 1 { "" } else { "s" },
                ds.len(),
                native.0,
                native.1,
                resizing(native, size, *resize)
            );
            (ds, what)
        }
        Data::JsonLines { .. } => return Err(StreamError::TextForVit),
    };
    let fraction = (spec.val_examples as f64 / dataset.len().max(1) as f64).clamp(0.0, 0.5);
    let cfg = ImageDataConfig { seed: spec.seed, validation_fraction: fraction };
    let stream = ImageDataStream::new(dataset, cfg)?;
    let read = format!("{what}; split {} training / {} validation images", stream.train_len(), stream.validation_len());
    Ok(PointStream { stream: BoxStream::new(stream), read })
}

/// What a point's data is, said without loading it (what `check` prints): the source, its
/// size and classes, and whether and how its images are resized to the declared size; the
/// errors of a class or channel count that does not match the declaration come here already.
pub fn describe_data(point: &Point, base: &Path) -> Result<String, StreamError> {
    let spec = &point.spec;
    let shape = spec.vit.clone().unwrap_or_default();
    let size = shape.image_size;
    Ok(match (&spec.data, spec.family) {
        (Data::Synthetic, crate::experiment::Family::Vit) => format!(
            "synthetic images rendered at {size}×{size} with {} in {} classes",
            channels(shape.channels),
            shape.classes
        ),
        (Data::Synthetic, _) => "the synthetic text stream".to_string(),
        (Data::JsonLines { path }, _) => format!("JSON lines {}", resolve(base, path).display()),
        (Data::ImageFolder { path, resize }, _) => {
            let root = resolve(base, path);
            let s = summarize_image_folder(&root)?;
            let names = || format!("the image folder {} (classes {})", root.display(), class_list(&s.classes));
            check_classes(names, s.classes.len(), &shape)?;
            let (w, h) = (s.first_size.0 as usize, s.first_size.1 as usize);
            let first = if (h, w) == (size, size) {
                format!("the first image is {w}×{h}, the declared size")
            } else {
                format!("the first image is {w}×{h}; resized to {size}×{size} with the {} filter", resize.name())
            };
            format!(
                "image folder {} ({} images in {} classes): {first} (every image of another size than {size}×{size} is resized with the {} filter)",
                root.display(),
                s.images,
                s.classes.len(),
                resize.name()
            )
        }
        (Data::CifarBinary { path, resize }, _) => {
            let at = resolve(base, path);
            let files = cifar_files(&at, &shape)?;
            let images = cifar10_records(&files)?;
            let how = if size == 32 {
                "trained at their own 32×32 (no resizing)".to_string()
            } else {
                format!("resized to {size}×{size} with the {} filter", resize.name())
            };
            format!(
                "CIFAR-10 {} ({} file{}, {images} images in 10 classes): images are 32×32; {how}",
                at.display(),
                files.len(),
                if files.len() == 1 { "" } else { "s" },
            )
        }
    })
}

/// The training stream of a T5 point: the synthetic text stream or C4-style JSON lines
/// (relative paths against `base`), span-corrupted to the point's sequence lengths.
pub fn text_stream(point: &Point, base: &Path) -> Result<PointStream<TextBatch>, StreamError> {
    let spec = &point.spec;
    let t = spec.t5.clone().unwrap_or_default();
    let shape = TextShape { input_len: t.input_len, target_len: t.target_len, ..TextShape::default() };
    match &spec.data {
        Data::Synthetic => {
            let cfg = SyntheticTextConfig { seed: spec.seed, shape, ..SyntheticTextConfig::default() };
            let read = format!(
                "synthetic text, span-corrupted to {}/{} tokens, seed {} (a stream that never repeats)",
                t.input_len, t.target_len, spec.seed
            );
            Ok(PointStream { stream: BoxStream::new(SyntheticText::new(cfg)?), read })
        }
        Data::JsonLines { path } => {
            let file = resolve(base, path);
            let corpus = load_jsonl(&JsonlConfig::new(vec![file.clone()]))?;
            let (docs, bytes) = (corpus.len(), corpus.total_bytes());
            let cfg = TextCorpusConfig { seed: spec.seed, shape, ..TextCorpusConfig::default() };
            let stream = TextCorpusStream::new(corpus, cfg)?;
            let (train, valid) = stream.split_sizes();
            let read = format!(
                "JSON lines {}: read 1 file, {docs} documents ({bytes} bytes); split {train} training / {valid} validation documents",
                file.display()
            );
            Ok(PointStream { stream: BoxStream::new(stream), read })
        }
        Data::ImageFolder { .. } | Data::CifarBinary { .. } => Err(StreamError::ImagesForT5),
    }
}

/// The training stream of a decoder point: next-token rows of the point's sequence length
/// from the synthetic language or from C4-style JSON lines (relative paths against `base`;
/// documents packed, about 1 % held out for validation).
pub fn lm_stream(point: &Point, base: &Path) -> Result<PointStream<LmBatch>, StreamError> {
    let spec = &point.spec;
    let seq_len = spec.decoder.clone().unwrap_or_default().seq_len;
    match &spec.data {
        Data::Synthetic => {
            let cfg = SyntheticTextConfig { seed: spec.seed, ..SyntheticTextConfig::default() };
            let read =
                format!("synthetic text in rows of {seq_len} tokens, seed {} (a stream that never repeats)", spec.seed);
            Ok(PointStream { stream: BoxStream::new(SyntheticLm::new(cfg, seq_len)?), read })
        }
        Data::JsonLines { path } => {
            let file = resolve(base, path);
            let corpus = load_jsonl(&JsonlConfig::new(vec![file.clone()]))?;
            let (docs, bytes) = (corpus.len(), corpus.total_bytes());
            let cfg = LmCorpusConfig { seed: spec.seed, seq_len, ..LmCorpusConfig::default() };
            let stream = LmCorpusStream::new(corpus, cfg)?;
            let (train, valid) = stream.split_sizes();
            let read = format!(
                "JSON lines {}: read 1 file, {docs} documents ({bytes} bytes) in rows of {seq_len} tokens; split {train} training / {valid} validation documents",
                file.display()
            );
            Ok(PointStream { stream: BoxStream::new(stream), read })
        }
        Data::ImageFolder { .. } | Data::CifarBinary { .. } => Err(StreamError::ImagesForDecoder),
    }
}
