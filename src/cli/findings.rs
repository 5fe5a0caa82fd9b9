//! `sparse-scaling findings <results dir>...`: direct comparisons of the final losses in the
//! records of one or more results directories, without a fit (see [`crate::report::findings`]):
//! the loss table, equal-N pairs at equal D and equal C, m(S) read off the records, n:m against
//! GMP, schedule shapes against N̄, seed spread. Markdown on stdout, or JSON with `--json`.
//! Damaged records stop it, each named with what is wrong with it, unless `--skip-damaged`.

use std::path::PathBuf;

use super::output::{print, println};
use crate::report::findings::Findings;
use crate::results::{skipped_note, ResultsDir};

/// Arguments of `sparse-scaling findings`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The results directories (of `sparse-scaling run`); their records are read together.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Print the findings as JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
    /// Leave out damaged records (truncated, garbage, wrong hash, …) instead of stopping, and
    /// say how many were skipped and which.
    #[arg(long)]
    pub skip_damaged: bool,
}

/// Runs `sparse-scaling findings`.
pub fn run(args: Args) -> super::CliResult {
    let mut records = Vec::new();
    for dir in &args.results {
        if !dir.join("points").is_dir() {
            return Err(format!(
                "{} is not a results directory (it has no points/ folder)\n  fix: give the directory passed to `run --results` (default results/<experiment name>)",
                dir.display()
            )
            .into());
        }
        let scan = ResultsDir::open_existing(dir)?.scan()?;
        if args.skip_damaged && !scan.damaged.is_empty() {
            super::files::note(&skipped_note(&scan.damaged));
        }
        records.extend(scan.intact(dir, args.skip_damaged)?);
    }
    let sources: Vec<String> = args.results.iter().map(|d| d.display().to_string()).collect();
    if records.is_empty() {
        return Err(format!(
            "no records under {}: nothing to compare\n  fix: run `sparse-scaling run` first, or give the directory it wrote",
            sources.join(", ")
        )
        .into());
    }
    let findings = Findings::new(sources, &records);
    if args.json {
        println(serde_json::to_string_pretty(&findings)?)?;
    } else {
        print(findings.markdown())?;
    }
    Ok(())
}
