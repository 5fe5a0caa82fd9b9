//! T5.1.1 checked against an independent naive f64 forward pass, plus the causal mask, the
//! relative-position buckets, gradients, parameter counts, the naming contract and errors.

use crate::model_common;

use model_common::*;
use sparse_scaling::dfdx::prelude::*;
use sparse_scaling::model::{relative_position_bucket, Kernels, ModelError, SparseModel, T5Config, TextBatch, T5};
use sparse_scaling::params::{role_of, ParamRole};

const KERNELS: [Kernels; 2] = [Kernels::Reference, Kernels::Fused];

// vocab 12, width 4, MLP 6, 2 heads, 2 + 2 layers, 8 buckets.
type Tiny = T5<12, 4, 6, 2, 2, 2, 8>;
const V: usize = 12;
const D: usize = 4;
const F: usize = 6;
const H: usize = 2;
const NB: usize = 8;
const MAXD: usize = 6;

fn config(z_loss: f32) -> T5Config {
    T5Config { relative_max_distance: MAXD, z_loss }
}

fn tiny(z_loss: f32) -> Tiny {
    let dev = Cpu::default();
    let mut m = Tiny::new(&dev, config(z_loss), 3).unwrap();
    set_params(&mut m, |name, i| 0.6 * fixed_value(name, i));
    m
}

fn batch() -> TextBatch {
    // row 0: no padding; row 1: padded input and targets.
    TextBatch {
        batch: 2,
        input_len: 7,
        target_len: 5,
        inputs: vec![5, 3, 9, 11, 4, 7, 1, 6, 8, 2, 1, 0, 0, 0],
        targets: vec![4, 10, 3, 7, 1, 9, 5, 1, 0, 0],
    }
}

struct Naive {
    logits: Vec<f64>,
    loss: f64,
}

fn naive(m: &Tiny, b: &TextBatch) -> Naive {
    let p = param_map(m);
    let (ti, to) = (b.input_len, b.target_len);
    let z = m.config.z_loss as f64;
    let embed = |toks: &[usize]| -> Vec<f64> {
        toks.iter().flat_map(|&t| p["tok_embed.weight"][t * D..(t + 1) * D].to_vec()).collect()
    };
    let mlp = |pre: &str, h: &[f64], t: usize| t5_mlp(&p, pre, h, t, D, F);
    let attn = |pre: &str, x: &[f64], kv: &[f64], tq: usize, tk: usize, bias: &dyn Fn(usize, usize, usize) -> f64| {
        t5_attention(&p, pre, x, kv, tq, tk, D, H, bias)
    };
    let add = |x: &mut Vec<f64>, y: &[f64]| x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
    let mut logits = Vec::new();
    let mut loss = 0.0;
    let mut n_tok = 0usize;
    for r in 0..b.batch {
        let inp: Vec<usize> = b.inputs[r * ti..(r + 1) * ti].iter().map(|&t| t as usize).collect();
        let tgt: Vec<usize> = b.targets[r * to..(r + 1) * to].iter().map(|&t| t as usize).collect();
        // encoder
        let mut x = embed(&inp);
        let table = &p["encoder.rel_bias.table"];
        let enc_bias = |h: usize, i: usize, j: usize| {
            if inp[j] == 0 {
                f64::NEG_INFINITY
            } else {
                table[naive_bucket(j as i64 - i as i64, true, NB, MAXD) * H + h]
            }
        };
        for l in 0..2 {
            let pre = format!("encoder.layers.{l}");
            let h = rms_norm(&x, D, &p[&format!("{pre}.self_attn_norm.gamma")], 1e-6);
            let a = attn(&format!("{pre}.self_attn"), &h, &h, ti, ti, &enc_bias);
            add(&mut x, &a);
            let h = rms_norm(&x, D, &p[&format!("{pre}.mlp_norm.gamma")], 1e-6);
            let m2 = mlp(&pre, &h, ti);
            add(&mut x, &m2);
        }
        let enc = rms_norm(&x, D, &p["encoder.final_norm.gamma"], 1e-6);
        // decoder
        let mut dec_in = vec![0usize];
        dec_in.extend_from_slice(&tgt[..to - 1]);
        let mut y = embed(&dec_in);
        let dtable = &p["decoder.rel_bias.table"];
        let self_bias = |h: usize, i: usize, j: usize| {
            if j > i {
                f64::NEG_INFINITY
            } else {
                dtable[naive_bucket(j as i64 - i as i64, false, NB, MAXD) * H + h]
            }
        };
        let cross_bias = |_h: usize, _i: usize, j: usize| if inp[j] == 0 { f64::NEG_INFINITY } else { 0.0 };
        for l in 0..2 {
            let pre = format!("decoder.layers.{l}");
            let h = rms_norm(&y, D, &p[&format!("{pre}.self_attn_norm.gamma")], 1e-6);
            let a = attn(&format!("{pre}.self_attn"), &h, &h, to, to, &self_bias);
            add(&mut y, &a);
            let h = rms_norm(&y, D, &p[&format!("{pre}.cross_attn_norm.gamma")], 1e-6);
            let c = attn(&format!("{pre}.cross_attn"), &h, &enc, to, ti, &cross_bias);
            add(&mut y, &c);
            let h = rms_norm(&y, D, &p[&format!("{pre}.mlp_norm.gamma")], 1e-6);
            let m2 = mlp(&pre, &h, to);
            add(&mut y, &m2);
        }
        let y = rms_norm(&y, D, &p["decoder.final_norm.gamma"], 1e-6);
        let lg = linear(&y, to, D, &p["lm_head.weight"], V, None);
        for (i, &t) in tgt.iter().enumerate() {
            if t != 0 {
                let row = &lg[i * V..(i + 1) * V];
                let lse = logsumexp(row);
                loss += lse - row[t] + z * lse * lse;
                n_tok += 1;
            }
        }
        logits.extend(lg);
    }
    Naive { logits, loss: loss / n_tok as f64 }
}

#[test]
fn relative_position_bucket_matches_t5_definition() {
    // (relative position, bidirectional, expected bucket) for T5's 32 buckets, max distance 128.
    let known = [
        (0, true, 0),
        (-1, true, 1),
        (1, true, 17),
        (-7, true, 7),
        (-8, true, 8),
        (-16, true, 10),
        (-32, true, 12),
        (20, true, 26),
        (-128, true, 15),
        (-1000, true, 15),
        (1000, true, 31),
        (0, false, 0),
        (5, false, 0),
        (-1, false, 1),
        (-15, false, 15),
        (-16, false, 16),
        (-20, false, 17),
        (-32, false, 21),
        (-127, false, 31),
        (-1000, false, 31),
    ];
    for (rel, bi, want) in known {
        assert_eq!(relative_position_bucket(rel, bi, 32, 128), want, "rel {rel} bidirectional {bi}");
        assert_eq!(naive_bucket(rel, bi, 32, 128), want, "naive rel {rel} bidirectional {bi}");
    }
    // and the two implementations agree everywhere on the tiny model's setting
    for rel in -40..=40 {
        for bi in [true, false] {
            assert_eq!(relative_position_bucket(rel, bi, NB, MAXD), naive_bucket(rel, bi, NB, MAXD));
        }
    }
}

#[test]
fn forward_and_loss_match_naive_reference() {
    let b = batch();
    for (z, k) in [(0.0, Kernels::Reference), (1e-4, Kernels::Reference), (0.0, Kernels::Fused), (0.1, Kernels::Fused)]
    {
        let mut m = tiny(z);
        m.kernels = k;
        let want = naive(&m, &b);
        let got = m.logits(&b, NoneTape).unwrap().as_vec();
        assert_close(&format!("logits z={z} {k:?}"), &got, &want.logits, 1e-4);
        assert!(want.logits.iter().any(|v| v.abs() > 0.1));
        let loss = m.loss(&b, NoneTape).unwrap().array() as f64;
        assert!((loss - want.loss).abs() < 1e-4 * (1.0 + want.loss), "z={z}: loss {loss} vs {}", want.loss);
    }
}

#[test]
fn padded_batches_match_naive_reference() {
    // Trailing PAD inputs in every row (3 and 1) and trailing PAD targets in every row (2 and 1):
    // the model drops the common padding; the naive reference keeps everything.
    let b = TextBatch {
        batch: 2,
        input_len: 6,
        target_len: 5,
        inputs: vec![5, 3, 1, 0, 0, 0, 6, 8, 2, 9, 1, 0],
        targets: vec![4, 10, 1, 0, 0, 9, 5, 7, 1, 0],
    };
    for k in KERNELS {
        let mut m = tiny(1e-4);
        m.kernels = k;
        let want = naive(&m, &b);
        let got = m.logits(&b, NoneTape).unwrap().as_vec();
        assert_close(&format!("padded logits {k:?}"), &got, &want.logits, 1e-4);
        let loss = m.loss(&b, NoneTape).unwrap().array() as f64;
        assert!((loss - want.loss).abs() < 1e-4 * (1.0 + want.loss), "{k:?}: loss {loss} vs {}", want.loss);
    }
}

#[test]
fn z_loss_changes_the_loss() {
    let b = batch();
    let a = tiny(0.0).loss(&b, NoneTape).unwrap().array();
    let c = tiny(0.1).loss(&b, NoneTape).unwrap().array();
    assert!(c > a + 1e-3, "{a} {c}");
}

#[test]
fn causal_mask_blocks_the_future() {
    for k in KERNELS {
        let mut m = tiny(1e-4);
        m.kernels = k;
        let b = batch();
        let base = m.logits(&b, NoneTape).unwrap().as_vec();
        let to = b.target_len;
        for k in 0..to - 1 {
            // target k is decoder input k+1: positions 0..=k must not change, k+1 must.
            let mut b2 = b.clone();
            b2.targets[k] = if b.targets[k] == 6 { 8 } else { 6 };
            let got = m.logits(&b2, NoneTape).unwrap().as_vec();
            for pos in 0..to {
                let row = |v: &[f32]| v[pos * V..(pos + 1) * V].to_vec();
                if pos <= k {
                    assert_eq!(row(&got), row(&base), "changing target {k} changed logits at {pos}");
                } else if pos == k + 1 {
                    assert_ne!(row(&got), row(&base), "target {k} should feed position {pos}");
                }
            }
            // the other sequence of the batch is untouched
            assert_eq!(got[to * V..], base[to * V..]);
        }
    }
}

#[test]
fn encoder_padding_is_ignored() {
    for k in KERNELS {
        // The same input with PAD keys appended gives the same logits: PAD keys are masked in the
        // encoder self-attention and in the cross-attention.
        let mut m = tiny(1e-4);
        m.kernels = k;
        let short =
            TextBatch { batch: 1, input_len: 4, target_len: 3, inputs: vec![6, 8, 2, 1], targets: vec![9, 5, 1] };
        let long =
            TextBatch { batch: 1, input_len: 6, target_len: 3, inputs: vec![6, 8, 2, 1, 0, 0], targets: vec![9, 5, 1] };
        let a = m.logits(&short, NoneTape).unwrap().as_vec();
        let c = m.logits(&long, NoneTape).unwrap().as_vec();
        assert_close("padded", &a, &c.iter().map(|&v| v as f64).collect::<Vec<_>>(), 1e-5);
    }
}

#[test]
fn gradients_reach_every_parameter() {
    for k in KERNELS {
        let mut m = tiny(1e-4);
        m.kernels = k;
        let loss = m.loss(&batch(), OwnedTape::default()).unwrap();
        let grads = loss.backward();
        let zero = zero_grad_params(&m, &grads);
        assert!(zero.is_empty(), "{k:?}: parameters without gradient: {zero:?}");
    }
}

#[test]
fn gradient_matches_finite_difference() {
    for k in KERNELS {
        let mut m = tiny(1e-4);
        m.kernels = k;
        let b = batch();
        let grads = m.loss(&b, OwnedTape::default()).unwrap().backward();
        let base = params(&m);
        let vals: std::collections::HashMap<String, Vec<f32>> =
            base.iter().map(|p| (p.name.clone(), p.values.clone())).collect();
        let blk = &m.decoder.layers.modules;
        let checks: [(&str, Vec<f32>, usize); 7] = [
            ("encoder.rel_bias.table", grads.get(&m.encoder.rel_bias.table).as_vec(), 3),
            ("decoder.rel_bias.table", grads.get(&m.decoder.rel_bias.table).as_vec(), 1),
            ("decoder.layers.1.cross_attn.k.weight", grads.get(&blk[1].cross_attn.k.weight).as_vec(), 5),
            ("decoder.layers.0.mlp.wi_0.weight", grads.get(&blk[0].mlp.wi_0.weight).as_vec(), 4),
            (
                "encoder.layers.1.self_attn_norm.gamma",
                grads.get(&m.encoder.layers.modules[1].self_attn_norm.gamma).as_vec(),
                2,
            ),
            ("tok_embed.weight", grads.get(&m.tok_embed.weight).as_vec(), 9 * D + 2),
            ("lm_head.weight", grads.get(&m.lm_head.weight).as_vec(), 5 * D + 1),
        ];
        for (name, g, idx) in checks {
            let eps = 1e-3f32;
            let eval = |delta: f32| {
                let mut m2 = m.clone();
                set_params(&mut m2, |n, i| vals[n][i] + if n == name && i == idx { delta } else { 0.0 });
                naive(&m2, &b).loss
            };
            let fd = (eval(eps) - eval(-eps)) / (2.0 * eps as f64);
            assert!(
                (g[idx] as f64 - fd).abs() < 2e-5 + 2e-3 * fd.abs(),
                "{k:?} {name}[{idx}]: grad {} vs fd {fd}",
                g[idx]
            );
            assert!(fd.abs() > 1e-5, "{name}[{idx}] finite difference too small to be a check");
        }
    }
}

#[test]
fn param_counts_match_formula_and_visitor() {
    let m = tiny(1e-4);
    let (le, ld) = (2, 2);
    let enc = 2 * D + 4 * D * D + 3 * D * F;
    let dec = 3 * D + 8 * D * D + 3 * D * F;
    let formula = 2 * V * D + le * enc + ld * dec + 2 * NB * H + 2 * D;
    let info = m.info();
    assert_eq!(info.total_params, formula);
    assert_eq!(m.num_trainable_params(), formula);
    let ps = params(&m);
    let count = |kind| ps.iter().filter(|p| role_of(&p.name, &p.shape) == kind).map(|p| p.values.len()).sum::<usize>();
    let prunable = le * (4 * D * D + 3 * D * F) + ld * (8 * D * D + 3 * D * F);
    assert_eq!(count(ParamRole::Prunable), prunable);
    assert_eq!(info.prunable_params, prunable);
    assert_eq!(count(ParamRole::Embedding), 2 * V * D);
    assert_eq!(info.embedding_params, 2 * V * D);
}

#[test]
fn naming_contract() {
    let m = tiny(1e-4);
    let ps = params(&m);
    let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
    for n in ["encoder.rel_bias.table", "decoder.rel_bias.table", "encoder.final_norm.gamma", "lm_head.weight"] {
        assert!(names.contains(&n), "missing {n}: {names:?}");
    }
    let prunable: Vec<&str> =
        ps.iter().filter(|p| role_of(&p.name, &p.shape) == ParamRole::Prunable).map(|p| p.name.as_str()).collect();
    assert_eq!(prunable.len(), 2 * 7 + 2 * 11);
    assert!(prunable.contains(&"decoder.layers.1.cross_attn.o.weight"));
    assert!(prunable.contains(&"encoder.layers.0.mlp.wi_1.weight"));
    for p in &ps {
        if p.name.contains("rel_bias") || p.name.contains("norm") {
            assert!(!matches!(role_of(&p.name, &p.shape), ParamRole::Prunable | ParamRole::Embedding), "{}", p.name);
        }
    }
    // (out, in): wo is D × F.
    assert_eq!(m.encoder.layers.modules[0].mlp.wo.weight.shape().concrete(), [D, F]);
}

#[test]
fn seeded_construction_is_deterministic() {
    let dev = Cpu::default();
    let flat = |m: &Tiny| params(m).into_iter().flat_map(|p| p.values).collect::<Vec<f32>>();
    let a = flat(&Tiny::new(&dev, config(1e-4), 5).unwrap());
    let b = flat(&Tiny::new(&dev, config(1e-4), 5).unwrap());
    let c = flat(&Tiny::new(&dev, config(1e-4), 6).unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn bad_config_and_batches_are_errors() {
    let dev = Cpu::default();
    let e = T5::<12, 4, 6, 3, 1, 1, 8>::new(&dev, config(0.0), 0).unwrap_err();
    assert!(matches!(e, ModelError::InvalidConfig { field: "heads", .. }), "{e}");
    let e = Tiny::new(&dev, T5Config { relative_max_distance: 3, z_loss: 0.0 }, 0).unwrap_err();
    assert!(matches!(e, ModelError::InvalidConfig { field: "relative_max_distance", .. }), "{e}");
    let e = Tiny::new(&dev, T5Config { relative_max_distance: 8, z_loss: f32::NAN }, 0).unwrap_err();
    assert!(matches!(e, ModelError::InvalidConfig { field: "z_loss", .. }), "{e}");

    let m = tiny(1e-4);
    let mut b = batch();
    b.inputs[3] = 12;
    let e = m.loss(&b, NoneTape).unwrap_err();
    assert!(matches!(e, ModelError::OutOfRange { value: 12, index: 3, .. }), "{e}");
    let mut b = batch();
    b.targets.pop();
    assert!(matches!(m.loss(&b, NoneTape).unwrap_err(), ModelError::BatchShape { what: "targets.len()", .. }));
    let mut b = batch();
    b.targets.iter_mut().for_each(|t| *t = 0);
    assert!(m.loss(&b, NoneTape).is_err());
    let b = TextBatch { batch: 0, input_len: 3, target_len: 2, inputs: vec![], targets: vec![] };
    assert!(m.loss(&b, NoneTape).is_err());
}

#[test]
fn config_serde() {
    let c: T5Config = serde_json::from_str("{}").unwrap();
    assert_eq!(c, T5Config::t5_1_1());
    assert_eq!(c.relative_max_distance, 128);
    assert!(serde_json::from_str::<T5Config>(r#"{"z_loss":0.0,"dropout":0.1}"#).is_err());
}
