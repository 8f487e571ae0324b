//! The timed workloads beyond tokio's set, on asyncio's vocabulary:
//! callbacks submitted from a foreign thread, timers inserted, cancelled
//! and fired, `all_tasks` and `dump` over many live tasks, and CPU-bound tasks (the
//! seeds' `is_prime`).

use crate::runtime::{Loopwork, Runtime, Spawner};
use crate::workloads::{timed, Timing};
use std::any::Any;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc, Arc, Barrier, OnceLock};
use std::time::Duration;

/// Callbacks submitted per `call_soon_threadsafe` iteration.
pub(crate) const CALLBACKS: usize = 100_000;
/// Timers per `timers` iteration, and the tasks that share them.
pub(crate) const TIMERS: usize = 100_000;
pub(crate) const TIMER_TASKS: usize = 10;
/// How long after its creation a timer is due.
pub(crate) const TIMER_DELAY: Duration = Duration::from_millis(1);
/// Live tasks while `all_tasks` is timed.
pub(crate) const LIVE_TASKS: usize = 10_000;
/// The numbers `is_prime` is asked about: the first primes above 10^12, so
/// that trial division runs to the square root (about 500,000 odd divisors,
/// a few milliseconds) for every one.
pub(crate) const PRIMES: usize = 16;
const PRIMES_FROM: u64 = 1_000_000_000_000;

/// [`CALLBACKS`] callbacks from `threads` foreign threads started together
/// at a barrier (as tokio's `remote_spawn` starts its spawners), each
/// decrementing a counter; the last one signals the channel the benchmark
/// thread waits on.
pub(crate) fn call_soon_threadsafe<R: Runtime>(runtime: &R, threads: usize, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    let per_thread = CALLBACKS / threads;
    let (tx, rx) = mpsc::sync_channel(1);
    let remaining = Arc::new(AtomicUsize::new(0));
    timed(budget, || {
        remaining.store(per_thread * threads, Relaxed);
        let barrier = Barrier::new(threads);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let (barrier, spawner, tx, remaining) = (&barrier, &spawner, &tx, &remaining);
                scope.spawn(move || {
                    barrier.wait();
                    for _ in 0..per_thread {
                        let (tx, remaining) = (tx.clone(), remaining.clone());
                        spawner.call_soon_threadsafe(move || {
                            if remaining.fetch_sub(1, Relaxed) == 1 {
                                tx.send(()).unwrap();
                            }
                        });
                    }
                });
            }
        });
        rx.recv().unwrap();
    })
}

/// [`TIMER_TASKS`] tasks each insert their share of `count` timers due
/// [`TIMER_DELAY`] after creation (the first poll registers a timer),
/// cancelling every second one right after inserting it (dropping it
/// removes it from the timer queue), then await the rest.
pub(crate) fn timers<R: Runtime>(runtime: &R, count: usize, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    let (tx, rx) = mpsc::sync_channel(TIMER_TASKS);
    timed(budget, || {
        for _ in 0..TIMER_TASKS {
            let tx = tx.clone();
            spawner.spawn_detached(async move {
                let mut pending = Vec::with_capacity(count / TIMER_TASKS / 2);
                for i in 0..count / TIMER_TASKS {
                    let mut sleep = Box::pin(<R::Spawner as Spawner>::sleep(TIMER_DELAY));
                    // Pending unless this thread was preempted for longer
                    // than the delay since the timer was made; a fired
                    // timer must not be awaited again.
                    let fired = futures_lite::future::poll_once(sleep.as_mut()).await.is_some();
                    if i % 2 == 0 && !fired {
                        pending.push(sleep);
                    }
                }
                for sleep in pending {
                    sleep.await;
                }
                tx.send(()).unwrap();
            });
        }
        for _ in 0..TIMER_TASKS {
            rx.recv().unwrap();
        }
    })
}

/// One snapshot of every task (`Handle::all_tasks()`, `Handle::dump()`)
/// with [`LIVE_TASKS`] tasks pending; `snapshot` returns how many tasks it
/// saw. Loopwork only.
///
/// # Panics
///
/// If `runtime` is not loopwork.
pub(crate) fn live_task_snapshot<R: Runtime>(
    runtime: &R,
    budget: Duration,
    named: bool,
    snapshot: impl Fn(&loopwork::Handle) -> usize,
) -> Timing {
    let runtime: &dyn Any = runtime;
    let runtime = runtime.downcast_ref::<Loopwork>().expect("a task snapshot is a loopwork-only workload");
    let handle = runtime.spawner();
    // A named task keeps a details record (spawn location, age, polls), as
    // every task does under `Builder::task_details(true)`.
    let tasks: Vec<_> = (0..LIVE_TASKS)
        .map(|i| {
            let pending = std::future::pending::<()>();
            if named { handle.spawn_named(format!("live-{i}"), pending) } else { handle.spawn(pending) }
                .expect("the loop is open while a workload runs")
        })
        .collect();
    let timing = timed(budget, || {
        let seen = std::hint::black_box(snapshot(&handle));
        assert!(seen >= LIVE_TASKS, "the snapshot saw {seen} of {LIVE_TASKS} live tasks");
    });
    for task in &tasks {
        task.cancel();
    }
    runtime.block_on(async {
        for task in tasks {
            assert!(task.await.is_err(), "a pending task ends cancelled");
        }
    });
    timing
}

/// One task per number of [`primes`], each running the seeds' `is_prime`
/// on it; the benchmark thread awaits them all.
pub(crate) fn is_prime_tasks<R: Runtime>(runtime: &R, budget: Duration) -> Timing {
    let spawner = runtime.spawner();
    let numbers = primes();
    let mut handles = Vec::with_capacity(numbers.len());
    timed(budget, || {
        handles.extend(numbers.iter().map(|&n| spawner.spawn(async move { is_prime(std::hint::black_box(n)) })));
        runtime.block_on(async {
            for handle in handles.drain(..) {
                assert!(handle.await, "every number is prime");
            }
        });
    })
}

/// The seeds' trial division: odd divisors from 3 up to the square root.
fn is_prime(x: u64) -> bool {
    if x == 2 {
        return true;
    }
    if x < 2 || x % 2 == 0 {
        return false;
    }
    let limit = x.isqrt() + 1;
    (3..limit).step_by(2).all(|i| x % i != 0)
}

/// The first [`PRIMES`] primes above 10^12, found once.
fn primes() -> &'static [u64] {
    static PRIMES_LIST: OnceLock<Vec<u64>> = OnceLock::new();
    PRIMES_LIST.get_or_init(|| (PRIMES_FROM..).filter(|&n| is_prime(n)).take(PRIMES).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_division() {
        let small: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(small, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(!is_prime(1_000_003 * 1_000_033));
        assert!(is_prime(1_000_000_007));
    }
}
