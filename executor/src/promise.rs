//! `Promise<T>`: asyncio's `loop.create_future()`, a result set by hand
//! and awaited by any number of tasks.

use crate::error::Closed;
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
/// awaiter gets a clone of the value.
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

type DoneCallback<T> = Box<dyn FnOnce(Promise<T>) + Send>;

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
}

impl PartialEq for PromiseError {
    /// Cancellations are equal; errors are equal when they are the same
    /// error (set once, shared by every awaiter).
    fn eq(&self, other: &PromiseError) -> bool {
        match (self, other) {
            (PromiseError::Cancelled, PromiseError::Cancelled) => true,
            (PromiseError::Failed(a), PromiseError::Failed(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl fmt::Debug for PromiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PromiseError::Cancelled => f.write_str("Cancelled"),
            PromiseError::Failed(err) => f.debug_tuple("Failed").field(&err.to_string()).finish(),
        }
    }
}

impl fmt::Display for PromiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PromiseError::Cancelled => f.write_str("the promise was cancelled"),
            PromiseError::Failed(err) => write!(f, "the promise failed: {err}"),
        }
    }
}

impl Error for PromiseError {}

/// The promise already has a result: asyncio's `InvalidStateError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidState;

impl fmt::Display for InvalidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the promise already has a result")
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
    /// assert!(promise.cancelled());
    /// assert!(!promise.cancel());
    /// ```
    pub fn cancel(&self) -> bool {
        self.complete(Err(PromiseError::Cancelled)).is_ok()
    }

    /// Returns true once a result is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let promise = event_loop.handle().create_future();
    /// assert!(!promise.done());
    /// promise.set_result(()).unwrap();
    /// assert!(promise.done());
    /// ```
    pub fn done(&self) -> bool {
        self.inner.state.lock().outcome.is_some()
    }

    /// Returns true if the promise was cancelled.
    ///
    /// # Examples
    ///
    /// See [`cancel`](Self::cancel).
    pub fn cancelled(&self) -> bool {
        matches!(self.inner.state.lock().outcome, Some(Err(PromiseError::Cancelled)))
    }

    /// Schedules `callback` (with a clone of this promise) once the result
    /// is set, asyncio's `add_done_callback`. Callbacks run on the loop like
    /// `call_soon` ones, in the order they were added — never inline in
    /// `set_result`. If the result is already set, the callback is scheduled
    /// at once.
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
    /// promise.add_done_callback(move |p| tx.send(p.try_result()).unwrap()).unwrap();
    /// promise.set_result(5).unwrap();
    /// assert!(rx.try_recv().is_err()); // scheduled, not run inline
    /// event_loop.block_on(loopwork::yield_now());
    /// assert_eq!(rx.try_recv().unwrap(), Some(Ok(5)));
    /// ```
    pub fn add_done_callback(&self, callback: impl FnOnce(Promise<T>) + Send + 'static) -> Result<(), Closed> {
        let mut state = self.inner.state.lock();
        if state.outcome.is_none() {
            state.callbacks.push(Box::new(callback));
            return Ok(());
        }
        drop(state);
        let promise = self.clone();
        self.inner.handle.call_soon(move || callback(promise)).map(drop)
    }

    fn complete(&self, outcome: Result<T, PromiseError>) -> Result<(), InvalidState> {
        let (waiters, callbacks) = {
            let mut state = self.inner.state.lock();
            if state.outcome.is_some() {
                return Err(InvalidState);
            }
            state.outcome = Some(outcome);
            (std::mem::take(&mut state.waiters), std::mem::take(&mut state.callbacks))
        };
        for (_, waker) in waiters {
            waker.wake();
        }
        for callback in callbacks {
            let promise = self.clone();
            // A closed loop runs no more callbacks; the closure is dropped.
            let _ = self.inner.handle.call_soon(move || callback(promise));
        }
        Ok(())
    }
}

impl<T: Clone> Promise<T> {
    /// The result if one is set, asyncio's `result()` without the
    /// exception: `None` while pending.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let promise = event_loop.handle().create_future();
    /// assert_eq!(promise.try_result(), None);
    /// promise.set_result('x').unwrap();
    /// assert_eq!(promise.try_result(), Some(Ok('x')));
    /// ```
    pub fn try_result(&self) -> Option<Result<T, PromiseError>> {
        self.inner.state.lock().outcome.clone()
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
        let inner = self.inner.clone();
        let mut state = inner.state.lock();
        if let Some(outcome) = &state.outcome {
            let outcome = outcome.clone();
            drop(state);
            // A promise that has its result completes without waiting: one
            // unit of the cooperative budget (see `coop`); a pending one
            // costs nothing, as for `Task`.
            std::task::ready!(loopwork_coop::poll_proceed(cx));
            return Poll::Ready(outcome);
        }
        if self.waiter == 0 {
            // Relaxed is enough: ids only need to be unique.
            self.waiter = inner.next_waiter.fetch_add(1, Ordering::Relaxed);
        }
        let id = self.waiter;
        match state.waiters.iter_mut().find(|(waiter, _)| *waiter == id) {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => state.waiters.push((id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl<T> Drop for Promise<T> {
    fn drop(&mut self) {
        if self.waiter != 0 {
            let id = self.waiter;
            self.inner.state.lock().waiters.retain(|(waiter, _)| *waiter != id);
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
        };
        f.debug_struct("Promise").field("state", &status).field("waiters", &state.waiters.len()).finish()
    }
}
