//! Real-format loaders round-trip files written here, serve as resumable streams, and turn bad
//! files into errors (never panics).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use sparse_scaling_data::loaders::cifar10::CIFAR10_RECORD;
use sparse_scaling_data::{
    cifar10_files, cifar10_records, load_cifar10, load_image_folder, load_jsonl, span_corruption,
    summarize_image_folder, vocab, DataError, ImageDataConfig, ImageDataStream, ImageDataset, ImageFolderConfig,
    ImageShape, ImageStream, JsonlConfig, LmCorpusConfig, LmCorpusStream, LmStream, Resize, Stream, TextCorpus,
    TextCorpusConfig, TextCorpusStream, TextShape,
};

/// A deterministic RGB test image (values differ per class and index).
fn rgb(class: u8, i: u8, w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x as u8).wrapping_mul(9).wrapping_add(class * 40),
            (y as u8).wrapping_mul(7).wrapping_add(i * 13),
            ((x + y) as u8).wrapping_mul(5).wrapping_add(class),
        ])
    })
}

fn write_folder(root: &Path, classes: &[&str], per_class: u8, ext: &str, w: u32, h: u32) {
    for (c, name) in classes.iter().enumerate() {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            rgb(c as u8, i, w, h).save(dir.join(format!("{i:03}.{ext}"))).unwrap();
        }
    }
}

#[test]
fn png_folder_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &["cat", "dog", "emu"], 4, "png", 6, 5);
    std::fs::write(dir.path().join("dog/notes.txt"), "not an image").unwrap();
    std::fs::create_dir_all(dir.path().join(".ipynb_checkpoints")).unwrap();
    std::fs::write(dir.path().join("cat/.hidden.png"), "junk").unwrap();
    let ds = load_image_folder(&ImageFolderConfig::new(dir.path(), 5, 6)).unwrap();
    assert_eq!(ds.len(), 12);
    assert_eq!(ds.class_names, vec!["cat", "dog", "emu"]);
    assert_eq!((ds.shape.channels, ds.shape.height, ds.shape.width, ds.shape.classes), (3, 5, 6, 3));
    for c in 0..3u8 {
        for i in 0..4u8 {
            let k = c as usize * 4 + i as usize;
            assert_eq!(ds.labels[k], c as u32);
            let img = rgb(c, i, 6, 5);
            let got = ds.image(k);
            for ch in 0..3 {
                for y in 0..5 {
                    for x in 0..6 {
                        assert_eq!(got[(ch * 5 + y) * 6 + x], img.get_pixel(x as u32, y as u32)[ch]);
                    }
                }
            }
        }
    }
    // Size taken from the first image when not given; grey conversion.
    let cfg = ImageFolderConfig { height: None, width: None, channels: 1, ..ImageFolderConfig::new(dir.path(), 0, 0) };
    let grey = load_image_folder(&cfg).unwrap();
    assert_eq!((grey.shape.channels, grey.shape.height, grey.shape.width), (1, 5, 6));
}

#[test]
fn jpeg_folder_round_trips_within_compression_error() {
    let dir = tempfile::tempdir().unwrap();
    // Smooth images so that JPEG's error is small.
    for (c, name) in ["a", "b"].iter().enumerate() {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
        let img =
            image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([(x * 8) as u8, (y * 8) as u8, 60 + 100 * c as u8]));
        img.save(dir.path().join(name).join("0.jpg")).unwrap();
    }
    let ds = load_image_folder(&ImageFolderConfig::new(dir.path(), 16, 16)).unwrap();
    assert_eq!(ds.len(), 2);
    let px = ds.image(1);
    let mean_b = px[2 * 256..].iter().map(|&v| v as f64).sum::<f64>() / 256.0;
    assert!((mean_b - 160.0).abs() < 6.0, "blue plane mean {mean_b}");
    let err: f64 = (0..256).map(|k| (px[k] as f64 - ((k % 16) * 8) as f64).abs()).sum::<f64>() / 256.0;
    assert!(err < 6.0, "mean abs JPEG error {err}");
}

#[test]
fn wrong_size_image_is_an_error_naming_the_file_unless_resizing() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &["x", "y"], 2, "png", 8, 8);
    rgb(0, 9, 10, 7).save(dir.path().join("y/odd.png")).unwrap();
    let err = load_image_folder(&ImageFolderConfig::new(dir.path(), 8, 8)).unwrap_err();
    match &err {
        DataError::ImageSize { path, expected_width, expected_height, found_width, found_height } => {
            assert!(path.ends_with("y/odd.png"));
            assert_eq!((*expected_width, *expected_height, *found_width, *found_height), (8, 8, 10, 7));
        }
        other => panic!("wrong error {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("odd.png") && msg.contains("10x7") && msg.contains("8x8") && msg.contains("resize"), "{msg}");
    let mut cfg = ImageFolderConfig::new(dir.path(), 8, 8);
    let mut loaded = Vec::new();
    for filter in [Resize::Bilinear, Resize::Box, Resize::Nearest] {
        cfg.resize = Some(filter);
        let ds = load_image_folder(&cfg).unwrap();
        assert_eq!(ds.len(), 5);
        assert_eq!(ds.pixels.len(), 5 * 3 * 64);
        assert_eq!(ds.resized, 1, "only odd.png changed size");
        loaded.push(ds);
    }
    // the 8×8 images are read as they are whatever the filter; odd.png (the last) is resized
    let odd = 4 * 3 * 64;
    assert!(loaded.iter().all(|ds| ds.pixels[..odd] == loaded[0].pixels[..odd]));
    assert_ne!(loaded[1].pixels[odd..], loaded[2].pixels[odd..], "Box and Nearest resize differently");
}

#[test]
fn bad_image_folders_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    // No class folders.
    let e = load_image_folder(&ImageFolderConfig::new(dir.path(), 8, 8)).unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }), "{e}");
    // Missing root.
    let e = load_image_folder(&ImageFolderConfig::new(dir.path().join("nope"), 8, 8)).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e}");
    // Empty class folder.
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    let e = load_image_folder(&ImageFolderConfig::new(dir.path(), 8, 8)).unwrap_err();
    assert!(e.to_string().contains("no .png"), "{e}");
    // Corrupt PNG.
    std::fs::write(dir.path().join("a/broken.png"), b"\x89PNG\r\n\x1a\nthis is not png").unwrap();
    let e = load_image_folder(&ImageFolderConfig::new(dir.path(), 8, 8)).unwrap_err();
    assert!(matches!(&e, DataError::ImageDecode { path, .. } if path.ends_with("broken.png")), "{e}");
    // Bad channel count.
    let mut cfg = ImageFolderConfig::new(dir.path(), 8, 8);
    cfg.channels = 2;
    assert!(matches!(load_image_folder(&cfg), Err(DataError::Config { .. })));
}

fn cifar_record(label: u8, k: usize) -> Vec<u8> {
    let mut r = vec![label];
    r.extend((0..3072).map(|p| ((p * 31 + k * 17) % 251) as u8));
    r
}

#[test]
fn cifar_round_trips_and_rejects_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("data_batch_1.bin");
    let b = dir.path().join("data_batch_2.bin");
    let recs: Vec<Vec<u8>> = (0..7).map(|k| cifar_record((k % 10) as u8, k)).collect();
    std::fs::write(&a, recs[..4].concat()).unwrap();
    std::fs::write(&b, recs[4..].concat()).unwrap();
    let ds = load_cifar10(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(ds.len(), 7);
    assert_eq!(ds.class_names[3], "cat");
    for (k, r) in recs.iter().enumerate() {
        assert_eq!(ds.labels[k], r[0] as u32);
        assert_eq!(ds.image(k), &r[1..]);
    }

    let t = dir.path().join("truncated.bin");
    let mut bytes = recs[..2].concat();
    bytes.truncate(2 * CIFAR10_RECORD - 100);
    std::fs::write(&t, bytes).unwrap();
    let e = load_cifar10(&[a.clone(), t.clone()]).unwrap_err();
    assert!(
        matches!(&e, DataError::CifarLength { path, found, .. } if path == &t && *found == (2 * CIFAR10_RECORD - 100) as u64),
        "{e}"
    );
    assert!(e.to_string().contains("truncated.bin"));

    let l = dir.path().join("label.bin");
    std::fs::write(&l, [recs[0].clone(), cifar_record(42, 1)].concat()).unwrap();
    let e = load_cifar10(&[l]).unwrap_err();
    assert!(matches!(e, DataError::CifarLabel { record: 1, label: 42, .. }), "{e}");

    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(load_cifar10(&[empty]), Err(DataError::Empty { .. })));
    assert!(matches!(load_cifar10(&[dir.path().join("missing.bin")]), Err(DataError::Io { .. })));
    assert!(load_cifar10(&[]).is_err());
}

#[test]
fn cifar_files_are_a_file_or_the_bin_files_of_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["data_batch_2.bin", "readme.html", "data_batch_1.bin", "test_batch.bin"] {
        std::fs::write(dir.path().join(f), cifar_record(1, 0)).unwrap();
    }
    let names: Vec<String> = cifar10_files(dir.path())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["data_batch_1.bin", "data_batch_2.bin", "test_batch.bin"]);
    let one = dir.path().join("test_batch.bin");
    assert_eq!(cifar10_files(&one).unwrap(), vec![one]);
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = cifar10_files(&empty).unwrap_err();
    assert!(matches!(&e, DataError::Empty { path, .. } if path == &empty), "{e}");
    assert!(e.to_string().contains("data_batch_1.bin"), "{e}");
}

fn dataset(c: usize, h: usize, w: usize, pixels: Vec<u8>) -> ImageDataset {
    let n = pixels.len() / (c * h * w);
    ImageDataset {
        shape: ImageShape { channels: c, height: h, width: w, classes: 2 },
        pixels,
        labels: (0..n as u32).map(|i| i % 2).collect(),
        class_names: vec!["a".into(), "b".into()],
        resized: 0,
    }
}

#[test]
fn box_resize_averages_blocks_and_areas() {
    // Two 2-channel 4×6 images; image k, channel c, pixel (y, x) = 10·k + 3·c + y·6 + x.
    let (c, h, w) = (2, 4, 6);
    let pixels: Vec<u8> =
        (0..2).flat_map(|k| (0..c * h * w).map(move |i| (10 * k + 3 * (i / (h * w)) + i % (h * w)) as u8)).collect();
    let ds = dataset(c, h, w, pixels);
    assert_eq!(ds.clone().resize(h, w, Resize::Box).unwrap(), ds, "same size: unchanged");
    let small = ds.clone().resize(2, 3, Resize::Box).unwrap();
    assert_eq!(small.shape, ImageShape { channels: c, height: 2, width: 3, classes: 2 });
    assert_eq!((small.labels.clone(), small.class_names.clone()), (ds.labels.clone(), ds.class_names.clone()));
    assert_eq!(small.resized, 2, "both images changed size");
    // An integer factor: each output pixel is the rounded mean of its 2×2 block.
    for k in 0..2 {
        for ch in 0..c {
            for y in 0..2 {
                for x in 0..3 {
                    let src = ds.image(k);
                    let at = |yy: usize, xx: usize| src[(ch * h + yy) * w + xx] as u32;
                    let sum = at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1);
                    assert_eq!(
                        small.image(k)[(ch * 2 + y) * 3 + x] as u32,
                        (sum + 2) / 4,
                        "image {k} channel {ch} ({y}, {x})"
                    );
                }
            }
        }
    }
    // Other factors: means weighted by the area each source pixel covers.
    let row = dataset(1, 1, 3, vec![0, 90, 180]);
    assert_eq!(row.resize(1, 2, Resize::Box).unwrap().pixels, [30, 150], "(2·0 + 90)/3, (90 + 2·180)/3");
    let row = dataset(1, 1, 2, vec![10, 200]);
    assert_eq!(row.clone().resize(1, 3, Resize::Box).unwrap().pixels, [10, 105, 200]);
    assert_eq!(row.resize(1, 4, Resize::Nearest).unwrap().pixels, [10, 10, 200, 200]);
    // The linear filter keeps a constant image constant.
    let flat = dataset(3, 5, 7, vec![77; 3 * 5 * 7]);
    let lin = flat.resize(4, 4, Resize::Bilinear).unwrap();
    assert_eq!((lin.shape.height, lin.shape.width, lin.pixels.clone()), (4, 4, vec![77; 3 * 16]));
    // A zero side is an error naming it.
    let e = ds.resize(0, 3, Resize::Box).unwrap_err();
    assert!(matches!(e, DataError::Config { field: "height", .. }), "{e}");
}

fn small_dataset(n: usize) -> ImageDataset {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("b.bin");
    let recs: Vec<Vec<u8>> = (0..n).map(|k| cifar_record((k % 10) as u8, k)).collect();
    std::fs::write(&f, recs.concat()).unwrap();
    load_cifar10(&[f]).unwrap()
}

#[test]
fn image_dataset_stream_shuffles_wraps_resumes_and_holds_out() {
    let ds = small_dataset(40);
    let cfg = ImageDataConfig { seed: 3, validation_fraction: 0.1 };
    let mut s = ImageDataStream::new(ds.clone(), cfg.clone()).unwrap();
    assert_eq!((s.train_len(), s.validation_len()), (36, 4));
    assert_eq!(s.shape().classes, 10);
    let mut again = ImageDataStream::new(ds.clone(), cfg.clone()).unwrap();
    // Identify images by their pixel sums (all distinct here).
    let key =
        |b: &sparse_scaling_data::ImageBatch, i: usize| b.image(i).iter().map(|v| v.to_bits() as u64).sum::<u64>();
    let val_keys: HashSet<u64> =
        s.validation_set(100, 3).unwrap().iter().flat_map(|b| (0..b.batch).map(move |i| key(b, i))).collect();
    assert_eq!(val_keys.len(), 4, "all held-out images returned, capped at what exists");
    // One epoch = every training image exactly once; none from validation.
    let mut epoch0 = Vec::new();
    for _ in 0..4 {
        let b = s.next_batch(9).unwrap();
        assert_eq!(b, again.next_batch(9).unwrap(), "same seed, same batches");
        epoch0.extend((0..b.batch).map(|i| key(&b, i)));
    }
    let set: HashSet<u64> = epoch0.iter().copied().collect();
    assert_eq!(set.len(), 36);
    assert!(set.is_disjoint(&val_keys));
    // Wrap into epoch 1 mid-batch, with a different order.
    let pos = s.position();
    let b = s.next_batch(50).unwrap();
    assert_eq!(s.position().epoch, 2);
    let epoch1: Vec<u64> = (0..36).map(|i| key(&b, i)).collect();
    assert_ne!(epoch1, epoch0, "each epoch is reshuffled");
    assert_eq!(epoch1.iter().copied().collect::<HashSet<_>>(), set);
    // Normalised per channel over the training split.
    let mean = b.pixels.iter().map(|&v| v as f64).sum::<f64>() / b.pixels.len() as f64;
    assert!(mean.abs() < 0.2, "mean {mean}");
    // Resume from a serialised position.
    let json = serde_json::to_string(&pos).unwrap();
    let mut r = ImageDataStream::new(ds.clone(), cfg.clone()).unwrap();
    r.seek(&serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(r.next_batch(50).unwrap(), b);
    assert_eq!(r.examples_seen(), 36 + 50);
    // A position of another dataset is rejected.
    let other = ImageDataStream::new(small_dataset(41), cfg).unwrap();
    assert!(matches!(r.seek(&other.position()), Err(DataError::PositionMismatch { .. })));
    assert!(ImageDataStream::new(ds, ImageDataConfig { seed: 0, validation_fraction: 1.0 }).is_err());
}

fn write_jsonl(path: &Path, docs: &[&str], gz: bool) {
    let mut body = String::new();
    for d in docs {
        body.push_str(&serde_json::json!({ "text": d, "url": "https://example.com" }).to_string());
        body.push('\n');
    }
    if gz {
        let f = std::fs::File::create(path).unwrap();
        let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        e.write_all(body.as_bytes()).unwrap();
        e.finish().unwrap();
    } else {
        std::fs::write(path, body).unwrap();
    }
}

fn docs(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("Document {i}: {}", "lorem ipsum dolor sit amet ".repeat(1 + i % 7))).collect()
}

#[test]
fn jsonl_and_gz_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = docs(30);
    let refs: Vec<&str> = d.iter().map(|s| s.as_str()).collect();
    let plain = dir.path().join("c4-a.jsonl");
    let gz = dir.path().join("c4-b.jsonl.gz");
    write_jsonl(&plain, &refs[..10], false);
    write_jsonl(&gz, &refs[10..], true);
    let corpus = load_jsonl(&JsonlConfig::new(vec![plain.clone(), gz.clone()])).unwrap();
    assert_eq!(corpus.len(), 30);
    for (i, doc) in d.iter().enumerate() {
        assert_eq!(corpus.document(i), doc.as_bytes());
    }
    // Unicode survives as UTF-8 bytes; blank lines are skipped; other fields are ignored.
    let u = dir.path().join("u.jsonl");
    std::fs::write(&u, "{\"text\": \"na\u{ef}ve caf\u{e9} \u{1F600}\", \"timestamp\": 1}\n\n   \n{\"text\": \"b\"}")
        .unwrap();
    let c = load_jsonl(&JsonlConfig::new(vec![u])).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c.document(0), "na\u{ef}ve caf\u{e9} \u{1F600}".as_bytes());
    // max_documents bounds memory.
    let mut cfg = JsonlConfig::new(vec![plain, gz]);
    cfg.max_documents = Some(12);
    assert_eq!(load_jsonl(&cfg).unwrap().len(), 12);
}

#[test]
fn bad_jsonl_files_are_errors_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("empty.jsonl"), "").unwrap();
    let e = load_jsonl(&JsonlConfig::new(vec![p("empty.jsonl")])).unwrap_err();
    assert!(matches!(&e, DataError::Empty { path, .. } if path.ends_with("empty.jsonl")), "{e}");

    std::fs::write(p("blank.jsonl"), "\n\n{\"text\": \"\"}\n").unwrap();
    assert!(matches!(load_jsonl(&JsonlConfig::new(vec![p("blank.jsonl")])), Err(DataError::Empty { .. })));

    std::fs::write(p("bad.jsonl"), "{\"text\": \"ok\"}\n{\"text\": \"oops\"\n").unwrap();
    let e = load_jsonl(&JsonlConfig::new(vec![p("bad.jsonl")])).unwrap_err();
    assert!(matches!(&e, DataError::JsonLine { line: 2, .. }), "{e}");
    assert!(e.to_string().contains("bad.jsonl:2"), "{e}");

    std::fs::write(p("field.jsonl"), "{\"text\": \"ok\"}\n{\"content\": \"x\"}\n").unwrap();
    let e = load_jsonl(&JsonlConfig::new(vec![p("field.jsonl")])).unwrap_err();
    assert!(matches!(&e, DataError::JsonLine { line: 2, .. }) && e.to_string().contains("no field \"text\""), "{e}");

    std::fs::write(p("num.jsonl"), "{\"text\": 5}\n").unwrap();
    let e = load_jsonl(&JsonlConfig::new(vec![p("num.jsonl")])).unwrap_err();
    assert!(e.to_string().contains("not a string but a number"), "{e}");

    std::fs::write(p("arr.jsonl"), "[1, 2]\n").unwrap();
    assert!(load_jsonl(&JsonlConfig::new(vec![p("arr.jsonl")])).unwrap_err().to_string().contains("not a JSON object"));

    std::fs::write(p("latin1.jsonl"), b"{\"text\": \"caf\xe9\"}\n").unwrap();
    assert!(matches!(load_jsonl(&JsonlConfig::new(vec![p("latin1.jsonl")])), Err(DataError::JsonLine { line: 1, .. })));

    // Corrupt gzip: valid header, garbage body; and a truncated gzip file.
    let mut garbage = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    garbage.extend((0..200u32).map(|i| (i * 37 % 256) as u8));
    std::fs::write(p("corrupt.jsonl.gz"), garbage).unwrap();
    let e = load_jsonl(&JsonlConfig::new(vec![p("corrupt.jsonl.gz")])).unwrap_err();
    assert!(matches!(&e, DataError::Gzip { path, .. } if path.ends_with("corrupt.jsonl.gz")), "{e}");

    let d = docs(50);
    let refs: Vec<&str> = d.iter().map(|s| s.as_str()).collect();
    write_jsonl(&p("full.jsonl.gz"), &refs, true);
    let mut bytes = std::fs::read(p("full.jsonl.gz")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(p("cut.jsonl.gz"), bytes).unwrap();
    let e = load_jsonl(&JsonlConfig::new(vec![p("cut.jsonl.gz")])).unwrap_err();
    assert!(matches!(e, DataError::Gzip { .. }), "{e}");

    assert!(matches!(load_jsonl(&JsonlConfig::new(vec![p("missing.jsonl")])), Err(DataError::Io { .. })));
    assert!(load_jsonl(&JsonlConfig::new(vec![])).is_err());
}

fn corpus_stream(pack: bool, seed: u64) -> (TextCorpus, TextCorpusStream) {
    let d = docs(40);
    let corpus = TextCorpus::from_documents(d.iter());
    let cfg = TextCorpusConfig {
        seed,
        shape: TextShape { input_len: 64, target_len: 24, ..Default::default() },
        pack,
        validation_fraction: 0.1,
    };
    (corpus.clone(), TextCorpusStream::new(corpus, cfg).unwrap())
}

fn decode_row(b: &sparse_scaling_data::TextBatch, r: usize) -> Vec<u8> {
    vocab::decode(&span_corruption::reconstruct(b.input_row(r), b.target_row(r)))
}

#[test]
fn packed_corpus_stream_covers_training_documents_and_resumes() {
    let (corpus, mut s) = corpus_stream(true, 1);
    let (n_train, n_val) = s.split_sizes();
    assert_eq!((n_train, n_val), (36, 4));
    let raw = s.raw_len();
    // One epoch of packed chunks concatenates to the training documents in some order.
    let train_bytes: usize = s.training_documents().iter().map(|&i| corpus.document(i).len()).sum();
    let chunks_per_epoch = train_bytes / raw;
    let mut text = Vec::new();
    for _ in 0..chunks_per_epoch {
        let b = s.next_batch(1).unwrap();
        let row = decode_row(&b, 0);
        assert_eq!(row.len(), raw, "packed chunks are full");
        assert_eq!(b.input_row(0).len(), 64);
        text.extend(row);
    }
    assert_eq!(s.position().epoch, 0);
    // The concatenation is the training documents, each exactly once, in some order, with
    // the last one possibly cut (documents are distinct and start with "Document {i}:").
    let mut rest: &[u8] = &text;
    let mut used = HashSet::new();
    while !rest.is_empty() {
        let next = s.training_documents().iter().find(|&&i| {
            let d = corpus.document(i);
            rest.starts_with(d) || (rest.len() < d.len() && d.starts_with(rest))
        });
        let Some(&i) = next else { panic!("epoch text is not a concatenation of training documents") };
        assert!(used.insert(i), "document {i} twice in one epoch");
        rest = &rest[corpus.document(i).len().min(rest.len())..];
    }
    assert!(used.len() >= n_train - 1, "only {} of {n_train} documents in the epoch", used.len());
    let joined = String::from_utf8(text).unwrap();
    for &v in s.validation_documents() {
        let d = std::str::from_utf8(corpus.document(v)).unwrap();
        assert!(!joined.contains(d), "held-out document in training: {d}");
    }
    // Resume in the middle, across an epoch boundary.
    let pos = s.position();
    let cont: Vec<_> = (0..4).map(|_| s.next_batch(7).unwrap()).collect();
    assert!(s.position().epoch >= 1);
    let (_, mut r) = corpus_stream(true, 1);
    r.seek(&serde_json::from_str(&serde_json::to_string(&pos).unwrap()).unwrap()).unwrap();
    let again: Vec<_> = (0..4).map(|_| r.next_batch(7).unwrap()).collect();
    assert_eq!(cont, again);
    // Other seed: other order and corruption; same seed from scratch: same batches.
    let (_, mut a) = corpus_stream(true, 1);
    let (_, mut b) = corpus_stream(true, 1);
    let (_, mut c) = corpus_stream(true, 2);
    let ba = a.next_batch(5).unwrap();
    assert_eq!(ba, b.next_batch(5).unwrap());
    assert_ne!(ba, c.next_batch(5).unwrap());
    assert!(matches!(a.seek(&c.position()), Err(DataError::PositionMismatch { .. })));
}

#[test]
fn unpacked_chunks_stay_inside_documents_and_validation_is_held_out() {
    let (corpus, mut s) = corpus_stream(false, 4);
    let train: HashSet<Vec<u8>> = s.training_documents().iter().map(|&i| corpus.document(i).to_vec()).collect();
    for _ in 0..30 {
        let b = s.next_batch(4).unwrap();
        for r in 0..b.batch {
            let row = decode_row(&b, r);
            assert!(!row.is_empty() && row.len() <= s.raw_len());
            assert!(
                train.iter().any(|d| d.windows(row.len()).any(|w| w == row.as_slice())),
                "chunk not inside one training document"
            );
        }
    }
    let val = s.validation_set(1000, 8).unwrap();
    assert_eq!(val, s.validation_set(1000, 8).unwrap(), "validation set is fixed");
    let val_docs: Vec<&[u8]> = s.validation_documents().iter().map(|&i| corpus.document(i)).collect();
    let mut n = 0;
    for b in &val {
        for r in 0..b.batch {
            let row = decode_row(b, r);
            assert!(val_docs.iter().any(|d| d.windows(row.len()).any(|w| w == row.as_slice())));
            n += 1;
        }
    }
    let expect: usize = val_docs.iter().map(|d| d.len().div_ceil(s.raw_len())).sum();
    assert_eq!(n, expect, "every held-out chunk, once");
}

fn lm_corpus_stream(pack: bool, seed: u64) -> (TextCorpus, LmCorpusStream) {
    let corpus = TextCorpus::from_documents(docs(40).iter());
    let cfg = LmCorpusConfig { seed, seq_len: 48, pack, validation_fraction: 0.1 };
    (corpus.clone(), LmCorpusStream::new(corpus, cfg).unwrap())
}

#[test]
fn packed_lm_corpus_rows_are_the_training_documents_and_resume() {
    let (corpus, mut s) = lm_corpus_stream(true, 1);
    assert_eq!(s.seq_len(), 48);
    // The same seed and fraction hold out the same documents as the span-corruption stream.
    assert_eq!(s.validation_documents(), corpus_stream(true, 1).1.validation_documents());
    assert_eq!(s.split_sizes(), (36, 4));
    // One epoch of packed rows, each full, concatenates to the training documents.
    let train_bytes: usize = s.training_documents().iter().map(|&i| corpus.document(i).len()).sum();
    let mut text = Vec::new();
    for _ in 0..train_bytes / 48 {
        let b = s.next_batch(1).unwrap();
        assert_eq!((b.batch, b.len, b.non_pad_tokens()), (1, 48, 48), "packed rows are full");
        text.extend(vocab::decode(b.row(0)));
    }
    assert_eq!(s.position().epoch, 0);
    let mut rest: &[u8] = &text;
    let mut used = HashSet::new();
    while !rest.is_empty() {
        let next = s.training_documents().iter().find(|&&i| {
            let d = corpus.document(i);
            rest.starts_with(d) || (rest.len() < d.len() && d.starts_with(rest))
        });
        let Some(&i) = next else { panic!("epoch text is not a concatenation of training documents") };
        assert!(used.insert(i), "document {i} twice in one epoch");
        rest = &rest[corpus.document(i).len().min(rest.len())..];
    }
    // Resume in the middle, across an epoch boundary.
    let pos = s.position();
    let cont: Vec<_> = (0..4).map(|_| s.next_batch(7).unwrap()).collect();
    assert!(s.position().epoch >= 1);
    let (_, mut r) = lm_corpus_stream(true, 1);
    r.seek(&serde_json::from_str(&serde_json::to_string(&pos).unwrap()).unwrap()).unwrap();
    assert_eq!(cont, (0..4).map(|_| r.next_batch(7).unwrap()).collect::<Vec<_>>());
    // A position of the span-corruption stream over the same corpus is rejected.
    assert!(matches!(r.seek(&corpus_stream(true, 1).1.position()), Err(DataError::PositionMismatch { .. })));
}

#[test]
fn unpacked_lm_rows_stay_inside_documents_and_validation_is_held_out() {
    let (corpus, mut s) = lm_corpus_stream(false, 4);
    let train: Vec<&[u8]> = s.training_documents().iter().map(|&i| corpus.document(i)).collect();
    for _ in 0..30 {
        let b = s.next_batch(4).unwrap();
        for r in 0..b.batch {
            let row = b.row(r);
            let n = row.iter().take_while(|&&t| t != vocab::PAD).count();
            assert!(n > 0 && row[n..].iter().all(|&t| t == vocab::PAD), "a row is a prefix of tokens, then PAD");
            let bytes = vocab::decode(&row[..n]);
            assert!(train.iter().any(|d| d.windows(n).any(|w| w == bytes.as_slice())), "row not inside one document");
        }
    }
    let val = s.validation_set(1000, 8).unwrap();
    assert_eq!(val, s.validation_set(1000, 8).unwrap(), "validation set is fixed");
    let val_docs: Vec<&[u8]> = s.validation_documents().iter().map(|&i| corpus.document(i)).collect();
    let rows: usize = val.iter().map(|b| b.batch).sum();
    assert_eq!(rows, val_docs.iter().map(|d| d.len().div_ceil(48)).sum::<usize>(), "every held-out row, once");
    for b in &val {
        for r in 0..b.batch {
            let bytes = vocab::decode(b.row(r));
            assert!(val_docs.iter().any(|d| d.windows(bytes.len()).any(|w| w == bytes.as_slice())));
        }
    }
    let cfg = LmCorpusConfig { seq_len: 0, ..Default::default() };
    let e = LmCorpusStream::new(corpus, cfg).unwrap_err();
    assert!(matches!(e, DataError::Config { field: "seq_len", .. }), "{e}");
}

#[test]
fn corpus_stream_config_errors() {
    let c = TextCorpus::from_documents(["only one"]);
    let e = TextCorpusStream::new(c.clone(), TextCorpusConfig::default()).unwrap_err();
    assert!(matches!(e, DataError::Config { field: "validation_fraction", .. }), "{e}");
    let mut cfg = TextCorpusConfig { validation_fraction: 0.0, ..Default::default() };
    let s = TextCorpusStream::new(c.clone(), cfg.clone()).unwrap();
    assert!(s.validation_set(4, 2).is_err());
    cfg.shape.input_len = 1;
    assert!(TextCorpusStream::new(c, cfg).is_err());
    assert!(TextCorpusStream::new(
        TextCorpus::from_documents(Vec::<PathBuf>::new().iter().map(|_| "")),
        TextCorpusConfig::default()
    )
    .is_err());
}

#[test]
fn folders_and_cifar_files_are_summarised_without_decoding() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &["cat", "dog", "emu"], 3, "png", 10, 7);
    std::fs::write(dir.path().join("dog/notes.txt"), "not an image").unwrap();
    let s = summarize_image_folder(dir.path()).unwrap();
    assert_eq!(s.classes, ["cat", "dog", "emu"]);
    assert_eq!((s.images, s.first_size), (9, (10, 7)));
    let e = summarize_image_folder(&dir.path().join("cat")).unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }) && e.to_string().contains("class sub-folders"), "{e}");

    let (a, b) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
    std::fs::write(&a, [cifar_record(1, 0), cifar_record(2, 1)].concat()).unwrap();
    std::fs::write(&b, cifar_record(3, 2)).unwrap();
    assert_eq!(cifar10_records(&[a.clone(), b.clone()]).unwrap(), 3);
    std::fs::write(&b, &cifar_record(3, 2)[..100]).unwrap();
    let e = cifar10_records(&[a, b.clone()]).unwrap_err();
    assert!(matches!(&e, DataError::CifarLength { path, found: 100, .. } if path == &b), "{e}");
}
