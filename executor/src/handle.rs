//! `Handle`: a cheap, cloneable reference to an event loop, usable from any thread.

use crate::callback::{new_callback, CallbackHandle};
use crate::concurrent::ConcurrentFuture;
use crate::dump::TaskDump;
use crate::error::{Closed, ExceptionContext};
use crate::metrics::RuntimeMetrics;
use crate::promise::Promise;
use crate::scheduler::{PanicHook, Shared};
use crate::task::{Task, TaskInfo, TaskName};
use crate::time::TimerHandle;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cheap, cloneable reference to an [`EventLoop`](crate::EventLoop), usable from any thread.
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::new();
/// let handle = event_loop.handle();
/// let from_thread = std::thread::spawn(move || {
///     handle.spawn(async { "spawned from a foreign thread" }).unwrap()
/// })
/// .join()
/// .unwrap();
/// assert_eq!(event_loop.block_on(from_thread).unwrap(), "spawned from a foreign thread");
/// ```
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// Spawns a task on the loop, from any thread, asyncio's `create_task`.
    /// It starts running right away on a worker; the returned [`Task`] can be
    /// awaited, cancelled, or dropped to detach it.
    ///
    /// Any worker may run it, so the future must be `Send`; a future tied to
    /// its thread goes to [`spawn_local`](crate::spawn_local) instead:
    ///
    /// ```compile_fail
    /// let event_loop = loopwork::EventLoop::new();
    /// let shared = std::rc::Rc::new(1);
    /// let _task = event_loop.handle().spawn(async move { *shared + 1 }); // Rc is not Send
    /// ```
    ///
    /// # Errors
    ///
    /// [`Closed`] if the loop is closed; the future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let task = event_loop.handle().spawn(async { "hello" })?;
    /// assert_eq!(event_loop.block_on(task).unwrap(), "hello");
    /// # Ok::<(), loopwork::Closed>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<Task<F::Output>, Closed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future, None).map_err(|_cancelled| Closed)
    }

    /// Spawns a task with a name (asyncio's `create_task(c, name=...)`),
    /// shown by [`Task::name`] and in panic reports.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the loop is closed; the future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let task = event_loop.handle().spawn_named("downloader", async {})?;
    /// assert_eq!(task.name(), "downloader");
    /// # Ok::<(), loopwork::Closed>(())
    /// ```
    #[track_caller]
    pub fn spawn_named<F>(&self, name: impl Into<String>, future: F) -> Result<Task<F::Output>, Closed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future, Some(TaskName::new(name.into()))).map_err(|_cancelled| Closed)
    }

    /// Returns true once the loop has been closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let handle = event_loop.handle();
    /// drop(event_loop);
    /// assert!(handle.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// The number of worker threads (0 in strict mode).
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(3).build().unwrap();
    /// assert_eq!(event_loop.handle().workers(), 3);
    /// ```
    pub fn workers(&self) -> usize {
        self.shared.num_workers()
    }

    /// A snapshot of every unfinished task (id, name, state, spawn location;
    /// spawn time and number of polls for a task that keeps details, see
    /// [`Builder::task_details`](crate::Builder::task_details)), asyncio's
    /// `all_tasks()`. Each task appears once.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let handle = event_loop.handle();
    /// let task = handle.spawn_named("idle", std::future::pending::<()>()).unwrap();
    /// let names: Vec<_> = handle.all_tasks().into_iter().map(|info| info.name).collect();
    /// assert_eq!(names, ["idle"]);
    /// assert_eq!(handle.all_tasks()[0].spawn_location.line(), line!() - 3);
    /// # drop(task);
    /// ```
    pub fn all_tasks(&self) -> Vec<TaskInfo> {
        self.shared.all_tasks()
    }

    /// A snapshot of the loop's metrics: tasks, queues, timers, I/O sources,
    /// the blocking pool, and each worker's polls, steals, parks and busy
    /// time. Works from any thread, also while every worker is stuck in a
    /// poll: it loads counters the workers publish, and takes only the
    /// blocking pool's bookkeeping lock, for two loads.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
    /// event_loop.block_on(async {
    ///     for _ in 0..3 {
    ///         loopwork::spawn(async {}).await.unwrap();
    ///     }
    /// });
    /// let metrics = event_loop.handle().metrics();
    /// // The three, and the task block_on ran its future as.
    /// assert_eq!(metrics.spawned_tasks(), 4);
    /// assert_eq!(metrics.polls(), 3);
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        self.shared.metrics()
    }

    /// A dump of every live task: id, name, state, where it was spawned and
    /// the timer or I/O source it waits on; and, for a task that keeps
    /// details (a named task, or any task of a loop built with
    /// [`Builder::task_details`](crate::Builder::task_details)), age,
    /// polls, time spent in polls, time since its last poll and who woke it
    /// last. Works from any thread, also while the loop
    /// hangs: it locks each task table shard, timer shard and I/O source
    /// only while copying it, never waiting for a poll to end.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let _task = event_loop.handle().spawn(std::future::pending::<()>()).unwrap();
    /// let dump = event_loop.handle().dump();
    /// assert_eq!(dump.tasks().len(), 1);
    /// assert_eq!(dump.tasks()[0].spawned_at.line(), line!() - 3);
    /// println!("{dump}");
    /// ```
    pub fn dump(&self) -> TaskDump {
        crate::dump::dump(&self.shared)
    }

    /// The number of unfinished tasks on the loop.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let handle = event_loop.handle();
    /// let task = handle.spawn(std::future::pending::<()>()).unwrap();
    /// assert_eq!(handle.num_tasks(), 1);
    /// task.cancel();
    /// let _ = event_loop.block_on(task);
    /// assert_eq!(handle.num_tasks(), 0);
    /// ```
    pub fn num_tasks(&self) -> usize {
        self.shared.num_tasks()
    }

    /// Schedules `callback` to run on the loop soon, asyncio's `call_soon`.
    /// Arguments are whatever the closure captures (the Rust form of
    /// `functools.partial`).
    ///
    /// Callbacks submitted from one thread start in submission order and
    /// run one at a time (never two callbacks at once, even with workers),
    /// as on asyncio's single thread. Unlike asyncio's, this one is safe to
    /// call from any thread: it is the same as
    /// [`call_soon_threadsafe`](Self::call_soon_threadsafe). A panicking
    /// callback is reported to the exception handler; the loop goes on.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the loop is closed; the callback is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// for i in 0..3 {
    ///     let log = log.clone();
    ///     event_loop.handle().call_soon(move || log.lock().unwrap().push(i)).unwrap();
    /// }
    /// event_loop.block_on(loopwork::yield_now());
    /// assert_eq!(*log.lock().unwrap(), [0, 1, 2]);
    /// ```
    #[track_caller]
    pub fn call_soon(&self, callback: impl FnOnce() + Send + 'static) -> Result<CallbackHandle, Closed> {
        // The callback runs in a copy of the scheduler's context.
        let snapshot = crate::context::capture();
        let (queued, handle) = new_callback(move || crate::context::enter(snapshot, callback).0);
        self.shared.push_callback(queued)?;
        Ok(handle)
    }

    /// Runs `callback` on the loop once `delay` has passed, asyncio's
    /// `call_later`. Never early; callbacks due at the same moment run in
    /// the order they were scheduled. The returned handle cancels it.
    /// `Duration::ZERO` runs it at the next timer check, after the callbacks
    /// already queued; a delay too long to add to the clock
    /// (`Duration::MAX`) never runs it (see [`deadline_after`](crate::reactor::deadline_after)).
    ///
    /// # Errors
    ///
    /// [`Closed`] if the loop is closed; the callback is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// // The seeds' demo: three timers and a call_soon.
    /// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
    /// let handle = event_loop.handle();
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// for (delay, name) in [(100, "1"), (300, "2"), (200, "3")] {
    ///     let log = log.clone();
    ///     handle.call_later(Duration::from_millis(delay), move || log.lock().unwrap().push(name)).unwrap();
    /// }
    /// let soon = log.clone();
    /// handle.call_soon(move || soon.lock().unwrap().push("soon")).unwrap();
    /// event_loop.block_on(loopwork::sleep(Duration::from_millis(350)));
    /// assert_eq!(*log.lock().unwrap(), ["soon", "1", "3", "2"]);
    /// ```
    pub fn call_later(&self, delay: Duration, callback: impl FnOnce() + Send + 'static) -> Result<TimerHandle, Closed> {
        self.call_at(loopwork_reactor::deadline_after(self.time(), delay), callback)
    }

    /// Runs `callback` on the loop at `when` (on the loop's clock,
    /// [`time`](Self::time)), asyncio's `call_at`. A `when` already past
    /// runs it at the next timer check; one decades ahead, never.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the loop is closed; the callback is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = loopwork::EventLoop::new();
    /// let handle = event_loop.handle();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let when = handle.time() + Duration::from_millis(20);
    /// handle.call_at(when, move || tx.send(std::time::Instant::now()).unwrap()).unwrap();
    /// assert!(rx.recv().unwrap() >= when);
    /// ```
    pub fn call_at(&self, when: Instant, callback: impl FnOnce() + Send + 'static) -> Result<TimerHandle, Closed> {
        if self.is_closed() {
            return Err(Closed);
        }
        // The callback runs in a copy of the scheduler's context.
        let snapshot = crate::context::capture();
        let (queued, handle) = new_callback(move || crate::context::enter(snapshot, callback).0);
        Ok(crate::time::call_at(&self.shared, when, queued, handle))
    }

    /// Moves a virtual clock (`Builder::paused_clock`) forward by `by`; the
    /// timers that become due fire. A `by` too long to add (`Duration::MAX`)
    /// moves it about 30 years, past every finite delay set before.
    ///
    /// # Panics
    ///
    /// If the loop was not built with `Builder::paused_clock()`: a real clock
    /// cannot be moved.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = loopwork::EventLoop::builder().workers(1).paused_clock().build().unwrap();
    /// let handle = event_loop.handle();
    /// let t0 = handle.time();
    /// handle.advance(Duration::from_secs(5));
    /// assert_eq!(handle.time() - t0, Duration::from_secs(5));
    /// ```
    pub fn advance(&self, by: Duration) {
        assert!(
            self.shared.reactor.is_paused(),
            "Handle::advance needs a virtual clock: build the loop with EventLoop::builder().paused_clock()"
        );
        self.shared.reactor.advance(by);
    }

    /// The loop's clock, asyncio's `loop.time()`: what timers and
    /// `call_at` deadlines are measured against.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let handle = event_loop.handle();
    /// let t0 = handle.time();
    /// assert!(handle.time() >= t0);
    /// ```
    pub fn time(&self) -> Instant {
        self.shared.reactor.now()
    }

    /// Schedules `callback` from any thread and wakes the loop if it is
    /// parked, asyncio's `call_soon_threadsafe`. See
    /// [`call_soon`](Self::call_soon).
    ///
    /// # Errors
    ///
    /// [`Closed`] if the loop is closed; the callback is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(2).build().unwrap();
    /// let handle = event_loop.handle();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// std::thread::spawn(move || {
    ///     handle.call_soon_threadsafe(move || tx.send("ran on the loop").unwrap()).unwrap();
    /// });
    /// assert_eq!(rx.recv().unwrap(), "ran on the loop");
    /// ```
    #[track_caller]
    pub fn call_soon_threadsafe(&self, callback: impl FnOnce() + Send + 'static) -> Result<CallbackHandle, Closed> {
        self.call_soon(callback)
    }

    /// Submits `future` to the loop from any thread and returns a
    /// [`ConcurrentFuture`] to block on (from a thread outside the loop) or
    /// to await (from anywhere), asyncio's `run_coroutine_threadsafe`.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the loop is closed; the future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let future = event_loop.handle().run_coroutine_threadsafe(async { "done" })?;
    /// assert_eq!(future.result().unwrap(), "done");
    /// # Ok::<(), loopwork::Closed>(())
    /// ```
    #[track_caller]
    pub fn run_coroutine_threadsafe<F>(&self, future: F) -> Result<ConcurrentFuture<F::Output>, Closed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn(future).map(ConcurrentFuture::new)
    }

    /// A new [`Promise`] bound to this loop (its done callbacks run here),
    /// asyncio's `loop.create_future()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let promise = event_loop.handle().create_future::<u8>();
    /// let waiters: Vec<_> = (0..3).map(|_| event_loop.handle().spawn(promise.clone()).unwrap()).collect();
    /// promise.set_result(9).unwrap();
    /// for waiter in waiters {
    ///     assert_eq!(event_loop.block_on(waiter).unwrap(), Ok(9));
    /// }
    /// ```
    pub fn create_future<T: Send + 'static>(&self) -> Promise<T> {
        Promise::new(self.clone())
    }

    /// Stops [`EventLoop::run_forever`](crate::EventLoop::run_forever), asyncio's `loop.stop()`; see there
    /// for what it means in each mode. Safe from any thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
    /// event_loop.handle().stop();
    /// event_loop.run_forever(); // one iteration, then returns
    /// ```
    pub fn stop(&self) {
        self.shared.request_stop();
    }

    /// Returns true while some thread is inside `block_on` or `run_forever`
    /// on this loop, asyncio's `is_running()`. (With workers, tasks run
    /// whether or not it is.)
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let handle = event_loop.handle();
    /// assert!(!handle.is_running());
    /// assert!(event_loop.block_on(async move { handle.is_running() }));
    /// ```
    pub fn is_running(&self) -> bool {
        self.shared.is_running()
    }

    /// Sets the exception handler: where panics that nobody else will see
    /// go (a detached task's, a callback's), asyncio's
    /// `loop.set_exception_handler`. `None` restores the default, one line on
    /// stderr.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let event_loop = loopwork::EventLoop::builder().workers(1).build().unwrap();
    /// let (tx, rx) = mpsc::channel();
    /// let tx = std::sync::Mutex::new(tx);
    /// event_loop.handle().set_exception_handler(Some(move |report: loopwork::ExceptionContext| {
    ///     if let Some(message) = report.panic_message() {
    ///         tx.lock().unwrap().send(message.to_owned()).unwrap();
    ///     }
    /// }));
    /// event_loop.handle().call_soon(|| panic!("callback failed")).unwrap();
    /// assert_eq!(rx.recv().unwrap(), "callback failed");
    /// ```
    pub fn set_exception_handler<H>(&self, handler: Option<H>)
    where
        H: Fn(ExceptionContext) + Send + Sync + 'static,
    {
        self.shared.set_exception_handler(handler.map(|h| Arc::new(h) as PanicHook));
    }

    /// Runs `callback` on the loop, as with [`call_soon`](Handle::call_soon),
    /// each time the process receives `signal`: asyncio's
    /// `loop.add_signal_handler`. A later handler for the same signal on this
    /// loop replaces this one; other loops keep their own. The signal's
    /// previous disposition comes back when the last listener in the process
    /// goes ([`remove_signal_handler`](Handle::remove_signal_handler), the
    /// loop's close, or a dropped [`Signals`](crate::signal::Signals)).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`](std::io::ErrorKind::InvalidInput) if
    /// `signal` is not a signal number, or one that cannot be handled
    /// (SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE); an error if the
    /// loop is closed, or the system's error if the handler cannot be set up.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::signal::SIGUSR1;
    ///
    /// let event_loop = loopwork::EventLoop::new();
    /// let handle = event_loop.handle();
    /// let promise = handle.create_future::<&str>();
    /// let answer = promise.clone();
    /// handle.add_signal_handler(SIGUSR1, move || {
    ///     let _ = answer.set_result("got SIGUSR1");
    /// })?;
    /// std::process::Command::new("kill").args(["-USR1", &std::process::id().to_string()]).status()?;
    /// assert_eq!(event_loop.block_on(promise).unwrap(), "got SIGUSR1");
    /// assert!(handle.remove_signal_handler(SIGUSR1));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn add_signal_handler(
        &self,
        signal: std::os::raw::c_int,
        callback: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<()> {
        crate::signal::add_handler(self, signal, Arc::new(callback))
    }

    /// Removes this loop's handler for `signal`, asyncio's
    /// `loop.remove_signal_handler`: true if there was one.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::signal::SIGHUP;
    ///
    /// let event_loop = loopwork::EventLoop::new();
    /// let handle = event_loop.handle();
    /// assert!(!handle.remove_signal_handler(SIGHUP));
    /// handle.add_signal_handler(SIGHUP, || println!("reloading"))?;
    /// assert!(handle.remove_signal_handler(SIGHUP));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn remove_signal_handler(&self, signal: std::os::raw::c_int) -> bool {
        crate::signal::remove_handler(self, signal)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn from_shared(shared: Arc<Shared>) -> Handle {
        Handle { shared }
    }

    /// `loopwork::spawn`: like `spawn`, but a closed loop gives a task that
    /// is already cancelled instead of an error.
    #[track_caller]
    pub(crate) fn spawn_or_cancelled<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future, None).unwrap_or_else(|cancelled| cancelled)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("shared", &self.shared).finish()
    }
}
