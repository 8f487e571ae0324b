//! The `scaling` mode: each runtime over a range of sizes, to see whether
//! the cost of one item (a task, a timer, a connection, a yield) stays flat
//! as the work grows, and one [`Chart`] per workload.
//!
//! Every workload is the one `compare` times, with its size as a
//! parameter. A size below a million takes the median of three samples of
//! at least [`BUDGET`] each, after one warm-up iteration; a million is run
//! once (the runtime is warm by then), which keeps the whole mode to a few
//! minutes.

use crate::harness::{Contender, Stats, Visitor};
use crate::memory;
use crate::net_workloads::IdleConnections;
use crate::runtime::Runtime;
use crate::svg::{Chart, Series};
use crate::threads::ThreadCounters;
use crate::workloads::{self, Timing, REMOTE_SPAWN_TASKS, YIELDS};
use crate::workloads_loop;
use std::io;
use std::time::Duration;

/// How long one sample repeats its workload, at least once.
const BUDGET: Duration = Duration::from_millis(100);
/// Sizes of the workloads that grow 1,000-fold.
const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
/// Connection counts of the idle-connection charts, as far as the limit on
/// open files allows (each connection holds two descriptors).
const CONNECTIONS: [usize; 3] = [100, 1_000, 10_000];
/// Descriptors kept for everything but the connections.
const SPARE_DESCRIPTORS: usize = 100;
/// How long the idle runtime is watched per connection count.
const IDLE_WINDOW: Duration = Duration::from_secs(1);
/// Submitting threads of the `remote_spawn` chart.
const THREADS: [usize; 4] = [1, 2, 4, 8];
/// Worker counts of the `yield_many` chart.
const WORKERS: [usize; 2] = [1, 2];

/// A workload of the scaling mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalingWorkload {
    /// `spawn_many_local` with 1,000 to 1,000,000 tasks.
    SpawnMany,
    /// `timers` with 1,000 to 1,000,000 timers.
    Timers,
    /// 100 to 10,000 idle connections: resident memory per connection and
    /// the runtime's CPU time while they are idle.
    IdleConnections,
    /// `remote_spawn` from 1 to 8 submitting threads.
    RemoteSpawn,
    /// `yield_many` on 1 and 2 workers.
    YieldMany,
}

/// A chart and the name of its file, without the `.svg`.
#[derive(Clone, Debug)]
pub struct NamedChart {
    /// The file name without its extension.
    pub name: &'static str,
    /// The chart.
    pub chart: Chart,
}

impl ScalingWorkload {
    /// Every workload, in order.
    pub fn all() -> [ScalingWorkload; 5] {
        [
            ScalingWorkload::SpawnMany,
            ScalingWorkload::Timers,
            ScalingWorkload::IdleConnections,
            ScalingWorkload::RemoteSpawn,
            ScalingWorkload::YieldMany,
        ]
    }

    /// The workload's name, which its charts' file names start with.
    pub fn name(self) -> &'static str {
        match self {
            ScalingWorkload::SpawnMany => "spawn_many",
            ScalingWorkload::Timers => "timers",
            ScalingWorkload::IdleConnections => "idle_connections",
            ScalingWorkload::RemoteSpawn => "remote_spawn",
            ScalingWorkload::YieldMany => "yield_many",
        }
    }

    /// Measures every runtime over the workload's sizes and returns its
    /// charts: one, or two for the idle connections (memory, CPU).
    ///
    /// # Errors
    ///
    /// If a runtime cannot start, a connection cannot be opened, or
    /// `/proc/self/statm` cannot be read.
    pub fn charts(self) -> io::Result<Vec<NamedChart>> {
        // One list of points per chart, per runtime.
        let mut lines = Vec::new();
        for contender in Contender::ALL {
            lines.push((contender.name(), contender.visit(Measure(self))?));
        }
        let series = |chart: usize| -> Vec<Series> {
            lines
                .iter()
                .map(|(name, points)| Series { name: (*name).to_owned(), points: points[chart].clone() })
                .collect()
        };
        let chart = |name, title: &str, x_label: &str, y_label: &str, y_log, index| NamedChart {
            name,
            chart: Chart {
                title: title.to_owned(),
                x_label: x_label.to_owned(),
                y_label: y_label.to_owned(),
                y_log,
                series: series(index),
            },
        };
        Ok(match self {
            ScalingWorkload::SpawnMany => vec![chart(
                "spawn_many",
                "spawn_many_local: tasks spawned from block_on, each decrementing a counter",
                "tasks per iteration",
                "ns per task",
                true,
                0,
            )],
            ScalingWorkload::Timers => vec![chart(
                "timers",
                "timers: due 1 ms after creation, every second one cancelled",
                "timers per iteration",
                "ns per timer",
                true,
                0,
            )],
            ScalingWorkload::IdleConnections => vec![
                chart(
                    "idle_connections_memory",
                    "idle connections: resident memory growth",
                    "connections (one reading task each)",
                    "bytes per connection",
                    true,
                    0,
                ),
                chart(
                    "idle_connections_cpu",
                    "idle connections: CPU of the runtime's threads",
                    "connections (one reading task each)",
                    "CPU µs per second of idle",
                    false,
                    1,
                ),
            ],
            ScalingWorkload::RemoteSpawn => vec![chart(
                "remote_spawn",
                "remote_spawn: 12,800 tasks spawned from foreign threads",
                "submitting threads",
                "ns per task",
                true,
                0,
            )],
            ScalingWorkload::YieldMany => {
                vec![chart("yield_many", "yield_many: 200 tasks × 1,000 yields", "workers", "ns per yield", true, 0)]
            }
        })
    }
}

/// Measures one workload on one runtime: a list of points per chart.
struct Measure(ScalingWorkload);

impl Visitor for Measure {
    type Output = io::Result<Vec<Vec<(f64, f64)>>>;

    fn visit<R: Runtime>(self) -> Self::Output {
        let cores = crate::harness::cores();
        Ok(match self.0 {
            ScalingWorkload::SpawnMany => {
                let runtime = R::start(cores)?;
                let points = SIZES.map(|n| point(n, n, |budget| workloads::spawn_many_local(&runtime, n, budget)));
                runtime.shutdown();
                vec![points.to_vec()]
            }
            ScalingWorkload::Timers => {
                let runtime = R::start(cores)?;
                let points = SIZES.map(|n| point(n, n, |budget| workloads_loop::timers(&runtime, n, budget)));
                runtime.shutdown();
                vec![points.to_vec()]
            }
            ScalingWorkload::IdleConnections => {
                let (mut memory, mut cpu) = (Vec::new(), Vec::new());
                for count in connection_counts() {
                    let (bytes, cpu_us_per_s) = idle_connections::<R>(cores, count)?;
                    memory.push((count as f64, bytes));
                    cpu.push((count as f64, cpu_us_per_s));
                }
                vec![memory, cpu]
            }
            ScalingWorkload::RemoteSpawn => {
                let runtime = R::start(cores)?;
                let points = THREADS.map(|threads| {
                    point(threads, REMOTE_SPAWN_TASKS, |budget| workloads::remote_spawn(&runtime, threads, budget))
                });
                runtime.shutdown();
                vec![points.to_vec()]
            }
            ScalingWorkload::YieldMany => {
                let mut points = Vec::new();
                for workers in WORKERS {
                    let runtime = R::start(workers)?;
                    points.push(point(workers, YIELDS, |budget| workloads::yield_many(&runtime, budget)));
                    runtime.shutdown();
                }
                vec![points]
            }
        })
    }
}

/// `(x, nanoseconds per item)` for a workload of `items` items per
/// iteration: the median of three samples after a warm-up iteration, or a
/// single sample at a million items and more.
fn point(x: usize, items: usize, mut run: impl FnMut(Duration) -> Timing) -> (f64, f64) {
    let samples = if items >= 1_000_000 { 1 } else { 3 };
    if samples > 1 {
        // One iteration: `timed` runs at least one, whatever the budget.
        run(Duration::ZERO);
    }
    let per_item: Vec<f64> = (0..samples)
        .map(|_| {
            let Timing { elapsed, iterations } = run(BUDGET);
            elapsed.as_secs_f64() * 1e9 / (iterations * items) as f64
        })
        .collect();
    (x as f64, Stats::of(&per_item).median)
}

/// The connection counts that fit in the limit on open files, raised to
/// its hard limit first; the largest that fits stands in for the first
/// that does not.
fn connection_counts() -> Vec<usize> {
    let limit = raise_open_file_limit();
    let fits = limit.saturating_sub(SPARE_DESCRIPTORS) / 2;
    let mut counts: Vec<usize> = CONNECTIONS.iter().map(|&n| n.min(fits)).collect();
    counts.dedup();
    counts
}

/// Raises the soft limit on open files to the hard one; returns the limit
/// now in force.
fn raise_open_file_limit() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` writes into the valid `rlimit` it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
    // SAFETY: `setrlimit` only reads the valid `rlimit` it is given.
    let current = if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 { raised } else { limit };
    usize::try_from(current.rlim_cur).unwrap_or(usize::MAX)
}

/// Opens `count` idle connections on a fresh runtime and returns the
/// resident memory growth per connection and the CPU microseconds its
/// threads spent per second while the connections sat idle.
fn idle_connections<R: Runtime>(workers: usize, count: usize) -> io::Result<(f64, f64)> {
    let runtime = R::start(workers)?;
    let before = memory::resident_bytes()?;
    let connections = IdleConnections::open(&runtime, count)?;
    let after = memory::resident_bytes()?;
    let threads = ThreadCounters::of_threads_named(R::THREADS);
    std::thread::sleep(IDLE_WINDOW);
    let cpu = ThreadCounters::of_threads_named(R::THREADS) - threads;
    connections.close();
    runtime.shutdown();
    memory::release_free_memory();
    let bytes = (after as f64 - before as f64) / count as f64;
    Ok((bytes, cpu.cpu_ns as f64 / 1e3 / IDLE_WINDOW.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_the_time_per_item() {
        let mut calls = 0;
        let (x, ns) = point(10, 1_000, |_budget| {
            calls += 1;
            Timing { elapsed: Duration::from_millis(2), iterations: 2 }
        });
        assert_eq!(x, 10.0);
        // 2 ms over 2 iterations of 1,000 items.
        assert!((ns - 1_000.0).abs() < 1e-6, "{ns}");
        assert_eq!(calls, 4, "a warm-up and three samples");
    }

    #[test]
    fn connection_counts_fit_the_open_file_limit() {
        let limit = raise_open_file_limit();
        let counts = connection_counts();
        assert!(!counts.is_empty());
        assert!(counts.iter().all(|&n| 2 * n + SPARE_DESCRIPTORS <= limit), "{counts:?} within {limit}");
        assert!(counts.windows(2).all(|pair| pair[0] < pair[1]), "{counts:?} ascend");
    }
}
