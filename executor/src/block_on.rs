//! `EventLoop::block_on`: drive one future on the calling thread.
//!
//! With workers, the calling thread only polls the given future and sleeps
//! between its wake-ups; the tasks run on the workers. In strict mode
//! (`workers(0)`) the calling thread is the loop: it runs every task, in FIFO
//! order, and polls the given future in its turn.

use crate::current::{self, Context};
use crate::scheduler::{Chaos, CloseLocalTasks, LocalOwner, Parker, Shared};
use crate::task::{Notified, Schedule, Task};
use std::future::Future;
use std::pin::pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

pub(crate) const BLOCK_ON_INSIDE_LOOP: &str = "`block_on` was called on a thread that is already running a loopwork \
     loop (inside a task, a callback, or another `block_on`); blocking here would stall or deadlock the loop. \
     Await the future instead, or spawn it with `loopwork::spawn` and await the `Task`";

/// The waker of the future `block_on` drives.
struct MainWaker {
    parker: Arc<Parker>,
    /// `seq << SEQ_SHIFT | IDLE | WOKEN`, one word so that a wake is a
    /// single read-modify-write. `seq` (strict mode) is how many tasks had
    /// been queued when the future was woken: its poll comes after exactly
    /// those, as its step would in asyncio's ready queue.
    state: AtomicU64,
    /// With workers and a virtual clock, this thread holds the clock (see
    /// `scheduler::virtual_clock`) except while it sleeps unwoken (`IDLE`).
    holds_clock: bool,
    shared: Arc<Shared>,
}

const WOKEN: u64 = 1;
/// Asleep without a pending wake, its clock hold given back; the waker that
/// clears it takes a hold on the sleeper's behalf.
const IDLE: u64 = 2;
const SEQ_SHIFT: u32 = 2;

impl MainWaker {
    /// Clears WOKEN; returns whether it was set.
    fn take_wake(&self) -> bool {
        // Acquire pairs with the AcqRel update in `wake_by_ref`: what the
        // waker's caller wrote before waking is visible to the next poll.
        self.state.fetch_and(!WOKEN, Ordering::Acquire) & WOKEN != 0
    }

    fn is_woken(&self) -> bool {
        // Relaxed is enough for this check: `take_wake` synchronizes before
        // the poll.
        self.state.load(Ordering::Relaxed) & WOKEN != 0
    }

    /// How many tasks must have run before the woken future's turn.
    fn wake_seq(&self) -> u64 {
        // Relaxed: as in `is_woken`.
        self.state.load(Ordering::Relaxed) >> SEQ_SHIFT
    }

    /// About to sleep: gives back the clock hold unless a wake is pending.
    /// Returns false if one is (poll again instead of sleeping).
    fn go_idle(&self) -> bool {
        if !self.holds_clock {
            return true;
        }
        // Relaxed: the state only decides who owns the hold; the count
        // itself is ordered by its own SeqCst operations.
        let idle = self
            .state
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |state| (state & WOKEN == 0).then_some(state | IDLE));
        if idle.is_ok() {
            self.shared.release_virtual_clock();
        }
        idle.is_ok()
    }

    /// Back from sleep: takes the clock hold back, unless the waker that
    /// woke us already took it for us.
    fn leave_idle(&self) {
        // Relaxed: as in `go_idle`.
        if self.holds_clock && self.state.fetch_and(!IDLE, Ordering::Relaxed) & IDLE != 0 {
            self.shared.hold_virtual_clock();
        }
    }
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let seq = self.shared.strict_pushed();
        if self.holds_clock {
            // Taken before the wake is visible, so the loop never looks idle
            // between it and the woken thread's first step; kept only if the
            // sleeper had given its own hold back.
            self.shared.hold_virtual_clock();
        }
        // Always a read-modify-write, even when already woken: it reads the
        // latest value (never a stale WOKEN the driver has just cleared) and
        // releases this thread's writes to the driver's `take_wake`. Setting
        // WOKEN clears IDLE.
        let previous = self.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
            Some(if state & WOKEN != 0 { state } else { (seq << SEQ_SHIFT) | WOKEN })
        });
        if self.holds_clock && previous.unwrap_or_else(|state| state) & IDLE == 0 {
            self.shared.release_virtual_clock();
        }
        self.parker.unpark();
    }
}

/// `block_on`'s future as asyncio sees `run_until_complete`'s coroutine: a
/// task, with an id and a `Task-N` name, that `current_task()` returns while
/// the future is polled and `all_tasks()` lists until `block_on` returns.
/// The future is not `Send` and lives on this stack, so the task is a
/// stand-in (see `Shared::spawn_stand_in`).
struct MainTask<'a> {
    shared: &'a Arc<Shared>,
    _handle: Task<()>,
    /// Holds the RUNNING claim, and the header `current_task` reads.
    claim: Notified,
}

impl MainTask<'_> {
    #[track_caller]
    fn new(shared: &Arc<Shared>) -> MainTask<'_> {
        let (handle, claim) = shared.spawn_stand_in();
        MainTask { shared, _handle: handle, claim }
    }

    /// Polls the future as this task's step.
    fn step<R>(&self, poll: impl FnOnce() -> R) -> R {
        // Its statistics, if it keeps details, as for any task.
        let stamped = self
            .claim
            .header()
            .details()
            .map(|details| (details, details.poll_started(self.shared.monitor.coarse_now())));
        let polled = current::with_current_task(NonNull::from(self.claim.header()), poll);
        if let Some((details, started)) = stamped {
            details.poll_ended(started, self.shared.monitor.coarse_now());
        }
        polled
    }
}

impl Drop for MainTask<'_> {
    fn drop(&mut self) {
        // Leaves `all_tasks`; the handle and the claim free the cell after.
        drop(self.shared.release(self.claim.header()));
    }
}

/// Polls `block_on`'s future with a fresh cooperative budget, as a task is
/// (see `coop`).
fn poll_with_budget<F: Future>(future: std::pin::Pin<&mut F>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
    loopwork_coop::replace(loopwork_coop::Budget::INITIAL);
    future.poll(cx)
}

/// Gives the calling thread its own cooperative budget back when `block_on`
/// returns or unwinds: the polls in between left theirs behind.
struct RestoreBudget(loopwork_coop::Budget);

impl Drop for RestoreBudget {
    fn drop(&mut self) {
        loopwork_coop::replace(self.0);
    }
}

/// Whether the driving loop also ends when `Handle::stop` is called.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// `block_on`: only when the future completes.
    Complete,
    /// `run_forever`: also at the end of the loop iteration in which
    /// `Handle::stop` was called (strict mode), or as soon as it is (workers).
    Stopped,
}

/// Drives `future` on the calling thread; `None` if `until` is `Stopped` and
/// the loop was stopped first.
#[track_caller]
pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F, until: Until) -> Option<F::Output> {
    if current::is_inside_loop() {
        panic!("{}", BLOCK_ON_INSIDE_LOOP);
    }
    // In strict mode this thread is the loop and sleeps in its reactor.
    let parker = Arc::new(Parker::new((shared.num_workers() == 0).then(|| shared.reactor.clone())));
    let cx = Context { shared: shared.clone(), worker: None, local: LocalOwner::for_thread(shared, &parker) };
    let _enter = current::enter(&cx);
    let _reactor = shared.reactor.enter();
    let _running = shared.enter_running();
    let _budget = RestoreBudget(loopwork_coop::current());
    let main = Arc::new(MainWaker {
        parker,
        // Woken from the start. In strict mode its first step is queued
        // behind what is queued already, as `run_until_complete` queues the
        // first step of the task it wraps the coroutine in.
        state: AtomicU64::new((shared.strict_pushed() << SEQ_SHIFT) | WOKEN),
        holds_clock: shared.num_workers() > 0 && shared.reactor.is_paused(),
        shared: shared.clone(),
    });
    // `run_forever` drives no coroutine, hence no task. Not `bool::then`:
    // a closure would hide the caller's location from `#[track_caller]`.
    let main_task = if until == Until::Complete { Some(MainTask::new(shared)) } else { None };
    let step = |future: std::pin::Pin<&mut F>, cx: &mut TaskContext<'_>| match &main_task {
        Some(main_task) => main_task.step(|| poll_with_budget(future, cx)),
        None => poll_with_budget(future, cx),
    };
    let waker = Waker::from(main.clone());
    let mut task_cx = TaskContext::from_waker(&waker);
    let mut future = pin!(future);

    if shared.num_workers() > 0 {
        struct ForgetStopWaker<'a>(&'a Shared, &'a Waker);
        impl Drop for ForgetStopWaker<'_> {
            fn drop(&mut self) {
                self.0.remove_stop_waker(self.1);
            }
        }
        let _forget = (until == Until::Stopped).then(|| {
            shared.add_stop_waker(waker.clone());
            ForgetStopWaker(shared, &waker)
        });
        // While this thread runs its future, a virtual clock stays put
        // (`go_idle` lends the hold back while it sleeps).
        let _clock = shared.hold_virtual_clock_scoped();
        let _local = CloseLocalTasks(&cx.local);
        loop {
            if until == Until::Stopped && shared.take_stop_request() {
                return None;
            }
            let woken = main.take_wake();
            if woken {
                if let Poll::Ready(output) = step(future.as_mut(), &mut task_cx) {
                    return Some(output);
                }
            }
            // The local tasks spawned on this thread run here, and nowhere
            // else: those woken so far, between two polls of the future, so
            // that neither can starve the other. A wake from another thread
            // unparks `main.parker`, as the future's own does.
            let ran_local = cx.local.run_round_on_thread();
            if !woken && !ran_local && main.go_idle() {
                main.parker.park();
                main.leave_idle();
            }
        }
    }

    shared.register_strict_driver(main.parker.clone());
    struct Unregister<'a>(&'a Shared);
    impl Drop for Unregister<'_> {
        fn drop(&mut self) {
            self.0.unregister_strict_driver();
        }
    }
    let _unregister = Unregister(shared);
    // Dropped before `_unregister`: the local tasks are gone before another
    // thread can drive the loop (and run what is left of their queue
    // entries, which then find them finished).
    let _local = CloseLocalTasks(&cx.local);
    // Strict mode runs asyncio's loop: each iteration runs the tasks that
    // were ready when it began (those they schedule wait for the next one);
    // the future is polled in its turn among them — after exactly the tasks
    // queued before it was woken — and `stop()` takes effect when the
    // iteration it was called in ends. Once the future is done, the loop
    // runs on as asyncio's does after `run_until_complete`'s own done
    // callback, queued the moment the future completed, calls `stop()`:
    // until what was queued before that moment has run, and to the end of
    // that iteration. (So a task's done callbacks added earlier have run.)
    // Saturating: a foreign push may be in the queue's length a moment
    // before it is in the count.
    let mut popped = shared.strict_pushed().saturating_sub(shared.strict_queue_len());
    let chaos = shared.chaos_seed.map(|seed| Chaos::new(seed, 0));
    let mut output = None;
    // Where asyncio's stopping callback would be: tasks queued so far.
    let mut stop_at = 0;
    loop {
        // Like asyncio's `_run_once`: take in the I/O events and timers that
        // are due before the iteration's batch.
        shared.poll_reactor();
        let ready_at_start = shared.strict_queue_len();
        let mut ran = 0;
        loop {
            let woken = output.is_none() && main.is_woken();
            if woken && popped >= main.wake_seq() && main.take_wake() {
                if let Poll::Ready(ready) = step(future.as_mut(), &mut task_cx) {
                    output = Some(ready);
                    stop_at = shared.strict_pushed();
                }
            } else if ran < ready_at_start && shared.strict_run_one(chaos.as_ref()) {
                popped += 1;
                ran += 1;
            } else if woken && shared.strict_queue_len() == 0 {
                // Its turn came early: a wake from another thread raced with
                // the count. The queue is empty, so nothing is overtaken:
                // keep WOKEN, forget the sequence number. Relaxed: nothing is
                // published by this; `take_wake` synchronizes.
                main.state.fetch_and(WOKEN, Ordering::Relaxed);
            } else {
                break;
            }
        }
        // An empty queue: a foreign push counted but not yet queued is not
        // waited for.
        if output.is_some() && (popped >= stop_at || shared.strict_queue_len() == 0) {
            return output;
        }
        if until == Until::Stopped && shared.take_stop_request() {
            return None;
        }
        if ran == 0 {
            shared
                .strict_park(&main.parker, || main.is_woken() || (until == Until::Stopped && shared.stop_requested()));
        }
    }
}
