//! Whose wait makes the tail of `run_coroutine_threadsafe_oversubscribed`:
//! the same round trips, under the same 2 × cores spinning threads, with
//! the benchmark thread's own wait for a core measured around each one.
//!
//! ```text
//! cargo run --release -p loopwork-benches --bin oversubscribed_tail [-- --runs N]
//! ```
//!
//! Around every round trip the benchmark thread reads its `run_delay` from
//! `/proc/thread-self/schedstat`: the time it spent runnable but waiting
//! for a core, whether preempted in the middle of its work or woken and
//! not yet run. It reads the same of each of the runtime's threads (by
//! their names, as `compare`'s threads table counts them), and keeps the
//! longest of their waits. What is left of the round trip once both waits
//! are taken off is time no thread of it spent waiting for a core: the
//! part of the tail a runtime could change. The reads are made outside the
//! timed round trip, and a thread's wait is counted only up to what is left
//! of the round trip.
//!
//! Each run takes one sample of 100 ms per runtime, interleaved as
//! `compare` does, and the table gives the median over the runs of each
//! sample's p99.9 and max of the round trips, of the benchmark thread's
//! wait for a core within them, of the rest, and of the rest less a runtime
//! thread's wait.

use loopwork_benches::{cores, threads_named, AsyncExecutor, Loopwork, Quantile, Runtime, Spawner, Spinners, Tokio};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const SAMPLE: Duration = Duration::from_millis(100);

/// One round trip: how long it took, how much of that the benchmark
/// thread spent waiting for a core, and the longest any one of the
/// runtime's threads spent waiting for a core meanwhile.
#[derive(Clone, Copy)]
struct RoundTrip {
    total: Duration,
    waiting_for_a_core: Duration,
    runtime_thread_waiting: Duration,
}

impl RoundTrip {
    /// The round trip less the benchmark thread's wait for a core.
    fn rest(self) -> Duration {
        self.total - self.waiting_for_a_core
    }

    /// What is left once a runtime thread's wait is taken off the rest too:
    /// time no thread of the round trip spent waiting for a core.
    fn unexplained(self) -> Duration {
        self.rest().saturating_sub(self.runtime_thread_waiting)
    }
}

/// A thread's `run_delay` (nanoseconds runnable without a core), from its
/// `schedstat`, read through one open file.
struct RunDelay {
    schedstat: File,
}

impl RunDelay {
    fn of_current_thread() -> io::Result<RunDelay> {
        Ok(RunDelay { schedstat: File::open("/proc/thread-self/schedstat")? })
    }

    /// The run delays of this process's threads whose names start with one
    /// of `prefixes`.
    fn of_threads_named(prefixes: &[&str]) -> io::Result<Vec<RunDelay>> {
        threads_named(prefixes)
            .into_iter()
            .map(|dir| Ok(RunDelay { schedstat: File::open(dir.join("schedstat"))? }))
            .collect()
    }

    fn read(&self) -> io::Result<Duration> {
        let mut buffer = [0; 128];
        let len = self.schedstat.read_at(&mut buffer, 0)?;
        let text = std::str::from_utf8(&buffer[..len]).map_err(io::Error::other)?;
        // "cpu_ns run_delay_ns timeslices"
        text.split_whitespace()
            .nth(1)
            .and_then(|field| field.parse().ok())
            .map(Duration::from_nanos)
            .ok_or_else(|| io::Error::other(format!("unexpected schedstat {text:?}")))
    }
}

/// One sample on `runtime`: round trips for [`SAMPLE`] under the spinners.
fn sample<R: Runtime>(runtime: &R) -> io::Result<Vec<RoundTrip>> {
    let spawner = runtime.spawner();
    let run_delay = RunDelay::of_current_thread()?;
    let runtime_threads = RunDelay::of_threads_named(R::THREADS)?;
    let read_runtime_threads = || runtime_threads.iter().map(RunDelay::read).collect::<io::Result<Vec<Duration>>>();
    let mut round_trips = Vec::new();
    let mut value = 0u64;
    let spinners = Spinners::start(2 * cores())?;
    let start = Instant::now();
    while start.elapsed() < SAMPLE {
        let runtime_before = read_runtime_threads()?;
        let delay_before = run_delay.read()?;
        let submitted = Instant::now();
        let answer = spawner.run_coroutine_threadsafe(async move { value + 1 });
        let total = submitted.elapsed();
        let waited = run_delay.read()? - delay_before;
        let runtime_waited = read_runtime_threads()?
            .into_iter()
            .zip(&runtime_before)
            .map(|(after, before)| after - *before)
            .max()
            .unwrap_or_default();
        assert_eq!(answer, value + 1);
        value = answer;
        let waiting_for_a_core = waited.min(total);
        round_trips.push(RoundTrip {
            total,
            waiting_for_a_core,
            runtime_thread_waiting: runtime_waited.min(total - waiting_for_a_core),
        });
    }
    spinners.stop();
    Ok(round_trips)
}

/// What one sample gives the table.
#[derive(Clone, Copy, Default)]
struct Summary {
    p999: Duration,
    max: Duration,
    p999_waiting: Duration,
    max_waiting: Duration,
    p999_rest: Duration,
    max_rest: Duration,
    p999_unexplained: Duration,
    max_unexplained: Duration,
    /// Of the round trips over 1 ms, how many the benchmark thread spent
    /// more than half waiting for a core, and how many there were.
    slow_mostly_waiting: usize,
    slow: usize,
}

fn summarize(round_trips: &[RoundTrip]) -> Summary {
    let quantiles = |mut values: Vec<Duration>| (Quantile::P999.of(&mut values), Quantile::Max.of(&mut values));
    let (p999, max) = quantiles(round_trips.iter().map(|trip| trip.total).collect());
    let (p999_waiting, max_waiting) = quantiles(round_trips.iter().map(|trip| trip.waiting_for_a_core).collect());
    let (p999_rest, max_rest) = quantiles(round_trips.iter().map(|trip| trip.rest()).collect());
    let (p999_unexplained, max_unexplained) = quantiles(round_trips.iter().map(|trip| trip.unexplained()).collect());
    let slow: Vec<&RoundTrip> = round_trips.iter().filter(|trip| trip.total > Duration::from_millis(1)).collect();
    Summary {
        p999,
        max,
        p999_waiting,
        max_waiting,
        p999_rest,
        max_rest,
        p999_unexplained,
        max_unexplained,
        slow_mostly_waiting: slow.iter().filter(|trip| trip.waiting_for_a_core * 2 > trip.total).count(),
        slow: slow.len(),
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

fn line(name: &str, summaries: &[Summary]) -> String {
    let column = |field: fn(&Summary) -> Duration| median(summaries.iter().map(field).collect());
    let slow: usize = summaries.iter().map(|summary| summary.slow).sum();
    let mostly_waiting: usize = summaries.iter().map(|summary| summary.slow_mostly_waiting).sum();
    format!(
        "| {name} | {:.2?} / {:.2?} | {:.2?} / {:.2?} | {:.2?} / {:.2?} | {:.2?} / {:.2?} | {mostly_waiting} of {slow} |",
        column(|summary| summary.p999),
        column(|summary| summary.max),
        column(|summary| summary.p999_waiting),
        column(|summary| summary.max_waiting),
        column(|summary| summary.p999_rest),
        column(|summary| summary.max_rest),
        column(|summary| summary.p999_unexplained),
        column(|summary| summary.max_unexplained),
    )
}

fn run(runs: usize) -> io::Result<()> {
    let workers = cores();
    let (loopwork, tokio, async_executor) =
        (Loopwork::start(workers)?, Tokio::start(workers)?, AsyncExecutor::start(workers)?);
    let mut summaries = [Vec::new(), Vec::new(), Vec::new()];
    // One warm-up round, then the runs, interleaved.
    for run in 0..=runs {
        let round = [sample(&loopwork)?, sample(&tokio)?, sample(&async_executor)?];
        if run > 0 {
            for (summaries, round_trips) in summaries.iter_mut().zip(&round) {
                summaries.push(summarize(round_trips));
            }
        }
    }
    loopwork.shutdown();
    tokio.shutdown();
    async_executor.shutdown();
    println!(
        "| runtime | round trip p99.9 / max | benchmark thread waiting for a core, p99.9 / max \
         | the rest, p99.9 / max | the rest less a runtime thread's wait for a core, p99.9 / max \
         | round trips over 1 ms spent mostly waiting for a core |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, summaries) in [Loopwork::NAME, Tokio::NAME, AsyncExecutor::NAME].into_iter().zip(&summaries) {
        println!("{}", line(name, summaries));
    }
    Ok(())
}

fn main() -> ExitCode {
    let runs = loopwork_benches::count_option("oversubscribed_tail", "runs", 20, 1);
    match run(runs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("oversubscribed_tail: {err}");
            ExitCode::FAILURE
        }
    }
}
