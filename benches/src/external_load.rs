//! Rows measured while something outside the runtime loads the machine:
//! plain threads spinning on the CPU, twice as many as there are cores, so
//! that no core is ever free (the oversubscribed rows), or a foreign thread
//! submitting one empty task every millisecond to an otherwise idle runtime
//! (`idle_cpu_trickle`, what a worker's spin-before-park costs when work
//! arrives just often enough to keep waking it).
//!
//! The spinners run only while their runtime's sample is taken, and are
//! stopped and joined before the next runtime's sample starts.

use crate::harness::{cores, group_thousands, Sample, Sampler, Unit, IDLE_WINDOW};
use crate::latency::{per_mille, LatencyWorkload};
use crate::runtime::{Runtime, Spawner};
use crate::threads::ThreadCounters;
use crate::workloads::Workload;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the trickle submits a task.
const TRICKLE_PERIOD: Duration = Duration::from_millis(1);

/// Which statistic of a sample's round trips a row reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantile {
    /// The median.
    P50,
    /// The slowest 1%.
    P99,
    /// The slowest 0.1%.
    P999,
    /// The slowest round trip of the sample.
    Max,
}

impl Quantile {
    /// The statistic's name in a row's name: `p50`, `p99`, `p99.9`, `max`.
    pub fn name(self) -> &'static str {
        match self {
            Quantile::P50 => "p50",
            Quantile::P99 => "p99",
            Quantile::P999 => "p99.9",
            Quantile::Max => "max",
        }
    }

    /// This statistic of `round_trips`, nearest rank (sorts them).
    ///
    /// # Panics
    ///
    /// If `round_trips` is empty.
    pub fn of(self, round_trips: &mut [Duration]) -> Duration {
        let thousandths = match self {
            Quantile::P50 => 500,
            Quantile::P99 => 990,
            Quantile::P999 => 999,
            Quantile::Max => 1000,
        };
        per_mille(round_trips, thousandths)
    }
}

/// A row measured under a load from outside the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternalLoadRow {
    /// `run_coroutine_threadsafe` round trips with 2 × cores spinners.
    RunCoroutineThreadsafe(Quantile),
    /// `spawn_many_remote_idle` with 2 × cores spinners.
    SpawnManyRemote,
    /// CPU time of an otherwise idle runtime that gets one empty task per
    /// millisecond from a foreign thread.
    IdleCpuTrickle,
}

impl ExternalLoadRow {
    /// Every such row, in table order.
    pub(crate) fn all() -> [ExternalLoadRow; 6] {
        [
            ExternalLoadRow::RunCoroutineThreadsafe(Quantile::P50),
            ExternalLoadRow::RunCoroutineThreadsafe(Quantile::P99),
            ExternalLoadRow::RunCoroutineThreadsafe(Quantile::P999),
            ExternalLoadRow::RunCoroutineThreadsafe(Quantile::Max),
            ExternalLoadRow::SpawnManyRemote,
            ExternalLoadRow::IdleCpuTrickle,
        ]
    }

    /// The row name.
    pub(crate) fn name(self) -> String {
        match self {
            ExternalLoadRow::RunCoroutineThreadsafe(quantile) => {
                format!("{}_oversubscribed/{}", LatencyWorkload::RunCoroutineThreadsafe.name(), quantile.name())
            }
            ExternalLoadRow::SpawnManyRemote => "spawn_many_remote_oversubscribed".to_owned(),
            ExternalLoadRow::IdleCpuTrickle => "idle_cpu_trickle".to_owned(),
        }
    }

    /// One line saying what the row measures.
    pub(crate) fn description(self) -> String {
        const SPINNERS: &str = "while 2 × cores plain threads outside every runtime spin on the CPU (started \
             before the sample, stopped and joined after it)";
        match self {
            ExternalLoadRow::RunCoroutineThreadsafe(quantile) => format!(
                "`run_coroutine_threadsafe`'s round trips {SPINNERS}; the {} of the sample's round trips",
                quantile.name()
            ),
            ExternalLoadRow::SpawnManyRemote => format!("`spawn_many_remote_idle` {SPINNERS}"),
            ExternalLoadRow::IdleCpuTrickle => format!(
                "CPU time of the runtime's own threads over {} s while a foreign thread spawns and detaches one \
                 empty task every {} ms ({} tasks), and nothing else runs",
                IDLE_WINDOW.as_secs(),
                TRICKLE_PERIOD.as_millis(),
                group_thousands((IDLE_WINDOW.as_nanos() / TRICKLE_PERIOD.as_nanos()) as u64)
            ),
        }
    }

    /// What a sample is.
    pub(crate) fn unit(self) -> Unit {
        match self {
            ExternalLoadRow::RunCoroutineThreadsafe(_) => Unit::Latency,
            ExternalLoadRow::SpawnManyRemote => Unit::Seconds,
            ExternalLoadRow::IdleCpuTrickle => Unit::CpuSeconds,
        }
    }

    /// Timed runs when `requested` were asked for: the trickle's sample
    /// takes [`IDLE_WINDOW`] whatever the budget, so it takes at most 3.
    pub(crate) fn runs(self, requested: usize) -> usize {
        match self {
            ExternalLoadRow::IdleCpuTrickle => requested.min(3),
            _ => requested,
        }
    }

    /// Starts runtime `R` with `workers` workers and returns the sampler
    /// that measures this row on it.
    pub(crate) fn sampler<R: Runtime>(self, workers: usize) -> io::Result<Box<dyn Sampler>> {
        Ok(Box::new(ExternalLoadSampler { runtime: R::start(workers)?, row: self, workers }))
    }
}

struct ExternalLoadSampler<R> {
    runtime: R,
    row: ExternalLoadRow,
    workers: usize,
}

impl<R: Runtime> Sampler for ExternalLoadSampler<R> {
    fn sample(&mut self, budget: Duration) -> io::Result<Sample> {
        let before = ThreadCounters::of_threads_named(R::THREADS);
        // The value, unless it is the CPU time the counters measure.
        let (measured, iterations) = match self.row {
            ExternalLoadRow::RunCoroutineThreadsafe(quantile) => {
                let spinners = Spinners::start(2 * cores())?;
                let mut round_trips = LatencyWorkload::RunCoroutineThreadsafe.run(&self.runtime, budget)?;
                spinners.stop();
                (Some(quantile.of(&mut round_trips).as_secs_f64()), round_trips.len())
            }
            ExternalLoadRow::SpawnManyRemote => {
                let spinners = Spinners::start(2 * cores())?;
                let timing = Workload::SpawnManyRemoteIdle.run(&self.runtime, self.workers, budget);
                spinners.stop();
                (Some(timing.elapsed.as_secs_f64() / timing.iterations as f64), timing.iterations)
            }
            ExternalLoadRow::IdleCpuTrickle => (None, trickle(&self.runtime.spawner(), IDLE_WINDOW, TRICKLE_PERIOD)),
        };
        let threads = ThreadCounters::of_threads_named(R::THREADS) - before;
        let value = measured.unwrap_or(threads.cpu_ns as f64 / 1e9);
        Ok(Sample { value, iterations, threads })
    }

    fn finish(self: Box<Self>) {
        self.runtime.shutdown();
    }
}

/// The oversubscribed round trips without any runtime: one sample of the
/// same round trips, for `budget` (at least one), between the calling
/// thread and a plain thread answering over `std::sync::mpsc` channels,
/// with the same 2 × cores spinners. Neither side spins before it sleeps,
/// so every wait costs what the kernel's scheduler makes a sleeping thread
/// wait while no core is free. Returns the sample's p50, p99, p99.9 and
/// max.
///
/// # Errors
///
/// If a spinner or the answering thread cannot be started.
pub fn thread_round_trip_baseline(budget: Duration) -> io::Result<[(Quantile, Duration); 4]> {
    let (request_tx, request_rx) = std::sync::mpsc::channel::<u64>();
    let (reply_tx, reply_rx) = std::sync::mpsc::channel::<u64>();
    let answerer = std::thread::Builder::new().name("baseline-answerer".to_owned()).spawn(move || {
        for request in request_rx {
            if reply_tx.send(request + 1).is_err() {
                return;
            }
        }
    })?;
    let spinners = Spinners::start(2 * cores())?;
    let mut round_trips = Vec::new();
    let start = Instant::now();
    loop {
        let sent = Instant::now();
        request_tx.send(1).expect("the answerer runs until the request channel closes");
        reply_rx.recv().expect("the answerer replies to every request");
        round_trips.push(sent.elapsed());
        if start.elapsed() >= budget {
            break;
        }
    }
    spinners.stop();
    drop(request_tx);
    answerer.join().expect("the answerer does not panic");
    Ok([Quantile::P50, Quantile::P99, Quantile::P999, Quantile::Max]
        .map(|quantile| (quantile, quantile.of(&mut round_trips))))
}

/// Spawns and detaches one empty task every `period` for `window`, on a
/// schedule fixed in advance (a late submission does not push the later
/// ones back); returns how many it submitted.
fn trickle<S: Spawner>(spawner: &S, window: Duration, period: Duration) -> usize {
    let start = Instant::now();
    let mut submitted = 0;
    let mut next = start;
    while next < start + window {
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        spawner.spawn_detached(async {});
        submitted += 1;
        next += period;
    }
    submitted
}

/// Plain threads spinning on the CPU until stopped; dropping them stops
/// and joins them too, so no spinner outlives its sample even when the
/// sample fails.
#[derive(Debug)]
pub struct Spinners {
    running: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Spinners {
    /// Starts `count` spinning threads.
    ///
    /// # Errors
    ///
    /// If a thread cannot be started (those started so far are stopped).
    pub fn start(count: usize) -> io::Result<Spinners> {
        let mut spinners = Spinners { running: Arc::new(AtomicBool::new(true)), threads: Vec::with_capacity(count) };
        for index in 0..count {
            let running = spinners.running.clone();
            let thread = std::thread::Builder::new().name(format!("spinner-{index}")).spawn(move || {
                // Relaxed is enough: the flag carries no data, and the
                // join in `stop` is what the sampler waits on.
                while running.load(Relaxed) {
                    std::hint::spin_loop();
                }
            })?;
            spinners.threads.push(thread);
        }
        Ok(spinners)
    }

    /// Stops every spinner and waits for it to end.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        self.running.store(false, Relaxed);
        for thread in self.threads.drain(..) {
            // A spinner cannot panic; if it did, it printed its panic.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process's threads whose name starts with `spinner-`.
    fn spinner_threads() -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter(|task| std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.starts_with("spinner-")))
            .count()
    }

    /// Waits up to 10 s for `count` spinner threads to be listed.
    fn wait_for_spinner_threads(count: usize) -> usize {
        let give_up = Instant::now() + Duration::from_secs(10);
        // A new thread names itself, and an exited one leaves the list a
        // moment after its join returns.
        while spinner_threads() != count && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(1));
        }
        spinner_threads()
    }

    #[test]
    fn spinners_run_until_stopped_and_are_joined() {
        let spinners = Spinners::start(3).unwrap();
        assert_eq!(wait_for_spinner_threads(3), 3);
        spinners.stop();
        assert_eq!(wait_for_spinner_threads(0), 0);
    }

    #[test]
    fn a_trickle_submits_one_task_per_period_of_its_window() {
        let runtime = crate::runtime::Loopwork::start(1).unwrap();
        // A fixed schedule: however late the thread wakes, the count is
        // the window over the period.
        let submitted = trickle(&runtime.spawner(), Duration::from_millis(20), Duration::from_millis(1));
        runtime.shutdown();
        assert_eq!(submitted, 20);
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut trips: Vec<Duration> = (1..=2000).map(Duration::from_micros).collect();
        assert_eq!(Quantile::P50.of(&mut trips), Duration::from_micros(1000));
        assert_eq!(Quantile::P99.of(&mut trips), Duration::from_micros(1980));
        assert_eq!(Quantile::P999.of(&mut trips), Duration::from_micros(1998));
        assert_eq!(Quantile::Max.of(&mut trips), Duration::from_micros(2000));
    }
}
