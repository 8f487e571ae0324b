//! Plain callbacks on the loop: asyncio's `call_soon` and
//! `call_soon_threadsafe`, and the `CallbackHandle` that cancels them.
//!
//! With workers, callbacks wait in their own FIFO queue and run one at a
//! time: the worker that wins the queue's `try_lock` drains a batch between
//! two tasks. So callbacks submitted from one thread start in the order they
//! were submitted, and never run concurrently with each other — the
//! guarantees asyncio's single thread gives — while tasks keep running in
//! parallel. In strict mode a callback is queued in a tiny task cell in the
//! one FIFO run queue, so it interleaves with tasks exactly as in asyncio;
//! the cell is not a task to `all_tasks` or `current_task`.

use crate::scheduler::{retry_steal, PollSlot, Shared};
use crossbeam_deque::Injector;
use parking_lot::Mutex;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const CANCELLED: u8 = 3;

/// A callback's closure and its life cycle, in one allocation shared by the
/// queue and the `CallbackHandle`.
struct Callback<F> {
    state: AtomicU8,
    f: Mutex<Option<F>>,
}

/// The type-erased view of a queued callback.
pub(crate) trait Runnable: Send + Sync {
    /// Runs the callback unless it was cancelled. Returns the panic payload
    /// if it panicked.
    fn run(&self) -> Result<(), Box<dyn std::any::Any + Send>>;
    fn cancel(&self) -> bool;
    fn is_cancelled(&self) -> bool;
}

impl<F: FnOnce() + Send> Runnable for Callback<F> {
    fn run(&self) -> Result<(), Box<dyn std::any::Any + Send>> {
        // AcqRel: exactly one of `run` and `cancel` moves the callback out
        // of PENDING.
        if self.state.compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_err() {
            // Cancelled before its turn: dropping the closure (outside the
            // lock: its captures' `Drop` is user code) is all that is left.
            let f = self.f.lock().take();
            drop(f);
            return Ok(());
        }
        let f = self.f.lock().take();
        let result = catch_unwind(AssertUnwindSafe(move || {
            if let Some(f) = f {
                f();
            }
        }));
        // Release pairs with the Acquire load in `is_cancelled`: a caller that
        // sees DONE sees the callback's effects.
        self.state.store(DONE, Ordering::Release);
        result
    }

    fn cancel(&self) -> bool {
        // AcqRel: as in `run`.
        let won = self.state.compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire).is_ok();
        if won {
            // Free what the closure captured now rather than at its turn,
            // outside the lock.
            let f = self.f.lock().take();
            drop(f);
        }
        won
    }

    fn is_cancelled(&self) -> bool {
        self.state.load(Ordering::Acquire) == CANCELLED
    }
}

/// A scheduled callback, asyncio's `Handle`: cancel it before it runs.
///
/// Returned by `Handle::call_soon` and `Handle::call_soon_threadsafe`.
/// Dropping it does not cancel the callback.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
/// let ran = Arc::new(AtomicBool::new(false));
/// let flag = ran.clone();
/// let handle = event_loop.handle().call_soon(move || flag.store(true, Ordering::SeqCst)).unwrap();
/// assert!(handle.cancel());
/// assert!(handle.cancelled());
/// event_loop.block_on(loopwork::yield_now());
/// assert!(!ran.load(Ordering::SeqCst));
/// ```
#[derive(Clone)]
pub struct CallbackHandle {
    callback: Arc<dyn Runnable>,
}

impl CallbackHandle {
    /// Cancels the callback if it has not started. Returns true if this call
    /// prevented it from running.
    ///
    /// # Examples
    ///
    /// See [`CallbackHandle`].
    pub fn cancel(&self) -> bool {
        self.callback.cancel()
    }

    /// Returns true if the callback was cancelled before it ran.
    ///
    /// # Examples
    ///
    /// See [`CallbackHandle`].
    pub fn cancelled(&self) -> bool {
        self.callback.is_cancelled()
    }
}

impl fmt::Debug for CallbackHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackHandle").field("cancelled", &self.cancelled()).finish()
    }
}

/// Wraps a closure into a queued callback and the handle that controls it.
pub(crate) fn new_callback(f: impl FnOnce() + Send + 'static) -> (Arc<dyn Runnable>, CallbackHandle) {
    let callback: Arc<dyn Runnable> = Arc::new(Callback { state: AtomicU8::new(PENDING), f: Mutex::new(Some(f)) });
    (callback.clone(), CallbackHandle { callback })
}

/// The workers' callback queue: FIFO, drained by one worker at a time.
///
/// While a worker drains, the queue does not count as work for the others
/// (`has_work`): the drainer re-checks the queue after it lets go of
/// `draining`, so a callback pushed meanwhile is never stranded, and idle
/// workers do not spin on a lock they cannot take.
#[derive(Default)]
pub(crate) struct CallbackQueue {
    queue: Injector<Arc<dyn Runnable>>,
    /// Set by the worker draining the queue; serializes the callbacks.
    draining: AtomicBool,
}

/// How many callbacks one worker runs before it goes back to its tasks: a
/// flood of callbacks must not starve the tasks queued on that worker.
const CALLBACK_BATCH: usize = 128;

impl CallbackQueue {
    pub(crate) fn push(&self, callback: Arc<dyn Runnable>) {
        self.queue.push(callback);
    }

    /// The callbacks waiting, for metrics.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// True if callbacks wait and nobody is draining them: work for an idle
    /// worker.
    pub(crate) fn needs_a_drainer(&self) -> bool {
        // SeqCst: the other side of the Dekker pair in `run_batch`.
        !self.draining.load(Ordering::SeqCst) && !self.queue.is_empty()
    }

    /// Runs up to a batch of callbacks, if no other worker is doing so.
    pub(crate) fn run_batch(&self, shared: &Shared, slot: &PollSlot) {
        // Acquire pairs with the SeqCst store that ends the previous drain:
        // this drain starts after everything that one ran.
        if self.draining.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return;
        }
        // A batch gets a fresh cooperative budget, as a task's poll does
        // (see `coop`).
        loopwork_coop::replace(loopwork_coop::Budget::INITIAL);
        for _ in 0..CALLBACK_BATCH {
            if shared.is_closed() {
                // `close` discards what is still queued; nothing more runs.
                break;
            }
            let Some(callback) = retry_steal(|| self.queue.steal()) else { break };
            slot.begin(None);
            let outcome = shared.run_callback(|| callback.run());
            slot.end();
            if let Err(payload) = outcome {
                shared.callback_panicked(payload);
            }
        }
        // SeqCst store, then fence, then the re-check (Dekker with a pusher's
        // push + fence in `push_callback`, and with `needs_a_drainer`): either
        // we see a callback pushed while we held `draining`, or the thread
        // that looks next sees `draining` clear.
        self.draining.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !self.queue.is_empty() {
            // More to do (the batch ran out, or a push raced with the end):
            // let an idle worker take it while this one returns to its tasks.
            shared.notify_parked();
        }
    }

    /// Drops every queued callback without running it (the loop closed).
    pub(crate) fn clear(&self) {
        while let Some(callback) = retry_steal(|| self.queue.steal()) {
            drop(callback);
        }
    }
}
