//! Fits the paper's normalised law to a CSV and prints every start.
//!
//! `cargo run -p sparse-scaling-law --release --example fit_csv -- FILE t5|vit [REPEATS]`
//!
//! With REPEATS, fits that many times and prints the median wall time of one fit (the
//! side-by-side with `fit_scipy.py` in docs/PERFORMANCE.md).

use sparse_scaling_law::{fit, CsvMapping, FitOptions, Law, Observations};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (path, kind, repeats) = match args.as_slice() {
        [_, p, k] => (p.clone(), k.clone(), 1),
        [_, p, k, r] => (p.clone(), k.clone(), r.parse::<usize>()?.max(1)),
        _ => return Err("usage: fit_csv FILE t5|vit [REPEATS]".into()),
    };
    let (mapping, opts) = if kind == "t5" {
        (CsvMapping::t5_paper(), FitOptions::t5_paper())
    } else {
        let m = CsvMapping::from_assignments(
            &["S=sparsity", "N=12*(12*768^2)*scale*(1-sparsity)/1e6", "D=total_examples/1e9"],
            "`val-loss`",
        )?;
        (m, FitOptions::vit_paper())
    };
    let obs = Observations::from_csv_path(&path, &mapping)?;
    let law = Law::builtin("paper-normalised")?;
    let r = fit(&law, &obs, &opts)?;
    let mut walls = Vec::new();
    for _ in 0..repeats {
        let t = std::time::Instant::now();
        let again = fit(&law, &obs, &opts)?;
        walls.push(t.elapsed().as_secs_f64());
        assert_eq!(again.params, r.params, "same input and seed, same numbers");
    }
    walls.sort_by(f64::total_cmp);
    if repeats == 1 {
        for s in &r.starts {
            println!(
                "start: objective {:.10e} grad {:.2e} {:?} iters {} evals {}",
                s.objective, s.grad_norm, s.stop, s.iterations, s.evaluations
            );
        }
    }
    println!(
        "best: objective {:.10e} grad {:.2e} converged {} params {:?}",
        r.objective, r.grad_norm, r.converged, r.params
    );
    println!("wall of one fit: median {:.4} s over {repeats} fits", walls[walls.len() / 2]);
    Ok(())
}
