//! `spawn_local`: tasks whose futures need not be `Send`, run on the thread
//! that spawned them (tokio's `spawn_local`; asyncio's tasks, which never
//! leave their loop's thread).
//!
//! A local task is pinned: no other worker steals or polls it, and its
//! future is dropped on its own thread too. How wakes from other threads
//! reach it, and what happens at close: [`design::local_tasks`](crate::design::local_tasks).

use crate::current;
use crate::task::Task;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Spawns a task that runs on the calling thread only, so its future need
/// not be `Send`: it may hold an `Rc`, a `RefCell` borrow across an
/// `.await`, or anything else tied to one thread.
///
/// Where it runs:
///
/// - called inside [`EventLoop::block_on`](crate::EventLoop::block_on) (or
///   `run_forever`), the task runs on that thread, between polls of the
///   future `block_on` drives;
/// - in strict mode (`workers(0)`) every task runs on that thread anyway,
///   and local tasks keep asyncio's FIFO order with the others;
/// - called from a task on a worker thread, the task is pinned to that
///   worker: no other worker ever steals it.
///
/// A local task lives as long as its thread runs the loop: the local tasks
/// spawned inside a `block_on` that are still unfinished when it returns
/// are cancelled, and their futures dropped, on that thread as it returns
/// (tokio's `LocalSet` drops its tasks with it likewise); a worker's are
/// cancelled when the loop closes. Closing the loop cancels them, like any
/// task. Awaiting a cancelled one gives `Err(TaskError::Cancelled)`.
///
/// Local tasks are tasks like the others: `all_tasks()` lists them,
/// `current_task()` names them, and a virtual clock and the slow-poll
/// monitor count them. Wakers of a local task can be sent anywhere and
/// woken from any thread.
///
/// # Panics
///
/// If called outside a loopwork loop (a thread that is neither a worker
/// nor inside `block_on`): spawn from inside the loop, or use
/// [`Handle::spawn`](crate::Handle::spawn) with a `Send` future.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let event_loop = loopwork::EventLoop::builder().workers(2).build().unwrap();
/// let total = event_loop.block_on(async {
///     let count = Rc::new(RefCell::new(0)); // not Send
///     let tasks: Vec<_> = (0..10)
///         .map(|i| {
///             let count = count.clone();
///             loopwork::spawn_local(async move {
///                 loopwork::yield_now().await;
///                 *count.borrow_mut() += i;
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     let total = *count.borrow();
///     total
/// });
/// assert_eq!(total, 45);
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> LocalTask<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let location = std::panic::Location::caller();
    let spawned = current::with_current(|cx| cx.map(|cx| cx.shared.spawn_local(&cx.local, future, location)));
    match spawned {
        Some(task) => LocalTask(task),
        None => panic!(
            "loopwork::spawn_local called outside a loopwork event loop; call it from a task or a block_on future \
             on the thread that is to run the new task, or use Handle::spawn with a Send future from other threads"
        ),
    }
}

/// The handle of a task spawned with [`spawn_local`]: a [`Task`] in every
/// respect (it dereferences to one), await it for the result, cancel it,
/// or drop it to let it run on detached.
///
/// The task's future stays on its thread, but the handle only reaches its
/// output: `LocalTask<T>` is `Send` when `T` is, and can be awaited or
/// cancelled from anywhere then. With an output that is not `Send`, the
/// handle is not either:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// loopwork::run(async {
///     let task = loopwork::spawn_local(async { std::rc::Rc::new(1) });
///     assert_send(task); // Rc is not Send
/// });
/// ```
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
/// event_loop.block_on(async {
///     let task = loopwork::spawn_local(std::future::pending::<()>());
///     assert!(!task.is_done());
///     assert!(task.cancel());
///     assert!(task.await.unwrap_err().is_cancelled());
///
///     let answer = loopwork::spawn_local(async { 42 });
///     assert_eq!(answer.into_task().await.unwrap(), 42);
/// });
/// ```
pub struct LocalTask<T>(Task<T>);

impl<T> LocalTask<T> {
    /// The [`Task`] handle inside, for the functions that take one
    /// (`gather`, `wait`, `as_completed`, `shield`...). It is `Send` on the
    /// same terms as the `LocalTask`.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::ReturnWhen;
    ///
    /// loopwork::run(async {
    ///     let tasks = vec![loopwork::spawn_local(async { 1 }).into_task(), loopwork::spawn(async { 2 })];
    ///     let (done, pending) = loopwork::wait(tasks, ReturnWhen::AllCompleted, None).await;
    ///     assert_eq!((done.len(), pending.len()), (2, 0));
    /// });
    /// ```
    pub fn into_task(self) -> Task<T> {
        self.0
    }
}

impl<T> Deref for LocalTask<T> {
    type Target = Task<T>;

    fn deref(&self) -> &Task<T> {
        &self.0
    }
}

impl<T> DerefMut for LocalTask<T> {
    fn deref_mut(&mut self) -> &mut Task<T> {
        &mut self.0
    }
}

impl<T> Future for LocalTask<T> {
    type Output = <Task<T> as Future>::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> fmt::Debug for LocalTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LocalTask").field(&self.0).finish()
    }
}
