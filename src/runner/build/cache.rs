//! Where on-demand runners live and what names them.
//!
//! A runner is cached under `<cache>/runners/<id>/`, where `<cache>` is `$SPARSE_SCALING_CACHE`,
//! else `$XDG_CACHE_HOME/sparse-scaling`, else `$HOME/.cache/sparse-scaling`, and `<id>` is a
//! hash of what the runner's code depends on: the sorted set of shape keys, this tool's
//! version, the platform and the content of the sources it is compiled from (every `.rs`,
//! `.toml` and `.lock` file outside tests, benches, examples, docs and target folders). Values
//! that do not change code — sparsities, step counts, seeds, data — are not part of it, so
//! editing them reuses the runner; a new width (a new key) gets a new one.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::BuildError;
use crate::experiment::ShapeKey;

/// Overrides the cache folder.
pub const CACHE_VAR: &str = "SPARSE_SCALING_CACHE";
/// Overrides the sources the runner is compiled from (default: those this CLI was built from).
pub const SOURCES_VAR: &str = "SPARSE_SCALING_SRC";
/// Set (to the runner's id) in the environment of a runner the CLI starts; a runner started
/// so never builds another one.
pub const GUARD_VAR: &str = "SPARSE_SCALING_RUNNER";
/// The file name of an installed runner inside its cache folder.
pub const RUNNER_NAME: &str = "sparse-scaling-runner";

/// What building a runner reads from the environment, captured once (tests build their own).
#[derive(Debug, Clone, Default)]
pub struct BuildEnv {
    /// The cache folder (see the module docs), if one can be chosen.
    pub cache: Option<PathBuf>,
    /// The sparse-scaling sources.
    pub sources: PathBuf,
    /// `$CARGO`, when set.
    pub cargo: Option<PathBuf>,
    /// `$PATH`, when set.
    pub path: Option<OsString>,
    /// This process's executable.
    pub exe: Option<PathBuf>,
    /// The id of the runner this process is, when it was started as one ([`GUARD_VAR`]).
    pub guard: Option<String>,
}

impl BuildEnv {
    /// The environment of this process.
    pub fn from_env() -> BuildEnv {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        BuildEnv {
            cache: cache_root(var(CACHE_VAR), var("XDG_CACHE_HOME"), var("HOME")),
            sources: var(SOURCES_VAR).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
            cargo: var("CARGO").map(PathBuf::from),
            path: var("PATH"),
            exe: std::env::current_exe().ok(),
            guard: var(GUARD_VAR).map(|v| v.to_string_lossy().into_owned()),
        }
    }

    /// The cache folder, or why there is none.
    pub fn cache_dir(&self) -> Result<&Path, BuildError> {
        self.cache.as_deref().ok_or(BuildError::NoCacheDir)
    }
}

/// The cache folder from `$SPARSE_SCALING_CACHE`, `$XDG_CACHE_HOME` and `$HOME`, in that order.
pub fn cache_root(explicit: Option<OsString>, xdg: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    explicit
        .map(PathBuf::from)
        .or_else(|| xdg.map(|x| PathBuf::from(x).join("sparse-scaling")))
        .or_else(|| home.map(|h| PathBuf::from(h).join(".cache").join("sparse-scaling")))
}

/// The runner for one set of shape keys: its id and where it lives in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    /// The keys it is compiled for, sorted.
    pub keys: Vec<ShapeKey>,
    /// Its id (16 hex digits).
    pub id: String,
    /// `<cache>/runners/<id>`.
    pub folder: PathBuf,
}

impl Runner {
    /// The runner for `keys`, built from the sources of `env` (which must be a sparse-scaling
    /// checkout: their content is part of the id).
    pub fn locate(env: &BuildEnv, keys: &BTreeSet<ShapeKey>) -> Result<Runner, BuildError> {
        let cache = env.cache_dir()?;
        check_sources(&env.sources)?;
        let id = runner_id(keys, &source_digest(&env.sources)?);
        Ok(Runner { keys: keys.iter().copied().collect(), folder: cache.join("runners").join(&id), id })
    }

    /// The installed binary (it exists once the runner is built).
    pub fn binary(&self) -> PathBuf {
        self.folder.join(format!("{RUNNER_NAME}{}", std::env::consts::EXE_SUFFIX))
    }

    /// Whether the runner is built and installed.
    pub fn is_built(&self) -> bool {
        self.binary().is_file()
    }

    /// The folder of the generated crate.
    pub fn crate_dir(&self) -> PathBuf {
        self.folder.join("crate")
    }

    /// The full log of its last build.
    pub fn log(&self) -> PathBuf {
        self.folder.join("build.log")
    }

    /// The cargo package (and binary) name of the generated crate.
    pub fn package(&self) -> String {
        format!("sparse-scaling-runner-{}", self.id)
    }
}

/// The id of the runner for `keys` built from sources with digest `sources`: a hash of the
/// sorted keys, this tool's version, the platform and the sources.
pub fn runner_id(keys: &BTreeSet<ShapeKey>, sources: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("sparse-scaling runner\nversion {}\n", env!("CARGO_PKG_VERSION")));
    h.update(format!("platform {} {}\nsources {sources}\n", std::env::consts::ARCH, std::env::consts::OS));
    for key in keys {
        h.update(format!("{key:?}\n"));
    }
    hex(&h.finalize())[..16].to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that `path` holds the sparse-scaling sources: a Cargo.toml whose package is
/// `sparse-scaling`, and a Cargo.lock.
pub fn check_sources(path: &Path) -> Result<(), BuildError> {
    let problem =
        |problem: String| BuildError::Sources { path: path.to_path_buf(), problem, version: env!("CARGO_PKG_VERSION") };
    let manifest = path.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| problem(format!("have no readable Cargo.toml ({e})")))?;
    match package_name(&text) {
        Some(name) if name == "sparse-scaling" => {}
        Some(name) => return Err(problem(format!("are the package `{name}`, not `sparse-scaling`"))),
        None => return Err(problem("have a Cargo.toml without a [package] name".into())),
    }
    if !path.join("Cargo.lock").is_file() {
        return Err(problem("have no Cargo.lock".into()));
    }
    Ok(())
}

/// The `name` of the `[package]` section of a Cargo.toml.
pub fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package {
            if let Some(rest) = line.strip_prefix("name") {
                let value = rest.trim_start().strip_prefix('=')?.trim();
                return Some(value.trim_matches(|c| c == '"' || c == '\'').to_string());
            }
        }
    }
    None
}

/// Folders of the sources that do not go into the library (or are not sources at all).
const SKIPPED: &[&str] = &["target", "tests", "benches", "examples", "docs", "experiments", "results"];

/// A digest of the sources' content: every `.rs`, `.toml` and `.lock` file, by relative path,
/// outside hidden folders, [`SKIPPED`] ones and cache folders (with a `CACHEDIR.TAG`).
pub fn source_digest(root: &Path) -> Result<String, BuildError> {
    let mut files = Vec::new();
    collect(root, root, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    for rel in &files {
        let path = root.join(rel);
        let bytes =
            std::fs::read(&path).map_err(|source| BuildError::Io { action: "read the source file", path, source })?;
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex(&h.finalize()))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BuildError> {
    let io = |source| BuildError::Io { action: "list the source folder", path: dir.to_path_buf(), source };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            // a cache folder (ours writes the tag too) inside the sources is not a source
            let cache = entry.path().join("CACHEDIR.TAG").exists();
            if !name.starts_with('.') && !SKIPPED.contains(&name.as_ref()) && !cache {
                collect(root, &entry.path(), out)?;
            }
        } else if kind.is_file() && [".rs", ".toml", ".lock"].iter().any(|ext| name.ends_with(ext)) {
            out.push(entry.path().strip_prefix(root).unwrap_or(&entry.path()).to_path_buf());
        }
    }
    Ok(())
}
