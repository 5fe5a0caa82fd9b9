//! Sparsity pieces without a model: the cubic schedule against docs/THEORY.md §4.2's formula,
//! magnitude top-k and its tie rule, n:m (one-shot and gradual), roles, plans and mask
//! serialisation.

use proptest::prelude::*;
use sparse_scaling::experiment::{At, Pruning, PruningPlan, ScheduleShape};
use sparse_scaling::params::{embedding_sparsity, role_of, ParamRole};
use sparse_scaling::sparsity::*;

/// docs/THEORY.md §4.2, written out independently of the library.
fn paper_formula(s: f64, t_start: u64, t_end: u64, t: u64) -> f64 {
    let p = ((t as f64 + 1.0 - t_start as f64) / (t_end as f64 - t_start as f64)).clamp(0.0, 1.0);
    s * (1.0 - (1.0 - p).powi(3))
}

/// Reference top-k by full sort: |w| descending, then index ascending.
fn naive_topk(w: &[f32], k: usize) -> Vec<bool> {
    let mut idx: Vec<usize> = (0..w.len()).collect();
    idx.sort_by(|&a, &b| w[b].abs().partial_cmp(&w[a].abs()).unwrap().then(a.cmp(&b)));
    let mut keep = vec![false; w.len()];
    for &i in &idx[..k] {
        keep[i] = true;
    }
    keep
}

fn bits(m: &BitMask) -> Vec<bool> {
    (0..m.len()).map(|i| m.get(i)).collect()
}

#[test]
fn schedule_matches_paper_formula_at_every_step() {
    for &(s, a, b, steps) in
        &[(0.75, 250u64, 750u64, 1000u64), (0.5, 0, 10, 10), (0.875, 3, 4, 5), (0.9375, 1, 97, 130)]
    {
        let sched = Schedule::new(s, a, b, 7, steps).unwrap();
        for t in 0..steps + 5 {
            let want = paper_formula(s, a, b, t);
            assert!((sched.sparsity_at(t) - want).abs() < 1e-15, "t={t}: {} vs {want}", sched.sparsity_at(t));
        }
        assert_eq!(sched.sparsity_at(b - 1), s, "reaches S at t_end - 1");
        if a > 0 {
            assert_eq!(sched.sparsity_at(a - 1), 0.0, "zero before the ramp");
        }
    }
}

#[test]
fn fractions_resolve_against_the_run() {
    // Planning resolves fractions once; the schedule takes the plan's steps as they are.
    let plan = Pruning::default().resolve(0.75, 1000).unwrap();
    let (a, b, f) = plan.schedule().unwrap();
    let s = Schedule::new(0.75, a, b, f, 1000).unwrap();
    assert_eq!((s.t_start(), s.t_end(), s.update_freq()), (250, 750, 100));
    let nm = Pruning::NM {
        shape: ScheduleShape::CUBIC,
        n: 2,
        m: 4,
        gradual: true,
        start: At::Step(10),
        end: At::Fraction(1.0),
        update_every: 3,
    };
    assert_eq!(nm.resolve(0.5, 40).unwrap().schedule(), Some((10, 40, 3)));
}

#[test]
fn update_steps_every_freq_and_at_the_end() {
    let s = Schedule::new(0.5, 10, 25, 4, 30).unwrap();
    let ups: Vec<u64> = s.update_steps().collect();
    assert_eq!(ups, vec![10, 14, 18, 22, 24]);
    assert_eq!(s.last_update_at_or_before(9), None);
    assert_eq!(s.last_update_at_or_before(13), Some(10));
    assert_eq!(s.last_update_at_or_before(23), Some(22));
    assert_eq!(s.last_update_at_or_before(29), Some(24));
    assert_eq!(s.effective_sparsity(29), 0.5);
    assert_eq!(s.effective_sparsity(5), 0.0);
}

#[test]
fn bad_schedules_are_errors_that_say_how_to_fix() {
    let e = Schedule::new(1.0, 0, 10, 1, 10).unwrap_err();
    assert!(matches!(e, SparsityError::InvalidSparsity { value, .. } if value == 1.0));
    assert!(e.to_string().contains("0 ≤ S < 1"));
    assert!(matches!(Schedule::new(-0.1, 0, 10, 1, 10), Err(SparsityError::InvalidSparsity { .. })));
    assert!(matches!(Schedule::new(f64::NAN, 0, 10, 1, 10), Err(SparsityError::InvalidSparsity { .. })));
    let e = Schedule::new(0.5, 10, 10, 1, 20).unwrap_err();
    assert_eq!(e, SparsityError::ScheduleOrder { t_start: 10, t_end: 10, steps: 20 });
    assert!(e.to_string().contains("Fraction(0.25)"));
    assert!(matches!(Schedule::new(0.5, 12, 10, 1, 20), Err(SparsityError::ScheduleOrder { .. })));
    assert!(matches!(Schedule::new(0.5, 0, 21, 1, 20), Err(SparsityError::ScheduleOrder { .. })));
    assert_eq!(Schedule::new(0.5, 0, 10, 0, 20), Err(SparsityError::InvalidUpdateFreq));
    assert_eq!(Schedule::new(0.5, 0, 10, 1, 0), Err(SparsityError::ZeroSteps));
    let backwards =
        Pruning::Gmp { shape: ScheduleShape::CUBIC, start: At::Fraction(0.8), end: At::Fraction(0.2), update_every: 1 };
    let (a, b, f) = backwards.resolve(0.5, 100).unwrap().schedule().unwrap();
    assert!(matches!(
        Schedule::new(0.5, a, b, f, 100),
        Err(SparsityError::ScheduleOrder { t_start: 80, t_end: 20, .. })
    ));
}

#[test]
fn top_k_keeps_the_rounded_count_and_breaks_ties_by_lower_index() {
    assert_eq!(kept_count(10, 0.0), 10);
    assert_eq!(kept_count(10, 0.75), 3); // round(2.5) = 3 (half away from zero)
    assert_eq!(kept_count(10, 0.99), 1); // max(1, ·)
    assert_eq!(kept_count(0, 0.5), 0);
    // All equal magnitudes: the k lowest indices are kept.
    let w = [1.0f32, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0];
    let m = magnitude_mask("l", &w, 0.5).unwrap();
    assert_eq!(bits(&m), [true, true, true, true, false, false, false, false]);
    // Mixed: 3.0 first, then the tied 2.0s in index order.
    let w = [2.0f32, 0.0, -2.0, 3.0, 2.0, 1.0];
    let m = magnitude_mask("l", &w, 0.5).unwrap();
    assert_eq!(bits(&m), [true, false, true, true, false, false]);
    // NaN ranks as 0 (pruned first).
    let w = [f32::NAN, 0.1, 0.2, 0.3];
    let m = magnitude_mask("l", &w, 0.25).unwrap();
    assert_eq!(bits(&m), [false, true, true, true]);
}

#[test]
fn nm_one_shot_keeps_exactly_n_per_group() {
    let w: Vec<f32> = (0..64).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.1).collect();
    let p = NmPattern::new(2, 4).unwrap();
    let m = nm_mask("l", &w, &[4, 16], p).unwrap();
    for g in 0..16 {
        let kept = (0..4).filter(|&j| m.get(g * 4 + j)).count();
        assert_eq!(kept, 2, "group {g}");
    }
    assert_eq!(m.count_ones(), 32);
    // ties inside a group: lower index wins
    let w = [0.5f32, 0.5, 0.5, 0.5, 0.1, 0.7, 0.7, 0.7];
    let m = nm_mask("l", &w, &[1, 8], NmPattern::new(2, 4).unwrap()).unwrap();
    assert_eq!(bits(&m), [true, true, false, false, false, true, true, false]);
}

#[test]
fn nm_with_large_groups_uses_the_same_rule() {
    // m > 64 takes the select_nth path; check it against the full sort, with ties.
    let m = 72;
    let w: Vec<f32> = (0..2 * 144).map(|i| ((i * 29 % 11) as f32 - 5.0) * 0.25).collect();
    let mask = nm_mask("l", &w, &[2, 144], NmPattern::new(5, m).unwrap()).unwrap();
    for (g, vals) in w.chunks(m).enumerate() {
        let keep: Vec<bool> = (0..m).map(|j| mask.get(g * m + j)).collect();
        assert_eq!(keep, naive_topk(vals, 5), "group {g}");
    }
}

#[test]
fn nm_errors_name_layer_width_and_m() {
    assert_eq!(NmPattern::new(4, 4), Err(SparsityError::InvalidNm { n: 4, m: 4 }));
    assert_eq!(NmPattern::new(5, 4), Err(SparsityError::InvalidNm { n: 5, m: 4 }));
    assert_eq!(NmPattern::new(0, 4), Err(SparsityError::InvalidNm { n: 0, m: 4 }));
    let e = nm_mask("blocks.0.mlp.fc2.weight", &[0.0; 30], &[3, 10], NmPattern::new(2, 4).unwrap()).unwrap_err();
    assert_eq!(e, SparsityError::NmWidth { layer: "blocks.0.mlp.fc2.weight".into(), width: 10, m: 4 });
    let msg = e.to_string();
    assert!(msg.contains("blocks.0.mlp.fc2.weight") && msg.contains("10") && msg.contains("m = 4"), "{msg}");
}

#[test]
fn gradual_nm_ranks_group_winners_first_and_ends_exactly_nm() {
    let w: Vec<f32> = (0..96).map(|i| (((i * 53) % 97) as f32 - 48.0) / 10.0).collect();
    let shape = [4usize, 24];
    let p = NmPattern::new(1, 4).unwrap();
    let winners = nm_mask("l", &w, &shape, p).unwrap();
    // below the final sparsity: every winner kept, plus the largest losers
    let m = gradual_nm_mask("l", &w, &shape, p, 0.5).unwrap();
    assert_eq!(m.count_ones(), 48);
    for i in 0..96 {
        if winners.get(i) {
            assert!(m.get(i));
        }
    }
    // above what the winners fill (sparsity 0.9 > 0.75): only winners, the largest ones
    let m = gradual_nm_mask("l", &w, &shape, p, 0.9).unwrap();
    assert_eq!(m.count_ones(), kept_count(96, 0.9));
    for i in 0..96 {
        if m.get(i) {
            assert!(winners.get(i));
        }
    }
    // at 1 − n/m: exactly the n:m mask
    assert_eq!(gradual_nm_mask("l", &w, &shape, p, p.sparsity()).unwrap(), winners);
}

#[test]
fn roles_follow_the_naming_contract() {
    use ParamRole::*;
    let cases: &[(&str, &[usize], ParamRole)] = &[
        ("blocks.0.attn.weight", &[8, 8], Prunable),
        ("blocks.11.attn.qkv.weight", &[24, 8], Prunable),
        ("decoder.3.cross_attn.o.weight", &[8, 8], Prunable),
        ("encoder.0.self_attn.q.weight", &[8, 8], Prunable),
        ("blocks.0.mlp.fc1.weight", &[32, 8], Prunable),
        ("blocks.0.mlp.fc1.bias", &[32], Dense),
        ("blocks.0.attn.weight", &[8], Dense),
        ("blocks.0.mlp_norm.weight", &[8], Dense),
        ("blocks.0.attention.weight", &[8, 8], Matrix),
        ("encoder.0.self_attn.rel_bias.weight", &[32, 4], Dense),
        ("tok_embed.weight", &[256, 8], Embedding),
        ("patch_embed.weight", &[8, 48], Embedding),
        ("patch_embed.bias", &[8], Dense),
        ("lm_head.weight", &[256, 8], Embedding),
        ("head.weight", &[10, 8], Embedding),
        ("head.bias", &[10], Dense),
        ("pos_embed", &[16, 8], Matrix),
        ("cls_token", &[1, 8], Matrix),
        ("final_norm.gamma", &[8], Dense),
    ];
    for (p, s, r) in cases {
        assert_eq!(role_of(p, s), *r, "{p}");
        // weight decay: every matrix that names neither a norm nor a bias
        let decayed = s.len() >= 2 && !p.contains("norm") && !p.contains("bias");
        assert_eq!(r.is_decayed(), decayed, "{p}");
    }
    assert!((embedding_sparsity(0.875) - (1.0 - 0.125f64.sqrt())).abs() < 1e-15);
    assert_eq!(embedding_sparsity(0.0), 0.0);
}

#[test]
fn plans_round_trip_and_bad_patterns_are_errors() {
    assert_eq!(NmPattern::new(4, 4), Err(SparsityError::InvalidNm { n: 4, m: 4 }));
    assert!(matches!(Schedule::new(1.0, 0, 5, 100, 10), Err(SparsityError::InvalidSparsity { .. })));
    let plans = [
        PruningPlan::Dense,
        Pruning::default().resolve(0.75, 1000).unwrap(),
        PruningPlan::NM { shape: ScheduleShape::CUBIC, n: 2, m: 4, gradual: true, start: 0, end: 5, update_every: 1 },
        PruningPlan::FromDense { shape: ScheduleShape::CUBIC, dense_steps: 10, start: 0, end: 5, update_every: 1 },
    ];
    for c in plans {
        assert_eq!(ron::from_str::<PruningPlan>(&ron::to_string(&c).unwrap()).unwrap(), c);
        assert_eq!(serde_json::from_str::<PruningPlan>(&serde_json::to_string(&c).unwrap()).unwrap(), c);
    }
    assert!(ron::from_str::<PruningPlan>("Gmp(start: 1, end: 2, update_every: 1, freq: 3)").is_err());
}

#[test]
fn corrupt_masks_are_rejected_on_load() {
    assert!(serde_json::from_str::<BitMask>(r#"{"len": 70, "words": [1]}"#)
        .unwrap_err()
        .to_string()
        .contains("corrupt mask"));
    assert!(serde_json::from_str::<BitMask>(r#"{"len": 3, "words": [15]}"#).is_err());
    assert!(serde_json::from_str::<BitMask>(r#"{"len": 3, "words": [5]}"#).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn top_k_equals_full_sort(
        w in prop::collection::vec(prop_oneof![(-4i32..4).prop_map(|x| x as f32 * 0.5), -10.0f32..10.0], 1..300),
        s in 0.0f64..0.999,
    ) {
        let m = magnitude_mask("l", &w, s).unwrap();
        let k = kept_count(w.len(), s);
        prop_assert_eq!(m.count_ones(), k);
        prop_assert_eq!(bits(&m), naive_topk(&w, k));
    }

    #[test]
    fn nm_groups_hold_the_n_largest(
        n in 1usize..4, extra in 1usize..5, groups in 1usize..12, rows in 1usize..4,
        seed in any::<u64>(),
    ) {
        let m = n + extra;
        let width = groups * m;
        let w: Vec<f32> = (0..rows * width)
            .map(|i| (((i as u64).wrapping_mul(6364136223846793005).wrapping_add(seed) >> 40) % 7) as f32 - 3.0)
            .collect();
        let p = NmPattern::new(n, m).unwrap();
        let mask = nm_mask("l", &w, &[rows, width], p).unwrap();
        for g in w.chunks(m).enumerate() {
            let (gi, vals) = g;
            let keep: Vec<bool> = (0..m).map(|j| mask.get(gi * m + j)).collect();
            prop_assert_eq!(keep.clone(), naive_topk(vals, n));
        }
        // gradual at the final sparsity is the same mask
        prop_assert_eq!(gradual_nm_mask("l", &w, &[rows, width], p, p.sparsity()).unwrap(), mask);
    }

    #[test]
    fn gradual_nm_equals_sort_with_winners_first(
        n in 1usize..4, extra in 1usize..5, groups in 1usize..10, rows in 1usize..4,
        s in 0.0f64..0.99, seed in any::<u64>(),
    ) {
        let m = n + extra;
        let width = groups * m;
        let w: Vec<f32> = (0..rows * width)
            .map(|i| (((i as u64).wrapping_mul(6364136223846793005).wrapping_add(seed) >> 40) % 9) as f32 - 4.0)
            .collect();
        let p = NmPattern::new(n, m).unwrap();
        let winners = nm_mask("l", &w, &[rows, width], p).unwrap();
        let got = gradual_nm_mask("l", &w, &[rows, width], p, s).unwrap();
        let k = kept_count(w.len(), s);
        let mut idx: Vec<usize> = (0..w.len()).collect();
        idx.sort_by(|&a, &b| {
            winners.get(b).cmp(&winners.get(a))
                .then(w[b].abs().partial_cmp(&w[a].abs()).unwrap())
                .then(a.cmp(&b))
        });
        let mut want = vec![false; w.len()];
        for &i in &idx[..k] {
            want[i] = true;
        }
        prop_assert_eq!(bits(&got), want);
    }

    #[test]
    fn schedule_is_monotone_and_bounded(
        s in 0.0f64..0.99, a in 0u64..50, len in 1u64..50, tail in 0u64..20, f in 1u64..12,
    ) {
        let b = a + len;
        let sched = Schedule::new(s, a, b, f, b + tail).unwrap();
        let mut prev = 0.0;
        for t in 0..b + tail {
            let v = sched.sparsity_at(t);
            prop_assert!(v >= prev && v <= s);
            prop_assert!((v - paper_formula(s, a, b, t)).abs() < 1e-15);
            prop_assert!(sched.effective_sparsity(t) <= v);
            prop_assert_eq!(sched.is_update_step(t), sched.last_update_at_or_before(t) == Some(t));
            prev = v;
        }
        prop_assert_eq!(sched.effective_sparsity(b + tail - 1), s);
    }

    #[test]
    fn bitmask_zeroing_and_serde_round_trip(keep in prop::collection::vec(any::<bool>(), 0..300)) {
        let mut m = BitMask::zeros(keep.len());
        for (i, &k) in keep.iter().enumerate() {
            m.set(i, k);
        }
        prop_assert_eq!(m.count_ones(), keep.iter().filter(|k| **k).count());
        let mut v: Vec<f32> = (0..keep.len()).map(|i| i as f32 + 1.0).collect();
        m.zero_pruned(&mut v);
        for (i, &k) in keep.iter().enumerate() {
            prop_assert_eq!(v[i] != 0.0, k);
        }
        let back: BitMask = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        prop_assert_eq!(&back, &m);
        let back: BitMask = ron::from_str(&ron::to_string(&m).unwrap()).unwrap();
        prop_assert_eq!(back, m);
    }
}
