//! Tasks: one heap cell per spawned future, shared by the run queues, the
//! wakers, the registry and the `Task` handle through a reference count kept
//! in the same atomic word as the task's state.
//!
//! - `state`: the state word and its named transitions (see `README.md`).
//! - `raw`: the cell, and the type-erased functions that poll, complete,
//!   cancel and free it.
//! - `waker`: the `RawWakerVTable`; a waker is the two words std gives it.
//! - `join`: the public `Task<T>` handle.

mod join;
mod raw;
mod state;
mod waker;

#[cfg(all(test, loom))]
mod loom_test;

pub use join::Task;
pub(crate) use raw::{DoneCallback, Header};

use std::any::Any;
use std::future::Future;
use std::ptr::NonNull;

/// The identifier of a task, unique within its loop; `Task-{id}` is the
/// default name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TaskId(pub(crate) u64);

/// What a task needs from the loop that runs it.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// Pushes a woken task to a run queue (or drops it if the loop is closed).
    fn schedule(&self, task: Notified);
    /// Pushes a task that woke itself while running to the back of the queue.
    fn yield_now(&self, task: Notified);
    /// The task completed: removes it from the registry, returning the
    /// registry's reference (None if shutdown already took it).
    fn release(&self, task: &Header) -> Option<TaskRef>;
    /// A panic nobody will observe: the task's handle is gone.
    fn unhandled_panic(&self, task: &Header, payload: Box<dyn Any + Send>);
    /// Runs a done callback soon, on the loop (never inline in the
    /// completing poll, as asyncio schedules them with `call_soon`).
    fn defer(&self, callback: DoneCallback);
}

/// One counted reference to a task.
pub(crate) struct TaskRef {
    ptr: NonNull<Header>,
}

// SAFETY: a task may be referenced from any thread: its state is atomic, the
// future and output are only touched by the thread the state machine makes
// their owner, and spawning requires `F: Send` and `F::Output: Send`.
unsafe impl Send for TaskRef {}
// SAFETY: as above; `&TaskRef` only reads the header.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// Takes ownership of one reference the caller holds.
    fn from_raw(ptr: NonNull<Header>) -> TaskRef {
        TaskRef { ptr }
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the reference this value owns keeps the cell alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Cancels the task as the loop closes: drops its future here unless a
    /// worker is polling it (that worker drops it when the poll returns).
    /// Consumes the reference.
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

/// A task in a run queue: a reference plus the duty to run it.
#[derive(Debug)]
pub(crate) struct Notified(TaskRef);

impl Notified {
    pub(crate) fn id(&self) -> u64 {
        self.0.header().id.0
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
    name: Option<Box<str>>,
) -> (TaskRef, Task<F::Output>, Notified)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let ptr = raw::allocate(future, scheduler, id, name);
    (TaskRef::from_raw(ptr), Task::from_raw(ptr), Notified(TaskRef::from_raw(ptr)))
}
