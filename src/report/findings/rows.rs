//! A record as the comparisons see it: its size, sparsity, method label, loss, and the
//! context keys that say which records are comparable.

use serde_json::{Map, Value};

use super::Run;
use crate::experiment::{PruningPlan, ScheduleShape};
use crate::results::Record;

/// One record, flattened for the comparisons.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub family: String,
    pub width: usize,
    pub s: f64,
    pub method: String,
    pub steps: u64,
    pub n: u64,
    pub nbar: Option<f64>,
    pub loss: f64,
    pub wall: f64,
    pub seed: u64,
    /// Everything that must match for two records to be compared, except size, S and pruning.
    pub ctx: String,
    /// `ctx` without the training length and what follows from it (equal-cost pairs).
    pub ctx_len: String,
    /// `ctx` without the seed (seed spread).
    pub ctx_seedless: String,
}

impl Row {
    pub fn new(r: &Record) -> Row {
        let spec = &r.spec;
        let ctx = context(r);
        Row {
            family: serde_json::to_value(spec.family)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            width: spec.dims.width,
            s: spec.sparsity,
            method: method(r),
            steps: spec.steps,
            n: r.outcome.nonzero_params,
            nbar: r.outcome.avg_nonzero_params,
            loss: r.outcome.final_val_loss,
            wall: r.run.wall_seconds,
            seed: spec.seed,
            ctx_len: key(&any_length(ctx.clone(), spec.steps)),
            ctx_seedless: {
                let mut c = ctx.clone();
                c.remove("seed");
                key(&c)
            },
            ctx: key(&ctx),
        }
    }

    pub fn run(&self) -> Run {
        Run {
            width: self.width,
            sparsity: self.s,
            method: self.method.clone(),
            steps: self.steps,
            n: self.n,
            loss: self.loss,
        }
    }
}

/// A short label of a record's pruning: `dense`, `gmp`, `gmp+geometric`, `2:4`, `fromdense`.
pub(super) fn method(r: &Record) -> String {
    let gmp_shape = |shape: &ScheduleShape| match shape {
        s if s.is_cubic() => "gmp".to_string(),
        ScheduleShape::Polynomial(p) => format!("gmp+{{\"polynomial\": {p:?}}}"),
        ScheduleShape::Linear => "gmp+linear".to_string(),
        ScheduleShape::Geometric => "gmp+geometric".to_string(),
        ScheduleShape::OneShot => "gmp+oneshot".to_string(),
    };
    match &r.spec.pruning {
        _ if r.spec.sparsity == 0.0 => "dense".to_string(),
        PruningPlan::Dense => "dense".to_string(),
        PruningPlan::Gmp { shape, .. } => gmp_shape(shape),
        PruningPlan::NM { n, m, .. } => format!("{n}:{m}"),
        PruningPlan::FromDense { .. } => "fromdense".to_string(),
    }
}

/// The point's spec without dims, sparsity and pruning, with the depth.
fn context(r: &Record) -> Map<String, Value> {
    let mut s = match serde_json::to_value(&r.spec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for k in ["dims", "sparsity", "pruning", "hash"] {
        s.remove(k);
    }
    s.insert("depth".into(), Value::from(r.spec.dims.depth));
    s
}

/// A context without the training length, the validation interval, and with the warm-up as a
/// fraction of the run to 2 decimals (8 of 150 steps and 30 of 600 are both the default 5 %).
fn any_length(mut s: Map<String, Value>, steps: u64) -> Map<String, Value> {
    s.remove("steps");
    s.remove("val_every");
    if let Some(Value::Object(lr)) = s.get_mut("lr") {
        if let Some(w) = lr.get("warmup_steps").and_then(Value::as_f64) {
            lr.insert("warmup_steps".into(), Value::from(round2(w / steps as f64)));
        }
    }
    s
}

/// `x` rounded to 2 decimals, ties to even, as text (exact: a tie is an odd multiple of 1/8).
pub(super) fn round2(x: f64) -> String {
    let eighths = x * 8.0;
    if eighths.fract() == 0.0 && eighths.rem_euclid(2.0) == 1.0 {
        format!("{:.2}", round_half_even(x * 100.0) / 100.0)
    } else {
        format!("{x:.2}")
    }
}

/// `x` rounded to an integer, ties to even (as Python's `round`).
pub(super) fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (r - x).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

fn key(m: &Map<String, Value>) -> String {
    let sorted: std::collections::BTreeMap<&String, &Value> = m.iter().collect();
    serde_json::to_string(&sorted).unwrap_or_default()
}

/// The median of sorted values (the mean of the middle two for an even count).
pub(super) fn median(v: &[f64]) -> f64 {
    let k = v.len() / 2;
    if v.len() % 2 == 1 {
        v[k]
    } else {
        (v[k - 1] + v[k]) / 2.0
    }
}
