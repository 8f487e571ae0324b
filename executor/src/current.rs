//! The thread-local "where am I": which loop this thread is running, and, on
//! a worker thread, that worker's own queue.
//!
//! A `WorkerCore` exists only on its worker's thread (it is reached only
//! through this thread-local), which is what lets the local deque and the
//! LIFO slot be plain, unsynchronized fields.

use crate::scheduler::{LocalOwner, Shared, WorkerCore};
use crate::task::Header;
use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::sync::Arc;

/// What a thread inside a loop knows about it.
pub(crate) struct Context {
    pub(crate) shared: Arc<Shared>,
    /// `Some` on a worker thread; `None` on a thread inside `block_on` /
    /// `run_forever`.
    pub(crate) worker: Option<WorkerCore>,
    /// The local tasks (`spawn_local`) this thread owns.
    pub(crate) local: Arc<LocalOwner>,
}

thread_local! {
    static CURRENT: Cell<*const Context> = const { Cell::new(ptr::null()) };
    /// The task this thread is polling, for `current_task`.
    static CURRENT_TASK: Cell<*const Header> = const { Cell::new(ptr::null()) };
}

/// Runs `poll` with `task` published as the thread's current task.
///
/// A raw pointer, not a reference: the task may be freed by another thread
/// as soon as its poll has returned (and released its queue reference),
/// before this function does.
pub(crate) fn with_current_task<R>(task: NonNull<Header>, poll: impl FnOnce() -> R) -> R {
    struct Reset(*const Header);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = CURRENT_TASK.try_with(|current| current.set(self.0));
        }
    }
    let previous = CURRENT_TASK.with(|current| current.replace(task.as_ptr()));
    let _reset = Reset(previous);
    poll()
}

/// A snapshot of the task the calling thread is polling.
pub(crate) fn current_task_info() -> Option<crate::task::TaskInfo> {
    let current = CURRENT_TASK.try_with(Cell::get).unwrap_or(ptr::null());
    // SAFETY: a non-null pointer was set by `with_current_task` for the
    // duration of that task's poll, during which the poller holds a
    // reference; this call runs inside that poll on the same thread.
    unsafe { current.as_ref() }.map(Header::info)
}

/// Runs `f` with the current thread's loop context, if it has one.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    // During thread-local destruction the context is gone: behave as a
    // foreign thread.
    let current = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    // SAFETY: a non-null pointer was set by `enter` from a `&Context` that
    // outlives the `EnterGuard`, which resets it before the context goes away.
    f(unsafe { current.as_ref() })
}

/// True if the calling thread is inside any loopwork loop.
pub(crate) fn is_inside_loop() -> bool {
    with_current(|cx| cx.is_some())
}

/// Makes `cx` the current thread's context until the guard drops.
///
/// # Panics
///
/// If the thread is already inside a loop (callers check first and give a
/// message that says what to do instead).
pub(crate) fn enter(cx: &Context) -> EnterGuard<'_> {
    CURRENT.with(|current| {
        assert!(current.get().is_null(), "a thread can be inside only one loopwork loop at a time");
        current.set(cx);
    });
    EnterGuard { _cx: cx }
}

/// Resets the thread's context when dropped.
pub(crate) struct EnterGuard<'a> {
    _cx: &'a Context,
}

impl Drop for EnterGuard<'_> {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(ptr::null()));
    }
}
