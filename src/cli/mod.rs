//! The `sparse-scaling` command line: one file per subcommand, each with its clap `Args`
//! struct and a `run` function; [`main`] parses and dispatches, generic over the size table
//! (the CLI's built-in one, or an on-demand runner's). What `fit` and `analyse` share is
//! in modules of its own: [`CliError`], their common arguments ([`fit_args`]), their files
//! ([`files`]) and the fitting itself ([`fitting`]).

pub mod analyse;
pub mod check;
pub mod compare;
mod entry;
pub mod findings;
pub mod fit;
pub mod plan;
pub mod report;
pub mod run;

mod error;
pub mod files;
pub mod fit_args;
pub mod fitting;
pub mod memory;
pub mod output;

pub use entry::main;
pub use error::CliError;

/// What every subcommand returns; `main` prints the error with its chain of causes
/// ([`error_chain`]) and exits with status 2.
pub type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync + 'static>>;

pub use crate::error_chain;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The error `std` gives for reading `path` (the OS's words for it).
    fn os_error(path: &std::path::Path) -> String {
        std::fs::read(path).expect_err("the path must not be readable").to_string()
    }

    #[test]
    fn a_missing_experiment_file_shows_the_os_error_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.ron");
        let e = check::run::<crate::runner::registry::Builtin>(check::Args {
            experiment: missing.clone(),
            json: false,
            no_build: false,
        })
        .unwrap_err();
        let text = error_chain(&*e);
        let os = os_error(&missing);
        assert_eq!(text.matches(&os).count(), 1, "{text}");
        assert!(text.starts_with("cannot read experiment file") && text.contains("missing.ron"), "{text}");
    }

    #[test]
    fn fit_on_an_unusable_results_directory_shows_the_os_error_once() {
        // `points` is a file, so the results store cannot create its `points/` folder.
        let dir = tempfile::tempdir().unwrap();
        let points = dir.path().join("points");
        std::fs::write(&points, "not a folder").unwrap();
        let os = std::fs::create_dir_all(&points).expect_err("points is a file").to_string();
        let args = fit::Args {
            file: PathBuf::from(dir.path()),
            data: Default::default(),
            fit: Default::default(),
            validation: Default::default(),
            json: None,
            plot: None,
            points: false,
        };
        let e = fit::run(args).unwrap_err();
        let text = error_chain(&*e);
        assert_eq!(text.matches(&os).count(), 1, "{text}");
        assert!(text.contains("results store: cannot create") && text.contains("\n  caused by: "), "{text}");
    }
}
