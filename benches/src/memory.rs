//! Memory per idle task: how much resident memory a runtime needs to keep
//! a task that waits on a timer, and how many heap bytes it asks for to
//! keep a task that waits forever.

use crate::alloc::HeapCounter;
use crate::runtime::{Runtime, Spawner};
use std::future::Future;
use std::io;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// Idle tasks per resident-memory measurement: enough that the per-task
/// cost dwarfs whatever else grows meanwhile.
pub(crate) const IDLE_TASKS: usize = 1_000_000;

/// Idle tasks per heap measurement: heap bytes are counted exactly, so
/// fewer do.
pub(crate) const HEAP_TASKS: usize = 10_000;

/// How long an idle task of the resident-memory row sleeps: it never wakes
/// while it is measured.
const IDLE_SLEEP: Duration = Duration::from_secs(3600);

/// Tasks are spawned in batches, each polled before the next is spawned, so
/// the run queues stay short: what is measured is the tasks, not a queue
/// holding a million entries for a moment.
const BATCH: usize = 1_000;

/// Starts a fresh runtime, spawns [`IDLE_TASKS`] tasks that are polled once
/// and then wait on the runtime's own one-hour sleep, and returns the growth
/// of the process's resident memory divided by their number. The runtime is
/// then shut down, which drops the tasks, and freed memory is handed back to
/// the OS so the next measurement starts from the same place.
///
/// The future is the same for every runtime (an `Arc` and a counter bump,
/// then [`Spawner::sleep`]), so the differences are the runtimes' own
/// per-task costs: the task allocation, its header, whatever table the
/// runtime keeps its tasks in, and its timer (inline in tokio's future, an
/// entry in loopwork's and async-io's timer queues).
pub(crate) fn idle_task_bytes<R: Runtime>(workers: usize) -> io::Result<f64> {
    let runtime = R::start(workers)?;
    let spawner = runtime.spawner();
    warm_up(&runtime);
    let before = resident_bytes()?;
    spawn_idle(&spawner, IDLE_TASKS, || <R::Spawner as Spawner>::sleep(IDLE_SLEEP));
    let after = resident_bytes()?;

    // A spawner may keep the runtime's task table alive (async-executor's
    // is an `Arc<Executor>`): drop it first so the tasks are freed before
    // the memory is handed back.
    drop(spawner);
    runtime.shutdown();
    release_free_memory();
    Ok((after as f64 - before as f64) / IDLE_TASKS as f64)
}

/// Starts a fresh runtime, spawns [`HEAP_TASKS`] tasks that are polled once
/// and then pend forever (`std::future::pending`, no timer), and returns the
/// growth of the live heap (bytes allocated minus bytes freed, by every
/// thread, as the global [`CountingAllocator`](crate::CountingAllocator)
/// counts them) divided by their number: the task allocation as the runtime
/// sizes it, plus its share of the runtime's tables, without the
/// allocator's own overhead.
///
/// # Errors
///
/// If the runtime cannot start, or the counting allocator is not the
/// global allocator.
pub(crate) fn idle_task_heap_bytes<R: Runtime>(workers: usize) -> io::Result<f64> {
    let runtime = R::start(workers)?;
    let spawner = runtime.spawner();
    warm_up(&runtime);
    let counter = HeapCounter::start().ok_or_else(|| {
        io::Error::other("the heap row needs loopwork_benches::CountingAllocator as the global allocator")
    })?;
    spawn_idle(&spawner, HEAP_TASKS, std::future::pending::<()>);
    let live = counter.live();
    drop(counter);
    drop(spawner);
    runtime.shutdown();
    Ok(live as f64 / HEAP_TASKS as f64)
}

/// Lets the workers run something first, so state they create lazily
/// (thread-locals, queue buffers, allocator arenas) is not counted.
fn warm_up<R: Runtime>(runtime: &R) {
    let spawner = runtime.spawner();
    runtime.block_on(async {
        let handles: Vec<_> = (0..4 * BATCH).map(|_| spawner.spawn(async {})).collect();
        for handle in handles {
            handle.await;
        }
    });
}

/// Spawns `count` tasks from this thread, in batches of [`BATCH`], each
/// bumping a counter at its first poll and then awaiting `wait()` (made
/// inside the task: tokio's timers need its runtime); returns once every
/// one has been polled.
fn spawn_idle<S, W, F>(spawner: &S, count: usize, wait: W)
where
    S: Spawner,
    W: Fn() -> F + Copy + Send + 'static,
    F: Future<Output = ()> + Send,
{
    let polled = Arc::new(AtomicUsize::new(0));
    for batch in 1..=count / BATCH {
        for _ in 0..BATCH {
            let polled = polled.clone();
            spawner.spawn_detached(async move {
                // Relaxed is enough: only the count is read.
                polled.fetch_add(1, Relaxed);
                wait().await;
            });
        }
        while polled.load(Relaxed) < batch * BATCH {
            std::thread::yield_now();
        }
    }
}

/// The process's resident set size, from `/proc/self/statm`.
pub(crate) fn resident_bytes() -> io::Result<u64> {
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
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `malloc_trim` only returns unused memory of glibc's own
        // arenas to the OS; it has no preconditions.
        unsafe { libc::malloc_trim(0) };
    }
}
