//! How a hostile input is run and judged: one [`Case`] is one command line of the real
//! `sparse-scaling` binary (with stdout and stderr sent where the case says), and its end is
//! one [`Verdict`] by the rule of [`classify`].

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_sparse-scaling");

/// How long one command may run before the harness kills it and calls it a hang.
pub const TIMEOUT: Duration = Duration::from_secs(180);

/// Where a stream of the command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// A file the harness reads afterwards.
    Captured,
    /// `/dev/full`: every write fails with ENOSPC.
    Full,
    /// A pipe whose reading end the harness closes as soon as the command has started (before
    /// it has parsed its arguments): its writes fail with EPIPE.
    Closed,
}

/// What a case's input deserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The input is wrong: the command must fail (exit ≠ 0), with a clear message.
    Reject,
    /// Either is right (an odd but valid input, or a broken output the command may not reach).
    Either,
}

/// One hostile command line.
#[derive(Debug, Clone)]
pub struct Case {
    /// The category (`ron`, `fit`, `analyse`, `results`, `output`).
    pub group: &'static str,
    /// What is hostile about it.
    pub name: String,
    /// The arguments after the binary.
    pub args: Vec<OsString>,
    /// Where stdout goes.
    pub stdout: Sink,
    /// Where stderr goes.
    pub stderr: Sink,
    /// What names the culprit in a message: the input file's name, the flag, the field or the
    /// column (any one is enough).
    pub names: Vec<String>,
    /// What the input deserves.
    pub expect: Expect,
}

impl Case {
    /// A case with stdout and stderr captured.
    pub fn new(group: &'static str, name: impl Into<String>, args: &[&dyn AsRefOs], names: &[&str]) -> Case {
        Case {
            group,
            name: name.into(),
            args: args.iter().map(|a| a.os()).collect(),
            stdout: Sink::Captured,
            stderr: Sink::Captured,
            names: names.iter().map(|s| s.to_string()).collect(),
            expect: Expect::Reject,
        }
    }

    /// The same case, where either a success or a clear failure is right.
    pub fn either(mut self) -> Case {
        self.expect = Expect::Either;
        self
    }

    /// The same case with stdout and stderr sent elsewhere.
    pub fn sinks(mut self, stdout: Sink, stderr: Sink) -> Case {
        self.stdout = stdout;
        self.stderr = stderr;
        self
    }
}

/// Anything that is an argument: `&str`, `String`, `&Path`, `PathBuf`.
pub trait AsRefOs {
    /// As an OS string.
    fn os(&self) -> OsString;
}
impl AsRefOs for &str {
    fn os(&self) -> OsString {
        (*self).into()
    }
}
impl AsRefOs for String {
    fn os(&self) -> OsString {
        self.into()
    }
}
impl AsRefOs for PathBuf {
    fn os(&self) -> OsString {
        self.into()
    }
}
impl AsRefOs for &Path {
    fn os(&self) -> OsString {
        (*self).into()
    }
}

/// How a command ended, by the rule of [`classify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Exit status 0.
    Accepted,
    /// Exit ≠ 0 with a message that names the culprit or a place.
    Clear,
    /// Exit ≠ 0 while stderr itself was broken (full or closed): there is no message to judge,
    /// only that the command ended by itself with an error status.
    ClearNoStderr,
    /// Exit ≠ 0 with a message that names neither the culprit nor a place.
    Unclear,
    /// Exit status 101 or "panicked at" on stderr.
    Panic,
    /// Killed by a signal (a stack overflow, an allocation failure, `abort()`).
    Abort(i32),
    /// Still running after [`TIMEOUT`].
    Hang,
}

/// What one case did.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The case.
    pub case: Case,
    /// Its verdict.
    pub verdict: Verdict,
    /// Exit code (None: killed).
    pub code: Option<i32>,
    /// Stderr (empty when not captured), at most 2 000 characters.
    pub stderr: String,
}

/// Whether `text` names a place: `L:C` (line and column: digits, a colon, digits), or
/// `line N`, `column N`, `row N` (N digits).
pub fn names_a_place(text: &str) -> bool {
    let b = text.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b':' && i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            return true;
        }
    }
    ["line ", "column ", "row "].iter().any(|w| {
        text.match_indices(w).any(|(i, _)| text[i + w.len()..].bytes().next().is_some_and(|c| c.is_ascii_digit()))
    })
}

/// The rule. Abort: killed by a signal. Panic: exit 101 or `panicked at` on stderr. Hang: ran
/// past [`TIMEOUT`]. Accepted: exit 0. Otherwise (exit ≠ 0, an error of the command's own):
/// Clear when stderr names the culprit (one of the case's `names`: the input file's name, the
/// flag, the field or the column) or a place ([`names_a_place`]); ClearNoStderr when stderr was
/// not captured; else Unclear.
pub fn classify(case: &Case, status: Option<ExitStatus>, stderr: &str) -> Verdict {
    use std::os::unix::process::ExitStatusExt;
    let Some(status) = status else { return Verdict::Hang };
    if let Some(sig) = status.signal() {
        return Verdict::Abort(sig);
    }
    if status.code() == Some(101) || stderr.contains("panicked at") {
        return Verdict::Panic;
    }
    if status.success() {
        return Verdict::Accepted;
    }
    if case.stderr != Sink::Captured {
        return Verdict::ClearNoStderr;
    }
    if case.names.iter().any(|n| stderr.contains(n.as_str())) || names_a_place(stderr) {
        Verdict::Clear
    } else {
        Verdict::Unclear
    }
}

fn sink(s: Sink, file: &Path) -> Stdio {
    match s {
        Sink::Captured => File::create(file).expect("a capture file").into(),
        Sink::Full => OpenOptions::new().write(true).open("/dev/full").expect("/dev/full").into(),
        Sink::Closed => Stdio::piped(),
    }
}

/// Runs `case` in `scratch` (its working directory; stdout and stderr are captured there).
pub fn run(case: &Case, scratch: &Path, n: usize) -> Ran {
    let out = scratch.join(format!("case-{n}.out"));
    let err = scratch.join(format!("case-{n}.err"));
    let mut child = Command::new(BIN)
        .args(&case.args)
        .current_dir(scratch)
        .env("SPARSE_SCALING_HEARTBEAT_SECS", "3600")
        .stdin(Stdio::null())
        .stdout(sink(case.stdout, &out))
        .stderr(sink(case.stderr, &err))
        .spawn()
        .expect("the sparse-scaling binary starts");
    // close the reading ends of `Closed` sinks
    drop(child.stdout.take());
    drop(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting on the binary") {
            break Some(s);
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = if case.stderr == Sink::Captured {
        String::from_utf8_lossy(&std::fs::read(&err).unwrap_or_default()).into_owned()
    } else {
        String::new()
    };
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&err);
    let verdict = classify(case, status, &stderr);
    let stderr: String = stderr.chars().take(2000).collect();
    Ran { case: case.clone(), verdict, code: status.and_then(|s| s.code()), stderr }
}

#[test]
fn the_place_rule() {
    assert!(names_a_place("x.ron:3:14: expected"));
    assert!(names_a_place("at line 4 of the file"));
    assert!(names_a_place("row 7: not a number"));
    assert!(!names_a_place("expected comma"));
    assert!(!names_a_place("line: none, column x"));
    assert!(!names_a_place("12:ab"));
}
