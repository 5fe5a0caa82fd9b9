//! Does the synthetic data keep rewarding width and training length (issue 3, part 4)?
//! Trains the reference ViT (`VitRef`, 1×28×28, 4 blocks) or T5 (`T5Ref`, 4+4 layers) at
//! several widths and step counts, dense, on the synthetic streams of the data crate, and prints
//! the final validation loss of each run (one cosine schedule per run).
//!
//! `cargo run --example data_scaling -- vit STEPS,.. [WIDTHS,..]` (ViT widths 16, 32, 64)
//! `cargo run --example data_scaling -- t5 STEPS,.. [WIDTHS,..]` (T5 widths 16, 32, 64)
use sparse_scaling::data::{Stream, SyntheticImageConfig, SyntheticImages, SyntheticText, SyntheticTextConfig};
use sparse_scaling::dfdx::prelude::Cpu;
use sparse_scaling::experiment::At;
use sparse_scaling::model::{SparseModel, T5Config, T5Ref, VitConfig, VitRef};
use sparse_scaling::train::{train, AdamWConfig, Dense, LoopOptions, OptimizerConfig, TrainConfig};

type BoxErr = Box<dyn std::error::Error>;

fn run<M, S>(
    name: &str,
    width: usize,
    mut model: M,
    mut stream: S,
    steps: u64,
    batch: usize,
    n_val: usize,
) -> Result<(), BoxErr>
where
    M: SparseModel,
    M::Batch: sparse_scaling::train::DataUnits,
    S: Stream<Batch = M::Batch>,
{
    let val = stream.validation_set(n_val, 64)?;
    let cfg = TrainConfig {
        steps,
        batch_size: batch,
        optimizer: OptimizerConfig::AdamW(AdamWConfig {
            lr: 2e-3,
            warmup_steps: At::Fraction(0.05).resolve(steps),
            ..Default::default()
        }),
        grad_clip: Some(1.0),
        eval_every: steps,
        seed: 0,
    };
    let r = train(&mut model, &mut stream, &val, &cfg, &mut Dense, &LoopOptions::default())?;
    println!(
        "{name} width {width:>3} steps {steps:>5} batch {batch} params {:>8}: val loss {:.4} ({:.1} steps/s)",
        r.total_params, r.final_val_loss, r.steps_per_s
    );
    Ok(())
}

fn main() -> Result<(), BoxErr> {
    let args: Vec<String> = std::env::args().collect();
    let list = |i: usize, default: &str| -> Result<Vec<u64>, BoxErr> {
        let s = args.get(i).map(String::as_str).unwrap_or(default);
        Ok(s.split(',').map(|v| v.parse()).collect::<Result<_, _>>()?)
    };
    let family = args.get(1).map(String::as_str).unwrap_or("vit");
    let steps = list(2, "250,1000")?;
    let dev = Cpu::default();
    match family {
        "vit" => {
            let widths = list(3, "16,32,64")?;
            let s = || SyntheticImages::new(SyntheticImageConfig::default());
            let c = VitConfig::reference_cpu;
            for &t in &steps {
                for &w in &widths {
                    match w {
                        16 => run("vit", 16, VitRef::<16, 64>::new(&dev, c(), 0)?, s()?, t, 64, 1024)?,
                        32 => run("vit", 32, VitRef::<32, 128>::new(&dev, c(), 0)?, s()?, t, 64, 1024)?,
                        64 => run("vit", 64, VitRef::<64, 256>::new(&dev, c(), 0)?, s()?, t, 64, 1024)?,
                        other => return Err(format!("ViT width {other} not built in; use 16, 32, 64").into()),
                    }
                }
            }
        }
        "t5" => {
            let widths = list(3, "32,64")?;
            let s = || SyntheticText::new(SyntheticTextConfig::default());
            let c = T5Config::t5_1_1;
            for &t in &steps {
                for &w in &widths {
                    match w {
                        16 => run("t5", 16, T5Ref::<16, 40>::new(&dev, c(), 0)?, s()?, t, 32, 256)?,
                        32 => run("t5", 32, T5Ref::<32, 80>::new(&dev, c(), 0)?, s()?, t, 32, 256)?,
                        64 => run("t5", 64, T5Ref::<64, 160>::new(&dev, c(), 0)?, s()?, t, 32, 256)?,
                        other => return Err(format!("T5 width {other} not built in; use 16, 32, 64").into()),
                    }
                }
            }
        }
        other => return Err(format!("unknown family {other:?}; use vit or t5").into()),
    }
    Ok(())
}
