//! An image folder as users have it: one sub-folder per class, PNG or JPEG images, loaded into
//! an [`ImageDataset`] (optionally resized to one size with a named [`Resize`] filter).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::loaders::images::ImageDataset;
use crate::loaders::resize::{resize_chw, Resize};
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
    /// Resize images of another size with this filter instead of failing (`None`: an image
    /// of another size is an error).
    #[serde(default)]
    pub resize: Option<Resize>,
}

impl ImageFolderConfig {
    /// RGB images of the given size, no resizing.
    pub fn new(root: impl Into<PathBuf>, height: usize, width: usize) -> Self {
        ImageFolderConfig { root: root.into(), channels: 3, height: Some(height), width: Some(width), resize: None }
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

/// The classes of an image folder (sub-folders sorted by name) with their image files (sorted),
/// skipping hidden entries and files of other types. A folder without classes, or a class
/// without images, is an error naming it.
fn class_files(root: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, DataError> {
    let class_dirs: Vec<PathBuf> = sorted_entries(root)?.into_iter().filter(|p| p.is_dir()).collect();
    if class_dirs.is_empty() {
        return Err(DataError::Empty {
            path: root.to_path_buf(),
            what: "no class sub-folders; put the images of each class in its own sub-folder, e.g. root/cat/1.png"
                .into(),
        });
    }
    let mut out = Vec::with_capacity(class_dirs.len());
    for dir in class_dirs {
        let files: Vec<PathBuf> =
            sorted_entries(&dir)?.into_iter().filter(|p| p.is_file() && is_image_file(p)).collect();
        if files.is_empty() {
            return Err(DataError::Empty {
                path: dir,
                what: "class folder has no .png/.jpg/.jpeg images; add images or remove the folder".into(),
            });
        }
        out.push((dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), files));
    }
    Ok(out)
}

/// What an image folder holds, read without decoding its images (what `check` states).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFolderSummary {
    /// Class names: the sub-folders, sorted.
    pub classes: Vec<String>,
    /// Image files in all classes.
    pub images: usize,
    /// Width and height of the first image (first file of the first class), from its header.
    pub first_size: (u32, u32),
}

/// Lists an image folder's classes and images and reads the first image's size from its
/// header, with the errors of [`load_image_folder`].
pub fn summarize_image_folder(root: &Path) -> Result<ImageFolderSummary, DataError> {
    let classes = class_files(root)?;
    let images = classes.iter().map(|c| c.1.len()).sum();
    let first = &classes[0].1[0];
    let first_size = image::ImageReader::open(first)
        .map_err(DataError::io(first))?
        .with_guessed_format()
        .map_err(DataError::io(first))?
        .into_dimensions()
        .map_err(|e| DataError::ImageDecode { path: first.clone(), message: e.to_string() })?;
    Ok(ImageFolderSummary { classes: classes.into_iter().map(|c| c.0).collect(), images, first_size })
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
    let classes = class_files(&cfg.root)?;
    let mut size = cfg.height.zip(cfg.width).map(|(h, w)| (w as u32, h as u32));
    let (mut pixels, mut labels, mut class_names) = (Vec::new(), Vec::new(), Vec::new());
    let mut resized = 0;
    for (label, (name, files)) in classes.into_iter().enumerate() {
        class_names.push(name);
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
            if (w, h) == (ew, eh) {
                push_chw(&img, cfg.channels, &mut pixels);
            } else {
                let Some(filter) = cfg.resize else {
                    return Err(DataError::ImageSize {
                        path: file,
                        expected_width: ew,
                        expected_height: eh,
                        found_width: w,
                        found_height: h,
                    });
                };
                match filter.image_filter() {
                    Some(f) => push_chw(&img.resize_exact(ew, eh, f), cfg.channels, &mut pixels),
                    None => {
                        let mut native = Vec::new();
                        push_chw(&img, cfg.channels, &mut native);
                        let (from, to) = ((h as usize, w as usize), (eh as usize, ew as usize));
                        pixels.extend(resize_chw(&native, cfg.channels, from, to, filter));
                    }
                }
                resized += 1;
            }
            labels.push(label as u32);
        }
    }
    let (w, h) = size.unwrap_or((0, 0));
    Ok(ImageDataset {
        shape: ImageShape { channels: cfg.channels, height: h as usize, width: w as usize, classes: class_names.len() },
        pixels,
        labels,
        class_names,
        resized,
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
