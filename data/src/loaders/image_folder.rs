//! An image folder as users have it: one sub-folder per class, PNG or JPEG images, loaded into
//! an [`ImageDataset`] (optionally resized to one size).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::loaders::images::ImageDataset;
use crate::stream::ImageShape;

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
        ImageFolderConfig { root: root.into(), channels: 3, height: Some(height), width: Some(width), resize: false }
    }
}

fn is_image_file(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(DataError::io(dir))? {
        let path = e.map_err(DataError::io(dir))?.path();
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
    let class_dirs: Vec<PathBuf> = sorted_entries(&cfg.root)?.into_iter().filter(|p| p.is_dir()).collect();
    if class_dirs.is_empty() {
        return Err(DataError::Empty {
            path: cfg.root.clone(),
            what: "no class sub-folders; put the images of each class in its own sub-folder, e.g. root/cat/1.png"
                .into(),
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
        shape: ImageShape { channels: cfg.channels, height: h as usize, width: w as usize, classes: class_names.len() },
        pixels,
        labels,
        class_names,
    })
}

fn decode(file: &Path) -> Result<image::DynamicImage, DataError> {
    let reader = image::ImageReader::open(file).map_err(DataError::io(file))?;
    let reader = reader.with_guessed_format().map_err(DataError::io(file))?;
    reader.decode().map_err(|e| DataError::ImageDecode { path: file.to_path_buf(), message: e.to_string() })
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
