//! ViT checked against an independent naive f64 forward pass, plus gradients, parameter counts,
//! the naming contract, configuration errors and determinism.

use crate::model_common;

use model_common::*;
use sparse_scaling::dfdx::prelude::*;
use sparse_scaling::model::{ImageBatch, Kernels, ModelError, Pooling, SparseModel, Vit, VitConfig};
use sparse_scaling::params::{role_of, ParamRole};

const KERNELS: [Kernels; 2] = [Kernels::Reference, Kernels::Fused];

// 1 channel, 4×6 images, 2×2 patches -> 6 patches of 4 values; width 6, 2 or 3 heads, MLP 10,
// 2 blocks, 3 classes.
type Tiny = Vit<4, 6, 6, 10, 2, 3>;

fn config(heads: usize, pooling: Pooling) -> VitConfig {
    VitConfig { image_height: 4, image_width: 6, channels: 1, patch: 2, heads, pooling }
}

fn batch() -> ImageBatch {
    let (b, c, h, w) = (2, 1, 4, 6);
    let pixels = (0..b * c * h * w).map(|i| fixed_value("pixels", i)).collect();
    ImageBatch { batch: b, channels: c, height: h, width: w, pixels, labels: vec![2, 0] }
}

fn tiny(heads: usize, pooling: Pooling) -> Tiny {
    let dev = Cpu::default();
    let mut m = Tiny::new(&dev, config(heads, pooling), 7).unwrap();
    set_params(&mut m, |name, i| 0.5 * fixed_value(name, i));
    m
}

/// Naive ViT forward: returns logits (batch × K).
fn naive_logits(m: &Tiny, b: &ImageBatch) -> Vec<f64> {
    let p = param_map(m);
    let cfg = &m.config;
    let (d, f, k, np, pv) = (6usize, 10usize, 3usize, 6usize, 4usize);
    let heads = cfg.heads;
    let ps = cfg.patch;
    let mut logits = Vec::new();
    for n in 0..b.batch {
        // patches, row-major over the patch grid, values (c, y, x)
        let mut patches = Vec::new();
        for py in 0..b.height / ps {
            for px in 0..b.width / ps {
                for c in 0..b.channels {
                    for y in 0..ps {
                        for x in 0..ps {
                            let idx = ((n * b.channels + c) * b.height + py * ps + y) * b.width + px * ps + x;
                            patches.push(b.pixels[idx] as f64);
                        }
                    }
                }
            }
        }
        let mut x = linear(&patches, np, pv, &p["patch_embed.weight"], d, Some(&p["patch_embed.bias"]));
        for t in 0..np {
            for j in 0..d {
                x[t * d + j] += p["positions"][t * d + j];
            }
        }
        if cfg.pooling == Pooling::ClassToken {
            let mut with_cls = p["cls_token"].clone();
            with_cls.extend_from_slice(&x);
            x = with_cls;
        }
        let t = x.len() / d;
        for l in 0..2 {
            let g = |s: &str| &p[&format!("blocks.{l}.{s}")];
            let h = layer_norm(&x, d, g("attn_norm.gamma"), g("attn_norm.beta"), 1e-6);
            let q = linear(&h, t, d, g("attn.q.weight"), d, Some(g("attn.q.bias")));
            let kk = linear(&h, t, d, g("attn.k.weight"), d, Some(g("attn.k.bias")));
            let v = linear(&h, t, d, g("attn.v.weight"), d, Some(g("attn.v.bias")));
            let a = attention(&q, &kk, &v, t, t, d, heads, 1.0 / ((d / heads) as f64).sqrt(), &|_, _, _| 0.0);
            let o = linear(&a, t, d, g("attn.o.weight"), d, Some(g("attn.o.bias")));
            for (xi, oi) in x.iter_mut().zip(&o) {
                *xi += oi;
            }
            let h = layer_norm(&x, d, g("mlp_norm.gamma"), g("mlp_norm.beta"), 1e-6);
            let h1: Vec<f64> =
                linear(&h, t, d, g("mlp.fc1.weight"), f, Some(g("mlp.fc1.bias"))).into_iter().map(gelu_erf).collect();
            let h2 = linear(&h1, t, f, g("mlp.fc2.weight"), d, Some(g("mlp.fc2.bias")));
            for (xi, hi) in x.iter_mut().zip(&h2) {
                *xi += hi;
            }
        }
        let x = layer_norm(&x, d, &p["final_norm.gamma"], &p["final_norm.beta"], 1e-6);
        let pooled: Vec<f64> = match cfg.pooling {
            Pooling::ClassToken => x[..d].to_vec(),
            Pooling::Mean => (0..d).map(|j| (0..t).map(|r| x[r * d + j]).sum::<f64>() / t as f64).collect(),
        };
        logits.extend(linear(&pooled, 1, d, &p["head.weight"], k, Some(&p["head.bias"])));
    }
    logits
}

fn naive_loss(logits: &[f64], labels: &[u32], k: usize) -> f64 {
    let n = labels.len();
    (0..n).map(|i| logsumexp(&logits[i * k..(i + 1) * k]) - logits[i * k + labels[i] as usize]).sum::<f64>() / n as f64
}

#[test]
fn forward_matches_naive_reference() {
    let b = batch();
    for (heads, pooling, kernels) in [
        (2, Pooling::ClassToken, Kernels::Reference),
        (2, Pooling::ClassToken, Kernels::Fused),
        (3, Pooling::Mean, Kernels::Reference),
        (3, Pooling::Mean, Kernels::Fused),
        (1, Pooling::ClassToken, Kernels::Fused),
    ] {
        let mut m = tiny(heads, pooling);
        m.kernels = kernels;
        let want = naive_logits(&m, &b);
        let got = m.logits(&b, NoneTape).unwrap().as_vec();
        assert_close(&format!("logits heads={heads} {pooling:?} {kernels:?}"), &got, &want, 1e-4);
        // the logits must not be trivially small (a real check)
        assert!(want.iter().any(|v| v.abs() > 0.05), "{want:?}");
        let loss = m.loss(&b, NoneTape).unwrap().array() as f64;
        let want_loss = naive_loss(&want, &b.labels, 3);
        assert!((loss - want_loss).abs() < 1e-4, "loss {loss} vs {want_loss}");
    }
}

#[test]
fn gradients_reach_every_parameter() {
    for k in KERNELS {
        let mut m = tiny(2, Pooling::ClassToken);
        m.kernels = k;
        let loss = m.loss(&batch(), OwnedTape::default()).unwrap();
        let grads = loss.backward();
        // The key bias is the one exception: it adds q·b_k to every score of a query, and softmax
        // is shift-invariant, so its exact gradient is 0 (only rounding noise remains).
        let zero: Vec<String> =
            zero_grad_params(&m, &grads).into_iter().filter(|n| !n.ends_with("attn.k.bias")).collect();
        assert!(zero.is_empty(), "{k:?}: parameters without gradient: {zero:?}");
    }
}

#[test]
fn fused_and_reference_gradients_agree() {
    let b = batch();
    let grads_of = |k| {
        let mut m = tiny(2, Pooling::ClassToken);
        m.kernels = k;
        let g = m.loss(&b, OwnedTape::default()).unwrap().backward();
        (m, g)
    };
    let (mr, gr) = grads_of(Kernels::Reference);
    let (mf, gf) = grads_of(Kernels::Fused);
    let pick = |m: &Tiny, g: &Gradients<f32, Cpu>| {
        [
            g.get(&m.patch_embed.weight).as_vec(),
            g.get(&m.positions).as_vec(),
            g.get(&m.blocks.modules[0].attn.q.weight).as_vec(),
            g.get(&m.blocks.modules[0].attn.k.bias).as_vec(),
            g.get(&m.blocks.modules[1].mlp.fc1.bias).as_vec(),
            g.get(&m.blocks.modules[1].attn_norm.gamma).as_vec(),
            g.get(&m.final_norm.beta).as_vec(),
            g.get(&m.head.weight).as_vec(),
        ]
    };
    let names = [
        "patch_embed.weight",
        "positions",
        "attn.q.weight",
        "attn.k.bias",
        "fc1.bias",
        "attn_norm.gamma",
        "final_norm.beta",
        "head.weight",
    ];
    for (i, (a, c)) in pick(&mr, &gr).iter().zip(pick(&mf, &gf).iter()).enumerate() {
        assert_close(names[i], c, &a.iter().map(|&v| v as f64).collect::<Vec<_>>(), 1e-4);
    }
}

#[test]
fn gradient_matches_finite_difference() {
    // d loss / d parameter by central differences of the naive f64 model, for both kernels.
    let b = batch();
    let checks: [(&str, &[usize]); 5] = [
        ("blocks.1.mlp.fc1.weight", &[0, 7, 33]),
        ("blocks.1.mlp.fc1.bias", &[0, 3, 9]),
        ("blocks.0.attn_norm.gamma", &[1, 4]),
        ("patch_embed.weight", &[6, 13]),
        ("cls_token", &[2]),
    ];
    for k in KERNELS {
        let mut m = tiny(2, Pooling::ClassToken);
        m.kernels = k;
        let grads = m.loss(&b, OwnedTape::default()).unwrap().backward();
        let base = params(&m);
        let vals: std::collections::HashMap<String, Vec<f32>> =
            base.iter().map(|p| (p.name.clone(), p.values.clone())).collect();
        let grad_of = |name: &str| -> Vec<f32> {
            let mut out = None;
            let blk = &m.blocks.modules;
            match name {
                "blocks.1.mlp.fc1.weight" => out = Some(grads.get(&blk[1].mlp.fc1.weight).as_vec()),
                "blocks.1.mlp.fc1.bias" => out = Some(grads.get(&blk[1].mlp.fc1.bias).as_vec()),
                "blocks.0.attn_norm.gamma" => out = Some(grads.get(&blk[0].attn_norm.gamma).as_vec()),
                "patch_embed.weight" => out = Some(grads.get(&m.patch_embed.weight).as_vec()),
                "cls_token" => out = Some(grads.get(&m.cls_token).as_vec()),
                _ => {}
            }
            out.unwrap()
        };
        for (name, idxs) in checks {
            let g = grad_of(name);
            for &idx in idxs {
                let eps = 1e-3f32;
                let eval = |delta: f32| {
                    let mut m2 = m.clone();
                    set_params(&mut m2, |n, i| vals[n][i] + if n == name && i == idx { delta } else { 0.0 });
                    naive_loss(&naive_logits(&m2, &b), &b.labels, 3)
                };
                let fd = (eval(eps) - eval(-eps)) / (2.0 * eps as f64);
                assert!(
                    (g[idx] as f64 - fd).abs() < 2e-5 + 2e-3 * fd.abs(),
                    "{k:?} {name}[{idx}]: grad {} vs finite difference {fd}",
                    g[idx]
                );
            }
        }
    }
}

#[test]
fn param_counts_match_formula_and_visitor() {
    let m = tiny(2, Pooling::ClassToken);
    let (d, f, l, k, np, pv) = (6, 10, 2, 3, 6, 4);
    let per_block = 2 * (2 * d) + 4 * (d * d + d) + (d * f + f) + (f * d + d);
    let formula = pv * d + d + d + np * d + l * per_block + 2 * d + d * k + k;
    let info = m.info();
    assert_eq!(info.total_params, formula);
    assert_eq!(m.num_trainable_params(), formula);
    let ps = params(&m);
    assert_eq!(ps.iter().map(|p| p.values.len()).sum::<usize>(), formula);
    let count = |kind| ps.iter().filter(|p| role_of(&p.name, &p.shape) == kind).map(|p| p.values.len()).sum::<usize>();
    assert_eq!(count(ParamRole::Prunable), l * (4 * d * d + 2 * d * f));
    assert_eq!(info.prunable_params, l * (4 * d * d + 2 * d * f));
    assert_eq!(count(ParamRole::Embedding), pv * d + d * k);
    assert_eq!(info.embedding_params, pv * d + d * k);
}

#[test]
fn naming_contract() {
    let m = tiny(2, Pooling::ClassToken);
    let ps = params(&m);
    let prunable: Vec<&str> =
        ps.iter().filter(|p| role_of(&p.name, &p.shape) == ParamRole::Prunable).map(|p| p.name.as_str()).collect();
    let mut want = Vec::new();
    for l in 0..2 {
        for w in ["attn.q", "attn.k", "attn.v", "attn.o", "mlp.fc1", "mlp.fc2"] {
            want.push(format!("blocks.{l}.{w}.weight"));
        }
    }
    assert_eq!(prunable, want);
    let emb: Vec<&str> =
        ps.iter().filter(|p| role_of(&p.name, &p.shape) == ParamRole::Embedding).map(|p| p.name.as_str()).collect();
    assert_eq!(emb, vec!["patch_embed.weight", "head.weight"]);
    for p in &ps {
        if p.name.ends_with("weight") {
            assert_eq!(p.shape.len(), 2, "{} should be a matrix", p.name);
        }
    }
    // (out, in) layout: fc1 is F × D.
    assert_eq!(m.blocks.modules[0].mlp.fc1.weight.shape().concrete(), [10, 6]);
}

#[test]
fn seeded_construction_is_deterministic() {
    let dev = Cpu::default();
    let a = params(&Tiny::new(&dev, config(2, Pooling::ClassToken), 1).unwrap());
    let b = params(&Tiny::new(&dev, config(2, Pooling::ClassToken), 1).unwrap());
    let c = params(&Tiny::new(&dev, config(2, Pooling::ClassToken), 2).unwrap());
    let flat = |ps: &Vec<Param>| ps.iter().flat_map(|p| p.values.clone()).collect::<Vec<f32>>();
    assert_eq!(flat(&a), flat(&b));
    assert_ne!(flat(&a), flat(&c));
}

#[test]
fn bad_config_and_batches_are_errors() {
    let dev = Cpu::default();
    // 4 heads do not divide width 6.
    let e = Tiny::new(&dev, config(4, Pooling::ClassToken), 0).unwrap_err();
    assert!(matches!(e, ModelError::InvalidConfig { field: "heads", .. }), "{e}");
    // patch 1 gives 1 value per patch, the type wants 4.
    let mut c = config(2, Pooling::ClassToken);
    c.patch = 1;
    let e = Tiny::new(&dev, c, 0).unwrap_err();
    assert!(e.to_string().contains("values per patch"), "{e}");
    // image 8×6 has 12 patches, the type has 6.
    let mut c = config(2, Pooling::ClassToken);
    c.image_height = 8;
    assert!(Tiny::new(&dev, c, 0).is_err());

    let m = tiny(2, Pooling::ClassToken);
    let mut b = batch();
    b.width = 8;
    let e = m.loss(&b, NoneTape).unwrap_err();
    assert!(matches!(e, ModelError::BatchShape { what: "width", .. }), "{e}");
    let mut b = batch();
    b.pixels.pop();
    assert!(matches!(m.loss(&b, NoneTape).unwrap_err(), ModelError::BatchShape { .. }));
    let mut b = batch();
    b.labels[1] = 3;
    let e = m.loss(&b, NoneTape).unwrap_err();
    assert!(matches!(e, ModelError::OutOfRange { value: 3, index: 1, .. }), "{e}");
    let mut b = batch();
    b.labels.push(0);
    assert!(m.loss(&b, NoneTape).is_err());
}

#[test]
fn config_serde_denies_unknown_fields() {
    let ok = r#"{"image_height":4,"image_width":6,"channels":1,"patch":2,"heads":2,"pooling":"mean"}"#;
    let c: VitConfig = serde_json::from_str(ok).unwrap();
    assert_eq!(c.pooling, Pooling::Mean);
    let bad = r#"{"image_height":4,"image_width":6,"channels":1,"patch":2,"heads":2,"depth":3}"#;
    assert!(serde_json::from_str::<VitConfig>(bad).is_err());
}
