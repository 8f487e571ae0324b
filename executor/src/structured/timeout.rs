//! `timeout`, `timeout_at` and `wait_for`: bound how long a future may take,
//! asyncio's `asyncio.timeout()` and `asyncio.wait_for()`.

use crate::task::Task;
use loopwork_reactor::Sleep;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The error of a future whose deadline passed first, asyncio's
/// `TimeoutError`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// loopwork::run(async {
///     let err = loopwork::timeout(Duration::from_millis(1), std::future::pending::<()>()).await.unwrap_err();
///     assert_eq!(err.to_string(), "deadline has elapsed");
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Elapsed(());

impl Elapsed {
    pub(crate) fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `future` for at most `duration`, measured from the first poll,
/// asyncio's `async with asyncio.timeout(delay)`.
///
/// Resolves to the future's output, or to [`Elapsed`] if the deadline
/// passes first; the future is then dropped at its suspension point (its
/// destructors run). Dropping a [`Task`] handle only detaches the task: to
/// cancel a task on expiry, use [`wait_for`].
///
/// # Errors
///
/// [`Elapsed`] if `duration` passes before `future` completes.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// loopwork::run(async {
///     let fast = loopwork::timeout(Duration::from_secs(5), async { 7 }).await;
///     assert_eq!(fast, Ok(7));
///
///     let slow = loopwork::timeout(Duration::from_millis(1), loopwork::sleep(Duration::from_secs(5))).await;
///     assert!(slow.is_err());
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> TimeoutFuture<F> {
    TimeoutFuture::new(crate::sleep(duration), future, None)
}

/// Like [`timeout`], with an absolute deadline on the loop clock
/// ([`Handle::time`](crate::Handle::time)), asyncio's `timeout_at(when)`.
///
/// # Errors
///
/// [`Elapsed`] if `deadline` passes before `future` completes.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// loopwork::run(async {
///     let now = loopwork::get_running_loop().unwrap().time();
///     let out = loopwork::timeout_at(now + Duration::from_millis(1), std::future::pending::<()>()).await;
///     assert!(out.is_err());
/// });
/// ```
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> TimeoutFuture<F> {
    TimeoutFuture::new(crate::sleep_until(deadline), future, None)
}

/// Awaits `task` for at most `duration`, and **cancels it** if the deadline
/// passes first (or if this future is dropped before the task is done),
/// asyncio's `wait_for(task, timeout)`.
///
/// Resolves to the task's outcome, or to [`Elapsed`]. The cancellation is a
/// request ([`Task::cancel`]): the task's future is dropped at its next
/// suspension point, on its own worker.
///
/// # Errors
///
/// [`Elapsed`] if `duration` passes before `task` is done.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// loopwork::run(async {
///     let (alive, rx) = std::sync::mpsc::channel::<()>();
///     let stuck = loopwork::spawn(async move {
///         let _alive = alive; // dropped with the task's future
///         std::future::pending::<()>().await
///     });
///     let out = loopwork::wait_for(Duration::from_millis(1), stuck).await;
///     assert!(out.is_err());
///     // The task was cancelled, so its future (and the sender) is dropped.
///     while rx.try_recv() != Err(std::sync::mpsc::TryRecvError::Disconnected) {
///         loopwork::yield_now().await;
///     }
///
///     let quick = loopwork::spawn(async { 5 });
///     assert_eq!(loopwork::wait_for(Duration::from_secs(5), quick).await.unwrap().unwrap(), 5);
/// });
/// ```
pub fn wait_for<T>(duration: Duration, task: Task<T>) -> TimeoutFuture<Task<T>> {
    TimeoutFuture::new(crate::sleep(duration), task, Some(cancel_task::<T>))
}

/// The `on_abandon` hook of [`wait_for`].
fn cancel_task<T>(task: &Task<T>) {
    task.cancel();
}

/// The future returned by [`timeout`], [`timeout_at`] and [`wait_for`].
#[must_use = "futures do nothing unless awaited"]
pub struct TimeoutFuture<F> {
    /// Boxed so that `F` may be `!Unpin` without a pin projection (and its
    /// `unsafe`); `None` once the future completed or was abandoned.
    future: Option<Pin<Box<F>>>,
    timer: Sleep,
    /// Runs on the inner future just before it is dropped unfinished.
    on_abandon: Option<fn(&F)>,
}

impl<F> TimeoutFuture<F> {
    fn new(timer: Sleep, future: F, on_abandon: Option<fn(&F)>) -> TimeoutFuture<F> {
        TimeoutFuture { future: Some(Box::pin(future)), timer, on_abandon }
    }

    /// Drops the inner future unfinished, running the hook first.
    fn abandon(&mut self) {
        if let Some(future) = self.future.take() {
            if let Some(hook) = self.on_abandon {
                hook(&future);
            }
        }
    }
}

// The inner future is boxed and `Sleep` is `Unpin`.
impl<F> Unpin for TimeoutFuture<F> {}

impl<F: Future> Future for TimeoutFuture<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let future = this.future.as_mut().expect("`TimeoutFuture` polled after completion");
        // The inner future first: if both are ready, its value wins, as in
        // asyncio where a result that is already there is not thrown away.
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            this.future = None;
            return Poll::Ready(Ok(output));
        }
        // Unconstrained: a future that spends the budget in every poll
        // must still time out.
        match crate::coop::poll_unconstrained(|| Pin::new(&mut this.timer).poll(cx)) {
            Poll::Ready(()) => {
                this.abandon();
                Poll::Ready(Err(Elapsed::new()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> Drop for TimeoutFuture<F> {
    fn drop(&mut self) {
        // Cancelling the waiter cancels what it waits on (for `wait_for`).
        self.abandon();
    }
}

impl<F> fmt::Debug for TimeoutFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutFuture")
            .field("finished", &self.future.is_none())
            .field("deadline", &self.timer.deadline())
            .field("cancels_on_expiry", &self.on_abandon.is_some())
            .finish()
    }
}
