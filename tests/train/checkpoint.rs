//! A damaged or foreign checkpoint gives a clear error naming the file and the way out
//! ("delete it to restart the point"), never a panic (issue 3, bad input).

use crate::train_support;

use std::path::{Path, PathBuf};

use sparse_scaling::train::checkpoint::{self, CheckpointError, MAGIC};
use sparse_scaling::train::{train, AdamWConfig, LoopOptions, OptimizerConfig, TrainConfig, TrainError};
use train_support::*;

fn cfg() -> TrainConfig {
    TrainConfig {
        steps: 6,
        batch_size: 8,
        optimizer: OptimizerConfig::AdamW(AdamWConfig { warmup_steps: 1, ..Default::default() }),
        grad_clip: Some(1.0),
        eval_every: 3,
        seed: 1,
    }
}

fn run(ck: &Path, c: &TrainConfig, stop: Option<u64>) -> Result<(), TrainError> {
    let mut model = tiny(1);
    let mut pruner = TestPruner::new(&model, 2, 0.5, 0.5, 0);
    let mut stream = Stream::new(5, 8);
    let val = stream.validation(1);
    let opts = LoopOptions { checkpoint: Some(ck.to_path_buf()), stop_after: stop, ..Default::default() };
    train(&mut model, &mut stream, &val, c, &mut pruner, &opts).map(|_| ())
}

/// A valid checkpoint written after 3 of 6 steps, and its bytes.
fn good() -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("point.ckpt");
    assert!(matches!(run(&ck, &cfg(), Some(3)), Err(TrainError::Stopped { step: 3, .. })));
    let bytes = std::fs::read(&ck).unwrap();
    (dir, ck, bytes)
}

fn resume_error(ck: &Path, bytes: &[u8]) -> TrainError {
    std::fs::write(ck, bytes).unwrap();
    let e = run(ck, &cfg(), None).expect_err("a damaged checkpoint must be refused");
    let msg = e.to_string();
    assert!(msg.contains(&ck.display().to_string()), "the message names the file: {msg}");
    assert!(msg.contains("delete it"), "the message says how to recover: {msg}");
    e
}

#[test]
fn checkpoint_round_trips() {
    let (_d, ck, bytes) = good();
    let a = checkpoint::load(&ck).unwrap();
    checkpoint::save(&ck, &a).unwrap();
    assert_eq!(std::fs::read(&ck).unwrap(), bytes, "save(load(f)) reproduces f byte for byte");
    assert_eq!(a.step, 3);
    assert_eq!(a.train_loss.len(), 3);
    assert_eq!(&bytes[..8], &MAGIC);
    // no temporary file is left beside it
    let names: Vec<_> = std::fs::read_dir(ck.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn every_flipped_byte_is_caught() {
    let (_d, ck, bytes) = good();
    // every byte of the header and a spread of payload bytes
    let mut positions: Vec<usize> = (0..60).collect();
    positions.extend((60..bytes.len()).step_by(97));
    positions.push(bytes.len() - 1);
    for &i in &positions {
        let mut b = bytes.clone();
        b[i] ^= 0x10;
        let e = resume_error(&ck, &b);
        let ok = match (&e, i) {
            (TrainError::Checkpoint(CheckpointError::BadMagic { .. }), 0..=7) => true,
            (TrainError::Checkpoint(CheckpointError::Version { found, .. }), 8..=11) => *found != 1,
            (
                TrainError::Checkpoint(CheckpointError::Truncated { .. } | CheckpointError::Malformed { .. }),
                12..=19,
            ) => true,
            (TrainError::Checkpoint(CheckpointError::Checksum { .. }), 20..) => true,
            _ => false,
        };
        assert!(ok, "byte {i}: unexpected error {e:?}");
    }
}

#[test]
fn truncated_files_are_caught() {
    let (_d, ck, bytes) = good();
    for len in [0, 3, 8, 30, 51, 52, 60, bytes.len() / 2, bytes.len() - 1] {
        let e = resume_error(&ck, &bytes[..len]);
        assert!(matches!(e, TrainError::Checkpoint(CheckpointError::Truncated { .. })), "length {len}: {e:?}");
        assert!(e.to_string().contains("truncated"));
    }
}

#[test]
fn foreign_files_are_caught() {
    let (_d, ck, _) = good();
    for junk in [
        &b"{\"step\": 3}"[..],
        b"SSCKPT\n\n0000000000000000000000000000000000000000000000000000",
        b"\x89PNG\r\n\x1a\n....",
    ] {
        let e = resume_error(&ck, junk);
        assert!(matches!(e, TrainError::Checkpoint(CheckpointError::BadMagic { .. })), "{e:?}");
        assert!(e.to_string().contains("not a sparse-scaling checkpoint"));
    }
}

#[test]
fn a_checkpoint_of_another_run_is_refused() {
    let (_d, ck, bytes) = good();
    std::fs::write(&ck, &bytes).unwrap();
    let mut other = cfg();
    other.seed = 2;
    let e = run(&ck, &other, None).unwrap_err();
    assert!(matches!(e, TrainError::Checkpoint(CheckpointError::Mismatch { .. })), "{e:?}");
    assert!(e.to_string().contains("different run"));
    // the refused checkpoint is left as it was
    assert_eq!(std::fs::read(&ck).unwrap(), bytes);
}

#[test]
fn an_unreadable_path_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    // a folder where the checkpoint file should be
    let ck = dir.path().join("ck");
    std::fs::create_dir(&ck).unwrap();
    let e = run(&ck, &cfg(), None).unwrap_err();
    assert!(matches!(e, TrainError::Checkpoint(CheckpointError::Io { .. })), "{e:?}");
    assert!(e.to_string().contains(&ck.display().to_string()));
}
