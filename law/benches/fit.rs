//! Speed of fitting (issue 2, "Speed"): the authors' 25-start T5 procedure on their table
//! (docs/THEORY.md §2), and a 112-point fit on synthetic ViT-like data (raw residuals, δ = 0.01,
//! the size of the paper's ViT sweep). Compare with `fit_scipy.py`; see docs/PERFORMANCE.md.
//! And the bootstrap of the T5 fit (issue 10 part 6) with each way of refitting a resample:
//! warm over the distinct points (the default), warm over the repeated rows (the procedure
//! before it), and cold from all 25 starts.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sparse_scaling_law::compile::Tape;
use sparse_scaling_law::{fit, BootstrapRefit, CsvMapping, FitOptions, Law, Observations};

fn t5() -> Observations {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/t5-data.csv");
    Observations::from_csv_path(path, &CsvMapping::t5_paper()).expect("t5 table")
}

/// 112 synthetic ViT-like points (benches/data/README.md), mapped as `fit_scipy.py --kind vit`
/// maps them: N = 12·(12·768²)·scale·(1 − S)/1e6, D = total_examples/1e9.
fn vit_like() -> Observations {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/vit-like-112.csv");
    let mapping = CsvMapping::from_assignments(
        &["S=sparsity", "N=12*(12*768^2)*scale*(1-sparsity)/1e6", "D=total_examples/1e9"],
        "`val-loss`",
    )
    .expect("mapping");
    Observations::from_csv_path(path, &mapping).expect("vit-like table")
}

fn bench(c: &mut Criterion) {
    let law = Law::builtin("paper-normalised").expect("builtin");
    let obs = t5();
    let opts = FitOptions::t5_paper();
    let r = fit(&law, &obs, &opts).expect("fit");
    eprintln!("T5 25 starts: objective {:.6e}, converged {}, grad {:.1e}", r.objective, r.converged, r.grad_norm);
    c.bench_function("fit/t5_25_starts", |b| b.iter(|| fit(&law, black_box(&obs), &opts).expect("fit")));

    let vit = vit_like();
    let vopts = FitOptions::vit_paper();
    let r = fit(&law, &vit, &vopts).expect("fit");
    eprintln!("ViT-like 112 points: objective {:.6e}, converged {}", r.objective, r.converged);
    c.bench_function("fit/vit_like_112_points_25_starts", |b| {
        b.iter(|| fit(&law, black_box(&vit), &vopts).expect("fit"))
    });

    let one = FitOptions { starts: 1, ..FitOptions::t5_paper() };
    c.bench_function("fit/t5_1_start", |b| b.iter(|| fit(&law, black_box(&obs), &one).expect("fit")));

    // One value + full gradient over the 48 points (forward + reverse sweep).
    let tape = Tape::for_law(&law);
    let cols: Vec<(usize, &[f64])> = (0..3).map(|k| (k, obs.columns[k].as_slice())).collect();
    let bound = tape.bind(&cols, obs.len()).expect("bind");
    let mut ws = bound.workspace();
    let seed = vec![1.0; obs.len()];
    let mut g = vec![0.0; 7];
    let p = [0.43624, 1.34497, 1.69517, 0.23168, 0.41761, 0.38464, 0.83037];
    c.bench_function("tape/t5_48_points_value_and_gradient", |b| {
        b.iter(|| {
            bound.forward_scalars(black_box(&p), &mut ws);
            bound.backward(&mut ws, &seed);
            bound.input_adjoint_sums(&ws, &mut g);
            g[0]
        })
    });
}

/// The T5 fit with a bootstrap: each time includes the 25-start fit itself (`fit/t5_25_starts`).
fn bootstrap(c: &mut Criterion) {
    let law = Law::builtin("paper-normalised").expect("builtin");
    let obs = t5();
    for (name, refit, reps) in [
        ("bootstrap/t5_2000_warm", BootstrapRefit::Warm, 2000),
        ("bootstrap/t5_2000_rows", BootstrapRefit::Rows, 2000),
        ("bootstrap/t5_20_cold", BootstrapRefit::Cold, 20),
    ] {
        let opts = FitOptions { bootstrap: reps, bootstrap_refit: refit, ..FitOptions::t5_paper() };
        c.bench_function(name, |b| b.iter(|| fit(&law, black_box(&obs), &opts).expect("fit")));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_group! {
    name = bootstrap_benches;
    config = Criterion::default().sample_size(10);
    targets = bootstrap
}
criterion_main!(benches, bootstrap_benches);
