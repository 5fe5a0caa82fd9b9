//! `check` and `run` compare what each point needs with the memory of the machine they run on
//! (Linux's `/proc/meminfo`), so that a point too large for the machine is an error with the
//! estimate before any training, not an aborted allocation in the middle of a run.
//!
//! The estimate is [`MemoryEstimate`], a lower bound (a real run needs about twice as much, see
//! its docs). A point whose estimate exceeds `MemTotal` cannot run here and is an error; one that
//! exceeds only `MemAvailable` (what is free now) gets a warning, since other programs may free
//! memory before it starts. `plan` does not compare: on a cluster, the nodes that train are not
//! the machine that plans. Where `/proc/meminfo` cannot be read (not Linux), nothing is compared.

use crate::experiment::memory::bytes;
use crate::experiment::{ExperimentFile, MemoryEstimate, Point};

/// The memory of a machine, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineMemory {
    /// Physical memory (`MemTotal`).
    pub total: u64,
    /// Memory available to a new program now (`MemAvailable`).
    pub available: u64,
}

impl MachineMemory {
    /// This machine's memory, from `/proc/meminfo`; `None` where it cannot be read.
    pub fn of_this_machine() -> Option<MachineMemory> {
        Self::parse(&std::fs::read_to_string("/proc/meminfo").ok()?)
    }

    /// Parses the text of `/proc/meminfo` (values in kB); `None` without `MemTotal`.
    pub fn parse(meminfo: &str) -> Option<MachineMemory> {
        let field = |name: &str| -> Option<u64> {
            let line = meminfo.lines().find(|l| l.split(':').next() == Some(name))?;
            let kb: u64 = line.split(':').nth(1)?.split_whitespace().next()?.parse().ok()?;
            Some(kb.saturating_mul(1024))
        };
        let total = field("MemTotal")?;
        Some(MachineMemory { total, available: field("MemAvailable").unwrap_or(total) })
    }
}

/// A point needs more memory than the machine has.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{position}: {count} of {points} points need more memory than this machine has; point {index} ({hash}) needs at least {estimate}, but the machine has {limit} (MemTotal)\n  fix: {fix}, or run on a machine with more memory (`check` and `run` compare with the machine they run on)")]
pub struct TooLarge {
    /// `file:line:col` of the field that dominates the estimate.
    pub position: String,
    /// Points above the limit.
    pub count: usize,
    /// Points in all.
    pub points: usize,
    /// The largest point's index.
    pub index: usize,
    /// Its hash.
    pub hash: String,
    /// Its estimate, in words.
    pub estimate: String,
    /// The machine's memory, in words.
    pub limit: String,
    /// How to make the point smaller.
    pub fix: String,
}

/// Compares `points` of `file` with `machine`: an error for points above its total memory,
/// else a warning (in words) for each point above the memory available now.
pub fn compare(file: &ExperimentFile, points: &[Point], machine: MachineMemory) -> Result<Vec<String>, Box<TooLarge>> {
    let estimates: Vec<(&Point, MemoryEstimate)> = points.iter().map(|p| (p, MemoryEstimate::of(&p.spec))).collect();
    let over = |limit: u64| estimates.iter().filter(move |(_, m)| m.total() > limit as f64);
    if let Some((p, m)) = over(machine.total).max_by(|a, b| a.1.total().total_cmp(&b.1.total())) {
        let pos = file.position(m.field());
        return Err(Box::new(TooLarge {
            position: format!("{}:{}:{}", file.path.display(), pos.line, pos.column),
            count: over(machine.total).count(),
            points: points.len(),
            index: p.index,
            hash: p.hash.clone(),
            estimate: m.describe(),
            limit: bytes(machine.total as f64),
            fix: m.fix().to_string(),
        }));
    }
    Ok(over(machine.available)
        .map(|(p, m)| {
            format!(
                "warning: point {} ({}) needs at least {}, more than the {} of memory available now (MemAvailable); it may fail if other programs keep theirs",
                p.index,
                p.hash,
                bytes(m.total()),
                bytes(machine.available as f64)
            )
        })
        .collect())
}

/// [`compare`] with this machine, printing the warnings to stderr; `Ok` where the machine's
/// memory cannot be read.
pub fn check(file: &ExperimentFile, points: &[Point]) -> Result<(), Box<TooLarge>> {
    let Some(machine) = MachineMemory::of_this_machine() else { return Ok(()) };
    for w in compare(file, points, machine)? {
        super::output::eprintln(&w);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn file(batch: usize) -> ExperimentFile {
        let src = format!(
            "(\n  name: \"m\",\n  model: (family: Vit, sizes: Widths([32, 64])),\n  steps: [10],\n  batch_size: {batch},\n)"
        );
        ExperimentFile::from_str("m.ron", &src).unwrap()
    }

    #[test]
    fn meminfo_is_read_in_kb() {
        let m = MachineMemory::parse("MemTotal:       24683652 kB\nMemFree:  1 kB\nMemAvailable:   23422964 kB\n");
        assert_eq!(m, Some(MachineMemory { total: 24683652 * 1024, available: 23422964 * 1024 }));
        assert_eq!(MachineMemory::parse("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn a_point_above_total_memory_is_an_error_at_batch_size() {
        let f = file(1_000_000);
        let points = f.expand().unwrap();
        let e = compare(&f, &points, MachineMemory { total: 16 * GIB, available: 8 * GIB }).unwrap_err();
        // width 64 is the larger point; both are far above 16 GiB
        assert_eq!((e.count, e.points, e.index), (2, 2, 1), "{e}");
        assert_eq!(e.position, "m.ron:5:3", "{e}");
        let est = MemoryEstimate::of(&points[1].spec);
        assert!(est.total() > 16.0 * GIB as f64);
        let text = e.to_string();
        assert!(text.contains(&bytes(est.total())) && text.contains("16.0 GiB"), "{text}");
        assert!(text.contains("lower `batch_size`"), "{text}");
    }

    #[test]
    fn a_point_above_available_memory_is_a_warning() {
        let f = file(32);
        let points = f.expand().unwrap();
        let need = MemoryEstimate::of(&points[1].spec).total() as u64;
        let small = MemoryEstimate::of(&points[0].spec).total() as u64;
        let warnings = compare(&f, &points, MachineMemory { total: need + 1, available: (small + need) / 2 }).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("point 1") && warnings[0].contains("MemAvailable"), "{warnings:?}");
        assert!(compare(&f, &points, MachineMemory { total: need + 1, available: need + 1 }).unwrap().is_empty());
    }
}
