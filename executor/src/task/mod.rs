//! Tasks: one heap cell per spawned future, shared by the run queues, the
//! wakers, the registry and the `Task` handle through a reference count kept
//! in the same atomic word as the task's state.
//!
//! - `state`: the state word and its named transitions (see `README.md`).
//! - `raw`: the cell, and the type-erased functions that poll, complete,
//!   cancel and free it.
//! - `details`: what introspection keeps of a task, in a record only the
//!   tasks that need one get; the others keep their spawn location in the
//!   record's pointer.
//! - `waker`: the `RawWakerVTable`; a waker is the two words std gives it.
//! - `join`: the public `Task<T>` handle.

mod details;
mod join;
mod raw;
mod state;
mod waker;

#[cfg(all(test, loom))]
mod loom_test;
#[cfg(all(test, not(loom)))]
mod test;

pub(crate) use details::{Details, DetailsSlot};
pub use join::Task;
pub(crate) use raw::{DoneCallback, Header};
pub(crate) use state::TransitionToRunning;
pub(crate) use waker::task_address;

use std::any::Any;
use std::future::Future;
use std::ptr::NonNull;

/// Futures larger than this many bytes are boxed where they enter the loop
/// (`spawn`, `block_on`, a `TaskGroup` child, a `gather` child), so that
/// from there on only a pointer is moved. An unoptimized build copies a
/// future about a dozen times on the way into its task cell; a 1 MiB future
/// would overflow a 2 MiB thread stack. An optimized build copies it one to
/// four times, and a copy costs less than the extra allocation below the release
/// threshold. How the numbers were measured: docs/architecture.md, "Large
/// futures".
pub(crate) const BOX_THRESHOLD: usize = if cfg!(debug_assertions) { 2048 } else { 16384 };

/// True if a future of type `F` is boxed before it is moved (see
/// [`BOX_THRESHOLD`]). A constant per type: the branch on it is folded away.
pub(crate) const fn is_large<F>() -> bool {
    std::mem::size_of::<F>() > BOX_THRESHOLD
}

/// A task's given name, on its way to the task's `Details`.
pub(crate) struct TaskName(pub(crate) String);

impl TaskName {
    pub(crate) fn new(name: String) -> TaskName {
        TaskName(name)
    }
}

/// The identifier of a task, unique within its loop; `Task-{id}` is the
/// default name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TaskId(pub(crate) u64);

/// The reference point of the times in `Details`.
static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// `at` as nanoseconds since `EPOCH`.
pub(crate) fn since_epoch(at: std::time::Instant) -> u64 {
    let epoch = *EPOCH.get_or_init(|| at);
    at.saturating_duration_since(epoch).as_nanos() as u64
}

pub(crate) fn from_epoch(nanos: u64) -> std::time::Instant {
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    epoch + std::time::Duration::from_nanos(nanos)
}

/// A snapshot of one unfinished task, for `Handle::all_tasks` and
/// `current_task`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// The task's id, unique within its loop.
    pub id: u64,
    /// Its name (`Task-N` unless it was spawned with one).
    pub name: String,
    /// What it is doing at the moment of the snapshot.
    pub state: TaskState,
    /// The source line that spawned it; known for every task.
    pub spawn_location: &'static std::panic::Location<'static>,
    /// When it was spawned (to the loop's coarse clock); `None` unless the
    /// loop records task details
    /// ([`Builder::task_details`](crate::Builder::task_details)) or the
    /// task was spawned with a name.
    pub spawned_at: Option<std::time::Instant>,
    /// How many times it has been polled; `None` when `spawned_at` is.
    pub polls: Option<u32>,
}

/// What an unfinished task is doing, in a [`TaskInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting in a run queue for a worker.
    Scheduled,
    /// Being polled by a worker right now.
    Running,
    /// Waiting for its waker (suspended at an `.await`).
    Waiting,
    /// Cancellation was requested; its future is about to be dropped.
    Cancelling,
    /// Finished (seen only in a snapshot that raced with completion).
    Done,
}

impl Header {
    /// A snapshot of this task.
    pub(crate) fn info(&self) -> TaskInfo {
        let state = self.state.load();
        let task_state = if state.is_complete() {
            TaskState::Done
        } else if state.is_cancel_requested() {
            TaskState::Cancelling
        } else if state.is_running() {
            TaskState::Running
        } else if state.is_notified() {
            TaskState::Scheduled
        } else {
            TaskState::Waiting
        };
        let recorded = self.statistics();
        TaskInfo {
            id: self.id.0,
            name: self.name(),
            state: task_state,
            spawn_location: self.spawn_location(),
            spawned_at: recorded.map(|(spawned_at, _)| from_epoch(spawned_at)),
            // Relaxed: a statistic; see the field.
            polls: recorded.map(|(_, details)| details.polls.load(std::sync::atomic::Ordering::Relaxed)),
        }
    }

    /// The task's spawn time and its statistics, if they were recorded
    /// from its spawn on (see `details`).
    pub(crate) fn statistics(&self) -> Option<(u64, &Details)> {
        let details = self.details()?;
        Some((details.spawned_at()?, details))
    }
}

/// What a task needs from the loop that runs it.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// Pushes a woken task to a run queue (or drops it if the loop is closed).
    fn schedule(&self, task: Notified);
    /// Pushes a task that woke itself while running to the back of the queue.
    fn yield_now(&self, task: Notified);
    /// The task completed: removes it from the registry that lists it (the
    /// loop's, or a local task's owner's), returning that registry's
    /// reference (None if shutdown already took it).
    fn release(&self, task: &Header) -> Option<TaskRef>;
    /// A panic nobody will observe: the task's handle is gone.
    fn unhandled_panic(&self, task: &Header, payload: Box<dyn Any + Send>);
    /// The waker of whoever awaits the task panicked when the task
    /// completed; the panic was caught.
    fn waker_panicked(&self, task: &Header, payload: Box<dyn Any + Send>);
    /// Runs a done callback soon, on the loop (never inline in the
    /// completing poll, as asyncio schedules them with `call_soon`).
    fn defer(&self, callback: DoneCallback);
    /// False if the calling thread must not drop the task's future: a
    /// local task (`spawn_local`) asked from another thread than its own.
    /// Shutdown then only requests cancellation.
    fn may_drop_future_here(&self) -> bool {
        true
    }
    /// The time now, as nanoseconds since `EPOCH`, for the statistics of
    /// tasks that keep `Details`: a loop answers from its coarse clock,
    /// which a poll can read without a clock call; the default reads the
    /// clock.
    fn coarse_now(&self) -> u64 {
        since_epoch(std::time::Instant::now())
    }
}

/// One counted reference to a task.
pub(crate) struct TaskRef {
    ptr: NonNull<Header>,
}

// SAFETY: a task may be referenced from any thread: its state is atomic, the
// future and output are only touched by the thread the state machine makes
// their owner, and `new_task` requires `F: Send` and `F::Output: Send`. A
// local task (`new_local_task`) is neither, and its references cross threads
// all the same (a waker, a queue entry pushed by a foreign wake, one handed
// to the closing thread): its future is only ever polled or dropped on its
// owner thread (`run` runs only from queues that thread alone pops;
// `shutdown` elsewhere only requests cancellation, per
// `Schedule::may_drop_future_here`), and the owner holds a reference until
// it has dropped the future, so the last reference, wherever it goes, frees
// a cell without one. Its output is dropped on the owner thread, or moved by
// the `Task<T>` handle, which is `Send` only if `T` is.
unsafe impl Send for TaskRef {}
// SAFETY: as above; `&TaskRef` only reads the header.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// Takes ownership of one reference the caller holds.
    pub(super) fn from_raw(ptr: NonNull<Header>) -> TaskRef {
        TaskRef { ptr }
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the reference this value owns keeps the cell alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Gives up the reference as a pointer, for an intrusive list to hold;
    /// `from_raw_owned` takes it back.
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }

    /// A new counted reference to a task another reference keeps alive (an
    /// intrusive list's node, a handle's pointer).
    ///
    /// # Safety
    ///
    /// `ptr` points to a live cell for the length of the call, with the
    /// provenance of the reference that keeps it alive (the one
    /// `into_raw` gave), not a `&Header`'s.
    pub(crate) unsafe fn counted(ptr: NonNull<Header>) -> TaskRef {
        // SAFETY: the caller guarantees the cell is alive.
        unsafe { ptr.as_ref() }.state.ref_inc();
        TaskRef { ptr }
    }

    /// Takes back a reference that `into_raw` gave up.
    ///
    /// # Safety
    ///
    /// `ptr` came from `into_raw`, and this is the only time its reference
    /// is taken back.
    pub(crate) unsafe fn from_raw_owned(ptr: NonNull<Header>) -> TaskRef {
        TaskRef { ptr }
    }

    /// Cancels the task as the loop closes: drops its future here unless a
    /// worker is polling it (that worker drops it when the poll returns) or
    /// it is a local task of another thread (which drops it). Consumes the
    /// reference.
    pub(crate) fn shutdown(self) {
        let ptr = self.ptr;
        std::mem::forget(self);
        // SAFETY: ownership of the reference passes to `shutdown`.
        unsafe { (ptr.as_ref().vtable.shutdown)(ptr) };
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        raw::drop_reference(self.ptr);
    }
}

impl std::fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRef").field("id", &self.header().id).field("state", &self.header().state).finish()
    }
}

/// Cancels a task without owning its result: a counted reference that
/// keeps the header alive for `cancel`.
#[derive(Debug)]
pub(crate) struct AbortHandle(TaskRef);

impl AbortHandle {
    pub(crate) fn cancel(&self) -> bool {
        raw::cancel(self.0.ptr)
    }
}

/// A task in a run queue: a reference plus the duty to run it.
#[derive(Debug)]
pub(crate) struct Notified(TaskRef);

impl Notified {
    pub(crate) fn id(&self) -> u64 {
        self.0.header().id.0
    }

    pub(crate) fn header(&self) -> &Header {
        self.0.header()
    }

    /// A waker of this task (one more reference).
    pub(crate) fn waker(&self) -> std::task::Waker {
        (*waker::waker_ref(self.0.ptr)).clone()
    }

    /// Polls the task (or drops its future if it was cancelled).
    pub(crate) fn run(self) {
        let ptr = self.0.ptr;
        std::mem::forget(self);
        // SAFETY: ownership of the queue entry's reference passes to `run`.
        unsafe { (ptr.as_ref().vtable.run)(ptr) };
    }
}

/// Allocates a task. Returns the registry's reference, the handle and the
/// first queue entry.
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    id: TaskId,
    details: DetailsSlot,
) -> (TaskRef, Task<F::Output>, Notified)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let ptr = raw::allocate(future, scheduler, id, details);
    (TaskRef::from_raw(ptr), Task::from_raw(ptr), Notified(TaskRef::from_raw(ptr)))
}

/// Allocates a task whose future and output need not be `Send`, for
/// `spawn_local`. Returns the owner's reference, the handle and the first
/// queue entry.
///
/// # Safety
///
/// The task must be polled and its future dropped on one thread only, its
/// owner: `scheduler` queues its entries only where the owner alone runs
/// them, answers `may_drop_future_here` with false on every other thread,
/// and the owner keeps the first reference until the task is complete
/// (its future dropped). The handle's output type may not be `Send`; the
/// handle is then `!Send` and stays on the owner thread.
pub(crate) unsafe fn new_local_task<F, S>(
    future: F,
    scheduler: S,
    id: TaskId,
    details: DetailsSlot,
) -> (TaskRef, Task<F::Output>, Notified)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let ptr = raw::allocate(future, scheduler, id, details);
    (TaskRef::from_raw(ptr), Task::from_raw(ptr), Notified(TaskRef::from_raw(ptr)))
}
