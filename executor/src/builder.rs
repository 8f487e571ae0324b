//! `Builder`: configures an [`EventLoop`] before its threads start.

use crate::blocking::DEFAULT_MAX_BLOCKING_THREADS;
use crate::error::{ExceptionContext, Source};
use crate::event_loop::EventLoop;
use crate::resolve::{self, LookupFn};
use crate::scheduler::{run_worker, Config, Monitor, PanicHook, Shared, DEFAULT_SLOW_POLL_THRESHOLD, MAX_WORKERS};
use loopwork_reactor::Reactor;
use parking_lot::Mutex;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

type ThreadHook = Arc<dyn Fn() + Send + Sync>;

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
    thread_stack_size: usize,
    on_thread_start: Option<ThreadHook>,
    on_thread_stop: Option<ThreadHook>,
    on_unhandled_panic: Option<PanicHook>,
    max_blocking_threads: usize,
    slow_poll_threshold: Duration,
    chaos_seed: Option<u64>,
    paused_clock: bool,
    debug: bool,
    task_details: bool,
    resolver: Option<LookupFn>,
    #[cfg(feature = "tokio")]
    enable_tokio: bool,
}

/// The default stack of a worker thread: a Linux main thread's. Measured
/// in docs/architecture.md ("Large futures").
const DEFAULT_WORKER_STACK: usize = 8 << 20;

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder {
            workers: num_cpus::get(),
            thread_name: "loopwork-worker".to_owned(),
            thread_stack_size: DEFAULT_WORKER_STACK,
            on_thread_start: None,
            on_thread_stop: None,
            on_unhandled_panic: None,
            max_blocking_threads: DEFAULT_MAX_BLOCKING_THREADS,
            slow_poll_threshold: DEFAULT_SLOW_POLL_THRESHOLD,
            chaos_seed: None,
            paused_clock: false,
            debug: false,
            task_details: false,
            resolver: None,
            #[cfg(feature = "tokio")]
            enable_tokio: false,
        }
    }

    /// The number of worker threads (default: the number of CPUs).
    ///
    /// `0` is strict mode: no threads; every task runs on the thread inside
    /// [`EventLoop::block_on`], one at a time, in asyncio's exact order.
    /// More workers than cores is allowed (they take turns on the cores); if
    /// the OS refuses a thread, [`build`](Self::build) returns the error.
    ///
    /// # Panics
    ///
    /// If `count` is above 65,534, the most a loop can count.
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
        assert!(
            count <= MAX_WORKERS,
            "Builder::workers: count {count} is above the limit of {MAX_WORKERS} worker threads per loop"
        );
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

    /// The stack size of each worker thread, in bytes (default 8 MiB, a
    /// Linux main thread's, rather than std's 2 MiB: an unoptimized build
    /// copies a future several times while polling it, so a future that
    /// runs under `block_on` on the main thread also runs on a worker). The
    /// OS maps the pages a thread touches, so an unused stack costs address
    /// space, not memory.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().thread_stack_size(4 << 20).build().unwrap();
    /// # drop(event_loop);
    /// ```
    pub fn thread_stack_size(mut self, bytes: usize) -> Builder {
        self.thread_stack_size = bytes;
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
    /// # Panics
    ///
    /// If `count` is 0: the pool could never run a job (asyncio's
    /// `ThreadPoolExecutor(max_workers=0)` raises `ValueError`).
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().max_blocking_threads(4).build().unwrap();
    /// # drop(event_loop);
    /// ```
    pub fn max_blocking_threads(mut self, count: usize) -> Builder {
        assert!(count > 0, "Builder::max_blocking_threads: count must be at least 1, or no job could ever run");
        self.max_blocking_threads = count;
        self
    }

    /// How long one poll of a task (or one callback) may run before the
    /// exception handler hears of it (default 100 ms, asyncio's
    /// `slow_callback_duration`). Always on, in release builds too: a monitor
    /// thread notices a stuck worker while it is still stuck, reporting it
    /// with the task's name (within a quarter of the threshold), and reports
    /// again when the poll returns. `Duration::ZERO` reports every poll the
    /// monitor catches running (it looks every millisecond then);
    /// `Duration::MAX` reports none.
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
    ///     loopwork::try_gather(tasks).await.unwrap().into_iter().sum::<u32>()
    /// });
    /// assert_eq!(sum, 4950);
    /// ```
    pub fn chaos_seed(mut self, seed: u64) -> Builder {
        self.chaos_seed = Some(seed);
        self
    }

    /// A virtual clock, for tests: the loop's clock ([`Handle::time`](crate::Handle::time)) moves
    /// only when [`Handle::advance`](crate::Handle::advance) is called or when the loop is idle —
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

    /// asyncio's debug mode: time every poll and every callback (two clock
    /// reads each). The poll times fill the histogram of
    /// [`Handle::metrics`](crate::Handle::metrics); a callback that ran
    /// longer than the [slow-poll threshold](Builder::slow_poll_threshold)
    /// (asyncio's `slow_callback_duration`) is reported to the exception
    /// handler as an [`ExceptionKind::SlowCallback`](crate::ExceptionKind::SlowCallback);
    /// every task records its details ([`Builder::task_details`]); and the
    /// tasks still pending when the loop closes are reported with where they
    /// were spawned. Off by default: the timing costs more than the rest of
    /// the metrics together.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(1).debug(true).build().unwrap();
    /// event_loop.block_on(async { loopwork::spawn(async {}).await.unwrap() });
    /// // Closing joins the worker, which times a poll after it returns.
    /// event_loop.close();
    /// assert_eq!(event_loop.handle().metrics().poll_times().total(), 1);
    /// ```
    pub fn debug(mut self, enabled: bool) -> Builder {
        self.debug = enabled;
        self
    }

    /// Records every task's details for [`Handle::dump`](crate::Handle::dump)
    /// and [`Handle::all_tasks`](crate::Handle::all_tasks): when it was
    /// spawned, how often and how long it was polled, when last, and who
    /// woke it last. Off by default, where only named tasks keep them: the
    /// record is an allocation of its own (72 bytes), which would cost
    /// an idle task more than half again its size. Debug mode turns it on.
    /// Where a task was spawned is known either way: a task without a
    /// record keeps it in the word the record's pointer would take.
    /// Polling a task that keeps details costs two stores more, and a clock
    /// read for a poll long enough to span a tick of the coarse clock.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(1).task_details(true).build().unwrap();
    /// let _task = event_loop.handle().spawn(std::future::pending::<()>()).unwrap();
    /// let dump = event_loop.handle().dump();
    /// assert!(dump.tasks()[0].polls.is_some());
    /// ```
    pub fn task_details(mut self, enabled: bool) -> Builder {
        self.task_details = enabled;
        self
    }

    /// Replaces the system resolver (`getaddrinfo`) for host names given to
    /// [`TcpStream::connect`](crate::net::TcpStream::connect),
    /// [`UdpSocket::bind`](crate::net::UdpSocket::bind) /
    /// [`connect`](crate::net::UdpSocket::connect) and
    /// [`net::lookup_host`](crate::net::lookup_host): fixed names in tests, a
    /// service registry, a DNS library's blocking client. Like the system
    /// resolver, `lookup` runs on the loop's blocking pool, never on a worker,
    /// so it may block. Literal addresses never reach it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::SocketAddr;
    ///
    /// let event_loop = loopwork::EventLoop::builder()
    ///     .workers(1)
    ///     .resolver(|host, port| match host {
    ///         "echo.test" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
    ///         _ => loopwork::net::system_lookup(host, port),
    ///     })
    ///     .build()
    ///     .unwrap();
    /// let addrs = event_loop.block_on(loopwork::net::lookup_host("echo.test:7")).unwrap();
    /// assert_eq!(addrs, [SocketAddr::from(([127, 0, 0, 1], 7))]);
    /// ```
    pub fn resolver(
        mut self,
        lookup: impl Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Builder {
        self.resolver = Some(Arc::new(lookup));
        self
    }

    /// Lets tasks use crates built on tokio's reactor and timers
    /// (`tokio::time::sleep`, `tokio::net`, reqwest, sqlx, tonic): the loop
    /// starts a one-thread tokio runtime and enters its context on every
    /// worker and in `block_on` / `run_forever`. Without it, such a crate
    /// panics inside a loopwork task with "there is no reactor running, must
    /// be called from the context of a Tokio 1.x runtime". It costs one
    /// thread and a second reactor; see `docs/ecosystem.md`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = loopwork::EventLoop::builder().workers(2).enable_tokio().build().unwrap();
    /// let task = event_loop.handle().spawn(async {
    ///     tokio::time::sleep(Duration::from_millis(1)).await;
    ///     "tokio's timer fired inside a loopwork task"
    /// });
    /// event_loop.block_on(task.unwrap()).unwrap();
    /// ```
    #[cfg(feature = "tokio")]
    pub fn enable_tokio(mut self) -> Builder {
        self.enable_tokio = true;
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
        resolve::install(&reactor, self.resolver.clone());
        let config = Config {
            on_unhandled_panic: self.on_unhandled_panic,
            max_blocking_threads: self.max_blocking_threads,
            slow_poll_threshold: self.slow_poll_threshold,
            chaos_seed: self.chaos_seed,
            debug: self.debug,
            task_details: self.task_details,
        };
        #[cfg(feature = "tokio")]
        let tokio = if self.enable_tokio { Some(crate::tokio_context::TokioContext::start()?) } else { None };
        let shared = Arc::new(Shared::new(stealers, reactor, config));
        // A waker the reactor wakes is foreign code; its panic goes to the
        // exception handler instead of unwinding the worker that drove the
        // reactor. Weak: the reactor must not keep its own loop alive.
        let weak = Arc::downgrade(&shared);
        shared.reactor.set_waker_panic_handler(move |payload| {
            if let Some(shared) = weak.upgrade() {
                shared.report(ExceptionContext::waker_panicked(Source::Waker, payload));
            }
        });
        let event_loop = EventLoop {
            shared: shared.clone(),
            threads: Mutex::new(Vec::with_capacity(self.workers)),
            monitor: Mutex::new(None),
            #[cfg(feature = "tokio")]
            tokio,
        };
        match Monitor::start(&shared, &self.thread_name) {
            Ok(thread) => *event_loop.monitor.lock() = Some(thread),
            Err(err) => {
                event_loop.shared.mark_unstarted_workers(self.workers);
                return Err(err);
            }
        }
        for (index, local) in locals.into_iter().enumerate() {
            let thread = std::thread::Builder::new()
                .name(format!("{}-{index}", self.thread_name))
                .stack_size(self.thread_stack_size);
            let shared = shared.clone();
            let (on_start, on_stop) = (self.on_thread_start.clone(), self.on_thread_stop.clone());
            #[cfg(feature = "tokio")]
            let tokio_handle = event_loop.tokio.as_ref().map(crate::tokio_context::TokioContext::handle);
            let spawned = thread.spawn(move || {
                #[cfg(feature = "tokio")]
                let _tokio = tokio_handle.as_ref().map(tokio::runtime::Handle::enter);
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
            .field("debug", &self.debug)
            .field("task_details", &self.task_details)
            .finish_non_exhaustive()
    }
}
