//! Writing to stdout without panicking. `println!` panics when stdout is a pipe whose reader
//! has gone (`sparse-scaling check exp.ron | head -1`) or a full device (`> /dev/full`); every
//! subcommand writes through [`print`] instead.
//!
//! Once the reader of stdout has gone, what is left to print is dropped in silence and the
//! command goes on with its work (a `run` still writes its report, a `fit` its `--json`), so it
//! ends quietly with the status its work earns: 0, or 2 if something failed, never a failure
//! hidden by a closed pipe. Any other failure to write (a full device) is an [`OutputError`]
//! naming stdout.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write found stdout closed by its reader.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writing to stdout failed (a full device, an I/O error); a closed pipe is not an error.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to stdout\n  fix: free space on the device stdout is redirected to, or redirect it elsewhere")]
pub struct OutputError {
    /// The cause.
    source: io::Error,
}

/// Writes `text` to stdout and flushes it; does nothing once stdout's reader has gone.
pub fn print(text: impl std::fmt::Display) -> Result<(), OutputError> {
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    match write!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(source) => Err(OutputError { source }),
        Ok(()) => Ok(()),
    }
}

/// Writes `text` and a newline to stdout and flushes it (see [`print`]).
pub fn println(text: impl std::fmt::Display) -> Result<(), OutputError> {
    print(format_args!("{text}\n"))
}

/// Writes `text` and a newline to stderr, ignoring failure: a full or closed stderr has nowhere
/// to report to (`eprintln!` would panic), and the exit status still tells.
pub fn eprintln(text: impl std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}
