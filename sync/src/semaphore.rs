//! `Semaphore` and `BoundedSemaphore`: asyncio's counting semaphores, with
//! permits as guards.

use crate::error::{ReleaseError, TryAcquireError};
use crate::permits::Permits;
use std::fmt;
use std::sync::Arc;

/// A counting semaphore, asyncio's `Semaphore`.
///
/// [`acquire`](Semaphore::acquire) waits for a permit and returns it as a
/// guard that gives the permit back when dropped. Waiters are served in
/// arrival order: a released permit goes straight to the oldest waiter, and
/// while anyone waits no newcomer (not even [`try_acquire`]) gets a permit
/// first. A waiting `acquire` dropped after a permit was handed to it passes
/// the permit on.
///
/// [`try_acquire`]: Semaphore::try_acquire
///
/// # Examples
///
/// At most two of the five jobs run at once:
///
/// ```
/// use loopwork_sync::Semaphore;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let semaphore = &Semaphore::new(2);
/// let running = &AtomicUsize::new(0);
/// let job = || async move {
///     let _permit = semaphore.acquire().await;
///     assert!(running.fetch_add(1, Ordering::SeqCst) < 2);
///     futures_lite::future::yield_now().await;
///     running.fetch_sub(1, Ordering::SeqCst);
/// };
/// futures_lite::future::block_on(async {
///     futures_lite::future::zip(job(), futures_lite::future::zip(job(), job())).await;
///     futures_lite::future::zip(job(), job()).await;
/// });
/// assert_eq!(semaphore.available_permits(), 2);
/// ```
pub struct Semaphore {
    /// The free permits and the line: see `permits.rs`.
    permits: Permits,
}

impl Semaphore {
    /// The most permits a semaphore holds: `new`, `add_permits` and
    /// `release` panic rather than go over it.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::Semaphore;
    ///
    /// let semaphore = Semaphore::new(Semaphore::MAX_PERMITS);
    /// assert_eq!(semaphore.available_permits(), usize::MAX / 2);
    /// ```
    pub const MAX_PERMITS: usize = crate::permits::MAX_PERMITS;

    /// A semaphore with `permits` free permits.
    ///
    /// # Panics
    ///
    /// If `permits` is over `usize::MAX / 2`.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::Semaphore::new(3);
    /// assert_eq!(semaphore.available_permits(), 3);
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore { permits: Permits::new(permits) }
    }

    /// Waits for a permit, asyncio's `async with semaphore:`. The permit
    /// returns to the semaphore when the guard is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::Semaphore::new(1);
    /// futures_lite::future::block_on(async {
    ///     let permit = semaphore.acquire().await;
    ///     assert_eq!(semaphore.available_permits(), 0);
    ///     drop(permit);
    /// });
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_raw().await;
        SemaphorePermit { semaphore: self }
    }

    /// Waits for a permit and returns a guard that owns an `Arc` of the
    /// semaphore, to move into a spawned task.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::Semaphore;
    /// use std::sync::Arc;
    ///
    /// let semaphore = Arc::new(Semaphore::new(1));
    /// let permit = futures_lite::future::block_on(Arc::clone(&semaphore).acquire_owned());
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub async fn acquire_owned(self: Arc<Self>) -> OwnedSemaphorePermit {
        self.acquire_raw().await;
        OwnedSemaphorePermit { semaphore: Some(self) }
    }

    /// Takes a permit if one is free and nobody waits, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError`] if no permit is free.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::Semaphore::new(1);
    /// let permit = semaphore.try_acquire().unwrap();
    /// assert!(semaphore.try_acquire().is_err());
    /// drop(permit);
    /// assert!(semaphore.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        if !self.permits.try_acquire() {
            return Err(TryAcquireError);
        }
        Ok(SemaphorePermit { semaphore: self })
    }

    /// Adds `n` permits, handing them to waiters first (oldest first).
    ///
    /// # Panics
    ///
    /// If the number of free permits would go over `usize::MAX / 2`.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::Semaphore::new(0);
    /// semaphore.add_permits(2);
    /// assert_eq!(semaphore.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.permits.release(n);
    }

    /// Adds one permit, asyncio's `release()`; the counterpart of
    /// [`SemaphorePermit::forget`].
    ///
    /// # Panics
    ///
    /// If the number of free permits would go over `usize::MAX / 2`.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::Semaphore::new(1);
    /// semaphore.try_acquire().unwrap().forget();
    /// assert_eq!(semaphore.available_permits(), 0);
    /// semaphore.release();
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub fn release(&self) {
        self.add_permits(1);
    }

    /// How many permits are free.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::Semaphore::new(2);
    /// let _permit = semaphore.try_acquire().unwrap();
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.permits.available()
    }

    /// Whether an `acquire` would have to wait, asyncio's `locked()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::Semaphore::new(1);
    /// let _permit = semaphore.try_acquire().unwrap();
    /// assert!(semaphore.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.permits.is_locked()
    }

    async fn acquire_raw(&self) {
        // May complete without waiting: takes a unit of the cooperative
        // budget first (inactive outside a loopwork loop; see `loopwork_coop`).
        loopwork_coop::consume_budget().await;
        self.permits.acquire().await;
    }

    /// Adds one permit unless that would exceed `bound` counting the
    /// permits already free or handed to a waiter that has not woken yet.
    fn release_bounded(&self, bound: usize) -> Result<(), ReleaseError> {
        if self.permits.release_bounded(bound) {
            Ok(())
        } else {
            Err(ReleaseError)
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.permits.available())
            .field("waiters", &self.permits.waiting())
            .finish()
    }
}

/// A permit from [`Semaphore::acquire`] or [`BoundedSemaphore::acquire`];
/// dropping it gives the permit back.
///
/// # Examples
///
/// ```
/// let semaphore = loopwork_sync::Semaphore::new(1);
/// let permit: loopwork_sync::SemaphorePermit<'_> = semaphore.try_acquire().unwrap();
/// drop(permit);
/// assert_eq!(semaphore.available_permits(), 1);
/// ```
#[must_use = "dropping the permit gives it back at once"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
}

impl SemaphorePermit<'_> {
    /// Keeps the permit out of the semaphore for good (asyncio's
    /// `acquire()` without `release()`); [`Semaphore::release`] puts one
    /// back later.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::Semaphore::new(1);
    /// semaphore.try_acquire().unwrap().forget();
    /// assert_eq!(semaphore.available_permits(), 0);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.add_permits(1);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}

/// A permit from [`Semaphore::acquire_owned`], holding an `Arc` of its
/// semaphore; dropping it gives the permit back.
///
/// # Examples
///
/// ```
/// use loopwork_sync::{OwnedSemaphorePermit, Semaphore};
/// use std::sync::Arc;
///
/// let semaphore = Arc::new(Semaphore::new(1));
/// let permit: OwnedSemaphorePermit = futures_lite::future::block_on(semaphore.clone().acquire_owned());
/// assert_eq!(semaphore.available_permits(), 0);
/// drop(permit);
/// assert_eq!(semaphore.available_permits(), 1);
/// ```
#[must_use = "dropping the permit gives it back at once"]
pub struct OwnedSemaphorePermit {
    /// `None` once forgotten.
    semaphore: Option<Arc<Semaphore>>,
}

impl OwnedSemaphorePermit {
    /// Keeps the permit out of the semaphore for good.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::Semaphore;
    /// use std::sync::Arc;
    ///
    /// let semaphore = Arc::new(Semaphore::new(1));
    /// futures_lite::future::block_on(semaphore.clone().acquire_owned()).forget();
    /// assert_eq!(semaphore.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.semaphore = None;
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if let Some(semaphore) = self.semaphore.take() {
            semaphore.add_permits(1);
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit").finish_non_exhaustive()
    }
}

/// A semaphore that refuses to be released above its initial count,
/// asyncio's `BoundedSemaphore`: a release without a matching acquire is
/// reported instead of silently raising the limit.
///
/// # Examples
///
/// ```
/// use loopwork_sync::BoundedSemaphore;
///
/// let semaphore = BoundedSemaphore::new(1);
/// semaphore.try_acquire().unwrap().forget();
/// assert!(semaphore.release().is_ok());
/// assert!(semaphore.release().is_err()); // one release too many
/// ```
pub struct BoundedSemaphore {
    semaphore: Semaphore,
    bound: usize,
}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` free permits, which is also the
    /// most it can ever have.
    ///
    /// # Panics
    ///
    /// If `permits` is over `usize::MAX / 2`.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::BoundedSemaphore::new(2);
    /// assert_eq!(semaphore.available_permits(), 2);
    /// ```
    pub const fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore { semaphore: Semaphore::new(permits), bound: permits }
    }

    /// Waits for a permit; see [`Semaphore::acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::BoundedSemaphore::new(1);
    /// let permit = futures_lite::future::block_on(semaphore.acquire());
    /// assert_eq!(semaphore.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        self.semaphore.acquire().await
    }

    /// Takes a permit without waiting; see [`Semaphore::try_acquire`].
    ///
    /// # Errors
    ///
    /// [`TryAcquireError`] if no permit is free.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::BoundedSemaphore::new(1);
    /// let _permit = semaphore.try_acquire().unwrap();
    /// assert!(semaphore.try_acquire().is_err());
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.semaphore.try_acquire()
    }

    /// Adds back one permit taken with [`SemaphorePermit::forget`],
    /// asyncio's `release()`.
    ///
    /// # Errors
    ///
    /// [`ReleaseError`] if the semaphore already has its initial number of
    /// permits (counting one just handed to a waiter).
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::BoundedSemaphore::new(1);
    /// assert!(semaphore.release().is_err());
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.semaphore.release_bounded(self.bound)
    }

    /// How many permits are free.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::BoundedSemaphore::new(3);
    /// assert_eq!(semaphore.available_permits(), 3);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.semaphore.available_permits()
    }

    /// Whether an `acquire` would have to wait, asyncio's `locked()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let semaphore = loopwork_sync::BoundedSemaphore::new(1);
    /// let _permit = semaphore.try_acquire().unwrap();
    /// assert!(semaphore.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.semaphore.is_locked()
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore").field("semaphore", &self.semaphore).field("bound", &self.bound).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{BoundedSemaphore, Semaphore};
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    #[test]
    fn a_newcomer_does_not_jump_a_waiter() {
        let semaphore = Semaphore::new(1);
        let mut cx = Context::from_waker(Waker::noop());
        let held = semaphore.try_acquire().unwrap();
        let mut waiter = pin!(semaphore.acquire());
        assert!(waiter.as_mut().poll(&mut cx).is_pending());
        drop(held);
        assert!(semaphore.try_acquire().is_err());
        assert!(waiter.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn add_permits_serves_waiters_in_order_and_keeps_the_rest() {
        let semaphore = Semaphore::new(0);
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = pin!(semaphore.acquire());
        let mut second = pin!(semaphore.acquire());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        semaphore.add_permits(3);
        assert_eq!(semaphore.available_permits(), 1);
        assert!(second.as_mut().poll(&mut cx).is_ready());
        assert!(first.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn a_dropped_waiter_holding_a_permit_passes_it_on() {
        let semaphore = Semaphore::new(0);
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Box::pin(semaphore.acquire());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        semaphore.release();
        drop(first);
        assert_eq!(semaphore.available_permits(), 1);
    }

    #[test]
    fn a_bounded_semaphore_counts_a_permit_in_flight_to_a_waiter() {
        let semaphore = BoundedSemaphore::new(1);
        let mut cx = Context::from_waker(Waker::noop());
        let permit = semaphore.try_acquire().unwrap();
        let mut waiter = pin!(semaphore.acquire());
        assert!(waiter.as_mut().poll(&mut cx).is_pending());
        drop(permit); // handed to the waiter, which has not woken yet
        assert!(semaphore.release().is_err());
        assert!(waiter.as_mut().poll(&mut cx).is_ready());
    }
}
