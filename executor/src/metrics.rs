//! Runtime metrics: what the loop's threads have done, counted as they do
//! it, and read as a snapshot from any thread (`Handle::metrics`).
//!
//! Every per-worker counter lives in that worker's own cache line and only
//! that worker writes it: an increment is a load and a store, never a
//! read-modify-write, and no two threads write one line on the hot path.
//! The per-poll counter is the slow-poll monitor's (`PollSlot`), which the
//! worker bumps anyway, so counting polls costs nothing more. Reading takes
//! no lock a worker could wait for: it loads the counters, which may be a
//! few events apart from one another, never torn and never going backwards.

use crate::scheduler::PollSlot;
use crossbeam_utils::CachePadded;
use std::fmt;
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The number of buckets of the poll-time histogram.
pub(crate) const POLL_TIME_BUCKETS: usize = 20;

/// The upper bound of the histogram's first bucket; each next bucket's
/// bound doubles (1.024 µs, 2.048 µs, ... 268 ms, then everything longer).
/// A power of two of nanoseconds, so the bucket is a leading-zeros count.
const FIRST_BUCKET_NANOS: u64 = 1 << 10;

/// Adds `by` to a counter only its owner writes: a load and a store, which
/// compile to plain moves. Relaxed is enough: readers want a recent value,
/// and nothing else is published through it.
fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(by), Ordering::Relaxed);
}

/// What one worker counts, in its own cache line (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    steal_operations: AtomicU64,
    stolen_tasks: AtomicU64,
    parks: AtomicU64,
    lifo_hits: AtomicU64,
    busy: BusyClock,
    /// Filled only in debug mode, which times every poll.
    poll_times: [AtomicU64; POLL_TIME_BUCKETS],
}

impl WorkerCounters {
    /// One steal from another worker's queue moved `tasks` tasks.
    pub(crate) fn stole(&self, tasks: usize) {
        bump(&self.steal_operations, 1);
        bump(&self.stolen_tasks, tasks as u64);
    }

    /// The worker ran the task in its LIFO slot.
    pub(crate) fn lifo_hit(&self) {
        bump(&self.lifo_hits, 1);
    }

    /// The worker found no work and is about to sleep.
    pub(crate) fn parking(&self, now: Instant) {
        bump(&self.parks, 1);
        self.busy.stop(now);
    }

    /// The worker woke (or started) and is looking for work again.
    pub(crate) fn unparked(&self, now: Instant) {
        self.busy.start(now);
    }

    /// Counts one timed poll in the histogram.
    pub(crate) fn record_poll_time(&self, elapsed: Duration) {
        bump(&self.poll_times[bucket_of(elapsed)], 1);
    }
}

/// The histogram bucket of a poll that took `elapsed`.
fn bucket_of(elapsed: Duration) -> usize {
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX) / FIRST_BUCKET_NANOS;
    ((u64::BITS - nanos.leading_zeros()) as usize).min(POLL_TIME_BUCKETS - 1)
}

/// A worker's busy time: the sum of its finished busy periods, and the
/// start of the current one (0 while parked), published together under a
/// sequence number so a reader never adds a period twice or misses one.
///
/// Only the worker writes (at unpark and at park, which cost syscalls
/// already), so the writer side needs no lock; a reader retries if the
/// worker wrote meanwhile, which it does at most twice per park.
#[derive(Debug, Default)]
struct BusyClock {
    /// Odd while the worker is writing.
    sequence: AtomicU64,
    /// Nanoseconds in finished busy periods.
    total: AtomicU64,
    /// Nanoseconds since `task::EPOCH` when the current busy period began
    /// (plus one, so that 0 can mean parked).
    since: AtomicU64,
}

impl BusyClock {
    fn start(&self, now: Instant) {
        self.write(|clock| clock.since.store(crate::task::since_epoch(now) + 1, Ordering::Relaxed));
    }

    fn stop(&self, now: Instant) {
        self.write(|clock| {
            let since = clock.since.load(Ordering::Relaxed);
            if since != 0 {
                let busy = (crate::task::since_epoch(now) + 1).saturating_sub(since);
                clock.total.store(clock.total.load(Ordering::Relaxed) + busy, Ordering::Relaxed);
                clock.since.store(0, Ordering::Relaxed);
            }
        });
    }

    /// The writer side of a sequence lock.
    fn write(&self, update: impl FnOnce(&BusyClock)) {
        let sequence = self.sequence.load(Ordering::Relaxed);
        self.sequence.store(sequence.wrapping_add(1), Ordering::Relaxed);
        // Pairs with the Acquire fence in `read`: a reader that sees any of
        // the stores below also sees the odd sequence number.
        fence(Ordering::Release);
        update(self);
        // Release pairs with the Acquire load that begins `read`: a reader
        // that sees the even number sees every store above.
        self.sequence.store(sequence.wrapping_add(2), Ordering::Release);
    }

    /// The busy time up to `now`, counting the period in progress.
    fn read(&self, now: Instant) -> Duration {
        loop {
            // Acquire: see `write`.
            let before = self.sequence.load(Ordering::Acquire);
            let total = self.total.load(Ordering::Relaxed);
            let since = self.since.load(Ordering::Relaxed);
            // Pairs with the Release fence in `write`.
            fence(Ordering::Acquire);
            if before % 2 == 0 && self.sequence.load(Ordering::Relaxed) == before {
                let current = if since == 0 { 0 } else { (crate::task::since_epoch(now) + 1).saturating_sub(since) };
                return Duration::from_nanos(total + current);
            }
            std::hint::spin_loop();
        }
    }
}

/// Every worker's counters, indexed like the workers.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) workers: Box<[CachePadded<WorkerCounters>]>,
}

impl Counters {
    /// One set per worker, or one for the strict-mode driver.
    pub(crate) fn new(threads: usize) -> Counters {
        Counters { workers: (0..threads.max(1)).map(|_| CachePadded::default()).collect() }
    }
}

/// What the loop as a whole reports beside the per-worker counters.
pub(crate) struct LoopGauges {
    pub(crate) alive_tasks: usize,
    pub(crate) spawned_tasks: u64,
    pub(crate) injector_depth: usize,
    pub(crate) callbacks_queued: usize,
    pub(crate) timers_pending: usize,
    pub(crate) io_sources: usize,
    pub(crate) blocking_threads: usize,
    pub(crate) blocking_threads_idle: usize,
}

/// Takes a snapshot: `slots` are the slow-poll monitor's (their poll
/// counts are the polls), `depths` the workers' local queue lengths.
pub(crate) fn snapshot(
    gauges: LoopGauges,
    counters: &Counters,
    slots: &[CachePadded<PollSlot>],
    depths: impl Iterator<Item = usize>,
) -> RuntimeMetrics {
    let now = Instant::now();
    let mut histogram = [0; POLL_TIME_BUCKETS];
    for worker in counters.workers.iter() {
        for (sum, bucket) in histogram.iter_mut().zip(worker.poll_times.iter()) {
            // Relaxed: see `bump`.
            *sum += bucket.load(Ordering::Relaxed);
        }
    }
    // Relaxed loads below: see `bump`.
    let workers = counters
        .workers
        .iter()
        .zip(slots.iter())
        .zip(depths)
        .map(|((worker, slot), local_queue_depth)| WorkerMetrics {
            polls: slot.polls(),
            steal_operations: worker.steal_operations.load(Ordering::Relaxed),
            stolen_tasks: worker.stolen_tasks.load(Ordering::Relaxed),
            parks: worker.parks.load(Ordering::Relaxed),
            lifo_hits: worker.lifo_hits.load(Ordering::Relaxed),
            local_queue_depth,
            busy_duration: worker.busy.read(now),
        })
        .collect();
    RuntimeMetrics {
        gauges,
        // The strict-mode driver's slot is no worker's, but its polls count.
        total_polls: slots.iter().map(|slot| slot.polls()).sum(),
        workers,
        poll_times: PollTimeHistogram { counts: histogram },
    }
}

/// A snapshot of a loop's counters, from [`Handle::metrics`](crate::Handle::metrics).
///
/// Counters (`spawned_tasks`, `polls`, `steal_operations`, ...) only grow;
/// gauges (`alive_tasks`, the queue depths, `timers_pending`, ...) are the
/// value at the moment of the snapshot. Each is read on its own, so two of
/// them may be a few events apart; none is torn.
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
/// event_loop.block_on(async {
///     loopwork::spawn(async {}).await.unwrap();
/// });
/// let metrics = event_loop.handle().metrics();
/// // The spawned task, and the task block_on ran its future as.
/// assert_eq!(metrics.spawned_tasks(), 2);
/// assert_eq!(metrics.alive_tasks(), 0);
/// assert_eq!(metrics.workers(), 0);
/// ```
pub struct RuntimeMetrics {
    gauges: LoopGauges,
    total_polls: u64,
    workers: Vec<WorkerMetrics>,
    poll_times: PollTimeHistogram,
}

impl RuntimeMetrics {
    /// The number of worker threads (0 in strict mode).
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(2).build().unwrap();
    /// assert_eq!(event_loop.handle().metrics().workers(), 2);
    /// ```
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// The tasks spawned and not finished yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let _task = event_loop.handle().spawn(std::future::pending::<()>()).unwrap();
    /// assert_eq!(event_loop.handle().metrics().alive_tasks(), 1);
    /// ```
    pub fn alive_tasks(&self) -> usize {
        self.gauges.alive_tasks
    }

    /// The tasks spawned since the loop was built, counting the task each
    /// `block_on` runs its future as (asyncio's `run_until_complete` wraps
    /// its coroutine in a task too). Callbacks are not tasks and do not
    /// count, in strict mode either.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// event_loop.block_on(async {
    ///     loopwork::spawn(async {}).await.unwrap();
    /// });
    /// assert_eq!(event_loop.handle().metrics().spawned_tasks(), 2);
    /// ```
    pub fn spawned_tasks(&self) -> u64 {
        self.gauges.spawned_tasks
    }

    /// The tasks waiting in the global queue (the injector): spawned or
    /// woken from outside the loop's threads and not yet taken by a worker.
    /// In strict mode, the whole run queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
    /// let _task = event_loop.handle().spawn(async {}).unwrap();
    /// assert_eq!(event_loop.handle().metrics().injector_depth(), 1);
    /// ```
    pub fn injector_depth(&self) -> usize {
        self.gauges.injector_depth
    }

    /// The callbacks (`call_soon`, `call_soon_threadsafe`, done callbacks)
    /// waiting to run. In strict mode callbacks wait in the run queue
    /// instead, as tasks, and this is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// assert_eq!(event_loop.handle().metrics().callbacks_queued(), 0);
    /// ```
    pub fn callbacks_queued(&self) -> usize {
        self.gauges.callbacks_queued
    }

    /// The timers set and not yet fired or cancelled (`sleep`, `timeout`,
    /// `call_later`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let timer = event_loop.handle().call_later(std::time::Duration::from_secs(60), || {}).unwrap();
    /// assert_eq!(event_loop.handle().metrics().timers_pending(), 1);
    /// timer.cancel();
    /// assert_eq!(event_loop.handle().metrics().timers_pending(), 0);
    /// ```
    pub fn timers_pending(&self) -> usize {
        self.gauges.timers_pending
    }

    /// The I/O sources (sockets, pipes, any `Async<T>`) registered with the
    /// loop's reactor.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let listener = event_loop.block_on(async { loopwork::net::TcpListener::bind("127.0.0.1:0") })?;
    /// assert_eq!(event_loop.handle().metrics().io_sources(), 1);
    /// drop(listener);
    /// assert_eq!(event_loop.handle().metrics().io_sources(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_sources(&self) -> usize {
        self.gauges.io_sources
    }

    /// The threads of the loop's blocking pool (`run_in_executor`), busy or
    /// idle; 0 until the pool is first used.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// event_loop.block_on(async { loopwork::run_in_executor(|| ()).await.unwrap() });
    /// let metrics = event_loop.handle().metrics();
    /// assert_eq!(metrics.blocking_threads(), 1);
    /// assert!(metrics.blocking_threads_idle() <= 1);
    /// ```
    pub fn blocking_threads(&self) -> usize {
        self.gauges.blocking_threads
    }

    /// The blocking pool's threads waiting for a job.
    ///
    /// # Examples
    ///
    /// See [`blocking_threads`](RuntimeMetrics::blocking_threads).
    pub fn blocking_threads_idle(&self) -> usize {
        self.gauges.blocking_threads_idle
    }

    /// Polls since the loop was built, by every thread that runs tasks
    /// (the workers, or the strict-mode thread inside `block_on`). A
    /// callback run counts as a poll, as asyncio counts a task's step as a
    /// callback. `block_on`'s own future is not a task and does not count.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
    /// event_loop.block_on(async {
    ///     loopwork::spawn(async { loopwork::yield_now().await }).await.unwrap();
    /// });
    /// assert_eq!(event_loop.handle().metrics().polls(), 2);
    /// ```
    pub fn polls(&self) -> u64 {
        self.total_polls
    }

    /// Each worker's counters, by worker index (empty in strict mode).
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(2).build().unwrap();
    /// let metrics = event_loop.handle().metrics();
    /// let polls: u64 = metrics.worker_metrics().iter().map(|w| w.polls()).sum();
    /// assert_eq!(polls, metrics.polls());
    /// ```
    pub fn worker_metrics(&self) -> &[WorkerMetrics] {
        &self.workers
    }

    /// How long polls took, over every worker. Filled only by a loop built
    /// with [`Builder::debug`](crate::Builder::debug), which times every
    /// poll (two clock reads each); empty otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(1).debug(true).build().unwrap();
    /// event_loop.block_on(async { loopwork::spawn(async {}).await.unwrap() });
    /// // Closing joins the worker, which times a poll after it returns.
    /// event_loop.close();
    /// assert_eq!(event_loop.handle().metrics().poll_times().total(), 1);
    /// ```
    pub fn poll_times(&self) -> &PollTimeHistogram {
        &self.poll_times
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("workers", &self.workers())
            .field("alive_tasks", &self.alive_tasks())
            .field("spawned_tasks", &self.spawned_tasks())
            .field("injector_depth", &self.injector_depth())
            .field("callbacks_queued", &self.callbacks_queued())
            .field("timers_pending", &self.timers_pending())
            .field("io_sources", &self.io_sources())
            .field("blocking_threads", &self.blocking_threads())
            .field("blocking_threads_idle", &self.blocking_threads_idle())
            .field("polls", &self.polls())
            .field("worker_metrics", &self.workers)
            .field("poll_times", &self.poll_times)
            .finish()
    }
}

/// One worker's counters, in a [`RuntimeMetrics`].
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::builder().workers(1).build().unwrap();
/// event_loop.block_on(async { loopwork::spawn(async {}).await.unwrap() });
/// let worker = event_loop.handle().metrics().worker_metrics()[0].clone();
/// assert_eq!(worker.polls(), 1);
/// assert_eq!(worker.steal_operations(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerMetrics {
    polls: u64,
    steal_operations: u64,
    stolen_tasks: u64,
    parks: u64,
    lifo_hits: u64,
    local_queue_depth: usize,
    busy_duration: Duration,
}

impl WorkerMetrics {
    /// Tasks polled and callbacks run by this worker.
    ///
    /// # Examples
    ///
    /// See [`WorkerMetrics`].
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// Successful steals from another worker's queue (each moves up to
    /// half of the victim's queue).
    ///
    /// # Examples
    ///
    /// See [`WorkerMetrics`].
    pub fn steal_operations(&self) -> u64 {
        self.steal_operations
    }

    /// The tasks those steals moved.
    ///
    /// # Examples
    ///
    /// See [`WorkerMetrics`].
    pub fn stolen_tasks(&self) -> u64 {
        self.stolen_tasks
    }

    /// How many times the worker went to sleep for lack of work.
    ///
    /// # Examples
    ///
    /// See [`WorkerMetrics`].
    pub fn parks(&self) -> u64 {
        self.parks
    }

    /// Tasks run from the LIFO slot (woken or spawned by this worker and
    /// run next, while their data is in cache).
    ///
    /// # Examples
    ///
    /// See [`WorkerMetrics`].
    pub fn lifo_hits(&self) -> u64 {
        self.lifo_hits
    }

    /// The tasks in this worker's own queue (not counting the LIFO slot).
    ///
    /// # Examples
    ///
    /// See [`WorkerMetrics`].
    pub fn local_queue_depth(&self) -> usize {
        self.local_queue_depth
    }

    /// The time this worker spent awake: running tasks and callbacks,
    /// driving the reactor without waiting, and searching for work.
    ///
    /// # Examples
    ///
    /// See [`WorkerMetrics`].
    pub fn busy_duration(&self) -> Duration {
        self.busy_duration
    }
}

/// Poll durations in fixed log-scale buckets, from
/// [`RuntimeMetrics::poll_times`]: bucket 0 counts polls under 1.024 µs,
/// each next bucket's bound is twice the previous one's, and the last
/// bucket counts everything from 268 ms up.
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::builder().workers(1).debug(true).build().unwrap();
/// event_loop.block_on(async {
///     loopwork::spawn(async { std::thread::sleep(std::time::Duration::from_millis(3)) }).await.unwrap()
/// });
/// event_loop.close();
/// let histogram = event_loop.handle().metrics().poll_times().clone();
/// let (bucket, _) = histogram.iter().find(|(_, count)| *count == 1).unwrap();
/// assert!(histogram.upper_bound(bucket).unwrap() > std::time::Duration::from_millis(3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollTimeHistogram {
    counts: [u64; POLL_TIME_BUCKETS],
}

impl PollTimeHistogram {
    /// The number of buckets.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// assert_eq!(event_loop.handle().metrics().poll_times().len(), 20);
    /// ```
    #[allow(clippy::len_without_is_empty)] // a fixed number of buckets, never empty
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// The exclusive upper bound of `bucket`; `None` for the last one,
    /// which has no bound.
    ///
    /// # Panics
    ///
    /// If `bucket` is not below [`len`](PollTimeHistogram::len).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = loopwork::EventLoop::new();
    /// let histogram = event_loop.handle().metrics().poll_times().clone();
    /// assert_eq!(histogram.upper_bound(0), Some(Duration::from_nanos(1024)));
    /// assert_eq!(histogram.upper_bound(1), Some(Duration::from_nanos(2048)));
    /// assert_eq!(histogram.upper_bound(histogram.len() - 1), None);
    /// ```
    pub fn upper_bound(&self, bucket: usize) -> Option<Duration> {
        assert!(bucket < POLL_TIME_BUCKETS, "bucket {bucket} is out of range: the histogram has {POLL_TIME_BUCKETS}");
        (bucket + 1 < POLL_TIME_BUCKETS).then(|| Duration::from_nanos(FIRST_BUCKET_NANOS << bucket))
    }

    /// The number of polls in `bucket`.
    ///
    /// # Panics
    ///
    /// If `bucket` is not below [`len`](PollTimeHistogram::len).
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// assert_eq!(event_loop.handle().metrics().poll_times().count(0), 0);
    /// ```
    pub fn count(&self, bucket: usize) -> u64 {
        assert!(bucket < POLL_TIME_BUCKETS, "bucket {bucket} is out of range: the histogram has {POLL_TIME_BUCKETS}");
        self.counts[bucket]
    }

    /// Every bucket's index and count, shortest polls first.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// assert_eq!(event_loop.handle().metrics().poll_times().iter().count(), 20);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.counts.iter().copied().enumerate()
    }

    /// The number of polls timed.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// assert_eq!(event_loop.handle().metrics().poll_times().total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_double() {
        assert_eq!(bucket_of(Duration::ZERO), 0);
        assert_eq!(bucket_of(Duration::from_nanos(1023)), 0);
        assert_eq!(bucket_of(Duration::from_nanos(1024)), 1);
        assert_eq!(bucket_of(Duration::from_nanos(2047)), 1);
        assert_eq!(bucket_of(Duration::from_nanos(2048)), 2);
        assert_eq!(bucket_of(Duration::from_secs(3600)), POLL_TIME_BUCKETS - 1);
        let histogram = PollTimeHistogram { counts: [0; POLL_TIME_BUCKETS] };
        for bucket in 0..POLL_TIME_BUCKETS - 1 {
            let bound = histogram.upper_bound(bucket).unwrap();
            assert_eq!(bucket_of(bound - Duration::from_nanos(1)), bucket);
            assert_eq!(bucket_of(bound), bucket + 1);
        }
    }

    #[test]
    fn busy_clock_counts_finished_and_current_periods() {
        let clock = BusyClock::default();
        // Times are kept relative to the task clock's epoch: fix it first.
        let start = Instant::now();
        crate::task::since_epoch(start);
        assert_eq!(clock.read(start), Duration::ZERO);
        clock.start(start);
        assert_eq!(clock.read(start + Duration::from_millis(5)), Duration::from_millis(5));
        clock.stop(start + Duration::from_millis(10));
        assert_eq!(clock.read(start + Duration::from_millis(50)), Duration::from_millis(10));
        clock.start(start + Duration::from_millis(60));
        assert_eq!(clock.read(start + Duration::from_millis(61)), Duration::from_millis(11));
    }
}
