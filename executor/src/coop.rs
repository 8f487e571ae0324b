//! Cooperative budgeting: no task keeps its worker by looping over resources
//! that are always ready.
//!
//! A task gives its worker back only when it returns `Pending`. One that
//! drains a channel that is never empty, reads a socket whose peer always
//! has more to send, or takes a lock nobody else wants would never do so,
//! and every task, timer and socket served by that worker would wait until
//! it finished. So each poll of a task gets a *budget* of 128 operations
//! ([`Budget::INITIAL`](loopwork_coop::Budget::INITIAL), tokio's number):
//! every loopwork resource that completes without waiting consumes one, and
//! once the budget is spent the next such operation wakes the task and
//! returns `Pending` instead. The task goes to the back of its worker's
//! queue, the others run, the worker looks at its timers and sockets, and
//! the task carries on with a fresh budget.
//!
//! What consumes the budget: `loopwork::sync`'s channels and queues (send
//! and receive), `Lock`, `Semaphore`, `Event` and `Condition` (through its
//! lock); sockets' reads and writes and [`Async`](crate::io::Async)
//! readiness (not accepts: a listener that fell behind a flood of
//! connections would see the kernel reset those beyond its backlog); [`sleep`](crate::sleep) and [`interval`](crate::interval)
//! when already due; awaiting a finished [`Task`](crate::Task),
//! [`Promise`](crate::Promise) or [`ConcurrentFuture`](crate::ConcurrentFuture).
//!
//! The scheduler sets a fresh budget before every poll of a task, every
//! batch of callbacks and every poll of `block_on`'s future, in strict mode
//! and with workers alike. Anywhere else (under tokio or async-executor, on
//! a thread of your own) the budget is inactive and the resources never
//! return a `Pending` they did not earn.
//!
//! ```
//! use loopwork::coop::has_budget_remaining;
//! use loopwork::sync::Lock;
//!
//! loopwork::run(async {
//!     let lock = Lock::new(0);
//!     for _ in 0..128 {
//!         *lock.lock().await += 1; // never waits: nobody else holds it
//!     }
//!     // One more operation would yield to the other tasks first.
//!     assert!(!has_budget_remaining());
//! });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use loopwork_coop::ConsumeBudget;

/// Runs `future` outside the budget: the resources it uses never make it
/// yield. For a task that must not be interrupted between two operations,
/// or that yields on its own terms; it can keep its worker for as long as it
/// likes, so use it sparingly.
///
/// # Examples
///
/// ```
/// use loopwork::coop::{has_budget_remaining, unconstrained};
/// use loopwork::sync::Lock;
///
/// loopwork::run(unconstrained(async {
///     let lock = Lock::new(0);
///     for _ in 0..1_000 {
///         *lock.lock().await += 1;
///     }
///     assert!(has_budget_remaining());
/// }));
/// ```
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

/// The future returned by [`unconstrained`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Unconstrained<F> {
    future: F,
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is pinned structurally: it is never moved out of
        // `self`, `Unconstrained` has no `Drop` impl, and it is `Unpin` only
        // when `F` is.
        let future = unsafe { self.map_unchecked_mut(|this| &mut this.future) };
        poll_unconstrained(|| future.poll(cx))
    }
}

/// Consumes one unit of the current task's budget, yielding to the other
/// tasks first if none is left: how a resource of your own, or a loop that
/// touches no loopwork resource, takes part in cooperative scheduling.
///
/// Outside a loopwork loop it completes at once.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let mut total = 0_u64;
///     for n in 0..10_000 {
///         // A long computation yields every 128 steps, letting the
///         // loop's other tasks, timers and sockets in.
///         loopwork::coop::consume_budget().await;
///         total += n;
///     }
///     assert_eq!(total, 49_995_000);
/// });
/// ```
pub fn consume_budget() -> ConsumeBudget {
    loopwork_coop::consume_budget()
}

/// True unless the current task has spent its budget for this poll: the
/// next operation on a loopwork resource would yield first.
///
/// Always true outside a loopwork loop and inside [`unconstrained`].
///
/// # Examples
///
/// ```
/// use loopwork::coop::{consume_budget, has_budget_remaining};
///
/// loopwork::run(async {
///     let mut steps = 0;
///     while has_budget_remaining() {
///         consume_budget().await;
///         steps += 1;
///     }
///     assert_eq!(steps, 128);
/// });
/// ```
pub fn has_budget_remaining() -> bool {
    loopwork_coop::has_budget_remaining()
}

/// Runs `poll` without a budget: for the timers of the combinators
/// (`timeout`, `wait`, `as_completed`), whose deadline must be seen even
/// when the future they watch spent the whole budget in every poll.
pub(crate) fn poll_unconstrained<R>(poll: impl FnOnce() -> R) -> R {
    loopwork_coop::with_budget(loopwork_coop::Budget::UNCONSTRAINED, poll)
}
