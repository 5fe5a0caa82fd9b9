//! What the file loaders ([`crate::ImageDataStream`], [`crate::TextCorpusStream`]) share: they
//! serve a finite dataset as an infinite stream, with a seeded held-out split, then the training
//! items in a new seeded order every epoch ([`Epochs`]: the split, the current epoch's order and
//! the position in it).

use crate::error::DataError;
use crate::rng::Rng;
use crate::stream::{check_batch_size, StreamPosition};

/// What tells one file loader from another: its stream kind, the seed domains of its split and
/// shuffles, and what its items are called in errors.
#[derive(Debug)]
pub(crate) struct Loader {
    /// Stream kind, e.g. `"image-dataset"` (in every [`StreamPosition`]).
    pub kind: &'static str,
    /// Seed domain of the held-out split.
    pub split_domain: u64,
    /// Seed domain of the per-epoch shuffles.
    pub shuffle_domain: u64,
    /// Whether the held-out items are served in dataset order (else in the split's order).
    pub sort_held_out: bool,
    /// Names for errors.
    pub names: Names,
}

/// What a dataset and its items are called in errors, and a typical validation fraction for
/// the fix (e.g. `the image dataset`, `images`, `0.05`).
#[derive(Debug)]
pub(crate) struct Names {
    /// The dataset, e.g. `"the image dataset"`.
    pub dataset: &'static str,
    /// Its items, e.g. `"images"`.
    pub items: &'static str,
    /// A typical `validation_fraction`, e.g. `"0.05"`.
    pub typical_fraction: &'static str,
}

/// `items` in the seeded order of `key` (e.g. `[seed, domain, epoch]`).
fn shuffled(items: &[usize], key: &[u64]) -> Vec<usize> {
    let mut o = items.to_vec();
    Rng::new(key).shuffle(&mut o);
    o
}

/// Splits `n` items: `round(validation_fraction · n)` of them (at least one when the fraction
/// is above 0) are held out, chosen by a shuffle keyed `[seed, domain]`. Returns (training
/// items in ascending order, held-out items in shuffled order). Errors on a fraction outside
/// [0, 1), an empty dataset, or a split that holds out everything.
fn hold_out(
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
fn check_held_out(valid: &[usize], validation_fraction: f64, names: &Names) -> Result<(), DataError> {
    if valid.is_empty() {
        return Err(DataError::Config {
            field: "validation_fraction",
            value: validation_fraction.to_string(),
            reason: format!("no {} are held out; set it above 0 (e.g. {})", names.items, names.typical_fraction),
        });
    }
    Ok(())
}

/// Where a file loader stands: the split of its items, the current epoch's order of the
/// training items and the next one to serve (with an offset inside it for packed text).
#[derive(Clone, Debug)]
pub(crate) struct Epochs {
    loader: &'static Loader,
    seed: u64,
    validation_fraction: f64,
    /// Hash of the stream's config and data.
    fingerprint: u64,
    /// Training items, ascending.
    train: Vec<usize>,
    /// Held-out items.
    valid: Vec<usize>,
    epoch: u64,
    /// The training items in this epoch's order.
    order: Vec<usize>,
    /// Next item in `order`.
    index: usize,
    /// Offset inside that item (packed text), else 0.
    offset: usize,
    /// Examples returned so far.
    seen: u64,
}

impl Epochs {
    /// Splits `n` items ([`hold_out`]) and stands at the start of epoch 0.
    pub(crate) fn new(
        loader: &'static Loader,
        n: usize,
        seed: u64,
        validation_fraction: f64,
        fingerprint: u64,
    ) -> Result<Self, DataError> {
        let (train, mut valid) = hold_out(n, validation_fraction, seed, loader.split_domain, &loader.names)?;
        if loader.sort_held_out {
            valid.sort_unstable();
        }
        let mut e = Epochs {
            loader,
            seed,
            validation_fraction,
            fingerprint,
            train,
            valid,
            epoch: 0,
            order: Vec::new(),
            index: 0,
            offset: 0,
            seen: 0,
        };
        e.order = e.epoch_order(0);
        Ok(e)
    }

    fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        shuffled(&self.train, &[self.seed, self.loader.shuffle_domain, epoch])
    }

    /// Training items, ascending.
    pub(crate) fn train(&self) -> &[usize] {
        &self.train
    }

    /// Held-out items, in the order the validation set serves them.
    pub(crate) fn valid(&self) -> &[usize] {
        &self.valid
    }

    /// The training items in the current epoch's order, and the place in it (next item, offset
    /// inside it), to read from.
    pub(crate) fn place(&mut self) -> (&[usize], &mut usize, &mut usize) {
        (&self.order, &mut self.index, &mut self.offset)
    }

    /// Moves to the start of the next epoch (a new shuffle).
    pub(crate) fn next_epoch(&mut self) {
        self.epoch += 1;
        self.index = 0;
        self.offset = 0;
        self.order = self.epoch_order(self.epoch);
    }

    /// The next training item, starting a new epoch when this one is done.
    pub(crate) fn next_item(&mut self) -> usize {
        if self.index >= self.order.len() {
            self.next_epoch();
        }
        self.index += 1;
        self.order[self.index - 1]
    }

    /// Counts `n` more examples returned; returns the count before them.
    pub(crate) fn count(&mut self, n: usize) -> u64 {
        let before = self.seen;
        self.seen += n as u64;
        before
    }

    /// Examples returned so far.
    pub(crate) fn examples_seen(&self) -> u64 {
        self.seen
    }

    /// The position to store in a checkpoint.
    pub(crate) fn position(&self) -> StreamPosition {
        StreamPosition {
            kind: self.loader.kind.into(),
            fingerprint: self.fingerprint,
            epoch: self.epoch,
            index: self.index as u64,
            offset: self.offset as u64,
            examples_seen: self.seen,
        }
    }

    /// Continues from a saved position: same kind and config, and a place inside its epoch
    /// (`offset` below `item_len` of the item at `index`, or the end of the epoch).
    pub(crate) fn seek(&mut self, pos: &StreamPosition, item_len: impl Fn(usize) -> usize) -> Result<(), DataError> {
        pos.check(self.loader.kind, self.fingerprint)?;
        let fresh = (pos.epoch != self.epoch).then(|| self.epoch_order(pos.epoch));
        let order = fresh.as_deref().unwrap_or(&self.order);
        let inside = match usize::try_from(pos.index).ok().and_then(|i| order.get(i)) {
            Some(&item) => pos.offset < item_len(item) as u64,
            None => pos.index == order.len() as u64 && pos.offset == 0,
        };
        if !inside {
            return Err(DataError::Request(format!(
                "position (epoch {}, index {}, offset {}) is outside {} ({} training {} per epoch); the checkpoint is corrupt",
                pos.epoch,
                pos.index,
                pos.offset,
                self.loader.names.dataset,
                order.len(),
                self.loader.names.items
            )));
        }
        if let Some(order) = fresh {
            self.order = order;
        }
        self.epoch = pos.epoch;
        self.index = pos.index as usize;
        self.offset = pos.offset as usize;
        self.seen = pos.examples_seen;
        Ok(())
    }

    /// The held-out items, for a validation set in batches of `batch_size`; an error if the
    /// batch size is 0 or nothing is held out.
    pub(crate) fn held_out(&self, batch_size: usize) -> Result<&[usize], DataError> {
        check_batch_size(batch_size)?;
        check_held_out(&self.valid, self.validation_fraction, &self.loader.names)?;
        Ok(&self.valid)
    }
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

    static L: Loader =
        Loader { kind: "test-loader", split_domain: 1, shuffle_domain: 2, sort_held_out: true, names: N };

    #[test]
    fn epochs_wrap_with_a_new_order_and_seek_only_inside_an_epoch() {
        let mut e = Epochs::new(&L, 10, 7, 0.2, 99).unwrap();
        assert_eq!(e.valid().len(), 2);
        assert!(e.valid()[0] < e.valid()[1], "held out in dataset order");
        let mut epoch0: Vec<usize> = (0..8).map(|_| e.next_item()).collect();
        let p = e.position();
        assert_eq!((p.kind.as_str(), p.fingerprint, p.epoch, p.index, p.offset), ("test-loader", 99, 0, 8, 0));
        let next = e.next_item();
        assert_eq!(e.position().epoch, 1, "wrapped into epoch 1");
        e.seek(&p, |_| 1).unwrap();
        assert_eq!(e.next_item(), next);
        epoch0.sort_unstable();
        assert_eq!(epoch0, e.train(), "an epoch serves every training item once");
        assert_eq!(e.count(3), 0);
        assert_eq!((e.count(2), e.examples_seen()), (3, 5));

        assert!(e.seek(&StreamPosition { index: 3, offset: 4, ..p.clone() }, |_| 5).is_ok());
        assert_eq!(e.position().offset, 4);
        assert!(e.seek(&StreamPosition { index: 3, offset: 5, ..p.clone() }, |_| 5).is_err(), "offset past the item");
        assert!(
            e.seek(&StreamPosition { offset: 1, ..p.clone() }, |_| 5).is_err(),
            "the end of an epoch has no offset"
        );
        let err = e.seek(&StreamPosition { index: 9, ..p.clone() }, |_| 1).unwrap_err().to_string();
        assert!(err.contains("outside the test set (8 training things per epoch)"), "{err}");
        assert!(e.seek(&StreamPosition { fingerprint: 98, ..p }, |_| 1).is_err(), "another config");
        assert!(matches!(e.held_out(0), Err(DataError::Request(_))));
        assert_eq!(e.held_out(4).unwrap(), e.valid());
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
