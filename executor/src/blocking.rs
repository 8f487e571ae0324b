//! The blocking pool: asyncio's `run_in_executor(None, f)` / `to_thread`.
//! Blocking calls run on their own elastic pool of threads so that they never
//! occupy a worker.

use crate::concurrent::{self, ConcurrentFuture};
use crate::error::{Closed, TaskError};
use crate::task::Task;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::{Condvar, Mutex};
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

/// The default maximum number of threads of a loop's blocking pool.
pub(crate) const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;
/// How long an idle pool thread waits for a job before it exits.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// An elastic pool of threads for blocking work, Python's
/// `ThreadPoolExecutor`: it starts threads as jobs arrive, up to a maximum,
/// and lets a thread exit after 10 s without work.
///
/// Every loop has one (see [`run_in_executor`](crate::run_in_executor)); make
/// your own to share one pool between loops, with
/// [`run_in_executor_on`](crate::run_in_executor_on).
///
/// # Examples
///
/// ```
/// let pool = loopwork::ThreadPool::new(4);
/// let result = loopwork::run(async {
///     loopwork::run_in_executor_on(&pool, || 2 + 2).unwrap().await.unwrap()
/// });
/// assert_eq!(result, 4);
/// pool.shutdown(std::time::Duration::from_secs(1)).unwrap();
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    /// `None` once shut down: the channel disconnects and threads leave.
    sender: Mutex<Option<Sender<Job>>>,
    receiver: Receiver<Job>,
    state: Mutex<PoolState>,
    exited: Condvar,
    max_threads: usize,
    name: String,
}

/// What a job's caller is told when its pool had no thread and the OS
/// refused to start one.
fn no_thread_message(api: &str, err: &std::io::Error) -> String {
    format!("{api}: the blocking pool has no thread and the OS refused to start one ({err}); the function did not run")
}

/// Why [`ThreadPool::execute`] did not take a job.
enum Rejected {
    /// The pool was shut down.
    Closed,
    /// No pool thread runs and the OS refused to start one.
    NoThread(std::io::Error),
}

thread_local! {
    /// The pool this thread serves, if it is a pool thread: how a pool shut
    /// down from inside one of its own jobs knows not to wait for the thread
    /// running that job. Compared, never dereferenced.
    static SERVING: std::cell::Cell<*const PoolInner> = const { std::cell::Cell::new(std::ptr::null()) };
}

#[derive(Default)]
struct PoolState {
    threads: usize,
    idle: usize,
}

impl ThreadPool {
    /// A pool of at most `max_threads` threads.
    ///
    /// # Panics
    ///
    /// If `max_threads` is 0: the pool could never run a job (asyncio's
    /// `ThreadPoolExecutor(max_workers=0)` raises `ValueError`).
    ///
    /// # Examples
    ///
    /// See [`ThreadPool`].
    pub fn new(max_threads: usize) -> ThreadPool {
        assert!(max_threads > 0, "ThreadPool::new: max_threads must be at least 1, or no job could ever run");
        ThreadPool::named(max_threads, "loopwork-blocking")
    }

    pub(crate) fn named(max_threads: usize, name: &str) -> ThreadPool {
        let (sender, receiver) = crossbeam_channel::unbounded();
        ThreadPool {
            inner: Arc::new(PoolInner {
                sender: Mutex::new(Some(sender)),
                receiver,
                state: Mutex::new(PoolState::default()),
                exited: Condvar::new(),
                max_threads,
                name: name.to_owned(),
            }),
        }
    }

    /// Runs `job` on a pool thread: an idle one, a new one, or — if the OS
    /// refuses a new thread — the next busy one to finish. If no thread is
    /// left to run it, the job is dropped and the OS's error returned.
    fn execute(&self, job: Job) -> Result<(), Rejected> {
        let sender = self.inner.sender.lock().clone().ok_or(Rejected::Closed)?;
        {
            let mut state = self.inner.state.lock();
            if state.idle > 0 {
                // An idle thread will take it: reserve that thread, so the
                // next job does not count on it too.
                state.idle -= 1;
            } else if state.threads < self.inner.max_threads {
                state.threads += 1;
                let inner = self.inner.clone();
                // Detached: `shutdown` waits for the thread count instead,
                // which keeps no handle per thread ever started.
                let spawned =
                    std::thread::Builder::new().name(self.inner.name.clone()).spawn(move || pool_thread(&inner));
                if let Err(err) = spawned {
                    state.threads -= 1;
                    if state.threads == 0 {
                        return Err(Rejected::NoThread(err));
                    }
                    // The job waits for a busy thread to finish.
                }
            }
        }
        sender.send(job).map_err(|_| Rejected::Closed)
    }

    /// Stops accepting jobs, lets the threads finish the jobs already
    /// queued, and waits (at most `timeout`) until every thread has left.
    ///
    /// Called from one of the pool's own jobs, it waits for every thread
    /// but the caller's, which leaves when the job returns.
    ///
    /// # Errors
    ///
    /// `Err(n)` with the number of threads still busy when time ran out.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = loopwork::ThreadPool::new(2);
    /// pool.shutdown(std::time::Duration::from_secs(1)).unwrap();
    /// ```
    pub fn shutdown(&self, timeout: Duration) -> Result<(), usize> {
        self.shutdown_until(Some(loopwork_reactor::deadline_after(Instant::now(), timeout)))
    }

    pub(crate) fn shutdown_until(&self, deadline: Option<Instant>) -> Result<(), usize> {
        self.close();
        // A pool thread never waits for itself: it could only time out.
        let own_thread = usize::from(SERVING.get() == Arc::as_ptr(&self.inner));
        let mut state = self.inner.state.lock();
        while state.threads > own_thread {
            match deadline {
                Some(deadline) => {
                    if self.inner.exited.wait_until(&mut state, deadline).timed_out() {
                        return Err(state.threads - own_thread);
                    }
                }
                None => self.inner.exited.wait(&mut state),
            }
        }
        Ok(())
    }

    /// Stops accepting jobs without waiting: idle threads leave at once,
    /// busy ones once the queue is empty.
    pub(crate) fn close(&self) {
        drop(self.inner.sender.lock().take());
    }

    /// The number of threads the pool has now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::ThreadPool::new(8).threads(), 0);
    /// ```
    pub fn threads(&self) -> usize {
        self.inner.state.lock().threads
    }

    /// The pool's threads, and how many of them wait for a job, for
    /// metrics. A thread reserved for a job on its way counts as busy.
    pub(crate) fn thread_counts(&self) -> (usize, usize) {
        let state = self.inner.state.lock();
        (state.threads, state.idle)
    }
}

/// A pool thread: runs jobs, and counts itself idle between them. `idle`
/// counts the idle threads no submitter has reserved yet; a thread whose
/// wait times out leaves only if one of those is left to give up.
fn pool_thread(inner: &PoolInner) {
    SERVING.set(inner);
    loop {
        match inner.receiver.recv_timeout(IDLE_TIMEOUT) {
            Ok(job) => {
                job();
                inner.state.lock().idle += 1;
            }
            Err(RecvTimeoutError::Timeout) => {
                let mut state = inner.state.lock();
                if state.idle > 0 {
                    state.idle -= 1;
                    break;
                }
                // Every idle thread is reserved: a job is on its way.
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    inner.state.lock().threads -= 1;
    inner.exited.notify_all();
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool").field("max_threads", &self.inner.max_threads).finish_non_exhaustive()
    }
}

impl ThreadPool {
    /// Runs `f` on the pool and returns a [`ConcurrentFuture`] of its
    /// result, Python's `ThreadPoolExecutor.submit(f)`. Needs no loop: call
    /// it from any thread, block on the result with
    /// [`ConcurrentFuture::result`], or await it. A panic in `f` becomes
    /// [`TaskError::Panicked`](crate::TaskError::Panicked); cancelling the
    /// future before a thread picks the job up means it never runs. Done
    /// callbacks run on the pool thread that ran the job (or at once, on the
    /// caller's thread, if it has finished), as `concurrent.futures` does.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the pool was shut down; `f` is dropped.
    ///
    /// # Examples
    ///
    /// Seed 002's `ThreadPoolExecutor().submit(f).result()`:
    ///
    /// ```
    /// let pool = loopwork::ThreadPool::new(4);
    /// let future = pool.submit(|| (1..=10).sum::<u32>())?;
    /// assert_eq!(future.result().unwrap(), 55);
    /// # Ok::<(), loopwork::Closed>(())
    /// ```
    pub fn submit<F, T>(&self, f: F) -> Result<ConcurrentFuture<T>, Closed>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let job = concurrent::Job::new();
        let runner = concurrent::JobRunner::new(job.clone(), f);
        match self.execute(Box::new(move || runner.run())) {
            Ok(()) => Ok(ConcurrentFuture::from_job(job)),
            Err(Rejected::Closed) => Err(Closed),
            // The runner went unrun with the job; the future fails with the
            // reason instead.
            Err(Rejected::NoThread(err)) => {
                let failed = concurrent::Job::new();
                failed.complete(Err(TaskError::Panicked(Box::new(no_thread_message("ThreadPool::submit", &err)))));
                Ok(ConcurrentFuture::from_job(failed))
            }
        }
    }
}

/// Where a blocking job leaves its result for the task awaiting it.
struct Slot<T> {
    result: Option<std::thread::Result<T>>,
    waker: Option<Waker>,
}

/// The task side of a blocking job: ready once the job has run.
struct BlockingResult<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Future for BlockingResult<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.slot.lock();
        match slot.result.take() {
            Some(Ok(value)) => Poll::Ready(value),
            // Re-raised inside the task, whose poll catches it: the `Task`
            // then reports `TaskError::Panicked` with the job's payload.
            Some(Err(payload)) => resume_unwind(payload),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Submits `f` to `pool` and returns the task that awaits its result.
#[track_caller]
pub(crate) fn spawn_blocking<F, T>(handle: &crate::Handle, pool: &ThreadPool, f: F) -> Result<Task<T>, Closed>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let slot = Arc::new(Mutex::new(Slot { result: None, waker: None }));
    let job_slot = slot.clone();
    // A virtual clock waits for the job: its result may be what the loop is
    // waiting for, however long it takes in real time. Released after the
    // wake, once the woken task is in a queue (or if the job is dropped).
    let clock_hold = handle.shared().hold_virtual_clock_scoped();
    let submitted = pool.execute(Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(f));
        let waker = {
            let mut slot = job_slot.lock();
            slot.result = Some(result);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        drop(clock_hold);
    }));
    match submitted {
        Ok(()) => {}
        Err(Rejected::Closed) => return Err(Closed),
        // The job was dropped unrun; its task fails with the reason, as if
        // the job had panicked with it, rather than wait forever.
        Err(Rejected::NoThread(err)) => {
            slot.lock().result = Some(Err(Box::new(no_thread_message("run_in_executor", &err))));
        }
    }
    handle.spawn(BlockingResult { slot })
}
