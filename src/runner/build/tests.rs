//! Unit tests of on-demand runners without cargo: the cache id, the generated crate, the
//! target folder and every error a user can meet before or during a build.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::cache::{self, BuildEnv, Runner};
use super::{cargo, generate, keys_of, prepare, shape_statuses, BuildError, ShapeStatus};
use crate::experiment::{ExperimentFile, ShapeKey};
use crate::runner::registry::{self, Builtin};

const STUDY: &str = r#"(
    name: "study",
    model: (family: Vit, sizes: Widths([16, 40]), heads: 2, depth: 1, vit: (image_size: 8, patch_size: 4)),
    sparsity: [0.0, 0.5],
    steps: [10, 20],
)"#;

fn keys(text: &str) -> BTreeSet<ShapeKey> {
    keys_of(&ExperimentFile::from_str("study.ron", text).unwrap().expand().unwrap())
}

fn sources() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env_in(cache: &Path) -> BuildEnv {
    BuildEnv { cache: Some(cache.to_path_buf()), sources: sources(), ..BuildEnv::default() }
}

#[test]
fn the_id_ignores_sparsity_and_steps_and_follows_the_shapes() {
    let base = cache::runner_id(&keys(STUDY), "sources");
    let edited = STUDY.replace("[0.0, 0.5]", "[0.25, 0.75, 0.9]").replace("[10, 20]", "[7]");
    assert_eq!(cache::runner_id(&keys(&edited), "sources"), base, "sparsity and steps do not change code");
    let wider = STUDY.replace("Widths([16, 40])", "Widths([16, 40, 64])");
    assert_ne!(cache::runner_id(&keys(&wider), "sources"), base, "a width is a new shape");
    let deeper = STUDY.replace("depth: 1", "depth: 2");
    assert_ne!(cache::runner_id(&keys(&deeper), "sources"), base, "so is a depth");
    assert_ne!(cache::runner_id(&keys(STUDY), "other sources"), base, "and other sources");
    assert_eq!(base.len(), 16);
    assert!(base.chars().all(|c| c.is_ascii_hexdigit()), "{base}");
}

#[test]
fn a_runner_lives_under_the_cache_by_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Runner::locate(&env_in(dir.path()), &keys(STUDY)).unwrap();
    assert_eq!(runner.folder, dir.path().join("runners").join(&runner.id));
    assert_eq!(runner.keys.len(), 2);
    assert!(!runner.is_built());
    // the same sources and keys give the same runner; the digest is of the sources' content
    assert_eq!(Runner::locate(&env_in(dir.path()), &keys(STUDY)).unwrap(), runner);
    assert_eq!(cache::source_digest(&sources()).unwrap(), cache::source_digest(&sources()).unwrap());
}

#[test]
fn the_cache_folder_follows_the_environment() {
    let some = |s: &str| Some(std::ffi::OsString::from(s));
    assert_eq!(cache::cache_root(some("/c"), some("/x"), some("/h")), Some(PathBuf::from("/c")));
    assert_eq!(cache::cache_root(None, some("/x"), some("/h")), Some(PathBuf::from("/x/sparse-scaling")));
    assert_eq!(cache::cache_root(None, None, some("/h")), Some(PathBuf::from("/h/.cache/sparse-scaling")));
    assert_eq!(cache::cache_root(None, None, None), None);
    let e = BuildEnv::default().cache_dir().unwrap_err();
    assert!(e.to_string().contains("SPARSE_SCALING_CACHE"), "{e}");
}

#[test]
fn the_generated_crate_pins_the_clis_sources_profile_and_lockfile() {
    let dir = tempfile::tempdir().unwrap();
    let file = ExperimentFile::from_str("study.ron", STUDY).unwrap();
    let runner = Runner::locate(&env_in(dir.path()), &keys(STUDY)).unwrap();
    let files = generate::crate_files(&runner, &sources(), &file);
    let manifest_dir = env!("CARGO_MANIFEST_DIR");
    assert!(
        files.manifest.contains(&format!("sparse-scaling = {{ path = {} }}", generate::toml_string(manifest_dir))),
        "{}",
        files.manifest
    );
    assert!(files.manifest.lines().any(|l| l == "[workspace]"), "standalone: {}", files.manifest);
    assert!(files.manifest.contains(&format!("name = \"sparse-scaling-runner-{}\"", runner.id)));
    // the root manifest's [profile.release], line for line
    let root = std::fs::read_to_string(sources().join("Cargo.toml")).unwrap();
    let profile: Vec<&str> = root
        .lines()
        .skip_while(|l| l.trim() != "[profile.release]")
        .take_while(|l| l.trim() == "[profile.release]" || !l.trim_start().starts_with('['))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(profile.len() > 1, "the root manifest has a release profile");
    let at = files.manifest.find("[profile.release]").expect("a release profile");
    let copied: Vec<&str> = files.manifest[at..].lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(copied, profile);
    assert_eq!(files.lock, std::fs::read_to_string(sources().join("Cargo.lock")).unwrap());
    assert!(files.main.contains("sparse_scaling::sweep!(mod study = \"study.ron\");"), "{}", files.main);
    assert!(files.main.contains("sparse_scaling::cli::main::<study::Sizes>()"), "{}", files.main);
    assert_eq!(files.study, STUDY, "the experiment is copied as written");

    generate::write_crate(&runner, &files).unwrap();
    let dir = runner.crate_dir();
    assert_eq!(std::fs::read_to_string(dir.join("Cargo.toml")).unwrap(), files.manifest);
    assert_eq!(std::fs::read_to_string(dir.join("src/main.rs")).unwrap(), files.main);
    assert_eq!(std::fs::read_to_string(dir.join("study.ron")).unwrap(), STUDY);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 4, "no temporary files are left");
}

#[test]
fn a_relative_data_path_is_made_absolute_in_the_copy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("corpus")).unwrap();
    let text = STUDY.replace("steps:", "data: ImageFolder(path: \"corpus\"),\n    steps:");
    let file = ExperimentFile::from_str(dir.path().join("study.ron"), &text).unwrap();
    let copy = generate::study_text(&file);
    let back = ExperimentFile::from_str("copy.ron", &copy).unwrap();
    let expected = dir.path().join("corpus").to_string_lossy().into_owned();
    assert_eq!(
        back.experiment.data,
        crate::experiment::Data::ImageFolder { path: expected, resize: crate::experiment::Resize::Bilinear }
    );
    assert_eq!(keys_of(&back.expand().unwrap()), keys(STUDY), "the copy has the file's shapes");
}

#[test]
fn toml_strings_escape_quotes_and_backslashes() {
    assert_eq!(generate::toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
}

#[test]
fn missing_or_wrong_sources_say_how_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing");
    let e = cache::check_sources(&missing).unwrap_err().to_string();
    assert!(e.contains("no readable Cargo.toml") && e.contains("SPARSE_SCALING_SRC"), "{e}");

    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("Cargo.toml"), "[package]\nname = \"other\"\nversion = \"1.0.0\"\n").unwrap();
    let e = cache::check_sources(&other).unwrap_err().to_string();
    assert!(e.contains("the package `other`, not `sparse-scaling`"), "{e}");

    let nolock = dir.path().join("nolock");
    std::fs::create_dir(&nolock).unwrap();
    std::fs::copy(sources().join("Cargo.toml"), nolock.join("Cargo.toml")).unwrap();
    let e = cache::check_sources(&nolock).unwrap_err().to_string();
    assert!(e.contains("no Cargo.lock"), "{e}");

    // through the path `run` takes
    let env = BuildEnv { cache: Some(dir.path().join("cache")), sources: other, ..BuildEnv::default() };
    assert!(matches!(Runner::locate(&env, &keys(STUDY)), Err(BuildError::Sources { .. })));
}

#[test]
fn a_missing_cargo_says_how_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let env = BuildEnv { cargo: Some(dir.path().join("no-cargo")), ..BuildEnv::default() };
    let e = cargo::locate_cargo(&env).unwrap_err().to_string();
    assert!(e.contains("CARGO is set to") && e.contains("no-cargo") && e.contains("rustup"), "{e}");
    let env = BuildEnv { path: Some(dir.path().as_os_str().to_owned()), ..BuildEnv::default() };
    let e = cargo::locate_cargo(&env).unwrap_err().to_string();
    assert!(e.contains("not on PATH"), "{e}");
    // cargo on PATH is found
    let fake = dir.path().join(format!("cargo{}", std::env::consts::EXE_SUFFIX));
    std::fs::write(&fake, "").unwrap();
    assert_eq!(cargo::locate_cargo(&env).unwrap(), fake);
}

#[cfg(unix)]
#[test]
fn a_failing_build_shows_the_tail_of_its_log() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("cargo");
    let script = "#!/bin/sh\necho \"args: $*\" >&2\nfor i in $(seq 1 40); do echo \"line $i\" >&2; done\n\
                  echo 'error[E0308]: mismatched types' >&2\nexit 101\n";
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = BuildEnv {
        cache: Some(dir.path().join("cache")),
        sources: sources(),
        cargo: Some(fake),
        ..BuildEnv::default()
    };
    let file = ExperimentFile::from_str("study.ron", STUDY).unwrap();
    let runner = Runner::locate(&env, &keys(STUDY)).unwrap();
    let e = super::build(&env, &file, &runner).unwrap_err();
    let BuildError::Cargo { log, tail, .. } = &e else { panic!("{e}") };
    assert_eq!(log, &runner.log());
    let text = e.to_string();
    assert!(text.contains("mismatched types") && text.contains("line 40") && !text.contains("line 10\n"), "{text}");
    assert_eq!(tail.lines().count(), cargo::TAIL_LINES);
    let full = std::fs::read_to_string(log).unwrap();
    assert!(full.contains("args: build --release --offline") && full.contains("line 1\n"), "{full}");
    assert!(!runner.is_built());
    // the crate was generated before cargo ran, and the cache is tagged
    assert!(runner.crate_dir().join("Cargo.toml").is_file());
    assert!(dir.path().join("cache/CACHEDIR.TAG").is_file());
}

#[test]
fn the_clis_own_target_folder_is_reused_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    let exe = target.join("release").join(format!("sparse-scaling{}", std::env::consts::EXE_SUFFIX));
    let cache = dir.path().join("cache");
    let env = BuildEnv { exe: Some(exe.clone()), ..BuildEnv::default() };
    assert_eq!(cargo::target_dir(&env, &cache), cache.join("target"), "not a cargo target folder");
    std::fs::write(target.join("CACHEDIR.TAG"), "Signature: 8a477f597d28d172789f06886806bc55").unwrap();
    assert_eq!(cargo::target_dir(&env, &cache), target);
    let installed = BuildEnv { exe: Some(dir.path().join("bin/sparse-scaling")), ..BuildEnv::default() };
    assert_eq!(cargo::target_dir(&installed, &cache), cache.join("target"));
}

#[test]
fn no_build_refuses_with_the_located_shape_and_how_to_build() {
    let dir = tempfile::tempdir().unwrap();
    let file = ExperimentFile::from_str("study.ron", STUDY).unwrap();
    let points = file.expand().unwrap();
    let missing = registry::missing_in_file::<Builtin>(&file, &points);
    assert_eq!(missing.len(), points.len(), "depth 1 on 8×8 images is not built in");
    let env = env_in(dir.path());
    let e = prepare(&env, &file, &points, missing.clone(), true).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("`--no-build` forbids building"), "{text}");
    assert!(text.contains("study.ron:3:41: (model.sizes[0]) point 0 needs a vit width 16"), "{text}");
    assert!(text.contains("without `--no-build`") && text.contains(&dir.path().display().to_string()), "{text}");
    assert!(!dir.path().join("runners").exists(), "nothing was generated");
    // check's view: every shape is to be built, into the runner's folder
    let runner = Runner::locate(&env, &keys(STUDY)).unwrap();
    let statuses = shape_statuses::<Builtin>(&env, &points);
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|(_, s)| *s == ShapeStatus::ToBuild(runner.folder.clone())), "{statuses:?}");
    // a runner started by the CLI never builds another one
    let guarded = BuildEnv { guard: Some(runner.id.clone()), ..env };
    let e = prepare(&guarded, &file, &points, missing, false).unwrap_err();
    assert!(matches!(e, BuildError::RunnerLacksShape { .. }), "{e}");
}
