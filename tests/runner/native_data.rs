//! Real data at its native size and depth as an axis, end to end: a CIFAR-10 binary written
//! here trains at 32×32 (patch 4: 64 tokens) when the file declares 32×32, and is resized with
//! the named filter (which `check` states) when it declares another size; an image folder with
//! another number of classes than declared is an error naming both; the synthetic stream
//! renders at the declared shape; the run log says what the loader read; a depth axis reaches
//! the report's tables.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use sparse_scaling::data::Stream;
use sparse_scaling::experiment::{Experiment, ExperimentFile, Point, ShapeKey};
use sparse_scaling::law::data::CsvMapping;
use sparse_scaling::law::Observations;
use sparse_scaling::model::{Vit, VitConfig};
use sparse_scaling::runner::streams::{describe_data, image_stream, StreamError};
use sparse_scaling::runner::{self, RunOptions};

use crate::runner_support::{text, KnownLaw};

fn point(model: &str, data: &str) -> Point {
    let ron = format!(
        r#"(name: "native", model: {model}, steps: [2], batch_size: 4, data: {data}, validation: (examples: 6))"#
    );
    Experiment::from_ron_str(&ron).unwrap().expand().unwrap().remove(0)
}

/// `n` CIFAR-10 records (label k mod 10, pixels a function of k) in `dir/cifar/data_batch_1.bin`.
fn write_cifar(dir: &Path, n: usize) {
    let bins = dir.join("cifar");
    std::fs::create_dir_all(&bins).unwrap();
    let records: Vec<u8> = (0..n)
        .flat_map(|k| std::iter::once((k % 10) as u8).chain((0..3072).map(move |p| ((p * 31 + k * 17) % 251) as u8)))
        .collect();
    std::fs::write(bins.join("data_batch_1.bin"), records).unwrap();
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sparse-scaling")).args(args).output().unwrap()
}

const CIFAR32: &str = "(family: Vit, sizes: Widths([16]), depth: 1, vit: (image_size: 32, patch_size: 4))";

#[test]
fn cifar_trains_at_its_native_32_by_32_with_64_tokens() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 20);
    let p = point(CIFAR32, r#"CifarBinary(path: "cifar")"#);
    // the shape key the runner compiles for: 64 patches of 4·4·3 values
    let key = ShapeKey::of(&p.spec);
    assert!(matches!(key, ShapeKey::Vit { patches: 64, patch_values: 48, .. }), "{key}");

    let data = image_stream(&p, dir.path()).unwrap();
    assert!(data.read.contains("read 1 file, 20 images 32×32 in 10 classes"), "{}", data.read);
    assert!(data.read.contains("trained at their own 32×32") && data.read.contains("split 14 training / 6 validation"));
    let mut stream = data.stream;
    let b = stream.next_batch(4).unwrap();
    assert_eq!((b.channels, b.height, b.width), (3, 32, 32), "no down-sampling");

    // the model built from the point's shape has 64 tokens and takes the batch as it is
    let v = p.spec.vit.clone().unwrap();
    let config = VitConfig {
        image_height: v.image_size,
        image_width: v.image_size,
        channels: v.channels,
        patch: v.patch_size,
        heads: p.spec.dims.heads,
        pooling: Default::default(),
    };
    let dev = sparse_scaling::dfdx::prelude::Cpu::default();
    let model = Vit::<48, 64, 16, 64, 1, 10>::new(&dev, config.clone(), 0).unwrap();
    model.check_batch(&b).unwrap();
    assert_eq!(model.patchify(&b).unwrap().len(), 4 * 64 * 48, "4 images × 64 tokens × 48 values");
    // a model with the 16 tokens of 16×16 images cannot be built for this file's shape
    let Err(e) = Vit::<48, 16, 16, 64, 1, 10>::new(&dev, config, 0) else { panic!("16 positions accepted") };
    assert!(e.to_string().contains("has 64 patches"), "{e}");

    let said = describe_data(&p, dir.path()).unwrap();
    assert!(said.contains("20 images in 10 classes") && said.contains("trained at their own 32×32"), "{said}");
}

#[test]
fn cifar_declared_at_another_size_is_resized_with_the_named_filter() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 12);
    let p = point("(family: Vit, sizes: Widths([32]))", r#"CifarBinary(path: "cifar")"#);
    let said = describe_data(&p, dir.path()).unwrap();
    assert!(said.contains("images are 32×32; resized to 16×16 with the Box filter"), "{said}");
    let data = image_stream(&p, dir.path()).unwrap();
    assert!(data.read.contains("resized to 16×16 with the Box filter"), "{}", data.read);
    let b = data.stream.validation_set(6, 6).unwrap().remove(0);
    assert_eq!((b.height, b.width), (16, 16));

    let nearest = point("(family: Vit, sizes: Widths([32]))", r#"CifarBinary(path: "cifar", resize: Nearest)"#);
    assert_ne!(nearest.hash, p.hash, "the filter changes the numbers, so the hash");
    assert!(describe_data(&nearest, dir.path()).unwrap().contains("with the Nearest filter"));
    let nb = image_stream(&nearest, dir.path()).unwrap().stream.validation_set(6, 6).unwrap().remove(0);
    assert_ne!(nb.pixels, b.pixels, "another filter, other pixels");

    // `check` states it (16×16 ViTs of width 32 are in the built-in table)
    let ron =
        r#"(name: "cifar16", model: (family: Vit, sizes: Widths([32])), steps: [2], data: CifarBinary(path: "cifar"))"#;
    std::fs::write(dir.path().join("cifar16.ron"), ron).unwrap();
    let o = cli(&["check", dir.path().join("cifar16.ron").to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("images are 32×32; resized to 16×16 with the Box filter"), "{out}");
}

#[test]
fn cifar_with_other_classes_or_channels_is_an_error_saying_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 4);
    let p = point("(family: Vit, sizes: Widths([32]), vit: (classes: 100))", r#"CifarBinary(path: "cifar")"#);
    let e = image_stream(&p, dir.path()).err().unwrap();
    assert!(matches!(e, StreamError::ClassCount { found: 10, declared: 100, .. }), "{e}");
    assert!(e.to_string().contains("`vit: (classes: 10)`"), "{e}");
    let p = point("(family: Vit, sizes: Widths([32]), vit: (channels: 1))", r#"CifarBinary(path: "cifar")"#);
    let e = describe_data(&p, dir.path()).err().unwrap();
    assert!(matches!(e, StreamError::CifarChannels { declared: 1 }) && e.to_string().contains("channels: 3"), "{e}");
}

#[test]
fn an_image_folder_with_other_classes_than_declared_is_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    for class in ["cat", "dog", "emu"] {
        let d = dir.path().join("imgs").join(class);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..2u8 {
            image::RgbImage::from_fn(20, 20, |x, y| image::Rgb([x as u8 * 9, y as u8 * 7, i * 50]))
                .save(d.join(format!("{i}.png")))
                .unwrap();
        }
    }
    let p = point("(family: Vit, sizes: Widths([32]))", r#"ImageFolder(path: "imgs")"#);
    for e in [image_stream(&p, dir.path()).err().unwrap(), describe_data(&p, dir.path()).err().unwrap()] {
        assert!(matches!(e, StreamError::ClassCount { found: 3, declared: 10, .. }), "{e}");
        let msg = e.to_string();
        for needle in ["imgs", "cat, dog, emu", "has 3 classes", "declares 10", "`vit: (classes: 3)`"] {
            assert!(msg.contains(needle), "{needle:?} missing: {msg}");
        }
    }
    // with the declared 3 classes the 20×20 images are resized with the folder's default filter
    let p = point("(family: Vit, sizes: Widths([32]), vit: (classes: 3))", r#"ImageFolder(path: "imgs")"#);
    let said = describe_data(&p, dir.path()).unwrap();
    assert!(said.contains("the first image is 20×20; resized to 16×16 with the Bilinear filter"), "{said}");
    let data = image_stream(&p, dir.path()).unwrap();
    assert!(data.read.contains("read 6 image files in 3 classes (cat, dog, emu); 6 of them resized"), "{}", data.read);
    // and `check` refuses the mismatch with the same words
    let ron = r#"(name: "f", model: (family: Vit, sizes: Widths([32])), steps: [2], data: ImageFolder(path: "imgs"))"#;
    std::fs::write(dir.path().join("f.ron"), ron).unwrap();
    let o = cli(&["check", dir.path().join("f.ron").to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(!o.status.success() && err.contains("has 3 classes") && !err.contains("panicked"), "{out}\n{err}");
}

#[test]
fn the_synthetic_stream_renders_at_the_declared_size_and_classes() {
    let p = point(
        "(family: Vit, sizes: Widths([32]), vit: (image_size: 32, patch_size: 8, channels: 1, classes: 7))",
        "Synthetic",
    );
    let data = image_stream(&p, Path::new(".")).unwrap();
    assert!(data.read.contains("rendered at 32×32 with 1 channel in 7 classes"), "{}", data.read);
    let mut s = data.stream;
    let b = s.next_batch(200).unwrap();
    assert_eq!((b.channels, b.height, b.width, b.pixels.len()), (1, 32, 32, 200 * 32 * 32));
    let labels: BTreeSet<u32> = b.labels.iter().copied().collect();
    assert_eq!(labels, (0..7).collect(), "every one of the 7 classes, no other");
}

#[test]
fn the_run_log_states_what_the_loader_read() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 20);
    let ron = r#"(name: "log", model: (family: Vit, sizes: Widths([32])), steps: [2], batch_size: 4,
        data: CifarBinary(path: "cifar"), validation: (examples: 4))"#;
    std::fs::write(dir.path().join("log.ron"), ron).unwrap();
    let results = dir.path().join("results");
    let o = cli(&[
        "run",
        dir.path().join("log.ron").to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
        "--no-progress",
        "--no-analysis",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let line = err.lines().find(|l| l.contains(": data: CIFAR-10")).unwrap_or_else(|| panic!("no data line:\n{err}"));
    assert!(line.starts_with("point 0 "), "{line}");
    for needle in [
        "read 1 file, 20 images 32×32 in 10 classes",
        "resized to 16×16 with the Box filter",
        "split 16 training / 4 validation",
    ] {
        assert!(line.contains(needle), "{needle:?} missing: {line}");
    }
}

#[test]
fn a_depth_axis_reaches_the_report_tables() {
    let dir = tempfile::tempdir().unwrap();
    let src = r#"(name: "deep", model: (family: Vit, sizes: Widths([32, 64]), depth: [2, 4]), sparsity: [0.0, 0.5], steps: [20, 40])"#;
    let pts = ExperimentFile::from_str("deep.ron", src).unwrap().expand().unwrap();
    assert_eq!(pts.len(), 2 * 2 * 2 * 2);
    let mut opts = RunOptions::new(dir.path());
    opts.progress = false;
    runner::run("deep", &pts, Path::new("."), &KnownLaw, &opts).unwrap();
    let summary = sparse_scaling::report::write_report(dir.path(), None, None, None, false).unwrap();
    let csv = std::fs::read_to_string(summary.files.iter().find(|f| f.ends_with("points.csv")).unwrap()).unwrap();
    // the CSV's depth column is a column like any other for `fit --var`
    let mapping = CsvMapping::from_assignments(&["L=depth", "W=width"], "`val-loss`").unwrap();
    let obs: Observations = Observations::from_csv_str(&csv, "points.csv", &mapping).unwrap();
    let pairs: BTreeSet<(u64, u64)> =
        (0..obs.len()).map(|i| (obs.column("L").unwrap()[i] as u64, obs.column("W").unwrap()[i] as u64)).collect();
    assert_eq!(pairs, BTreeSet::from([(2, 32), (2, 64), (4, 32), (4, 64)]));
    let md = std::fs::read_to_string(dir.path().join("report/points.md")).unwrap();
    assert!(md.starts_with("| hash | family | width | depth |"), "{md}");
    assert_eq!(md.lines().filter(|l| l.contains("| vit | 64 | 4 |")).count(), 4, "{md}");
    let svg = std::fs::read_to_string(dir.path().join("report/loss_vs_n.svg")).unwrap();
    assert!(svg.contains("20 steps, depth 4"), "one series per depth");
}
