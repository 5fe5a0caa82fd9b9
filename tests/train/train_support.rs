//! Shared fixtures of the `train_*` tests: a tiny MLP classifier, a seeded resumable stream
//! of a learnable "teacher" task, and a test pruner with fixed masks that grow on a schedule
//! and that checks, before re-applying them, that the optimizer left pruned weights at zero.
#![allow(dead_code)]

use std::collections::BTreeMap;

use dfdx::nn::tensor_collection::{ModuleVisitor, TensorCollection};
use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use sparse_scaling::data::{DataError, Stream as DataStream, StreamPosition};
use sparse_scaling::model::{Family, ModelError, ModelInfo, SparseModel};
use sparse_scaling::params::{for_each_param, for_each_param_mut};
use sparse_scaling::train::{BoxError, DataUnits, LayerSparsity, Sparsifier, SparsityStats, TrainError};

pub const IN: usize = 8;
pub const HID: usize = 32;
pub const CLASSES: usize = 4;

/// Two-layer MLP classifier.
#[derive(Clone, Debug)]
pub struct Mlp<E: Dtype, D: Device<E>> {
    pub l1: dfdx::nn::modules::Linear<IN, HID, E, D>,
    pub l2: dfdx::nn::modules::Linear<HID, CLASSES, E, D>,
}

impl TensorCollection<f32, Cpu> for Mlp<f32, Cpu> {
    type To<E2: Dtype, D2: Device<E2>> = Mlp<E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, f32, Cpu>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                // dotted names so that the real pruner's roles see MLP matrices
                Self::module("mlp.wi", |s| &s.l1, |s| &mut s.l1),
                Self::module("mlp.wo", |s| &s.l2, |s| &mut s.l2),
            ),
            |(l1, l2)| Mlp { l1, l2 },
        )
    }
}

pub type Tiny = Mlp<f32, Cpu>;

/// A batch: `x` is `n × IN` row-major, `y` the class of each row.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub x: Vec<f32>,
    pub y: Vec<usize>,
    /// Multiplies the loss (large values make large gradients).
    pub scale: f32,
}

impl DataUnits for Batch {
    fn data_units(&self) -> u64 {
        self.y.len() as u64
    }
}

impl SparseModel for Tiny {
    type Batch = Batch;
    fn loss<T: Tape<f32, Cpu>>(&self, b: &Batch, tape: T) -> Result<Tensor<(), f32, Cpu, T>, ModelError> {
        let n = b.y.len();
        if b.x.len() != n * IN {
            return Err(ModelError::BatchShape {
                what: "inputs",
                expected: format!("{}", n * IN),
                actual: format!("{}", b.x.len()),
                fix: "one row of IN inputs per label".into(),
            });
        }
        let dev = self.l1.weight.device().clone();
        let x = dev.tensor_from_vec(b.x.clone(), (n, Const::<IN>)).put_tape(tape);
        let mut onehot = vec![0.0f32; n * CLASSES];
        for (i, &c) in b.y.iter().enumerate() {
            onehot[i * CLASSES + c] = 1.0;
        }
        let t = dev.tensor_from_vec(onehot, (n, Const::<CLASSES>));
        let h = self.l1.forward(x).relu();
        let logits = self.l2.forward(h);
        Ok(cross_entropy_with_logits_loss(logits, t) * b.scale)
    }
    fn info(&self) -> ModelInfo {
        let prunable = IN * HID + HID * CLASSES;
        ModelInfo {
            family: Family::Vit,
            width: IN,
            mlp_width: HID,
            heads: 1,
            encoder_layers: 1,
            decoder_layers: 0,
            outputs: CLASSES,
            total_params: prunable + HID + CLASSES,
            prunable_params: prunable,
            embedding_params: 0,
        }
    }
}

/// A tiny model initialised from `seed`.
pub fn tiny(seed: u64) -> Tiny {
    let dev = Cpu::seed_from_u64(seed);
    Tiny::build(&dev)
}

/// The teacher: class = argmax of a fixed random linear map of x.
fn teacher_label(w: &[f32], x: &[f32]) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for c in 0..CLASSES {
        let s: f32 = (0..IN).map(|i| w[c * IN + i] * x[i]).sum();
        if s > best.1 {
            best = (c, s);
        }
    }
    best.0
}

fn teacher(seed: u64) -> Vec<f32> {
    let mut r = StdRng::seed_from_u64(seed ^ 0x7EAC_4E55);
    (0..CLASSES * IN).map(|_| r.gen_range(-1.0f32..1.0)).collect()
}

fn make_batch(w: &[f32], seed: u64, index: u64, n: usize) -> Batch {
    let mut r = StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(index));
    let x: Vec<f32> = (0..n * IN).map(|_| r.gen_range(-1.0f32..1.0)).collect();
    let y = (0..n).map(|i| teacher_label(w, &x[i * IN..(i + 1) * IN])).collect();
    Batch { x, y, scale: 1.0 }
}

/// Seeded infinite stream; batch `i` depends only on (seed, i).
pub struct Stream {
    pub seed: u64,
    pub next: u64,
    pub batch: usize,
    /// Loss multiplier of training batches.
    pub scale: f32,
    w: Vec<f32>,
}

const KIND: &str = "test-teacher";

impl Stream {
    pub fn new(seed: u64, batch: usize) -> Self {
        Stream { seed, next: 0, batch, scale: 1.0, w: teacher(seed) }
    }
    /// Held-out batches (indices far away from the training stream's).
    pub fn validation(&self, batches: usize) -> Vec<Batch> {
        (0..batches as u64).map(|i| make_batch(&self.w, self.seed, u64::MAX - i, 64)).collect()
    }
}

impl DataStream for Stream {
    type Batch = Batch;
    fn next_batch(&mut self, batch_size: usize) -> Result<Batch, DataError> {
        let mut b = make_batch(&self.w, self.seed, self.next, batch_size);
        b.scale = self.scale;
        self.next += 1;
        Ok(b)
    }
    fn position(&self) -> StreamPosition {
        StreamPosition {
            kind: KIND.into(),
            fingerprint: self.seed,
            epoch: 0,
            index: self.next,
            offset: 0,
            examples_seen: 0,
        }
    }
    fn seek(&mut self, p: &StreamPosition) -> Result<(), DataError> {
        p.check(KIND, self.seed)?;
        self.next = p.index;
        Ok(())
    }
    fn examples_seen(&self) -> u64 {
        0
    }
    fn validation_set(&self, n_examples: usize, _batch_size: usize) -> Result<Vec<Batch>, DataError> {
        Ok(self.validation(n_examples / 64))
    }
}

/// A pruner for tests: random masks on the weight matrices, pruning `first` of each at
/// step 0 and `second` (a larger fraction, a superset) from step `switch` on. Before
/// re-applying masks in `on_step` it records every pruned weight the optimizer moved.
#[derive(Debug, Clone)]
pub struct TestPruner {
    pub masks: BTreeMap<String, Vec<f32>>,
    ranks: BTreeMap<String, Vec<f32>>,
    pub second: f64,
    pub switch: u64,
    pub switched: bool,
    /// (step, path, index, value) of pruned weights found non-zero before re-applying.
    pub violations: Vec<(u64, String, usize, f32)>,
    pub checks: u64,
}

#[derive(Serialize, Deserialize)]
struct TestPrunerState {
    switched: bool,
    masks: BTreeMap<String, Vec<u8>>,
}

impl TestPruner {
    pub fn new(model: &Tiny, seed: u64, first: f64, second: f64, switch: u64) -> Self {
        let mut r = StdRng::seed_from_u64(seed);
        let mut masks = BTreeMap::new();
        let mut ranks = BTreeMap::new();
        for_each_param::<_, TrainError>(model, &mut |p, shape, v| {
            if shape.len() == 2 {
                let rank: Vec<f32> = (0..v.len()).map(|_| r.gen::<f32>()).collect();
                masks.insert(p.to_string(), rank.iter().map(|&u| if (u as f64) < first { 0.0 } else { 1.0 }).collect());
                ranks.insert(p.to_string(), rank);
            }
            Ok(())
        })
        .unwrap();
        TestPruner { masks, ranks, second, switch, switched: false, violations: vec![], checks: 0 }
    }

    fn reapply(&self, model: &mut Tiny) {
        for_each_param_mut::<_, TrainError>(model, &mut |p, _, v| {
            if let Some(m) = self.masks.get(p) {
                v.iter_mut().zip(m).for_each(|(w, m)| *w *= m);
            }
            Ok(())
        })
        .unwrap();
    }

    /// Pruned weights of `model` that are not exactly zero.
    pub fn nonzero_pruned(&self, model: &Tiny) -> usize {
        let mut bad = 0;
        for_each_param::<_, TrainError>(model, &mut |p, _, v| {
            if let Some(m) = self.masks.get(p) {
                bad += v.iter().zip(m).filter(|(w, m)| **m == 0.0 && **w != 0.0).count();
            }
            Ok(())
        })
        .unwrap();
        bad
    }
}

impl Sparsifier<Tiny> for TestPruner {
    fn apply(&mut self, model: &mut Tiny) -> Result<(), BoxError> {
        self.reapply(model);
        Ok(())
    }
    fn on_step(&mut self, model: &mut Tiny, step: u64) -> Result<(), BoxError> {
        let masks = &self.masks;
        let mut found = Vec::new();
        for_each_param::<_, TrainError>(model, &mut |p, _, v| {
            if let Some(m) = masks.get(p) {
                for (i, (w, m)) in v.iter().zip(m).enumerate() {
                    if *m == 0.0 && *w != 0.0 {
                        found.push((step, p.to_string(), i, *w));
                    }
                }
            }
            Ok(())
        })?;
        self.violations.extend(found);
        self.checks += 1;
        if step + 1 == self.switch && !self.switched {
            self.switched = true;
            for (p, m) in self.masks.iter_mut() {
                let r = &self.ranks[p];
                m.iter_mut().zip(r).for_each(|(m, &u)| {
                    if (u as f64) < self.second {
                        *m = 0.0
                    }
                });
            }
        }
        self.reapply(model);
        Ok(())
    }
    fn zero_pruned(&self, path: &str, values: &mut [f32]) -> Result<(), BoxError> {
        if let Some(m) = self.masks.get(path) {
            values.iter_mut().zip(m).for_each(|(v, m)| *v *= m);
        }
        Ok(())
    }
    fn kept(&self, path: &str) -> Option<usize> {
        self.masks.get(path).map(|m| m.iter().filter(|&&x| x != 0.0).count())
    }
    fn stats(&self, model: &Tiny) -> SparsityStats {
        let mut total = 0u64;
        for_each_param::<_, TrainError>(model, &mut |_, _, v| {
            total += v.len() as u64;
            Ok(())
        })
        .unwrap();
        let layers: Vec<LayerSparsity> = self
            .masks
            .iter()
            .map(|(p, m)| {
                let nz = m.iter().filter(|&&x| x != 0.0).count() as u64;
                LayerSparsity {
                    path: p.clone(),
                    size: m.len() as u64,
                    nonzeros: nz,
                    counted_in_n: true,
                    sparsity: 1.0 - nz as f64 / m.len() as f64,
                }
            })
            .collect();
        let size: u64 = layers.iter().map(|l| l.size).sum();
        let nonzeros: u64 = layers.iter().map(|l| l.nonzeros).sum();
        SparsityStats {
            layers,
            sparsity: 1.0 - nonzeros as f64 / size as f64,
            nonzeros,
            total_params: total,
            avg_nonzeros: None,
        }
    }
    fn state(&self) -> Result<serde_json::Value, BoxError> {
        let masks = self.masks.iter().map(|(p, m)| (p.clone(), m.iter().map(|&x| x as u8).collect())).collect();
        Ok(serde_json::to_value(TestPrunerState { switched: self.switched, masks })?)
    }
    fn restore(&mut self, _model: &Tiny, state: serde_json::Value) -> Result<(), BoxError> {
        let s: TestPrunerState = serde_json::from_value(state)?;
        self.switched = s.switched;
        self.masks = s.masks.into_iter().map(|(p, m)| (p, m.into_iter().map(|x| x as f32).collect())).collect();
        Ok(())
    }
}

/// All trainable values of a model, flattened in visiting order (for bit-exact comparisons).
pub fn weights(model: &Tiny) -> Vec<u32> {
    let mut out = Vec::new();
    for_each_param::<_, TrainError>(model, &mut |_, _, v| {
        out.extend(v.iter().map(|x| x.to_bits()));
        Ok(())
    })
    .unwrap();
    out
}
