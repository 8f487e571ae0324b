//! Measuring one row: start the three runtimes, warm up, then take
//! interleaved samples (loopwork, tokio, async-executor, loopwork, ...) so
//! that a burst of load from elsewhere on the machine hits all three alike
//! instead of one runtime's whole series. A sample runs its workload back to
//! back for a fixed time, so every runtime gets the same share of the wall
//! clock and a row's duration does not depend on how slow its slowest
//! runtime happens to be.

use crate::external_load::ExternalLoadRow;
use crate::latency::{percentile, LatencyWorkload};
use crate::memory::{self, HEAP_TASKS, IDLE_TASKS};
use crate::net_workloads::{IdleConnections, IDLE_CONNECTIONS};
use crate::runtime::{AsyncExecutor, Loopwork, Runtime, Tokio};
use crate::threads::ThreadCounters;
use crate::workloads::{Timing, Workload};
use std::io;
use std::marker::PhantomData;
use std::time::Duration;

/// How long the idle CPU row watches an idle runtime per sample.
pub(crate) const IDLE_WINDOW: Duration = Duration::from_secs(2);

/// A runtime in the comparison; the table has one column per contender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// loopwork, the runtime under test.
    Loopwork,
    /// tokio's multi-thread runtime.
    Tokio,
    /// async-executor run by a pool of threads.
    AsyncExecutor,
}

impl Contender {
    /// Every contender, in column (and sampling) order.
    pub const ALL: [Contender; 3] = [Contender::Loopwork, Contender::Tokio, Contender::AsyncExecutor];

    /// The column name.
    pub fn name(self) -> &'static str {
        match self {
            Contender::Loopwork => Loopwork::NAME,
            Contender::Tokio => Tokio::NAME,
            Contender::AsyncExecutor => AsyncExecutor::NAME,
        }
    }

    /// Calls `visitor` with this contender's runtime type: the one place a
    /// runtime value turns into a type.
    pub(crate) fn visit<V: Visitor>(self, visitor: V) -> V::Output {
        match self {
            Contender::Loopwork => visitor.visit::<Loopwork>(),
            Contender::Tokio => visitor.visit::<Tokio>(),
            Contender::AsyncExecutor => visitor.visit::<AsyncExecutor>(),
        }
    }
}

/// Something generic over the runtime, run for one [`Contender`].
pub(crate) trait Visitor {
    /// What the visit returns.
    type Output;
    /// Runs for runtime `R`.
    fn visit<R: Runtime>(self) -> Self::Output;
}

/// A row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    /// Time per iteration of a workload; lower is better.
    Timed(Workload),
    /// A percentile of the round-trip times of a latency workload; lower is
    /// better.
    Latency {
        /// What makes the round trips.
        workload: LatencyWorkload,
        /// Which percentile of them (50: the median, 99: the slowest 1%).
        percentile: u8,
    },
    /// CPU time of the runtime's threads over an idle window, with idle TCP
    /// connections registered; lower is better.
    IdleCpu,
    /// Resident bytes per idle task; lower is better.
    IdleTaskMemory,
    /// Live heap bytes per idle task; lower is better.
    IdleTaskHeap,
    /// How much faster the CPU-bound workload runs on all workers than on
    /// one; higher is better.
    Speedup,
    /// A row measured under a load from outside the runtime.
    ExternalLoad(ExternalLoadRow),
}

impl Row {
    /// Every row, in table order.
    pub fn all() -> Vec<Row> {
        let mut rows: Vec<Row> = Workload::all().into_iter().map(Row::Timed).collect();
        for workload in LatencyWorkload::all() {
            for percentile in [50, 99] {
                rows.push(Row::Latency { workload, percentile });
            }
        }
        rows.extend([Row::Speedup, Row::IdleCpu, Row::IdleTaskMemory, Row::IdleTaskHeap]);
        rows.extend(ExternalLoadRow::all().map(Row::ExternalLoad));
        rows
    }

    /// The row name.
    pub fn name(self) -> String {
        match self {
            Row::Timed(workload) => workload.name(),
            Row::Latency { workload, percentile } => format!("{}/p{percentile}", workload.name()),
            Row::IdleCpu => "idle_cpu".to_owned(),
            Row::IdleTaskMemory => "idle_task_memory".to_owned(),
            Row::IdleTaskHeap => "idle_task_heap".to_owned(),
            Row::Speedup => format!("{}_speedup", Workload::Primes.name()),
            Row::ExternalLoad(row) => row.name(),
        }
    }

    /// One line saying what the row measures.
    pub fn description(self) -> String {
        match self {
            Row::Timed(workload) => workload.description(),
            Row::Latency { workload, percentile } => {
                format!("{}; the p{percentile} of the sample's round trips", workload.description())
            }
            Row::IdleCpu => format!(
                "CPU time of the runtime's own threads over {} s with nothing to do but {} idle TCP connections \
                 registered (one reading task each; the clients are blocking sockets outside the runtime)",
                IDLE_WINDOW.as_secs(),
                group_thousands(IDLE_CONNECTIONS as u64)
            ),
            Row::IdleTaskMemory => format!(
                "resident memory growth per task with {} tasks spawned (in batches of 1,000 from the benchmark \
                 thread), each pending on the runtime's own one-hour sleep after its first poll, in bytes; a \
                 fresh runtime per sample",
                group_thousands(IDLE_TASKS as u64)
            ),
            Row::IdleTaskHeap => format!(
                "live heap growth per task (bytes the runtime asked the allocator for, minus what it freed) \
                 with {} tasks spawned and pending forever: the task allocation plus the task's share of the \
                 runtime's tables, without allocator overhead; a fresh runtime per sample",
                group_thousands(HEAP_TASKS as u64)
            ),
            Row::Speedup => format!(
                "`{}` on one worker divided by its time on all workers (higher is better; the ratio is then \
                 the best peer's speedup over loopwork's)",
                Workload::Primes.name()
            ),
            Row::ExternalLoad(row) => row.description(),
        }
    }

    /// What a sample is.
    pub fn unit(self) -> Unit {
        match self {
            Row::Timed(_) => Unit::Seconds,
            Row::Latency { .. } => Unit::Latency,
            Row::IdleCpu => Unit::CpuSeconds,
            Row::IdleTaskMemory | Row::IdleTaskHeap => Unit::Bytes,
            Row::Speedup => Unit::Speedup,
            Row::ExternalLoad(row) => row.unit(),
        }
    }

    /// The runtimes the row runs on: a loopwork-only row has no peer
    /// equivalent, and its table cell shows loopwork's absolute value.
    pub fn contenders(self) -> &'static [Contender] {
        match self {
            Row::Timed(workload) if workload.loopwork_only() => &[Contender::Loopwork],
            _ => &Contender::ALL,
        }
    }

    /// Whether the runtime's thread counters say something per iteration.
    pub fn counts_threads(self) -> bool {
        matches!(self, Row::Timed(_) | Row::Latency { .. } | Row::IdleCpu | Row::ExternalLoad(_))
    }

    /// Timed runs for this row when `requested` were asked for: the rows
    /// whose sample takes seconds whatever `--sample-ms` says take at most 3.
    pub fn runs(self, requested: usize) -> usize {
        match self {
            Row::IdleCpu | Row::IdleTaskMemory => requested.min(3),
            Row::ExternalLoad(row) => row.runs(requested),
            _ => requested,
        }
    }
}

/// The unit of a row's samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Seconds per iteration.
    Seconds,
    /// Seconds, one round trip.
    Latency,
    /// CPU seconds over a window.
    CpuSeconds,
    /// Bytes per task.
    Bytes,
    /// A ratio of times: higher is better.
    Speedup,
}

impl Unit {
    /// Whether a larger value is the better one.
    pub fn higher_is_better(self) -> bool {
        self == Unit::Speedup
    }

    /// Whether values are durations, shown in s, ms, µs or ns.
    pub fn is_time(self) -> bool {
        matches!(self, Unit::Seconds | Unit::Latency | Unit::CpuSeconds)
    }
}

/// How to measure.
#[derive(Clone, Debug)]
pub struct Options {
    /// Worker threads for every runtime.
    pub workers: usize,
    /// Timed runs after the warm-up round.
    pub runs: usize,
    /// How long one sample runs its workload: iterations back to back until
    /// this is spent (at least one).
    pub sample_time: Duration,
}

/// Everything one row measured.
#[derive(Clone, Debug)]
pub struct RowResult {
    /// The row.
    pub row: Row,
    /// Iterations each contender ran over all timed runs, in
    /// [`Contender::ALL`] order (the runs' count for memory rows).
    pub iterations: Vec<usize>,
    /// The samples of each contender, in [`Contender::ALL`] order; empty for
    /// a contender the row does not run on.
    pub samples: Vec<Vec<f64>>,
    /// What each contender's own threads spent over all timed runs, in
    /// [`Contender::ALL`] order (zero for memory rows).
    pub threads: Vec<ThreadCounters>,
}

/// The summary of one contender's samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// The median sample.
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
}

impl Stats {
    /// Summarizes `samples`.
    ///
    /// # Panics
    ///
    /// If `samples` is empty.
    pub fn of(samples: &[f64]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        // The middle sample, or the mean of the two middle ones.
        let median = (sorted[(n - 1) / 2] + sorted[n / 2]) / 2.0;
        Stats { median, min: sorted[0], max: sorted[n - 1] }
    }
}

impl RowResult {
    /// The summary of `contender`'s samples; `None` if the row does not run
    /// on it.
    pub fn stats(&self, contender: Contender) -> Option<Stats> {
        let index = Contender::ALL.iter().position(|c| *c == contender).expect("a known contender");
        let samples = &self.samples[index];
        (!samples.is_empty()).then(|| Stats::of(samples))
    }

    /// `contender`'s thread counters per iteration: CPU seconds, voluntary
    /// and involuntary context switches.
    pub fn threads_per_iteration(&self, contender: Contender) -> (f64, f64, f64) {
        let index = Contender::ALL.iter().position(|c| *c == contender).expect("a known contender");
        let counters = self.threads[index];
        let iterations = self.iterations[index].max(1) as f64;
        (
            counters.cpu_ns as f64 / 1e9 / iterations,
            counters.voluntary_switches as f64 / iterations,
            counters.involuntary_switches as f64 / iterations,
        )
    }

    /// loopwork's median divided by the best peer's median (for a
    /// higher-is-better unit, the best peer's divided by loopwork's): below 1
    /// means loopwork is ahead; two zeros make 1. `None` for a loopwork-only
    /// row.
    pub fn ratio(&self) -> Option<f64> {
        let loopwork = self.stats(Contender::Loopwork)?.median;
        let peers = Contender::ALL.iter().filter(|c| **c != Contender::Loopwork).filter_map(|c| self.stats(*c));
        let (ahead, behind) = if self.row.unit().higher_is_better() {
            (peers.map(|stats| stats.median).reduce(f64::max)?, loopwork)
        } else {
            (loopwork, peers.map(|stats| stats.median).reduce(f64::min)?)
        };
        // Nothing against nothing (an idle runtime that used no CPU at all
        // against another) is a tie, not NaN.
        Some(if ahead == 0.0 && behind == 0.0 { 1.0 } else { ahead / behind })
    }
}

/// Measures `row` on every contender.
///
/// # Errors
///
/// If a runtime cannot start its threads, or `/proc/self/statm` cannot be
/// read.
pub fn measure(row: Row, options: &Options) -> io::Result<RowResult> {
    let contenders = row.contenders();
    let mut samplers = contenders
        .iter()
        .map(|contender| contender.visit(StartSampler { row, workers: options.workers }))
        .collect::<io::Result<Vec<_>>>()?;
    // Column index of each sampler.
    let columns: Vec<usize> =
        contenders.iter().map(|c| Contender::ALL.iter().position(|all| all == c).expect("a known contender")).collect();

    // The warm-up round, not recorded.
    for sampler in &mut samplers {
        sampler.sample(options.sample_time)?;
    }
    let runs = row.runs(options.runs);
    let mut samples = vec![Vec::with_capacity(runs); Contender::ALL.len()];
    let mut threads = vec![ThreadCounters::default(); Contender::ALL.len()];
    let mut iterations = vec![0; Contender::ALL.len()];
    for _ in 0..runs {
        for (sampler, &i) in samplers.iter_mut().zip(&columns) {
            let sample = sampler.sample(options.sample_time)?;
            samples[i].push(sample.value);
            threads[i] = threads[i] + sample.threads;
            iterations[i] += sample.iterations;
        }
    }
    for sampler in samplers {
        sampler.finish();
    }
    Ok(RowResult { row, iterations, samples, threads })
}

/// One sample of a row on one runtime.
pub(crate) struct Sample {
    /// The value in the row's [`Unit`].
    pub(crate) value: f64,
    /// How many iterations it ran.
    pub(crate) iterations: usize,
    /// What the runtime's own threads spent during the sample.
    pub(crate) threads: ThreadCounters,
}

/// Takes one sample of a row on one runtime.
pub(crate) trait Sampler {
    /// Runs the workload for about `budget`.
    fn sample(&mut self, budget: Duration) -> io::Result<Sample>;
    /// Shuts the runtime down.
    fn finish(self: Box<Self>);
}

struct StartSampler {
    row: Row,
    workers: usize,
}

impl Visitor for StartSampler {
    type Output = io::Result<Box<dyn Sampler>>;

    fn visit<R: Runtime>(self) -> Self::Output {
        let workers = self.workers;
        Ok(match self.row {
            Row::Timed(workload) => Box::new(TimedSampler { runtime: R::start(workers)?, workload, workers }),
            Row::Latency { workload, percentile } => {
                Box::new(LatencySampler { runtime: R::start(workers)?, workload, percentile })
            }
            Row::IdleCpu => {
                let runtime = R::start(workers)?;
                let connections = IdleConnections::open(&runtime, IDLE_CONNECTIONS)?;
                Box::new(IdleCpuSampler { runtime, connections })
            }
            Row::IdleTaskMemory => Box::new(MemorySampler::<R> { workers, heap: false, runtime: PhantomData }),
            Row::IdleTaskHeap => Box::new(MemorySampler::<R> { workers, heap: true, runtime: PhantomData }),
            Row::Speedup => Box::new(SpeedupSampler { one: R::start(1)?, all: R::start(workers)?, workers }),
            Row::ExternalLoad(row) => row.sampler::<R>(workers)?,
        })
    }
}

/// A timed row keeps its runtime for all of its samples, as a criterion
/// benchmark keeps one runtime for all of its iterations.
struct TimedSampler<R> {
    runtime: R,
    workload: Workload,
    workers: usize,
}

impl<R: Runtime> Sampler for TimedSampler<R> {
    fn sample(&mut self, budget: Duration) -> io::Result<Sample> {
        let before = ThreadCounters::of_threads_named(R::THREADS);
        let Timing { elapsed, iterations } = self.workload.run(&self.runtime, self.workers, budget);
        let threads = ThreadCounters::of_threads_named(R::THREADS) - before;
        Ok(Sample { value: elapsed.as_secs_f64() / iterations as f64, iterations, threads })
    }

    fn finish(self: Box<Self>) {
        self.runtime.shutdown();
    }
}

/// A latency row keeps its runtime for all of its samples; a sample's value
/// is a percentile of the round trips it made.
struct LatencySampler<R> {
    runtime: R,
    workload: LatencyWorkload,
    percentile: u8,
}

impl<R: Runtime> Sampler for LatencySampler<R> {
    fn sample(&mut self, budget: Duration) -> io::Result<Sample> {
        let before = ThreadCounters::of_threads_named(R::THREADS);
        let mut round_trips = self.workload.run(&self.runtime, budget)?;
        let threads = ThreadCounters::of_threads_named(R::THREADS) - before;
        let value = percentile(&mut round_trips, self.percentile).as_secs_f64();
        Ok(Sample { value, iterations: round_trips.len(), threads })
    }

    fn finish(self: Box<Self>) {
        self.runtime.shutdown();
    }
}

/// The idle CPU row opens its connections once and watches the runtime
/// for [`IDLE_WINDOW`] per sample.
struct IdleCpuSampler<R> {
    runtime: R,
    connections: IdleConnections,
}

impl<R: Runtime> Sampler for IdleCpuSampler<R> {
    fn sample(&mut self, _budget: Duration) -> io::Result<Sample> {
        let before = ThreadCounters::of_threads_named(R::THREADS);
        std::thread::sleep(IDLE_WINDOW);
        let threads = ThreadCounters::of_threads_named(R::THREADS) - before;
        Ok(Sample { value: threads.cpu_ns as f64 / 1e9, iterations: 1, threads })
    }

    fn finish(self: Box<Self>) {
        self.connections.close();
        self.runtime.shutdown();
    }
}

/// The memory rows start a fresh runtime for every sample.
struct MemorySampler<R> {
    workers: usize,
    /// Live heap bytes instead of resident bytes.
    heap: bool,
    runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime> Sampler for MemorySampler<R> {
    fn sample(&mut self, _budget: Duration) -> io::Result<Sample> {
        let value = if self.heap {
            memory::idle_task_heap_bytes::<R>(self.workers)?
        } else {
            memory::idle_task_bytes::<R>(self.workers)?
        };
        Ok(Sample { value, iterations: 1, threads: ThreadCounters::default() })
    }

    fn finish(self: Box<Self>) {}
}

/// The speedup row keeps a one-worker and an all-workers runtime and times
/// the CPU-bound workload on both per sample.
struct SpeedupSampler<R> {
    one: R,
    all: R,
    workers: usize,
}

impl<R: Runtime> Sampler for SpeedupSampler<R> {
    fn sample(&mut self, budget: Duration) -> io::Result<Sample> {
        let per_iteration = |timing: Timing| timing.elapsed.as_secs_f64() / timing.iterations as f64;
        let one = Workload::Primes.run(&self.one, 1, budget);
        let all = Workload::Primes.run(&self.all, self.workers, budget);
        let value = per_iteration(one) / per_iteration(all);
        Ok(Sample { value, iterations: one.iterations + all.iterations, threads: ThreadCounters::default() })
    }

    fn finish(self: Box<Self>) {
        self.one.shutdown();
        self.all.shutdown();
    }
}

/// `100000` as `100,000`.
pub(crate) fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        let left = digits.len() - i;
        if i > 0 && left / 3 * 3 == left {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The number of cores this process may run on: every runtime's default
/// worker count, and the unit of the oversubscribed rows' spinners.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The value of a program's one count option, `--<flag> N` (the only
/// argument the measurement programs beside `compare` take): `default`
/// without it. When the arguments are anything else, or N is below `min`,
/// prints the usage and exits with status 2.
pub fn count_option(program: &str, flag: &str, default: usize, min: usize) -> usize {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = match args.as_slice() {
        [] => Some(default),
        [given, value] if given.strip_prefix("--") == Some(flag) => value.parse().ok().filter(|&count| count >= min),
        _ => None,
    };
    count.unwrap_or_else(|| {
        eprintln!("usage: {program} [--{flag} N]   (N >= {min}, default {default})");
        std::process::exit(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(Stats::of(&[3.0, 1.0, 2.0]), Stats { median: 2.0, min: 1.0, max: 3.0 });
        assert_eq!(Stats::of(&[4.0, 1.0, 2.0, 3.0]).median, 2.5);
    }

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(7), "7");
        assert_eq!(group_thousands(12_800), "12,800");
        assert_eq!(group_thousands(100_000), "100,000");
        assert_eq!(group_thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn ratio_is_against_the_best_peer() {
        let result = RowResult {
            row: Row::IdleTaskMemory,
            iterations: vec![1; 3],
            samples: vec![vec![150.0], vec![300.0], vec![100.0]],
            threads: vec![ThreadCounters::default(); 3],
        };
        assert_eq!(result.ratio(), Some(1.5));
    }

    #[test]
    fn speedup_ratio_is_inverted_and_loopwork_only_rows_have_none() {
        let speedup = RowResult {
            row: Row::Speedup,
            iterations: vec![1; 3],
            samples: vec![vec![1.6], vec![2.0], vec![1.8]],
            threads: vec![ThreadCounters::default(); 3],
        };
        assert_eq!(speedup.ratio(), Some(2.0 / 1.6));
        let alone = RowResult {
            row: Row::Timed(Workload::AllTasks),
            iterations: vec![1, 0, 0],
            samples: vec![vec![0.01], Vec::new(), Vec::new()],
            threads: vec![ThreadCounters::default(); 3],
        };
        assert_eq!(alone.ratio(), None);
        assert_eq!(alone.stats(Contender::Tokio), None);
    }
}
