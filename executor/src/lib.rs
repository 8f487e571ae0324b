//! loopwork: Python asyncio's programming model on a multi-threaded,
//! work-stealing executor.
//!
//! An [`EventLoop`] owns a pool of worker threads that run tasks. Each worker
//! has its own deque of tasks and steals from the others when it runs dry;
//! tasks spawned from threads outside the pool go through a shared injector
//! queue. Spawning returns a [`Task`], asyncio's task object: await it,
//! cancel it, or drop it to let the task run on detached.
//!
//! ```
//! use std::time::Duration;
//!
//! loopwork::run(async {
//!     let tasks: Vec<_> = (0..10).map(|i| loopwork::spawn(async move { i * i })).collect();
//!     let mut total = 0;
//!     for task in tasks {
//!         total += task.await.unwrap();
//!     }
//!     assert_eq!(total, 285);
//! });
//! # let _ = Duration::ZERO;
//! ```
//!
//! # Map of the crate
//!
//! | asyncio | loopwork |
//! |---|---|
//! | `asyncio.run(main())` | [`run`] |
//! | `new_event_loop()` | [`EventLoop::new`], [`EventLoop::builder`] |
//! | `loop.run_until_complete(f)` | [`EventLoop::block_on`] |
//! | `loop.close()` | [`EventLoop::close`], [`EventLoop::shutdown`] |
//! | `loop.create_task(c)` | [`spawn`] inside the loop, [`Handle::spawn`] anywhere |
//! | `create_task(c)` of a coroutine tied to its thread | [`spawn_local`]: a `!Send` future, run on the calling thread |
//! | `Task.cancel()`, `done()`, `cancelled()` | [`Task::cancel`], [`Task::is_done`], [`Task::is_cancelled`] |
//! | `await asyncio.sleep(0)` | [`yield_now`] |
//! | `get_running_loop()` | [`get_running_loop`] |
//! | `loop.add_signal_handler(sig, cb)` | [`Handle::add_signal_handler`], [`signal::ctrl_c`], [`signal::Signals`] |
//! | `asyncio.create_subprocess_exec(...)` | [`process::Command`], [`process::Child`] |
//!
//! `workers(0)` builds a loop in strict mode: no threads at all, every task
//! runs on the thread inside `block_on` in asyncio's exact FIFO order.
//!
//! The [`design`] pages describe how it works inside: the
//! [architecture](design::architecture) and its invariants, the scheduler's
//! [parking protocol](design::scheduler), and the
//! [task state machine](design::task).

#![doc(test(attr(deny(warnings))))]

mod block_on;
mod blocking;
mod builder;
mod callback;
mod concurrent;
pub mod context;
pub mod coop;
mod current;
pub mod design;
mod dump;
mod error;
mod event_loop;
mod handle;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod io;
mod local;
mod loom;
mod metrics;
pub mod process;
#[cfg(feature = "macros")]
#[doc(hidden)]
pub mod __macro_support {
    pub use crate::macro_support::*;
}
#[cfg(feature = "macros")]
mod macro_support;
mod promise;
mod resolve;
mod scheduler;
pub mod signal;
mod spin;
mod structured;
mod task;
mod time;
#[cfg(feature = "tokio")]
mod tokio_context;
#[cfg(feature = "tracing")]
mod tracing;
mod yield_now;

pub use blocking::ThreadPool;
pub use builder::Builder;
pub use callback::CallbackHandle;
pub use concurrent::{ConcurrentFuture, Timeout};
pub use dump::{DumpedTask, TaskDump, WaitsOn, WakeSource};
pub use error::{Closed, ExceptionContext, ExceptionKind, Source, TaskError};
pub use event_loop::{EventLoop, ShutdownTimeout};
pub use handle::Handle;
pub use local::{spawn_local, LocalTask};
pub use metrics::{PollTimeHistogram, RuntimeMetrics, WorkerMetrics};
pub use promise::{InvalidState, Promise, PromiseError, PromiseTake};
pub use structured::{
    as_completed, gather, gather_settled, shield, timeout, timeout_at, try_gather, wait, wait_for, AsCompleted,
    AsCompletedTimeout, ChildError, Elapsed, Gather, GatherSettled, GroupClosed, GroupError, ReturnWhen, Shield,
    TaskGroup, TimeoutFuture, TryGather, Wait,
};
pub use task::{Task, TaskInfo, TaskState};
pub use time::TimerHandle;

#[cfg(feature = "macros")]
pub use loopwork_macros::{main, test};

pub use loopwork_reactor::{interval, interval_at, net, sleep, sleep_until, Interval, Sleep};

pub use yield_now::{yield_now, YieldNow};

/// The crate README's example runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// docs/ecosystem.md's snippets run as doctests, so they cannot go stale.
#[cfg(all(doctest, feature = "hyper", feature = "tokio"))]
#[doc = include_str!("../../docs/ecosystem.md")]
struct EcosystemDoctests;

/// The I/O reactor and timers (`loopwork-reactor`).
pub use loopwork_reactor as reactor;
/// Synchronization primitives and queues (`loopwork-sync`).
pub use loopwork_sync as sync;

use std::future::Future;

/// Spawns a task on the loop the calling code runs on, asyncio's
/// `asyncio.create_task`.
///
/// Call it from inside a task or a `block_on` future. If the loop is closing,
/// the future is dropped and the returned task is already cancelled.
///
/// Tasks move between worker threads, so the future must be `Send` (the
/// future given to [`EventLoop::block_on`] need not be, nor one given to
/// [`spawn_local`], which stays on the calling thread):
///
/// ```compile_fail
/// let shared = std::rc::Rc::new(1);
/// loopwork::run(async move {
///     loopwork::spawn(async move { *shared + 1 }); // Rc is not Send
/// });
/// ```
///
/// # Panics
///
/// If called outside a loopwork loop: use [`Handle::spawn`] there.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let task = loopwork::spawn(async { 21 * 2 });
///     assert_eq!(task.await.unwrap(), 42);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = get_running_loop().expect(
        "loopwork::spawn called outside a loopwork event loop; use Handle::spawn from threads the loop does not run",
    );
    handle.spawn_or_cancelled(future)
}

/// Runs the blocking function `f` on the loop's blocking pool and returns a
/// task for its result, asyncio's `loop.run_in_executor(None, f)`: the
/// worker threads stay free for other tasks meanwhile. A panic in `f`
/// comes back as `Err(TaskError::Panicked)`. Cancelling the task stops the
/// wait, not `f` (a thread cannot be interrupted); its result is dropped.
///
/// If the OS refuses a new pool thread (out of threads or memory), `f`
/// waits for a busy pool thread; if the pool has none, `f` does not run and
/// the task fails with `Err(TaskError::Panicked)` carrying the OS's error in
/// its message.
///
/// # Panics
///
/// If called outside a loopwork loop.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Barrier};
///
/// // Five blocking jobs that can only finish once all five are running.
/// let all_running = Arc::new(Barrier::new(5));
/// loopwork::run(async {
///     let jobs: Vec<_> = (0..5)
///         .map(|_| {
///             let all_running = all_running.clone();
///             loopwork::run_in_executor(move || all_running.wait().is_leader())
///         })
///         .collect();
///     let mut leaders = 0;
///     for job in jobs {
///         leaders += usize::from(job.await.unwrap());
///     }
///     // They ran at once, on five pool threads.
///     assert_eq!(leaders, 1);
/// });
/// ```
#[track_caller]
pub fn run_in_executor<F, T>(f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let handle = get_running_loop().expect(
        "loopwork::run_in_executor called outside a loopwork event loop; call it from a task, or use std::thread",
    );
    let pool = handle.shared().blocking_pool().clone();
    match blocking::spawn_blocking(&handle, &pool, f) {
        Ok(task) => task,
        // The loop (and so its pool) is closing under us.
        Err(Closed) => handle.spawn_or_cancelled(std::future::pending()),
    }
}

/// Like [`run_in_executor`], but `f` runs in a copy of the caller's
/// context (its [context variables](context)), asyncio's `to_thread`.
///
/// # Panics
///
/// If called outside a loopwork loop.
///
/// # Examples
///
/// ```
/// use loopwork::context::ContextVar;
///
/// static USER: ContextVar<&str> = ContextVar::new("user");
/// loopwork::run(async {
///     USER.set("ada");
///     let seen = loopwork::to_thread(|| USER.get()).await.unwrap();
///     assert_eq!(seen, Some("ada"));
///     let not_copied = loopwork::run_in_executor(|| USER.get()).await.unwrap();
///     assert_eq!(not_copied, None);
/// });
/// ```
#[track_caller]
pub fn to_thread<F, T>(f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let snapshot = context::capture();
    run_in_executor(move || context::enter(snapshot, f).0)
}

/// Like [`run_in_executor`], on a pool of your own: asyncio's
/// `loop.run_in_executor(executor, f)`. One pool can serve several loops.
///
/// # Errors
///
/// [`Closed`] if the pool was shut down or the loop is closing.
///
/// # Panics
///
/// If called outside a loopwork loop.
///
/// # Examples
///
/// ```
/// let pool = loopwork::ThreadPool::new(2);
/// let value = loopwork::run(async {
///     loopwork::run_in_executor_on(&pool, || "from the pool").unwrap().await.unwrap()
/// });
/// assert_eq!(value, "from the pool");
/// ```
#[track_caller]
pub fn run_in_executor_on<F, T>(pool: &ThreadPool, f: F) -> Result<Task<T>, Closed>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let handle = get_running_loop().expect(
        "loopwork::run_in_executor_on called outside a loopwork event loop; call it from a task, or use the pool's \
         threads directly",
    );
    blocking::spawn_blocking(&handle, pool, f)
}

/// The task the caller runs in, asyncio's `current_task()`: a snapshot of
/// its id, name and state; `None` outside a task (in a callback, or on a
/// thread outside the loop). The future given to [`EventLoop::block_on`]
/// runs as a task of its own, with an id and a `Task-N` name, as asyncio's
/// `run_until_complete` wraps its coroutine in one; `Handle::all_tasks`
/// lists it until `block_on` returns.
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::new();
/// let task = event_loop.handle().spawn_named("me", async { loopwork::current_task().unwrap().name });
/// assert_eq!(event_loop.block_on(task.unwrap()).unwrap(), "me");
/// let main = event_loop.block_on(async { loopwork::current_task().unwrap() });
/// assert_eq!(main.name, format!("Task-{}", main.id));
/// assert!(loopwork::current_task().is_none());
/// ```
pub fn current_task() -> Option<TaskInfo> {
    current::current_task_info()
}

/// The loop the calling thread is running (inside a task or `block_on`),
/// asyncio's `get_running_loop()`; `None` on other threads.
///
/// # Examples
///
/// ```
/// assert!(loopwork::get_running_loop().is_none());
/// loopwork::run(async {
///     assert!(loopwork::get_running_loop().is_some());
/// });
/// ```
pub fn get_running_loop() -> Option<Handle> {
    current::with_current(|cx| cx.map(|cx| Handle::from_shared(cx.shared.clone())))
}

/// Runs `future` on a new loop and returns its output, asyncio's
/// `asyncio.run(main())`: builds an [`EventLoop`] with the default workers,
/// drives the future with [`EventLoop::block_on`], then closes the loop,
/// cancelling every task still running.
///
/// # Panics
///
/// If called inside a loop (see [`EventLoop::block_on`]), or if the worker
/// threads cannot be started.
///
/// # Examples
///
/// ```
/// let answer = loopwork::run(async { 42 });
/// assert_eq!(answer, 42);
/// ```
pub fn run<F: Future>(future: F) -> F::Output {
    if current::is_inside_loop() {
        panic!("{}", block_on::BLOCK_ON_INSIDE_LOOP);
    }
    let event_loop = EventLoop::new();
    let output = event_loop.block_on(future);
    event_loop.close();
    output
}
