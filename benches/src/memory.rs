//! Memory per idle task: how much resident memory a runtime needs to keep
//! a task that waits forever.

use crate::runtime::{Runtime, Spawner};
use std::io;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Idle tasks per measurement.
pub(crate) const IDLE_TASKS: usize = 100_000;

/// Tasks are spawned in batches, each polled before the next is spawned, so
/// the run queues stay short: what is measured is the tasks, not a queue
/// holding 100,000 entries for a moment.
const BATCH: usize = 1_000;

/// Starts a fresh runtime, spawns [`IDLE_TASKS`] tasks that are polled once
/// and then pend forever, and returns the growth of the process's resident
/// memory divided by their number. The runtime is then shut down, which
/// drops the tasks, and freed memory is handed back to the OS so the next
/// measurement starts from the same place.
///
/// The future is the same for every runtime (an `Arc` and a counter bump,
/// then `std::future::pending`), so the differences are the runtimes' own
/// per-task costs: the task allocation, its header and whatever table the
/// runtime keeps its tasks in.
pub(crate) fn idle_task_bytes<R: Runtime>(workers: usize) -> io::Result<f64> {
    let runtime = R::start(workers)?;
    let spawner = runtime.spawner();
    // Let the workers run something first, so state they create lazily
    // (thread-locals, queue buffers, allocator arenas) is not counted.
    runtime.block_on(async {
        let handles: Vec<_> = (0..4 * BATCH).map(|_| spawner.spawn(async {})).collect();
        for handle in handles {
            handle.await;
        }
    });

    let polled = Arc::new(AtomicUsize::new(0));
    let before = resident_bytes()?;
    for batch in 1..=IDLE_TASKS / BATCH {
        for _ in 0..BATCH {
            let polled = polled.clone();
            spawner.spawn_detached(async move {
                // Relaxed is enough: only the count is read.
                polled.fetch_add(1, Relaxed);
                std::future::pending::<()>().await;
            });
        }
        while polled.load(Relaxed) < batch * BATCH {
            std::thread::yield_now();
        }
    }
    let after = resident_bytes()?;

    // A spawner may keep the runtime's task table alive (async-executor's
    // is an `Arc<Executor>`): drop it first so the tasks are freed before
    // the memory is handed back.
    drop(spawner);
    runtime.shutdown();
    release_free_memory();
    Ok((after as f64 - before as f64) / IDLE_TASKS as f64)
}

/// The process's resident set size, from `/proc/self/statm`.
fn resident_bytes() -> io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 =
        statm.split_whitespace().nth(1).and_then(|field| field.parse().ok()).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("unexpected /proc/self/statm: {statm}"))
        })?;
    Ok(pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: `sysconf` has no preconditions; `_SC_PAGESIZE` is a valid name.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// Gives the pages `free` kept back to the OS, so that the next
/// measurement's allocations show up as resident growth again instead of
/// reusing pages that are already resident.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `malloc_trim` only returns unused memory of glibc's own
        // arenas to the OS; it has no preconditions.
        unsafe { libc::malloc_trim(0) };
    }
}
