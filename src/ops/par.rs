//! Splitting row-wise work over rayon's threads.
//!
//! Every kernel computes each row the same way whatever the split, and every reduction over
//! rows (bias, LayerNorm γ/β gradients) sums partial results over *fixed* chunks of rows in
//! chunk order, so results are bit-for-bit the same with 1 thread or many.

use rayon::prelude::*;

/// Makes the calling thread one of the threads of rayon's global pool (thread 0; the pool has
/// `RAYON_NUM_THREADS` threads, default one per core); call it first thing in `main`, before
/// anything uses rayon. Returns `false` (and changes nothing) when the global pool already
/// exists.
///
/// Why: a training step opens a few hundred short parallel regions (every op's row split,
/// every matrix product). From a thread outside the pool each region is handed to the pool as
/// a job while the caller sleeps until it is done: two thread wake-ups per region and the
/// caller's core idle. From a thread of the pool, a region pushes its second half onto the
/// caller's own queue, the caller starts on the first half at once, and an idle thread steals
/// the other half (or the caller finishes both when none is free). docs/PERFORMANCE.md has
/// the measurements. Results are the same either way (see the module docs).
///
/// Only for a program whose parallel work all starts on the calling thread (the `ops` bench's
/// training loop): the calling thread runs pool jobs only while it is inside a rayon call
/// itself, so work that *other* threads hand to the pool gets one thread fewer, and none at
/// all with `RAYON_NUM_THREADS=1` (it would wait forever). The CLI trains each point on a
/// thread of its own (`runner::run`) and does not call this.
pub fn init_threads() -> bool {
    rayon::ThreadPoolBuilder::new().use_current_thread().build_global().is_ok()
}

/// Work (roughly, in float operations) below which a kernel stays on the calling thread:
/// handing a task to another thread costs a few microseconds.
pub(crate) const SEQ_WORK: usize = 1 << 15;

/// Rows per task for `rows` rows that cost `row_cost` each (all rows when not worth splitting).
pub(crate) fn rows_per_task(rows: usize, row_cost: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let row_cost = row_cost.max(1);
    if threads == 1 || rows.saturating_mul(row_cost) < SEQ_WORK {
        return rows.max(1);
    }
    let by_threads = rows.div_ceil(threads * 4);
    let by_work = (SEQ_WORK / 4).div_ceil(row_cost);
    by_threads.max(by_work).max(1)
}

/// Calls `f(first_row, rows)` on chunks of whole rows of `out` (rows of `row_len`), in parallel
/// when the work (`row_cost` per row) is worth it.
pub(crate) fn for_rows<F>(out: &mut [f32], row_len: usize, row_cost: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    if row_len == 0 || out.is_empty() {
        return;
    }
    let rows = out.len() / row_len;
    let per = rows_per_task(rows, row_cost);
    if per >= rows {
        f(0, out);
        return;
    }
    out.par_chunks_mut(per * row_len).enumerate().for_each(|(i, c)| f(i * per, c));
}

/// Like [`for_rows`] over two outputs that both have one row per item (`a_len` and `b_len`
/// floats per row; a trailing partial row goes with the last chunk of each).
pub(crate) fn for_rows2<F>(a: &mut [f32], a_len: usize, b: &mut [f32], b_len: usize, row_cost: usize, f: F)
where
    F: Fn(usize, &mut [f32], &mut [f32]) + Sync + Send,
{
    if a_len == 0 || a.is_empty() {
        return;
    }
    let rows = a.len() / a_len;
    let per = rows_per_task(rows, row_cost);
    if per >= rows {
        f(0, a, b);
        return;
    }
    a.par_chunks_mut(per * a_len)
        .zip(b.par_chunks_mut((per * b_len).max(1)))
        .enumerate()
        .for_each(|(i, (ca, cb))| f(i * per, ca, cb));
}

/// Rows per chunk of a reduction: depends on the sizes only, never on the thread count.
fn reduction_chunk(row_cost: usize) -> usize {
    (SEQ_WORK / 2).div_ceil(row_cost.max(1)).max(16)
}

/// Sums, over fixed chunks `[r0, r1)` of `rows` rows, the vectors of length `width` that
/// `f(r0, r1, partial)` adds into `partial` (zeroed), in chunk order: the same result with any
/// number of threads.
pub(crate) fn reduce_rows<F>(rows: usize, width: usize, row_cost: usize, f: F) -> Vec<f32>
where
    F: Fn(usize, usize, &mut [f32]) + Sync + Send,
{
    let chunk = reduction_chunk(row_cost);
    let n_chunks = rows.div_ceil(chunk).max(1);
    let run = |c: usize| {
        let mut p = vec![0.0f32; width];
        let r0 = c * chunk;
        let r1 = ((c + 1) * chunk).min(rows);
        if r0 < r1 {
            f(r0, r1, &mut p);
        }
        p
    };
    let parts: Vec<Vec<f32>> = if n_chunks > 1 && rayon::current_num_threads() > 1 {
        (0..n_chunks).into_par_iter().map(run).collect()
    } else {
        (0..n_chunks).map(run).collect()
    };
    let mut parts = parts.into_iter();
    let mut total = parts.next().unwrap_or_else(|| vec![0.0; width]);
    for p in parts {
        for (t, v) in total.iter_mut().zip(&p) {
            *t += *v;
        }
    }
    total
}

/// `dst += src`, element-wise, on all threads for large slices.
pub(crate) fn add_into(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "gradient length mismatch");
    const CHUNK: usize = 1 << 14;
    if dst.len() < 2 * CHUNK || rayon::current_num_threads() == 1 {
        for (d, s) in dst.iter_mut().zip(src) {
            *d += *s;
        }
        return;
    }
    dst.par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK)).for_each(|(d, s)| {
        for (d, s) in d.iter_mut().zip(s) {
            *d += *s;
        }
    });
}
