//! The blocking pool: asyncio's `run_in_executor(None, f)` / `to_thread`.
//! Blocking calls run on their own elastic pool of threads so that they never
//! occupy a worker.

use crate::error::Closed;
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
    /// A pool of at most `max_threads` threads (at least 1).
    ///
    /// # Examples
    ///
    /// See [`ThreadPool`].
    pub fn new(max_threads: usize) -> ThreadPool {
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
                max_threads: max_threads.max(1),
                name: name.to_owned(),
            }),
        }
    }

    /// Runs `job` on a pool thread.
    fn execute(&self, job: Job) -> Result<(), Closed> {
        let sender = self.inner.sender.lock().clone().ok_or(Closed)?;
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
                if spawned.is_err() {
                    // The job waits for a busy thread to finish.
                    state.threads -= 1;
                }
            }
        }
        sender.send(job).map_err(|_| Closed)
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
        self.shutdown_until(Some(Instant::now() + timeout))
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
    pool.execute(Box::new(move || {
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
    }))?;
    handle.spawn(BlockingResult { slot })
}
