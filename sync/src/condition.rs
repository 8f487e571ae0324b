//! `Condition`: asyncio's `Condition`, waiting for a notification while
//! a [`Lock`] is released.

use crate::lock::{Lock, LockGuard};
use crate::waiters::{Handoff, Wait, WaitList, Waiters, WakeList};
use parking_lot::Mutex;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;

/// A condition variable for tasks, asyncio's `Condition`.
///
/// [`wait`](Condition::wait) takes the guard of a held [`Lock`], releases
/// the lock, sleeps until notified, and relocks before returning. The waiter
/// is queued *before* the lock is released, so a notification sent by
/// whoever takes the lock next cannot be missed. Notifications go to waiters
/// in the order they started waiting.
///
/// One `Condition` can be used with any lock, and several conditions can
/// share a lock (asyncio's `Condition(lock)`); the usual pattern changes the
/// protected state while holding the lock, then notifies.
///
/// A waiter dropped after it was notified but before it got the lock back
/// passes the notification on to the next waiter, so `notify(1)` is never
/// swallowed by a cancelled task.
///
/// # Examples
///
/// ```
/// use futures_lite::future;
/// use loopwork_sync::{Condition, Lock};
///
/// let lock = Lock::new(Vec::new());
/// let not_empty = Condition::new();
/// let (item, ()) = future::block_on(future::zip(
///     async {
///         let guard = lock.lock().await;
///         let mut guard = not_empty.wait_for(guard, |items| !items.is_empty()).await;
///         guard.pop().unwrap()
///     },
///     async {
///         lock.lock().await.push("job");
///         not_empty.notify(1);
///     },
/// ));
/// assert_eq!(item, "job");
/// ```
pub struct Condition {
    state: Mutex<ConditionState>,
}

struct ConditionState {
    waiters: WaitList<()>,
}

impl ConditionState {
    fn notify(&mut self, n: usize, wakers: &mut WakeList) -> usize {
        let mut woken = 0;
        while woken < n && self.waiters.grant_first((), wakers).is_ok() {
            woken += 1;
        }
        woken
    }
}

impl Handoff<Waiters> for ConditionState {
    type Grant = ();

    fn waiters(&mut self) -> &mut WaitList<()> {
        &mut self.waiters
    }

    fn pass_on(&mut self, _: (), wakers: &mut WakeList) -> Option<()> {
        self.notify(1, wakers);
        None
    }
}

/// Passes a notification on if the waiter that received it is dropped
/// before it could return.
struct Relay<'a> {
    condition: &'a Condition,
    armed: bool,
}

impl Drop for Relay<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.condition.notify(1);
        }
    }
}

impl Condition {
    /// A new condition with no waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// let condition = loopwork_sync::Condition::new();
    /// assert_eq!(condition.notify_all(), 0);
    /// ```
    pub const fn new() -> Condition {
        Condition { state: Mutex::new(ConditionState { waiters: WaitList::new() }) }
    }

    /// Releases the lock `guard` holds, waits for a notification, then
    /// waits for the lock again and returns the new guard.
    ///
    /// Like asyncio's, a waiter may be woken without the state it waits for
    /// being true (another task may get the lock first after the
    /// notification); check the state again, or use
    /// [`wait_for`](Condition::wait_for).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::future;
    /// use loopwork_sync::{Condition, Lock};
    ///
    /// let lock = Lock::new(false);
    /// let ready = Condition::new();
    /// future::block_on(future::zip(
    ///     async {
    ///         let mut guard = lock.lock().await;
    ///         while !*guard {
    ///             guard = ready.wait(guard).await;
    ///         }
    ///     },
    ///     async {
    ///         *lock.lock().await = true;
    ///         ready.notify_all();
    ///     },
    /// ));
    /// ```
    pub async fn wait<'a, T>(&self, guard: LockGuard<'a, T>) -> LockGuard<'a, T> {
        let lock: &'a Lock<T> = LockGuard::lock_ref(&guard);
        let mut guard = Some(guard);
        let mut notified =
            pin!(Wait::<_, Waiters, _>::new(&self.state, |_: &mut ConditionState, _: &mut WakeList| None));
        poll_fn(|cx| {
            // The first poll queues this waiter; only then is the lock
            // released, so no notification can fall between the two.
            let poll = notified.as_mut().poll(cx);
            drop(guard.take());
            poll
        })
        .await;
        let mut relay = Relay { condition: self, armed: true };
        let guard = lock.lock().await;
        relay.armed = false;
        guard
    }

    /// Waits until `predicate` holds for the protected value, asyncio's
    /// `wait_for(predicate)`: checks it with the lock held, and calls
    /// [`wait`](Condition::wait) until it is true.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::future;
    /// use loopwork_sync::{Condition, Lock};
    ///
    /// let lock = Lock::new(0);
    /// let changed = Condition::new();
    /// future::block_on(future::zip(
    ///     async {
    ///         let guard = changed.wait_for(lock.lock().await, |n| *n >= 3).await;
    ///         assert_eq!(*guard, 3);
    ///     },
    ///     async {
    ///         for _ in 0..3 {
    ///             *lock.lock().await += 1;
    ///             changed.notify_all();
    ///             future::yield_now().await;
    ///         }
    ///     },
    /// ));
    /// ```
    pub async fn wait_for<'a, T, P>(&self, mut guard: LockGuard<'a, T>, mut predicate: P) -> LockGuard<'a, T>
    where
        P: FnMut(&mut T) -> bool,
    {
        while !predicate(&mut guard) {
            guard = self.wait(guard).await;
        }
        guard
    }

    /// Wakes up to `n` waiters, oldest first; returns how many were woken.
    ///
    /// Unlike asyncio, the lock need not be held: the waiter is queued
    /// before it releases the lock, so notifying after changing the state
    /// under the lock always reaches a task that saw the old state.
    ///
    /// # Examples
    ///
    /// ```
    /// let condition = loopwork_sync::Condition::new();
    /// assert_eq!(condition.notify(1), 0); // nobody waits
    /// ```
    pub fn notify(&self, n: usize) -> usize {
        let mut wakers = WakeList::new();
        let woken = self.state.lock().notify(n, &mut wakers);
        wakers.wake_all();
        woken
    }

    /// Wakes every waiter; returns how many were woken.
    ///
    /// # Examples
    ///
    /// ```
    /// let condition = loopwork_sync::Condition::new();
    /// assert_eq!(condition.notify_all(), 0);
    /// ```
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }
}

impl Default for Condition {
    fn default() -> Condition {
        Condition::new()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition").field("waiters", &self.state.lock().waiters.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Condition;
    use crate::Lock;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    #[test]
    fn the_waiter_is_queued_before_the_lock_is_released() {
        let lock = Lock::new(0);
        let condition = Condition::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut waiter = pin!(condition.wait(lock.try_lock().unwrap()));
        assert!(waiter.as_mut().poll(&mut cx).is_pending());
        // The lock is free now, and a notification reaches the waiter.
        *lock.try_lock().unwrap() += 1;
        assert_eq!(condition.notify(1), 1);
        let Poll::Ready(guard) = waiter.as_mut().poll(&mut cx) else { panic!("notification lost") };
        assert_eq!(*guard, 1);
    }

    #[test]
    fn a_notified_waiter_dropped_before_relocking_passes_the_notification_on() {
        let lock = Lock::new(());
        let condition = Condition::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Box::pin(condition.wait(lock.try_lock().unwrap()));
        assert!(first.as_mut().poll(&mut cx).is_pending());
        let mut second = pin!(condition.wait(lock.try_lock().unwrap()));
        assert!(second.as_mut().poll(&mut cx).is_pending());
        let held = lock.try_lock().unwrap();
        assert_eq!(condition.notify(1), 1);
        // `first` takes the notification, then blocks on the held lock.
        assert!(first.as_mut().poll(&mut cx).is_pending());
        drop(first);
        drop(held);
        assert!(second.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn a_notified_waiter_dropped_before_polling_passes_the_notification_on() {
        let lock = Lock::new(());
        let condition = Condition::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Box::pin(condition.wait(lock.try_lock().unwrap()));
        assert!(first.as_mut().poll(&mut cx).is_pending());
        let mut second = pin!(condition.wait(lock.try_lock().unwrap()));
        assert!(second.as_mut().poll(&mut cx).is_pending());
        assert_eq!(condition.notify(1), 1);
        drop(first);
        assert!(second.as_mut().poll(&mut cx).is_ready());
    }
}
