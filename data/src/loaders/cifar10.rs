//! CIFAR-10 binary batches (Krizhevsky, 2009; `cifar-10-batches-bin`): records of one label
//! byte and 3×32×32 pixel bytes, loaded into an [`ImageDataset`].

use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::loaders::images::ImageDataset;
use crate::stream::ImageShape;

/// CIFAR-10 class names, in label order (Krizhevsky, 2009).
pub const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
/// Bytes per CIFAR-10 record: 1 label byte + 3×32×32 pixel bytes (channel-major).
pub const CIFAR10_RECORD: usize = 1 + 3 * 32 * 32;

/// The CIFAR-10 files at `path`: the file itself, or the `*.bin` files of a folder (such as
/// `cifar-10-batches-bin/`), sorted by name. Errors name the folder if it cannot be listed or
/// holds no `.bin` file.
pub fn cifar10_files(path: &Path) -> Result<Vec<PathBuf>, DataError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for e in std::fs::read_dir(path).map_err(DataError::io(path))? {
        let file = e.map_err(DataError::io(path))?.path();
        if file.extension().is_some_and(|e| e == "bin") {
            files.push(file);
        }
    }
    if files.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            what: "no .bin files; put the CIFAR-10 binary batches (data_batch_1.bin … test_batch.bin) in it".into(),
        });
    }
    files.sort();
    Ok(files)
}

/// Number of CIFAR-10 records in `files`, from their lengths (nothing is read; what `check`
/// states). A file whose length is not a whole number of records is an error naming it.
pub fn cifar10_records(files: &[PathBuf]) -> Result<usize, DataError> {
    let mut records = 0;
    for file in files {
        let len = std::fs::metadata(file).map_err(DataError::io(file))?.len();
        if len % CIFAR10_RECORD as u64 != 0 {
            return Err(DataError::CifarLength { path: file.clone(), found: len, record: CIFAR10_RECORD });
        }
        records += (len / CIFAR10_RECORD as u64) as usize;
    }
    Ok(records)
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
        let bytes = std::fs::read(file).map_err(DataError::io(file))?;
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
        resized: 0,
    })
}
