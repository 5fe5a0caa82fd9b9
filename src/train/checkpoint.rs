//! Checkpoint files: everything a killed run needs to resume and end bit for bit like an
//! uninterrupted one — model weights, pruner state (masks, schedule), optimizer state, data
//! position, step, loss history — in one file.
//!
//! Layout (little-endian):
//! ```text
//! magic  b"SSCKPT\r\n"          8 bytes (the CR LF catches text-mode mangling)
//! format version u32            4 bytes (currently 1)
//! payload length u64            8 bytes
//! SHA-256 of the payload        32 bytes
//! payload: u64 meta length, meta as JSON, then every f32 buffer the meta lists, in order
//! ```
//! Floats that must survive exactly (weights, optimizer state, losses) are stored as raw bits,
//! never as decimal text. Files are written to a temporary file beside the target, synced and
//! renamed over it, so a kill mid-write leaves the previous checkpoint intact. Any damage — a
//! flipped byte, a truncated file, a foreign file — is reported as a [`CheckpointError`] that
//! names the file and says what is wrong, never as a panic.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::optim::Slot;
use super::LossPoint;

/// First 8 bytes of every checkpoint.
pub const MAGIC: [u8; 8] = *b"SSCKPT\r\n";
/// Format version written by this build.
pub const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 8 + 32;
const RESTART: &str = "delete it to restart the point from scratch";

/// What can be wrong with a checkpoint file. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("checkpoint {path}: {action} failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not a checkpoint of this program.
    #[error("checkpoint {path} is not a sparse-scaling checkpoint (its first bytes are not the magic {magic:?}); {RESTART}", magic = String::from_utf8_lossy(&MAGIC))]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// Written by another format version.
    #[error("checkpoint {path} has format version {found}, this build reads version {supported}; {RESTART}")]
    Version {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// Shorter than its header says (e.g. the disk filled up or the copy was cut).
    #[error("checkpoint {path} is truncated: it should have {expected} bytes but has {found}; {RESTART}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header promises.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The payload does not match its checksum (bit rot, a partial overwrite).
    #[error("checkpoint {path} is corrupt: its SHA-256 checksum does not match its contents; {RESTART}")]
    Checksum {
        /// The file.
        path: PathBuf,
    },
    /// The checksum matches but the contents do not parse (a bug or a hand-edited file).
    #[error("checkpoint {path} is malformed: {detail}; {RESTART}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A valid checkpoint of another run (other config, model, pruner or data).
    #[error("checkpoint {path} belongs to a different run: {detail}; {RESTART}, or point the run at another checkpoint path")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
}

/// Everything a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Optimizer steps completed.
    pub step: u64,
    /// The config of the run that wrote it, as JSON text (compared as text on resume: parsing
    /// decimal floats back is not always exact).
    pub config: String,
    /// Position of the training stream before the next batch.
    pub data_position: serde_json::Value,
    /// The pruner's state.
    pub pruner: serde_json::Value,
    /// Training loss of every step taken.
    pub train_loss: Vec<f32>,
    /// Validation curve so far.
    pub val_curve: Vec<LossPoint>,
    /// D so far.
    pub data_seen: u64,
    /// Wall time so far, seconds.
    pub elapsed_s: f64,
    /// Step the run had been resumed from before, if any.
    pub resumed_from: Option<u64>,
    /// Optimizer update counter.
    pub opt_t: u64,
    /// Model parameters by path, in visiting order.
    pub model: Vec<(String, Vec<f32>)>,
    /// Optimizer state, in visiting order.
    pub opt: Vec<Slot>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    step: u64,
    config: String,
    data_position: serde_json::Value,
    pruner: serde_json::Value,
    /// f64 bits of (step, loss) pairs.
    val_curve: Vec<(u64, u64)>,
    data_seen: u64,
    elapsed_s: f64,
    resumed_from: Option<u64>,
    opt_t: u64,
    train_loss_len: usize,
    model: Vec<(String, usize)>,
    opt: Vec<(String, Vec<usize>)>,
}

/// Writes `ck` to `path` atomically (temporary file in the same folder, fsync, rename).
pub fn save(path: &Path, ck: &Checkpoint) -> Result<(), CheckpointError> {
    let io = |action, source| CheckpointError::Io { path: path.to_path_buf(), action, source };
    let meta = Meta {
        step: ck.step,
        config: ck.config.clone(),
        data_position: ck.data_position.clone(),
        pruner: ck.pruner.clone(),
        val_curve: ck.val_curve.iter().map(|p| (p.step, p.loss.to_bits())).collect(),
        data_seen: ck.data_seen,
        elapsed_s: ck.elapsed_s,
        resumed_from: ck.resumed_from,
        opt_t: ck.opt_t,
        train_loss_len: ck.train_loss.len(),
        model: ck.model.iter().map(|(n, v)| (n.clone(), v.len())).collect(),
        opt: ck.opt.iter().map(|s| (s.path.clone(), s.bufs.iter().map(Vec::len).collect())).collect(),
    };
    let meta = serde_json::to_vec(&meta).map_err(|e| CheckpointError::Malformed {
        path: path.to_path_buf(),
        detail: format!("could not encode the metadata: {e}"),
    })?;
    let floats = ck.train_loss.len()
        + ck.model.iter().map(|(_, v)| v.len()).sum::<usize>()
        + ck.opt.iter().flat_map(|s| s.bufs.iter()).map(Vec::len).sum::<usize>();
    let mut payload = Vec::with_capacity(8 + meta.len() + 4 * floats);
    payload.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    payload.extend_from_slice(&meta);
    let mut put = |v: &[f32]| v.iter().for_each(|x| payload.extend_from_slice(&x.to_le_bytes()));
    put(&ck.train_loss);
    ck.model.iter().for_each(|(_, v)| put(v));
    ck.opt.iter().flat_map(|s| s.bufs.iter()).for_each(|v| put(v));

    let mut file = Vec::with_capacity(HEADER + payload.len());
    file.extend_from_slice(&MAGIC);
    file.extend_from_slice(&VERSION.to_le_bytes());
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(&Sha256::digest(&payload));
    file.extend_from_slice(&payload);

    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io("creating its folder", e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "checkpoint".into());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&file)?;
        f.sync_all()?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(io("writing a temporary file", e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io("renaming the temporary file into place", e)
    })?;
    // Make the rename durable where the platform allows syncing a folder.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads and verifies a checkpoint.
pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
    let bytes =
        fs::read(path).map_err(|source| CheckpointError::Io { path: path.to_path_buf(), action: "reading", source })?;
    decode(path, &bytes)
}

/// Verifies and decodes the bytes of a checkpoint file (`path` is only used in errors).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
    let p = || path.to_path_buf();
    let malformed = |detail: String| CheckpointError::Malformed { path: p(), detail };
    let head = &bytes[..bytes.len().min(8)];
    if head != &MAGIC[..head.len()] {
        return Err(CheckpointError::BadMagic { path: p() });
    }
    if bytes.len() < HEADER {
        return Err(CheckpointError::Truncated { path: p(), expected: HEADER as u64, found: bytes.len() as u64 });
    }
    let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let u64_at = |b: &[u8], i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(a)
    };
    let version = u32_at(8);
    if version != VERSION {
        return Err(CheckpointError::Version { path: p(), found: version, supported: VERSION });
    }
    let plen = u64_at(bytes, 12);
    let have = (bytes.len() - HEADER) as u64;
    if have < plen {
        return Err(CheckpointError::Truncated {
            path: p(),
            expected: (HEADER as u64).saturating_add(plen),
            found: bytes.len() as u64,
        });
    }
    if have > plen {
        return Err(malformed(format!("{} bytes follow the payload its header announces", have - plen)));
    }
    let payload = &bytes[HEADER..];
    if Sha256::digest(payload).as_slice() != &bytes[20..52] {
        return Err(CheckpointError::Checksum { path: p() });
    }
    if payload.len() < 8 {
        return Err(malformed("the payload has no metadata length".into()));
    }
    let mlen = u64_at(payload, 0);
    let rest = &payload[8..];
    if mlen > rest.len() as u64 {
        return Err(malformed(format!("metadata of {mlen} bytes does not fit in the payload")));
    }
    let (meta, mut blob) = rest.split_at(mlen as usize);
    let meta: Meta = serde_json::from_slice(meta).map_err(|e| malformed(format!("metadata: {e}")))?;
    let floats = meta.train_loss_len as u64
        + meta.model.iter().map(|(_, n)| *n as u64).sum::<u64>()
        + meta.opt.iter().flat_map(|(_, l)| l.iter()).map(|n| *n as u64).sum::<u64>();
    if floats.checked_mul(4) != Some(blob.len() as u64) {
        return Err(malformed(format!("the metadata lists {floats} numbers but {} bytes of them follow", blob.len())));
    }
    let mut take = |n: usize| -> Vec<f32> {
        let (a, b) = blob.split_at(4 * n);
        blob = b;
        a.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    };
    let train_loss = take(meta.train_loss_len);
    let model = meta.model.iter().map(|(name, n)| (name.clone(), take(*n))).collect();
    let opt = meta
        .opt
        .iter()
        .map(|(path, lens)| Slot { path: path.clone(), bufs: lens.iter().map(|n| take(*n)).collect() })
        .collect();
    Ok(Checkpoint {
        step: meta.step,
        config: meta.config,
        data_position: meta.data_position,
        pruner: meta.pruner,
        train_loss,
        val_curve: meta.val_curve.iter().map(|&(step, bits)| LossPoint { step, loss: f64::from_bits(bits) }).collect(),
        data_seen: meta.data_seen,
        elapsed_s: meta.elapsed_s,
        resumed_from: meta.resumed_from,
        opt_t: meta.opt_t,
        model,
        opt,
    })
}
