//! What can go wrong while building or starting an on-demand runner; every message says how
//! to fix it.

use std::path::PathBuf;

use super::super::registry::UnsupportedSize;

/// An on-demand runner could not be found, built or started.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `--no-build` was given and the file needs shapes this binary does not have.
    #[error("{missing} of {points} points have model shapes that are not compiled into this binary, and `--no-build` forbids building them; the first:\n{first}\n  to build: run the same command without `--no-build`; it compiles a runner with exactly the file's {keys} shape(s) once (cached in {cache})")]
    NoBuild {
        /// The first point that needs a build (located in the file).
        first: Box<UnsupportedSize>,
        /// Points that need a build.
        missing: usize,
        /// Points in the file.
        points: usize,
        /// Distinct shapes of the file.
        keys: usize,
        /// Where the runner would be cached.
        cache: PathBuf,
    },
    /// A runner started by the CLI met a shape it lacks (it never builds another runner).
    #[error("this is an on-demand runner (started with {guard} set), and it lacks a shape of the file; the first:\n{first}\n  fix: delete the runner's cache folder {cache} and run the command again with `sparse-scaling`")]
    RunnerLacksShape {
        /// The first point it cannot train.
        first: Box<UnsupportedSize>,
        /// The guard variable.
        guard: &'static str,
        /// The runner cache.
        cache: PathBuf,
    },
    /// No cache folder can be chosen.
    #[error("no folder for the runner cache: none of SPARSE_SCALING_CACHE, XDG_CACHE_HOME and HOME is set\n  fix: set SPARSE_SCALING_CACHE to a writable folder")]
    NoCacheDir,
    /// The sources of `sparse-scaling` that the runner is compiled from are missing or wrong.
    #[error("cannot build a runner: the sparse-scaling sources at {path} {problem}\n  fix: set SPARSE_SCALING_SRC to a checkout of sparse-scaling {version} (the folder with its Cargo.toml and Cargo.lock), or use only shapes compiled into this binary (`sparse-scaling check FILE` lists them)")]
    Sources {
        /// Where the sources were looked for.
        path: PathBuf,
        /// What is wrong.
        problem: String,
        /// This CLI's version.
        version: &'static str,
    },
    /// cargo cannot be found.
    #[error("cannot build a runner: {problem}\n  fix: install Rust with rustup (https://rustup.rs) so that `cargo` is on PATH, or set CARGO to the cargo binary; or use only shapes compiled into this binary (`sparse-scaling check FILE` lists them)")]
    NoCargo {
        /// What was looked for.
        problem: String,
    },
    /// A file of the runner or its cache could not be written or read.
    #[error("cannot {action} {path}\n  fix: check that the runner cache is writable, or point SPARSE_SCALING_CACHE at another folder")]
    Io {
        /// What was attempted.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// cargo could not be started.
    #[error("cannot start {cargo}")]
    Spawn {
        /// The cargo binary.
        cargo: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// cargo ran and failed.
    #[error("building the runner failed ({status}); the last lines of {log}:\n{tail}\n  fix: read the full log {log}; if a dependency is missing offline, build the CLI itself once (`cargo build --release` in the sources) so that every dependency is downloaded")]
    Cargo {
        /// cargo's exit status.
        status: String,
        /// The full build log.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// cargo succeeded but the binary is not where it should be.
    #[error("cargo built the runner but {path} does not exist\n  fix: check that CARGO_TARGET_DIR and the build configuration do not move binaries, then run again")]
    NoBinary {
        /// Where the binary was expected.
        path: PathBuf,
    },
    /// The runner could not be started.
    #[error(
        "cannot start the runner {path}\n  fix: delete its cache folder {folder} and run again, so that it is rebuilt"
    )]
    Exec {
        /// The runner.
        path: PathBuf,
        /// Its cache folder.
        folder: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}
