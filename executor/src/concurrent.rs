//! Python's `concurrent.futures.Future`: what `run_coroutine_threadsafe`
//! and `ThreadPool::submit` return. Block on it from a thread the loop does
//! not own, or await it from anywhere.

use crate::current;
use crate::error::{copy_outcome, TaskError};
use crate::promise::InvalidState;
use crate::task::Task;
use parking_lot::Mutex;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// The handle `Handle::run_coroutine_threadsafe` and `ThreadPool::submit`
/// return, Python's `concurrent.futures.Future`: block on it from a foreign
/// thread, or await it (it is a `Future`) from a task of any loop or
/// runtime.
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
    source: Source<T>,
}

/// What computes the result.
enum Source<T> {
    /// A coroutine's task on a loop.
    Task(Task<T>),
    /// A job on a thread pool, with no loop at all.
    Job(Arc<Job<T>>),
}

/// A thread-pool job's result and who waits for it.
pub(crate) struct Job<T> {
    state: Mutex<JobState<T>>,
}

struct JobState<T> {
    /// Set once the job has been claimed by a pool thread or cancelled.
    started: bool,
    outcome: Option<Result<T, TaskError>>,
    /// Set with the outcome, and kept after the outcome is moved out
    /// (`take_result`, `.await`).
    done: bool,
    cancelled: bool,
    waker: Option<Waker>,
    callbacks: Vec<JobCallback<T>>,
}

impl<T> Job<T> {
    pub(crate) fn new() -> Arc<Job<T>> {
        Arc::new(Job {
            state: Mutex::new(JobState {
                started: false,
                outcome: None,
                done: false,
                cancelled: false,
                waker: None,
                callbacks: Vec::new(),
            }),
        })
    }

    /// A pool thread takes the job; false if it was cancelled first.
    pub(crate) fn start(&self) -> bool {
        !std::mem::replace(&mut self.state.lock().started, true)
    }

    /// Stores the outcome, wakes the waiter, and runs the done callbacks on
    /// the calling thread, as `concurrent.futures` runs them on the thread
    /// that completes the future.
    pub(crate) fn complete(&self, outcome: Result<T, TaskError>) {
        let (waker, callbacks) = {
            let mut state = self.state.lock();
            state.cancelled = matches!(outcome, Err(TaskError::Cancelled));
            state.outcome = Some(outcome);
            state.done = true;
            // Copied before anyone can take the outcome.
            let callbacks: Vec<_> = std::mem::take(&mut state.callbacks)
                .into_iter()
                .map(|on_done| on_done(state.outcome.as_ref().expect("just stored")))
                .collect();
            (state.waker.take(), callbacks)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        run_job_callbacks(callbacks);
    }
}

/// The pool's side of a job: runs `f` into the job or, dropped unrun (its
/// pool went away with it still queued), completes the job as cancelled,
/// so that nobody waits for it forever.
pub(crate) struct JobRunner<T, F> {
    job: Arc<Job<T>>,
    f: Option<F>,
}

impl<T, F: FnOnce() -> T> JobRunner<T, F> {
    pub(crate) fn new(job: Arc<Job<T>>, f: F) -> JobRunner<T, F> {
        JobRunner { job, f: Some(f) }
    }

    pub(crate) fn run(mut self) {
        let f = self.f.take().expect("a runner runs once");
        if self.job.start() {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(TaskError::Panicked);
            self.job.complete(outcome);
        }
    }
}

impl<T, F> Drop for JobRunner<T, F> {
    fn drop(&mut self) {
        if self.f.is_some() && self.job.start() {
            self.job.complete(Err(TaskError::Cancelled));
        }
    }
}

/// A job's done callback as registered: copies the outcome, returns what
/// runs.
type JobCallback<T> = Box<dyn FnOnce(&Result<T, TaskError>) -> Box<dyn FnOnce() + Send> + Send>;

/// Runs done callbacks one after another; a panic in one is printed, as
/// `concurrent.futures` logs it, and the others still run.
fn run_job_callbacks(callbacks: Vec<Box<dyn FnOnce() + Send>>) {
    for callback in callbacks {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(callback)) {
            let message = crate::error::panic_message(payload.as_ref()).unwrap_or("a panic");
            eprintln!("loopwork: a ConcurrentFuture done callback panicked: {message}");
        }
    }
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
        ConcurrentFuture { source: Source::Task(task) }
    }

    pub(crate) fn from_job(job: Arc<Job<T>>) -> ConcurrentFuture<T> {
        ConcurrentFuture { source: Source::Job(job) }
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
        if crate::spin::spin_until(spin, || self.is_done()) {
            // Done: the poll returns the output without registering a waker.
            if let Poll::Ready(output) = Pin::new(&mut *self).poll(&mut Context::from_waker(Waker::noop())) {
                return Ok(output);
            }
        }
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(output) = Pin::new(&mut *self).poll(&mut cx) {
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

    /// Cancels the coroutine's task on the loop (see [`Task::cancel`]), or
    /// a pool job that has not started; returns false if it had already
    /// finished (a job: started).
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
        match &self.source {
            Source::Task(task) => task.cancel(),
            Source::Job(job) => {
                if !job.start() {
                    return false;
                }
                job.complete(Err(TaskError::Cancelled));
                true
            }
        }
    }

    /// Returns true once the coroutine has finished (or was cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let future = event_loop.handle().run_coroutine_threadsafe(async {}).unwrap();
    /// while !future.is_done() {
    ///     std::thread::yield_now();
    /// }
    /// ```
    pub fn is_done(&self) -> bool {
        match &self.source {
            Source::Task(task) => task.is_done(),
            Source::Job(job) => job.state.lock().done,
        }
    }

    /// Returns true if it finished because it was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let mut future = event_loop.handle().run_coroutine_threadsafe(std::future::pending::<()>()).unwrap();
    /// future.cancel();
    /// assert!(future.result_timeout(std::time::Duration::from_secs(10)).unwrap().is_err());
    /// assert!(future.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        match &self.source {
            Source::Task(task) => task.is_cancelled(),
            Source::Job(job) => job.state.lock().cancelled,
        }
    }

    /// Takes the result out if it is there, without blocking, for any `T`;
    /// see [`Task::take_result`].
    ///
    /// # Errors
    ///
    /// [`InvalidState`] if it has not finished, or its result was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = loopwork::ThreadPool::new(1);
    /// let mut future = pool.submit(|| String::from("moved")).unwrap();
    /// let value = loop {
    ///     match future.take_result() {
    ///         Ok(result) => break result.unwrap(),
    ///         Err(_not_yet) => std::thread::yield_now(),
    ///     }
    /// };
    /// assert_eq!(value, "moved");
    /// ```
    pub fn take_result(&mut self) -> Result<Result<T, TaskError>, InvalidState> {
        match &mut self.source {
            Source::Task(task) => task.take_result(),
            Source::Job(job) => job.state.lock().outcome.take().ok_or(InvalidState),
        }
    }
}

impl<T: Clone + Send + 'static> ConcurrentFuture<T> {
    /// Runs `callback` with a copy of the outcome once it has finished, as
    /// [`Task::add_done_callback`] does: for a coroutine, on its loop; for a
    /// [`ThreadPool::submit`](crate::ThreadPool::submit) job, on the pool
    /// thread that ran it (or on the calling thread at once if it has
    /// finished), as `concurrent.futures` does.
    ///
    /// # Errors
    ///
    /// [`InvalidState`] if it has finished and its result was already
    /// taken; `callback` is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let future = event_loop.handle().run_coroutine_threadsafe(async { "done" }).unwrap();
    /// future.add_done_callback(move |outcome| tx.send(outcome.unwrap()).unwrap()).unwrap();
    /// assert_eq!(rx.recv().unwrap(), "done");
    /// ```
    pub fn add_done_callback(
        &self,
        callback: impl FnOnce(Result<T, TaskError>) + Send + 'static,
    ) -> Result<(), InvalidState> {
        match &self.source {
            Source::Task(task) => task.add_done_callback(callback),
            Source::Job(job) => {
                let on_done: JobCallback<T> = Box::new(move |outcome| {
                    let copy = copy_outcome(outcome);
                    Box::new(move || callback(copy))
                });
                let mut state = job.state.lock();
                if !state.done {
                    state.callbacks.push(on_done);
                    return Ok(());
                }
                let ready = state.outcome.as_ref().map(on_done).ok_or(InvalidState)?;
                drop(state);
                run_job_callbacks(vec![ready]);
                Ok(())
            }
        }
    }

    /// The result if it is there, without blocking and without taking it;
    /// see [`Task::try_result`].
    ///
    /// # Errors
    ///
    /// [`InvalidState`] if it has not finished, or its result was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = loopwork::ThreadPool::new(1);
    /// let future = pool.submit(|| 7).unwrap();
    /// while future.try_result().is_err() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(future.try_result().unwrap().unwrap(), 7);
    /// assert_eq!(future.result().unwrap(), 7); // still there
    /// ```
    pub fn try_result(&self) -> Result<Result<T, TaskError>, InvalidState> {
        match &self.source {
            Source::Task(task) => task.try_result(),
            Source::Job(job) => {
                let state = job.state.lock();
                state.outcome.as_ref().map(copy_outcome).ok_or(InvalidState)
            }
        }
    }
}

impl<T> Future for ConcurrentFuture<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.source {
            Source::Task(task) => Pin::new(task).poll(cx),
            Source::Job(job) => {
                let mut state = job.state.lock();
                if let Some(outcome) = state.outcome.take() {
                    return Poll::Ready(outcome);
                }
                assert!(!state.done, "`ConcurrentFuture` polled after it returned its result");
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<T> fmt::Debug for ConcurrentFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Task(task) => f.debug_struct("ConcurrentFuture").field("task", task).finish(),
            Source::Job(job) => {
                let state = job.state.lock();
                f.debug_struct("ConcurrentFuture").field("job_done", &state.done).finish()
            }
        }
    }
}
