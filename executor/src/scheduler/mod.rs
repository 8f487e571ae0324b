//! The work-stealing scheduler: one crossbeam-deque `Worker`/`Stealer` pair
//! per worker thread, one global `Injector`, and the parking protocol that
//! keeps idle workers asleep without ever losing a wake-up.
//!
//! - `worker`: the worker thread's loop (find work, run it, search, park).
//! - `idle`: the searching / unparked counters and the sleepers list.
//! - `park`: one thread's sleep and wake-up.
//! - `registry`: every unfinished task, for shutdown.
//! - `local`: local tasks (`spawn_local`), pinned to the thread that
//!   spawned them.
//!
//! `README.md` beside this file states the protocol and why it is correct.

mod chaos;
mod idle;
mod local;
mod monitor;
mod park;
mod registry;
mod virtual_clock;
mod worker;

#[cfg(all(test, loom))]
mod loom_test;

pub(crate) use chaos::Chaos;
pub(crate) use idle::MAX_WORKERS;
pub(crate) use local::{CloseLocalTasks, LocalOwner};
pub(crate) use monitor::{Monitor, PollSlot, DEFAULT_SLOW_POLL_THRESHOLD};
pub(crate) use park::Parker;
pub(crate) use worker::{run_worker, WorkerCore};

use crate::blocking::ThreadPool;
use crate::callback::{CallbackQueue, Runnable};
use crate::context::WithContext;
use crate::current;
use crate::error::{Closed, ExceptionContext, ExceptionKind, Source};
use crate::metrics::{self, Counters, LoopGauges, RuntimeMetrics};
use crate::task::{self, DoneCallback, Header, Notified, Schedule, Task, TaskId, TaskName, TaskRef};
use crossbeam_deque::{Injector, Steal, Stealer};
use idle::Idle;
use loopwork_reactor::Reactor;
use parking_lot::{Condvar, Mutex, RwLock};
use registry::Registry;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use virtual_clock::ClockHolds;

/// The id of strict mode's callback cells (see `Shared::push_callback`):
/// task ids start at 1, so none is ever 0.
const CALLBACK_ID: TaskId = TaskId(0);

/// Most tasks one steal from the injector moves (crossbeam's own bound).
const INJECTOR_BATCH: usize = 32;
/// Most tasks a worker takes from the injector at once: enough to drain a
/// burst of remote spawns in a few visits, few enough to leave the other
/// workers their share.
const MAX_INJECTOR_SHARE: usize = 256;

/// The hook called with a panic nobody observed.
pub(crate) type PanicHook = Arc<dyn Fn(ExceptionContext) + Send + Sync>;

/// What the builder configures in `Shared`.
pub(crate) struct Config {
    pub(crate) on_unhandled_panic: Option<PanicHook>,
    pub(crate) max_blocking_threads: usize,
    pub(crate) slow_poll_threshold: std::time::Duration,
    pub(crate) chaos_seed: Option<u64>,
    pub(crate) debug: bool,
    pub(crate) task_details: bool,
}

/// The state every thread of one loop shares. Tasks hold an `Arc` to it, so a
/// waker that outlives the loop still finds it (closed) and does nothing.
pub(crate) struct Shared {
    injector: Injector<Notified>,
    stealers: Box<[Stealer<Notified>]>,
    /// The loop's I/O and timer driver; an idle worker waits in it.
    pub(crate) reactor: Arc<Reactor>,
    parkers: Box<[Parker]>,
    idle: Idle,
    /// Every unfinished task but the local ones, which their owners list.
    registry: Registry,
    /// The threads running this loop's code now, each with its local tasks
    /// (`local.rs`): where `all_tasks`, the dump, `num_tasks` and `close`
    /// find those. Weak: an owner that never closed (its thread unwound
    /// before its `CloseLocalTasks` guard was in place, or out of `close`
    /// itself) is still freed with its thread's context, not kept alive by
    /// the loop, which it references in turn.
    owners: Mutex<Vec<std::sync::Weak<LocalOwner>>>,
    closed: AtomicBool,
    next_task_id: AtomicU64,
    strict: StrictDriver,
    /// asyncio's exception handler: where panics nobody else sees go.
    exception_handler: RwLock<Option<PanicHook>>,
    pub(crate) callbacks: CallbackQueue,
    /// Threads inside `block_on` / `run_forever` (`Handle::is_running`).
    running: AtomicUsize,
    /// Set by `Handle::stop`, consumed by the `run_forever` it ends.
    stop_requested: AtomicBool,
    /// Wakers of the `run_forever` calls in progress.
    stop_wakers: Mutex<Vec<std::task::Waker>>,
    /// `Builder::chaos_seed`: perturb scheduling decisions, reproducibly.
    pub(crate) chaos_seed: Option<u64>,
    /// Slow-poll detection: what each worker is polling.
    pub(crate) monitor: Monitor,
    /// Each worker's metrics counters (`Handle::metrics`).
    pub(crate) counters: Counters,
    /// `Builder::debug`: time every poll.
    debug: bool,
    /// `Builder::task_details` (or debug mode): every task gets `Details`.
    records_details: bool,
    /// The loop's blocking pool, started on first use.
    blocking: std::sync::OnceLock<ThreadPool>,
    max_blocking_threads: usize,
    /// How many worker threads have left their loop, for `shutdown`'s wait.
    exited: Mutex<usize>,
    exited_cvar: Condvar,
    /// What keeps a virtual clock from jumping (see `virtual_clock`).
    clock_holds: ClockHolds,
    /// With a virtual clock, how many local tasks wait in their owners'
    /// queues (see `local`): work no other thread sees, which must keep the
    /// clock from jumping all the same.
    pinned_pending: AtomicUsize,
}

/// In strict mode (no workers), the one thread inside `block_on` or
/// `run_forever` runs every task; this is how the others wake it.
#[derive(Default)]
struct StrictDriver {
    parker: Mutex<Option<Arc<Parker>>>,
    sleeping: AtomicBool,
    /// How many tasks were ever pushed; with the driver's count of tasks run,
    /// it places a wake of `block_on`'s future in the FIFO order.
    pushed: AtomicU64,
}

/// How a task came to be scheduled, which decides where it goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Origin {
    /// Freshly spawned from a worker: the LIFO slot, as a wake. A spawned
    /// child usually consumes what its parent just made; running it next, on
    /// the same worker, keeps that data in cache and keeps chains of spawns
    /// from bouncing between workers. (Tasks on different workers run in
    /// parallel, so spawn order was never start order with workers; strict
    /// mode keeps asyncio's FIFO.)
    Spawn,
    /// Woken by another task or event: the LIFO slot, so a message handed
    /// from one task to the next is processed while it is hot in cache.
    Wake,
    /// Woke itself while running (`yield_now`): the back of the queue, so it
    /// cannot starve the others.
    Yield,
}

impl Shared {
    pub(crate) fn new(stealers: Vec<Stealer<Notified>>, reactor: Arc<Reactor>, config: Config) -> Shared {
        let num_workers = stealers.len();
        Shared {
            chaos_seed: config.chaos_seed,
            monitor: Monitor::new(num_workers, config.slow_poll_threshold),
            counters: Counters::new(num_workers),
            debug: config.debug,
            records_details: config.task_details || config.debug,
            injector: Injector::new(),
            parkers: (0..num_workers).map(|_| Parker::new(Some(reactor.clone()))).collect(),
            reactor,
            stealers: stealers.into_boxed_slice(),
            idle: Idle::new(num_workers),
            registry: Registry::new(num_workers),
            owners: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            next_task_id: AtomicU64::new(1),
            strict: StrictDriver::default(),
            exception_handler: RwLock::new(config.on_unhandled_panic),
            callbacks: CallbackQueue::default(),
            blocking: std::sync::OnceLock::new(),
            max_blocking_threads: config.max_blocking_threads,
            running: AtomicUsize::new(0),
            stop_requested: AtomicBool::new(false),
            stop_wakers: Mutex::new(Vec::new()),
            exited: Mutex::new(0),
            exited_cvar: Condvar::new(),
            clock_holds: ClockHolds::default(),
            pinned_pending: AtomicUsize::new(0),
        }
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.stealers.len()
    }

    pub(crate) fn is_closed(&self) -> bool {
        // Acquire pairs with the SeqCst store in `close`. A hint on most
        // paths (the registry and the injector re-check under their own
        // ordering); `spawn_local` relies on it after a lock (see there).
        self.closed.load(Ordering::Acquire)
    }

    /// Spawns a task. If the loop is closed, the future is dropped here and
    /// the task comes back as `Err`, already cancelled.
    #[track_caller]
    pub(crate) fn spawn<F>(
        self: &Arc<Self>,
        future: F,
        name: Option<TaskName>,
    ) -> Result<Task<F::Output>, Task<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if task::is_large::<F>() {
            self.spawn_moved(Box::pin(future), name)
        } else {
            self.spawn_moved(future, name)
        }
    }

    /// `spawn` of a future small enough to be moved into its task cell.
    #[track_caller]
    fn spawn_moved<F>(self: &Arc<Self>, future: F, name: Option<TaskName>) -> Result<Task<F::Output>, Task<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // Relaxed is enough: ids only need to be unique.
        let id = TaskId(self.next_task_id.fetch_add(1, Ordering::Relaxed));
        let location = std::panic::Location::caller();
        // The task runs in a copy of its spawner's context (contextvars).
        let future = WithContext::new(crate::context::capture(), future);
        #[cfg(feature = "tracing")]
        let (future, traced) = crate::tracing::instrument(
            future,
            id.0,
            &name.as_ref().map_or_else(|| format!("Task-{}", id.0), |name| name.0.clone()),
            location,
        );
        let details = self.details_for(name, location);
        let (registered, task, notified) = task::new_task(future, self.clone(), id, details);
        #[cfg(feature = "tracing")]
        traced.allocated_in(registered.header());
        if let Err(registered) = self.registry.insert(registered) {
            // The registry is closed: the task never runs.
            registered.shutdown();
            drop(notified);
            return Err(task);
        }
        self.schedule_task(notified, Origin::Spawn);
        Ok(task)
    }

    /// The stand-in task `block_on` drives its future as (see
    /// `block_on::MainTask`): registered, so `all_tasks` lists it, with the
    /// next id, and claimed as running at once, so its own future (which
    /// never completes) is never polled. Returns its handle and the claim,
    /// the queue entry that was never queued.
    #[track_caller]
    pub(crate) fn spawn_stand_in(self: &Arc<Self>) -> (Task<()>, Notified) {
        // Relaxed: as in `spawn`.
        let id = TaskId(self.next_task_id.fetch_add(1, Ordering::Relaxed));
        let details = self.details_for(None, std::panic::Location::caller());
        let (registered, handle, claim) = task::new_task(std::future::pending::<()>(), self.clone(), id, details);
        if let Err(unregistered) = self.registry.insert(registered) {
            // A closed loop: the future is still driven (its tasks complete
            // as cancelled), as a task nobody lists.
            drop(unregistered);
        }
        let claimed = claim.header().state.transition_to_running();
        debug_assert!(matches!(claimed, task::TransitionToRunning::Poll), "a fresh task is claimed by its first run");
        (handle, claim)
    }

    /// The introspection slot of a task spawned at `location`: a record
    /// for a named task, and for every task of a loop that records task
    /// details; the location alone otherwise (see `task::DetailsSlot`).
    pub(super) fn details_for(
        &self,
        name: Option<TaskName>,
        location: &'static std::panic::Location<'static>,
    ) -> task::DetailsSlot {
        if name.is_none() && !self.records_details {
            return task::DetailsSlot::location(location);
        }
        let details = task::Details::at_spawn(name.map(|name| name.0), location, self.monitor.coarse_now());
        task::DetailsSlot::record(details)
    }

    /// Routes a task to the right queue: the current worker's own deque when
    /// this thread is one of this loop's workers, else the injector.
    pub(crate) fn schedule_task(self: &Arc<Self>, task: Notified, origin: Origin) {
        current::with_current(|cx| match cx {
            Some(cx) if Arc::ptr_eq(&cx.shared, self) => match &cx.worker {
                Some(core) => core.push(self, task, origin),
                None => self.push_remote(task),
            },
            _ => self.push_remote(task),
        });
    }

    fn push_remote(&self, task: Notified) {
        if self.is_closed() {
            drop(task);
            return;
        }
        if self.num_workers() == 0 {
            return self.push_strict(task);
        }
        self.injector.push(task);
        // The Dekker pattern with the drain of a closed loop, without a
        // fence of its own: the post-work protocol's SeqCst
        // read-modify-write of the idle word (always done, first thing in
        // `worker_to_notify`) pairs with the one the drainer makes after it
        // saw `closed` (`Idle::order_drain_after_pushes`, in
        // `drop_unfinished_tasks`). Either that drain sees this push, or
        // this load sees `closed` and we drain it ourselves. Either way the
        // entry does not linger in a dead loop's queue, keeping the task
        // alive forever. (Waking a worker of a loop that is closing costs
        // nothing: it leaves.)
        self.notify_parked();
        if self.closed.load(Ordering::Relaxed) {
            self.drain_injector();
        }
    }

    /// `push_remote` in strict mode: the driver thread runs the queue.
    fn push_strict(&self, task: Notified) {
        // Counted before the push, so the count is never behind the queue's
        // length. Relaxed is enough: the count places the main future among
        // the tasks the driver thread itself pushed (same thread, program
        // order); a push from another thread has no order relative to a wake
        // to keep.
        self.strict.pushed.fetch_add(1, Ordering::Relaxed);
        self.injector.push(task);
        // SeqCst fence, the Dekker pattern with `close` (with `close`'s
        // fence: strict mode has no idle word to order them) and with
        // `strict_park` (see `StrictDriver::notify`).
        fence(Ordering::SeqCst);
        if self.closed.load(Ordering::Relaxed) {
            self.drain_injector();
            return;
        }
        self.strict.notify();
    }

    /// Wakes one parked worker if nobody is searching (see `Idle`).
    pub(crate) fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.parkers[index].unpark();
            self.monitor.wake_if_sleeping();
        }
    }

    /// True if any queue holds a task or a callback: the last searcher's
    /// re-check.
    fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.callbacks.needs_a_drainer() || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// Queues a callback (`call_soon`). With workers it joins the serialized
    /// callback queue; in strict mode it rides the one FIFO run queue in a
    /// task cell, so it keeps its place among the tasks. That cell is no
    /// task to asyncio: it has no id of its own (`CALLBACK_ID`), stays out of
    /// the registry (`all_tasks`, `num_tasks`), and is not `current_task`
    /// while it runs (`run_strict`).
    #[track_caller]
    pub(crate) fn push_callback(self: &Arc<Self>, callback: Arc<dyn Runnable>) -> Result<(), Closed> {
        if self.is_closed() {
            return Err(Closed);
        }
        if self.num_workers() == 0 {
            let shared = self.clone();
            let run = async move {
                if let Err(payload) = callback.run() {
                    shared.callback_panicked(payload);
                }
            };
            // The callback already runs in its scheduler's context (see
            // `Handle::call_soon`), so no `WithContext` around it.
            let location = task::DetailsSlot::location(std::panic::Location::caller());
            let (unregistered, handle, queued) = task::new_task(run, self.clone(), CALLBACK_ID, location);
            // Only the queue entry stays: the cell is freed once it has run,
            // or with the queue if the loop closes first.
            drop((unregistered, handle));
            self.push_remote(queued);
            return Ok(());
        }
        self.callbacks.push(callback);
        // The Dekker pair with `close`'s fence (`push_strict` has the same),
        // and with the drainer's in `CallbackQueue::run_batch`.
        fence(Ordering::SeqCst);
        if self.closed.load(Ordering::Relaxed) {
            self.callbacks.clear();
            return Err(Closed);
        }
        self.notify_parked();
        Ok(())
    }

    pub(crate) fn callback_panicked(&self, payload: Box<dyn Any + Send>) {
        self.report(ExceptionContext::unhandled_panic(Source::Callback, payload));
    }

    /// Calls `f` with each owner of local tasks still in the loop, under
    /// the list's lock (`f` may take an owner's registry lock: nothing
    /// takes the two the other way round).
    fn for_each_owner(&self, mut f: impl FnMut(&LocalOwner)) {
        for owner in self.owners.lock().iter().filter_map(std::sync::Weak::upgrade) {
            f(&owner);
        }
    }

    /// Lists a new owner (`LocalOwner::new`).
    pub(crate) fn add_owner(&self, owner: &Arc<LocalOwner>) {
        let mut owners = self.owners.lock();
        // An owner closes from a drop guard, which takes it off. One that
        // never closed (see `owners`) stays listed while its tasks (which
        // reference it) live, and is pruned here once freed.
        owners.retain(|listed| listed.strong_count() > 0);
        owners.push(Arc::downgrade(owner));
    }

    /// Takes a closing owner off the list (`LocalOwner::close`).
    pub(crate) fn forget_owner(&self, owner: &LocalOwner) {
        self.owners.lock().retain(|listed| !std::ptr::eq(listed.as_ptr(), owner));
    }

    /// A snapshot of every unfinished task.
    pub(crate) fn all_tasks(&self) -> Vec<crate::task::TaskInfo> {
        let mut all = self.registry.all_tasks();
        self.for_each_owner(|owner| all.extend(owner.tasks().all_tasks()));
        all
    }

    /// A snapshot of the loop's metrics. Loads counters and gauges; the
    /// only locks it takes are the blocking pool's, for two loads, and the
    /// list of local-task owners', to count their tasks.
    pub(crate) fn metrics(&self) -> RuntimeMetrics {
        let (blocking_threads, blocking_threads_idle) = self.blocking.get().map_or((0, 0), ThreadPool::thread_counts);
        let gauges = LoopGauges {
            alive_tasks: self.num_tasks(),
            // Relaxed: a statistic; ids are handed out from 1.
            spawned_tasks: self.next_task_id.load(Ordering::Relaxed) - 1,
            injector_depth: self.injector.len(),
            callbacks_queued: self.callbacks.len(),
            timers_pending: self.reactor.timers_pending(),
            io_sources: self.reactor.io_sources(),
            blocking_threads,
            blocking_threads_idle,
        };
        metrics::snapshot(gauges, &self.counters, &self.monitor.slots, self.stealers.iter().map(Stealer::len))
    }

    /// Calls `f` with every unfinished task.
    pub(crate) fn registry_for_each(&self, mut f: impl FnMut(&Header)) {
        self.registry.for_each(&mut f);
        self.for_each_owner(|owner| owner.tasks().for_each(&mut f));
    }

    /// The name of an unfinished task, for reports.
    pub(crate) fn task_name(&self, id: u64) -> Option<String> {
        let mut name = self.registry.task_name(id);
        self.for_each_owner(|owner| {
            if name.is_none() {
                name = owner.tasks().task_name(id);
            }
        });
        name
    }

    /// Hands what nobody else will see (a panic, a slow poll) to the
    /// exception handler.
    pub(crate) fn report(&self, report: ExceptionContext) {
        let handler = self.exception_handler.read().clone();
        match handler {
            Some(handler) => {
                // The handler runs on a loop thread; its own panic must not
                // take that thread down.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || handler(report)));
            }
            None => eprintln!("loopwork: {report}"),
        }
    }

    pub(crate) fn set_exception_handler(&self, handler: Option<PanicHook>) {
        *self.exception_handler.write() = handler;
    }

    /// Moves a fair share of the injector into `local` and returns one task.
    fn steal_from_injector(&self, local: &crossbeam_deque::Worker<Notified>) -> Option<Notified> {
        let first = retry_steal(|| self.injector.steal_batch_with_limit_and_pop(local, INJECTOR_BATCH))?;
        self.refill_from_injector(local, INJECTOR_BATCH);
        Some(first)
    }

    /// Moves up to this worker's fair share of the injector (an even split
    /// among the workers, at most `MAX_INJECTOR_SHARE`) into `local`, of
    /// which `taken` were moved already.
    ///
    /// A fair share, not the whole queue: the other workers get their part
    /// of a burst of remote spawns without having to steal it back. And not a
    /// fixed small batch either: a worker whose own queue never runs dry
    /// looks at the injector only every 61 ticks, and must take in remote
    /// work at the rate it arrives, not 32 tasks at a time.
    fn refill_from_injector(&self, local: &crossbeam_deque::Worker<Notified>, mut taken: usize) {
        let share = (self.injector.len() / self.num_workers().max(1)).min(MAX_INJECTOR_SHARE);
        while taken < share {
            let before = local.len();
            // crossbeam moves at most 32 a call (and stops at the end of a
            // block), hence the loop.
            match self.injector.steal_batch_with_limit(local, (share - taken).min(INJECTOR_BATCH)) {
                // Thieves may take from `local` meanwhile, so its growth is a
                // lower bound; a success moved at least one task.
                Steal::Success(()) => taken += local.len().saturating_sub(before).max(1),
                Steal::Empty => return,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    /// Pops one task from the injector (strict mode's run queue).
    fn pop_injector(&self) -> Option<Notified> {
        retry_steal(|| self.injector.steal())
    }

    fn drain_injector(&self) {
        while let Some(task) = self.pop_injector() {
            drop(task);
        }
    }

    /// Marks the loop closed and wakes every sleeping thread so it can leave.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        // Pairs with the fences in `push_strict` and `push_callback` (a
        // push with workers pairs with the drain instead: see
        // `drop_unfinished_tasks`).
        fence(Ordering::SeqCst);
        for parker in self.parkers.iter() {
            parker.unpark();
        }
        self.strict.notify();
        self.monitor.close();
        // asyncio's `close()` removes the loop's signal handlers; after the
        // store above, so that a handler added concurrently sees the loop closed.
        crate::signal::forget_loop(self);
    }

    /// After `close`: cancels every unfinished task (dropping the futures of
    /// those nobody is polling, here on this thread) and empties the queues.
    /// Returns the tasks that were still being polled by a worker.
    pub(crate) fn drop_unfinished_tasks(&self) -> Vec<(u64, String)> {
        let mut still_running = Vec::new();
        if self.debug {
            crate::dump::report_pending_at_close(self);
        }
        // The caller saw the loop closed (it closed it, or it is the last
        // worker out): this orders the drain below after every remote push
        // that did not see `closed` (see `push_remote`).
        self.idle.order_drain_after_pushes();
        // The local tasks of threads still in the loop are cancelled here
        // and dropped by their owners (`TaskRef::shutdown`); those spawned
        // from now on see the loop closed (`spawn_local`).
        let mut local = Vec::new();
        self.for_each_owner(|owner| local.extend(owner.tasks().refs()));
        for task in self.registry.close().into_iter().chain(local) {
            if task.header().state.load().is_running() {
                still_running.push((task.header().id.0, task.header().name()));
            }
            task.shutdown();
        }
        self.drain_injector();
        self.callbacks.clear();
        // No timer fires in a closed loop; what its wakers hold (a
        // `call_later` callback) goes now, not with the last `Handle`.
        self.reactor.clear_timers();
        for stealer in self.stealers.iter() {
            while let Some(task) = retry_steal(|| stealer.steal()) {
                drop(task);
            }
        }
        still_running
    }

    /// Blocks until every worker has left its loop, or the deadline passes.
    /// Returns how many are still running.
    pub(crate) fn wait_for_workers(&self, deadline: Option<std::time::Instant>) -> usize {
        let mut exited = self.exited.lock();
        while *exited < self.num_workers() {
            match deadline {
                Some(deadline) => {
                    if self.exited_cvar.wait_until(&mut exited, deadline).timed_out() {
                        break;
                    }
                }
                None => self.exited_cvar.wait(&mut exited),
            }
        }
        self.num_workers() - *exited
    }

    /// Counts workers whose threads never started as already gone.
    pub(crate) fn mark_unstarted_workers(&self, count: usize) {
        *self.exited.lock() += count;
        self.exited_cvar.notify_all();
    }

    fn worker_exited(&self) {
        let last = {
            let mut exited = self.exited.lock();
            *exited += 1;
            *exited == self.num_workers()
        };
        self.exited_cvar.notify_all();
        if last && self.is_closed() {
            // The last worker out finishes the close, so that a loop dropped
            // on its own thread, or abandoned after a timed-out `shutdown`,
            // still drops every task (the tasks and `Shared` reference each
            // other: left alone, neither would ever be freed).
            self.drop_unfinished_tasks();
            self.close_blocking_pool();
            self.release_user_hooks();
        }
    }

    /// After the close is complete: drops what user code gave the loop and
    /// might use to reach it (a handler capturing a `Handle`, the waker of a
    /// `run_forever` that was never woken), breaking those cycles.
    pub(crate) fn release_user_hooks(&self) {
        let handler = self.exception_handler.write().take();
        let wakers = std::mem::take(&mut *self.stop_wakers.lock());
        drop((handler, wakers));
    }

    /// `run_forever` is over: forgets its waker.
    pub(crate) fn remove_stop_waker(&self, waker: &std::task::Waker) {
        let mut wakers = self.stop_wakers.lock();
        let position = wakers.iter().position(|w| w.will_wake(waker));
        let removed = position.map(|p| wakers.swap_remove(p));
        drop(wakers);
        drop(removed);
    }

    /// The number of unfinished tasks.
    pub(crate) fn num_tasks(&self) -> usize {
        let mut count = self.registry.len();
        self.for_each_owner(|owner| count += owner.tasks().len());
        count
    }

    /// The loop's blocking pool (`run_in_executor`).
    pub(crate) fn blocking_pool(&self) -> &ThreadPool {
        self.blocking.get_or_init(|| ThreadPool::named(self.max_blocking_threads, "loopwork-blocking"))
    }

    /// Closes the blocking pool, if it was ever started, without waiting for
    /// its threads: for a close that cannot wait (on one of the loop's own
    /// threads), so that the pool's threads leave now rather than after
    /// their idle timeout.
    pub(crate) fn close_blocking_pool(&self) {
        if let Some(pool) = self.blocking.get() {
            pool.close();
        }
    }

    /// Shuts the blocking pool down, if it was ever started. Returns how many
    /// of its threads were still busy at the deadline.
    pub(crate) fn shutdown_blocking_pool(&self, deadline: Option<std::time::Instant>) -> usize {
        match self.blocking.get() {
            Some(pool) => pool.shutdown_until(deadline).err().unwrap_or(0),
            None => 0,
        }
    }

    /// Counts the calling thread as running the loop until the guard drops.
    pub(crate) fn enter_running(&self) -> RunningGuard<'_> {
        // Relaxed is enough: `is_running` is a snapshot for callers, nothing
        // is published through it.
        self.running.fetch_add(1, Ordering::Relaxed);
        RunningGuard(self)
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed) > 0
    }

    /// `Handle::stop`: ends the `run_forever` in progress, or the next one.
    pub(crate) fn request_stop(&self) {
        // Release pairs with the Acquire swap in `take_stop_request`.
        self.stop_requested.store(true, Ordering::Release);
        let wakers = std::mem::take(&mut *self.stop_wakers.lock());
        for waker in wakers {
            waker.wake();
        }
        self.strict.notify_unconditionally();
    }

    pub(crate) fn add_stop_waker(&self, waker: std::task::Waker) {
        self.stop_wakers.lock().push(waker);
    }

    pub(crate) fn stop_requested(&self) -> bool {
        // Acquire: as in `take_stop_request`.
        self.stop_requested.load(Ordering::Acquire)
    }

    pub(crate) fn take_stop_request(&self) -> bool {
        // Acquire pairs with the Release store in `request_stop`.
        self.stop_requested.swap(false, Ordering::Acquire)
    }

    /// Becomes the strict-mode driver for the duration of `block_on`.
    ///
    /// # Panics
    ///
    /// If another thread is driving this strict-mode loop already.
    pub(crate) fn register_strict_driver(&self, parker: Arc<Parker>) {
        let mut slot = self.strict.parker.lock();
        assert!(
            slot.is_none(),
            "this loop has no worker threads (workers(0)) and another thread is already running it; \
             drive it from one thread at a time, or build it with workers(n) to share it"
        );
        *slot = Some(parker);
    }

    pub(crate) fn unregister_strict_driver(&self) {
        *self.strict.parker.lock() = None;
    }
}

/// Repeats a steal while it loses a race (`Retry`), giving the item or None.
pub(crate) fn retry_steal<T>(mut steal: impl FnMut() -> Steal<T>) -> Option<T> {
    loop {
        match steal() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}

/// Counts a thread inside `block_on` / `run_forever`; see `enter_running`.
pub(crate) struct RunningGuard<'a>(&'a Shared);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        // Relaxed: as in `enter_running`.
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

impl StrictDriver {
    /// Wakes the driver whether or not it announced it sleeps (for `stop`,
    /// which has no queue push to pair a fence with).
    fn notify_unconditionally(&self) {
        if let Some(parker) = self.parker.lock().as_ref() {
            parker.unpark();
        }
    }

    fn notify(&self) {
        // Relaxed is enough after the SeqCst fence in `push_strict`: it pairs
        // with the driver's SeqCst store + fence in `strict_park` (Dekker).
        if self.sleeping.load(Ordering::Relaxed) {
            if let Some(parker) = self.parker.lock().as_ref() {
                parker.unpark();
            }
        }
    }
}

impl Shared {
    /// Strict mode: runs the next task from the shared FIFO queue. Returns
    /// false if it was empty.
    pub(crate) fn strict_run_one(&self, chaos: Option<&Chaos>) -> bool {
        let Some(task) = self.pop_injector() else { return false };
        match chaos {
            None => self.run_strict(task),
            Some(chaos) => {
                self.run_with_chaos(task, chaos, |task| self.push_remote(task), |task| self.run_strict(task))
            }
        }
        true
    }

    /// Strict mode's run of a queue entry: a task, or a callback in its
    /// cell (see `push_callback`), which the monitor reports as a callback
    /// and `current_task` does not see.
    fn run_strict(&self, task: Notified) {
        if task.id() == CALLBACK_ID.0 {
            let slot = &self.monitor.slots[0];
            slot.begin(None);
            self.run_callback(|| task.run());
            slot.end();
        } else {
            self.run_watched(0, task);
        }
    }

    /// Chaos mode's run of a task: sometimes `requeue` it instead (an
    /// injected yield), sometimes wake it spuriously after its poll. Out of
    /// line and cold, so that the default path compiles as if chaos mode did
    /// not exist (inline, it cost 25 instructions a poll, 6% of
    /// `yield_many`, under callgrind).
    #[cold]
    #[inline(never)]
    pub(crate) fn run_with_chaos(
        &self,
        task: Notified,
        chaos: &Chaos,
        requeue: impl FnOnce(Notified),
        run: impl FnOnce(Notified),
    ) {
        if chaos.inject_yield() {
            // This task waits another turn, behind the others.
            requeue(task);
        } else if chaos.inject_spurious_wake() {
            let waker = task.waker();
            run(task);
            // A correct future tolerates being polled without cause.
            waker.wake();
        } else {
            run(task);
        }
    }

    /// Runs a task with its poll published to the slow-poll monitor, on
    /// the thread whose slot (and metrics counters) are at `index`.
    /// Always inline: out of line, the call costs more than the rest of
    /// the function (21 instructions a poll of `yield_many`).
    #[inline(always)]
    pub(crate) fn run_watched(&self, index: usize, task: Notified) {
        if self.debug {
            return self.run_timed(index, task);
        }
        let slot = &self.monitor.slots[index];
        slot.begin(Some(task.id()));
        let header = NonNull::from(task.header());
        self.renew_budget();
        current::with_current_task(header, || task.run());
        slot.end();
    }

    /// Every poll starts with a fresh cooperative budget (see `coop`).
    /// What the previous poll on this thread left of its own tells whether
    /// it spent all of it: then a task is looping over resources that are
    /// always ready, and the timers and sockets it kept waiting are looked
    /// at now rather than at the next every-61-ticks check (up to 61 budgets
    /// later; tokio drives its reactor whenever a task ran out, for the same
    /// reason).
    #[inline(always)]
    fn renew_budget(&self) {
        if loopwork_coop::replace(loopwork_coop::Budget::INITIAL) == loopwork_coop::Budget::new(0) {
            self.poll_reactor_after_spent_budget();
        }
    }

    /// Runs a callback (`run`). In debug mode it is timed, and reported if
    /// it ran longer than the slow-poll threshold (see
    /// `ExceptionKind::SlowCallback`); otherwise this is one branch.
    #[inline(always)]
    pub(crate) fn run_callback<R>(&self, run: impl FnOnce() -> R) -> R {
        if self.debug {
            return self.run_callback_timed(run);
        }
        run()
    }

    /// Debug mode's run of a callback: two clock reads, as for a poll.
    #[cold]
    #[inline(never)]
    fn run_callback_timed<R>(&self, run: impl FnOnce() -> R) -> R {
        let started = std::time::Instant::now();
        let result = run();
        let duration = started.elapsed();
        if duration > self.monitor.threshold() {
            self.report(ExceptionContext {
                message: format!(
                    "executing a callback took {duration:.3?}, blocking its worker thread (the slow-callback \
                     threshold is {:?})",
                    self.monitor.threshold()
                ),
                source: Source::Callback,
                kind: ExceptionKind::SlowCallback { duration },
            });
        }
        result
    }

    /// Debug mode (`Builder::debug`).
    pub(crate) fn is_debug(&self) -> bool {
        self.debug
    }

    /// Debug mode's run of a task: also reads the clock around the poll,
    /// for the poll-time histogram. Out of line, so that the default path
    /// pays one branch for it.
    #[cold]
    #[inline(never)]
    fn run_timed(&self, index: usize, task: Notified) {
        let slot = &self.monitor.slots[index];
        slot.begin(Some(task.id()));
        let header = NonNull::from(task.header());
        self.renew_budget();
        let started = std::time::Instant::now();
        current::with_current_task(header, || task.run());
        self.counters.workers[index].record_poll_time(started.elapsed());
        slot.end();
    }

    /// `poll_reactor` for `run_watched`, out of line and cold: inline, it
    /// cost 13 instructions a poll of `yield_many`, which never runs out.
    #[cold]
    #[inline(never)]
    fn poll_reactor_after_spent_budget(&self) {
        self.poll_reactor();
    }

    /// Strict mode: how many tasks were ever queued.
    pub(crate) fn strict_pushed(&self) -> u64 {
        // Relaxed: see the increment in `push_strict`.
        self.strict.pushed.load(Ordering::Relaxed)
    }

    /// Strict mode: how many tasks are queued now.
    pub(crate) fn strict_queue_len(&self) -> u64 {
        self.injector.len() as u64
    }

    /// Strict mode: parks the driver unless work (or `ready`) appeared.
    pub(crate) fn strict_park(&self, parker: &Parker, ready: impl Fn() -> bool) {
        self.strict.sleeping.store(true, Ordering::SeqCst);
        // Pairs with the fence in `push_strict` (see `StrictDriver::notify`).
        fence(Ordering::SeqCst);
        // A closed loop parks too: it runs nothing more, but the main future
        // can still be woken (its tasks complete as cancelled).
        if self.injector.is_empty() && !ready() {
            // Sleeps in the reactor (the driver always gets its lock): I/O
            // and timers wake it as well as new tasks.
            parker.park_in_reactor_with(
                |driver| {
                    if !ready() {
                        // Nothing runnable: with a virtual clock and nothing
                        // else pending, skip straight to the next timer.
                        self.advance_virtual_clock_if_idle(driver);
                    }
                },
                |_woken| {},
            );
        }
        self.strict.sleeping.store(false, Ordering::Relaxed);
    }

    /// Processes the I/O events and timers that are due, without blocking,
    /// if no other thread is waiting in the reactor: how a loop whose
    /// threads are all busy still notices I/O and timers.
    pub(crate) fn poll_reactor(&self) {
        if let Some(mut driver) = self.reactor.try_lock() {
            // An error here is retried by the next poll or park.
            let _ = driver.react(Some(std::time::Duration::ZERO));
        }
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified) {
        crate::dump::record_wake(self, task.header());
        self.schedule_task(task, Origin::Wake);
    }

    fn yield_now(&self, task: Notified) {
        crate::dump::record_self_wake(task.header());
        self.schedule_task(task, Origin::Yield);
    }

    fn defer(&self, callback: DoneCallback) {
        let (queued, _handle) = crate::callback::new_callback(callback);
        // A closed loop runs no more callbacks; the closure is dropped.
        let _ = self.push_callback(queued);
    }

    fn release(&self, task: &Header) -> Option<TaskRef> {
        self.registry.remove(task)
    }

    #[inline]
    fn coarse_now(&self) -> u64 {
        self.monitor.coarse_now()
    }

    fn unhandled_panic(&self, task: &Header, payload: Box<dyn Any + Send>) {
        self.report(ExceptionContext::unhandled_panic(Source::Task { id: task.id.0, name: task.name() }, payload));
    }

    fn waker_panicked(&self, task: &Header, payload: Box<dyn Any + Send>) {
        self.report(ExceptionContext::waker_panicked(Source::Task { id: task.id.0, name: task.name() }, payload));
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("workers", &self.num_workers())
            .field("closed", &self.is_closed())
            .field("injector_len", &self.injector.len())
            .finish_non_exhaustive()
    }
}
