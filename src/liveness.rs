//! Whether the process that wrote a claim (or a temporary file, or a marker) still runs.
//!
//! A process is named by its host, its pid, its start time (clock ticks after boot, field 22
//! of `/proc/<pid>/stat`) and the host's boot id (`/proc/sys/kernel/random/boot_id`). On the
//! same host, a process whose pid no longer exists, is a zombie, or now belongs to a process
//! started at another time (the pid was reused), or one of an earlier boot, has exited: its
//! claim is stale at once. On another host nothing can be asked: the caller falls back to the
//! age of the claim's last heartbeat (`crate::results`). Where `/proc` does not exist nothing
//! is known ([`Liveness::Unknown`]).

use std::fs;
use std::path::Path;

/// What is known of a process on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// It runs.
    Alive,
    /// It has exited; why we know (for log lines).
    Exited(String),
    /// This host cannot tell (no `/proc`).
    Unknown,
}

/// This host's boot id, if the system has one.
pub fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The fields of `/proc/<pid>/stat` after the command name (state first), if the process exists.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// When process `pid` started (clock ticks after boot), if it exists.
pub fn process_start(pid: u32) -> Option<u64> {
    // field 22 of stat; the fields after the name start at field 3
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// This process's start time (see [`process_start`]).
pub fn own_start() -> Option<u64> {
    process_start(std::process::id())
}

/// Whether process `pid` of this host runs; with its recorded start time `started` and the
/// boot id `boot` of when it was recorded, a reused pid or a reboot counts as exited.
pub fn local_process(pid: u32, started: Option<u64>, boot: Option<&str>) -> Liveness {
    if !Path::new("/proc/self").exists() {
        return Liveness::Unknown;
    }
    if let (Some(then), Some(now)) = (boot, boot_id()) {
        if then != now {
            return Liveness::Exited(format!("the host has rebooted since process {pid} wrote it"));
        }
    }
    let Some(fields) = stat_fields(pid) else {
        return Liveness::Exited(format!("process {pid} has exited"));
    };
    if fields.first().is_some_and(|s| s == "Z") {
        return Liveness::Exited(format!("process {pid} has exited"));
    }
    match (started, fields.get(19).and_then(|s| s.parse::<u64>().ok())) {
        (Some(then), Some(now)) if then != now => {
            Liveness::Exited(format!("process {pid} has exited (pid {pid} is now another process)"))
        }
        _ => Liveness::Alive,
    }
}

/// Whether process `pid` of this host may still run (unknown counts as running).
pub fn process_alive(pid: u32) -> bool {
    !matches!(local_process(pid, None, None), Liveness::Exited(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_with_its_start_time_and_not_with_another() {
        if !Path::new("/proc/self").exists() {
            return;
        }
        let me = std::process::id();
        let start = own_start().expect("a start time");
        assert_eq!(local_process(me, Some(start), boot_id().as_deref()), Liveness::Alive);
        assert!(
            matches!(local_process(me, Some(start + 1), None), Liveness::Exited(m) if m.contains("another process"))
        );
        assert!(
            matches!(local_process(me, Some(start), Some("another-boot")), Liveness::Exited(m) if m.contains("rebooted"))
        );
        assert!(matches!(local_process(u32::MAX - 1, None, None), Liveness::Exited(_)));
    }
}
