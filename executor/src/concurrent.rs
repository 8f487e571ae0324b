//! `run_coroutine_threadsafe`: submit a future from a thread the loop does
//! not own and wait for its result there, or await it from anywhere.

use crate::current;
use crate::error::TaskError;
use crate::task::Task;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// The handle `Handle::run_coroutine_threadsafe` returns, Python's
/// `concurrent.futures.Future`: block on it from a foreign thread, or await
/// it (it is a `Future`) from a task of any loop or runtime.
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::new();
/// let handle = event_loop.handle();
/// let answer = std::thread::spawn(move || {
///     let future = handle.run_coroutine_threadsafe(async { 6 * 7 }).unwrap();
///     future.result().unwrap()
/// })
/// .join()
/// .unwrap();
/// assert_eq!(answer, 42);
/// ```
pub struct ConcurrentFuture<T> {
    task: Task<T>,
}

/// `result_timeout` ran out of time; the future is still usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout;

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for the result")
    }
}

impl std::error::Error for Timeout {}

const BLOCKING_ON_LOOP_THREAD: &str = "ConcurrentFuture::result blocks the calling thread and was called on a \
     loopwork loop thread, where blocking would stall the loop (or deadlock it). Await the ConcurrentFuture \
     instead: it is a Future";

/// How long `result` keeps checking for the result (`spin::spin_until`)
/// before it parks the thread.
const RESULT_SPIN: Duration = Duration::from_micros(20);

/// Wakes a thread blocked in `result`.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl<T> ConcurrentFuture<T> {
    pub(crate) fn new(task: Task<T>) -> ConcurrentFuture<T> {
        ConcurrentFuture { task }
    }

    /// Blocks the calling thread until the coroutine has finished, and
    /// returns its result.
    ///
    /// # Errors
    ///
    /// [`TaskError::Cancelled`] if it was cancelled (also by the loop
    /// closing), [`TaskError::Panicked`] if it panicked.
    ///
    /// # Panics
    ///
    /// If called on a thread running a loopwork loop: await it there.
    ///
    /// # Examples
    ///
    /// See [`ConcurrentFuture`].
    pub fn result(mut self) -> Result<T, TaskError> {
        match self.wait_until(None) {
            Ok(output) => output,
            Err(Timeout) => unreachable!("no deadline, no timeout"),
        }
    }

    /// Like [`result`](Self::result), but gives up after `timeout`, leaving
    /// the future usable: a later `result` or `result_timeout` can still
    /// get the value. `Duration::ZERO` only looks; `Duration::MAX` waits as
    /// long as [`result`](Self::result) does.
    ///
    /// # Errors
    ///
    /// `Err(Timeout)` if the coroutine has not finished in time; otherwise
    /// `Ok` with what [`result`](Self::result) would return.
    ///
    /// # Panics
    ///
    /// If called on a thread running a loopwork loop, or after the result
    /// was already returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = loopwork::EventLoop::new();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let mut future = event_loop
    ///     .handle()
    ///     .run_coroutine_threadsafe(async move {
    ///         loopwork::run_in_executor(move || rx.recv().unwrap()).await.unwrap();
    ///         "late"
    ///     })
    ///     .unwrap();
    /// assert!(future.result_timeout(Duration::from_millis(10)).is_err());
    /// tx.send(()).unwrap();
    /// assert_eq!(future.result().unwrap(), "late");
    /// ```
    pub fn result_timeout(&mut self, timeout: Duration) -> Result<Result<T, TaskError>, Timeout> {
        self.wait_until(Some(loopwork_reactor::deadline_after(Instant::now(), timeout)))
    }

    fn wait_until(&mut self, deadline: Option<Instant>) -> Result<Result<T, TaskError>, Timeout> {
        if current::is_inside_loop() {
            panic!("{}", BLOCKING_ON_LOOP_THREAD);
        }
        // A result that is a few microseconds away is waited for without
        // sleeping: a sleep and its wake-up cost a futex call on each side
        // and tens of microseconds of latency on a virtual machine.
        // The spin never outlasts the caller's deadline.
        let spin = deadline
            .map_or(RESULT_SPIN, |deadline| deadline.saturating_duration_since(Instant::now()).min(RESULT_SPIN));
        if crate::spin::spin_until(spin, || self.task.is_done()) {
            // Done: the poll returns the output without registering a waker.
            if let Poll::Ready(output) = Pin::new(&mut self.task).poll(&mut Context::from_waker(Waker::noop())) {
                return Ok(output);
            }
        }
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(output) = Pin::new(&mut self.task).poll(&mut cx) {
                return Ok(output);
            }
            match deadline {
                None => std::thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(Timeout);
                    }
                    std::thread::park_timeout(deadline - now);
                }
            }
        }
    }

    /// Cancels the coroutine's task on the loop; returns false if it had
    /// already finished. See [`Task::cancel`].
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let future = event_loop.handle().run_coroutine_threadsafe(std::future::pending::<()>()).unwrap();
    /// assert!(future.cancel());
    /// assert!(future.result().unwrap_err().is_cancelled());
    /// ```
    pub fn cancel(&self) -> bool {
        self.task.cancel()
    }

    /// Returns true once the coroutine has finished (or was cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let future = event_loop.handle().run_coroutine_threadsafe(async {}).unwrap();
    /// while !future.done() {
    ///     std::thread::yield_now();
    /// }
    /// ```
    pub fn done(&self) -> bool {
        self.task.is_done()
    }

    /// Runs `callback` on the loop once the coroutine has finished. See
    /// [`Task::add_done_callback`].
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let future = event_loop.handle().run_coroutine_threadsafe(async {}).unwrap();
    /// future.add_done_callback(move || tx.send(()).unwrap());
    /// rx.recv().unwrap();
    /// ```
    pub fn add_done_callback(&self, callback: impl FnOnce() + Send + 'static) {
        self.task.add_done_callback(callback);
    }
}

impl<T> Future for ConcurrentFuture<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.task).poll(cx)
    }
}

impl<T> fmt::Debug for ConcurrentFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrentFuture").field("task", &self.task).finish()
    }
}
