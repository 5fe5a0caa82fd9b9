//! The decoder-only model (docs/THEORY.md §6) checked against an independent naive f64 forward
//! pass, fused against reference kernels, gradients against finite differences, causality,
//! parameter counts and the naming contract, errors, and a short pruned training run that learns.

use crate::model_common;

use model_common::*;
use sparse_scaling::data::{LmStream, Stream, SyntheticLm, SyntheticTextConfig};
use sparse_scaling::dfdx::prelude::*;
use sparse_scaling::experiment::{At, Pruning, ScheduleShape};
use sparse_scaling::model::{Decoder, DecoderConfig, Kernels, LmBatch, ModelError, SparseModel};
use sparse_scaling::params::{for_each_grad, role_of, ParamRole};
use sparse_scaling::sparsity::{kept_count, Embeddings, Pruner};
use sparse_scaling::train::{train, AdamWConfig, LoopOptions, OptimizerConfig, TrainConfig};

const KERNELS: [Kernels; 2] = [Kernels::Reference, Kernels::Fused];

// vocab 12, width 4, MLP 6, 2 heads, 2 layers, 8 buckets.
type Tiny = Decoder<12, 4, 6, 2, 2, 8>;
const V: usize = 12;
const D: usize = 4;
const F: usize = 6;
const H: usize = 2;
const L: usize = 2;
const NB: usize = 8;
const MAXD: usize = 6;

fn config(z_loss: f32) -> DecoderConfig {
    DecoderConfig { relative_max_distance: MAXD, z_loss }
}

fn tiny(z_loss: f32, kernels: Kernels) -> Tiny {
    let dev = Cpu::default();
    let mut m = Tiny::new(&dev, config(z_loss), 3).unwrap();
    set_params(&mut m, |name, i| 0.6 * fixed_value(name, i));
    m.kernels = kernels;
    m
}

/// Row 0 without padding; row 1 ends in PAD. Long enough (8) for offsets beyond `MAXD`.
fn batch() -> LmBatch {
    LmBatch { batch: 2, len: 8, tokens: vec![5, 3, 9, 11, 4, 7, 2, 10, 6, 8, 2, 10, 1, 0, 0, 0] }
}

struct Naive {
    /// `batch·len × V`.
    logits: Vec<f64>,
    /// Mean cross-entropy + z-loss over the non-PAD positions.
    loss: f64,
}

/// Independent f64 forward pass from the parameters by name.
fn naive(m: &Tiny, b: &LmBatch) -> Naive {
    let p = param_map(m);
    let t = b.len;
    let z = m.config.z_loss as f64;
    let table = &p["decoder.rel_bias.table"];
    let bias = |h: usize, i: usize, j: usize| {
        if j > i {
            f64::NEG_INFINITY
        } else {
            table[naive_bucket(j as i64 - i as i64, false, NB, MAXD) * H + h]
        }
    };
    let add = |x: &mut Vec<f64>, y: &[f64]| x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
    let (mut logits, mut per_position) = (Vec::new(), Vec::new());
    for r in 0..b.batch {
        let row: Vec<usize> = b.tokens[r * t..(r + 1) * t].iter().map(|&x| x as usize).collect();
        let mut inputs = vec![0usize];
        inputs.extend_from_slice(&row[..t - 1]);
        let mut x: Vec<f64> = inputs.iter().flat_map(|&i| p["tok_embed.weight"][i * D..(i + 1) * D].to_vec()).collect();
        for l in 0..L {
            let pre = format!("decoder.layers.{l}");
            let h = rms_norm(&x, D, &p[&format!("{pre}.self_attn_norm.gamma")], 1e-6);
            let a = t5_attention(&p, &format!("{pre}.self_attn"), &h, &h, t, t, D, H, &bias);
            add(&mut x, &a);
            let h = rms_norm(&x, D, &p[&format!("{pre}.mlp_norm.gamma")], 1e-6);
            add(&mut x, &t5_mlp(&p, &pre, &h, t, D, F));
        }
        let y = rms_norm(&x, D, &p["decoder.final_norm.gamma"], 1e-6);
        let lg = linear(&y, t, D, &p["lm_head.weight"], V, None);
        for (i, &target) in row.iter().enumerate() {
            let scores = &lg[i * V..(i + 1) * V];
            let lse = logsumexp(scores);
            if target != 0 {
                per_position.push(lse - scores[target] + z * lse * lse);
            }
        }
        logits.extend(lg);
    }
    let loss = per_position.iter().sum::<f64>() / per_position.len() as f64;
    Naive { logits, loss }
}

#[test]
fn forward_and_loss_match_naive_reference() {
    // The second batch has trailing PAD in every row: the loss drops those positions.
    let trimmed = LmBatch { batch: 2, len: 6, tokens: vec![5, 3, 1, 0, 0, 0, 6, 8, 2, 9, 0, 0] };
    for b in [batch(), trimmed] {
        for (z, k) in
            [(0.0, Kernels::Reference), (1e-4, Kernels::Reference), (0.0, Kernels::Fused), (0.1, Kernels::Fused)]
        {
            let m = tiny(z, k);
            let want = naive(&m, &b);
            let got = m.logits(&b, NoneTape).unwrap().as_vec();
            assert_close(&format!("logits z={z} {k:?}"), &got, &want.logits, 1e-4);
            assert!(want.logits.iter().any(|v| v.abs() > 0.1));
            let loss = m.loss(&b, NoneTape).unwrap().array() as f64;
            assert!((loss - want.loss).abs() < 1e-4 * (1.0 + want.loss), "z={z} {k:?}: loss {loss} vs {}", want.loss);
        }
    }
}

#[test]
fn z_loss_changes_the_loss() {
    let b = batch();
    let a = tiny(0.0, Kernels::Fused).loss(&b, NoneTape).unwrap().array();
    let c = tiny(0.1, Kernels::Fused).loss(&b, NoneTape).unwrap().array();
    assert!(c > a + 1e-3, "{a} {c}");
}

/// Every gradient by parameter name.
fn gradients(m: &Tiny, b: &LmBatch) -> Vec<(String, Vec<f32>)> {
    let mut grads = m.loss(b, OwnedTape::default()).unwrap().backward();
    let mut out = Vec::new();
    for_each_grad::<_, String>(m, &mut grads, &mut |name, _, g| {
        out.push((name.to_string(), g.to_vec()));
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn fused_and_reference_kernels_agree() {
    let b = batch();
    let (r, f) = (tiny(1e-4, Kernels::Reference), tiny(1e-4, Kernels::Fused));
    let (lr, lf) = (r.loss(&b, NoneTape).unwrap().array(), f.loss(&b, NoneTape).unwrap().array());
    assert!((lr - lf).abs() < 1e-5 * (1.0 + lr.abs()), "loss: reference {lr}, fused {lf}");
    let want: Vec<f64> = r.logits(&b, NoneTape).unwrap().as_vec().iter().map(|&v| v as f64).collect();
    assert_close("logits", &f.logits(&b, NoneTape).unwrap().as_vec(), &want, 1e-5);
    let (gr, gf) = (gradients(&r, &b), gradients(&f, &b));
    assert_eq!(gr.len(), gf.len());
    for ((name, a), (name_f, c)) in gr.iter().zip(&gf) {
        assert_eq!(name, name_f);
        let scale = a.iter().fold(0f32, |s, v| s.max(v.abs())) as f64;
        let want: Vec<f64> = a.iter().map(|&v| v as f64).collect();
        assert_close(&format!("gradient of {name}"), c, &want, 1e-4 * (1.0 + scale));
    }
}

#[test]
fn gradients_reach_every_parameter() {
    for k in KERNELS {
        let m = tiny(1e-4, k);
        let grads = m.loss(&batch(), OwnedTape::default()).unwrap().backward();
        let zero = zero_grad_params(&m, &grads);
        assert!(zero.is_empty(), "{k:?}: parameters without gradient: {zero:?}");
    }
}

#[test]
fn gradient_matches_finite_difference() {
    let b = batch();
    for k in KERNELS {
        let m = tiny(1e-4, k);
        let grads = gradients(&m, &b);
        let grad = |name: &str| grads.iter().find(|(n, _)| n == name).unwrap().1.clone();
        let vals: std::collections::HashMap<String, Vec<f32>> =
            params(&m).into_iter().map(|p| (p.name, p.values)).collect();
        let checks: [(&str, usize); 8] = [
            ("decoder.rel_bias.table", 3),
            ("decoder.rel_bias.table", 2 * H + 1),
            ("decoder.layers.1.self_attn.k.weight", 5),
            ("decoder.layers.0.self_attn.o.weight", 7),
            ("decoder.layers.0.mlp.wi_0.weight", 4),
            ("decoder.layers.1.mlp_norm.gamma", 2),
            ("tok_embed.weight", 9 * D + 2),
            ("lm_head.weight", 5 * D + 1),
        ];
        for (name, idx) in checks {
            let eps = 1e-3f32;
            let eval = |delta: f32| {
                let mut m2 = m.clone();
                set_params(&mut m2, |n, i| vals[n][i] + if n == name && i == idx { delta } else { 0.0 });
                naive(&m2, &b).loss
            };
            let fd = (eval(eps) - eval(-eps)) / (2.0 * eps as f64);
            let g = grad(name)[idx] as f64;
            assert!((g - fd).abs() < 2e-5 + 2e-3 * fd.abs(), "{k:?} {name}[{idx}]: grad {g} vs fd {fd}");
            assert!(fd.abs() > 1e-5, "{name}[{idx}] finite difference too small to be a check");
        }
    }
}

/// Loss of each position from a model's logits (cross-entropy + z-loss; 0 for PAD targets).
fn position_losses(logits: &[f32], tokens: &[u32], z_loss: f32) -> Vec<f32> {
    logits
        .chunks(V)
        .zip(tokens)
        .map(|(row, &t)| {
            let lse = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let lse = lse + row.iter().map(|&v| (v - lse).exp()).sum::<f32>().ln();
            if t == 0 {
                0.0
            } else {
                lse - row[t as usize] + z_loss * lse * lse
            }
        })
        .collect()
}

#[test]
fn a_later_token_does_not_change_earlier_positions() {
    for k in KERNELS {
        let m = tiny(1e-4, k);
        let b = batch();
        let base = m.logits(&b, NoneTape).unwrap().as_vec();
        let base_losses = position_losses(&base, &b.tokens, m.config.z_loss);
        let t = b.len;
        for changed in 0..t - 1 {
            // Token `changed` is the target of position `changed` and the input of the next.
            let mut b2 = b.clone();
            b2.tokens[changed] = if b.tokens[changed] == 6 { 8 } else { 6 };
            let got = m.logits(&b2, NoneTape).unwrap().as_vec();
            let row = |v: &[f32], pos: usize| v[pos * V..(pos + 1) * V].to_vec();
            for pos in 0..=changed {
                assert_eq!(row(&got, pos), row(&base, pos), "{k:?}: token {changed} changed the logits at {pos}");
            }
            assert_ne!(
                row(&got, changed + 1),
                row(&base, changed + 1),
                "token {changed} must feed position {}",
                changed + 1
            );
            // The other row of the batch is untouched.
            assert_eq!(got[t * V..], base[t * V..]);
            // So the losses of the earlier positions are the same; position `changed` predicts
            // the changed token.
            let losses = position_losses(&got, &b2.tokens, m.config.z_loss);
            assert_eq!(losses[..changed], base_losses[..changed], "{k:?}: token {changed}");
            assert_ne!(losses[changed], base_losses[changed], "{k:?}: position {changed}");
        }
    }
}

#[test]
fn param_counts_and_naming_contract() {
    let m = tiny(1e-4, Kernels::Fused);
    let layer = 2 * D + 4 * D * D + 3 * D * F;
    let total = 2 * V * D + L * layer + NB * H + D;
    let info = m.info();
    assert_eq!(info.total_params, total);
    assert_eq!(m.num_trainable_params(), total);
    assert_eq!((info.encoder_layers, info.decoder_layers, info.outputs, info.heads), (0, L, V, H));
    let ps = params(&m);
    // Every parameter has the role its name says.
    for p in &ps {
        let want = if p.name.contains(".self_attn.") || p.name.contains(".mlp.") {
            ParamRole::Prunable
        } else if p.name == "tok_embed.weight" || p.name == "lm_head.weight" {
            ParamRole::Embedding
        } else {
            assert!(p.name == "decoder.rel_bias.table" || p.name.ends_with("norm.gamma"), "unexpected {}", p.name);
            ParamRole::Dense
        };
        assert_eq!(role_of(&p.name, &p.shape), want, "{}", p.name);
    }
    let count = |kind| ps.iter().filter(|p| role_of(&p.name, &p.shape) == kind).map(|p| p.values.len()).sum::<usize>();
    let prunable = L * (4 * D * D + 3 * D * F);
    assert_eq!(count(ParamRole::Prunable), prunable);
    assert_eq!(info.prunable_params, prunable);
    assert_eq!(count(ParamRole::Embedding), 2 * V * D);
    assert_eq!(info.embedding_params, 2 * V * D);
    let prunable: Vec<&str> =
        ps.iter().filter(|p| role_of(&p.name, &p.shape) == ParamRole::Prunable).map(|p| p.name.as_str()).collect();
    assert_eq!(prunable.len(), L * 7);
    assert!(prunable.contains(&"decoder.layers.1.self_attn.o.weight"));
    assert!(prunable.contains(&"decoder.layers.0.mlp.wi_1.weight"));
    // (out, in): wo is D × F.
    assert_eq!(m.decoder.layers.modules[0].mlp.wo.weight.shape().concrete(), [D, F]);
}

#[test]
fn seeded_construction_is_deterministic() {
    let dev = Cpu::default();
    let flat = |m: &Tiny| params(m).into_iter().flat_map(|p| p.values).collect::<Vec<f32>>();
    let a = flat(&Tiny::new(&dev, config(1e-4), 5).unwrap());
    assert_eq!(a, flat(&Tiny::new(&dev, config(1e-4), 5).unwrap()));
    assert_ne!(a, flat(&Tiny::new(&dev, config(1e-4), 6).unwrap()));
}

#[test]
fn bad_config_and_batches_are_errors() {
    let dev = Cpu::default();
    let e = Decoder::<12, 4, 6, 3, 1, 8>::new(&dev, config(0.0), 0).unwrap_err();
    assert!(matches!(e, ModelError::InvalidConfig { field: "heads", .. }), "{e}");
    let e = Decoder::<12, 4, 6, 2, 0, 8>::new(&dev, config(0.0), 0).unwrap_err();
    assert!(matches!(e, ModelError::InvalidConfig { field: "layers/vocab", .. }), "{e}");
    let e = Tiny::new(&dev, DecoderConfig { relative_max_distance: 3, z_loss: 0.0 }, 0).unwrap_err();
    assert!(matches!(e, ModelError::InvalidConfig { field: "relative_max_distance", .. }), "{e}");
    let e = Tiny::new(&dev, DecoderConfig { relative_max_distance: 8, z_loss: -1.0 }, 0).unwrap_err();
    assert!(matches!(e, ModelError::InvalidConfig { field: "z_loss", .. }), "{e}");

    let m = tiny(1e-4, Kernels::Fused);
    let mut b = batch();
    b.tokens[3] = 12;
    let e = m.loss(&b, NoneTape).unwrap_err();
    assert!(matches!(e, ModelError::OutOfRange { value: 12, index: 3, .. }), "{e}");
    let mut b = batch();
    b.tokens.pop();
    assert!(matches!(m.loss(&b, NoneTape).unwrap_err(), ModelError::BatchShape { what: "tokens.len()", .. }));
    let b = LmBatch { batch: 2, len: 3, tokens: vec![0; 6] };
    assert!(matches!(m.loss(&b, NoneTape).unwrap_err(), ModelError::BatchShape { what: "non-PAD targets", .. }));
    let b = LmBatch { batch: 0, len: 3, tokens: vec![] };
    assert!(matches!(m.loss(&b, NoneTape).unwrap_err(), ModelError::BatchShape { what: "batch/len", .. }));
}

#[test]
fn config_serde() {
    let c: DecoderConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(c, DecoderConfig::t5x_decoder_only());
    assert_eq!((c.relative_max_distance, c.z_loss), (128, 1e-4));
    assert!(serde_json::from_str::<DecoderConfig>(r#"{"z_loss":0.0,"dropout":0.1}"#).is_err());
}

/// The byte vocabulary (384 ids), width 32, MLP 64, 4 heads, 2 layers.
type Small = Decoder<384, 32, 64, 4, 2>;

#[test]
fn small_decoder_learns_synthetic_text_while_pruned_to_half() {
    let dev = Cpu::default();
    let mut model = Small::new(&dev, DecoderConfig::t5x_decoder_only(), 0).unwrap();
    let mut stream = SyntheticLm::new(SyntheticTextConfig { seed: 2, ..Default::default() }, 32).unwrap();
    assert_eq!(stream.seq_len(), 32);
    let val = stream.validation_set(64, 32).unwrap();
    let steps = 90;
    let cfg = TrainConfig {
        steps,
        batch_size: 16,
        optimizer: OptimizerConfig::AdamW(AdamWConfig {
            lr: 1e-2,
            warmup_steps: At::Fraction(0.05).resolve(steps),
            ..Default::default()
        }),
        grad_clip: Some(1.0),
        eval_every: 30,
        seed: 0,
    };
    // GMP to 50 % over 20 %–60 % of the run, masks every 10 steps.
    let plan = Pruning::Gmp {
        shape: ScheduleShape::CUBIC,
        start: At::Fraction(0.2),
        end: At::Fraction(0.6),
        update_every: 10,
    }
    .resolve(0.5, steps)
    .unwrap();
    let mut pruner = Pruner::new(&model, &plan, 0.5, steps, Embeddings::Dense).unwrap();
    let s = train(&mut model, &mut stream, &val, &cfg, &mut pruner, &LoopOptions::default()).unwrap();
    let uniform = 384f64.ln();
    eprintln!("decoder: val {:?}, {:.1} steps/s", s.val_curve, s.steps_per_s);
    assert!(s.final_val_loss < 0.4 * uniform, "validation loss {} vs uniform {uniform}", s.final_val_loss);
    assert!((s.sparsity - 0.5).abs() < 1e-3, "S = {}", s.sparsity);
    assert_eq!(s.nonzeros as usize, model.info().prunable_params / 2);
    assert_eq!(s.data_seen, steps * 16 * 32, "D counts batch × length tokens");
    // Pruned weights are exactly zero, and exactly half of every prunable matrix is pruned;
    // nothing else is.
    for p in params(&model) {
        let entry = pruner.masks().get(&p.name).unwrap();
        match (entry.role, &entry.mask) {
            (ParamRole::Prunable, Some(mask)) => {
                let pruned: Vec<usize> = (0..p.values.len()).filter(|&i| !mask.get(i)).collect();
                assert_eq!(pruned.len(), p.values.len() - kept_count(p.values.len(), 0.5), "{}", p.name);
                assert!(pruned.iter().all(|&i| p.values[i] == 0.0), "{}: a pruned weight is not zero", p.name);
            }
            (ParamRole::Prunable, None) => panic!("{} has no mask", p.name),
            _ => assert!(entry.mask.is_none(), "{} must not be pruned", p.name),
        }
    }
}

#[test]
fn gradual_two_four_on_the_decoder_ends_exactly_n_m() {
    // Gradual 2:4 during a short training run: at the end the masks hold the schedule's final
    // sparsity and every group of 4 consecutive input weights of every prunable matrix keeps
    // exactly 2 non-zeros.
    let dev = Cpu::default();
    let mut model = Small::new(&dev, DecoderConfig::t5x_decoder_only(), 1).unwrap();
    let mut stream = SyntheticLm::new(SyntheticTextConfig { seed: 4, ..Default::default() }, 16).unwrap();
    let val = stream.validation_set(16, 16).unwrap();
    let steps = 24;
    let cfg = TrainConfig {
        steps,
        batch_size: 8,
        optimizer: OptimizerConfig::AdamW(AdamWConfig { lr: 1e-2, warmup_steps: 2, ..Default::default() }),
        grad_clip: Some(1.0),
        eval_every: 12,
        seed: 0,
    };
    let nm = Pruning::NM {
        shape: ScheduleShape::CUBIC,
        n: 2,
        m: 4,
        gradual: true,
        start: At::Step(4),
        end: At::Step(16),
        update_every: 3,
    };
    let plan = nm.resolve(0.5, steps).unwrap();
    let mut pruner = Pruner::new(&model, &plan, 0.5, steps, Embeddings::Dense).unwrap();
    let schedule = *pruner.schedule().expect("gradual n:m follows a schedule");
    let s = train(&mut model, &mut stream, &val, &cfg, &mut pruner, &LoopOptions::default()).unwrap();
    assert_eq!(pruner.current_sparsity(), schedule.effective_sparsity(steps - 1));
    assert!((s.sparsity - 0.5).abs() < 1e-12, "S = {}", s.sparsity);
    for p in params(&model) {
        if role_of(&p.name, &p.shape) == ParamRole::Prunable {
            for (g, group) in p.values.chunks(4).enumerate() {
                assert_eq!(group.iter().filter(|x| **x != 0.0).count(), 2, "{} group {g}", p.name);
            }
        }
    }
}

#[test]
fn masks_change_only_on_update_steps_when_the_run_is_resumed_every_step() {
    // Stopping after every step and resuming from the checkpoint (masks, schedule position and
    // every float of the pruner through JSON) changes nothing: the masks change only on the
    // schedule's update steps and hold its sparsity after each step.
    let dev = Cpu::default();
    let mut model = Small::new(&dev, DecoderConfig::t5x_decoder_only(), 1).unwrap();
    let mut stream = SyntheticLm::new(SyntheticTextConfig { seed: 4, ..Default::default() }, 16).unwrap();
    let val = stream.validation_set(16, 16).unwrap();
    let steps = 20;
    let cfg = TrainConfig {
        steps,
        batch_size: 8,
        optimizer: OptimizerConfig::AdamW(AdamWConfig { lr: 1e-2, warmup_steps: 2, ..Default::default() }),
        grad_clip: Some(1.0),
        eval_every: 10,
        seed: 0,
    };
    let nm = Pruning::NM {
        shape: ScheduleShape::CUBIC,
        n: 2,
        m: 4,
        gradual: true,
        start: At::Step(4),
        end: At::Step(16),
        update_every: 3,
    };
    let plan = nm.resolve(0.5, steps).unwrap();
    let mut pruner = Pruner::new(&model, &plan, 0.5, steps, Embeddings::Dense).unwrap();
    let schedule = *pruner.schedule().expect("gradual n:m follows a schedule");
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("nm.ckpt");
    for step in 0..steps {
        let opts = LoopOptions { checkpoint: Some(ckpt.clone()), stop_after: Some(step + 1), ..Default::default() };
        let before = pruner.masks().clone();
        let _ = train(&mut model, &mut stream, &val, &cfg, &mut pruner, &opts);
        if pruner.masks() != &before {
            assert!(schedule.is_update_step(step), "masks changed off an update step ({step})");
        }
        assert_eq!(pruner.current_sparsity(), schedule.effective_sparsity(step), "step {step}");
    }
}
