//! Range checks that keep a valid experiment from failing later: the optimizer's and the
//! schedule's numbers must be finite and in range, training lengths at most [`MAX_STEPS`], and
//! every point must need less than [`MAX_POINT_BYTES`] of memory.
//!
//! These checks depend only on the experiment, never on the machine, so `sweep!` gives the same
//! answer on every build machine; `check` and `run` compare each point's
//! [`MemoryEstimate`] with the memory of the machine they run on as well.

use crate::error::Issue;
use crate::memory::{bytes, MemoryEstimate, MAX_POINT_BYTES};
use crate::point::Point;
use crate::schema::{At, Experiment, Optimizer, Pruning};

/// The longest training run an experiment may ask for, in optimizer steps: 10^9. At the
/// fastest step rates of the models this crate trains on a CPU (hundreds per second), a run
/// this long takes months; longer lengths are typos (or `u64::MAX`).
pub const MAX_STEPS: u64 = 1_000_000_000;

fn issue(field: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Issue {
    Issue { field: field.into(), line: 0, column: 0, problem: problem.into(), fix: fix.into() }
}

/// Training lengths (`steps`, `FromDense`'s `dense_steps`) above [`MAX_STEPS`].
pub(crate) fn step_issues(e: &Experiment, out: &mut Vec<Issue>) {
    let fix = format!("use at most {MAX_STEPS} steps (10^9, months of training on a CPU)");
    for (i, &t) in e.steps.iter().enumerate() {
        if t > MAX_STEPS {
            out.push(issue(format!("steps[{i}]"), format!("{t} steps is above the bound of {MAX_STEPS}"), &fix));
        }
    }
    for (i, p) in e.pruning.iter().enumerate() {
        if let Pruning::FromDense { dense_steps, .. } = *p {
            if dense_steps > MAX_STEPS {
                out.push(issue(
                    format!("pruning[{i}].dense_steps"),
                    format!("a dense run of {dense_steps} steps is above the bound of {MAX_STEPS}"),
                    &fix,
                ));
            }
        }
    }
}

/// `Ok` when `x` is finite and satisfies `ok`; else the problem, in words.
fn check(name: &str, x: f64, ok: impl Fn(f64) -> bool, range: &str) -> Result<(), String> {
    if !x.is_finite() {
        Err(format!("{name} = {x} is not a finite number; it must be {range}"))
    } else if !ok(x) {
        Err(format!("{name} = {x} is outside its range: it must be {range}"))
    } else {
        Ok(())
    }
}

/// The optimizer's and the learning-rate schedule's numbers: finite and in range.
pub(crate) fn optimizer_issues(e: &Experiment, out: &mut Vec<Issue>) {
    let mut push = |field: &str, r: Result<(), String>, fix: &str| {
        if let Err(problem) = r {
            out.push(issue(field, problem, fix));
        }
    };
    match e.optimizer {
        Optimizer::AdamW { lr, beta1, beta2, eps, weight_decay } => {
            push("optimizer.lr", check("lr", lr, |x| x > 0.0, "positive"), "use e.g. `lr: 1e-3`");
            for (f, b, eg) in [("beta1", beta1, "0.9"), ("beta2", beta2, "0.999")] {
                push(
                    &format!("optimizer.{f}"),
                    check(f, b, |x| (0.0..1.0).contains(&x), "in [0, 1)"),
                    &format!("use e.g. `{f}: {eg}`"),
                );
            }
            push("optimizer.eps", check("eps", eps, |x| x > 0.0, "positive"), "use e.g. `eps: 1e-8`");
            push(
                "optimizer.weight_decay",
                check("weight_decay", weight_decay, |x| x >= 0.0, "0 or positive"),
                "use 0 or a small value such as `weight_decay: 1e-4`",
            );
            // Decoupled decay multiplies every weight by 1 − lr·λ each step: at lr·λ ≥ 1 that
            // zeroes or flips every weight.
            if lr.is_finite() && lr > 0.0 && weight_decay.is_finite() && lr * weight_decay >= 1.0 {
                push(
                    "optimizer.weight_decay",
                    Err(format!(
                        "lr × weight_decay = {lr} × {weight_decay} = {} ≥ 1: decoupled decay multiplies every weight by 1 − lr·λ each step, which zeroes or flips them",
                        lr * weight_decay
                    )),
                    "use a weight decay below 1/lr (typical values are 1e-4 to 0.1)",
                );
            }
        }
        Optimizer::Adafactor { scale, decay_exponent, clip_threshold } => {
            push("optimizer.scale", check("scale", scale, |x| x > 0.0, "positive"), "use e.g. `scale: 1.0`");
            push(
                "optimizer.decay_exponent",
                check("decay_exponent", decay_exponent, |x| x > 0.0 && x <= 1.0, "in (0, 1]"),
                "use e.g. `decay_exponent: 0.8`",
            );
            push(
                "optimizer.clip_threshold",
                check("clip_threshold", clip_threshold, |x| x > 0.0, "positive"),
                "use e.g. `clip_threshold: 1.0`",
            );
        }
    }
    let sch = &e.lr_schedule;
    if let At::Fraction(x) = sch.warmup {
        push(
            "lr_schedule.warmup",
            check("the warm-up fraction", x, |x| (0.0..1.0).contains(&x), "in [0, 1)"),
            "use e.g. `warmup: Fraction(0.05)`",
        );
    }
    if let Some(&steps) = e.steps.iter().filter(|&&s| s > 0).find(|&&s| sch.warmup.resolve(s) >= s) {
        push(
            "lr_schedule.warmup",
            Err(format!("warm-up of {} steps does not end before the run of {steps} steps", sch.warmup.resolve(steps))),
            "shorten the warm-up (a fraction adapts to every length)",
        );
    }
    push(
        "lr_schedule.min_lr_ratio",
        check("min_lr_ratio", sch.min_lr_ratio, |x| (0.0..=1.0).contains(&x), "in [0, 1]"),
        "use e.g. 0.0 or 0.1",
    );
    if let Some(c) = sch.grad_clip {
        push(
            "lr_schedule.grad_clip",
            check("the clip norm", c, |x| x > 0.0, "positive"),
            "use e.g. `grad_clip: 1.0`, or `None` for no clipping",
        );
    }
}

/// The analysis's numbers that are not formulas: finite, positive units, Huber δ and sizes.
pub(crate) fn analysis_issues(e: &Experiment, out: &mut Vec<Issue>) {
    let Some(a) = &e.analysis else { return };
    // `!(x > 0)` (NaN, zero, negative) is reported by the checks of `expand.rs`; infinity here.
    for (field, x, fix) in [
        ("analysis.huber_delta", a.huber_delta, "use 0.01 (raw residuals) or 0.001 (log residuals)"),
        ("analysis.n_unit", a.n_unit, "use e.g. 1e6"),
        ("analysis.d_unit", a.d_unit.unwrap_or(1.0), "use e.g. 1e5"),
    ] {
        if x.is_infinite() && x > 0.0 {
            out.push(issue(field, format!("{} is not a finite number", x), fix));
        }
    }
    for (i, &n) in a.s_opt_sizes.iter().enumerate() {
        if let Err(problem) = check("the size", n, |x| x > 0.0, "positive") {
            out.push(issue(
                format!("analysis.s_opt_sizes[{i}]"),
                problem,
                "give non-zero sizes N in the fit's unit (`n_unit`), e.g. `s_opt_sizes: [1.0, 10.0]`",
            ));
        }
    }
}

/// Points whose memory estimate is above [`MAX_POINT_BYTES`]: the first such point of each
/// model shape (enough to show the problem without listing every sparsity, length and seed).
pub(crate) fn memory_issues(points: &[Point], out: &mut Vec<Issue>) {
    let mut reported = std::collections::BTreeSet::new();
    for p in points {
        let m = MemoryEstimate::of(&p.spec);
        if m.total() > MAX_POINT_BYTES && reported.insert((p.spec.dims.width, p.spec.dims.depth)) {
            out.push(issue(
                m.field(),
                format!(
                    "point {} (width {}, depth {}, batch size {}) needs at least {}, more than the bound of {} per point",
                    p.index,
                    p.spec.dims.width,
                    p.spec.dims.depth,
                    p.spec.batch_size,
                    m.describe(),
                    bytes(MAX_POINT_BYTES)
                ),
                m.fix(),
            ));
        }
    }
}
