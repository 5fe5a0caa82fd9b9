//! Direct comparisons of final validation losses read off the records, without a fit
//! (docs/EXPERIMENTS.md): what `sparse-scaling findings` prints and `report` writes as
//! `findings.md`. Per model family:
//!
//! - the table of final losses (width and length by sparsity and method);
//! - equal N, equal D: every record against the least sparse record with the same non-zero
//!   count N and training length (dense when there is one: the paper's "sparse beats dense at
//!   equal N", Frantar et al., ICLR 2024, Figure 1);
//! - equal N, equal C = 6·N/(1 − S)·D (docs/THEORY.md §3.2): the less sparse model trained
//!   (1 − S_b)/(1 − S) times longer, when that length was run (the records' S_opt(N, C));
//! - m(S), the dense-equivalent multiplier (docs/THEORY.md §3.1): the dense size N* of equal
//!   loss, interpolated linearly in log N between the dense records of the same length on a
//!   segment where the dense loss falls with N, over the sparse record's N; only inside the
//!   dense range, never extrapolated;
//! - n:m against unstructured GMP at the same width, length and sparsity, with its share of
//!   the dense→GMP gap;
//! - schedule shapes at equal width, length and S: which is best, and whether the loss falls
//!   as N̄ (the mean non-zero count over training, docs/THEORY.md §7) grows;
//! - the spread of the final loss over seeds.
//!
//! Records are compared only like for like: grouped by everything in their point but width,
//! sparsity and pruning ([`Findings::new`]). [`Findings::markdown`] renders the result.

mod markdown;
mod rows;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::results::Record;
use rows::{median, round_half_even, Row};

/// Everything `findings` reports on a set of records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Findings {
    /// Where the records came from (the results directories, as given).
    pub sources: Vec<String>,
    /// One section per model family, by family name.
    pub families: Vec<FamilyFindings>,
}

/// The comparisons within one model family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyFindings {
    /// The family, as its records name it (`Vit`, `T5`, `Decoder`).
    pub family: String,
    /// How many records.
    pub records: usize,
    /// Their training time, the sum of `run.wall_seconds`.
    pub wall_seconds: f64,
    /// The final validation losses.
    pub loss_table: LossTable,
    /// Equal-N, equal-D pairs.
    pub equal_n: EqualN,
    /// Equal-N, equal-C pairs.
    pub equal_c: EqualC,
    /// m(S) read off the records.
    pub multiplier: Multiplier,
    /// n:m against GMP (`None` without n:m records).
    pub n_m: Option<Vec<NmRow>>,
    /// Schedule shapes (`None` without two GMP shapes at one width, length and S).
    pub shapes: Option<Shapes>,
    /// Seed spread (`None` without a point trained with several seeds).
    pub seeds: Option<Seeds>,
}

/// One record, as the tables name it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// Model width.
    pub width: usize,
    /// Target sparsity S.
    pub sparsity: f64,
    /// Pruning label: `dense`, `gmp`, `gmp+geometric`, `2:4`, `fromdense`, …
    pub method: String,
    /// Training steps.
    pub steps: u64,
    /// N: non-zero parameters of the pruned layers.
    pub n: u64,
    /// Final validation loss.
    pub loss: f64,
}

/// A column of the loss table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// Target sparsity S.
    pub sparsity: f64,
    /// Pruning label.
    pub method: String,
}

/// A row of the loss table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LossRow {
    /// Model width.
    pub width: usize,
    /// Training steps.
    pub steps: u64,
    /// The final loss per column (`None`: not run).
    pub losses: Vec<Option<f64>>,
}

/// Final validation loss by (width, steps) and (S, method).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LossTable {
    /// Columns, by S, then GMP first, then method.
    pub columns: Vec<Column>,
    /// Rows, by width and steps.
    pub rows: Vec<LossRow>,
}

/// Two records compared: `base` the less sparse, `other` the sparser.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    /// The less sparse record.
    pub base: Run,
    /// The sparser record.
    pub other: Run,
    /// `other.loss − base.loss` (< 0: the sparser is better).
    pub diff: f64,
}

/// How often the sparser of one kind of pair was better.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tally {
    /// S of the less sparse side.
    pub base_sparsity: f64,
    /// Method of the less sparse side.
    pub base_method: String,
    /// S of the sparser side.
    pub sparsity: f64,
    /// Method of the sparser side.
    pub method: String,
    /// Pairs where the sparser was better.
    pub sparser_better: usize,
    /// Pairs.
    pub pairs: usize,
}

/// Equal N, equal D: each record against the least sparse record of its N and length.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EqualN {
    /// The pairs, by N and steps.
    pub pairs: Vec<Pair>,
    /// Per kind of pair.
    pub tallies: Vec<Tally>,
}

/// Equal N, equal C: the less sparse record trained (1 − S_b)/(1 − S) times longer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EqualC {
    /// The pairs, by N, S, method and steps of the sparser record.
    pub pairs: Vec<Pair>,
    /// Pairs where the sparser was better.
    pub sparser_better: usize,
}

/// What the dense records of a sparse record's length say about its loss.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reading {
    /// N*: the dense size of equal loss, and m = N*/N.
    Equivalent {
        /// N*.
        n_star: f64,
        /// m = N*/N.
        m: f64,
    },
    /// Its loss lies only between dense records where the larger is worse: no size to read off.
    RisingPart,
    /// Its loss is below every dense record's: N* lies beyond the dense range.
    BetterThanEveryDense,
    /// Its loss is not below every dense record's and lies on no segment: N* lies below the range.
    WorseThanEveryDense,
}

/// One sparse record's m.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultiplierRow {
    /// The sparse record.
    pub run: Run,
    /// What the dense records say.
    pub reading: Reading,
}

/// m(S) of one (S, method) over its records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultiplierSummary {
    /// Target sparsity S.
    pub sparsity: f64,
    /// Pruning label.
    pub method: String,
    /// Median m (the mean of the middle two for an even count).
    pub median: f64,
    /// Smallest m.
    pub min: f64,
    /// Largest m.
    pub max: f64,
    /// How many records had an m.
    pub records: usize,
}

/// The dense-equivalent multiplier m = N*/N read off the records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Multiplier {
    /// Every sparse record with at least two dense records of its context.
    pub rows: Vec<MultiplierRow>,
    /// Per (S, method).
    pub summaries: Vec<MultiplierSummary>,
}

/// An n:m record against GMP and dense at its width, length and S.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NmRow {
    /// Model width.
    pub width: usize,
    /// Training steps.
    pub steps: u64,
    /// Target sparsity S.
    pub sparsity: f64,
    /// `n:m`.
    pub method: String,
    /// The dense loss.
    pub dense_loss: f64,
    /// The GMP loss.
    pub gmp_loss: f64,
    /// The n:m loss.
    pub loss: f64,
    /// n:m − GMP.
    pub minus_gmp: f64,
    /// (n:m − GMP)/(GMP − dense); `None` when GMP and dense are equal.
    pub share_of_gap: Option<f64>,
}

/// One schedule shape in a cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShapeEntry {
    /// Pruning label.
    pub method: String,
    /// N̄/N.
    pub nbar_over_n: f64,
    /// Final loss.
    pub loss: f64,
}

/// GMP schedule shapes at one width, length and S.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShapeCell {
    /// Model width.
    pub width: usize,
    /// Training steps.
    pub steps: u64,
    /// Target sparsity S.
    pub sparsity: f64,
    /// The shapes, largest N̄ first.
    pub shapes: Vec<ShapeEntry>,
    /// The shape of lowest loss.
    pub best: String,
    /// Whether the loss falls strictly as N̄ grows.
    pub loss_falls: bool,
}

/// Schedule shapes against N̄.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shapes {
    /// The cells.
    pub cells: Vec<ShapeCell>,
    /// Cells where the loss falls strictly as N̄ grows.
    pub monotone: usize,
    /// How many cells each shape was best in, by shape.
    pub best: BTreeMap<String, usize>,
}

/// One seed's loss.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedLoss {
    /// The seed.
    pub seed: u64,
    /// Final loss.
    pub loss: f64,
}

/// One point trained with several seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedGroup {
    /// Model width.
    pub width: usize,
    /// Target sparsity S.
    pub sparsity: f64,
    /// Pruning label.
    pub method: String,
    /// Training steps.
    pub steps: u64,
    /// The losses, by seed.
    pub losses: Vec<SeedLoss>,
    /// max − min.
    pub spread: f64,
}

/// Seed-to-seed spread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seeds {
    /// The points.
    pub groups: Vec<SeedGroup>,
    /// The upper median of the spreads.
    pub median_spread: f64,
    /// The largest spread.
    pub largest_spread: f64,
}

impl Findings {
    /// The findings of `records` (from `sources`, named in the output). A record whose hash
    /// appears twice counts once (the later one).
    pub fn new(sources: Vec<String>, records: &[Record]) -> Findings {
        let mut by_hash: BTreeMap<&str, &Record> = BTreeMap::new();
        for r in records {
            by_hash.insert(&r.hash, r);
        }
        let mut unique: Vec<&Record> = by_hash.into_values().collect();
        unique.sort_by(|a, b| {
            a.family()
                .cmp(&b.family())
                .then(a.outcome.nonzero_params.cmp(&b.outcome.nonzero_params))
                .then(a.sparsity().total_cmp(&b.sparsity()))
                .then(a.data_seen.total_cmp(&b.data_seen))
                .then(a.hash.cmp(&b.hash))
        });
        let rows: Vec<Row> = unique.into_iter().map(Row::new).collect();
        let mut names: Vec<&str> = rows.iter().map(|r| r.family.as_str()).collect();
        names.sort();
        names.dedup();
        let families = names
            .into_iter()
            .map(|fam| {
                let fr: Vec<&Row> = rows.iter().filter(|r| r.family == fam).collect();
                family_findings(fam, &fr)
            })
            .collect();
        Findings { sources, families }
    }
}

fn family_findings(family: &str, rows: &[&Row]) -> FamilyFindings {
    FamilyFindings {
        family: family.to_string(),
        records: rows.len(),
        wall_seconds: rows.iter().map(|r| r.wall).sum(),
        loss_table: loss_table(rows),
        equal_n: equal_n(rows),
        equal_c: equal_c(rows),
        multiplier: multiplier(rows),
        n_m: n_m(rows),
        shapes: shapes(rows),
        seeds: seeds(rows),
    }
}

fn loss_table(rows: &[&Row]) -> LossTable {
    let mut cols: Vec<(f64, &str)> = Vec::new();
    for r in rows {
        if !cols.iter().any(|c| c.0 == r.s && c.1 == r.method) {
            cols.push((r.s, &r.method));
        }
    }
    cols.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1 != "gmp").cmp(&(b.1 != "gmp"))).then(a.1.cmp(b.1)));
    let mut keys: Vec<(usize, u64)> = rows.iter().map(|r| (r.width, r.steps)).collect();
    keys.sort();
    keys.dedup();
    let cell = |w: usize, t: u64, s: f64, m: &str| {
        rows.iter().rev().find(|r| r.width == w && r.steps == t && r.s == s && r.method == m).map(|r| r.loss)
    };
    LossTable {
        rows: keys
            .into_iter()
            .map(|(w, t)| LossRow { width: w, steps: t, losses: cols.iter().map(|c| cell(w, t, c.0, c.1)).collect() })
            .collect(),
        columns: cols.into_iter().map(|(s, m)| Column { sparsity: s, method: m.to_string() }).collect(),
    }
}

/// Groups `rows` by `key`, in order of first appearance.
fn group_by<'a, K: PartialEq>(rows: &[&'a Row], key: impl Fn(&Row) -> K) -> Vec<(K, Vec<&'a Row>)> {
    let mut groups: Vec<(K, Vec<&Row>)> = Vec::new();
    for &r in rows {
        let k = key(r);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, v)) => v.push(r),
            None => groups.push((k, vec![r])),
        }
    }
    groups
}

fn pair(base: &Row, other: &Row) -> Pair {
    Pair { base: base.run(), other: other.run(), diff: other.loss - base.loss }
}

fn equal_n(rows: &[&Row]) -> EqualN {
    let mut groups = group_by(rows, |r| (r.ctx.clone(), r.n));
    groups.sort_by_key(|(k, g)| (k.1, g[0].steps));
    let mut pairs = Vec::new();
    let mut tallies: Vec<Tally> = Vec::new();
    for (_, mut g) in groups {
        let base_s = g.iter().map(|r| r.s).fold(f64::INFINITY, f64::min);
        let bases: Vec<&Row> = g.iter().copied().filter(|r| r.s == base_s).collect();
        if bases.len() != 1 {
            continue;
        }
        let b = bases[0];
        g.sort_by(|x, y| x.s.total_cmp(&y.s).then(x.method.cmp(&y.method)));
        for r in g {
            if r.s == base_s {
                continue;
            }
            let p = pair(b, r);
            let same = |t: &Tally| {
                t.base_sparsity == b.s && t.base_method == b.method && t.sparsity == r.s && t.method == r.method
            };
            let i = tallies.iter().position(same).unwrap_or_else(|| {
                tallies.push(Tally {
                    base_sparsity: b.s,
                    base_method: b.method.clone(),
                    sparsity: r.s,
                    method: r.method.clone(),
                    sparser_better: 0,
                    pairs: 0,
                });
                tallies.len() - 1
            });
            let t = &mut tallies[i];
            t.sparser_better += usize::from(p.diff < 0.0);
            t.pairs += 1;
            pairs.push(p);
        }
    }
    tallies.sort_by(|a, b| {
        (a.base_sparsity.total_cmp(&b.base_sparsity))
            .then(a.base_method.cmp(&b.base_method))
            .then(a.sparsity.total_cmp(&b.sparsity))
            .then(a.method.cmp(&b.method))
    });
    EqualN { pairs, tallies }
}

fn equal_c(rows: &[&Row]) -> EqualC {
    let least = |r: &Row| {
        rows.iter().filter(|x| x.ctx_len == r.ctx_len && x.n == r.n).map(|x| x.s).fold(f64::INFINITY, f64::min)
    };
    let mut sorted: Vec<&Row> = rows.to_vec();
    sorted.sort_by(|a, b| {
        a.n.cmp(&b.n).then(a.s.total_cmp(&b.s)).then(a.method.cmp(&b.method)).then(a.steps.cmp(&b.steps))
    });
    let mut pairs = Vec::new();
    for r in sorted {
        let s_b = least(r);
        if r.s == s_b {
            continue;
        }
        // C = 6·N/(1 − S)·D: the less sparse model of equal cost trains (1 − S_b)/(1 − S) times longer
        let longer = round_half_even(r.steps as f64 * (1.0 - s_b) / (1.0 - r.s));
        for bc in rows {
            if bc.ctx_len == r.ctx_len && bc.n == r.n && bc.steps as f64 == longer && bc.s == s_b {
                pairs.push(pair(bc, r));
            }
        }
    }
    let sparser_better = pairs.iter().filter(|p| p.other.loss < p.base.loss).count();
    EqualC { pairs, sparser_better }
}

/// What the dense records `ds` (sorted by N, at least two) say about a loss (docs/THEORY.md §3.1).
fn reading(loss: f64, n: u64, ds: &[&Row]) -> Reading {
    let mut rising = false;
    for w in ds.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (lo, hi) = if a.loss <= b.loss { (a.loss, b.loss) } else { (b.loss, a.loss) };
        if !(lo <= loss && loss <= hi && a.loss != b.loss) {
            continue;
        }
        if b.loss > a.loss {
            rising = true; // the larger dense model is worse here (undertrained): no size to read off
            continue;
        }
        let t = (loss - a.loss) / (b.loss - a.loss);
        let (la, lb) = ((a.n as f64).ln(), (b.n as f64).ln());
        let n_star = (la + t * (lb - la)).exp();
        return Reading::Equivalent { n_star, m: n_star / n as f64 };
    }
    if rising {
        Reading::RisingPart
    } else if ds.iter().all(|d| loss < d.loss) {
        Reading::BetterThanEveryDense
    } else {
        Reading::WorseThanEveryDense
    }
}

fn multiplier(rows: &[&Row]) -> Multiplier {
    let mut sorted: Vec<&Row> = rows.iter().copied().filter(|r| r.method != "dense").collect();
    sorted.sort_by(|a, b| {
        a.s.total_cmp(&b.s).then(a.method.cmp(&b.method)).then(a.width.cmp(&b.width)).then(a.steps.cmp(&b.steps))
    });
    let mut out = Vec::new();
    let mut ms: Vec<((f64, String), Vec<f64>)> = Vec::new();
    for r in sorted {
        let mut ds: Vec<&Row> = rows.iter().copied().filter(|d| d.method == "dense" && d.ctx == r.ctx).collect();
        if ds.len() < 2 {
            continue;
        }
        ds.sort_by_key(|d| d.n);
        let reading = reading(r.loss, r.n, &ds);
        if let Reading::Equivalent { m, .. } = reading {
            let key = (r.s, r.method.clone());
            match ms.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(m),
                None => ms.push((key, vec![m])),
            }
        }
        out.push(MultiplierRow { run: r.run(), reading });
    }
    ms.sort_by(|a, b| a.0 .0.total_cmp(&b.0 .0).then(a.0 .1.cmp(&b.0 .1)));
    let summaries = ms
        .into_iter()
        .map(|((s, method), mut v)| {
            v.sort_by(f64::total_cmp);
            MultiplierSummary {
                sparsity: s,
                method,
                median: median(&v),
                min: v[0],
                max: v[v.len() - 1],
                records: v.len(),
            }
        })
        .collect();
    Multiplier { rows: out, summaries }
}

fn n_m(rows: &[&Row]) -> Option<Vec<NmRow>> {
    let mut out: Vec<&Row> = rows.iter().copied().filter(|r| r.method.contains(':')).collect();
    if out.is_empty() {
        return None;
    }
    out.sort_by(|a, b| {
        a.s.total_cmp(&b.s).then(a.method.cmp(&b.method)).then(a.width.cmp(&b.width)).then(a.steps.cmp(&b.steps))
    });
    let last = |f: &dyn Fn(&Row) -> bool| rows.iter().rev().find(|x| f(x)).copied();
    let mut table = Vec::new();
    for r in out {
        let g = last(&|x| x.method == "gmp" && x.ctx == r.ctx && x.width == r.width && x.s == r.s);
        let d = last(&|x| x.method == "dense" && x.ctx == r.ctx && x.width == r.width);
        let (Some(g), Some(d)) = (g, d) else { continue };
        let gap = g.loss - d.loss;
        table.push(NmRow {
            width: r.width,
            steps: r.steps,
            sparsity: r.s,
            method: r.method.clone(),
            dense_loss: d.loss,
            gmp_loss: g.loss,
            loss: r.loss,
            minus_gmp: r.loss - g.loss,
            share_of_gap: (gap.abs() > 1e-9).then(|| (r.loss - g.loss) / gap),
        });
    }
    Some(table)
}

fn shapes(rows: &[&Row]) -> Option<Shapes> {
    let gmp: Vec<&Row> = rows.iter().copied().filter(|r| r.method.starts_with("gmp") && r.nbar.is_some()).collect();
    let mut cells = group_by(&gmp, |r| (r.ctx.clone(), r.width, r.s));
    cells.retain(|(_, g)| g.len() > 1);
    if cells.is_empty() {
        return None;
    }
    cells.sort_by(|a, b| a.0 .2.total_cmp(&b.0 .2).then(a.0 .1.cmp(&b.0 .1)).then(a.1[0].steps.cmp(&b.1[0].steps)));
    let mut best: BTreeMap<String, usize> = BTreeMap::new();
    let mut monotone = 0;
    let mut out = Vec::new();
    for ((_, width, s), mut g) in cells {
        let nbar = |r: &Row| r.nbar.unwrap_or(0.0);
        g.sort_by(|a, b| nbar(b).total_cmp(&nbar(a)));
        let mut b = g[0];
        for r in &g {
            if r.loss < b.loss {
                b = r;
            }
        }
        *best.entry(b.method.clone()).or_default() += 1;
        let loss_falls = g.windows(2).all(|w| w[0].loss < w[1].loss);
        monotone += usize::from(loss_falls);
        out.push(ShapeCell {
            width,
            steps: g[0].steps,
            sparsity: s,
            best: b.method.clone(),
            loss_falls,
            shapes: g
                .iter()
                .map(|r| ShapeEntry { method: r.method.clone(), nbar_over_n: nbar(r) / r.n as f64, loss: r.loss })
                .collect(),
        });
    }
    Some(Shapes { cells: out, monotone, best })
}

fn seeds(rows: &[&Row]) -> Option<Seeds> {
    let mut groups = group_by(rows, |r| (r.ctx_seedless.clone(), r.width, r.s, r.method.clone()));
    groups.retain(|(_, g)| g.len() > 1);
    if groups.is_empty() {
        return None;
    }
    groups.sort_by(|a, b| a.0 .1.cmp(&b.0 .1).then(a.0 .2.total_cmp(&b.0 .2)).then(a.0 .3.cmp(&b.0 .3)));
    let out: Vec<SeedGroup> = groups
        .into_iter()
        .map(|((_, width, s, method), mut g)| {
            g.sort_by_key(|r| r.seed);
            let max = g.iter().map(|r| r.loss).fold(f64::NEG_INFINITY, f64::max);
            let min = g.iter().map(|r| r.loss).fold(f64::INFINITY, f64::min);
            SeedGroup {
                width,
                sparsity: s,
                method,
                steps: g[0].steps,
                losses: g.iter().map(|r| SeedLoss { seed: r.seed, loss: r.loss }).collect(),
                spread: max - min,
            }
        })
        .collect();
    let mut spreads: Vec<f64> = out.iter().map(|g| g.spread).collect();
    spreads.sort_by(f64::total_cmp);
    Some(Seeds { median_spread: spreads[spreads.len() / 2], largest_spread: spreads[spreads.len() - 1], groups: out })
}
