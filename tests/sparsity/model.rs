//! The pruner on a small model whose fields follow the naming contract (`blocks.N.attn.q.weight`,
//! `blocks.N.mlp.fc1.weight`, a norm, an embedding, a head, positions): simulated GMP and n:m
//! runs, roles left alone, embeddings at 1 − √(1 − S), bad input, checkpoint round trips.

use dfdx::nn::modules::{Embedding, LayerNorm1D, Linear, Repeated};
use dfdx::nn::tensor_collection::*;
use dfdx::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use sparse_scaling::experiment::{PruningPlan, ScheduleShape};
use sparse_scaling::params::{embedding_sparsity, role_of, ParamRole};
use sparse_scaling::sparsity::*;

const D: usize = 32;
const H: usize = 64;

struct Attn<E: Dtype, Dev: Device<E>> {
    q: Linear<D, D, E, Dev>,
    o: Linear<D, D, E, Dev>,
}
struct Mlp<E: Dtype, Dev: Device<E>> {
    fc1: Linear<D, H, E, Dev>,
    fc2: Linear<H, D, E, Dev>,
}
struct Block<E: Dtype, Dev: Device<E>> {
    norm: LayerNorm1D<D, E, Dev>,
    attn: Attn<E, Dev>,
    mlp: Mlp<E, Dev>,
}
struct TestModel<E: Dtype, Dev: Device<E>> {
    embed: Embedding<50, D, E, Dev>,
    pos: Tensor<Rank2<8, D>, E, Dev>,
    blocks: Repeated<Block<E, Dev>, 2>,
    head: Linear<D, 10, E, Dev>,
}

sparse_scaling::modules!(Attn<> { q, o });
sparse_scaling::modules!(Mlp<> { fc1, fc2 });
sparse_scaling::modules!(Block<> { norm, attn, mlp });
impl TensorCollection<f32, Cpu> for TestModel<f32, Cpu> {
    type To<E2: Dtype, D2: Device<E2>> = TestModel<E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, f32, Cpu>>(v: &mut V) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        v.visit_fields(
            (
                Self::module("embed", |s| &s.embed, |s| &mut s.embed),
                Self::tensor(
                    "pos",
                    |s| &s.pos,
                    |s| &mut s.pos,
                    TensorOptions::reset_with(|t| t.try_fill_with_distr(rand_distr::StandardNormal)),
                ),
                Self::module("blocks", |s| &s.blocks, |s| &mut s.blocks),
                Self::module("head", |s| &s.head, |s| &mut s.head),
            ),
            |(embed, pos, blocks, head)| TestModel { embed, pos, blocks, head },
        )
    }
}

/// A model without any contract name.
struct Anon<E: Dtype, Dev: Device<E>> {
    lin: Linear<D, D, E, Dev>,
}
impl TensorCollection<f32, Cpu> for Anon<f32, Cpu> {
    type To<E2: Dtype, D2: Device<E2>> = Anon<E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, f32, Cpu>>(v: &mut V) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        v.visit_fields(Self::module("lin", |s| &s.lin, |s| &mut s.lin), |lin| Anon { lin })
    }
}

/// A model whose two fields report the same path.
struct Dup<E: Dtype, Dev: Device<E>> {
    a: Linear<D, D, E, Dev>,
    b: Linear<D, D, E, Dev>,
}
impl TensorCollection<f32, Cpu> for Dup<f32, Cpu> {
    type To<E2: Dtype, D2: Device<E2>> = Dup<E2, D2>;
    fn iter_tensors<V: ModuleVisitor<Self, f32, Cpu>>(v: &mut V) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        v.visit_fields(
            (Self::module("attn", |s| &s.a, |s| &mut s.a), Self::module("attn", |s| &s.b, |s| &mut s.b)),
            |(a, b)| Dup { a, b },
        )
    }
}

type Model = TestModel<f32, Cpu>;

fn model(seed: u64) -> Model {
    let dev = Cpu::seed_from_u64(seed);
    Model::build(&dev)
}

/// Emulates an optimizer step: adds seeded noise to every parameter, pruned weights included (so
/// the pruner must zero them again).
struct Perturb(StdRng);
impl TensorVisitor<f32, Cpu> for Perturb {
    type Viewer = ViewTensorMut;
    type Err = std::convert::Infallible;
    type E2 = f32;
    type D2 = Cpu;
    fn visit<S: Shape>(
        &mut self,
        _o: TensorOptions<S, f32, Cpu>,
        t: &mut Tensor<S, f32, Cpu>,
    ) -> Result<Option<Tensor<S, f32, Cpu>>, Self::Err> {
        let mut v = t.as_vec();
        for x in v.iter_mut() {
            *x += self.0.gen_range(-0.05f32..0.05);
        }
        t.copy_from(&v);
        Ok(None)
    }
}
fn perturb(m: &mut Model, rng: &mut Perturb) {
    let Ok(_) = Model::iter_tensors(&mut RecursiveWalker { m, f: rng });
}

/// All parameters as (path, values).
struct Dump(Vec<(String, Vec<f32>)>);
impl TensorVisitor<f32, Cpu> for Dump {
    type Viewer = (ViewTensorName, ViewTensorRef);
    type Err = std::convert::Infallible;
    type E2 = f32;
    type D2 = Cpu;
    fn visit<S: Shape>(
        &mut self,
        _o: TensorOptions<S, f32, Cpu>,
        (n, t): (String, &Tensor<S, f32, Cpu>),
    ) -> Result<Option<Tensor<S, f32, Cpu>>, Self::Err> {
        self.0.push((n, t.as_vec()));
        Ok(None)
    }
}
fn dump(m: &Model) -> Vec<(String, Vec<f32>)> {
    let mut d = Dump(Vec::new());
    let Ok(_) = Model::iter_tensors(&mut RecursiveWalker { m: (String::new(), m), f: &mut d });
    d.0
}

fn b_path<'a>(masks: &'a Masks, m: &BitMask) -> &'a str {
    masks.params.iter().find(|p| p.mask.as_ref() == Some(m)).map_or("?", |p| p.path.as_str())
}

const PRUNABLE: [&str; 8] = [
    "blocks.0.attn.q.weight",
    "blocks.0.attn.o.weight",
    "blocks.0.mlp.fc1.weight",
    "blocks.0.mlp.fc2.weight",
    "blocks.1.attn.q.weight",
    "blocks.1.attn.o.weight",
    "blocks.1.mlp.fc1.weight",
    "blocks.1.mlp.fc2.weight",
];

/// What a pruner is built from: a point's plan, its target sparsity, the embedding setting.
#[derive(Clone)]
struct Cfg {
    plan: PruningPlan,
    s: f64,
    emb: Embeddings,
}

impl Cfg {
    fn build<M: TensorCollection<f32, Cpu>>(&self, m: &M, steps: u64) -> Result<Pruner, SparsityError> {
        Pruner::new(m, &self.plan, self.s, steps, self.emb)
    }
}

fn emb(on: bool) -> Embeddings {
    if on {
        Embeddings::Pruned
    } else {
        Embeddings::Dense
    }
}

fn dense() -> Cfg {
    Cfg { plan: PruningPlan::Dense, s: 0.0, emb: Embeddings::Dense }
}

fn gmp(s: f64, start: u64, end: u64, freq: u64, e: bool) -> Cfg {
    Cfg { plan: PruningPlan::Gmp { shape: ScheduleShape::CUBIC, start, end, update_every: freq }, s, emb: emb(e) }
}

fn one_shot_nm(n: usize, m: usize, e: bool) -> Cfg {
    let s = 1.0 - n as f64 / m as f64;
    Cfg {
        plan: PruningPlan::NM { shape: ScheduleShape::CUBIC, n, m, gradual: false, start: 0, end: 1, update_every: 1 },
        s,
        emb: emb(e),
    }
}

#[test]
fn visitor_sees_contract_paths_and_roles() {
    let m = model(0);
    let masks = Masks::for_model(&m, false);
    let prunable: Vec<&str> =
        masks.params.iter().filter(|p| p.role == ParamRole::Prunable).map(|p| p.path.as_str()).collect();
    assert_eq!(prunable, PRUNABLE);
    let emb: Vec<&str> =
        masks.params.iter().filter(|p| p.role == ParamRole::Embedding).map(|p| p.path.as_str()).collect();
    assert_eq!(emb, ["embed.weight", "head.weight"]);
    assert_eq!(masks.get("blocks.0.mlp.fc1.weight").unwrap().shape, vec![H, D]);
    assert_eq!(masks.get("blocks.1.norm.gamma").unwrap().role, ParamRole::Dense);
    assert_eq!(masks.get("pos").unwrap().role, ParamRole::Matrix);
    let pr = dense().build(&m, 10).unwrap();
    let st = pr.stats(&m);
    assert_eq!(st.total_params, m.num_trainable_params());
    assert_eq!(st.prunable_params, 2 * (2 * D * D + 2 * D * H));
    assert_eq!(st.n_nonzero, st.prunable_params);
    assert_eq!(st.embedding_params, 50 * D + 10 * D);
}

/// Runs a simulated GMP run and checks, after every step, every pruned layer's measured sparsity
/// (zeros in the weights) against the schedule, to one weight.
fn run_gmp_and_check(freq: u64, emb: bool) {
    let (s, start, end, steps) = (0.8, 5, 35, 45);
    let cfg = gmp(s, start, end, freq, emb);
    let sched = Schedule::new(s, start, end, freq, steps).unwrap();
    let mut m = model(1);
    let mut pr = cfg.build(&m, steps).unwrap();
    pr.apply(&mut m);
    let mut rng = Perturb(StdRng::seed_from_u64(2));
    for step in 0..steps {
        perturb(&mut m, &mut rng);
        let old_masks = pr.masks().clone();
        let before = dump(&m);
        let changed = pr.on_step(&mut m, step).unwrap();
        let counts = |ms: &Masks| ms.params.iter().map(ParamMask::kept).collect::<Vec<_>>();
        if changed {
            assert!(sched.is_update_step(step), "masks changed off an update step ({step})");
        }
        if counts(&old_masks) != counts(pr.masks()) {
            assert!(changed && sched.is_update_step(step), "step {step}");
        }
        if !sched.is_update_step(step) {
            assert_eq!(&old_masks, pr.masks());
        }
        // pruned weights are never regrown, although `perturb` moved them
        for (a, b) in old_masks.params.iter().zip(&pr.masks().params) {
            if let (Some(a), Some(b)) = (&a.mask, &b.mask) {
                assert!(
                    (0..a.len()).all(|i| a.get(i) || !b.get(i)),
                    "{} regrew a weight at step {step}",
                    b_path(&old_masks, a)
                );
            }
        }
        let target = sched.effective_sparsity(step);
        assert_eq!(pr.current_sparsity(), target);
        if freq == 1 {
            assert_eq!(target, if step >= start { sched.sparsity_at(step) } else { 0.0 });
        }
        let after = dump(&m);
        for ((path, w), (_, w0)) in after.iter().zip(&before) {
            let zeros = w.iter().filter(|x| **x == 0.0).count() as f64;
            let size = w.len() as f64;
            let role = role_of(path, &pr.masks().get(path).unwrap().shape);
            match role {
                ParamRole::Prunable => {
                    assert!(
                        (zeros - size * target).abs() <= 1.0,
                        "{path} step {step}: {zeros} zeros of {size}, schedule {target}"
                    );
                    assert!((pr.masks().get(path).unwrap().sparsity() - target).abs() * size <= 1.0);
                }
                ParamRole::Embedding if emb => {
                    let e = embedding_sparsity(target);
                    assert!((zeros - size * e).abs() <= 1.0, "{path} step {step}: {zeros} vs {}", size * e);
                }
                _ => assert_eq!(w, w0, "{path} must not be touched"),
            }
            // the kept weights are exactly the ones that were there (pruning only zeroes)
            for (a, b) in w.iter().zip(w0) {
                assert!(*a == 0.0 || a == b);
            }
        }
    }
    let st = pr.stats(&m);
    assert!((st.sparsity - s).abs() * st.prunable_params as f64 <= 8.0);
    for l in st.layers.iter().filter(|l| l.role == ParamRole::Prunable) {
        assert_eq!(l.kept, kept_count(l.size, s));
        assert_eq!(l.zeros_in_weights, l.size - l.kept);
        assert_eq!(l.target, s);
    }
    assert_eq!(st.n_nonzero, st.layers.iter().filter(|l| l.role == ParamRole::Prunable).map(|l| l.kept).sum::<usize>());
}

#[test]
fn gmp_every_step_matches_schedule() {
    run_gmp_and_check(1, false);
}

#[test]
fn gmp_with_update_freq_and_embeddings() {
    run_gmp_and_check(4, true);
}

#[test]
fn masks_follow_magnitude_top_k_of_current_weights() {
    let mut m = model(3);
    let cfg = gmp(0.5, 0, 1, 1, false);
    let before = dump(&m);
    let mut pr = cfg.build(&m, 1).unwrap();
    assert!(pr.on_step(&mut m, 0).unwrap());
    for (path, w) in &before {
        if let Some(ParamMask { role: ParamRole::Prunable, mask: Some(mask), .. }) = pr.masks().get(path) {
            assert_eq!(mask, &magnitude_mask(path, w, 0.5).unwrap(), "{path}");
        }
    }
}

fn check_exact_nm(m: &Model, n: usize, g: usize) {
    for (path, w) in dump(m) {
        if PRUNABLE.contains(&path.as_str()) {
            for (i, grp) in w.chunks(g).enumerate() {
                assert_eq!(grp.iter().filter(|x| **x != 0.0).count(), n, "{path} group {i}");
            }
        }
    }
}

#[test]
fn gradual_nm_run_ends_exactly_nm() {
    for (n, mm) in [(2usize, 4usize), (1, 8), (3, 4)] {
        let plan = PruningPlan::NM {
            shape: ScheduleShape::CUBIC,
            n,
            m: mm,
            gradual: true,
            start: 2,
            end: 20,
            update_every: 3,
        };
        let mut m = model(4);
        let mut pr = Pruner::new(&m, &plan, 1.0 - n as f64 / mm as f64, 25, Embeddings::Dense).unwrap();
        let mut rng = Perturb(StdRng::seed_from_u64(5));
        for step in 0..25 {
            perturb(&mut m, &mut rng);
            pr.on_step(&mut m, step).unwrap();
            if step >= 19 {
                check_exact_nm(&m, n, mm);
            }
        }
        let st = pr.stats(&m);
        assert!((st.sparsity - (1.0 - n as f64 / mm as f64)).abs() < 1e-12);
    }
}

#[test]
fn one_shot_nm_from_the_start() {
    let mut m = model(6);
    let mut pr = one_shot_nm(2, 8, true).build(&m, 10).unwrap();
    pr.apply(&mut m);
    check_exact_nm(&m, 2, 8);
    let mut rng = Perturb(StdRng::seed_from_u64(7));
    for step in 0..10 {
        perturb(&mut m, &mut rng);
        assert!(!pr.on_step(&mut m, step).unwrap());
        check_exact_nm(&m, 2, 8);
    }
    let e = pr.masks().get("embed.weight").unwrap();
    assert!((e.sparsity() - embedding_sparsity(0.75)).abs() * e.numel() as f64 <= 1.0);
}

#[test]
fn dense_and_unconfigured_embeddings_are_never_touched() {
    let mut m = model(8);
    let before = dump(&m);
    let mut pr = dense().build(&m, 5).unwrap();
    for step in 0..5 {
        assert!(!pr.on_step(&mut m, step).unwrap());
    }
    assert_eq!(dump(&m), before);
    let mut pr = gmp(0.9, 0, 2, 1, false).build(&m, 3).unwrap();
    for step in 0..3 {
        pr.on_step(&mut m, step).unwrap();
    }
    for ((p, w), (_, w0)) in dump(&m).iter().zip(&before) {
        if !PRUNABLE.contains(&p.as_str()) {
            assert_eq!(w, w0, "{p}");
        }
    }
}

#[test]
fn zero_pruned_masks_optimizer_buffers_and_gradients() {
    let mut m = model(9);
    let mut pr = gmp(0.5, 0, 1, 1, false).build(&m, 1).unwrap();
    pr.on_step(&mut m, 0).unwrap();
    let p = "blocks.0.mlp.fc2.weight";
    let mut moment = vec![1.0f32; D * H];
    pr.zero_pruned(p, &mut moment).unwrap();
    assert_eq!(moment.iter().filter(|x| **x == 0.0).count(), D * H / 2);
    let mask = pr.masks().get(p).unwrap().mask.clone().unwrap();
    for (i, v) in moment.iter().enumerate() {
        assert_eq!(*v != 0.0, mask.get(i));
    }
    // never-pruned parameter: untouched
    let mut b = vec![1.0f32; D];
    pr.zero_pruned("blocks.0.mlp.fc2.bias", &mut b).unwrap();
    assert!(b.iter().all(|x| *x == 1.0));
    assert_eq!(
        pr.zero_pruned(p, &mut [0.0; 3]),
        Err(SparsityError::LengthMismatch { path: p.into(), expected: D * H, got: 3 })
    );
    assert!(matches!(pr.zero_pruned("nope.weight", &mut b), Err(SparsityError::UnknownParam { .. })));

    // dfdx gradients: the gradient of a pruned weight becomes exactly zero
    let mut grads = m.alloc_grads();
    let x: Tensor<Rank1<D>, f32, Cpu> = m.head.weight.device().sample_normal();
    let y = m.blocks.modules[0].mlp.fc1.forward(x.trace(grads));
    grads = y.square().sum().backward();
    pr.mask_gradients(&m, &mut grads);
    let g = grads.get(&m.blocks.modules[0].mlp.fc1.weight).as_vec();
    let mask = pr.masks().get("blocks.0.mlp.fc1.weight").unwrap().mask.clone().unwrap();
    assert!(g.iter().enumerate().filter(|(i, _)| !mask.get(*i)).all(|(_, v)| *v == 0.0));
    assert!(g.iter().enumerate().filter(|(i, _)| mask.get(*i)).any(|(_, v)| *v != 0.0));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let m = model(10);
    let e = Pruner::new(
        &m,
        &PruningPlan::NM { shape: ScheduleShape::CUBIC, n: 2, m: 3, gradual: false, start: 0, end: 1, update_every: 1 },
        1.0 / 3.0,
        5,
        Embeddings::Dense,
    )
    .unwrap_err();
    assert_eq!(e, SparsityError::NmWidth { layer: "blocks.0.attn.q.weight".into(), width: D, m: 3 });
    let e = Pruner::new(
        &m,
        &PruningPlan::NM { shape: ScheduleShape::CUBIC, n: 2, m: 2, gradual: false, start: 0, end: 1, update_every: 1 },
        0.0,
        5,
        Embeddings::Dense,
    )
    .unwrap_err();
    assert_eq!(e, SparsityError::InvalidNm { n: 2, m: 2 });
    assert!(matches!(gmp(1.0, 0, 4, 1, false).build(&m, 5), Err(SparsityError::InvalidSparsity { .. })));
    assert!(matches!(gmp(0.5, 4, 4, 1, false).build(&m, 5), Err(SparsityError::ScheduleOrder { .. })));
    assert!(matches!(gmp(0.5, 0, 6, 1, false).build(&m, 5), Err(SparsityError::ScheduleOrder { .. })));
    let anon = Anon::<f32, Cpu>::build(&Cpu::default());
    let e = gmp(0.5, 0, 4, 1, false).build(&anon, 5).unwrap_err();
    assert!(matches!(&e, SparsityError::NoPrunable { paths } if paths.contains("lin.weight")), "{e}");
    assert!(dense().build(&anon, 5).is_ok());
    let dup = Dup::<f32, Cpu>::build(&Cpu::default());
    let e = gmp(0.5, 0, 4, 1, false).build(&dup, 5).unwrap_err();
    assert_eq!(e, SparsityError::DuplicatePath { path: "attn.weight".into() });
}

#[test]
fn checkpointed_pruner_resumes_to_the_same_numbers() {
    let cfg = gmp(0.75, 2, 14, 3, true);
    let steps = 20;
    let run = |split: Option<u64>| {
        let mut m = model(11);
        let mut pr = cfg.build(&m, steps).unwrap();
        let mut rng = Perturb(StdRng::seed_from_u64(12));
        for step in 0..steps {
            if Some(step) == split {
                // checkpoint through JSON, then resume
                let saved: Pruner = serde_json::from_str(&serde_json::to_string(&pr).unwrap()).unwrap();
                pr.resume(&m, saved).unwrap();
            }
            perturb(&mut m, &mut rng);
            pr.on_step(&mut m, step).unwrap();
        }
        (dump(&m), pr)
    };
    let (a, pa) = run(None);
    let (b, pb) = run(Some(7));
    assert_eq!(a, b);
    assert_eq!(pa, pb);
    // masks round-trip through ron too
    let masks = pa.masks().clone();
    assert_eq!(ron::from_str::<Masks>(&ron::to_string(&masks).unwrap()).unwrap(), masks);
    // a checkpoint for another config or model is refused
    let other = gmp(0.5, 2, 14, 3, true).build(&model(0), steps).unwrap();
    assert!(matches!(other.clone().resume(&model(0), pa.clone()), Err(SparsityError::StateMismatch { .. })));
    let anon = Anon::<f32, Cpu>::build(&Cpu::default());
    assert!(matches!(cfg.build(&model(0), steps).unwrap().resume(&anon, pa), Err(SparsityError::StateMismatch { .. })));
}

#[test]
fn from_dense_prunes_loaded_weights_over_a_short_run() {
    // The pruner runs the sparse phase of a from-dense point on the weights the dense phase
    // left (the runner trains them first): here "loaded" weights are perturbed ones.
    let plan =
        PruningPlan::FromDense { shape: ScheduleShape::CUBIC, dense_steps: 3, start: 0, end: 5, update_every: 2 };
    let mut m = model(13);
    let mut rng = Perturb(StdRng::seed_from_u64(14));
    for _ in 0..3 {
        perturb(&mut m, &mut rng);
    }
    let loaded = dump(&m);
    let mut pr = Pruner::new(&m, &plan, 0.5, 10, Embeddings::Dense).unwrap();
    let schedule = *pr.schedule().expect("from-dense is gradual");
    assert_eq!((schedule.t_start(), schedule.t_end()), (0, 5));
    // first update ranks the loaded weights
    pr.on_step(&mut m, 0).unwrap();
    let s0 = schedule.sparsity_at(0);
    for (p, w) in &loaded {
        if PRUNABLE.contains(&p.as_str()) {
            let want = magnitude_mask(p, w, s0).unwrap();
            assert_eq!(pr.masks().get(p).unwrap().mask.as_ref(), Some(&want));
        }
    }
    for step in 1..10 {
        perturb(&mut m, &mut rng);
        pr.on_step(&mut m, step).unwrap();
    }
    assert!((pr.stats(&m).sparsity - 0.5).abs() < 1e-9);
}

/// The sparsity every shape should have after step `t` (masks updated every step), written out
/// independently of the library: dense before `start`, the shape's formula at
/// p = (t + 1 − start)/(end − start) during the ramp, S after.
fn closed_form(shape: ScheduleShape, s: f64, start: u64, end: u64, t: u64) -> f64 {
    if t < start {
        return 0.0;
    }
    let p = ((t + 1 - start) as f64 / (end - start) as f64).min(1.0);
    match shape {
        ScheduleShape::Polynomial(k) => s * (1.0 - (1.0 - p).powf(k)),
        ScheduleShape::Linear => s * p,
        ScheduleShape::Geometric => 1.0 - (1.0 - s).powf(p),
        ScheduleShape::OneShot => s,
    }
}

/// Every schedule shape follows its closed form at every step, to one weight per layer, and
/// the pruner's N̄ is the mean of the non-zero counts each step trained with (counted here from
/// the weights) and close to the shape's closed-form mean density.
#[test]
fn every_schedule_shape_follows_its_closed_form_and_averages_its_counts() {
    let (s, steps) = (0.75, 200u64);
    for shape in [
        ScheduleShape::CUBIC,
        ScheduleShape::Polynomial(2.0),
        ScheduleShape::Linear,
        ScheduleShape::Geometric,
        ScheduleShape::OneShot,
    ] {
        let (start, end) = if shape == ScheduleShape::OneShot { (80, 81) } else { (50, 150) };
        let plan = PruningPlan::Gmp { shape, start, end, update_every: 1 };
        let mut m = model(3);
        let mut pr = Pruner::new(&m, &plan, s, steps, Embeddings::Dense).unwrap();
        pr.apply(&mut m);
        let mut rng = Perturb(StdRng::seed_from_u64(4));
        let mut nonzero_sum = 0u64;
        for step in 0..steps {
            perturb(&mut m, &mut rng);
            // the count this step trains with: the masks as they are before its update
            let trained_with: u64 = dump(&m)
                .iter()
                .filter(|(p, _)| PRUNABLE.contains(&p.as_str()))
                .map(|(p, w)| {
                    w.len() as u64
                        - pr.masks().get(p).unwrap().mask.as_ref().map_or(0, |b| b.len() - b.count_ones()) as u64
                })
                .sum();
            nonzero_sum += trained_with;
            pr.on_step(&mut m, step).unwrap();
            let want = closed_form(shape, s, start, end, step);
            for (path, w) in dump(&m).iter().filter(|(p, _)| PRUNABLE.contains(&p.as_str())) {
                let zeros = w.iter().filter(|x| **x == 0.0).count() as f64;
                assert!(
                    (zeros - w.len() as f64 * want).abs() <= 1.0,
                    "{shape:?} {path} step {step}: {zeros} zeros of {}, closed form {want}",
                    w.len()
                );
            }
        }
        let avg = pr.avg_nonzero().expect("kept from the first step");
        assert_eq!(avg, nonzero_sum as f64 / steps as f64, "{shape:?}: N̄ is the mean of the counts");
        let dense: f64 = pr.stats(&m).prunable_params as f64;
        let closed = plan.mean_density(s, steps);
        assert!((avg / dense - closed).abs() < 0.01, "{shape:?}: mean density {} vs closed form {closed}", avg / dense);
        if shape.is_cubic() {
            // the paper's 25 %–75 % cubic schedule: 1 − 0.625·S
            assert!((avg / dense - (1.0 - 0.625 * s)).abs() < 0.01);
        }
    }
}

/// N̄ survives a checkpoint round trip bit for bit, so a resumed run records the same N̄.
#[test]
fn avg_nonzero_resumes_from_a_checkpoint() {
    let plan = PruningPlan::Gmp { shape: ScheduleShape::Geometric, start: 10, end: 30, update_every: 5 };
    let (s, steps) = (0.5, 40u64);
    let run = |stop: Option<u64>| {
        let mut m = model(5);
        let mut pr = Pruner::new(&m, &plan, s, steps, Embeddings::Dense).unwrap();
        pr.apply(&mut m);
        for step in 0..steps {
            if Some(step) == stop {
                let saved: Pruner = serde_json::from_str(&serde_json::to_string(&pr).unwrap()).unwrap();
                let mut fresh = Pruner::new(&m, &plan, s, steps, Embeddings::Dense).unwrap();
                fresh.resume(&m, saved).unwrap();
                pr = fresh;
            }
            pr.on_step(&mut m, step).unwrap();
        }
        pr.avg_nonzero().unwrap()
    };
    assert_eq!(run(None).to_bits(), run(Some(17)).to_bits());
    // an old checkpoint (no sum kept) gives no N̄ rather than a wrong one
    let m = model(5);
    let pr = Pruner::new(&m, &plan, s, steps, Embeddings::Dense).unwrap();
    let mut v = serde_json::to_value(&pr).unwrap();
    v.as_object_mut().unwrap().remove("nonzero_sum");
    let old: Pruner = serde_json::from_value(v).unwrap();
    assert_eq!(old.avg_nonzero(), None);
}
