//! The pruner on the project's real ViT and T5 (tiny widths): the naming contract agrees with
//! `params::role_of`, N and totals agree with `ModelInfo`, GMP and 2:4 runs prune exactly the
//! attention/MLP matrices and nothing else.

use sparse_scaling::dfdx::prelude::*;
use sparse_scaling::experiment::{PruningPlan, ScheduleShape};
use sparse_scaling::model::{SparseModel, T5Config, Vit, VitConfig, T5};
use sparse_scaling::params::{embedding_sparsity, role_of, ParamRole};
use sparse_scaling::sparsity::*;

type TinyVit = Vit<4, 6, 8, 16, 2, 3>;
type TinyT5 = T5<12, 8, 16, 2, 2, 2, 8>;

fn vit() -> TinyVit {
    let cfg =
        VitConfig { image_height: 4, image_width: 6, channels: 1, patch: 2, heads: 2, pooling: Default::default() };
    TinyVit::new(&Cpu::default(), cfg, 1).unwrap()
}
fn t5() -> TinyT5 {
    TinyT5::new(&Cpu::default(), T5Config { relative_max_distance: 6, z_loss: 0.0 }, 2).unwrap()
}

fn check_contract<M: SparseModel>(m: &M) {
    let masks = Masks::for_model(m, true);
    assert!(masks.duplicate_path().is_none());
    for p in &masks.params {
        assert_eq!(p.role, role_of(&p.path, &p.shape), "{}", p.path);
    }
    let info = m.info();
    let st = Pruner::new(m, &PruningPlan::Dense, 0.0, 10, Embeddings::Dense).unwrap().stats(m);
    assert_eq!(st.prunable_params, info.prunable_params);
    assert_eq!(st.embedding_params, info.embedding_params);
    assert_eq!(st.total_params, info.total_params);
}

fn run<M: SparseModel>(
    mut m: M,
    plan: &PruningPlan,
    s: f64,
    emb: Embeddings,
    steps: u64,
) -> (M, Pruner, Vec<(String, usize, usize)>) {
    let before = list_params(&m);
    let zeros_before = count_zeros(&m);
    let mut pr = Pruner::new(&m, plan, s, steps, emb).unwrap();
    pr.apply(&mut m);
    for step in 0..steps {
        pr.on_step(&mut m, step).unwrap();
    }
    assert_eq!(list_params(&m), before);
    (m, pr, zeros_before)
}

fn check_pruned<M: SparseModel>(
    m: &M,
    pr: &Pruner,
    zeros_before: &[(String, usize, usize)],
    s: f64,
    nm: Option<(usize, usize)>,
) {
    let st = pr.stats(m);
    for (z, z0) in count_zeros(m).into_iter().zip(zeros_before) {
        let (path, zeros, size) = z;
        let role = pr.masks().get(&path).unwrap().role;
        match role {
            ParamRole::Prunable => {
                assert_eq!(zeros, size - kept_count(size, s), "{path}");
                if let Some((n, g)) = nm {
                    let w = pr.masks().get(&path).unwrap().mask.clone().unwrap();
                    for grp in 0..size / g {
                        assert_eq!((0..g).filter(|j| w.get(grp * g + j)).count(), n, "{path}");
                    }
                }
            }
            ParamRole::Embedding if pr.embeddings() == Embeddings::Pruned => {
                assert_eq!(zeros, size - kept_count(size, embedding_sparsity(s)), "{path}")
            }
            _ => assert_eq!(zeros, z0.1, "{path} must not be pruned"),
        }
    }
    assert!((st.sparsity - s).abs() < 0.02, "{}", st.sparsity);
}

#[test]
fn vit_and_t5_follow_the_contract() {
    check_contract(&vit());
    check_contract(&t5());
}

#[test]
fn gmp_and_nm_on_vit() {
    let gmp = PruningPlan::Gmp { shape: ScheduleShape::CUBIC, start: 1, end: 6, update_every: 2 };
    let (m, pr, z0) = run(vit(), &gmp, 0.75, Embeddings::Dense, 8);
    check_pruned(&m, &pr, &z0, 0.75, None);
    let nm =
        PruningPlan::NM { shape: ScheduleShape::CUBIC, n: 2, m: 4, gradual: false, start: 0, end: 1, update_every: 1 };
    let (m, pr, z0) = run(vit(), &nm, 0.5, Embeddings::Dense, 2);
    check_pruned(&m, &pr, &z0, 0.5, Some((2, 4)));
}

#[test]
fn gradual_nm_on_t5_with_embeddings() {
    let nm =
        PruningPlan::NM { shape: ScheduleShape::CUBIC, n: 1, m: 4, gradual: true, start: 0, end: 3, update_every: 1 };
    let (m, pr, z0) = run(t5(), &nm, 0.75, Embeddings::Pruned, 6);
    check_pruned(&m, &pr, &z0, 0.75, Some((1, 4)));
    let e = pr.masks().get("tok_embed.weight").unwrap();
    assert_eq!(e.role, ParamRole::Embedding);
    assert_eq!(e.numel() - e.kept(), e.numel() - kept_count(e.numel(), embedding_sparsity(0.75)));
    let e = pr.masks().get("lm_head.weight").unwrap();
    assert_eq!(e.numel() - e.kept(), e.numel() - kept_count(e.numel(), embedding_sparsity(0.75)));
}
