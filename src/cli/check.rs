//! `sparse-scaling check <exp.ron>`: validates an experiment file and lists its expanded
//! points (index, hash, size, sparsity, method, steps, seed, planned N and D), and checks that
//! every shape is compiled into this binary.

use std::path::PathBuf;

use crate::experiment::{ExperimentFile, Point};
use crate::runner::registry;

/// Arguments of `sparse-scaling check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file (.ron).
    pub experiment: PathBuf,
    /// Print the points as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The points of an experiment as a text table.
pub fn points_table(points: &[Point]) -> String {
    let mut s = format!(
        "{:>5}  {:<16}  {:<7} {:>5} {:>5} {:>5} {:>5}  {:>7}  {:<16} {:>8} {:>5}  {:>10}  {:>10}\n",
        "point", "hash", "family", "width", "mlp", "depth", "heads", "S", "pruning", "steps", "seed", "N (plan)", "D"
    );
    for p in points {
        let sp = &p.spec;
        s.push_str(&format!(
            "{:>5}  {:<16}  {:<7} {:>5} {:>5} {:>5} {:>5}  {:>7.4}  {:<16} {:>8} {:>5}  {:>10.4e}  {:>10.4e}\n",
            p.index,
            p.hash,
            sp.family.name(),
            sp.dims.width,
            sp.dims.mlp_width,
            sp.dims.depth,
            sp.dims.heads,
            sp.sparsity,
            sp.pruning.label(),
            sp.steps,
            sp.seed,
            sp.nonzero_params(),
            sp.data_seen(),
        ));
    }
    s
}

/// Runs `sparse-scaling check`.
pub fn run(args: Args) -> super::CliResult {
    let file = ExperimentFile::load(&args.experiment)?;
    let points = file.expand()?;
    super::memory::check(&file, &points)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&points)?);
    } else {
        println!("{}: experiment `{}` is valid", args.experiment.display(), file.experiment.name);
        if !file.experiment.description.is_empty() {
            println!("{}", file.experiment.description);
        }
        print!("{}", points_table(&points));
    }
    let unsupported: Vec<_> = points.iter().filter_map(|p| registry::check(p).err()).collect();
    if let Some(first) = unsupported.first() {
        return Err(format!(
            "{} of {} points have model shapes that are not compiled in; the first:\n{first}",
            unsupported.len(),
            points.len()
        )
        .into());
    }
    if !args.json {
        println!("{} points; every model shape is compiled into this binary", points.len());
    }
    Ok(())
}
