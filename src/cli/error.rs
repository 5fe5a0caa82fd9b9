//! The error of the `fit` and `analyse` subcommands: each variant's message names what went
//! wrong and how to fix it; `main` prints it and its causes.

use std::path::PathBuf;

use super::output::OutputError;
use crate::results::ResultsError;
use sparse_scaling_law::plot::PlotError;
use sparse_scaling_law::validate::ValidateError;
use sparse_scaling_law::{DataError, FitError, LawError};

/// Errors of `fit` and `analyse` on the command line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `--law` is not a built-in name or a valid formula.
    #[error("--law: {0}")]
    Law(LawError),
    /// The data could not be read or is invalid.
    #[error(transparent)]
    Data(DataError),
    /// The fit failed.
    #[error("fit failed: {0}")]
    Fit(FitError),
    /// A plot could not be drawn or written.
    #[error(transparent)]
    Plot(PlotError),
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong and how to fix it.
        message: String,
    },
    /// An argument is invalid.
    #[error("{0}")]
    Usage(String),
    /// A held-out validation or law comparison failed.
    #[error(transparent)]
    Validate(ValidateError),
    /// The results directory could not be read.
    #[error(transparent)]
    Results(ResultsError),
    /// Writing to stdout failed.
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// The fit options that are command-line flags (`huber_delta` is `--huber-delta`).
const OPTION_FLAGS: &[&str] =
    &["huber_delta", "starts", "seed", "bootstrap", "confidence", "max_iter", "overestimate_penalty"];

impl CliError {
    /// A fit option given on the command line is invalid: the message names its flag
    /// (`--huber-delta`), not the field of [`sparse_scaling_law::FitOptions`].
    pub fn fit_option(e: FitError) -> CliError {
        match &e {
            FitError::Options { field, message } if OPTION_FLAGS.contains(&field.as_str()) => {
                CliError::Usage(format!("--{} (fit option `{field}`): {message}", field.replace('_', "-")))
            }
            _ => CliError::Fit(e),
        }
    }

    /// A holdout (`--holdout`) or cross-validation (`--cv`) failed: the message names the flag.
    pub fn validation(flag: &str, e: ValidateError) -> CliError {
        match e {
            ValidateError::Fit { .. } | ValidateError::NoLaws => CliError::Validate(e),
            e => CliError::Usage(format!("{flag}: {e}")),
        }
    }
}
