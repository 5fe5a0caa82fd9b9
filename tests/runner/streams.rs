//! A point's training stream follows its data declaration: the family's synthetic stream, or
//! the files it names (CIFAR resized to the declared image size with the file's filter), and data of the other
//! family is an error that says what to use.

use sparse_scaling::data::{DataError, Stream};
use sparse_scaling::experiment::{Data, Experiment, Point, Resize};
use sparse_scaling::runner::streams::{image_stream, lm_stream, text_stream, StreamError};

fn point(family: &str, data: &str) -> Point {
    let ron = format!(
        r#"(name: "s", model: (family: {family}, sizes: Widths([32])), steps: [10], batch_size: 4, data: {data}, validation: (examples: 6))"#
    );
    Experiment::from_ron_str(&ron).unwrap().expand().unwrap().remove(0)
}

#[test]
fn synthetic_points_get_the_family_stream_in_the_point_shape() {
    let base = std::env::temp_dir();
    let vit = point("Vit", "Synthetic");
    let shape = vit.spec.vit.clone().unwrap_or_default();
    let mut s = image_stream(&vit, &base).unwrap().stream;
    let b = s.next_batch(3).unwrap();
    assert_eq!((b.batch, b.channels, b.height, b.width), (3, shape.channels, shape.image_size, shape.image_size));
    assert!(b.labels.iter().all(|&l| (l as usize) < shape.classes));

    let t5 = point("T5", "Synthetic");
    let t = t5.spec.t5.clone().unwrap_or_default();
    let b = text_stream(&t5, &base).unwrap().stream.next_batch(2).unwrap();
    assert_eq!((b.batch, b.input_len, b.target_len), (2, t.input_len, t.target_len));
}

#[test]
fn cifar_binaries_are_resized_to_the_declared_size() {
    let dir = tempfile::tempdir().unwrap();
    let bins = dir.path().join("cifar");
    std::fs::create_dir(&bins).unwrap();
    let record = |k: usize| -> Vec<u8> {
        let mut r = vec![(k % 10) as u8];
        r.extend((0..3072).map(|p| ((p * 31 + k * 17) % 251) as u8));
        r
    };
    let records: Vec<Vec<u8>> = (0..20).map(record).collect();
    std::fs::write(bins.join("data_batch_1.bin"), records[..12].concat()).unwrap();
    std::fs::write(bins.join("data_batch_2.bin"), records[12..].concat()).unwrap();
    let p = point("Vit", r#"CifarBinary(path: "cifar")"#);
    let size = p.spec.vit.clone().unwrap_or_default().image_size;
    let mut s = image_stream(&p, dir.path()).unwrap().stream;
    let b = s.next_batch(4).unwrap();
    assert_eq!((b.channels, b.height, b.width), (3, size, size));
    // 6 validation examples of 20 images are held out.
    assert_eq!(s.validation_set(100, 4).unwrap().iter().map(|b| b.batch).sum::<usize>(), 6);

    // A folder without CIFAR files names itself.
    std::fs::create_dir(dir.path().join("none")).unwrap();
    let e = image_stream(&point("Vit", r#"CifarBinary(path: "none")"#), dir.path()).err().unwrap();
    assert!(matches!(e, StreamError::Data(DataError::Empty { .. })), "{e}");
}

#[test]
fn data_of_the_other_family_is_an_error_naming_what_to_use() {
    let base = std::env::temp_dir();
    let mut vit = point("Vit", "Synthetic");
    vit.spec.data = Data::JsonLines { path: "c4.jsonl".into() };
    let e = image_stream(&vit, &base).err().unwrap();
    assert!(matches!(e, StreamError::TextForVit) && e.to_string().contains("`CifarBinary`"), "{e}");
    let mut t5 = point("T5", "Synthetic");
    t5.spec.data = Data::ImageFolder { path: "images".into(), resize: Resize::Bilinear };
    let e = text_stream(&t5, &base).err().unwrap();
    assert!(matches!(e, StreamError::ImagesForT5) && e.to_string().contains("`JsonLines`"), "{e}");
}

#[test]
fn decoder_points_get_next_token_rows_of_their_length() {
    let base = std::env::temp_dir();
    let p = point("Decoder", "Synthetic");
    let len = p.spec.decoder.clone().unwrap_or_default().seq_len;
    let b = lm_stream(&p, &base).unwrap().stream.next_batch(3).unwrap();
    assert_eq!((b.batch, b.len, b.tokens.len()), (3, len, 3 * len));

    // JSON lines are cut into rows of the point's length
    let dir = tempfile::tempdir().unwrap();
    let docs: String =
        (0..40).map(|i| format!("{{\"text\": \"document {i} has some words in it, repeated {i} times\"}}\n")).collect();
    std::fs::write(dir.path().join("c4.jsonl"), docs).unwrap();
    let p = point("Decoder", r#"JsonLines(path: "c4.jsonl")"#);
    let b = lm_stream(&p, dir.path()).unwrap().stream.next_batch(2).unwrap();
    assert_eq!((b.batch, b.len), (2, len));

    let mut images = point("Decoder", "Synthetic");
    images.spec.data = Data::CifarBinary { path: "cifar".into(), resize: Resize::Box };
    let e = lm_stream(&images, &base).err().unwrap();
    assert!(matches!(e, StreamError::ImagesForDecoder) && e.to_string().contains("`JsonLines`"), "{e}");
}
