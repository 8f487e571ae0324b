//! `EventLoop`, its `Builder`, and the `Handle` every thread can hold.

use crate::block_on::{self, Until};
use crate::blocking::DEFAULT_MAX_BLOCKING_THREADS;
use crate::callback::{new_callback, CallbackHandle};
use crate::concurrent::ConcurrentFuture;
use crate::current;
use crate::error::{Closed, ExceptionContext};
use crate::promise::Promise;
use crate::scheduler::{run_worker, Config, Monitor, PanicHook, Shared, DEFAULT_SLOW_POLL_THRESHOLD};
use crate::task::{Task, TaskInfo, TaskName};
use crate::time::TimerHandle;
use loopwork_reactor::Reactor;
use parking_lot::Mutex;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type ThreadHook = Arc<dyn Fn() + Send + Sync>;

/// An event loop: a pool of worker threads that run tasks, asyncio's loop
/// object.
///
/// The workers start at once: a task spawned on the loop runs from that
/// moment, whether or not any thread is inside [`block_on`](Self::block_on).
/// Dropping the loop closes it (see [`close`](Self::close)).
///
/// # Examples
///
/// ```
/// use loopwork::EventLoop;
///
/// let event_loop = EventLoop::builder().workers(2).build()?;
/// let handle = event_loop.handle();
/// let task = handle.spawn(async { 1 + 1 })?;
/// assert_eq!(event_loop.block_on(task).unwrap(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EventLoop {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    monitor: Mutex<Option<JoinHandle<()>>>,
}

/// A cheap, cloneable reference to an [`EventLoop`], usable from any thread.
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

/// Configures and builds an [`EventLoop`].
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let started = Arc::new(AtomicUsize::new(0));
/// let counter = started.clone();
/// let event_loop = loopwork::EventLoop::builder()
///     .workers(3)
///     .thread_name("net")
///     .on_thread_start(move || {
///         counter.fetch_add(1, Ordering::SeqCst);
///     })
///     .build()
///     .unwrap();
/// event_loop.block_on(async {});
/// event_loop.close();
/// assert_eq!(started.load(Ordering::SeqCst), 3);
/// ```
pub struct Builder {
    workers: usize,
    thread_name: String,
    thread_stack_size: Option<usize>,
    on_thread_start: Option<ThreadHook>,
    on_thread_stop: Option<ThreadHook>,
    on_unhandled_panic: Option<PanicHook>,
    max_blocking_threads: usize,
    slow_poll_threshold: Duration,
    chaos_seed: Option<u64>,
    paused_clock: bool,
}

/// `shutdown` ran out of time: these workers were still inside a poll.
///
/// The loop is closed all the same; the workers leave when their polls
/// return, and the listed tasks are dropped then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownTimeout {
    /// How many worker threads had not stopped.
    pub workers: usize,
    /// How many blocking-pool threads were still running a job.
    pub blocking_threads: usize,
    /// `(id, name)` of every task that was being polled when time ran out.
    pub tasks: Vec<(u64, String)>,
}

impl fmt::Display for ShutdownTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} worker thread(s) and {} blocking thread(s) were still busy when the shutdown timeout passed",
            self.workers, self.blocking_threads
        )?;
        for (id, name) in &self.tasks {
            write!(f, "; task '{name}' (id {id}) was being polled")?;
        }
        Ok(())
    }
}

impl std::error::Error for ShutdownTimeout {}

impl Builder {
    fn new() -> Builder {
        Builder {
            workers: num_cpus::get(),
            thread_name: "loopwork-worker".to_owned(),
            thread_stack_size: None,
            on_thread_start: None,
            on_thread_stop: None,
            on_unhandled_panic: None,
            max_blocking_threads: DEFAULT_MAX_BLOCKING_THREADS,
            slow_poll_threshold: DEFAULT_SLOW_POLL_THRESHOLD,
            chaos_seed: None,
            paused_clock: false,
        }
    }

    /// The number of worker threads (default: the number of CPUs).
    ///
    /// `0` is strict mode: no threads; every task runs on the thread inside
    /// [`EventLoop::block_on`], one at a time, in asyncio's exact order.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
    /// let caller = std::thread::current().id();
    /// let ran_on = event_loop.block_on(async {
    ///     loopwork::spawn(async { std::thread::current().id() }).await.unwrap()
    /// });
    /// assert_eq!(ran_on, caller);
    /// ```
    pub fn workers(mut self, count: usize) -> Builder {
        self.workers = count;
        self
    }

    /// The worker threads' name prefix; worker `i` is named `{name}-{i}`
    /// (default `loopwork-worker`).
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(1).thread_name("io").build().unwrap();
    /// let task = event_loop.handle().spawn(async { std::thread::current().name().map(str::to_owned) });
    /// let name = event_loop.block_on(task.unwrap()).unwrap();
    /// assert_eq!(name.as_deref(), Some("io-0"));
    /// ```
    pub fn thread_name(mut self, name: impl Into<String>) -> Builder {
        self.thread_name = name.into();
        self
    }

    /// The stack size of each worker thread, in bytes (default: std's).
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().thread_stack_size(4 << 20).build().unwrap();
    /// # drop(event_loop);
    /// ```
    pub fn thread_stack_size(mut self, bytes: usize) -> Builder {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// Runs `hook` on each worker thread when it starts, before any task.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    pub fn on_thread_start(mut self, hook: impl Fn() + Send + Sync + 'static) -> Builder {
        self.on_thread_start = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` on each worker thread when it stops, after its last task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let stopped = Arc::new(AtomicUsize::new(0));
    /// let counter = stopped.clone();
    /// let event_loop = loopwork::EventLoop::builder()
    ///     .workers(2)
    ///     .on_thread_stop(move || {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// event_loop.close();
    /// assert_eq!(stopped.load(Ordering::SeqCst), 2);
    /// ```
    pub fn on_thread_stop(mut self, hook: impl Fn() + Send + Sync + 'static) -> Builder {
        self.on_thread_stop = Some(Arc::new(hook));
        self
    }

    /// Sets the exception handler from the start (see
    /// `Handle::set_exception_handler`): it hears of every panic nobody
    /// observed (a task panicked and its `Task` handle was dropped without
    /// being awaited; a callback panicked) and of every slow poll. The
    /// default prints one line to stderr naming the task. A task's panic is
    /// reported exactly once, on whichever thread let go of its last handle.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let event_loop = loopwork::EventLoop::builder()
    ///     .workers(1)
    ///     .on_unhandled_panic(move |report| {
    ///         if let Some(message) = report.panic_message() {
    ///             sink.lock().unwrap().push((report.task_name().unwrap_or_default().to_owned(), message.to_owned()));
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// let task = event_loop.handle().spawn_named("doomed", async { panic!("lost") }).unwrap();
    /// while !task.is_done() {
    ///     std::thread::yield_now();
    /// }
    /// drop(task); // nobody looked at the panic
    /// event_loop.close();
    /// assert_eq!(*seen.lock().unwrap(), [("doomed".to_owned(), "lost".to_owned())]);
    /// ```
    pub fn on_unhandled_panic(mut self, hook: impl Fn(ExceptionContext) + Send + Sync + 'static) -> Builder {
        self.on_unhandled_panic = Some(Arc::new(hook));
        self
    }

    /// The most threads the loop's blocking pool (`run_in_executor`) may
    /// start (default 512). Idle pool threads exit after 10 s.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().max_blocking_threads(4).build().unwrap();
    /// # drop(event_loop);
    /// ```
    pub fn max_blocking_threads(mut self, count: usize) -> Builder {
        self.max_blocking_threads = count;
        self
    }

    /// How long one poll of a task (or one callback) may run before the
    /// exception handler hears of it (default 100 ms, asyncio's
    /// `slow_callback_duration`). Always on, in release builds too: a monitor
    /// thread notices a stuck worker while it is still stuck, reporting it
    /// with the task's name (within a quarter of the threshold), and reports
    /// again when the poll returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = mpsc::channel();
    /// let tx = std::sync::Mutex::new(tx);
    /// let event_loop = loopwork::EventLoop::builder()
    ///     .workers(1)
    ///     .slow_poll_threshold(Duration::from_millis(20))
    ///     .on_unhandled_panic(move |report| tx.lock().unwrap().send(report.message).unwrap())
    ///     .build()
    ///     .unwrap();
    /// let task = event_loop.handle().spawn_named("sleepy", async {
    ///     std::thread::sleep(Duration::from_millis(100)); // blocks the worker: a bug
    /// });
    /// event_loop.block_on(task.unwrap()).unwrap();
    /// assert!(rx.recv().unwrap().contains("task 'sleepy' has been running for"));
    /// ```
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Builder {
        self.slow_poll_threshold = threshold;
        self
    }

    /// Chaos mode, for stress tests: scheduling decisions a correct program
    /// must not depend on are randomized from `seed` — which worker is
    /// robbed, whether a woken task runs next or waits its turn — and extra
    /// yields and spurious wake-ups are injected. In strict mode
    /// (`workers(0)`) a run is reproduced exactly by its seed; with workers
    /// the OS still interleaves the threads. Off by default, where it costs
    /// one branch per poll.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(0).chaos_seed(42).build().unwrap();
    /// let sum = event_loop.block_on(async {
    ///     let tasks: Vec<_> = (0..100).map(|i| loopwork::spawn(async move { i })).collect();
    ///     loopwork::gather(tasks).await.unwrap().into_iter().sum::<u32>()
    /// });
    /// assert_eq!(sum, 4950);
    /// ```
    pub fn chaos_seed(mut self, seed: u64) -> Builder {
        self.chaos_seed = Some(seed);
        self
    }

    /// A virtual clock, for tests: the loop's clock ([`Handle::time`]) moves
    /// only when [`Handle::advance`] is called or when the loop is idle —
    /// every worker parked, nothing queued, no I/O awaited, no thread inside
    /// `block_on` / `run_forever` running or woken, no job of
    /// [`run_in_executor`](crate::run_in_executor) in flight — and then
    /// jumps straight to the next timer. An hour of nested timeouts runs in
    /// milliseconds; timers still fire in deadline order, never early.
    ///
    /// What it cannot see: threads outside the loop (the clock may jump
    /// while one works), and real time. So a blocking job that itself waits
    /// for loop time (blocks on a `sleep` through `run_coroutine_threadsafe`)
    /// never finishes, since the job holds the clock; and a task waiting for
    /// I/O holds it until the I/O happens (a `timeout` around a read from a
    /// silent peer does not expire; nor does a waker left by an abandoned read
    /// go away before the source's next event).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let event_loop = loopwork::EventLoop::builder().workers(2).paused_clock().build().unwrap();
    /// let started = Instant::now();
    /// event_loop.block_on(loopwork::sleep(Duration::from_secs(3600)));
    /// assert!(started.elapsed() < Duration::from_secs(60));
    /// ```
    pub fn paused_clock(mut self) -> Builder {
        self.paused_clock = true;
        self
    }

    /// Builds the loop and starts its worker threads.
    ///
    /// # Errors
    ///
    /// If the OS refuses to start a worker thread; the threads already
    /// started are stopped first.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(2).build()?;
    /// assert_eq!(event_loop.handle().workers(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(self) -> io::Result<EventLoop> {
        let locals: Vec<_> = (0..self.workers).map(|_| crossbeam_deque::Worker::new_fifo()).collect();
        let stealers = locals.iter().map(crossbeam_deque::Worker::stealer).collect();
        let reactor = Arc::new(if self.paused_clock { Reactor::with_paused_clock()? } else { Reactor::new()? });
        let config = Config {
            on_unhandled_panic: self.on_unhandled_panic,
            max_blocking_threads: self.max_blocking_threads,
            slow_poll_threshold: self.slow_poll_threshold,
            chaos_seed: self.chaos_seed,
        };
        let shared = Arc::new(Shared::new(stealers, reactor, config));
        let event_loop = EventLoop {
            shared: shared.clone(),
            threads: Mutex::new(Vec::with_capacity(self.workers)),
            monitor: Mutex::new(None),
        };
        match Monitor::start(&shared, &self.thread_name) {
            Ok(thread) => *event_loop.monitor.lock() = Some(thread),
            Err(err) => {
                event_loop.shared.mark_unstarted_workers(self.workers);
                return Err(err);
            }
        }
        for (index, local) in locals.into_iter().enumerate() {
            let mut thread = std::thread::Builder::new().name(format!("{}-{index}", self.thread_name));
            if let Some(bytes) = self.thread_stack_size {
                thread = thread.stack_size(bytes);
            }
            let shared = shared.clone();
            let (on_start, on_stop) = (self.on_thread_start.clone(), self.on_thread_stop.clone());
            let spawned = thread.spawn(move || {
                if let Some(hook) = on_start {
                    hook();
                }
                run_worker(shared, index, local);
                if let Some(hook) = on_stop {
                    hook();
                }
            });
            match spawned {
                Ok(handle) => event_loop.threads.lock().push(handle),
                Err(err) => {
                    // Dropping `event_loop` closes it and joins the threads
                    // started so far; the ones never started count as gone.
                    event_loop.shared.mark_unstarted_workers(self.workers - index);
                    return Err(err);
                }
            }
        }
        Ok(event_loop)
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("thread_name", &self.thread_name)
            .field("thread_stack_size", &self.thread_stack_size)
            .finish_non_exhaustive()
    }
}

impl EventLoop {
    /// A loop with one worker thread per CPU, asyncio's `new_event_loop()`.
    ///
    /// # Panics
    ///
    /// If the OS refuses to start the threads; use
    /// [`EventLoop::builder`]`().build()` to handle that as an error.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// assert_eq!(event_loop.block_on(async { 5 }), 5);
    /// ```
    pub fn new() -> EventLoop {
        EventLoop::builder().build().expect("failed to start the event loop's worker threads")
    }

    /// A builder to configure the loop before starting it.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(2).build().unwrap();
    /// # drop(event_loop);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A handle to this loop, usable from any thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let handle = event_loop.handle();
    /// assert!(!handle.is_closed());
    /// ```
    pub fn handle(&self) -> Handle {
        Handle { shared: self.shared.clone() }
    }

    /// Runs `future` to completion on the calling thread and returns its
    /// output, asyncio's `run_until_complete`. The future need not be `Send`.
    ///
    /// With workers, spawned tasks keep running on them meanwhile; in strict
    /// mode (`workers(0)`), the calling thread runs them too.
    ///
    /// # Panics
    ///
    /// If called on a thread that is already running a loop (inside a task
    /// or another `block_on`): await the future or spawn it instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let event_loop = loopwork::EventLoop::new();
    /// let not_send = Rc::new(3);
    /// let n = event_loop.block_on(async move { *not_send * 2 });
    /// assert_eq!(n, 6);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        block_on::block_on(&self.shared, future, Until::Complete)
            .expect("block_on returns only once its future completes")
    }

    /// Runs the loop on the calling thread until [`Handle::stop`] is called,
    /// asyncio's `run_forever()`.
    ///
    /// In strict mode (`workers(0)`) this thread is the loop: it runs tasks
    /// and callbacks in iterations, as asyncio does; `stop()` lets the
    /// iteration it was called in finish, and what that iteration scheduled
    /// runs on the next `run_forever`. A `stop()` before `run_forever()` makes
    /// it run one iteration and return.
    ///
    /// With workers, tasks and callbacks run on the workers whether or not a
    /// thread is in `run_forever`; it only blocks until `stop()` (returning at
    /// once if `stop()` was called since the last `run_forever`). The loop
    /// keeps running after it returns; `close` stops it.
    ///
    /// # Panics
    ///
    /// As for [`block_on`](Self::block_on).
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(2).build().unwrap();
    /// let handle = event_loop.handle();
    /// let stopper = handle.clone();
    /// handle.call_soon_threadsafe(move || stopper.stop()).unwrap();
    /// event_loop.run_forever();
    /// ```
    pub fn run_forever(&self) {
        let stopped = block_on::block_on(&self.shared, std::future::pending::<()>(), Until::Stopped);
        debug_assert!(stopped.is_none());
    }

    /// Closes the loop: stops accepting work, lets each worker finish the
    /// poll it is in, joins the worker threads, and drops every unfinished
    /// task's future (on this thread, or on the worker that was polling it).
    /// Waits as long as that takes; see [`shutdown`](Self::shutdown) for a
    /// bounded wait. Calling it again does nothing.
    ///
    /// # Panics
    ///
    /// If the loop is running (a thread is inside [`block_on`](Self::block_on)
    /// or [`run_forever`](Self::run_forever), this one included), as asyncio
    /// raises "Cannot close a running event loop": call [`Handle::stop`], let
    /// `run_forever` return, then close. Also if called from one of this
    /// loop's own worker threads, which cannot join itself: close the loop
    /// from outside.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let handle = event_loop.handle();
    /// event_loop.close();
    /// assert!(handle.is_closed());
    /// assert!(handle.spawn(async {}).is_err());
    /// ```
    pub fn close(&self) {
        // No deadline: every worker leaves once its current poll returns.
        let _ = self.shutdown_until(None);
    }

    /// Like [`close`](Self::close), but waits at most `timeout` for the
    /// workers to leave.
    ///
    /// # Errors
    ///
    /// [`ShutdownTimeout`] if some worker was still inside a poll when the
    /// time ran out; the loop is closed all the same, and those tasks are
    /// dropped when their polls return.
    ///
    /// # Panics
    ///
    /// As for [`close`](Self::close).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = loopwork::EventLoop::new();
    /// for _ in 0..1000 {
    ///     event_loop.handle().spawn(std::future::pending::<()>()).unwrap();
    /// }
    /// event_loop.shutdown(Duration::from_secs(1)).unwrap();
    /// ```
    pub fn shutdown(&self, timeout: Duration) -> Result<(), ShutdownTimeout> {
        self.shutdown_until(Some(Instant::now() + timeout))
    }

    fn shutdown_until(&self, deadline: Option<Instant>) -> Result<(), ShutdownTimeout> {
        let on_own_worker = current::with_current(|cx| {
            cx.is_some_and(|cx| Arc::ptr_eq(&cx.shared, &self.shared) && cx.worker.is_some())
        });
        assert!(
            !on_own_worker,
            "an event loop cannot be closed from one of its own worker threads (it would wait for itself); \
             close it from the thread that owns it"
        );
        assert!(
            !self.shared.is_running(),
            "cannot close a running event loop (a thread is inside block_on or run_forever): call Handle::stop(), \
             wait for run_forever to return, then close it"
        );
        self.shared.close();
        // Not joined: it leaves at its next wake-up, which `close` brought
        // forward, unless it is inside a user's exception handler that
        // blocks — which must not block the close as well.
        drop(self.monitor.lock().take());
        let busy_workers = self.shared.wait_for_workers(deadline);
        if busy_workers == 0 {
            for thread in self.threads.lock().drain(..) {
                // A worker thread's own panic was already reported by std's
                // hook; there is nothing to add here.
                let _ = thread.join();
            }
        }
        let still_running = self.shared.drop_unfinished_tasks();
        let busy_blocking = self.shared.shutdown_blocking_pool(deadline);
        if busy_workers == 0 {
            // Otherwise the last busy worker to leave does it.
            self.shared.release_user_hooks();
        }
        if busy_workers == 0 && busy_blocking == 0 {
            Ok(())
        } else {
            Err(ShutdownTimeout { workers: busy_workers, blocking_threads: busy_blocking, tasks: still_running })
        }
    }
}

impl Default for EventLoop {
    fn default() -> EventLoop {
        EventLoop::new()
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        if self.shared.is_closed() {
            // Closed already. If a `shutdown` timed out, the last busy worker
            // finishes the close when its poll returns; dropping the loop
            // does not wait for it.
            return;
        }
        if current::with_current(|cx| cx.is_some_and(|cx| Arc::ptr_eq(&cx.shared, &self.shared))) {
            // Dropped on one of its own threads (moved into one of its tasks):
            // it cannot wait for itself. Close it; the last worker to leave
            // drops the tasks. In strict mode there is no worker: drop them
            // here (the running one is dropped when its poll returns).
            self.shared.close();
            if self.shared.num_workers() == 0 {
                self.shared.drop_unfinished_tasks();
                self.shared.release_user_hooks();
            }
            return;
        }
        self.close();
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop").field("shared", &self.shared).finish()
    }
}

impl Handle {
    /// Spawns a task on the loop, from any thread, asyncio's `create_task`.
    /// It starts running right away on a worker; the returned [`Task`] can be
    /// awaited, cancelled, or dropped to detach it.
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

    /// A snapshot of every unfinished task (id, name, state, spawn time,
    /// number of polls), asyncio's `all_tasks()`. Each task appears once.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let handle = event_loop.handle();
    /// let task = handle.spawn_named("idle", std::future::pending::<()>()).unwrap();
    /// let names: Vec<_> = handle.all_tasks().into_iter().map(|info| info.name).collect();
    /// assert_eq!(names, ["idle"]);
    /// # drop(task);
    /// ```
    pub fn all_tasks(&self) -> Vec<TaskInfo> {
        self.shared.all_tasks()
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
        self.call_at(self.time() + delay, callback)
    }

    /// Runs `callback` on the loop at `when` (on the loop's clock,
    /// [`time`](Self::time)), asyncio's `call_at`.
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
    /// timers that become due fire.
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

    /// Stops [`EventLoop::run_forever`], asyncio's `loop.stop()`; see there
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

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn from_shared(shared: Arc<Shared>) -> Handle {
        Handle { shared }
    }

    /// `loopwork::spawn`: like `spawn`, but a closed loop gives a task that
    /// is already cancelled instead of an error.
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
