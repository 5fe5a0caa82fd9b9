//! Synthetic record sets with answers computed by hand.

use super::*;
use crate::results::Record;

/// A ViT record of width `w`, sparsity `s` pruned by `pruning` (JSON of a `PruningPlan`),
/// trained `steps` steps with `seed`, with `n` non-zeros and final loss `loss`.
fn rec(w: usize, s: f64, pruning: &str, steps: u64, n: u64, loss: f64, seed: u64) -> Record {
    let json = format!(
        r#"{{"format": 1, "hash": "h{w}-{s}-{steps}-{seed}-{n}-{}", "experiment": "t", "index": 0,
        "spec": {{"family": "Vit", "dims": {{"width": {w}, "mlp_width": {}, "depth": 2, "heads": 4}},
          "vit": {{"image_size": 16, "patch_size": 4, "channels": 3, "classes": 10}}, "t5": null,
          "sparsity": {s:?}, "pruning": {pruning}, "steps": {steps}, "batch_size": 32,
          "optimizer": {{"AdamW": {{"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-08, "weight_decay": 0.0001}}}},
          "lr": {{"warmup_steps": {}, "min_lr_ratio": 0.0, "grad_clip": 1.0}}, "data": "Synthetic",
          "val_examples": 256, "val_every": 50, "seed": {seed}}},
        "data_seen": {}, "outcome": {{"nonzero_params": {n}, "prunable_params": {}, "total_params": {},
          "layer_sparsity": [], "final_val_loss": {loss:?}, "best_val_loss": {loss:?}, "val_curve": []}},
        "run": {{"wall_seconds": 1.0, "steps_per_second": 1.0, "resumed_from_step": 0, "host": "h", "pid": 1,
          "finished_at": 0}}}}"#,
        pruning.len(),
        4 * w,
        steps / 20,
        steps * 32,
        12 * w * w,
        12 * w * w + 100,
    );
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("test record does not parse: {e}\n{json}"))
}

const DENSE: &str = r#""Dense""#;
const GMP: &str = r#"{"Gmp": {"start": 10, "end": 30, "update_every": 10}}"#;
const GEOMETRIC: &str = r#"{"Gmp": {"shape": "Geometric", "start": 10, "end": 30, "update_every": 10}}"#;
const NM24: &str = r#"{"NM": {"n": 2, "m": 4, "gradual": false, "start": 10, "end": 30, "update_every": 10}}"#;

fn dense(w: usize, steps: u64, loss: f64) -> Record {
    rec(w, 0.0, DENSE, steps, (12 * w * w) as u64, loss, 0)
}

fn one(records: &[Record]) -> FamilyFindings {
    let f = Findings::new(vec!["synthetic".into()], records);
    assert_eq!(f.families.len(), 1);
    f.families[0].clone()
}

#[test]
fn an_equal_n_pair_where_the_sparse_model_wins() {
    // width 64 at S = 0.75 keeps 12·64²/4 = 12·32² non-zeros: the N of the dense width 32
    let records = [dense(32, 100, 2.0), rec(64, 0.75, GMP, 100, 12 * 32 * 32, 1.9, 0), dense(64, 100, 1.7)];
    let f = one(&records);
    assert_eq!(f.equal_n.pairs.len(), 1);
    let p = &f.equal_n.pairs[0];
    assert_eq!((p.base.width, p.base.method.as_str(), p.other.width, p.other.sparsity), (32, "dense", 64, 0.75));
    assert!((p.diff - (1.9 - 2.0)).abs() < 1e-12, "{}", p.diff);
    let t = &f.equal_n.tallies[0];
    assert_eq!((t.sparser_better, t.pairs), (1, 1));
    assert!(f
        .markdown("synthetic")
        .contains("S = 0.75 gmp against S = 0.0 dense: sparser better in 1 of 1 equal-N, equal-D pairs"));
}

#[test]
fn an_equal_cost_pair_trains_the_dense_model_shorter() {
    // C = 6·N/(1 − S)·D: at equal N, dense (S_b = 0) costs as much as S = 0.75 when it trains
    // (1 − S_b)/(1 − S) = 4 times longer: 400 steps against 100; dense at 100 steps is no pair
    let records = [dense(32, 400, 1.95), rec(64, 0.75, GMP, 100, 12 * 32 * 32, 2.0, 0), dense(32, 100, 2.1)];
    let f = one(&records);
    assert_eq!(f.equal_c.pairs.len(), 1);
    let p = &f.equal_c.pairs[0];
    assert_eq!((p.base.steps, p.other.steps), (400, 100));
    assert_eq!(f.equal_c.sparser_better, 0);
}

#[test]
fn m_is_interpolated_in_log_n_between_falling_dense_records() {
    // dense N = 12·32² = 12288 at loss 2.0 and N = 12·64² = 49152 at loss 1.6; a sparse loss of
    // 1.7 lies three quarters of the way from 2.0 to 1.6: t = (1.7 − 2.0)/(1.6 − 2.0) = 0.75,
    // N* = exp(ln 12288 + 0.75·ln 4) = 12288·4^0.75 = 34755.7, m = N*/N = 34755.7/6144 = 5.657
    let records = [dense(32, 100, 2.0), dense(64, 100, 1.6), rec(32, 0.5, GMP, 100, 6144, 1.7, 0)];
    let f = one(&records);
    let Reading::Equivalent { n_star, m } = f.multiplier.rows[0].reading else {
        panic!("{:?}", f.multiplier.rows[0].reading)
    };
    assert!((n_star - 12288.0 * 4f64.powf(0.75)).abs() < 1e-6, "{n_star}");
    assert!((m - 2.0 * 4f64.powf(0.75)).abs() < 1e-9, "{m}");
    let s = &f.multiplier.summaries[0];
    assert_eq!((s.records, s.sparsity), (1, 0.5));
    assert!(
        f.markdown("synthetic").contains("| 0.5 | gmp | 32 | 100 | 6144 | 1.7000 | 34756 | 5.66 |"),
        "{}",
        f.markdown("synthetic")
    );
}

#[test]
fn m_is_never_extrapolated_beyond_the_dense_range() {
    let records = [
        dense(32, 100, 2.0),
        dense(64, 100, 1.6),
        rec(32, 0.5, GMP, 100, 6144, 1.5, 0),  // below every dense loss
        rec(32, 0.75, GMP, 100, 3072, 2.2, 0), // above every dense loss
    ];
    let f = one(&records);
    let readings: Vec<&Reading> = f.multiplier.rows.iter().map(|r| &r.reading).collect();
    assert_eq!(readings, [&Reading::BetterThanEveryDense, &Reading::WorseThanEveryDense]);
    assert!(f.multiplier.summaries.is_empty());
    let md = f.markdown("synthetic");
    assert!(
        md.contains("| 1.5000 | better than every dense | – |")
            && md.contains("| 2.2000 | worse than every dense | – |")
    );
}

#[test]
fn m_is_not_read_off_where_the_dense_loss_rises_with_n() {
    // the larger dense model is worse (1.8 > 1.6): a loss of 1.7 between them gives no size
    let records = [dense(32, 100, 1.6), dense(64, 100, 1.8), rec(32, 0.5, GMP, 100, 6144, 1.7, 0)];
    assert_eq!(one(&records).multiplier.rows[0].reading, Reading::RisingPart);
}

#[test]
fn the_m_median_of_an_even_count_is_the_mean_of_the_middle_two() {
    assert_eq!(rows::median(&[1.0, 2.0, 4.0, 10.0]), 3.0);
    assert_eq!(rows::median(&[1.0, 2.0, 10.0]), 2.0);
}

#[test]
fn n_m_gets_its_share_of_the_dense_to_gmp_gap() {
    // dense 1.5, GMP 1.7, 2:4 1.8: n:m − GMP = 0.1, share = 0.1/0.2 = +0.5
    let records = [dense(32, 100, 1.5), rec(32, 0.5, GMP, 100, 6144, 1.7, 0), rec(32, 0.5, NM24, 100, 6144, 1.8, 0)];
    let nm = one(&records).n_m.expect("an n:m record");
    assert_eq!(nm.len(), 1);
    assert_eq!(nm[0].method, "2:4");
    assert!((nm[0].share_of_gap.unwrap() - 0.5).abs() < 1e-12, "{:?}", nm[0].share_of_gap);
    assert!((nm[0].minus_gmp - 0.1).abs() < 1e-12);
}

#[test]
fn shapes_rank_by_nbar_and_seeds_give_their_spread() {
    let mut a = rec(32, 0.5, GMP, 100, 6144, 1.70, 0);
    a.outcome.avg_nonzero_params = Some(9000.0);
    let mut b = rec(32, 0.5, GEOMETRIC, 100, 6144, 1.75, 0);
    b.outcome.avg_nonzero_params = Some(8000.0);
    let records = [a, b, rec(32, 0.5, GMP, 100, 6144, 1.74, 1), rec(32, 0.5, GMP, 100, 6144, 1.71, 2)];
    let f = one(&records);
    let shapes = f.shapes.expect("two shapes in one cell");
    assert_eq!(shapes.cells.len(), 1);
    let c = &shapes.cells[0];
    assert_eq!((c.shapes[0].method.as_str(), c.best.as_str(), c.loss_falls), ("gmp", "gmp", true));
    let seeds = f.seeds.expect("three seeds of the GMP point");
    assert_eq!(seeds.groups.len(), 1);
    let seeds_of: Vec<u64> = seeds.groups[0].losses.iter().map(|l| l.seed).collect();
    assert_eq!(seeds_of, [0, 1, 2]);
    assert!((seeds.largest_spread - 0.04).abs() < 1e-12, "{}", seeds.largest_spread);
}

#[test]
fn warmup_fractions_round_half_to_even_as_text() {
    assert_eq!(rows::round2(0.125), "0.12");
    assert_eq!(rows::round2(0.375), "0.38");
    assert_eq!(rows::round2(0.05), "0.05");
    assert_eq!(rows::round2(8.0 / 150.0), "0.05");
    assert_eq!(
        (rows::round_half_even(12.5), rows::round_half_even(13.5), rows::round_half_even(2.6)),
        (12.0, 14.0, 3.0)
    );
}
