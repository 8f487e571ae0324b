//! `Lock<T>`: asyncio's `Lock`, an async mutex that owns the value it
//! protects.
//!
//! The value itself is the token of ownership: locking moves it out of the
//! lock into the guard, unlocking moves it back or, when tasks wait, straight
//! into the first waiter's node. That is how the hand-off is FIFO (the value
//! never rests in the lock while anyone waits) and why no `unsafe` is needed
//! to reach it.

use crate::error::TryLockError;
use crate::waiters::{Handoff, Wait, WaitList, Waiters, WakeList};
use parking_lot::Mutex;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// An async mutual-exclusion lock, asyncio's `Lock`, protecting a value of
/// type `T`.
///
/// Tasks waiting for the lock acquire it in the order they asked for it:
/// unlocking hands the lock directly to the oldest waiter, and nobody
/// arriving later can take it first. A waiting [`lock`](Lock::lock) future
/// may be dropped at any time; if the lock had already been handed to it, it
/// passes the lock on to the next waiter.
///
/// Use `Lock<()>` for asyncio's data-less lock. Moving the value in and out
/// makes each acquisition copy `size_of::<T>()` bytes; box large values.
///
/// # Examples
///
/// ```
/// use loopwork_sync::Lock;
/// use std::sync::Arc;
///
/// let lock = Arc::new(Lock::new(Vec::new()));
/// futures_lite::future::block_on(async {
///     let mut guard = lock.lock().await;
///     guard.push("inside the critical section");
/// });
/// assert_eq!(lock.try_lock().unwrap().len(), 1);
/// ```
pub struct Lock<T> {
    state: Mutex<LockState<T>>,
}

struct LockState<T> {
    /// `None` while a guard (or a granted waiter) has the value. Invariant:
    /// `Some` only while no waiter waits.
    value: Option<T>,
    waiters: WaitList<T>,
}

impl<T> LockState<T> {
    fn unlock(&mut self, value: T, wakers: &mut WakeList) {
        if let Err(value) = self.waiters.grant_first(value, wakers) {
            self.value = Some(value);
        }
    }
}

impl<T> Handoff<Waiters> for LockState<T> {
    type Grant = T;

    fn waiters(&mut self) -> &mut WaitList<T> {
        &mut self.waiters
    }

    fn pass_on(&mut self, value: T, wakers: &mut WakeList) -> Option<T> {
        self.unlock(value, wakers);
        None
    }
}

impl<T> Lock<T> {
    /// A new, unlocked lock holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = loopwork_sync::Lock::new(0u32);
    /// assert!(!lock.is_locked());
    /// ```
    pub const fn new(value: T) -> Lock<T> {
        Lock { state: Mutex::new(LockState { value: Some(value), waiters: WaitList::new() }) }
    }

    /// Waits for the lock, asyncio's `async with lock:` / `await lock.acquire()`.
    /// Dropping the guard unlocks.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = loopwork_sync::Lock::new(1);
    /// futures_lite::future::block_on(async {
    ///     *lock.lock().await += 1;
    ///     assert_eq!(*lock.lock().await, 2);
    /// });
    /// ```
    pub async fn lock(&self) -> LockGuard<'_, T> {
        LockGuard { lock: self, value: Some(self.acquire().await) }
    }

    /// Waits for the lock and returns a guard that keeps the lock alive by
    /// itself, so it can be moved into a spawned task.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::Lock;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(Lock::new(String::new()));
    /// let mut guard = futures_lite::future::block_on(Arc::clone(&lock).lock_owned());
    /// std::thread::spawn(move || guard.push_str("written elsewhere")).join().unwrap();
    /// assert_eq!(*lock.try_lock().unwrap(), "written elsewhere");
    /// ```
    pub async fn lock_owned(self: Arc<Self>) -> OwnedLockGuard<T> {
        let value = self.acquire().await;
        OwnedLockGuard { lock: self, value: Some(value) }
    }

    /// Takes the lock if it is free and nobody waits for it, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if the lock is held.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = loopwork_sync::Lock::new(());
    /// let guard = lock.try_lock().unwrap();
    /// assert!(lock.try_lock().is_err());
    /// drop(guard);
    /// assert!(lock.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> Result<LockGuard<'_, T>, TryLockError> {
        match self.state.lock().value.take() {
            Some(value) => Ok(LockGuard { lock: self, value: Some(value) }),
            None => Err(TryLockError),
        }
    }

    /// Whether the lock is held, asyncio's `locked()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = loopwork_sync::Lock::new(());
    /// let guard = lock.try_lock().unwrap();
    /// assert!(lock.is_locked());
    /// drop(guard);
    /// assert!(!lock.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.state.lock().value.is_none()
    }

    /// The protected value, reached through exclusive access to the lock.
    ///
    /// # Panics
    ///
    /// If a guard of this lock was leaked with `std::mem::forget`: the value
    /// went with it.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = loopwork_sync::Lock::new(5);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 6);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.state.get_mut().value.as_mut().expect("a guard of this lock was leaked")
    }

    /// Consumes the lock, returning the value.
    ///
    /// # Panics
    ///
    /// If a guard of this lock was leaked with `std::mem::forget`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = loopwork_sync::Lock::new("value");
    /// assert_eq!(lock.into_inner(), "value");
    /// ```
    pub fn into_inner(self) -> T {
        self.state.into_inner().value.expect("a guard of this lock was leaked")
    }

    /// Resolves to the value once the lock is ours.
    pub(crate) async fn acquire(&self) -> T {
        // May complete without waiting: takes a unit of the cooperative
        // budget first (inactive outside a loopwork loop; see `loopwork_coop`).
        loopwork_coop::consume_budget().await;
        Wait::<_, Waiters, _>::new(&self.state, |st: &mut LockState<T>, _: &mut WakeList| st.value.take()).await
    }

    /// Gives the value back: to the oldest waiter, or to the lock.
    pub(crate) fn release(&self, value: T) {
        let mut wakers = WakeList::new();
        self.state.lock().unlock(value, &mut wakers);
        wakers.wake_all();
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Lock<T> {
        Lock::new(T::default())
    }
}

impl<T> From<T> for Lock<T> {
    fn from(value: T) -> Lock<T> {
        Lock::new(value)
    }
}

impl<T> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Lock")
            .field("locked", &state.value.is_none())
            .field("waiters", &state.waiters.len())
            .finish_non_exhaustive()
    }
}

/// Proof that the lock is held; derefs to the value. Dropping it unlocks.
///
/// # Examples
///
/// ```
/// let lock = loopwork_sync::Lock::new(vec![1, 2]);
/// let mut guard: loopwork_sync::LockGuard<'_, Vec<i32>> = lock.try_lock().unwrap();
/// guard.push(3);
/// assert_eq!(*guard, [1, 2, 3]);
/// ```
pub struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
    /// Always `Some` until `drop` takes it back to the lock.
    value: Option<T>,
}

impl<'a, T> LockGuard<'a, T> {
    /// The lock this guard holds, so a condition can relock it after
    /// dropping the guard.
    pub(crate) fn lock_ref(this: &LockGuard<'a, T>) -> &'a Lock<T> {
        this.lock
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value.as_ref().expect("a live guard holds the value")
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_mut().expect("a live guard holds the value")
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            self.lock.release(value);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A [`LockGuard`] that holds an `Arc` of its lock instead of a borrow, from
/// [`Lock::lock_owned`]; it is `'static` when `T` is.
///
/// # Examples
///
/// ```
/// use loopwork_sync::{Lock, OwnedLockGuard};
/// use std::sync::Arc;
///
/// let lock = Arc::new(Lock::new(0));
/// let guard: OwnedLockGuard<i32> = futures_lite::future::block_on(lock.clone().lock_owned());
/// assert!(lock.is_locked());
/// drop(guard);
/// assert!(!lock.is_locked());
/// ```
pub struct OwnedLockGuard<T> {
    lock: Arc<Lock<T>>,
    value: Option<T>,
}

impl<T> OwnedLockGuard<T> {
    /// The lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::Lock;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(Lock::new(()));
    /// let guard = futures_lite::future::block_on(lock.clone().lock_owned());
    /// assert!(Arc::ptr_eq(guard.lock(), &lock));
    /// ```
    pub fn lock(&self) -> &Arc<Lock<T>> {
        &self.lock
    }
}

impl<T> Deref for OwnedLockGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value.as_ref().expect("a live guard holds the value")
    }
}

impl<T> DerefMut for OwnedLockGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_mut().expect("a live guard holds the value")
    }
}

impl<T> Drop for OwnedLockGuard<T> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            self.lock.release(value);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for OwnedLockGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::Lock;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn unlocking_hands_the_lock_to_the_oldest_waiter() {
        let lock = Lock::new(Vec::new());
        let guard = lock.try_lock().unwrap();
        let mut first = pin!(lock.lock());
        let mut second = pin!(lock.lock());
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        drop(guard);
        // The lock went to `first`: neither a newcomer nor `second` can have it.
        assert!(lock.try_lock().is_err());
        assert!(poll_once(second.as_mut()).is_pending());
        let Poll::Ready(mut guard) = poll_once(first.as_mut()) else { panic!("first waiter not served") };
        guard.push(1);
        drop(guard);
        let Poll::Ready(guard) = poll_once(second.as_mut()) else { panic!("second waiter not served") };
        assert_eq!(*guard, [1]);
    }

    #[test]
    fn a_waiter_dropped_after_the_hand_off_passes_the_lock_on() {
        let lock = Lock::new(0);
        let guard = lock.try_lock().unwrap();
        let mut first = Box::pin(lock.lock());
        let mut second = pin!(lock.lock());
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        drop(guard);
        drop(first);
        assert!(poll_once(second.as_mut()).is_ready());
    }

    #[test]
    fn a_waiter_dropped_before_the_hand_off_leaves_the_line() {
        let lock = Lock::new(0);
        let guard = lock.try_lock().unwrap();
        let mut first = Box::pin(lock.lock());
        assert!(poll_once(first.as_mut()).is_pending());
        drop(first);
        drop(guard);
        assert!(!lock.is_locked());
    }

    #[test]
    fn lock_futures_and_guards_are_send() {
        fn is_send<T: Send>(_: &T) {}
        let lock = Lock::new(0);
        is_send(&lock.lock());
        is_send(&lock.try_lock().unwrap());
    }
}
