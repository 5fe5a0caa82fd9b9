//! Compiling a runner's crate with cargo: `cargo build --release --offline`, into the CLI's own
//! target folder when it has one (so its compiled dependencies are reused), showing one
//! progress line with cargo's current step (plain lines when stderr is not a terminal), the
//! whole output in the runner's `build.log`, and the log's tail when cargo fails.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::cache::BuildEnv;
use super::error::BuildError;

/// Lines of the log shown when a build fails.
pub const TAIL_LINES: usize = 30;

/// The cargo binary: `$CARGO`, else `cargo` on `$PATH`.
pub fn locate_cargo(env: &BuildEnv) -> Result<PathBuf, BuildError> {
    if let Some(cargo) = &env.cargo {
        return if cargo.is_file() {
            Ok(cargo.clone())
        } else {
            Err(BuildError::NoCargo { problem: format!("CARGO is set to {}, which is not a file", cargo.display()) })
        };
    }
    let name = format!("cargo{}", std::env::consts::EXE_SUFFIX);
    env.path
        .as_ref()
        .and_then(|path| std::env::split_paths(path).map(|dir| dir.join(&name)).find(|p| p.is_file()))
        .ok_or_else(|| BuildError::NoCargo { problem: "`cargo` is not on PATH and CARGO is not set".into() })
}

/// The target folder of a runner build: the CLI's own, when this executable is
/// `<dir>/release/sparse-scaling` or `<dir>/debug/sparse-scaling` and `<dir>` is a cargo
/// target folder (it has a `CACHEDIR.TAG`); else `target/` in the cache.
pub fn target_dir(env: &BuildEnv, cache: &Path) -> PathBuf {
    let cli_target = env.exe.as_deref().and_then(|exe| {
        let profile = exe.parent()?;
        let is_cli = exe.file_stem()? == "sparse-scaling";
        let is_profile = matches!(profile.file_name()?.to_str()?, "release" | "debug");
        let dir = profile.parent()?;
        (is_cli && is_profile && dir.join("CACHEDIR.TAG").is_file()).then(|| dir.to_path_buf())
    });
    cli_target.unwrap_or_else(|| cache.join("target"))
}

/// Runs `cargo build --release --offline` on the crate at `crate_dir` with `CARGO_TARGET_DIR`
/// set to `target`, writing everything cargo prints into `log`.
pub fn build(cargo: &Path, crate_dir: &Path, target: &Path, log: &Path, what: &str) -> Result<(), BuildError> {
    let io = |action| move |source| BuildError::Io { action, path: log.to_path_buf(), source };
    let mut file = std::fs::File::create(log).map_err(io("create"))?;
    let _ = writeln!(
        file,
        "$ CARGO_TARGET_DIR={} {} build --release --offline   (in {})",
        target.display(),
        cargo.display(),
        crate_dir.display()
    );
    let stdout = file.try_clone().map_err(io("write"))?;
    let mut child = Command::new(cargo)
        .args(["build", "--release", "--offline", "--color", "never"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_TERM_PROGRESS_WHEN", "never")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BuildError::Spawn { cargo: cargo.to_path_buf(), source })?;

    let terminal = std::io::stderr().is_terminal();
    let spinner = if terminal {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {wide_msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("building {what}"));
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    } else {
        None
    };
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(file, "{line}");
            let step = line.trim_start();
            let is_step =
                ["Compiling", "Blocking", "Updating", "Locking", "Finished"].iter().any(|w| step.starts_with(w));
            if is_step {
                match &spinner {
                    Some(bar) => bar.set_message(step.to_string()),
                    None => crate::cli::output::eprintln(format_args!("building {what}: {step}")),
                }
            }
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
    let status = child.wait().map_err(|source| BuildError::Spawn { cargo: cargo.to_path_buf(), source })?;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    if status.success() {
        Ok(())
    } else {
        let tail: Vec<String> = tail.into_iter().map(|l| format!("    {l}")).collect();
        Err(BuildError::Cargo { status: status.to_string(), log: log.to_path_buf(), tail: tail.join("\n") })
    }
}
