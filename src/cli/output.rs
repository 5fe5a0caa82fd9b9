//! Writing to stdout without panicking. `println!` panics when stdout is a pipe whose reader
//! has gone (`sparse-scaling check exp.ron | head -1`) or a full device (`> /dev/full`); every
//! subcommand writes through [`print`] instead, which reports the two as [`OutputError`]s. A
//! closed pipe ends the command quietly with status 0, as ripgrep does (`main` checks
//! [`is_closed`]); any other failure is an error naming stdout.

use std::io::{self, Write};

/// Writing to stdout failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The reader of stdout went away (a closed pipe): the command ends quietly.
    #[error("stdout was closed by its reader")]
    Closed,
    /// Writing failed otherwise (a full device, an I/O error).
    #[error(
        "cannot write to stdout\n  fix: free space on the device stdout is redirected to, or redirect it elsewhere"
    )]
    Failed {
        /// The cause.
        source: io::Error,
    },
}

/// Writes `text` to stdout and flushes it.
pub fn print(text: impl std::fmt::Display) -> Result<(), OutputError> {
    let mut out = io::stdout().lock();
    write!(out, "{text}").and_then(|()| out.flush()).map_err(|source| match source.kind() {
        io::ErrorKind::BrokenPipe => OutputError::Closed,
        _ => OutputError::Failed { source },
    })
}

/// Writes `text` and a newline to stdout and flushes it.
pub fn println(text: impl std::fmt::Display) -> Result<(), OutputError> {
    print(format_args!("{text}\n"))
}

/// Whether `e`, or one of its causes, is a closed stdout ([`OutputError::Closed`]).
pub fn is_closed(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if matches!(err.downcast_ref::<OutputError>(), Some(OutputError::Closed))
            || matches!(err.downcast_ref::<super::CliError>(), Some(super::CliError::Output(OutputError::Closed)))
        {
            return true;
        }
        cur = err.source();
    }
    false
}
