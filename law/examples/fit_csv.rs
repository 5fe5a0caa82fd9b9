//! Fits the paper's normalised law to a CSV and prints every start.
//!
//! `cargo run -p sparse-scaling-law --release --example fit_csv -- FILE t5|vit`

use sparse_scaling_law::{fit, CsvMapping, FitOptions, Law, Observations};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (path, kind) = match args.as_slice() {
        [_, p, k] => (p.clone(), k.clone()),
        _ => return Err("usage: fit_csv FILE t5|vit".into()),
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
    let t = std::time::Instant::now();
    let r = fit(&law, &obs, &opts)?;
    let wall = t.elapsed().as_secs_f64();
    for s in &r.starts {
        println!("start: objective {:.10e} grad {:.2e} {:?} iters {} evals {}", s.objective, s.grad_norm, s.stop, s.iterations, s.evaluations);
    }
    println!("best: objective {:.10e} grad {:.2e} converged {} params {:?}", r.objective, r.grad_norm, r.converged, r.params);
    println!("wall {wall:.4} s");
    Ok(())
}
