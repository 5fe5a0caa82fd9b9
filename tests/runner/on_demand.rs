//! A `.ron` whose model shape is not compiled into the CLI runs with one command: `run`
//! generates a runner crate that declares the file with `sweep!`, builds it in release with
//! cargo (offline, the CLI's lockfile, the CLI's target folder), caches it, and runs the same
//! command through it; a second run of the file with other step counts and sparsities starts
//! the cached runner without building, and `--no-build` refuses a shape no runner has yet.
//!
//! This is the one test that really compiles a runner (a release build of the library and a
//! depth-1 ViT); CI builds the CLI in release first, so the dependencies are already compiled.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// ViT of depth 1, width 16, on 8×8 images in 4×4 patches, 4 classes: not a built-in shape.
const TINY: &str = r#"(
    name: "on-demand",
    model: (family: Vit, sizes: Widths([16]), heads: 2, depth: 1, vit: (image_size: 8, patch_size: 4, classes: 4)),
    sparsity: [0.0, 0.5],
    pruning: [Gmp(update_every: 1)],
    steps: [3],
    batch_size: 4,
    optimizer: AdamW(lr: 2e-3),
    validation: (examples: 8, every: 3),
)"#;

fn run(cache: &Path, args: &[&std::ffi::OsStr]) -> (Output, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sparse-scaling"))
        .args(args)
        .env("SPARSE_SCALING_CACHE", cache)
        .env_remove("SPARSE_SCALING_RUNNER")
        .env_remove("SPARSE_SCALING_SRC")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// The installed runners of a cache.
fn runners(cache: &Path) -> Vec<PathBuf> {
    let Ok(dirs) = std::fs::read_dir(cache.join("runners")) else { return Vec::new() };
    dirs.map(|d| d.unwrap().path().join("sparse-scaling-runner")).filter(|p| p.is_file()).collect()
}

fn records(results: &Path) -> usize {
    std::fs::read_dir(results.join("points"))
        .map(|d| d.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json")).count())
        .unwrap_or(0)
}

#[test]
fn a_new_shape_is_built_once_then_the_cached_runner_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let exp = dir.path().join("tiny.ron");
    std::fs::write(&exp, TINY).unwrap();

    // check needs no model code: valid, and the shape is to be built by the first run
    let (out, stdout, stderr) = run(&cache, &["check".as_ref(), exp.as_os_str()]);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("vit width 16 (MLP width 64), depth 1") && stdout.contains("the first `run` builds"),
        "{stdout}"
    );

    // first run: builds the runner, then trains through it
    let results = dir.path().join("results");
    let args = ["run".as_ref(), exp.as_os_str(), "--results".as_ref(), results.as_os_str(), "--no-progress".as_ref()];
    let (out, stdout, stderr) = run(&cache, &args);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("building a runner with exactly its shapes"), "{stderr}");
    assert!(stdout.contains("trained 2"), "{stdout}");
    assert_eq!(records(&results), 2);
    assert!(results.join("report").join("points.csv").is_file());
    let built = runners(&cache);
    assert_eq!(built.len(), 1, "one runner: {built:?}");
    let log = built[0].with_file_name("build.log");
    assert!(std::fs::read_to_string(&log).unwrap().contains("Compiling sparse-scaling-runner-"), "{}", log.display());
    let mtime = std::fs::metadata(&built[0]).unwrap().modified().unwrap();

    // the file with other step counts and sparsities has the same shape: no build
    let edited = TINY.replace("steps: [3]", "steps: [2]").replace("[0.0, 0.5]", "[0.0, 0.25]");
    std::fs::write(&exp, edited).unwrap();
    let (out, stdout, stderr) = run(&cache, &args);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("using the runner built for them") && !stderr.contains("building"), "{stderr}");
    assert!(stdout.contains("trained 2"), "{stdout}");
    assert_eq!(records(&results), 4);
    assert_eq!(runners(&cache), built);
    assert_eq!(std::fs::metadata(&built[0]).unwrap().modified().unwrap(), mtime, "the runner was not rebuilt");
    let (out, stdout, _) = run(&cache, &["check".as_ref(), exp.as_os_str()]);
    assert!(out.status.success() && stdout.contains("in the runner already built for this file"), "{stdout}");

    // a second width is a new shape: `--no-build` refuses it, at the width in the file
    std::fs::write(&exp, TINY.replace("Widths([16])", "Widths([16, 32])")).unwrap();
    let (out, stdout, stderr) = run(&cache, &[args.as_slice(), &["--no-build".as_ref()]].concat());
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("`--no-build` forbids building") && stderr.contains("tiny.ron:3:"), "{stderr}");
    assert!(stderr.contains("without `--no-build`"), "{stderr}");
    assert_eq!(runners(&cache).len(), 1, "nothing was built");
}
