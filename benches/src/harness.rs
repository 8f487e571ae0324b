//! Measuring one row: start the three runtimes, warm up, then take
//! interleaved samples (loopwork, tokio, async-executor, loopwork, ...) so
//! that a burst of load from elsewhere on the machine hits all three alike
//! instead of one runtime's whole series. A sample runs its workload back to
//! back for a fixed time, so every runtime gets the same share of the wall
//! clock and a row's duration does not depend on how slow its slowest
//! runtime happens to be.

use crate::memory::{self, IDLE_TASKS};
use crate::runtime::{AsyncExecutor, Loopwork, Runtime, Tokio};
use crate::threads::ThreadCounters;
use crate::workloads::{Timing, Workload};
use std::io;
use std::marker::PhantomData;
use std::time::Duration;

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
    fn visit<V: Visitor>(self, visitor: V) -> V::Output {
        match self {
            Contender::Loopwork => visitor.visit::<Loopwork>(),
            Contender::Tokio => visitor.visit::<Tokio>(),
            Contender::AsyncExecutor => visitor.visit::<AsyncExecutor>(),
        }
    }
}

/// Something generic over the runtime, run for one [`Contender`].
trait Visitor {
    type Output;
    fn visit<R: Runtime>(self) -> Self::Output;
}

/// A row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    /// Time per iteration of a workload; lower is better.
    Timed(Workload),
    /// Resident bytes per idle task; lower is better.
    IdleTaskMemory,
}

impl Row {
    /// Every row, in table order.
    pub fn all() -> Vec<Row> {
        let mut rows: Vec<Row> = Workload::all().into_iter().map(Row::Timed).collect();
        rows.push(Row::IdleTaskMemory);
        rows
    }

    /// The row name.
    pub fn name(self) -> String {
        match self {
            Row::Timed(workload) => workload.name(),
            Row::IdleTaskMemory => "idle_task_memory".to_owned(),
        }
    }

    /// One line saying what the row measures.
    pub fn description(self) -> String {
        match self {
            Row::Timed(workload) => workload.description(),
            Row::IdleTaskMemory => format!(
                "resident memory growth per task with {} tasks spawned (in batches of 1,000 from the benchmark \
                 thread) and pending forever after their first poll, in bytes; a fresh runtime per sample",
                group_thousands(IDLE_TASKS as u64)
            ),
        }
    }

    /// What a sample is.
    pub fn unit(self) -> Unit {
        match self {
            Row::Timed(_) => Unit::Seconds,
            Row::IdleTaskMemory => Unit::Bytes,
        }
    }
}

/// The unit of a row's samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Seconds per iteration.
    Seconds,
    /// Bytes per task.
    Bytes,
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
    /// The samples of each contender, in [`Contender::ALL`] order.
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
    /// The summary of `contender`'s samples.
    pub fn stats(&self, contender: Contender) -> Stats {
        let index = Contender::ALL.iter().position(|c| *c == contender).expect("a known contender");
        Stats::of(&self.samples[index])
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

    /// loopwork's median divided by the best peer's median: below 1 means
    /// loopwork is faster (or smaller).
    pub fn ratio(&self) -> f64 {
        let best_peer = Contender::ALL
            .iter()
            .filter(|c| **c != Contender::Loopwork)
            .map(|c| self.stats(*c).median)
            .fold(f64::INFINITY, f64::min);
        self.stats(Contender::Loopwork).median / best_peer
    }
}

/// Measures `row` on every contender.
///
/// # Errors
///
/// If a runtime cannot start its threads, or `/proc/self/statm` cannot be
/// read.
pub fn measure(row: Row, options: &Options) -> io::Result<RowResult> {
    let mut samplers = Contender::ALL
        .iter()
        .map(|contender| contender.visit(StartSampler { row, workers: options.workers }))
        .collect::<io::Result<Vec<_>>>()?;

    // The warm-up round, not recorded.
    for sampler in &mut samplers {
        sampler.sample(options.sample_time)?;
    }
    let mut samples = vec![Vec::with_capacity(options.runs); samplers.len()];
    let mut threads = vec![ThreadCounters::default(); samplers.len()];
    let mut iterations = vec![0; samplers.len()];
    for _ in 0..options.runs {
        for (i, sampler) in samplers.iter_mut().enumerate() {
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
struct Sample {
    /// The value per iteration: seconds, or bytes per task.
    value: f64,
    /// How many iterations it ran.
    iterations: usize,
    /// What the runtime's own threads spent during the sample.
    threads: ThreadCounters,
}

/// Takes one sample of a row on one runtime.
trait Sampler {
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
        Ok(match self.row {
            Row::Timed(workload) => {
                Box::new(TimedSampler { runtime: R::start(self.workers)?, workload, workers: self.workers })
            }
            Row::IdleTaskMemory => Box::new(MemorySampler::<R> { workers: self.workers, runtime: PhantomData }),
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

/// The memory row starts a fresh runtime for every sample.
struct MemorySampler<R> {
    workers: usize,
    runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime> Sampler for MemorySampler<R> {
    fn sample(&mut self, _budget: Duration) -> io::Result<Sample> {
        let value = memory::idle_task_bytes::<R>(self.workers)?;
        Ok(Sample { value, iterations: 1, threads: ThreadCounters::default() })
    }

    fn finish(self: Box<Self>) {}
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
        assert_eq!(result.ratio(), 1.5);
    }
}
