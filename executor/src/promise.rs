//! `Promise<T>`: asyncio's `loop.create_future()`, a result set by hand
//! and awaited by any number of tasks.

use crate::error::{Closed, ExceptionContext, Source};
use crate::handle::Handle;
use parking_lot::Mutex;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// A future whose result is set by hand, asyncio's `Future` object from
/// `loop.create_future()`.
///
/// Clone it to hand it around: every clone refers to the same result, and
/// every clone can be awaited (by any number of tasks, on any thread); each
/// awaiter gets a clone of the value. For a `T` that is not `Clone`, one
/// awaiter takes the value with [`take`](Self::take); whoever looks after
/// that gets [`PromiseError::Taken`].
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::builder().workers(2).build().unwrap();
/// let handle = event_loop.handle();
/// let promise = handle.create_future::<&str>();
/// let setter = promise.clone();
/// handle.call_soon(move || setter.set_result("set by a callback").unwrap()).unwrap();
/// assert_eq!(event_loop.block_on(promise), Ok("set by a callback"));
/// ```
pub struct Promise<T> {
    inner: Arc<Inner<T>>,
    /// This clone's slot among the waiters; 0 until it first waits.
    waiter: u64,
}

struct Inner<T> {
    handle: Handle,
    state: Mutex<State<T>>,
    next_waiter: AtomicU64,
}

/// A done callback as registered: copies the outcome, returns what runs on
/// the loop.
type DoneCallback<T> = Box<dyn FnOnce(&Result<T, PromiseError>) -> Box<dyn FnOnce() + Send> + Send>;

struct State<T> {
    outcome: Option<Result<T, PromiseError>>,
    waiters: Vec<(u64, Waker)>,
    callbacks: Vec<DoneCallback<T>>,
}

/// Why a [`Promise`] has no value.
#[derive(Clone)]
pub enum PromiseError {
    /// [`Promise::cancel`] was called.
    Cancelled,
    /// [`Promise::set_error`] was called with this error.
    Failed(Arc<dyn Error + Send + Sync>),
    /// The value was set, and [`Promise::take`] moved it out.
    Taken,
}

impl PartialEq for PromiseError {
    /// Cancellations are equal; errors are equal when they are the same
    /// error (set once, shared by every awaiter).
    fn eq(&self, other: &PromiseError) -> bool {
        match (self, other) {
            (PromiseError::Cancelled, PromiseError::Cancelled) | (PromiseError::Taken, PromiseError::Taken) => true,
            (PromiseError::Failed(a), PromiseError::Failed(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl fmt::Debug for PromiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PromiseError::Cancelled => f.write_str("Cancelled"),
            PromiseError::Taken => f.write_str("Taken"),
            PromiseError::Failed(err) => f.debug_tuple("Failed").field(&err.to_string()).finish(),
        }
    }
}

impl fmt::Display for PromiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PromiseError::Cancelled => f.write_str("the promise was cancelled"),
            PromiseError::Taken => f.write_str("the promise's value was taken by `Promise::take`"),
            PromiseError::Failed(err) => write!(f, "the promise failed: {err}"),
        }
    }
}

impl Error for PromiseError {}

/// asyncio's `InvalidStateError`: the result is not there to read (not set
/// yet, or taken), or a promise already has one.
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::new();
/// let promise = event_loop.handle().create_future::<u8>();
/// assert_eq!(promise.try_result(), Err(loopwork::InvalidState));
/// promise.set_result(1).unwrap();
/// assert_eq!(promise.set_result(2), Err(loopwork::InvalidState));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidState;

impl fmt::Display for InvalidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid state: the result is not set yet, was taken, or was already set")
    }
}

impl Error for InvalidState {}

impl<T: Send + 'static> Promise<T> {
    pub(crate) fn new(handle: Handle) -> Promise<T> {
        Promise {
            inner: Arc::new(Inner {
                handle,
                state: Mutex::new(State { outcome: None, waiters: Vec::new(), callbacks: Vec::new() }),
                next_waiter: AtomicU64::new(1),
            }),
            waiter: 0,
        }
    }

    /// Sets the value and wakes every awaiter.
    ///
    /// # Errors
    ///
    /// [`InvalidState`] if a result (value, error or cancellation) was set
    /// already; `value` is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let promise = event_loop.handle().create_future();
    /// assert_eq!(promise.set_result(1), Ok(()));
    /// assert_eq!(promise.set_result(2), Err(loopwork::InvalidState));
    /// assert_eq!(event_loop.block_on(promise), Ok(1));
    /// ```
    pub fn set_result(&self, value: T) -> Result<(), InvalidState> {
        self.complete(Ok(value))
    }

    /// Sets an error and wakes every awaiter; each gets
    /// `Err(PromiseError::Failed(error))`.
    ///
    /// # Errors
    ///
    /// [`InvalidState`] if a result was set already.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let promise = event_loop.handle().create_future::<u32>();
    /// promise.set_error("no route to host").unwrap();
    /// let err = event_loop.block_on(promise).unwrap_err();
    /// assert_eq!(err.to_string(), "the promise failed: no route to host");
    /// ```
    pub fn set_error(&self, error: impl Into<Box<dyn Error + Send + Sync>>) -> Result<(), InvalidState> {
        self.complete(Err(PromiseError::Failed(Arc::from(error.into()))))
    }

    /// Cancels the promise: every awaiter gets `Err(PromiseError::Cancelled)`.
    /// Returns false if it already had a result.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let promise = event_loop.handle().create_future::<()>();
    /// assert!(promise.cancel());
    /// assert!(promise.is_cancelled());
    /// assert!(!promise.cancel());
    /// ```
    pub fn cancel(&self) -> bool {
        self.complete(Err(PromiseError::Cancelled)).is_ok()
    }

    /// Returns true once a result is set, asyncio's `Future.done()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let promise = event_loop.handle().create_future();
    /// assert!(!promise.is_done());
    /// promise.set_result(()).unwrap();
    /// assert!(promise.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.inner.state.lock().outcome.is_some()
    }

    /// Returns true if the promise was cancelled, asyncio's
    /// `Future.cancelled()`.
    ///
    /// # Examples
    ///
    /// See [`cancel`](Self::cancel).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.inner.state.lock().outcome, Some(Err(PromiseError::Cancelled)))
    }

    fn complete(&self, outcome: Result<T, PromiseError>) -> Result<(), InvalidState> {
        let (waiters, callbacks) = {
            let mut state = self.inner.state.lock();
            if state.outcome.is_some() {
                return Err(InvalidState);
            }
            // Each callback copies the outcome as set, before `take` can
            // move it out.
            let callbacks: Vec<_> =
                std::mem::take(&mut state.callbacks).into_iter().map(|on_done| on_done(&outcome)).collect();
            state.outcome = Some(outcome);
            (std::mem::take(&mut state.waiters), callbacks)
        };
        for (_, waker) in waiters {
            // A waker is foreign code: its panic is reported, and the other
            // awaiters are woken all the same.
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake())) {
                self.inner.handle.shared().report(ExceptionContext::waker_panicked(Source::Waker, payload));
            }
        }
        for callback in callbacks {
            // A closed loop runs no more callbacks; the closure is dropped.
            let _ = self.inner.handle.call_soon(callback);
        }
        Ok(())
    }
}

impl<T: Clone> Promise<T> {
    /// The result if one is set, asyncio's `Future.result()`: a copy, so it
    /// can be read again.
    ///
    /// # Errors
    ///
    /// [`InvalidState`] while no result is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let promise = event_loop.handle().create_future();
    /// assert_eq!(promise.try_result(), Err(loopwork::InvalidState));
    /// promise.set_result('x').unwrap();
    /// assert_eq!(promise.try_result(), Ok(Ok('x')));
    /// ```
    pub fn try_result(&self) -> Result<Result<T, PromiseError>, InvalidState> {
        self.inner.state.lock().outcome.clone().ok_or(InvalidState)
    }
}

impl<T: Clone + Send + 'static> Promise<T> {
    /// Schedules `callback` with a copy of the outcome once the result is
    /// set, asyncio's `add_done_callback` (whose callback reads
    /// `future.result()`). Callbacks run on the loop like `call_soon` ones,
    /// in the order they were added — never inline in `set_result`. Each
    /// gets the outcome as it was set, even if [`take`](Self::take) moved
    /// the value out since (one added after that gets
    /// [`PromiseError::Taken`]). If the result is already set, the callback
    /// is scheduled at once.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the loop is closed when the callback would be scheduled
    /// now; callbacks waiting for a result set after the loop closed are
    /// dropped unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::builder().workers(0).build().unwrap();
    /// let promise = event_loop.handle().create_future::<u32>();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// promise.add_done_callback(move |outcome| tx.send(outcome).unwrap()).unwrap();
    /// promise.set_result(5).unwrap();
    /// assert!(rx.try_recv().is_err()); // scheduled, not run inline
    /// event_loop.block_on(loopwork::yield_now());
    /// assert_eq!(rx.try_recv().unwrap(), Ok(5));
    /// ```
    pub fn add_done_callback(
        &self,
        callback: impl FnOnce(Result<T, PromiseError>) + Send + 'static,
    ) -> Result<(), Closed> {
        let on_done: DoneCallback<T> = Box::new(move |outcome| {
            let copy = outcome.clone();
            Box::new(move || callback(copy))
        });
        let mut state = self.inner.state.lock();
        let ready = match &state.outcome {
            None => {
                state.callbacks.push(on_done);
                return Ok(());
            }
            Some(outcome) => on_done(outcome),
        };
        drop(state);
        self.inner.handle.call_soon(ready).map(drop)
    }
}

impl<T> Promise<T> {
    /// Awaits the result and moves the value out: how a `T` that is not
    /// `Clone` is awaited. One taker gets the value; every other awaiter,
    /// before or after, gets [`PromiseError::Taken`] once it is gone. (For a
    /// value many must read, make `T` an `Arc`.)
    ///
    /// # Examples
    ///
    /// ```
    /// struct Connection(u16); // not Clone
    ///
    /// let event_loop = loopwork::EventLoop::new();
    /// let promise = event_loop.handle().create_future::<Connection>();
    /// let setter = promise.clone();
    /// event_loop.handle().call_soon(move || setter.set_result(Connection(8080)).unwrap()).unwrap();
    /// let connection = event_loop.block_on(promise.clone().take()).unwrap();
    /// assert_eq!(connection.0, 8080);
    /// assert!(matches!(event_loop.block_on(promise.take()), Err(loopwork::PromiseError::Taken)));
    /// ```
    pub fn take(self) -> PromiseTake<T> {
        PromiseTake { promise: self }
    }

    /// Ready with `read(outcome)` once a result is set; otherwise registers
    /// this clone's waker.
    fn poll_outcome<R>(
        &mut self,
        cx: &mut Context<'_>,
        read: impl FnOnce(&mut Result<T, PromiseError>) -> R,
    ) -> Poll<R> {
        // A promise that has its result completes without waiting: one unit
        // of the cooperative budget (see `coop`), taken before the lock, since
        // a spent budget wakes this task and a waker is foreign code. A
        // pending promise costs nothing, as for `Task`: the unit is refunded.
        std::task::ready!(loopwork_coop::poll_proceed(cx));
        let mut state = self.inner.state.lock();
        if let Some(outcome) = state.outcome.as_mut() {
            return Poll::Ready(read(outcome));
        }
        loopwork_coop::refund();
        if self.waiter == 0 {
            // Relaxed is enough: ids only need to be unique.
            self.waiter = self.inner.next_waiter.fetch_add(1, Ordering::Relaxed);
        }
        let id = self.waiter;
        let replaced = match state.waiters.iter_mut().find(|(waiter, _)| *waiter == id) {
            Some((_, waker)) if waker.will_wake(cx.waker()) => None,
            Some((_, waker)) => Some(std::mem::replace(waker, cx.waker().clone())),
            None => {
                state.waiters.push((id, cx.waker().clone()));
                None
            }
        };
        drop(state);
        // Dropped outside the lock: a waker's `Drop` may re-enter this promise.
        drop(replaced);
        Poll::Pending
    }
}

impl<T> Clone for Promise<T> {
    fn clone(&self) -> Promise<T> {
        Promise { inner: self.inner.clone(), waiter: 0 }
    }
}

impl<T: Clone> Future for Promise<T> {
    type Output = Result<T, PromiseError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_outcome(cx, |outcome| outcome.clone())
    }
}

/// The future [`Promise::take`] returns: the promise's value, moved out.
///
/// # Examples
///
/// See [`Promise::take`].
#[must_use = "futures do nothing unless awaited"]
pub struct PromiseTake<T> {
    promise: Promise<T>,
}

impl<T> Future for PromiseTake<T> {
    type Output = Result<T, PromiseError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.promise.poll_outcome(cx, |outcome| std::mem::replace(outcome, Err(PromiseError::Taken)))
    }
}

impl<T> fmt::Debug for PromiseTake<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromiseTake").field("promise", &self.promise).finish()
    }
}

impl<T> Drop for Promise<T> {
    fn drop(&mut self) {
        if self.waiter != 0 {
            let id = self.waiter;
            let removed = {
                let mut state = self.inner.state.lock();
                let position = state.waiters.iter().position(|(waiter, _)| *waiter == id);
                position.map(|p| state.waiters.remove(p))
            };
            // Dropped outside the lock: a waker's `Drop` may re-enter this promise.
            drop(removed);
        }
    }
}

impl<T> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.lock();
        let status = match &state.outcome {
            None => "pending",
            Some(Ok(_)) => "finished",
            Some(Err(PromiseError::Cancelled)) => "cancelled",
            Some(Err(PromiseError::Failed(_))) => "failed",
            Some(Err(PromiseError::Taken)) => "taken",
        };
        f.debug_struct("Promise").field("state", &status).field("waiters", &state.waiters.len()).finish()
    }
}
