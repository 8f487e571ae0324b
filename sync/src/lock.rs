//! `Lock<T>`: asyncio's `Lock`, an async mutex that owns the value it
//! protects.
//!
//! The lock is a one-permit [`Permits`]: locking takes the permit, unlocking
//! gives it back, straight to the oldest waiter if there is one (so the
//! hand-off is FIFO). Whoever holds the permit, and only they, reaches the
//! value in its `UnsafeCell`. Locking and unlocking with nobody waiting are
//! one atomic operation each.

use crate::error::TryLockError;
use crate::permits::Permits;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
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
/// Use `Lock<()>` for asyncio's data-less lock.
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
    /// One permit: whoever holds it holds the lock.
    permit: Permits,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through `&mut Lock` or by the holder of
// the one permit, so by one thread at a time, and the permit's hand-over
// orders each holder's accesses after the previous holder's (Release when
// given back, Acquire when taken: see `permits.rs`). As with
// `std::sync::Mutex`, sharing the lock moves the value between threads,
// which `T: Send` allows; `T: Sync` is not needed, as no two threads reach it
// at once.
unsafe impl<T: Send> Sync for Lock<T> {}

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
        Lock { permit: Permits::new(1), value: UnsafeCell::new(value) }
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
        self.acquire().await;
        LockGuard { lock: self, _value: PhantomData }
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
        self.acquire().await;
        OwnedLockGuard { lock: self, _value: PhantomData }
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
        if !self.permit.try_acquire() {
            return Err(TryLockError);
        }
        Ok(LockGuard { lock: self, _value: PhantomData })
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
        self.permit.is_locked()
    }

    /// The protected value, reached through exclusive access to the lock
    /// (no guard can be alive, so nothing is locked or waited for).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = loopwork_sync::Lock::new(5);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 6);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Consumes the lock, returning the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = loopwork_sync::Lock::new("value");
    /// assert_eq!(lock.into_inner(), "value");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    /// Resolves once the lock is ours; the caller makes the guard.
    async fn acquire(&self) {
        // May complete without waiting: takes a unit of the cooperative
        // budget first (inactive outside a loopwork loop; see `loopwork_coop`).
        loopwork_coop::consume_budget().await;
        self.permit.acquire().await;
    }

    /// Unlocks: the lock goes to the oldest waiter, or becomes free.
    fn release(&self) {
        self.permit.release(1);
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
        f.debug_struct("Lock")
            .field("locked", &self.is_locked())
            .field("waiters", &self.permit.waiting())
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
    /// Held: this guard owns the lock's permit until it drops.
    lock: &'a Lock<T>,
    /// Lends the guard the auto traits of `&mut T`: it is `Sync` only if `T`
    /// is, as it hands out `&T`.
    _value: PhantomData<&'a mut T>,
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
        // SAFETY: this guard holds the permit (see `Lock`'s `Sync`).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the permit (see `Lock`'s `Sync`), and
        // `&mut self` makes this the only reference it lends.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release();
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
    /// Held: this guard owns the lock's permit until it drops.
    lock: Arc<Lock<T>>,
    /// As in [`LockGuard`]: `Sync` only if `T` is.
    _value: PhantomData<T>,
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
        // SAFETY: this guard holds the permit (see `Lock`'s `Sync`).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for OwnedLockGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the permit (see `Lock`'s `Sync`), and
        // `&mut self` makes this the only reference it lends.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for OwnedLockGuard<T> {
    fn drop(&mut self) {
        self.lock.release();
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
    use crate::test_support::poll_once;
    use std::pin::pin;
    use std::task::Poll;

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
    fn threads_taking_turns_see_each_others_writes() {
        const THREADS: usize = 3;
        const ROUNDS: usize = if cfg!(miri) { 20 } else { 2_000 };
        // A plain integer: only the lock orders the threads' accesses to it.
        let lock = Lock::new(0_usize);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for _ in 0..ROUNDS {
                        *futures_lite::future::block_on(lock.lock()) += 1;
                    }
                });
            }
        });
        assert_eq!(lock.into_inner(), THREADS * ROUNDS);
    }

    #[test]
    fn lock_futures_and_guards_are_send() {
        fn is_send<T: Send>(_: &T) {}
        let lock = Lock::new(0);
        is_send(&lock.lock());
        is_send(&lock.try_lock().unwrap());
    }
}
