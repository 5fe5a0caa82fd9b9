//! On-demand runners: how `sparse-scaling run FILE.ron` trains shapes that are not compiled
//! into the CLI (docs/THEORY.md §5: dfdx fixes parameter shapes at compile time).
//!
//! When a file's shape keys are not all in the CLI's table, the CLI generates a small crate
//! ([`generate`]) that declares the file with `sweep!` — a size table with exactly its keys —
//! and calls the same entry point, `sparse_scaling::cli::main`, with that table; builds it
//! once with cargo ([`cargo`]), offline, pinned to the CLI's lockfile and reusing the CLI's
//! compiled dependencies; caches the binary under an id of the key set, the version and the
//! sources ([`cache`]); and runs the same command line through it, with [`GUARD_VAR`] set so
//! that a runner never builds another. A second run of the file (or of the file with other
//! sparsities, step counts or seeds) finds the runner built and starts it at once.
//!
//! Concurrent builders are safe: each file of the crate, the build log and the installed binary
//! are written under a temporary name and renamed into place, and cargo serialises builds in one
//! target folder.

pub mod cache;
pub mod cargo;
mod error;
pub mod generate;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use cache::{BuildEnv, Runner, CACHE_VAR, GUARD_VAR, SOURCES_VAR};
pub use error::BuildError;

use super::registry::{SizeTable, UnsupportedSize};
use crate::experiment::{ExperimentFile, Point, ShapeKey};

/// The distinct shape keys of some points, sorted.
pub fn keys_of(points: &[Point]) -> BTreeSet<ShapeKey> {
    points.iter().map(|p| ShapeKey::of(&p.spec)).collect()
}

/// Where a shape of a file stands in this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeStatus {
    /// Compiled into this binary.
    Compiled,
    /// In the file's runner, already built (the path of its binary).
    Cached(PathBuf),
    /// In the file's runner, which the first `run` builds (into this folder).
    ToBuild(PathBuf),
    /// Not compiled, and no runner can be built here (why).
    Unbuildable(String),
}

/// The status of each shape key of `points` for a binary whose table is `T`.
pub fn shape_statuses<T: SizeTable>(env: &BuildEnv, points: &[Point]) -> Vec<(ShapeKey, ShapeStatus)> {
    let keys = keys_of(points);
    let runner = if keys.iter().all(|k| T::keys().contains(k)) {
        None
    } else {
        Some(
            Runner::locate(env, &keys)
                .map(|r| if r.is_built() { ShapeStatus::Cached(r.binary()) } else { ShapeStatus::ToBuild(r.folder) })
                .unwrap_or_else(|e| ShapeStatus::Unbuildable(crate::error_chain(&e))),
        )
    };
    keys.into_iter()
        .map(|k| {
            let status = if T::keys().contains(&k) {
                ShapeStatus::Compiled
            } else {
                runner.clone().unwrap_or(ShapeStatus::Compiled)
            };
            (k, status)
        })
        .collect()
}

/// The runner for the points of `file`, built if it is not yet (unless `no_build`, which
/// refuses then). `missing` are the points this binary cannot train, located in the file.
pub fn prepare(
    env: &BuildEnv,
    file: &ExperimentFile,
    points: &[Point],
    missing: Vec<UnsupportedSize>,
    no_build: bool,
) -> Result<Runner, BuildError> {
    let keys = keys_of(points);
    let Some(first) = missing.first().cloned() else {
        unreachable!("prepare is called for files with shapes this binary lacks")
    };
    if env.guard.is_some() {
        let cache = env.cache.clone().unwrap_or_default();
        return Err(BuildError::RunnerLacksShape { first: Box::new(first), guard: GUARD_VAR, cache });
    }
    let located = Runner::locate(env, &keys);
    let refuse = |cache: PathBuf| BuildError::NoBuild {
        first: Box::new(first.clone()),
        missing: missing.len(),
        points: points.len(),
        keys: keys.len(),
        cache,
    };
    let runner = match located {
        Ok(r) if r.is_built() => {
            crate::cli::output::eprintln(format_args!(
                "{}: {} of its {} model shape(s) are not compiled into this binary; using the runner built for them: {}",
                file.path.display(),
                keys.iter().filter(|k| missing.iter().any(|m| m.key == **k)).count(),
                keys.len(),
                r.binary().display()
            ));
            return Ok(r);
        }
        Ok(r) if no_build => return Err(refuse(r.folder)),
        Err(_) if no_build => return Err(refuse(env.cache.clone().unwrap_or_default())),
        other => other?,
    };
    crate::cli::output::eprintln(format_args!(
        "{}: {} of its {} model shape(s) are not compiled into this binary; building a runner with exactly its shapes (once; cached in {})",
        file.path.display(),
        keys.iter().filter(|k| missing.iter().any(|m| m.key == **k)).count(),
        keys.len(),
        runner.folder.display()
    ));
    let start = Instant::now();
    build(env, file, &runner)?;
    crate::cli::output::eprintln(format_args!(
        "built the runner in {:.0} s: {}",
        start.elapsed().as_secs_f64(),
        runner.binary().display()
    ));
    Ok(runner)
}

/// Generates, compiles and installs `runner` for `file`.
pub fn build(env: &BuildEnv, file: &ExperimentFile, runner: &Runner) -> Result<(), BuildError> {
    let cargo_bin = cargo::locate_cargo(env)?;
    let cache = env.cache_dir()?;
    std::fs::create_dir_all(&runner.folder).map_err(|source| BuildError::Io {
        action: "create",
        path: runner.folder.clone(),
        source,
    })?;
    let tag = cache.join("CACHEDIR.TAG");
    if !tag.exists() {
        generate::write_atomic(
            &tag,
            b"Signature: 8a477f597d28d172789f06886806bc55\n# runners built on demand by sparse-scaling\n",
        )?;
    }
    generate::write_crate(runner, &generate::crate_files(runner, &env.sources, file))?;
    let target = cargo::target_dir(env, cache);
    let what = format!("a runner for {} shape(s)", runner.keys.len());
    // each builder logs to its own file, which then becomes `build.log`
    let log = runner.folder.join(format!(".build.{}.log", std::process::id()));
    let built = cargo::build(&cargo_bin, &runner.crate_dir(), &target, &log, &what);
    std::fs::rename(&log, runner.log()).map_err(|source| BuildError::Io {
        action: "write",
        path: runner.log(),
        source,
    })?;
    built.map_err(|e| match e {
        BuildError::Cargo { status, tail, .. } => BuildError::Cargo { status, log: runner.log(), tail },
        other => other,
    })?;
    let built = target.join("release").join(format!("{}{}", runner.package(), std::env::consts::EXE_SUFFIX));
    install(&built, &runner.binary())
}

/// Puts `built` at `dest` atomically: a hard link (or copy) under a temporary name, renamed.
fn install(built: &Path, dest: &Path) -> Result<(), BuildError> {
    if !built.is_file() {
        return Err(BuildError::NoBinary { path: built.to_path_buf() });
    }
    let tmp = dest.with_file_name(format!(".{}.{}.tmp", cache::RUNNER_NAME, std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(built, &tmp).is_err() {
        std::fs::copy(built, &tmp).map_err(|source| BuildError::Io {
            action: "copy the runner to",
            path: tmp.clone(),
            source,
        })?;
    }
    std::fs::rename(&tmp, dest).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        BuildError::Io { action: "install the runner as", path: dest.to_path_buf(), source }
    })
}

/// Runs this process's command line through `runner` and returns its exit status (on Unix the
/// runner replaces this process, so this returns only when it cannot be started).
pub fn exec(runner: &Runner) -> Result<i32, BuildError> {
    let _ = std::io::stdout().flush();
    let mut cmd = std::process::Command::new(runner.binary());
    cmd.args(std::env::args_os().skip(1)).env(GUARD_VAR, &runner.id);
    let fail = |source| BuildError::Exec { path: runner.binary(), folder: runner.folder.clone(), source };
    exec_command(cmd).map_err(fail)
}

#[cfg(unix)]
fn exec_command(mut cmd: std::process::Command) -> std::io::Result<i32> {
    use std::os::unix::process::CommandExt;
    Err(cmd.exec())
}

#[cfg(not(unix))]
fn exec_command(mut cmd: std::process::Command) -> std::io::Result<i32> {
    Ok(cmd.status()?.code().unwrap_or(1))
}

#[cfg(test)]
mod tests;
