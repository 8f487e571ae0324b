//! Local tasks: `spawn_local`'s futures, which need not be `Send`, pinned to
//! the thread that spawned them.
//!
//! Every thread that runs a loop's code — a worker, or a thread inside
//! `block_on` / `run_forever` — has one [`LocalOwner`] for as long as it
//! does. The owner lists its unfinished local tasks in a registry of its
//! own (the loop's registry holds the others; the loop finds the owners'
//! through its list of owners) and keeps a queue of those that were woken.
//! Anyone may push to that queue (a waker can be anywhere); only the owner
//! thread pops it, and a push from another thread unparks that thread,
//! never another. In strict mode the
//! loop's one FIFO queue is already drained by one thread only, the driver,
//! so local tasks share it and keep asyncio's order with the others.
//!
//! When the owner's thread leaves the loop (its `block_on` returns, its
//! worker exits), it cancels its unfinished local tasks and drops their
//! futures itself, before anything else could reach them. `LOCAL.md`
//! beside this file states the rules and why no `!Send` value crosses
//! threads.

use super::monitor::ThreadSlot;
use super::registry::Registry;
use super::{Origin, Parker, Shared};
use crate::current;
use crate::task::{self, DoneCallback, Header, Notified, Schedule, Task, TaskId, TaskRef};
use parking_lot::Mutex;
use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

/// How many entries the emptied buffers a thread keeps for its next owner
/// may hold (`Buffers`): more than most rounds need, and a few hundred KiB
/// at most.
const KEPT_CAPACITY: usize = 16 * 1024;

/// An owner's two queues (the one tasks are pushed to, and the one a round
/// runs from), emptied when it closed, kept by its thread for the next
/// owner the thread makes.
#[derive(Default)]
struct Buffers {
    queue: VecDeque<Notified>,
    spare: VecDeque<Notified>,
}

thread_local! {
    /// What this thread's last owner left behind (`LocalOwner::close`): a
    /// thread that calls `block_on` again and again does not grow its local
    /// queue from nothing every time.
    static LEFT_BEHIND: std::cell::Cell<Option<Buffers>> = const { std::cell::Cell::new(None) };
}

/// The local tasks of one thread running one loop.
pub(crate) struct LocalOwner {
    shared: Arc<Shared>,
    /// `None` in strict mode: the task joins the loop's one run queue,
    /// which only the driver thread (the owner) runs, and whose push wakes
    /// the driver.
    waiter: Option<Waiter>,
    /// Woken local tasks, oldest first (unused in strict mode).
    queue: Mutex<Queue>,
    /// `queue`'s length, read by the owner without taking the lock.
    queued: AtomicUsize,
    /// The owner's reference to each unfinished local task: what keeps a
    /// cell alive until its future has been dropped on this thread, and
    /// what `all_tasks`, the dump and the loop's close find it by. Closed
    /// when the owner leaves: later spawns are refused.
    tasks: Registry,
    /// A thread inside `block_on` / `run_forever` with workers: its slot in
    /// the slow-poll monitor, registered at its first round of local tasks
    /// (inside the scope whose end calls `close`, which unregisters it).
    /// A worker polls its local tasks under its own slot; strict mode's
    /// driver under the loop's one.
    poll_slot: OnceLock<Arc<ThreadSlot>>,
}

/// How the owner thread learns that one of its tasks was woken.
enum Waiter {
    /// A thread inside `block_on` / `run_forever`, sleeping on this parker.
    Thread(Arc<Parker>),
    /// Worker thread `index`.
    Worker(usize),
}

#[derive(Default)]
struct Queue {
    entries: VecDeque<Notified>,
    /// The buffer the owner's last round ran from, emptied, kept for the
    /// next round to swap in: a round takes `entries` whole, and without it
    /// every round would start the queue again from no capacity and grow
    /// it by doubling (ten thousand spawns: fourteen reallocations a round).
    spare: VecDeque<Notified>,
    /// Set when the owner leaves: later wakes drop their entry.
    closed: bool,
}

/// The scheduler of one local task: its owner.
pub(crate) struct LocalSchedule {
    owner: Arc<LocalOwner>,
}

impl LocalOwner {
    /// The owner for a thread inside `block_on` / `run_forever`, which
    /// sleeps on `parker` (strict mode's driver sleeps in the reactor and
    /// is woken by pushes to the run queue instead).
    pub(crate) fn for_thread(shared: &Arc<Shared>, parker: &Arc<Parker>) -> Arc<LocalOwner> {
        let waiter = (shared.num_workers() > 0).then(|| Waiter::Thread(parker.clone()));
        LocalOwner::new(shared, waiter, LEFT_BEHIND.take().unwrap_or_default())
    }

    /// The owner for worker thread `index`.
    pub(crate) fn for_worker(shared: &Arc<Shared>, index: usize) -> Arc<LocalOwner> {
        LocalOwner::new(shared, Some(Waiter::Worker(index)), Buffers::default())
    }

    fn new(shared: &Arc<Shared>, waiter: Option<Waiter>, buffers: Buffers) -> Arc<LocalOwner> {
        let owner = Arc::new(LocalOwner {
            shared: shared.clone(),
            waiter,
            queue: Mutex::new(Queue { entries: buffers.queue, spare: buffers.spare, closed: false }),
            queued: AtomicUsize::new(0),
            tasks: Registry::single(),
            poll_slot: OnceLock::new(),
        });
        shared.add_owner(&owner);
        owner
    }

    /// The owner's unfinished local tasks, for the loop's introspection.
    pub(crate) fn tasks(&self) -> &Registry {
        &self.tasks
    }

    /// True if the calling thread is this owner's (inside its scope).
    fn is_current(self: &Arc<Self>) -> bool {
        current::with_current(|cx| cx.is_some_and(|cx| Arc::ptr_eq(&cx.local, self)))
    }

    /// Queues a woken task for the owner thread, from any thread, and
    /// wakes the owner if the caller is another thread.
    fn push(self: &Arc<Self>, task: Notified, origin: Origin) {
        let Some(waiter) = self.enqueue(task, origin) else { return };
        if self.is_current() {
            // The owner pushed it itself: it is awake and looks at its queue
            // before it parks.
            return;
        }
        // The unpark is remembered if the owner is not asleep yet, and the
        // owner looks at its queue every time it comes back from parking: it
        // cannot sleep past this entry (LOCAL.md, "No lost wake-up").
        match waiter {
            Waiter::Thread(parker) => parker.unpark(),
            Waiter::Worker(index) => self.shared.parkers[*index].unpark(),
        }
    }

    /// `push` from the owner thread itself (a spawn, a task that woke
    /// itself while running): nobody to wake.
    fn push_own(&self, task: Notified, origin: Origin) {
        let _ = self.enqueue(task, origin);
    }

    /// Queues `task` for the owner. Returns how to wake the owner if it
    /// went to the owner's own queue; `None` if it went to strict mode's
    /// run queue (whose push wakes the driver) or was refused.
    fn enqueue(&self, task: Notified, origin: Origin) -> Option<&Waiter> {
        let Some(waiter) = &self.waiter else {
            // The one FIFO queue, in its turn among every other task.
            self.shared.schedule_task(task, origin);
            return None;
        };
        // Counted before it is visible, so a virtual clock never sees the
        // loop idle while the entry waits (see `Shared::pinned_pending`).
        self.shared.count_pinned(1);
        let refused = {
            let mut queue = self.queue.lock();
            if queue.closed {
                Some(task)
            } else {
                queue.entries.push_back(task);
                // Relaxed: written under the lock; see `has_work`.
                self.queued.store(queue.entries.len(), Ordering::Relaxed);
                None
            }
        };
        match refused {
            None => Some(waiter),
            Some(task) => {
                // The owner has left and dropped every future of its tasks,
                // so this is a reference to a finished cell: dropping it,
                // here or anywhere, touches no `!Send` value. Outside the
                // lock: it may be the last reference, and free the owner.
                self.shared.uncount_pinned(1);
                drop(task);
                None
            }
        }
    }

    /// True if a woken task waits for the owner. Only meaningful on the
    /// owner thread.
    pub(crate) fn has_work(&self) -> bool {
        // Relaxed is enough: the owner's own pushes are earlier in its
        // program order, and a foreign push is followed by an unpark whose
        // Release pairs with the Acquire at the end of the owner's park,
        // after which this load sees it.
        self.queued.load(Ordering::Relaxed) != 0
    }

    /// The oldest woken task, for the owner thread to run.
    pub(crate) fn pop(&self) -> Option<Notified> {
        if !self.has_work() {
            return None;
        }
        let task = {
            let mut queue = self.queue.lock();
            let task = queue.entries.pop_front();
            // Relaxed: as in `enqueue`.
            self.queued.store(queue.entries.len(), Ordering::Relaxed);
            task
        };
        if task.is_some() {
            // The owner thread is awake now, and holds its own place in the
            // virtual clock's idle check while it runs the task.
            self.shared.uncount_pinned(1);
        }
        task
    }

    /// Requeues a task behind the others (chaos mode's injected yield).
    pub(crate) fn push_back(&self, task: Notified) {
        self.push_own(task, Origin::Yield);
    }

    /// Runs, on a thread inside `block_on` with workers, the local tasks
    /// that were woken when it is called: one round, as an iteration of
    /// asyncio's loop runs what was ready when it began (those woken
    /// meanwhile wait for the next round, after the future's next poll).
    /// Taken in one go, for one lock a round. Each poll is marked in the
    /// thread's slot for the slow-poll monitor, as a worker's are: a clock
    /// read a poll cost 13% of `spawn_local`'s time. Returns false if none
    /// was queued.
    pub(crate) fn run_round_on_thread(&self) -> bool {
        if !self.has_work() {
            return false;
        }
        let mut round = {
            let mut queue = self.queue.lock();
            // Relaxed: as in `enqueue`.
            self.queued.store(0, Ordering::Relaxed);
            let spare = std::mem::take(&mut queue.spare);
            std::mem::replace(&mut queue.entries, spare)
        };
        // This thread is awake and holds its clock hold while it runs them.
        self.shared.uncount_pinned(round.len());
        let shared = &self.shared;
        let thread = self.poll_slot.get_or_init(|| shared.monitor.register());
        let _round = shared.monitor.round(thread);
        let slot = thread.poll_slot();
        for task in round.drain(..) {
            let header = NonNull::from(task.header());
            shared.renew_budget();
            slot.begin(Some(task.id()));
            current::with_current_task(header, || task.run());
            slot.end();
        }
        // The emptied buffer goes back, with its capacity, for the next round.
        self.queue.lock().spare = round;
        true
    }

    /// The owner thread leaves the loop: refuses further spawns and wakes,
    /// then cancels every unfinished local task, dropping its future here.
    /// Called on the owner thread, inside its scope, outside any poll.
    pub(crate) fn close(self: &Arc<Self>) {
        if let Some(slot) = self.poll_slot.get() {
            self.shared.monitor.unregister(slot);
        }
        let (mut entries, mut spare) = {
            let mut queue = self.queue.lock();
            queue.closed = true;
            // Relaxed: as in `enqueue`.
            self.queued.store(0, Ordering::Relaxed);
            (std::mem::take(&mut queue.entries), std::mem::take(&mut queue.spare))
        };
        self.shared.uncount_pinned(entries.len());
        for task in self.tasks.close() {
            // This thread is the owner, so `shutdown` drops the future here.
            task.shutdown();
        }
        self.shared.forget_owner(self);
        entries.clear();
        // The emptied buffers stay with this thread for its next owner, none
        // beyond `KEPT_CAPACITY`: both queues, or a round of many tasks
        // would grow one of them again by doubling, every time.
        entries.shrink_to(KEPT_CAPACITY);
        spare.shrink_to(KEPT_CAPACITY);
        LEFT_BEHIND.set(Some(Buffers { queue: entries, spare }));
    }
}

/// Cancels the local tasks of an owner when its thread leaves the loop,
/// returning or unwinding (`block_on`, `run_forever`, a worker's loop),
/// dropping their futures there: no other thread may.
pub(crate) struct CloseLocalTasks<'a>(pub(crate) &'a Arc<LocalOwner>);

impl Drop for CloseLocalTasks<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Shared {
    /// Spawns a local task owned by `owner`, the calling thread's. If the
    /// loop is closed or the owner is leaving, the future is dropped here
    /// and the task comes back already cancelled.
    pub(crate) fn spawn_local<F>(
        self: &Arc<Self>,
        owner: &Arc<LocalOwner>,
        future: F,
        location: &'static Location<'static>,
    ) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        if task::is_large::<F>() {
            self.spawn_local_moved(owner, Box::pin(future), location)
        } else {
            self.spawn_local_moved(owner, future, location)
        }
    }

    fn spawn_local_moved<F>(
        self: &Arc<Self>,
        owner: &Arc<LocalOwner>,
        future: F,
        location: &'static Location<'static>,
    ) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        // Relaxed is enough: ids only need to be unique.
        let id = TaskId(self.next_task_id.fetch_add(1, Ordering::Relaxed));
        // The task runs in a copy of its spawner's context (contextvars).
        let future = crate::context::WithContext::new(crate::context::capture(), future);
        #[cfg(feature = "tracing")]
        let (future, traced) = crate::tracing::instrument(future, id.0, &format!("Task-{}", id.0), location);
        let scheduler = LocalSchedule { owner: owner.clone() };
        // SAFETY: `LocalSchedule` queues the task only to its owner (the
        // owner's queue, or in strict mode the run queue only the driver
        // runs, which is the owner while it is in the loop), refuses
        // `may_drop_future_here` on other threads, and the owner keeps
        // `owned` in its registry until the task is complete.
        let (owned, handle, notified) =
            unsafe { task::new_local_task(future, scheduler, id, self.details_for(None, location)) };
        #[cfg(feature = "tracing")]
        traced.allocated_in(owned.header());
        // Refused if the owner is leaving (a future's `Drop` spawned), or if
        // the loop is closed, which is looked at after the insert: the
        // loop's close stores `closed` before it walks the owners'
        // registries, each under its lock, so either that walk comes after
        // the insert and cancels the task, or it came before, and the lock
        // orders the store before this load.
        let refused = match owner.tasks.insert(owned) {
            Err(owned) => Some(owned),
            Ok(()) if self.is_closed() => {
                // Only the owner's own close takes a task out of its list,
                // and that is not running: we are on the owner thread.
                let owned = owner.tasks.remove(handle.header());
                debug_assert!(owned.is_some(), "a local task left its owner's list before its first poll");
                owned
            }
            Ok(()) => None,
        };
        if let Some(owned) = refused {
            // The task never runs; its future is dropped here, on its own
            // thread.
            drop(notified);
            owned.shutdown();
            return handle;
        }
        owner.push_own(notified, Origin::Spawn);
        handle
    }

    /// Counts `added` entries pushed to an owner's queue, when the clock is
    /// virtual: they keep it from jumping, as a task in any other queue
    /// does, until their owner has taken them.
    fn count_pinned(&self, added: usize) {
        if self.reactor.is_paused() {
            // SeqCst: one of the operations the virtual clock's Dekker
            // argument orders (`virtual_clock.rs`); before the push, so the
            // entry is never queued uncounted.
            self.pinned_pending.fetch_add(added, Ordering::SeqCst);
        }
    }

    /// Uncounts `removed` entries taken (or refused) by an owner.
    fn uncount_pinned(&self, removed: usize) {
        if self.reactor.is_paused() {
            // SeqCst: as in `count_pinned`.
            self.pinned_pending.fetch_sub(removed, Ordering::SeqCst);
        }
    }
}

impl Schedule for LocalSchedule {
    fn schedule(&self, task: Notified) {
        crate::dump::record_wake(&self.owner.shared, task.header());
        self.owner.push(task, Origin::Wake);
    }

    fn yield_now(&self, task: Notified) {
        crate::dump::record_self_wake(task.header());
        // Only the thread polling a task sees it wake itself: the owner.
        self.owner.push_own(task, Origin::Yield);
    }

    fn release(&self, task: &Header) -> Option<TaskRef> {
        // Completion runs on the owner thread, with the future dropped: the
        // owner's reference can go. None if the owner's close took it.
        self.owner.tasks.remove(task)
    }

    fn unhandled_panic(&self, task: &Header, payload: Box<dyn Any + Send>) {
        self.owner.shared.unhandled_panic(task, payload);
    }

    fn waker_panicked(&self, task: &Header, payload: Box<dyn Any + Send>) {
        self.owner.shared.waker_panicked(task, payload);
    }

    fn defer(&self, callback: DoneCallback) {
        self.owner.shared.defer(callback);
    }

    fn may_drop_future_here(&self) -> bool {
        self.owner.is_current()
    }

    fn coarse_now(&self) -> u64 {
        self.owner.shared.coarse_now()
    }
}
