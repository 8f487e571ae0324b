//! `EventLoop`: the loop object that owns the worker threads, and its close.

use crate::block_on::{self, Until};
use crate::builder::Builder;
use crate::current;
use crate::handle::Handle;
use crate::scheduler::Shared;
use parking_lot::Mutex;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    pub(crate) shared: Arc<Shared>,
    pub(crate) threads: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) monitor: Mutex<Option<JoinHandle<()>>>,
    /// `Builder::enable_tokio`'s runtime; dropped after the workers stop.
    #[cfg(feature = "tokio")]
    pub(crate) tokio: Option<crate::tokio_context::TokioContext>,
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
        Handle::from_shared(self.shared.clone())
    }

    /// Runs `future` to completion on the calling thread and returns its
    /// output, asyncio's `run_until_complete`. The future need not be `Send`.
    ///
    /// With workers, spawned tasks keep running on them meanwhile; in strict
    /// mode (`workers(0)`), the calling thread runs them too, in asyncio's
    /// order: the future's first poll waits behind what was queued before
    /// the call, and `block_on` returns once what was queued before the
    /// future finished has run. The future runs as a task of its own, as
    /// `run_until_complete` wraps its coroutine in one: [`current_task`]
    /// inside it is `Task-N`, and `Handle::all_tasks` lists it meanwhile.
    ///
    /// [`current_task`]: crate::current_task
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
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        #[cfg(feature = "tokio")]
        let _tokio = self.tokio.as_ref().map(crate::tokio_context::TokioContext::enter);
        let output = if crate::task::is_large::<F>() {
            block_on::block_on(&self.shared, Box::pin(future), Until::Complete)
        } else {
            block_on::block_on(&self.shared, future, Until::Complete)
        };
        output.expect("block_on returns only once its future completes")
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
        #[cfg(feature = "tokio")]
        let _tokio = self.tokio.as_ref().map(crate::tokio_context::TokioContext::enter);
        let stopped = block_on::block_on(&self.shared, std::future::pending::<()>(), Until::Stopped);
        debug_assert!(stopped.is_none());
    }

    /// Closes the loop: stops accepting work, lets each worker finish the
    /// poll it is in, joins the worker threads, and drops every unfinished
    /// task's future (on this thread, or on the worker that was polling it).
    /// Waits as long as that takes; see [`shutdown`](Self::shutdown) for a
    /// bounded wait. Calling it again does nothing.
    ///
    /// Called from a job on the loop's own blocking pool (inside
    /// [`run_in_executor`](crate::run_in_executor) or
    /// [`to_thread`](crate::to_thread)), it does all of that but wait for the
    /// calling thread, which leaves the pool when its job returns. Dropping
    /// the loop there does the same.
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
    /// workers to leave. `Duration::ZERO` does not wait for a busy worker;
    /// `Duration::MAX` waits as long as `close` does.
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
        self.shutdown_until(Some(loopwork_reactor::deadline_after(Instant::now(), timeout)))
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
                self.shared.close_blocking_pool();
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
