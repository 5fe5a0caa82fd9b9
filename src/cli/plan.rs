//! `sparse-scaling plan <exp.ron> [--results DIR] [--slurm out.sh]`: expands an experiment
//! into points and shows each point's status in a results directory (done, damaged — with the
//! record's path and what is wrong with it —, running, pending); with `--slurm` writes a Slurm job-array script whose task i runs point i.
//! Shapes not compiled into this binary are listed with their on-demand runner's state; with
//! `--slurm` that runner is built here first (unless `--no-build`), so that array tasks find it
//! built instead of each waiting on the same compilation.

use std::path::{Path, PathBuf};

use crate::experiment::ExperimentFile;
use crate::results::{RecordState, ResultsDir};
use crate::runner::build::{self, BuildEnv};
use crate::runner::registry::{self, SizeTable};
use crate::runner::slurm::{self, SlurmOptions};

use super::output::{print, println};

/// Arguments of `sparse-scaling plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file (.ron).
    pub experiment: PathBuf,
    /// Results directory (default: `results/<experiment name>`).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Write a Slurm job-array script here (task i runs point i against `--results`).
    #[arg(long)]
    pub slurm: Option<PathBuf>,
    /// Slurm job name (default: the experiment's name).
    #[arg(long)]
    pub job_name: Option<String>,
    /// Slurm `--cpus-per-task`.
    #[arg(long, default_value_t = 2)]
    pub cpus_per_task: usize,
    /// Slurm `--time`.
    #[arg(long, default_value = "04:00:00")]
    pub time: String,
    /// Slurm `--partition`.
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm `--mem`: memory per task (e.g. `8G`).
    #[arg(long)]
    pub mem: Option<String>,
    /// Slurm `--account`.
    #[arg(long)]
    pub account: Option<String>,
    /// A further `#SBATCH` option, as written (repeatable), e.g. `--sbatch=--qos=long`.
    #[arg(long = "sbatch", value_name = "OPTION", allow_hyphen_values = true)]
    pub sbatch: Vec<String>,
    /// A shell line each task runs first (repeatable), e.g. `--setup "module load gcc"`.
    #[arg(long, value_name = "LINE", allow_hyphen_values = true)]
    pub setup: Vec<String>,
    /// At most this many array tasks at once.
    #[arg(long)]
    pub max_parallel: Option<usize>,
    /// With `--slurm`: refuse, instead of building, a runner for shapes that are not compiled
    /// into this binary.
    #[arg(long)]
    pub no_build: bool,
}

/// The default results directory of an experiment: `results/<name>`.
pub fn default_results(name: &str) -> PathBuf {
    let safe: String =
        name.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    Path::new("results").join(safe)
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Runs `sparse-scaling plan` for a binary with the shapes of `T`.
pub fn run<T: SizeTable>(args: Args) -> super::CliResult {
    let file = ExperimentFile::load(&args.experiment)?;
    let points = file.expand()?;
    let results = args.results.clone().unwrap_or_else(|| default_results(&file.experiment.name));
    let missing = registry::missing_in_file::<T>(&file, &points);
    if let Some(out) = &args.slurm {
        if !missing.is_empty() {
            // tasks run `sparse-scaling run`, which finds this runner built
            build::prepare(&BuildEnv::from_env(), &file, &points, missing, args.no_build)?;
        }
        let binary =
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "sparse-scaling".into());
        let opts = SlurmOptions {
            job_name: args.job_name.clone().unwrap_or_else(|| file.experiment.name.clone()),
            cpus_per_task: args.cpus_per_task,
            time: args.time.clone(),
            partition: args.partition.clone(),
            mem: args.mem.clone(),
            account: args.account.clone(),
            max_parallel: args.max_parallel,
            extra_sbatch: args.sbatch.clone(),
            setup: args.setup.clone(),
            binary,
        };
        let text = slurm::script(&absolute(&args.experiment), &absolute(&results), points.len(), &opts)?;
        // Slurm opens each task's log before the script runs: its folder must exist now
        let logs = slurm::log_dir(&absolute(&results));
        std::fs::create_dir_all(&logs).map_err(|e| {
            format!(
                "cannot create the Slurm log folder {}: {e}\n  fix: choose a --results directory on storage that \
                 this machine and the compute nodes can write",
                logs.display()
            )
        })?;
        std::fs::write(out, text).map_err(|e| {
            format!("cannot write {}: {e}\n  fix: check that its directory exists and is writable", out.display())
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o755));
        }
        println(format_args!(
            "wrote {}: Slurm job array 0-{} ({} points) against {}\n  submit with: sbatch {}",
            out.display(),
            points.len().saturating_sub(1),
            points.len(),
            results.display(),
            out.display()
        ))?;
        return Ok(());
    }
    let store = if results.join("points").is_dir() { Some(ResultsDir::open(&results)?) } else { None };
    let claims = store.as_ref().map(|s| s.claims()).unwrap_or_default();
    print(super::check::points_table(&points))?;
    if !missing.is_empty() {
        print(super::check::shapes_table(&build::shape_statuses::<T>(&BuildEnv::from_env(), &points)))?;
    }
    let mut done = 0;
    let mut damaged = 0;
    let mut running = 0;
    for p in &points {
        let state = store.as_ref().map_or(RecordState::Missing, |s| s.check(&p.hash));
        match state {
            RecordState::Intact(_) => done += 1,
            RecordState::Damaged(damage) => {
                damaged += 1;
                let path = store.as_ref().map(|s| s.record_path(&p.hash)).unwrap_or_default();
                println(format_args!(
                    "point #{} {}: damaged record {}: {damage}; `run` moves it aside and re-trains the point",
                    p.index,
                    p.hash,
                    path.display()
                ))?;
            }
            RecordState::Missing if claims.iter().any(|c| c.0 == p.hash) => running += 1,
            RecordState::Missing => {}
        }
    }
    // the last line; a Slurm task reads it to know whether every point is done (runner/slurm.rs)
    println(format_args!(
        "{} points: {done} done, {damaged} damaged, {running} claimed by a runner, {} pending (results: {})",
        points.len(),
        points.len() - done - damaged - running,
        results.display()
    ))?;
    Ok(())
}
