//! `sparse-scaling check <exp.ron>`: validates an experiment file and lists its expanded
//! points (index, hash, size, sparsity, method, steps, seed, planned N and D), and says for
//! each model shape whether it is compiled into this binary, in an already built on-demand
//! runner (`crate::runner::build`), or will be built by the first `run`. Checking needs no
//! model code, so it never builds; `--no-build` makes it fail where a `run` would build.

use std::path::PathBuf;

use super::output::{print, println};
use crate::experiment::{ExperimentFile, Point, ShapeKey};
use crate::runner::build::{self, BuildEnv, BuildError, ShapeStatus};
use crate::runner::registry::{self, SizeTable};

/// Arguments of `sparse-scaling check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file (.ron).
    pub experiment: PathBuf,
    /// Print the points as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Fail when a `run` would have to build a runner (a shape neither compiled into this
    /// binary nor in an already built runner).
    #[arg(long)]
    pub no_build: bool,
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

/// The model shapes of a file and where each stands (compiled in, in a built runner, or to
/// be built by the first `run`), as text.
pub fn shapes_table(statuses: &[(ShapeKey, ShapeStatus)]) -> String {
    let compiled = statuses.iter().filter(|(_, s)| *s == ShapeStatus::Compiled).count();
    let mut s = format!(
        "model shapes: {} ({compiled} compiled into this binary, {} in a runner built on demand)\n",
        statuses.len(),
        statuses.len() - compiled
    );
    for (key, status) in statuses {
        let line = match status {
            ShapeStatus::Compiled => "compiled into this binary".to_string(),
            ShapeStatus::Cached(binary) => format!("in the runner already built for this file: {}", binary.display()),
            ShapeStatus::ToBuild(folder) => format!(
                "not compiled in: the first `run` builds a runner with the file's {} shape(s), once, into {}",
                statuses.len(),
                folder.display()
            ),
            ShapeStatus::Unbuildable(why) => format!("not compiled in, and no runner can be built here: {why}"),
        };
        s.push_str(&format!("  {key}: {line}\n"));
    }
    s
}

/// Runs `sparse-scaling check` for a binary with the shapes of `T`.
pub fn run<T: SizeTable>(args: Args) -> super::CliResult {
    let file = ExperimentFile::load(&args.experiment)?;
    let points = file.expand()?;
    super::memory::check(&file, &points)?;
    if args.json {
        println(serde_json::to_string_pretty(&points)?)?;
    } else {
        println(format_args!("{}: experiment `{}` is valid", args.experiment.display(), file.experiment.name))?;
        if !file.experiment.description.is_empty() {
            println(&file.experiment.description)?;
        }
        print(points_table(&points))?;
    }
    if let Some(first) = points.first() {
        let data = crate::runner::streams::describe_data(first, &file.base_dir())?;
        if !args.json {
            println(format_args!("data: {data}"))?;
        }
    }
    let missing = registry::missing_in_file::<T>(&file, &points);
    if missing.is_empty() {
        if !args.json {
            println(format_args!("{} points; every model shape is compiled into this binary", points.len()))?;
        }
        return Ok(());
    }
    let statuses = build::shape_statuses::<T>(&BuildEnv::from_env(), &points);
    let needs_build = statuses.iter().find(|(_, s)| matches!(s, ShapeStatus::ToBuild(_) | ShapeStatus::Unbuildable(_)));
    if let (true, Some((_, status))) = (args.no_build, needs_build) {
        let cache = match status {
            ShapeStatus::ToBuild(folder) => folder.clone(),
            _ => BuildEnv::from_env().cache.unwrap_or_default(),
        };
        let first = Box::new(missing[0].clone());
        return Err(BuildError::NoBuild {
            first,
            missing: missing.len(),
            points: points.len(),
            keys: statuses.len(),
            cache,
        }
        .into());
    }
    if !args.json {
        print(shapes_table(&statuses))?;
        println(format_args!(
            "{} points; {} of them need shapes that are not compiled into this binary",
            points.len(),
            missing.len()
        ))?;
    }
    Ok(())
}
