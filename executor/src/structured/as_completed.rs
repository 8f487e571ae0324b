//! `as_completed`: task results in the order the tasks finish, asyncio's
//! `asyncio.as_completed(aws, timeout=)`.

use super::timeout::Elapsed;
use crate::error::TaskError;
use crate::task::Task;
use futures_core::Stream;
use loopwork_reactor::Sleep;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Yields each task's outcome as soon as it is done, asyncio's
/// `as_completed(aws)`.
///
/// The returned [`AsCompleted`] is a [`Stream`] and also has an inherent
/// async [`next`](AsCompleted::next). Tasks found done at the same poll are
/// yielded in input order. Nothing is cancelled: dropping the stream
/// detaches the tasks it still holds, and
/// [`into_pending`](AsCompleted::into_pending) hands them back instead. For
/// an overall deadline, see [`AsCompleted::with_timeout`].
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let slow = loopwork::spawn(async {
///         loopwork::sleep(std::time::Duration::from_millis(20)).await;
///         "slow"
///     });
///     let quick = loopwork::spawn(async { "quick" });
///     let mut results = loopwork::as_completed([slow, quick]);
///     assert_eq!(results.next().await.unwrap().unwrap(), "quick");
///     assert_eq!(results.next().await.unwrap().unwrap(), "slow");
///     assert!(results.next().await.is_none());
/// });
/// ```
pub fn as_completed<T, I>(tasks: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = Task<T>>,
{
    AsCompleted { tasks: tasks.into_iter().collect() }
}

/// The stream returned by [`as_completed`].
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<T> {
    /// The tasks not yielded yet, in input order.
    tasks: Vec<Task<T>>,
}

// Task handles are `Unpin`.
impl<T> Unpin for AsCompleted<T> {}

impl<T> AsCompleted<T> {
    /// The next outcome in completion order, or `None` once every task has
    /// been yielded.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let mut results = loopwork::as_completed([loopwork::spawn(async { 1 })]);
    ///     assert_eq!(results.next().await.unwrap().unwrap(), 1);
    ///     assert!(results.next().await.is_none());
    /// });
    /// ```
    #[allow(clippy::should_implement_trait)] // an async `next`, as on `Stream` extension traits
    pub async fn next(&mut self) -> Option<Result<T, TaskError>> {
        poll_fn(|cx| self.poll_next_task(cx)).await
    }

    /// How many tasks have not been yielded yet.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let results = loopwork::as_completed([loopwork::spawn(async {}), loopwork::spawn(async {})]);
    ///     assert_eq!(results.len(), 2);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True once every task has been yielded.
    ///
    /// # Examples
    ///
    /// ```
    /// let results = loopwork::as_completed(Vec::<loopwork::Task<()>>::new());
    /// assert!(results.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The tasks not yielded yet, in input order, still running.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let results = loopwork::as_completed([loopwork::spawn(std::future::pending::<()>())]);
    ///     let pending = results.into_pending();
    ///     assert!(pending[0].cancel());
    /// });
    /// ```
    pub fn into_pending(self) -> Vec<Task<T>> {
        self.tasks
    }

    /// Gives the whole stream a deadline `duration` after its first poll,
    /// asyncio's `as_completed(aws, timeout=)`.
    ///
    /// # Examples
    ///
    /// See [`AsCompletedTimeout`].
    pub fn with_timeout(self, duration: Duration) -> AsCompletedTimeout<T> {
        AsCompletedTimeout { inner: self, timer: crate::sleep(duration), expired: false }
    }

    /// Gives the whole stream a deadline on the loop clock
    /// ([`Handle::time`](crate::Handle::time)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// loopwork::run(async {
    ///     let now = loopwork::get_running_loop().unwrap().time();
    ///     let stuck = loopwork::spawn(std::future::pending::<()>());
    ///     let mut results = loopwork::as_completed([stuck]).with_deadline(now + Duration::from_millis(1));
    ///     assert!(results.next().await.unwrap().is_err());
    /// });
    /// ```
    pub fn with_deadline(self, deadline: Instant) -> AsCompletedTimeout<T> {
        AsCompletedTimeout { inner: self, timer: crate::sleep_until(deadline), expired: false }
    }

    fn poll_next_task(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, TaskError>>> {
        if self.tasks.is_empty() {
            return Poll::Ready(None);
        }
        // Polling a task takes its output when it is done, so stop at the
        // first one: the rest are polled again on the next call, which the
        // consumer makes before it waits.
        for i in 0..self.tasks.len() {
            if let Poll::Ready(outcome) = Pin::new(&mut self.tasks[i]).poll(cx) {
                self.tasks.remove(i);
                return Poll::Ready(Some(outcome));
            }
        }
        Poll::Pending
    }
}

impl<T> Stream for AsCompleted<T> {
    type Item = Result<T, TaskError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_next_task(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.tasks.len(), Some(self.tasks.len()))
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted").field("pending", &self.tasks.len()).finish()
    }
}

/// [`as_completed`] with an overall deadline, made by
/// [`AsCompleted::with_timeout`] or [`AsCompleted::with_deadline`].
///
/// Yields `Ok(outcome)` per task in completion order; once the deadline
/// passes it yields a single `Err(Elapsed)` (asyncio raises `TimeoutError`)
/// and then `None`. Expiry cancels nothing: the unfinished tasks keep
/// running and [`into_pending`](AsCompletedTimeout::into_pending) hands
/// them back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// loopwork::run(async {
///     let quick = loopwork::spawn(async { 1 });
///     let stuck = loopwork::spawn(std::future::pending::<i32>());
///     let mut results = loopwork::as_completed([quick, stuck]).with_timeout(Duration::from_millis(10));
///     assert_eq!(results.next().await.unwrap().unwrap().unwrap(), 1);
///     assert!(results.next().await.unwrap().is_err()); // Elapsed
///     assert!(results.next().await.is_none());
///     let pending = results.into_pending();
///     assert!(!pending[0].is_done());
/// });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct AsCompletedTimeout<T> {
    inner: AsCompleted<T>,
    timer: Sleep,
    /// Set once `Err(Elapsed)` has been yielded; the stream is over then.
    expired: bool,
}

// `AsCompleted` and `Sleep` are `Unpin`.
impl<T> Unpin for AsCompletedTimeout<T> {}

impl<T> AsCompletedTimeout<T> {
    /// The next outcome in completion order, `Err(Elapsed)` once at the
    /// deadline, or `None` when every task has been yielded or after the
    /// expiry was reported.
    ///
    /// # Errors
    ///
    /// [`Elapsed`] (inside the `Some`) when the deadline passes first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// loopwork::run(async {
    ///     let mut results = loopwork::as_completed([loopwork::spawn(async { 1 })]).with_timeout(Duration::from_secs(5));
    ///     assert_eq!(results.next().await.unwrap().unwrap().unwrap(), 1);
    ///     assert!(results.next().await.is_none());
    /// });
    /// ```
    #[allow(clippy::should_implement_trait)] // an async `next`, as on `Stream` extension traits
    pub async fn next(&mut self) -> Option<Result<Result<T, TaskError>, Elapsed>> {
        poll_fn(|cx| self.poll_next_outcome(cx)).await
    }

    /// True once the deadline passed and `Err(Elapsed)` was yielded.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let results = loopwork::as_completed(Vec::<loopwork::Task<()>>::new()).with_timeout(Duration::from_secs(1));
    /// assert!(!results.has_expired());
    /// ```
    pub fn has_expired(&self) -> bool {
        self.expired
    }

    /// The tasks not yielded yet, in input order, still running.
    ///
    /// # Examples
    ///
    /// See [`AsCompletedTimeout`].
    pub fn into_pending(self) -> Vec<Task<T>> {
        self.inner.into_pending()
    }

    fn poll_next_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Result<T, TaskError>, Elapsed>>> {
        if self.expired {
            return Poll::Ready(None);
        }
        // Outcomes that are already there win over the deadline.
        if let Poll::Ready(next) = self.inner.poll_next_task(cx) {
            return Poll::Ready(next.map(Ok));
        }
        match crate::coop::poll_unconstrained(|| Pin::new(&mut self.timer).poll(cx)) {
            Poll::Ready(()) => {
                self.expired = true;
                Poll::Ready(Some(Err(Elapsed::new())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Stream for AsCompletedTimeout<T> {
    type Item = Result<Result<T, TaskError>, Elapsed>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_next_outcome(cx)
    }
}

impl<T> fmt::Debug for AsCompletedTimeout<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompletedTimeout")
            .field("pending", &self.inner.len())
            .field("deadline", &self.timer.deadline())
            .field("expired", &self.expired)
            .finish()
    }
}
