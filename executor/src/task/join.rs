//! `Task<T>`: the handle a spawn returns, asyncio's `Task` object.

use super::raw::{Header, OnDone};
use crate::error::{copy_outcome, TaskError};
use crate::promise::InvalidState;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// A spawned task: await it for the result, cancel it, or drop it to let it
/// run on detached.
///
/// `Task<T>` is a `Future<Output = Result<T, TaskError>>`: awaiting it gives
/// the task's value, or why there is none ([`TaskError::Cancelled`],
/// [`TaskError::Panicked`]). It can be awaited from any task, on any loop, or
/// from `block_on`.
///
/// Dropping a `Task` **detaches** it: the loop keeps the task alive and runs
/// it to completion (unlike asyncio, where an unreferenced task may be
/// garbage-collected). If a detached task panics, the panic is reported to
/// the loop's unhandled-panic hook.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let task = loopwork::spawn(async { 6 * 7 });
///     assert_eq!(task.name(), format!("Task-{}", task.id()));
///     assert_eq!(task.await.unwrap(), 42);
/// });
/// ```
pub struct Task<T> {
    /// Owns one reference and the task's JOIN_INTEREST.
    ptr: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle only touches the atomic state, the join-waker lock and,
// once the task is complete, the output of type `T`, which it may move to the
// thread that awaits it: hence `T: Send`. Never the future, so a local task's
// handle (`spawn_local`, whose future need not be `Send`) is `Send` on the
// same terms; its `cancel` from another thread only queues the task to its
// owner thread.
unsafe impl<T: Send> Send for Task<T> {}
// SAFETY: `&Task` only reads the header (atomics and immutable fields); the
// output is only reached through `Pin<&mut Task>`.
unsafe impl<T: Send> Sync for Task<T> {}

// The handle is a pointer; the output is never pinned through it.
impl<T> Unpin for Task<T> {}

impl<T> Task<T> {
    /// Takes ownership of the handle's reference and JOIN_INTEREST.
    pub(super) fn from_raw(ptr: NonNull<Header>) -> Task<T> {
        Task { ptr, _output: PhantomData }
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the cell alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Requests cancellation, asyncio's `Task.cancel()`.
    ///
    /// The task's future is dropped instead of being polled again: a task
    /// that has not started never runs; a task suspended at an `.await` is
    /// dropped at that suspension point; a task being polled right now is
    /// dropped when that poll returns `Pending` (if it returns `Ready`, it
    /// completes normally). Awaiting a cancelled task gives
    /// `Err(TaskError::Cancelled)`.
    ///
    /// Returns `false` if the task had already finished, `true` otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let task = loopwork::spawn(std::future::pending::<()>());
    ///     assert!(task.cancel());
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn cancel(&self) -> bool {
        super::raw::cancel(self.ptr)
    }

    /// Returns true once the task has finished: with a value, a panic, or
    /// cancelled. asyncio's `Task.done()`.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let task = loopwork::spawn(async {});
    ///     while !task.is_done() {
    ///         loopwork::yield_now().await;
    ///     }
    /// });
    /// ```
    pub fn is_done(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// Returns true if the task finished because it was cancelled.
    /// asyncio's `Task.cancelled()`.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let task = loopwork::spawn(std::future::pending::<()>());
    ///     task.cancel();
    ///     while !task.is_done() {
    ///         loopwork::yield_now().await;
    ///     }
    ///     assert!(task.is_cancelled());
    /// });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.header().state.load().ended_cancelled()
    }

    /// Takes the result out of a finished task, for any `T`. Afterwards the
    /// handle has given its result away: [`try_result`](Self::try_result)
    /// and `take_result` return `Err(InvalidState)`, and awaiting it panics.
    ///
    /// # Errors
    ///
    /// [`InvalidState`] if the task is not done yet, or its result was
    /// already taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
    /// let mut task = event_loop.handle().spawn(async { String::from("moved out") }).unwrap();
    /// assert!(task.take_result().is_err()); // not run yet
    /// event_loop.block_on(loopwork::yield_now());
    /// assert_eq!(task.take_result().unwrap().unwrap(), "moved out");
    /// assert!(task.take_result().is_err()); // taken
    /// ```
    pub fn take_result(&mut self) -> Result<Result<T, TaskError>, InvalidState> {
        if !self.is_done() {
            return Err(InvalidState);
        }
        let mut output: Option<Result<T, TaskError>> = None;
        // SAFETY: the vtable was built for a future whose output is `T`, and
        // the task is complete, so the output belongs to this handle.
        unsafe { (self.header().vtable.take_output)(self.ptr, &mut output as *mut _ as *mut ()) };
        output.ok_or(InvalidState)
    }

    /// Ready once the task is done, without taking its output: `wait` and
    /// `as_completed` need to learn *that* a task finished and hand the
    /// handle back with its result still inside. Registers `cx`'s waker as
    /// the join waker otherwise (the same slot `poll` uses).
    pub(crate) fn poll_complete(&self, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: this handle holds a reference and JOIN_INTEREST, as the
        // vtable function needs.
        if unsafe { (self.header().vtable.poll_complete)(self.ptr, cx.waker()) } {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// True if the task finished by panicking (asyncio: done with an
    /// exception that is not `CancelledError`).
    pub(crate) fn is_panicked(&self) -> bool {
        self.header().state.load().ended_panicked()
    }

    /// A handle that can cancel the task but not read its result.
    pub(crate) fn abort_handle(&self) -> super::AbortHandle {
        // SAFETY: the handle's reference keeps the cell alive, and `ptr` is
        // the pointer it came with.
        super::AbortHandle(unsafe { super::TaskRef::counted(self.ptr) })
    }

    /// The task's id, unique within its loop.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let a = loopwork::spawn(async {});
    ///     let b = loopwork::spawn(async {});
    ///     assert_ne!(a.id(), b.id());
    /// });
    /// ```
    pub fn id(&self) -> u64 {
        self.header().id.0
    }

    /// The task's name: the one given to `spawn_named`, or `Task-{id}`.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let task = event_loop.handle().spawn_named("fetch", async {}).unwrap();
    /// assert_eq!(task.name(), "fetch");
    /// ```
    pub fn name(&self) -> String {
        self.header().name()
    }
}

impl<T: Clone> Task<T> {
    /// The result of a finished task, asyncio's `Task.result()`: a copy,
    /// leaving the result in place, so it can be read again (and the task
    /// still awaited). A panic is given as a [`TaskError::Panicked`] whose
    /// payload is the panic's message (a `String`); the original payload
    /// stays for [`take_result`](Self::take_result) or `.await`.
    ///
    /// # Errors
    ///
    /// [`InvalidState`] if the task is not done yet, or its result was
    /// taken.
    ///
    /// # Examples
    ///
    /// asyncio's `loop.run_until_complete(task); task.result()`:
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
    /// let task = event_loop.handle().spawn(async { 3 }).unwrap();
    /// assert!(task.try_result().is_err()); // not run yet
    /// event_loop.block_on(async { while !task.is_done() { loopwork::yield_now().await } });
    /// assert_eq!(task.try_result().unwrap().unwrap(), 3);
    /// assert_eq!(task.try_result().unwrap().unwrap(), 3); // read again
    /// assert_eq!(event_loop.block_on(task).unwrap(), 3);
    /// ```
    pub fn try_result(&self) -> Result<Result<T, TaskError>, InvalidState> {
        if !self.is_done() {
            return Err(InvalidState);
        }
        let mut copy = None;
        let mut visit = |output: *const ()| {
            // SAFETY: the vtable was built for a future whose output is `T`,
            // so a non-null pointer is to a `Result<T, TaskError>`, alive
            // while the visitor runs.
            let output = unsafe { output.cast::<Result<T, TaskError>>().as_ref() };
            copy = output.map(copy_outcome);
        };
        // SAFETY: this handle holds a reference and JOIN_INTEREST, the task
        // is complete, and `&self` excludes the handle's own `&mut` takes.
        unsafe { (self.header().vtable.read_output)(self.ptr, &mut visit) };
        copy.ok_or(InvalidState)
    }
}

impl<T: Clone + Send + 'static> Task<T> {
    /// Runs `callback` on the loop once the task is done, with a copy of its
    /// outcome, asyncio's `Task.add_done_callback` (whose callback reads
    /// `task.result()`). The copy is taken as the task completes, so a
    /// result moved out of the handle afterwards is still seen; a panic is
    /// copied as its message, as in [`try_result`](Self::try_result).
    /// Callbacks run in the order they were added, scheduled like
    /// `call_soon` — never inline in the task's last poll — and before an
    /// awaiter of the task resumes (so `block_on(task)` returns after them).
    /// If the task is already done, the callback is scheduled at once. If
    /// the loop is closed by then, it is dropped unrun.
    ///
    /// # Errors
    ///
    /// [`InvalidState`] if the task is done and its result was already
    /// taken ([`take_result`](Self::take_result)): there is no outcome left
    /// to copy. `callback` is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let task = event_loop.handle().spawn(async { 6 * 7 }).unwrap();
    /// task.add_done_callback(move |outcome| tx.send(outcome.unwrap()).unwrap()).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 42);
    /// ```
    pub fn add_done_callback(
        &self,
        callback: impl FnOnce(Result<T, TaskError>) + Send + 'static,
    ) -> Result<(), InvalidState> {
        let on_done: OnDone = Box::new(move |output: *const ()| {
            // SAFETY: the task's vtable was built for a future whose output
            // is `T`, and the task passes a pointer to it, valid for this call.
            let output = unsafe { &*output.cast::<Result<T, TaskError>>() };
            let copy = copy_outcome(output);
            Box::new(move || callback(copy))
        });
        // SAFETY: this handle holds a reference and JOIN_INTEREST, `&self`
        // excludes its own takes, and `on_done` reads the output type `T`.
        if unsafe { (self.header().vtable.add_done_callback)(self.ptr, on_done) } {
            Ok(())
        } else {
            Err(InvalidState)
        }
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Awaiting a finished task completes without waiting: one unit of
        // the cooperative budget (see `coop`). A task still running costs
        // nothing, or a future awaiting many (`gather`) would spend the
        // budget on tasks that are not done and be woken again at once,
        // forever.
        if self.is_done() {
            std::task::ready!(loopwork_coop::poll_proceed(cx));
        }
        let mut output: Poll<Result<T, TaskError>> = Poll::Pending;
        // SAFETY: the vtable was built for a future whose output is `T` (this
        // handle was made by the same `new_task` call), so it writes a
        // `Poll<Result<T, TaskError>>` to `output`.
        unsafe { (self.header().vtable.try_read_output)(self.ptr, &mut output as *mut _ as *mut (), cx.waker()) };
        output
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        let drop_join_handle = self.header().vtable.drop_join_handle;
        // SAFETY: this handle owns JOIN_INTEREST and one reference; both are
        // given up here, exactly once.
        unsafe { drop_join_handle(self.ptr) };
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.header().state.load();
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("done", &state.is_complete())
            .field("cancelled", &state.ended_cancelled())
            .field("panicked", &state.ended_panicked())
            .finish()
    }
}
