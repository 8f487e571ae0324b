//! `wait`: wait for a set of tasks until a condition holds, asyncio's
//! `asyncio.wait(aws, timeout=, return_when=)`.

use crate::task::Task;
use loopwork_reactor::Sleep;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// When [`wait`] returns, asyncio's `FIRST_COMPLETED`, `FIRST_EXCEPTION` and
/// `ALL_COMPLETED`.
///
/// # Examples
///
/// ```
/// use loopwork::ReturnWhen;
///
/// assert_ne!(ReturnWhen::FirstCompleted, ReturnWhen::AllCompleted);
/// assert_eq!(ReturnWhen::default(), ReturnWhen::AllCompleted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReturnWhen {
    /// As soon as any task is done (with a value, a panic, or cancelled).
    FirstCompleted,
    /// As soon as any task is done by panicking, or when all are done. A
    /// cancelled task does not count: asyncio treats `CancelledError` as
    /// "not an exception" here too.
    FirstException,
    /// When every task is done. asyncio's default.
    #[default]
    AllCompleted,
}

/// Waits for `tasks` until `return_when` holds or `timeout` passes, and
/// resolves to `(done, pending)`, asyncio's `wait(aws, timeout=,
/// return_when=)`. Both lists keep the input order.
///
/// Nothing is ever cancelled: on timeout the tasks that are not done yet
/// come back in `pending`, still running, and can be waited on again.
/// The tasks in `done` still hold their results (await them, or call
/// [`Task::try_result`]). The timeout is measured from the first poll.
/// Empty input resolves at once to two empty lists (where asyncio raises
/// `ValueError`).
///
/// Dropping the `Wait` before it resolves drops its handles, which
/// detaches the tasks: they run on, as asyncio's would.
///
/// # Examples
///
/// ```
/// use loopwork::ReturnWhen;
/// use std::time::Duration;
///
/// loopwork::run(async {
///     let quick = loopwork::spawn(async { 1 });
///     let slow = loopwork::spawn(std::future::pending::<i32>());
///     let (done, pending) = loopwork::wait([quick, slow], ReturnWhen::FirstCompleted, None).await;
///     assert_eq!((done.len(), pending.len()), (1, 1));
///     assert_eq!(done.into_iter().next().unwrap().await.unwrap(), 1);
///
///     // The slow task is still running: wait on it again, with a timeout.
///     let (done, pending) =
///         loopwork::wait(pending, ReturnWhen::AllCompleted, Some(Duration::from_millis(5))).await;
///     assert!(done.is_empty());
///     assert!(!pending[0].is_done());
/// });
/// ```
pub fn wait<T, I>(tasks: I, return_when: ReturnWhen, timeout: Option<Duration>) -> Wait<T>
where
    I: IntoIterator<Item = Task<T>>,
{
    Wait { tasks: tasks.into_iter().collect(), return_when, timer: timeout.map(crate::sleep) }
}

/// The future returned by [`wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<T> {
    tasks: Vec<Task<T>>,
    return_when: ReturnWhen,
    timer: Option<Sleep>,
}

// Task handles and `Sleep` are both `Unpin`; nothing is pinned through a wait.
impl<T> Unpin for Wait<T> {}

impl<T> Future for Wait<T> {
    type Output = (Vec<Task<T>>, Vec<Task<T>>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut done = 0;
        let mut panicked = false;
        // Every task is polled (no early exit) so that each pending one holds
        // this waker: the condition can only change when one of them ends.
        for task in &this.tasks {
            if task.poll_complete(cx).is_ready() {
                done += 1;
                panicked |= task.is_panicked();
            }
        }
        let all = done == this.tasks.len();
        let satisfied = all
            || match this.return_when {
                ReturnWhen::FirstCompleted => done > 0,
                ReturnWhen::FirstException => panicked,
                ReturnWhen::AllCompleted => false,
            };
        if !satisfied {
            let expired = this
                .timer
                .as_mut()
                .is_some_and(|timer| crate::coop::poll_unconstrained(|| Pin::new(timer).poll(cx)).is_ready());
            if !expired {
                return Poll::Pending;
            }
        }
        // Split by `is_done` now rather than by the poll above: a task that
        // finished in between is reported as done, which is only more accurate.
        let (done, pending) = std::mem::take(&mut this.tasks).into_iter().partition(|task| task.is_done());
        Poll::Ready((done, pending))
    }
}

impl<T> fmt::Debug for Wait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("tasks", &self.tasks.len())
            .field("return_when", &self.return_when)
            .field("timeout", &self.timer.is_some())
            .finish()
    }
}
