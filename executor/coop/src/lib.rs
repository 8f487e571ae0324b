//! The cooperative budget behind loopwork's resources.
//!
//! A task that loops over a resource that is always ready (a full channel, a
//! socket with data waiting, a lock nobody else wants) never returns
//! `Pending` by itself, so it would keep its worker thread, and every timer,
//! socket and task that thread serves, until it finished. The budget bounds
//! that: the scheduler gives each poll of a task a number of operations
//! ([`Budget::INITIAL`], 128), every resource that completes without waiting
//! consumes one, and once none is left the resource wakes its task and
//! returns `Pending`, so the task goes to the back of the queue and the
//! others run.
//!
//! This crate is the one place the budget lives: a thread-local that
//! `loopwork-sync` and `loopwork-reactor` consume and the `loopwork`
//! scheduler sets. Neither of the two resource crates depends on the
//! executor, and both stay runtime-agnostic: the budget is *inactive* on a
//! thread until a loopwork scheduler sets it for a poll, and an inactive
//! budget is never used up, so under tokio, async-executor or a plain
//! `block_on` every resource behaves as if this crate did not exist.
//!
//! Users reach this through `loopwork::coop` (`unconstrained`,
//! `consume_budget`, `has_budget_remaining`).
//!
//! ```
//! use loopwork_coop::{has_budget_remaining, with_budget, Budget};
//!
//! // Outside any loop the budget is inactive: there is always some left.
//! assert!(has_budget_remaining());
//! with_budget(Budget::new(0), || assert!(!has_budget_remaining()));
//! assert!(has_budget_remaining());
//! ```

#![doc(test(attr(deny(warnings))))]

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// How many operations one poll may complete without waiting, or no limit.
///
/// # Examples
///
/// ```
/// use loopwork_coop::Budget;
///
/// assert_eq!(Budget::INITIAL.remaining(), Some(128));
/// assert_eq!(Budget::UNCONSTRAINED.remaining(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget(Option<u8>);

impl Budget {
    /// What the scheduler gives each poll of a task: 128 operations, tokio's
    /// number. Enough that the yields it forces cost nothing measurable (one
    /// trip through the run queue per 128 operations), few enough that a
    /// task draining a resource gives its worker back within tens of
    /// microseconds; the `coop_timer_latency` benchmark row measures it.
    pub const INITIAL: Budget = Budget(Some(128));

    /// No limit: what a thread outside any loopwork loop has.
    pub const UNCONSTRAINED: Budget = Budget(None);

    /// A budget of `operations`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork_coop::Budget::new(3).remaining(), Some(3));
    /// ```
    pub const fn new(operations: u8) -> Budget {
        Budget(Some(operations))
    }

    /// The operations left, `None` for no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_coop::{current, with_budget, Budget};
    ///
    /// with_budget(Budget::new(2), || assert_eq!(current().remaining(), Some(2)));
    /// ```
    pub const fn remaining(self) -> Option<u8> {
        self.0
    }
}

thread_local! {
    // A `const` initializer and a type without `Drop`: every access is a
    // plain thread-local load, with no lazy-initialization check and no
    // destructor registration (so it is also usable during thread exit).
    static BUDGET: Cell<Budget> = const { Cell::new(Budget::UNCONSTRAINED) };
}

/// The calling thread's budget right now.
///
/// # Examples
///
/// ```
/// assert_eq!(loopwork_coop::current(), loopwork_coop::Budget::UNCONSTRAINED);
/// ```
#[inline]
pub fn current() -> Budget {
    BUDGET.with(Cell::get)
}

/// Runs `f` with `budget` as the calling thread's budget, then puts the
/// previous one back (also if `f` panics): how `loopwork::coop::unconstrained`
/// polls its future, and how a driver that blocks its thread on one future
/// turns the budget off while it polls.
///
/// # Examples
///
/// ```
/// use loopwork_coop::{current, with_budget, Budget};
///
/// let inner = with_budget(Budget::INITIAL, || {
///     with_budget(Budget::UNCONSTRAINED, current)
/// });
/// assert_eq!(inner, Budget::UNCONSTRAINED);
/// assert_eq!(current(), Budget::UNCONSTRAINED);
/// ```
#[inline]
pub fn with_budget<R>(budget: Budget, f: impl FnOnce() -> R) -> R {
    struct Restore(Budget);
    impl Drop for Restore {
        #[inline]
        fn drop(&mut self) {
            BUDGET.with(|cell| cell.set(self.0));
        }
    }
    let _restore = Restore(replace(budget));
    f()
}

/// Makes `budget` the calling thread's budget and returns the one it
/// replaces. The scheduler calls this before every poll of a task: a single
/// store, and nothing to undo after the poll, because the next poll on that
/// thread sets its own budget again. Whoever hands the thread back to other
/// code (`block_on` returning) puts the previous budget back.
///
/// # Examples
///
/// ```
/// use loopwork_coop::{current, replace, Budget};
///
/// let previous = replace(Budget::INITIAL);
/// assert_eq!(current(), Budget::INITIAL);
/// replace(previous);
/// assert_eq!(current(), Budget::UNCONSTRAINED);
/// ```
#[inline]
pub fn replace(budget: Budget) -> Budget {
    BUDGET.with(|cell| cell.replace(budget))
}

/// True unless the calling thread's budget is used up.
///
/// # Examples
///
/// ```
/// use loopwork_coop::{has_budget_remaining, with_budget, Budget};
///
/// assert!(has_budget_remaining());
/// assert!(with_budget(Budget::new(1), has_budget_remaining));
/// assert!(!with_budget(Budget::new(0), has_budget_remaining));
/// ```
#[inline]
pub fn has_budget_remaining() -> bool {
    current().0 != Some(0)
}

/// Consumes one unit of the budget for an operation that is about to
/// complete without waiting. If none is left, wakes `cx`'s task and returns
/// `Pending`: the caller returns `Pending` too, without doing the operation,
/// and the task is polled again after the others had their turn. An
/// inactive budget is always `Ready` and never changes.
///
/// # Examples
///
/// ```
/// use std::task::{Context, Poll, Waker};
/// use loopwork_coop::{poll_proceed, with_budget, Budget};
///
/// let mut cx = Context::from_waker(Waker::noop());
/// assert_eq!(poll_proceed(&mut cx), Poll::Ready(()));
/// with_budget(Budget::new(1), || {
///     assert_eq!(poll_proceed(&mut cx), Poll::Ready(()));
///     assert_eq!(poll_proceed(&mut cx), Poll::Pending);
/// });
/// ```
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    BUDGET.with(|cell| match cell.get().0 {
        None => Poll::Ready(()),
        Some(0) => exhausted(cx),
        Some(left) => {
            cell.set(Budget(Some(left - 1)));
            Poll::Ready(())
        }
    })
}

/// Gives back the unit [`poll_proceed`] took, for an operation that then
/// had to wait after all. Waiting costs nothing: a future that polls many
/// resources at once (a select over hundreds of receivers) would otherwise
/// spend its budget on the ones that are not ready, be woken at once, and
/// never stop.
///
/// # Examples
///
/// ```
/// use std::task::{Context, Poll, Waker};
/// use loopwork_coop::{current, poll_proceed, refund, with_budget, Budget};
///
/// let mut cx = Context::from_waker(Waker::noop());
/// with_budget(Budget::new(1), || {
///     assert_eq!(poll_proceed(&mut cx), Poll::Ready(()));
///     refund(); // the operation was not ready
///     assert_eq!(current().remaining(), Some(1));
/// });
/// ```
pub fn refund() {
    BUDGET.with(|cell| {
        if let Some(left) = cell.get().0 {
            cell.set(Budget(Some(left.saturating_add(1))));
        }
    });
}

/// The budget is spent: have the task polled again later.
#[cold]
#[inline(never)]
fn exhausted(cx: &mut Context<'_>) -> Poll<()> {
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Consumes one unit of the budget, yielding first if none is left: the
/// future form of [`poll_proceed`], for `async fn` resources and for users'
/// own.
///
/// # Examples
///
/// ```
/// use loopwork_coop::{consume_budget, current, with_budget, Budget};
/// use std::future::Future;
/// use std::pin::pin;
/// use std::task::{Context, Waker};
///
/// let mut cx = Context::from_waker(Waker::noop());
/// with_budget(Budget::new(5), || {
///     assert!(pin!(consume_budget()).poll(&mut cx).is_ready());
///     assert_eq!(current().remaining(), Some(4));
/// });
/// ```
#[inline]
pub fn consume_budget() -> ConsumeBudget {
    ConsumeBudget { _private: () }
}

/// The future returned by [`consume_budget`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ConsumeBudget {
    _private: (),
}

impl Future for ConsumeBudget {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        poll_proceed(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn an_inactive_budget_never_runs_out() {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..1000 {
            assert_eq!(poll_proceed(&mut cx), Poll::Ready(()));
        }
        assert_eq!(current(), Budget::UNCONSTRAINED);
    }

    #[test]
    fn a_spent_budget_wakes_the_task_and_stays_spent() {
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        with_budget(Budget::INITIAL, || {
            for _ in 0..128 {
                assert_eq!(poll_proceed(&mut cx), Poll::Ready(()));
            }
            assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
            assert_eq!(poll_proceed(&mut cx), Poll::Pending);
            assert_eq!(poll_proceed(&mut cx), Poll::Pending);
            assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
        });
    }

    #[test]
    fn the_previous_budget_comes_back_after_a_panic() {
        let result = std::panic::catch_unwind(|| with_budget(Budget::new(0), || panic!("inside")));
        assert!(result.is_err());
        assert_eq!(current(), Budget::UNCONSTRAINED);
    }
}

/// The crate README's example runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
