//! The bookkeeping shared by the file loaders ([`crate::ImageDataStream`],
//! [`crate::TextCorpusStream`]), which serve a finite dataset as an infinite stream: a seeded
//! held-out split, then the training items in a new seeded order every epoch.

use crate::error::DataError;
use crate::rng::Rng;

/// What a dataset and its items are called in errors, and a typical validation fraction for
/// the fix (e.g. `the image dataset`, `images`, `0.05`).
pub(crate) struct Names {
    /// The dataset, e.g. `"the image dataset"`.
    pub dataset: &'static str,
    /// Its items, e.g. `"images"`.
    pub items: &'static str,
    /// A typical `validation_fraction`, e.g. `"0.05"`.
    pub typical_fraction: &'static str,
}

/// `items` in the seeded order of `key` (e.g. `[seed, domain, epoch]`).
pub(crate) fn shuffled(items: &[usize], key: &[u64]) -> Vec<usize> {
    let mut o = items.to_vec();
    Rng::new(key).shuffle(&mut o);
    o
}

/// Splits `n` items: `round(validation_fraction · n)` of them (at least one when the fraction
/// is above 0) are held out, chosen by a shuffle keyed `[seed, domain]`. Returns (training
/// items in ascending order, held-out items in shuffled order). Errors on a fraction outside
/// [0, 1), an empty dataset, or a split that holds out everything.
pub(crate) fn hold_out(
    n: usize,
    validation_fraction: f64,
    seed: u64,
    domain: u64,
    names: &Names,
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    if !(0.0..1.0).contains(&validation_fraction) {
        return Err(DataError::Config {
            field: "validation_fraction",
            value: validation_fraction.to_string(),
            reason: format!("must be in [0, 1); {} is typical", names.typical_fraction),
        });
    }
    if n == 0 {
        return Err(DataError::Request(format!("{} has no {}", names.dataset, names.items)));
    }
    let all: Vec<usize> = (0..n).collect();
    let idx = shuffled(&all, &[seed, domain]);
    let mut n_val = (validation_fraction * n as f64).round() as usize;
    if validation_fraction > 0.0 {
        n_val = n_val.max(1);
    }
    if n_val >= n {
        return Err(DataError::Config {
            field: "validation_fraction",
            value: validation_fraction.to_string(),
            reason: format!("holds out all {n} {items}; lower it or add {items}", items = names.items),
        });
    }
    let valid = idx[..n_val].to_vec();
    let mut train = idx[n_val..].to_vec();
    train.sort_unstable();
    Ok((train, valid))
}

/// The error of asking for a validation set when nothing is held out.
pub(crate) fn check_held_out(valid: &[usize], validation_fraction: f64, names: &Names) -> Result<(), DataError> {
    if valid.is_empty() {
        return Err(DataError::Config {
            field: "validation_fraction",
            value: validation_fraction.to_string(),
            reason: format!(
                "no {} are held out; set it above 0 (e.g. {})",
                names.items, names.typical_fraction
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: Names = Names { dataset: "the test set", items: "things", typical_fraction: "0.1" };

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let (train, valid) = hold_out(50, 0.1, 7, 1, &N).unwrap();
        assert_eq!(valid.len(), 5);
        assert!(train.windows(2).all(|w| w[0] < w[1]), "training items ascending");
        let mut all: Vec<usize> = train.iter().chain(&valid).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        assert_eq!(hold_out(50, 0.1, 7, 1, &N).unwrap(), (train.clone(), valid.clone()));
        assert_ne!(hold_out(50, 0.1, 8, 1, &N).unwrap().1, valid, "another seed, another split");
        // a tiny positive fraction still holds out one item; 0 holds out none
        assert_eq!(hold_out(50, 0.001, 7, 1, &N).unwrap().1.len(), 1);
        assert!(hold_out(50, 0.0, 7, 1, &N).unwrap().1.is_empty());
    }

    #[test]
    fn bad_splits_name_the_items_and_the_fix() {
        let msg = |r: Result<(Vec<usize>, Vec<usize>), DataError>| r.unwrap_err().to_string();
        assert!(msg(hold_out(10, 1.0, 0, 0, &N)).contains("0.1 is typical"));
        assert!(msg(hold_out(0, 0.1, 0, 0, &N)).contains("the test set has no things"));
        assert!(msg(hold_out(2, 0.9, 0, 0, &N)).contains("holds out all 2 things"));
        let e = check_held_out(&[], 0.0, &N).unwrap_err().to_string();
        assert!(e.contains("no things are held out") && e.contains("e.g. 0.1"), "{e}");
        assert!(check_held_out(&[3], 0.1, &N).is_ok());
    }

    #[test]
    fn shuffled_is_a_seeded_permutation() {
        let items: Vec<usize> = (10..40).collect();
        let a = shuffled(&items, &[1, 2, 3]);
        assert_eq!(a, shuffled(&items, &[1, 2, 3]));
        assert_ne!(a, shuffled(&items, &[1, 2, 4]));
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, items);
    }
}
