//! Slow-poll detection, always on: asyncio's `slow_callback_duration`
//! without a debug build.
//!
//! Each worker publishes, in its own cache line, which task it is polling
//! and a counter bumped at every poll. A monitor thread samples them every
//! quarter of the threshold (at least every second): a worker seen in the
//! same poll for longer than the threshold is reported while it is still
//! stuck, and again when the poll returns. The worker pays two plain stores
//! per poll; no clock is read on the poll path.
//!
//! A thread inside `block_on` / `run_forever` of a loop with workers runs
//! its local tasks between two polls of its future. It has a slot of the
//! same kind ([`ThreadSlot`]), registered from its first round of local
//! tasks to the end of the call, and says when a round begins and ends, so
//! that the monitor does not sleep through one.

use super::Shared;
use crate::error::{ExceptionContext, ExceptionKind, Source};
use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default threshold: asyncio's `slow_callback_duration`.
pub(crate) const DEFAULT_SLOW_POLL_THRESHOLD: Duration = Duration::from_millis(100);

/// What the monitor reads of a worker: the task being polled (0: none,
/// `CALLBACK`: a callback) and how many polls it has started.
#[derive(Debug, Default)]
pub(crate) struct PollSlot {
    current: AtomicU64,
    polls: AtomicU64,
}

/// The `current` value while a callback runs.
const CALLBACK: u64 = u64::MAX;

impl PollSlot {
    /// Marks the start of a poll of `task_id` (or a callback).
    pub(crate) fn begin(&self, task_id: Option<u64>) {
        // Only this worker writes the slot, so load + store is an increment.
        // Relaxed is enough: the monitor only needs to see *a* change to know
        // the worker moved on, and a stale value makes it report at worst one
        // sample late.
        self.polls.store(self.polls.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
        self.current.store(task_id.unwrap_or(CALLBACK), Ordering::Relaxed);
    }

    /// Marks the end of the poll.
    pub(crate) fn end(&self) {
        // Relaxed: as in `begin`.
        self.current.store(0, Ordering::Relaxed);
    }

    /// How many polls (and callbacks) this thread has started: the
    /// metrics' poll counter, which the monitor keeps anyway.
    pub(crate) fn polls(&self) -> u64 {
        // Relaxed: as in `begin`.
        self.polls.load(Ordering::Relaxed)
    }
}

/// The poll slot of a thread inside `block_on` / `run_forever`, while it
/// runs local tasks.
#[derive(Debug, Default)]
pub(crate) struct ThreadSlot {
    slot: CachePadded<PollSlot>,
    /// Set while the thread runs a round of local tasks: the monitor does
    /// not go to sleep then.
    in_round: AtomicBool,
}

impl ThreadSlot {
    /// The slot the thread marks each poll in.
    pub(crate) fn poll_slot(&self) -> &PollSlot {
        &self.slot
    }
}

/// A round of local tasks on a [`ThreadSlot`]'s thread
/// ([`Monitor::round`]); over when dropped, unwinding or not.
pub(crate) struct Round<'a>(&'a ThreadSlot);

impl Drop for Round<'_> {
    fn drop(&mut self) {
        // Relaxed: a round missed at the monitor's next check costs it one
        // sampling interval awake, nothing else.
        self.0.in_round.store(false, Ordering::Relaxed);
    }
}

/// The slots of every thread that polls tasks, and the monitor's wake-up.
#[derive(Debug)]
pub(crate) struct Monitor {
    pub(crate) slots: Box<[CachePadded<PollSlot>]>,
    /// The slots of the threads inside `block_on` / `run_forever` now.
    threads: Mutex<Vec<Arc<ThreadSlot>>>,
    threshold: Duration,
    /// Nanoseconds since `task::EPOCH`, refreshed at every sample: the
    /// spawn time of new tasks and the poll stamps of tasks that keep
    /// details (`task::Details`), read with one load instead of a clock call.
    coarse_now: AtomicU64,
    /// Set while the monitor sleeps because every worker is parked and no
    /// thread runs local tasks.
    sleeping: AtomicBool,
    closed: Mutex<bool>,
    wake: Condvar,
}

/// What the monitor remembers of one slot between samples.
#[derive(Clone, Default)]
struct Seen {
    polls: u64,
    current: u64,
    since: Option<Instant>,
    reported: bool,
    /// The polled task's name, read while the poll is still running: a
    /// poll that finishes its task takes the task out of the registry, so
    /// the name cannot be found when the poll is reported as over.
    name: Option<String>,
}

/// One slow poll to report: the task id (or `CALLBACK`), how long it has
/// run, whether it is over, and the task's name if it was found.
type SlowPoll = (u64, Duration, bool, Option<String>);

impl Seen {
    /// The report that the poll seen, reported as running, is over.
    fn finished(&mut self, now: Instant) -> SlowPoll {
        (self.current, now - self.since.unwrap_or(now), true, self.name.take())
    }
}

impl Monitor {
    /// One slot per worker, or one for the strict-mode driver.
    pub(crate) fn new(threads: usize, threshold: Duration) -> Monitor {
        Monitor {
            slots: (0..threads.max(1)).map(|_| CachePadded::new(PollSlot::default())).collect(),
            threads: Mutex::new(Vec::new()),
            threshold,
            coarse_now: AtomicU64::new(crate::task::since_epoch(Instant::now())),
            sleeping: AtomicBool::new(false),
            closed: Mutex::new(false),
            wake: Condvar::new(),
        }
    }

    /// Starts the monitor thread of `shared`'s loop.
    /// Named `{name}-monitor` after the workers' prefix.
    pub(crate) fn start(shared: &Arc<Shared>, name: &str) -> std::io::Result<std::thread::JoinHandle<()>> {
        let shared = shared.clone();
        std::thread::Builder::new().name(format!("{name}-monitor")).spawn(move || shared.monitor.run(&shared))
    }

    /// The time now, within one sampling interval (a quarter of the
    /// slow-poll threshold), as nanoseconds since `task::EPOCH`; read from
    /// the clock while the monitor sleeps (its samples are stale then).
    pub(crate) fn coarse_now(&self) -> u64 {
        if self.is_sleeping() {
            return crate::task::since_epoch(Instant::now());
        }
        // Relaxed: see the store in `sample`.
        self.coarse_now.load(Ordering::Relaxed)
    }

    /// Sets the coarse clock to `now`: at every sample, and by a worker
    /// that unparks, since the monitor's samples are stale while it sleeps.
    /// Two writers may race and leave the older time for one interval.
    pub(crate) fn refresh_coarse_clock(&self, now: Instant) {
        let nanos = crate::task::since_epoch(now);
        // Relaxed: timestamps for statistics; no data hangs on them.
        self.coarse_now.store(nanos, Ordering::Relaxed);
    }

    /// The slow-poll threshold (`Builder::slow_poll_threshold`).
    pub(crate) fn threshold(&self) -> Duration {
        self.threshold
    }

    /// A slot for a thread inside `block_on` / `run_forever`, sampled
    /// until [`unregister`](Monitor::unregister).
    pub(crate) fn register(&self) -> Arc<ThreadSlot> {
        let slot = Arc::new(ThreadSlot::default());
        self.threads.lock().push(slot.clone());
        slot
    }

    /// The thread of `slot` leaves.
    pub(crate) fn unregister(&self, slot: &Arc<ThreadSlot>) {
        self.threads.lock().retain(|registered| !Arc::ptr_eq(registered, slot));
    }

    /// The thread of `slot` starts a round of local tasks, which lasts as
    /// long as the guard: wakes the monitor if it sleeps. The SeqCst store
    /// of `in_round`, then the SeqCst load of `sleeping`; the monitor
    /// stores `sleeping` and then loads every `in_round`, both SeqCst:
    /// either this load sees `sleeping` (and the notify, under the
    /// monitor's lock, cannot slip in before its wait), or the monitor sees
    /// the round and does not sleep.
    pub(crate) fn round<'a>(&self, slot: &'a ThreadSlot) -> Round<'a> {
        slot.in_round.store(true, Ordering::SeqCst);
        self.wake_if_sleeping();
        Round(slot)
    }

    fn any_round_running(&self) -> bool {
        // SeqCst: the load half of the Dekker pair with `round`.
        self.threads.lock().iter().any(|thread| thread.in_round.load(Ordering::SeqCst))
    }

    /// Stops the monitor thread.
    pub(crate) fn close(&self) {
        *self.closed.lock() = true;
        self.wake.notify_all();
    }

    fn run(&self, shared: &Shared) {
        // A quarter of the threshold: a slow poll is reported at most 25%
        // past it, and an idle loop wakes the monitor only 40 times a second
        // at the default threshold. At most a second, so that the coarse
        // clock stays within a second even when slow polls are never
        // reported (`Duration::MAX`).
        let interval = (self.threshold / 4).clamp(Duration::from_millis(1), Duration::from_secs(1));
        let mut seen = vec![Seen::default(); self.slots.len()];
        let mut thread_seen = Vec::new();
        let mut reports = Vec::new();
        let mut closed = self.closed.lock();
        while !*closed {
            self.wake.wait_for(&mut closed, interval);
            // The handler is user code: call it without holding `closed`,
            // which `close` needs.
            parking_lot::MutexGuard::unlocked(&mut closed, || {
                self.sample(shared, &mut seen, &mut thread_seen, &mut reports);
                for (current, duration, finished, name) in reports.drain(..) {
                    #[cfg(feature = "tracing")]
                    crate::tracing::slow_poll((current != CALLBACK).then_some(current), duration, finished);
                    shared.report(slow_poll(current, duration, finished, name));
                }
            });
            // A thread's poll reported as running is still to be reported
            // over, even if the thread has left since (its entry stays until
            // the next sample).
            let threads_idle = thread_seen.iter().all(|(_, s)| s.current == 0 && !s.reported);
            if shared.num_workers() > 0 && !*closed && threads_idle && seen.iter().all(|s| s.current == 0) {
                // Every worker is parked and no thread runs local tasks:
                // nothing can be slow. Sleep until that changes, so that an
                // idle loop costs no wake-ups at all. SeqCst store, then the
                // SeqCst loads in `all_parked` and `any_round_running`: the
                // Dekker pairs with `wake_if_sleeping` and `round`.
                self.sleeping.store(true, Ordering::SeqCst);
                if shared.idle.all_parked() && !self.any_round_running() && !*closed {
                    // Back to sampling after one wake-up, even if the worker
                    // that woke us has parked again meanwhile: until the next
                    // sample finds every worker parked, unparking workers
                    // see `sleeping` false and notify nobody. Going back to
                    // sleep at once cost a wake-up of this thread for every
                    // wake-up of a worker (one task a millisecond from
                    // outside: two futex calls more per task); now it is one
                    // per sampling interval at most.
                    self.wake.wait(&mut closed);
                }
                // The coarse clock stood still while we slept: fresh before
                // `sleeping` says it is to be trusted (Release; the Acquire
                // in `is_sleeping`), not a sampling interval later.
                self.refresh_coarse_clock(Instant::now());
                self.sleeping.store(false, Ordering::Release);
            }
        }
    }

    /// True while the monitor sleeps because every worker is parked and no
    /// thread runs local tasks (the coarse clock is stale then).
    pub(crate) fn is_sleeping(&self) -> bool {
        // Acquire: pairs with the Release that ends a sleep, after the
        // coarse clock's refresh. `wake_if_sleeping` is what synchronizes
        // the sleep itself.
        self.sleeping.load(Ordering::Acquire)
    }

    /// Called after a worker left the parked state, or as a thread starts
    /// a round of local tasks (`round`): wakes the monitor if it sleeps.
    /// The worker's SeqCst update of the idle word comes first, then this
    /// SeqCst load; the monitor stores `sleeping` and then checks the idle
    /// word, both SeqCst. So either this load sees `sleeping` (and the
    /// notify, under the monitor's lock, cannot slip in before its wait), or
    /// the monitor's check sees the worker unparked and does not sleep.
    pub(crate) fn wake_if_sleeping(&self) {
        if self.sleeping.load(Ordering::SeqCst) {
            let _closed = self.closed.lock();
            self.wake.notify_all();
        }
    }

    /// Compares every slot with the previous sample; queues a report for
    /// each poll that crossed the threshold or ended after crossing it.
    fn sample(
        &self,
        shared: &Shared,
        seen: &mut [Seen],
        thread_seen: &mut Vec<(Arc<ThreadSlot>, Seen)>,
        reports: &mut Vec<SlowPoll>,
    ) {
        let now = Instant::now();
        self.refresh_coarse_clock(now);
        for (slot, seen) in self.slots.iter().zip(seen.iter_mut()) {
            self.sample_slot(shared, now, slot, seen, reports);
        }
        let threads = self.threads.lock().clone();
        // A thread gone since the last sample: its poll, reported as
        // running, is over.
        thread_seen.retain_mut(|(slot, seen)| {
            let registered = threads.iter().any(|thread| Arc::ptr_eq(thread, slot));
            if !registered && seen.reported {
                reports.push(seen.finished(now));
            }
            registered
        });
        for thread in threads {
            let index = match thread_seen.iter().position(|(slot, _)| Arc::ptr_eq(slot, &thread)) {
                Some(index) => index,
                None => {
                    thread_seen.push((thread, Seen::default()));
                    thread_seen.len() - 1
                }
            };
            let (slot, seen) = &mut thread_seen[index];
            self.sample_slot(shared, now, &slot.slot, seen, reports);
        }
    }

    fn sample_slot(
        &self,
        shared: &Shared,
        now: Instant,
        slot: &PollSlot,
        seen: &mut Seen,
        reports: &mut Vec<SlowPoll>,
    ) {
        // Relaxed: see `PollSlot::begin`.
        let polls = slot.polls.load(Ordering::Relaxed);
        let current = slot.current.load(Ordering::Relaxed);
        if current != 0 && polls == seen.polls && current == seen.current {
            if seen.name.is_none() && current != CALLBACK {
                // Seen in the same poll twice: a poll long enough to be
                // worth the registry scan (never a short one). A poll
                // reported later was still running during this read, so
                // its task was still registered.
                seen.name = shared.task_name(current);
            }
            let running = now - seen.since.unwrap_or(now);
            if running >= self.threshold && !seen.reported {
                seen.reported = true;
                reports.push((current, running, false, seen.name.clone()));
            }
            return;
        }
        // In debug mode a callback that ran long is reported when it
        // returns, timed exactly (`Shared::run_callback`): not twice.
        if seen.reported && !(seen.current == CALLBACK && shared.is_debug()) {
            reports.push(seen.finished(now));
        }
        *seen = Seen { polls, current, since: (current != 0).then_some(now), reported: false, name: None };
    }
}

fn slow_poll(current: u64, duration: Duration, finished: bool, name: Option<String>) -> ExceptionContext {
    let (source, what) = if current == CALLBACK {
        (Source::Callback, "a callback".to_owned())
    } else {
        let name = name.unwrap_or_else(|| format!("Task-{current}"));
        let what = format!("task '{name}'");
        (Source::Task { id: current, name }, what)
    };
    let message = if finished {
        format!("a poll of {what} took {duration:.3?}, blocking its thread")
    } else {
        format!("a poll of {what} has been running for {duration:.3?}, blocking its thread")
    };
    ExceptionContext { message, source, kind: ExceptionKind::SlowPoll { duration, finished } }
}
