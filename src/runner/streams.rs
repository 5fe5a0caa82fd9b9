//! A point's training stream, built from its data declaration (`data:` in the experiment file),
//! seed, model shape and validation size: the data crate's synthetic stream of the family, or
//! the files the experiment names, loaded and shaped for the compiled models (docs/THEORY.md
//! §5). Boxed, so that each model size is compiled once whatever the data source.

use std::path::{Path, PathBuf};

use crate::data::{
    cifar10_files, load_cifar10, load_image_folder, load_jsonl, BoxStream, DataError, ImageBatch, ImageDataConfig,
    ImageDataStream, ImageFolderConfig, JsonlConfig, LmBatch, LmCorpusConfig, LmCorpusStream, SyntheticImageConfig,
    SyntheticImages, SyntheticLm, SyntheticText, SyntheticTextConfig, TextBatch, TextCorpusConfig, TextCorpusStream,
    TextShape,
};
use crate::experiment::{Data, Point};

// The experiment crate validates T5 vocabularies against the text data's token ids without
// depending on the data crate; the two numbers must agree.
const _: () = assert!(crate::experiment::TEXT_VOCAB == crate::data::vocab::VOCAB_SIZE);

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
    /// The images have more classes than the compiled ViTs have outputs.
    #[error("the data has {found} classes, the compiled ViTs have {outputs} outputs; use data with at most {outputs} classes")]
    TooManyClasses {
        /// Classes in the data.
        found: usize,
        /// Outputs of the compiled ViTs.
        outputs: usize,
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

/// The training stream of a ViT point: the synthetic stream, an image folder (resized), or
/// CIFAR-style binaries (a file or a folder of `*.bin`, downsampled to the compiled image
/// size); relative paths against `base`. File data holds out about the point's validation
/// examples (at most half of the images).
pub fn image_stream(point: &Point, base: &Path) -> Result<BoxStream<ImageBatch>, StreamError> {
    let spec = &point.spec;
    let shape = spec.vit.clone().unwrap_or_default();
    let dataset = match &spec.data {
        Data::Synthetic => {
            return Ok(BoxStream::new(SyntheticImages::new(SyntheticImageConfig {
                seed: spec.seed,
                channels: shape.channels,
                height: shape.image_size,
                width: shape.image_size,
                classes: shape.classes,
                ..SyntheticImageConfig::default()
            })?))
        }
        Data::ImageFolder { path } => load_image_folder(&ImageFolderConfig {
            root: resolve(base, path),
            channels: shape.channels,
            height: Some(shape.image_size),
            width: Some(shape.image_size),
            resize: true,
        })?,
        Data::CifarBinary { path } => {
            load_cifar10(&cifar10_files(&resolve(base, path))?)?.downsample(shape.image_size, shape.image_size)?
        }
        Data::JsonLines { .. } => return Err(StreamError::TextForVit),
    };
    if dataset.shape.classes > shape.classes {
        return Err(StreamError::TooManyClasses { found: dataset.shape.classes, outputs: shape.classes });
    }
    let fraction = (spec.val_examples as f64 / dataset.len().max(1) as f64).clamp(0.0, 0.5);
    let cfg = ImageDataConfig { seed: spec.seed, validation_fraction: fraction };
    Ok(BoxStream::new(ImageDataStream::new(dataset, cfg)?))
}

/// The training stream of a T5 point: the synthetic text stream or C4-style JSON lines
/// (relative paths against `base`), span-corrupted to the point's sequence lengths.
pub fn text_stream(point: &Point, base: &Path) -> Result<BoxStream<TextBatch>, StreamError> {
    let spec = &point.spec;
    let t = spec.t5.clone().unwrap_or_default();
    let shape = TextShape { input_len: t.input_len, target_len: t.target_len, ..TextShape::default() };
    match &spec.data {
        Data::Synthetic => {
            let cfg = SyntheticTextConfig { seed: spec.seed, shape, ..SyntheticTextConfig::default() };
            Ok(BoxStream::new(SyntheticText::new(cfg)?))
        }
        Data::JsonLines { path } => {
            let corpus = load_jsonl(&JsonlConfig::new(vec![resolve(base, path)]))?;
            let cfg = TextCorpusConfig { seed: spec.seed, shape, ..TextCorpusConfig::default() };
            Ok(BoxStream::new(TextCorpusStream::new(corpus, cfg)?))
        }
        Data::ImageFolder { .. } | Data::CifarBinary { .. } => Err(StreamError::ImagesForT5),
    }
}

/// The training stream of a decoder point: next-token rows of the point's sequence length
/// from the synthetic language or from C4-style JSON lines (relative paths against `base`;
/// documents packed, about 1 % held out for validation).
pub fn lm_stream(point: &Point, base: &Path) -> Result<BoxStream<LmBatch>, StreamError> {
    let spec = &point.spec;
    let seq_len = spec.decoder.clone().unwrap_or_default().seq_len;
    match &spec.data {
        Data::Synthetic => {
            let cfg = SyntheticTextConfig { seed: spec.seed, ..SyntheticTextConfig::default() };
            Ok(BoxStream::new(SyntheticLm::new(cfg, seq_len)?))
        }
        Data::JsonLines { path } => {
            let corpus = load_jsonl(&JsonlConfig::new(vec![resolve(base, path)]))?;
            let cfg = LmCorpusConfig { seed: spec.seed, seq_len, ..LmCorpusConfig::default() };
            Ok(BoxStream::new(LmCorpusStream::new(corpus, cfg)?))
        }
        Data::ImageFolder { .. } | Data::CifarBinary { .. } => Err(StreamError::ImagesForDecoder),
    }
}
