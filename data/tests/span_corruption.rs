//! T5 span corruption: statistics, lengths and exact reconstruction.

use sparse_scaling_data::rng::Rng;
use sparse_scaling_data::span_corruption::{apply_mask, reconstruct};
use sparse_scaling_data::{vocab, SpanCorruption};

#[test]
fn t5_lengths_match_random_spans_helper() {
    // T5's random_spans_helper(inputs_length=512, 0.15, 3) gives tokens_length 568 and
    // targets_length 114 (the numbers used for T5.1.1 pre-training).
    let sc = SpanCorruption::default();
    let raw = sc.raw_length(512, 10_000).unwrap();
    assert_eq!(raw, 568);
    assert_eq!(sc.output_lengths(raw), (512, 114));
    // With a binding target limit the raw length shrinks so the targets fit.
    let raw = sc.raw_length(512, 60).unwrap();
    assert!(sc.output_lengths(raw).1 <= 60 && sc.output_lengths(raw + 1).1 > 60 || sc.output_lengths(raw + 1).0 > 512);
}

#[test]
fn noise_fraction_and_mean_span_over_many_samples() {
    let sc = SpanCorruption::default();
    let (mut noise, mut total, mut spans, mut span_tokens) = (0usize, 0usize, 0usize, 0usize);
    for i in 0..2000u64 {
        let len = 20 + (i % 200) as usize;
        let mut rng = Rng::new(&[7, i]);
        let mask = sc.noise_mask(len, &mut rng);
        assert_eq!(mask.len(), len);
        let c = sc.counts(len);
        assert_eq!(mask.iter().filter(|&&m| m).count(), c.noise_tokens);
        assert!(!mask[0], "T5 masks start with a non-noise span");
        let mut n_spans = 0;
        for j in 0..len {
            if mask[j] && (j == 0 || !mask[j - 1]) {
                n_spans += 1;
            }
        }
        assert_eq!(n_spans, c.spans);
        noise += c.noise_tokens;
        total += len;
        spans += n_spans;
        span_tokens += c.noise_tokens;
    }
    let frac = noise as f64 / total as f64;
    let mean = span_tokens as f64 / spans as f64;
    assert!((frac - 0.15).abs() < 0.005, "noise fraction {frac}");
    assert!((mean - 3.0).abs() < 0.15, "mean span {mean}");
}

#[test]
fn span_lengths_are_random_not_fixed() {
    let sc = SpanCorruption::default();
    let mut lengths = std::collections::BTreeMap::new();
    for i in 0..200u64 {
        let mask = sc.noise_mask(100, &mut Rng::new(&[1, i]));
        let mut run = 0;
        for (j, &m) in mask.iter().enumerate() {
            if m {
                run += 1;
            }
            if run > 0 && (!m || j + 1 == mask.len()) {
                *lengths.entry(run).or_insert(0) += 1;
                run = 0;
            }
        }
    }
    assert!(lengths.len() >= 4, "span lengths {lengths:?}");
    assert!(lengths.contains_key(&1));
}

#[test]
fn inputs_and_targets_reconstruct_original_and_fit_lengths() {
    let sc = SpanCorruption::default();
    for i in 0..500u64 {
        let mut rng = Rng::new(&[3, i]);
        let len = 1 + rng.below(300) as usize;
        let tokens: Vec<u32> = (0..len).map(|_| vocab::byte_to_id(rng.below(256) as u8)).collect();
        let (inp, tgt) = sc.corrupt(&tokens, &mut rng);
        assert_eq!(*inp.last().unwrap(), vocab::EOS);
        assert_eq!(*tgt.last().unwrap(), vocab::EOS);
        assert_eq!(tgt[0], vocab::sentinel(0), "targets start with the first sentinel");
        let (ei, et) = sc.output_lengths(len);
        assert!(inp.len() <= ei && tgt.len() <= et, "len {len}: {} {} vs {ei} {et}", inp.len(), tgt.len());
        if len >= 2 {
            assert_eq!((inp.len(), tgt.len()), (ei, et));
        }
        assert_eq!(reconstruct(&inp, &tgt), tokens);
        // Sentinels appear in order in inputs.
        let sents: Vec<u32> = inp.iter().copied().filter(|&t| vocab::is_sentinel(t)).collect();
        let expect: Vec<u32> = (0..sents.len()).map(vocab::sentinel).collect();
        assert_eq!(sents, expect);
    }
}

#[test]
fn apply_mask_matches_hand_worked_example() {
    // tokens a b c d e f, mask . X X . . X  → inputs a <0> d e <1> EOS; targets <0> b c <1> f EOS
    let t: Vec<u32> = b"abcdef".iter().map(|&b| vocab::byte_to_id(b)).collect();
    let mask = [false, true, true, false, false, true];
    let (i, g) = apply_mask(&t, &mask);
    let s0 = vocab::sentinel(0);
    let s1 = vocab::sentinel(1);
    assert_eq!(i, vec![t[0], s0, t[3], t[4], s1, vocab::EOS]);
    assert_eq!(g, vec![s0, t[1], t[2], s1, t[5], vocab::EOS]);
}

#[test]
fn bad_corruption_settings_are_errors() {
    assert!(SpanCorruption { noise_density: 0.0, mean_span: 3.0 }.validate().is_err());
    assert!(SpanCorruption { noise_density: 1.5, mean_span: 3.0 }.validate().is_err());
    assert!(SpanCorruption { noise_density: 0.15, mean_span: 0.5 }.validate().is_err());
    assert!(SpanCorruption::default().raw_length(2, 2).is_err());
    assert!(SpanCorruption::default().raw_length(3, 3).is_ok());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
        /// For any tokens, density and span length: the mask has T5's counts, the corruption
        /// has T5's lengths, and inputs + targets give back the tokens.
        #[test]
        fn corruption_is_invertible(
            bytes in proptest::collection::vec(any::<u8>(), 1..400),
            density in 0.01f64..0.9,
            mean_span in 1.0f64..8.0,
            seed in any::<u64>(),
        ) {
            let sc = SpanCorruption { noise_density: density, mean_span };
            let tokens = vocab::encode(&bytes);
            let mut rng = sparse_scaling_data::rng::Rng::new(&[seed]);
            let mask = sc.noise_mask(tokens.len(), &mut rng);
            if tokens.len() >= 2 {
                prop_assert_eq!(mask.iter().filter(|&&m| m).count(), sc.counts(tokens.len()).noise_tokens);
            }
            let (inp, tgt) = apply_mask(&tokens, &mask);
            let (ei, et) = sc.output_lengths(tokens.len());
            prop_assert!(inp.len() <= ei && tgt.len() <= et);
            prop_assert_eq!(reconstruct(&inp, &tgt), tokens);
        }
    }
}
