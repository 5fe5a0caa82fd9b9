//! Synthetic streams: determinism, exact resumption, no repeats, disjoint validation, and enough
//! structure to learn (but not trivially).

use std::collections::HashSet;

use sparse_scaling_data::{
    span_corruption, vocab, BoxStream, DataError, ImageStream, LmStream, Stream, StreamPosition, SyntheticImageConfig,
    SyntheticImages, SyntheticLm, SyntheticText, SyntheticTextConfig, TextStream,
};

fn images(seed: u64) -> SyntheticImages {
    SyntheticImages::new(SyntheticImageConfig { seed, ..Default::default() }).unwrap()
}

fn text(seed: u64) -> SyntheticText {
    SyntheticText::new(SyntheticTextConfig { seed, ..Default::default() }).unwrap()
}

fn lm(seed: u64) -> SyntheticLm {
    SyntheticLm::new(SyntheticTextConfig { seed, ..Default::default() }, 40).unwrap()
}

fn key_f32(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Generic contract check for any stream.
fn check_contract<S: Stream + Clone>(mut a: S, mut b: S, fresh_other_seed: S)
where
    S::Batch: PartialEq + std::fmt::Debug,
{
    // Same seed → same batches, including across different batch sizes at the same position.
    let a1 = a.next_batch(8).unwrap();
    let b1 = b.next_batch(8).unwrap();
    assert_eq!(a1, b1);
    let mut other = fresh_other_seed;
    assert_ne!(other.next_batch(8).unwrap(), a1, "different seeds must differ");

    // seek(position) reproduces the continuation exactly, also via serde.
    let pos = a.position();
    let json = serde_json::to_string(&pos).unwrap();
    let cont: Vec<S::Batch> = (0..3).map(|_| a.next_batch(5).unwrap()).collect();
    assert_eq!(a.examples_seen(), 8 + 15);
    let restored: StreamPosition = serde_json::from_str(&json).unwrap();
    let mut c = b.clone();
    c.next_batch(3).unwrap(); // move away first
    c.seek(&restored).unwrap();
    assert_eq!(c.examples_seen(), 8);
    let again: Vec<S::Batch> = (0..3).map(|_| c.next_batch(5).unwrap()).collect();
    assert_eq!(cont, again);

    // The validation set is fixed, independent of the stream position.
    assert_eq!(a.validation_set(10, 4).unwrap(), b.validation_set(10, 4).unwrap());
    let v = a.validation_set(10, 4).unwrap();
    assert_eq!(v.len(), 3);

    // Positions of another stream are rejected; batch size 0 is an error.
    assert!(matches!(c.next_batch(0), Err(DataError::Request(_))));
}

#[test]
fn image_stream_contract() {
    check_contract(images(1), images(1), images(2));
}

#[test]
fn text_stream_contract() {
    check_contract(text(1), text(1), text(2));
}

#[test]
fn lm_stream_contract() {
    check_contract(lm(1), lm(1), lm(2));
}

#[test]
fn lm_rows_are_the_text_streams_documents_uncorrupted_and_validation_is_disjoint() {
    let mut s = lm(3);
    let docs = text(3);
    assert_eq!(s.seq_len(), 40);
    let mut seen = HashSet::new();
    for step in 0..50u64 {
        let b = s.next_batch(8).unwrap();
        assert_eq!((b.batch, b.len, b.tokens.len(), b.non_pad_tokens()), (8, 40, 320, 320));
        for r in 0..b.batch {
            let i = step * 8 + r as u64;
            assert_eq!(vocab::decode(b.row(r)), docs.document(i, 40)[..40], "row {i}");
            assert_eq!(b.row(r), s.example(i).as_slice());
            assert!(seen.insert(b.row(r).to_vec()), "repeated row at {i}");
        }
    }
    for v in s.validation_set(100, 32).unwrap() {
        for r in 0..v.batch {
            assert!(!seen.contains(v.row(r)), "validation row equals a training row");
        }
    }
    let e = SyntheticLm::new(SyntheticTextConfig::default(), 0).unwrap_err();
    assert!(matches!(e, DataError::Config { field: "seq_len", .. }), "{e}");
    assert!(s.seek(&docs.position()).is_err(), "a span-corruption position is not an LM position");
    let mut other_len = SyntheticLm::new(SyntheticTextConfig { seed: 3, ..Default::default() }, 41).unwrap();
    assert!(other_len.seek(&s.position()).is_err(), "another row length, another fingerprint");
}

#[test]
fn a_boxed_stream_is_the_stream_it_boxes() {
    let mut plain = text(4);
    let mut boxed = BoxStream::new(text(4));
    assert_eq!(boxed.next_batch(3).unwrap(), plain.next_batch(3).unwrap());
    let pos = boxed.position();
    assert_eq!(pos, plain.position());
    assert_eq!(boxed.next_batch(2).unwrap(), plain.next_batch(2).unwrap());
    boxed.seek(&pos).unwrap();
    assert_eq!(boxed.examples_seen(), 3);
    let mut resumed = text(4);
    resumed.seek(&pos).unwrap();
    assert_eq!(boxed.next_batch(2).unwrap(), resumed.next_batch(2).unwrap());
    assert_eq!(boxed.validation_set(5, 2).unwrap(), plain.validation_set(5, 2).unwrap());
    assert!(boxed.seek(&images(4).position()).is_err());
}

#[test]
fn seeking_with_a_foreign_position_is_an_error() {
    let img = images(1);
    let mut txt = text(1);
    let err = txt.seek(&img.position()).unwrap_err();
    assert!(matches!(err, DataError::PositionMismatch { .. }), "{err}");
    let mut img2 = images(2);
    assert!(img2.seek(&img.position()).is_err(), "other seed, other fingerprint");
    let mut bad = img.position();
    bad.index = u64::MAX;
    assert!(images(1).seek(&bad).is_err());
}

#[test]
fn image_batches_have_the_promised_shape_and_normalisation() {
    let mut s = images(3);
    let shape = s.shape();
    let b = s.next_batch(256).unwrap();
    assert_eq!((b.batch, b.channels, b.height, b.width), (256, 1, 28, 28));
    assert_eq!(b.pixels.len(), 256 * 28 * 28);
    assert_eq!(b.labels.len(), 256);
    assert!(b.labels.iter().all(|&l| (l as usize) < shape.classes));
    assert!(b.pixels.iter().all(|v| v.is_finite()));
    let n = b.pixels.len() as f64;
    let mean = b.pixels.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = b.pixels.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    assert!(mean.abs() < 0.2 && (var - 1.0).abs() < 0.3, "mean {mean} var {var}");
    // Every class occurs.
    let classes: HashSet<u32> = b.labels.iter().copied().collect();
    assert_eq!(classes.len(), shape.classes);
}

#[test]
fn images_never_repeat_in_a_long_window_and_validation_is_disjoint() {
    let mut s = images(4);
    let mut seen = HashSet::new();
    for _ in 0..40 {
        let b = s.next_batch(50).unwrap();
        for i in 0..b.batch {
            assert!(seen.insert(key_f32(b.image(i))), "repeated image");
        }
    }
    for v in s.validation_set(300, 64).unwrap() {
        for i in 0..v.batch {
            assert!(!seen.contains(&key_f32(v.image(i))), "validation image seen in training");
        }
    }
}

#[test]
fn texts_never_repeat_and_validation_is_disjoint() {
    let mut s = text(5);
    let mut seen = HashSet::new();
    for i in 0..2000u64 {
        assert!(seen.insert(s.raw_example(i)), "repeated document prefix at {i}");
    }
    let b = s.next_batch(4).unwrap();
    assert_eq!((b.input_len, b.target_len), (s.input_len(), s.target_len()));
    for v in s.validation_set(200, 50).unwrap() {
        for r in 0..v.batch {
            let orig = span_corruption::reconstruct(v.input_row(r), v.target_row(r));
            assert!(!seen.contains(&orig), "validation text equals a training text");
        }
    }
}

#[test]
fn text_batches_are_valid_t5_examples() {
    let mut s = text(6);
    let raw = s.raw_len();
    for _ in 0..5 {
        let b = s.next_batch(16).unwrap();
        assert_eq!(b.inputs.len(), 16 * 128);
        assert_eq!(b.targets.len(), 16 * 32);
        for r in 0..b.batch {
            let (inp, tgt) = (b.input_row(r), b.target_row(r));
            assert!(inp.contains(&vocab::EOS) && tgt.contains(&vocab::EOS));
            assert!(inp.iter().chain(tgt).all(|&t| (t as usize) < vocab::VOCAB_SIZE));
            let orig = span_corruption::reconstruct(inp, tgt);
            assert_eq!(orig.len(), raw);
            let bytes = vocab::decode(&orig);
            assert!(bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\n'));
        }
        // Decoder inputs are the targets shifted right with PAD first.
        let d = b.decoder_inputs();
        assert_eq!(d[0], vocab::PAD);
        assert_eq!(&d[1..b.target_len], &b.target_row(0)[..b.target_len - 1]);
    }
}

/// Nearest-class-mean on raw pixels: well above chance (there is structure) and well below
/// perfect (a linear template is not enough; bigger models have room to improve).
#[test]
fn images_are_learnable_but_not_trivially() {
    let mut s = images(7);
    let shape = s.shape();
    let len = shape.channels * shape.height * shape.width;
    let mut sums = vec![0.0f64; shape.classes * len];
    let mut counts = vec![0usize; shape.classes];
    for _ in 0..30 {
        let b = s.next_batch(100).unwrap();
        for i in 0..b.batch {
            let l = b.labels[i] as usize;
            counts[l] += 1;
            for (acc, &v) in sums[l * len..(l + 1) * len].iter_mut().zip(b.image(i)) {
                *acc += v as f64;
            }
        }
    }
    for (l, &c) in counts.iter().enumerate() {
        for v in &mut sums[l * len..(l + 1) * len] {
            *v /= c.max(1) as f64;
        }
    }
    let mut correct = 0;
    let mut total = 0;
    for v in s.validation_set(1000, 100).unwrap() {
        for i in 0..v.batch {
            let img = v.image(i);
            let best = (0..shape.classes)
                .map(|l| {
                    let d: f64 =
                        sums[l * len..(l + 1) * len].iter().zip(img).map(|(&m, &x)| (m - x as f64).powi(2)).sum();
                    (d, l)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .unwrap()
                .1;
            correct += (best as u32 == v.labels[i]) as usize;
            total += 1;
        }
    }
    let acc = correct as f64 / total as f64;
    eprintln!("nearest-class-mean accuracy {acc}");
    let chance = 1.0 / shape.classes as f64;
    assert!(acc > 2.0 * chance && acc < 0.8, "nearest-class-mean accuracy {acc}");
}

/// Byte-level structure: a bigram model fitted on training text predicts held-out text much
/// better than the unigram model, and neither gets near zero entropy (irreducible noise).
#[test]
fn text_has_structure_beyond_unigrams() {
    let s = text(8);
    let mut uni = vec![1.0f64; 256];
    let mut bi = vec![1.0f64; 256 * 256];
    for i in 0..3000u64 {
        let d = s.document(i, 200);
        for w in d.windows(2) {
            uni[w[1] as usize] += 1.0;
            bi[w[0] as usize * 256 + w[1] as usize] += 1.0;
        }
    }
    let un: f64 = uni.iter().sum();
    let (mut h_uni, mut h_bi, mut n) = (0.0, 0.0, 0.0);
    for i in 0..300u64 {
        let d = s.document((1u64 << 63) + i, 200);
        for w in d.windows(2) {
            let row: f64 = bi[w[0] as usize * 256..(w[0] as usize + 1) * 256].iter().sum();
            h_uni -= (uni[w[1] as usize] / un).log2();
            h_bi -= (bi[w[0] as usize * 256 + w[1] as usize] / row).log2();
            n += 1.0;
        }
    }
    let (h_uni, h_bi) = (h_uni / n, h_bi / n);
    eprintln!("unigram {h_uni:.3} bits/byte, bigram {h_bi:.3} bits/byte");
    assert!(h_bi < h_uni - 0.5, "bigram {h_bi} vs unigram {h_uni} bits/byte");
    assert!(h_bi > 1.0, "bigram entropy {h_bi} suspiciously low");
}

#[test]
fn bad_configs_are_errors_not_panics() {
    for cfg in [
        SyntheticImageConfig { classes: 1, ..Default::default() },
        SyntheticImageConfig { channels: 0, ..Default::default() },
        SyntheticImageConfig { height: 2, ..Default::default() },
        SyntheticImageConfig { max_shift: 28, ..Default::default() },
        SyntheticImageConfig { label_noise: 1.5, ..Default::default() },
        SyntheticImageConfig { noise_std: f32::NAN, ..Default::default() },
    ] {
        let e = SyntheticImages::new(cfg).unwrap_err();
        assert!(matches!(e, DataError::Config { .. }), "{e}");
    }
    let mut cfg = SyntheticTextConfig { nouns: 0, ..Default::default() };
    assert!(SyntheticText::new(cfg.clone()).is_err());
    cfg.nouns = 10;
    cfg.shape.input_len = 2;
    assert!(SyntheticText::new(cfg).is_err());
    // Unknown fields in a config file are rejected.
    let e = serde_json::from_str::<SyntheticImageConfig>(r#"{"clases": 10}"#);
    assert!(e.is_err());
    let ok: SyntheticImageConfig = serde_json::from_str(r#"{"classes": 20}"#).unwrap();
    assert_eq!(ok.classes, 20);
}

#[test]
fn small_images_and_one_channel_work() {
    let mut s = SyntheticImages::new(SyntheticImageConfig {
        channels: 1,
        height: 8,
        width: 12,
        classes: 100,
        max_shift: 1,
        ..Default::default()
    })
    .unwrap();
    let b = s.next_batch(3).unwrap();
    assert_eq!(b.pixels.len(), 3 * 8 * 12);
    assert!(b.labels.iter().all(|&l| l < 100));
}
