//! How a sweep shares the machine: how many points train at once (jobs) and how many threads
//! each point's training gets. A small model cannot keep many cores busy within one step (its
//! matrix products are too small to split well over threads), but a sweep of small models can:
//! its points run side by side with a thread or two each, while a large point gets every core.
//!
//! [`choose`] is a pure function of the points still to train ([`PointLoad`]: work per step,
//! steps, memory estimate), the machine ([`Machine`]: cores and memory now available) and what
//! the user asked for ([`Requested`]: `run --jobs`, `--threads`):
//!
//! 1. **threads per point**: as asked; else, when only the jobs were asked for, the cores
//!    shared among them; else one thread per [`WORK_PER_THREAD`] multiply-adds of per-step work
//!    ([`step_work`]) of the *typical* point — the work-weighted median, so the points that
//!    take most of the sweep's time decide — at least one and at most every core;
//! 2. **jobs**: as asked; else the cores divided by the threads per point, never more than the
//!    points left to train, and never more than the memory allows: jobs × [`MEMORY_HEADROOM`] ×
//!    the largest point's estimate (`experiment::MemoryEstimate`, a lower bound) must fit in the
//!    memory available; asked-for jobs are never more than the points left either;
//! 3. **spare cores**: when the threads were not asked for and the jobs leave cores idle (few
//!    points left, or memory limits the jobs), the running points share them.
//!
//! The runner ([`super::run`]) gives each job its own rayon thread pool of that size; every op
//! gives the same bits for any number of threads (ARCHITECTURE.md, `src/ops`), so a point's
//! record does not depend on the plan.

use std::num::NonZeroUsize;

use crate::experiment::{Family, MemoryEstimate, PointSpec};

/// Multiply-adds of per-step work ([`step_work`]) that keep one thread busy: a point gets one
/// thread per this much work. A ViT of width 64, depth 4 with 17 tokens and batch 64 (about
/// 2·10⁸) runs 1.45× faster on two threads than on one (docs/PERFORMANCE.md, "Training step
/// speed"), while two such points on one thread each run 2× the points per second; so such a
/// point gets one thread and its neighbours in the sweep use the other cores.
pub const WORK_PER_THREAD: f64 = 2.5e8;

/// What a real run needs over its memory estimate (the estimate is a lower bound: temporary
/// buffers of the passes and the allocator's slack come on top, about as much again).
pub const MEMORY_HEADROOM: f64 = 2.0;

/// Multiply-adds of one forward pass of a training step through the model's weight matrices:
/// each matrix's weights times the tokens it is applied to, times the batch (ViT: the blocks
/// and the patch embedding over every token; T5: the encoder over the input tokens, the decoder
/// and the output layer over the target tokens; decoder-only: the blocks and the output layer
/// over the sequence). Attention scores and element-wise work are left out; the backward pass
/// is about twice the forward, so the ratio between points is what this measures.
pub fn step_work(spec: &PointSpec) -> f64 {
    let d = spec.dims.width as f64;
    let f = spec.dims.mlp_width as f64;
    let l = spec.dims.depth as f64;
    let batch = spec.batch_size as f64;
    let per_example = match spec.family {
        Family::Vit => {
            let v = spec.vit.clone().unwrap_or_default();
            let side = v.image_size as f64 / v.patch_size.max(1) as f64;
            let tokens = side * side + 1.0;
            let patch = (v.patch_size * v.patch_size * v.channels) as f64 * d;
            tokens * (l * (4.0 * d * d + 2.0 * d * f) + patch) + d * v.classes as f64
        }
        Family::T5 => {
            let s = spec.t5.clone().unwrap_or_default();
            let encoder = l * (4.0 * d * d + 3.0 * d * f);
            let decoder = l * (8.0 * d * d + 3.0 * d * f) + d * s.vocab as f64;
            s.input_len as f64 * encoder + s.target_len as f64 * decoder
        }
        Family::Decoder => {
            let s = spec.decoder.clone().unwrap_or_default();
            s.seq_len as f64 * (l * (4.0 * d * d + 3.0 * d * f) + d * s.vocab as f64)
        }
    };
    batch * per_example
}

/// What [`choose`] needs to know of one point still to train.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointLoad {
    /// Multiply-adds per step ([`step_work`]).
    pub work: f64,
    /// Optimizer steps of the whole point (a dense phase included).
    pub steps: u64,
    /// Its memory estimate in bytes (a lower bound, `experiment::MemoryEstimate`).
    pub memory: f64,
}

impl PointLoad {
    /// The load of a point.
    pub fn of(spec: &PointSpec) -> PointLoad {
        PointLoad {
            work: step_work(spec),
            steps: spec.pruning.dense_steps() + spec.steps,
            memory: MemoryEstimate::of(spec).total(),
        }
    }
}

/// The machine a sweep runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    /// Threads the sweep may use in all.
    pub cores: usize,
    /// Memory available now, in bytes (`None`: unknown, not compared).
    pub memory: Option<u64>,
}

impl Machine {
    /// This machine: `RAYON_NUM_THREADS` cores if it is set to a positive number (as the Slurm
    /// scripts do with the task's CPUs), else the cores this process may use; the memory is
    /// `MemAvailable` of `/proc/meminfo` (unknown elsewhere).
    pub fn this() -> Machine {
        let from_env = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.trim().parse::<usize>().ok());
        let cores = from_env
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get));
        Machine { cores, memory: crate::cli::memory::MachineMemory::of_this_machine().map(|m| m.available) }
    }
}

/// What the user asked for (`run --jobs`, `--threads`); `None` lets [`choose`] decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Requested {
    /// Points trained at once.
    pub jobs: Option<NonZeroUsize>,
    /// Threads of each point.
    pub threads: Option<NonZeroUsize>,
}

/// What bounded the number of jobs of a [`JobPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobsBound {
    /// The user's `--jobs`.
    Requested,
    /// The cores divided by the threads per point.
    Cores,
    /// The points left to train.
    Points,
    /// The memory available.
    Memory,
}

/// How a sweep runs: `jobs` points at once, each on its own pool of `threads` threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPlan {
    /// Points trained at once (at least 1).
    pub jobs: usize,
    /// Threads of each point (at least 1).
    pub threads: usize,
    /// What bounded `jobs`.
    pub bound: JobsBound,
    /// The most jobs whose memory fits ([`MEMORY_HEADROOM`] × the largest estimate each), when
    /// the memory is known; an asked-for `jobs` above it is run as asked, with a warning.
    pub memory_fits: Option<usize>,
}

impl JobPlan {
    /// The plan in words, for the run log.
    pub fn describe(&self, machine: Machine) -> String {
        let why = match self.bound {
            JobsBound::Requested => "as asked by --jobs",
            JobsBound::Cores => "as many as the cores allow",
            JobsBound::Points => "one per point left",
            JobsBound::Memory => "as many as fit in the memory available",
        };
        let mut s = format!(
            "running {} point{} at once ({why}), {} thread{} each, on {} core{}",
            self.jobs,
            plural(self.jobs),
            self.threads,
            plural(self.threads),
            machine.cores,
            plural(machine.cores)
        );
        if let Some(fits) = self.memory_fits.filter(|&m| m < self.jobs) {
            s.push_str(&format!(
                "; warning: the memory available fits only {fits} at once ({MEMORY_HEADROOM}× the largest \
                 estimate each), points may fail for lack of memory — lower --jobs"
            ));
        }
        s
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Threads that `work` multiply-adds per step keep busy, 1 to `cores`.
fn threads_for(work: f64, cores: usize) -> usize {
    let wanted = (work / WORK_PER_THREAD).ceil();
    if wanted >= cores as f64 {
        cores
    } else if wanted >= 1.0 {
        wanted as usize
    } else {
        1
    }
}

/// The per-step work of the typical point: the work-weighted median, where half of the sweep's
/// total work (work per step × steps) is in points at most this large.
fn typical_work(points: &[PointLoad]) -> f64 {
    let mut by_work: Vec<(f64, f64)> = points.iter().map(|p| (p.work, p.work * p.steps as f64)).collect();
    by_work.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = by_work.iter().map(|w| w.1).sum();
    let mut acc = 0.0;
    for (work, weight) in &by_work {
        acc += weight;
        if acc >= total / 2.0 {
            return *work;
        }
    }
    by_work.last().map_or(0.0, |w| w.0)
}

/// Chooses how many of `remaining` (the points still to train) run at once and how many threads
/// each gets (see the module docs for the rules).
pub fn choose(remaining: &[PointLoad], machine: Machine, requested: Requested) -> JobPlan {
    let cores = machine.cores.max(1);
    let left = remaining.len().max(1);
    let largest = remaining.iter().map(|p| p.memory).fold(0.0, f64::max);
    let memory_fits = machine.memory.map(|m| {
        let each = MEMORY_HEADROOM * largest;
        if each > 0.0 {
            ((m as f64 / each).floor().min(usize::MAX as f64) as usize).max(1)
        } else {
            usize::MAX
        }
    });
    let threads = match (requested.threads, requested.jobs) {
        (Some(t), _) => t.get(),
        (None, Some(j)) => (cores / j.get().min(left)).max(1),
        (None, None) => threads_for(typical_work(remaining), cores),
    };
    let (jobs, bound) = match requested.jobs {
        Some(j) if j.get() > left => (left, JobsBound::Points),
        Some(j) => (j.get(), JobsBound::Requested),
        None => {
            let mut plan = ((cores / threads).max(1), JobsBound::Cores);
            if left < plan.0 {
                plan = (left, JobsBound::Points);
            }
            match memory_fits {
                Some(m) if m < plan.0 => (m, JobsBound::Memory),
                _ => plan,
            }
        }
    };
    let threads = if requested.threads.is_none() { threads.max(cores / jobs) } else { threads };
    JobPlan { jobs, threads, bound, memory_fits }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn tiny() -> PointLoad {
        PointLoad { work: 5e7, steps: 400, memory: 1e8 }
    }

    fn big() -> PointLoad {
        PointLoad { work: 1e10, steps: 1000, memory: 2e9 }
    }

    fn machine(cores: usize) -> Machine {
        Machine { cores, memory: Some(128 * GIB) }
    }

    fn n(k: usize) -> Option<NonZeroUsize> {
        NonZeroUsize::new(k)
    }

    #[test]
    fn tiny_points_run_side_by_side_on_one_thread_each() {
        let plan = choose(&[tiny(); 9], machine(16), Requested::default());
        // 9 jobs × 1 thread finish together; 8 × 2 would leave the ninth for a second round
        assert_eq!((plan.jobs, plan.threads, plan.bound), (9, 1, JobsBound::Points));
        let plan = choose(&[tiny(); 40], machine(16), Requested::default());
        assert_eq!((plan.jobs, plan.threads, plan.bound), (16, 1, JobsBound::Cores));
        let plan = choose(&[tiny(); 27], machine(2), Requested::default());
        assert_eq!((plan.jobs, plan.threads), (2, 1));
    }

    #[test]
    fn a_big_point_gets_every_core() {
        let plan = choose(&[big()], machine(16), Requested::default());
        assert_eq!((plan.jobs, plan.threads), (1, 16));
        let plan = choose(&[big(); 5], machine(16), Requested::default());
        assert_eq!((plan.jobs, plan.threads, plan.bound), (1, 16, JobsBound::Cores));
    }

    #[test]
    fn medium_points_share_the_cores_by_their_work() {
        // 4 threads' worth of work each
        let medium = PointLoad { work: 3.5 * WORK_PER_THREAD, steps: 100, memory: 1e8 };
        let plan = choose(&[medium; 10], machine(16), Requested::default());
        assert_eq!((plan.jobs, plan.threads), (4, 4));
        // the few remaining points get the spare cores
        let plan = choose(&[medium; 2], machine(16), Requested::default());
        assert_eq!((plan.jobs, plan.threads, plan.bound), (2, 8, JobsBound::Points));
    }

    #[test]
    fn the_points_doing_most_of_the_work_decide_the_threads() {
        // one big point outweighs many tiny ones: its threads (all cores) are the sweep's
        let mut points = vec![tiny(); 6];
        points.push(big());
        assert_eq!(choose(&points, machine(16), Requested::default()).threads, 16);
        // many tiny points whose total work outweighs a slightly larger one
        let small = PointLoad { work: 2.0 * WORK_PER_THREAD, steps: 10, memory: 1e8 };
        let mut points = vec![tiny(); 20];
        points.push(small);
        assert_eq!(choose(&points, machine(16), Requested::default()).threads, 1);
    }

    #[test]
    fn memory_limits_the_jobs() {
        // each needs 2 × 1 GiB with headroom: 5 GiB fit two
        let p = PointLoad { work: 5e7, steps: 100, memory: GIB as f64 };
        let plan = choose(&[p; 9], Machine { cores: 16, memory: Some(5 * GIB) }, Requested::default());
        assert_eq!((plan.jobs, plan.bound, plan.memory_fits), (2, JobsBound::Memory, Some(2)));
        // the idle cores go to the two points that fit
        assert_eq!(plan.threads, 8);
        // the largest point sets the limit
        let mut mixed = vec![tiny(); 8];
        mixed.push(PointLoad { memory: 2.0 * GIB as f64, ..tiny() });
        assert_eq!(choose(&mixed, Machine { cores: 16, memory: Some(9 * GIB) }, Requested::default()).jobs, 2);
        // a point that alone does not fit still runs (the memory check before the run decides)
        let plan = choose(&[p; 3], Machine { cores: 4, memory: Some(GIB) }, Requested::default());
        assert_eq!(plan.jobs, 1);
        // unknown memory: not compared
        let plan = choose(&[p; 9], Machine { cores: 4, memory: None }, Requested::default());
        assert_eq!((plan.jobs, plan.memory_fits), (4, None));
    }

    #[test]
    fn what_the_user_asks_for_wins() {
        let ask = |jobs, threads| Requested { jobs: n(jobs), threads: n(threads) };
        let plan = choose(&[big(); 4], machine(16), ask(2, 0));
        assert_eq!((plan.jobs, plan.threads, plan.bound), (2, 8, JobsBound::Requested));
        let plan = choose(&[tiny(); 9], machine(16), ask(0, 4));
        assert_eq!((plan.jobs, plan.threads, plan.bound), (4, 4, JobsBound::Cores));
        let plan = choose(&[tiny(); 9], machine(2), ask(3, 2));
        assert_eq!((plan.jobs, plan.threads), (3, 2));
        // never more jobs than points left, even when asked
        let plan = choose(&[tiny(); 3], machine(16), ask(8, 0));
        assert_eq!((plan.jobs, plan.threads, plan.bound), (3, 5, JobsBound::Points));
        // asked-for jobs above the memory run as asked, with a warning
        let p = PointLoad { memory: GIB as f64, ..tiny() };
        let m = Machine { cores: 16, memory: Some(4 * GIB) };
        let plan = choose(&[p; 9], m, ask(4, 0));
        assert_eq!((plan.jobs, plan.memory_fits), (4, Some(2)));
        assert!(plan.describe(m).contains("fits only 2 at once"), "{}", plan.describe(m));
        assert!(!choose(&[p; 9], m, ask(2, 0)).describe(m).contains("warning"));
    }

    #[test]
    fn nothing_left_to_train_is_one_job_on_every_core() {
        let plan = choose(&[], machine(8), Requested::default());
        assert_eq!((plan.jobs, plan.threads), (1, 8));
    }

    #[test]
    fn work_grows_with_width_batch_and_tokens() {
        let file = |body: &str| {
            crate::experiment::ExperimentFile::from_str("w.ron", &format!("(name: \"w\", {body})"))
                .unwrap()
                .expand()
                .unwrap()
        };
        let vit = file("model: (family: Vit, sizes: Widths([32, 64])), steps: [10], batch_size: 8");
        let (a, b) = (step_work(&vit[0].spec), step_work(&vit[1].spec));
        // the blocks grow with d² (the patch embedding and head with d)
        assert!(b > 3.0 * a && b < 4.0 * a, "{a} {b}");
        let vit16 = file("model: (family: Vit, sizes: Widths([32])), steps: [10], batch_size: 16");
        assert_eq!(step_work(&vit16[0].spec), 2.0 * a);
        let t5 = file("model: (family: T5, sizes: Widths([32])), steps: [10], batch_size: 8");
        let dec = file("model: (family: Decoder, sizes: Widths([32])), steps: [10], batch_size: 8");
        for p in [&t5[0], &dec[0]] {
            let w = step_work(&p.spec);
            assert!(w.is_finite() && w > 0.0, "{w}");
        }
        let load = PointLoad::of(&vit[1].spec);
        assert_eq!(load.steps, 10);
        assert_eq!(load.memory, MemoryEstimate::of(&vit[1].spec).total());
    }
}
