//! A worker thread: run local work, look at the injector now and then, steal
//! when empty, park when there is nothing anywhere.

use super::{retry_steal, Chaos, CloseLocalTasks, LocalOwner, Origin, Shared};
use crate::current::{self, Context};
use crate::task::Notified;
use crossbeam_deque::Worker;
use std::cell::Cell;
use std::sync::Arc;

/// How often a worker looks at the injector before its own queue. 61, as in
/// Go and tokio: prime, so it does not fall into step with a periodic
/// workload, and rare enough to keep the local queue's locality.
const GLOBAL_QUEUE_INTERVAL: u32 = 61;

/// How many times in a row a worker may run the task in its LIFO slot before
/// it takes the next one from the queue: two tasks waking each other
/// forever must not starve the queue behind them.
const MAX_LIFO_STREAK: u32 = 3;

/// A worker's own state. Lives on the worker thread's stack, reached only
/// through the thread-local context, so it needs no synchronization.
pub(crate) struct WorkerCore {
    index: usize,
    local: Worker<Notified>,
    /// The task woken most recently by this worker; runs next.
    lifo_slot: Cell<Option<Notified>>,
    lifo_streak: Cell<u32>,
    tick: Cell<u32>,
    /// Counted in `Idle`'s searching number while true.
    searching: Cell<bool>,
    rng: Cell<u64>,
    /// Chaos mode's generator; `None` (the default) costs one branch.
    chaos: Option<Chaos>,
    /// The local tasks pinned to this worker: only it pops their queue.
    pinned: Arc<LocalOwner>,
    /// Whether the pinned queue goes first in the next round (every other
    /// one): neither it nor the shared queues can starve the other, and a
    /// pinned task, which no other worker can take, waits for at most one
    /// task of this worker's own.
    pinned_first: Cell<bool>,
}

/// How long a searcher keeps looking before it parks. A request that
/// arrives within that time — the next one of a client that waits for each
/// reply, a wake from a task on the other worker — is then taken without a
/// wake-up, which would cost a futex call on each side and the wake-up
/// latency (tens of µs on a virtual machine). Short enough that idling costs
/// nothing measurable: a worker spins at most this long after it runs out
/// of work, then parks until there is more.
const SEARCH_SPIN: std::time::Duration = std::time::Duration::from_micros(20);

/// The body of worker thread `index`.
pub(crate) fn run_worker(shared: Arc<Shared>, index: usize, local: Worker<Notified>) {
    // Counts this worker as gone even if the loop below panics (a bug), so
    // `shutdown` never waits for a dead thread.
    struct ExitGuard<'a>(&'a Shared);
    impl Drop for ExitGuard<'_> {
        fn drop(&mut self) {
            self.0.worker_exited();
        }
    }
    let _exit = ExitGuard(&shared);

    let _reactor = shared.reactor.enter();
    let chaos = shared.chaos_seed.map(|seed| Chaos::new(seed, index as u64));
    let pinned = LocalOwner::for_worker(&shared, index);
    let cx = Context {
        shared: shared.clone(),
        worker: Some(WorkerCore::new(index, local, chaos, pinned.clone())),
        local: pinned,
    };
    let _enter = current::enter(&cx);
    // Dropped before `_enter`, so inside this worker's context: the local
    // tasks' futures are dropped on the only thread that ever polled them,
    // after `drain` below, or while unwinding if the loop panics (a bug).
    let _local = CloseLocalTasks(&cx.local);
    let core = cx.worker.as_ref().expect("a worker context has a core");
    shared.counters.workers[index].unparked(std::time::Instant::now());
    while !shared.is_closed() {
        if let Some(task) = core.pinned_turn() {
            core.run_pinned(&shared, task);
        } else if let Some(task) = core.next_task(&shared) {
            core.run_task(&shared, task);
        } else if let Some(task) = core.pinned.pop() {
            core.run_pinned(&shared, task);
        } else if let Some(task) = core.steal_work(&shared) {
            core.run_task(&shared, task);
        } else if !core.spin_for_work(&shared) {
            core.park(&shared);
        }
    }
    core.drain();
}

impl WorkerCore {
    fn new(index: usize, local: Worker<Notified>, chaos: Option<Chaos>, pinned: Arc<LocalOwner>) -> WorkerCore {
        WorkerCore {
            index,
            local,
            lifo_slot: Cell::new(None),
            lifo_streak: Cell::new(0),
            tick: Cell::new(0),
            searching: Cell::new(false),
            // Any odd, per-worker seed works for xorshift.
            rng: Cell::new((0x9E37_79B9_7F4A_7C15 ^ ((index as u64 + 1) << 17)) | 1),
            chaos,
            pinned,
            pinned_first: Cell::new(false),
        }
    }

    /// Schedules a task from this worker's own thread.
    pub(crate) fn push(&self, shared: &Shared, task: Notified, origin: Origin) {
        if origin == Origin::Yield {
            // A yielding task lets the others run: remote tasks too.
            self.admit_remote_work(shared);
        }
        let use_lifo_slot = origin != Origin::Yield && self.chaos.as_ref().is_none_or(Chaos::use_lifo_slot);
        if use_lifo_slot {
            match self.lifo_slot.replace(Some(task)) {
                // The slot cannot be stolen, so nothing new is stealable and
                // nobody needs waking.
                None => return,
                Some(previous) => self.local.push(previous),
            }
        } else {
            self.local.push(task);
        }
        // Work others could steal appeared: wake a parked worker if nobody
        // is searching already.
        shared.notify_parked();
    }

    fn next_task(&self, shared: &Shared) -> Option<Notified> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if !shared.callbacks.is_empty() {
            // Running callbacks is work: stop counting as a searcher first,
            // or notifiers would trust us to find their tasks meanwhile.
            self.leave_searching(shared);
            shared.callbacks.run_batch(shared, &shared.monitor.slots[self.index]);
        }
        if tick % GLOBAL_QUEUE_INTERVAL == 0 {
            // The same interval for I/O and timers: a worker that always has
            // local work still lets them in (a no-op when an idle worker is
            // already waiting in the reactor).
            shared.poll_reactor();
            if let Some(task) = shared.steal_from_injector(&self.local) {
                return Some(task);
            }
        }
        if let Some(task) = self.lifo_slot.take() {
            let streak = self.lifo_streak.get() + 1;
            if streak <= MAX_LIFO_STREAK {
                self.lifo_streak.set(streak);
                shared.counters.workers[self.index].lifo_hit();
                return Some(task);
            }
            // The streak is over: the slot's task waits its turn at the
            // back, behind this worker's share of any remote work.
            self.admit_remote_work(shared);
            self.local.push(task);
        }
        self.lifo_streak.set(0);
        self.local.pop().or_else(|| shared.steal_from_injector(&self.local))
    }

    /// Moves this worker's share of the injector, if it holds anything, to
    /// the back of its deque: a worker kept busy by tasks that yield or by a
    /// chain of spawns then admits remote work within a few tasks, instead
    /// of only at the every-61-ticks check.
    fn admit_remote_work(&self, shared: &Shared) {
        if !shared.injector.is_empty() {
            shared.refill_from_injector(&self.local, 0);
        }
    }

    /// A searcher that found work stops searching. If it was the last
    /// searcher, it wakes one more worker to look, since nobody is looking
    /// now: when more work is queued, and otherwise only while spinning
    /// pays. The worker woken for nothing is awake when the next submission
    /// comes, which is what a request/reply exchange wants (under
    /// oversubscription, where nobody spins, it kept the median round trip
    /// of `run_coroutine_threadsafe` at 5 µs instead of 7), and what a
    /// trickle of lone submissions (one task a millisecond) does not: there
    /// it doubled the wake-ups, and the CPU, for every task.
    ///
    /// No task is stranded by the wake-up it skips, by the argument of the
    /// last searcher's re-check before parking (README, "Why no wake-up is
    /// lost"): the SeqCst decrement here and a publisher's SeqCst read of
    /// the same word are ordered, so either the publisher saw no searcher
    /// and woke someone, or this `has_work` sees its task. (`pays` first:
    /// when it says wake, the scan of every queue is not needed.)
    fn leave_searching(&self, shared: &Shared) {
        if self.searching.replace(false)
            && shared.idle.transition_worker_from_searching()
            && (crate::spin::pays() || shared.has_work())
        {
            shared.notify_parked();
        }
    }

    /// The oldest pinned task, on every other round.
    fn pinned_turn(&self) -> Option<Notified> {
        let first = !self.pinned_first.get();
        self.pinned_first.set(first);
        if first {
            self.pinned.pop()
        } else {
            None
        }
    }

    /// `run_task` for a task pinned to this worker: chaos mode's injected
    /// yield sends it to the back of the pinned queue, never to the deque,
    /// where another worker could steal it.
    fn run_pinned(&self, shared: &Shared, task: Notified) {
        self.run_requeueing(shared, task, |task| self.pinned.push_back(task));
    }

    fn run_task(&self, shared: &Shared, task: Notified) {
        self.run_requeueing(shared, task, |task| self.local.push(task));
    }

    /// Runs a task; in chaos mode an injected yield sends it to the back of
    /// the queue `requeue` pushes to.
    fn run_requeueing(&self, shared: &Shared, task: Notified, requeue: impl FnOnce(Notified)) {
        self.leave_searching(shared);
        match &self.chaos {
            None => shared.run_watched(self.index, task),
            Some(chaos) => shared.run_with_chaos(task, chaos, requeue, |task| shared.run_watched(self.index, task)),
        }
    }

    /// Steals half of a random victim's queue, or a share of the injector.
    fn steal_work(&self, shared: &Shared) -> Option<Notified> {
        if !self.searching.get() {
            if !shared.idle.transition_worker_to_searching() {
                return None;
            }
            self.searching.set(true);
        }
        let count = shared.stealers.len();
        let start = self.next_random() as usize % count;
        for offset in 0..count {
            let victim = (start + offset) % count;
            if victim == self.index {
                continue;
            }
            // `usize::MAX` asks crossbeam for its default batch: half of the
            // victim's queue, which halves the imbalance in one steal.
            let before = self.local.len();
            let stolen =
                retry_steal(|| shared.stealers[victim].steal_batch_with_limit_and_pop(&self.local, usize::MAX));
            if stolen.is_some() {
                // The one popped, and those moved to our queue (thieves may
                // take some back meanwhile: a lower bound).
                shared.counters.workers[self.index].stole(1 + self.local.len().saturating_sub(before));
                return stolen;
            }
        }
        shared.steal_from_injector(&self.local)
    }

    /// A searcher that found nothing looks again for a little while before
    /// it parks (see `SEARCH_SPIN`); true if work appeared (a task or a
    /// callback batch), for the caller to go round its loop again instead of
    /// parking. It stays counted as searching, so a notifier meanwhile relies
    /// on it instead of waking another worker.
    fn spin_for_work(&self, shared: &Shared) -> bool {
        self.searching.get() && crate::spin::spin_until(SEARCH_SPIN, || shared.has_work() || self.pinned.has_work())
    }

    /// True if this worker's own queues (its LIFO slot, its deque, its
    /// pinned queue) hold a task: what the reactor's wakes, scheduled from
    /// this thread, leave.
    fn has_local_work(&self) -> bool {
        let slot = self.lifo_slot.take();
        let occupied = slot.is_some();
        self.lifo_slot.set(slot);
        occupied || !self.local.is_empty() || self.pinned.has_work()
    }

    fn park(&self, shared: &Shared) {
        // Two clock reads a park, which costs a futex call anyway: the
        // worker's busy time is the time between them.
        let counters = &shared.counters.workers[self.index];
        counters.parking(std::time::Instant::now());
        self.park_until_work(shared);
        let now = std::time::Instant::now();
        counters.unparked(now);
        shared.monitor.refresh_coarse_clock(now);
    }

    fn park_until_work(&self, shared: &Shared) {
        shared.idle.transition_worker_to_parked(self.index, self.searching.replace(false));
        if shared.has_work() {
            // Work was published while we searched, by a notifier that saw us
            // (or another worker) searching and so woke nobody; or while we
            // were refused searching, after the last searcher's own re-check.
            // Wake someone (maybe ourselves). README, "Why no wake-up is lost".
            shared.notify_parked();
        }
        // This worker may be the last thread of the loop to go idle.
        shared.wake_virtual_clock_if_idle();
        while !shared.is_closed() {
            let mut claimed = false;
            shared.parkers[self.index].park_in_reactor_with(
                |driver| shared.advance_virtual_clock_if_idle(driver),
                // The tasks the reactor woke are in our queue. We count
                // ourselves as unparked before the reactor is free again, so
                // whoever takes it next does not find the loop idle. The
                // queue is what counts, not the number of wakers woken: a
                // failed poller wait reports none but may have fired timers,
                // and a wake may have gone to another loop or thread.
                |_woken| claimed = self.has_local_work() && shared.idle.unpark_self(self.index),
            );
            if claimed {
                shared.monitor.wake_if_sleeping();
                // Hand the reactor to another idle worker before running
                // them, so that one long poll here cannot hold up I/O and
                // timers for everybody.
                shared.notify_parked();
                return;
            }
            if self.pinned.has_work() && shared.idle.unpark_self(self.index) {
                // A local task of this worker was woken from another thread,
                // which unparked this worker and no other: nobody else can
                // run it. (If a notifier took us off the list first, we are
                // counted as searching, below, and find it all the same.)
                shared.monitor.wake_if_sleeping();
                return;
            }
            if !shared.idle.is_parked(self.index) {
                // A notifier took us off the sleepers list and counted us as
                // searching.
                self.searching.set(true);
                return;
            }
        }
    }

    /// On exit: give back the references of the tasks still queued here;
    /// `Shared::drop_unfinished_tasks` drops their futures.
    fn drain(&self) {
        drop(self.lifo_slot.take());
        while let Some(task) = self.local.pop() {
            drop(task);
        }
    }

    fn next_random(&self) -> u64 {
        if let Some(chaos) = &self.chaos {
            return chaos.next();
        }
        // xorshift64: cheap and good enough to spread steal attempts.
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }
}
