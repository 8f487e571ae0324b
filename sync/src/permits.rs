//! A count of free permits in one atomic word, with a FIFO line behind a
//! mutex: what [`Semaphore`](crate::Semaphore) and [`Lock`](crate::Lock) are
//! made of.
//!
//! Taking a free permit while nobody waits, and giving one back while nobody
//! waits, are one atomic read-modify-write each; the mutex is taken only when
//! a task has to wait, or when a permit comes back to a line that is not
//! empty. The other primitives keep their whole state behind their mutex
//! ([`waiters`](crate::waiters)); these two are the ones whose uncontended
//! operations are most of their use, so they keep the count outside it.
//!
//! # The word
//!
//! `free << 1 | QUEUED`. `QUEUED` is set, under the mutex, before a task
//! joins the line, and cleared, under the mutex, when the line is found
//! empty. The fast paths only read it:
//!
//! - taking a permit (`try_acquire`) is a compare-exchange that requires a
//!   free permit and `QUEUED` clear, so a newcomer never passes a waiter;
//! - giving permits back (`release`) adds them with one compare-exchange
//!   (checked against overflow); if the value it replaced had `QUEUED` set,
//!   the releaser then takes the mutex and grants the free permits to the
//!   line, in order.
//!
//! A waiter sets `QUEUED` with a compare-exchange from a value with no free
//! permit. So of a release and a waiter joining, whichever comes second in
//! the word's modification order sees the other: the waiter sees the permit
//! (its compare-exchange fails and it looks again), or the releaser sees
//! `QUEUED` and serves the line, which it can only reach after the waiter,
//! holding the mutex, has joined it. No wake-up is lost.
//!
//! Between a release's addition and its grant under the mutex, permits
//! may be free while the line is not empty; the fast path does not take
//! them (`QUEUED` is set), and the releaser hands them on.

use crate::waiters::{WaitList, WaiterKey, WakeList};
use parking_lot::Mutex;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// Set while the line may hold a waiter: permits go through the mutex.
const QUEUED: usize = 1;
/// One free permit in the word.
const ONE: usize = 2;
/// The largest count the word holds.
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 1;

pub(crate) struct Permits {
    word: AtomicUsize,
    line: Mutex<WaitList<()>>,
}

impl Permits {
    /// # Panics
    ///
    /// If `free` is over [`MAX_PERMITS`].
    pub(crate) const fn new(free: usize) -> Permits {
        assert!(free <= MAX_PERMITS, "Semaphore::new: permits must be at most usize::MAX / 2");
        Permits { word: AtomicUsize::new(free << 1), line: Mutex::new(WaitList::new()) }
    }

    /// The free permits (none is free to a newcomer while the line is not
    /// empty, though a release may be about to hand some on).
    pub(crate) fn available(&self) -> usize {
        // Relaxed: a snapshot; nothing is published through it.
        self.word.load(Ordering::Relaxed) >> 1
    }

    /// How many tasks wait in line.
    pub(crate) fn waiting(&self) -> usize {
        self.line.lock().len()
    }

    /// True if an acquire would wait: no permit is free, or tasks wait.
    pub(crate) fn is_locked(&self) -> bool {
        // Relaxed: as in `available`.
        let word = self.word.load(Ordering::Relaxed);
        word >> 1 == 0 || word & QUEUED != 0
    }

    /// Takes a free permit if one is free and nobody waits.
    pub(crate) fn try_acquire(&self) -> bool {
        // Relaxed: the compare-exchange below decides.
        let mut word = self.word.load(Ordering::Relaxed);
        while word >> 1 != 0 && word & QUEUED == 0 {
            // Acquire: what the permit's last holder did before releasing
            // it (a lock's value) happens before what this holder does.
            match self.word.compare_exchange_weak(word, word - ONE, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(current) => word = current,
            }
        }
        false
    }

    /// Waits for a permit, in line behind the tasks already waiting.
    pub(crate) fn acquire(&self) -> Acquire<'_> {
        Acquire { permits: self, key: None }
    }

    /// Gives `n` permits back: to the tasks waiting, oldest first, and the
    /// rest to the free count.
    ///
    /// # Panics
    ///
    /// If the free count would go over [`MAX_PERMITS`].
    pub(crate) fn release(&self, n: usize) {
        if self.add_free(n) & QUEUED != 0 {
            let mut wakers = WakeList::new();
            self.serve(&mut self.line.lock(), &mut wakers);
            wakers.wake_all();
        }
    }

    /// Adds `n` to the free count; returns the word it replaced.
    ///
    /// # Panics
    ///
    /// If the free count would go over [`MAX_PERMITS`]; the word is left
    /// as it was.
    fn add_free(&self, n: usize) -> usize {
        self.add_free_within(n, MAX_PERMITS).expect("semaphore permit count overflow: at most usize::MAX / 2 permits")
    }

    /// Adds `n` to the free count unless it would then be over `limit`;
    /// returns the word it replaced, or `None` (and changes nothing).
    fn add_free_within(&self, n: usize, limit: usize) -> Option<usize> {
        // Relaxed: the compare-exchange below decides.
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if (word >> 1).checked_add(n).is_none_or(|free| free > limit) {
                return None;
            }
            // Release: pairs with the Acquire of whoever takes these
            // permits. Acquire is not needed: a release that finds `QUEUED`
            // synchronizes with the line through the mutex in `serve`.
            match self.word.compare_exchange_weak(word, word + n * ONE, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return Some(word),
                Err(current) => word = current,
            }
        }
    }

    /// Gives one permit back unless `bound` permits would then be free or
    /// granted: [`BoundedSemaphore`](crate::BoundedSemaphore)'s check.
    pub(crate) fn release_bounded(&self, bound: usize) -> bool {
        let mut wakers = WakeList::new();
        // The line is locked so that its granted count holds still; the
        // free count may still fall (a fast acquire), which only makes
        // room.
        let mut line = self.line.lock();
        let Some(word) = self.add_free_within(1, bound.saturating_sub(line.granted())) else {
            return false;
        };
        if word & QUEUED != 0 {
            self.serve(&mut line, &mut wakers);
        }
        drop(line);
        wakers.wake_all();
        true
    }

    /// Under the mutex: grants free permits to the line, oldest first, and
    /// clears `QUEUED` once the line is empty.
    fn serve(&self, line: &mut WaitList<()>, wakers: &mut WakeList) {
        // Relaxed: the compare-exchange below decides.
        let mut word = self.word.load(Ordering::Relaxed);
        while !line.is_empty() {
            if word >> 1 == 0 {
                return;
            }
            // Acquire: as in `try_acquire`, for the waiter that gets it
            // (which then synchronizes with this thread through the mutex).
            match self.word.compare_exchange_weak(word, word - ONE, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => {
                    word -= ONE;
                    // Cannot fail: the line is not empty.
                    let _ = line.grant_first((), wakers);
                }
                Err(current) => word = current,
            }
        }
        // Relaxed: only ever changed under the mutex, which we hold; the
        // fast paths that read it are ordered by their own operations.
        self.word.fetch_and(!QUEUED, Ordering::Relaxed);
    }

    /// Under the mutex: takes a free permit if the line is empty, or sets
    /// `QUEUED` so that the caller can join it. True if a permit was taken.
    fn take_or_queue(&self, line: &WaitList<()>) -> bool {
        // Relaxed: the compare-exchanges below decide.
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            let (next, taken) = if word >> 1 != 0 && line.is_empty() {
                // A `QUEUED` left over by a line that emptied is cleared too.
                ((word - ONE) & !QUEUED, true)
            } else {
                (word | QUEUED, false)
            };
            // Acquire: as in `try_acquire`, when a permit is taken.
            match self.word.compare_exchange_weak(word, next, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return taken,
                Err(current) => word = current,
            }
        }
    }
}

/// The future of [`Permits::acquire`]. Dropped while it waits, it leaves the
/// line; dropped with a permit granted, it gives the permit back.
pub(crate) struct Acquire<'a> {
    permits: &'a Permits,
    key: Option<WaiterKey>,
}

impl Future for Acquire<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let permits = this.permits;
        if this.key.is_none() && permits.try_acquire() {
            return Poll::Ready(());
        }
        let mut retired = None;
        let mut line = permits.line.lock();
        let poll = match this.key {
            None if permits.take_or_queue(&line) => Poll::Ready(()),
            None => {
                this.key = Some(line.push(cx.waker().clone()));
                Poll::Pending
            }
            Some(key) => match line.poll(key, cx.waker(), &mut retired) {
                Some(()) => {
                    this.key = None;
                    Poll::Ready(())
                }
                None => Poll::Pending,
            },
        };
        drop(line);
        // A replaced waker is dropped after unlocking: its `Drop` is
        // foreign code and may come back to these permits.
        drop(retired);
        poll
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let permits = self.permits;
        let mut wakers = WakeList::new();
        let mut retired = None;
        let mut line = permits.line.lock();
        if line.cancel(key, &mut retired).is_some() {
            // Granted but never taken: back to the next in line (`serve`
            // below), or free.
            permits.add_free(1);
        }
        // Serves the line with what is free, and clears `QUEUED` if this
        // waiter was the last.
        permits.serve(&mut line, &mut wakers);
        drop(line);
        drop(retired);
        wakers.wake_all();
    }
}

#[cfg(test)]
mod tests {
    use super::{Permits, QUEUED};
    use crate::test_support::poll_once;
    use std::pin::pin;
    use std::sync::atomic::Ordering;

    fn queued(permits: &Permits) -> bool {
        permits.word.load(Ordering::Relaxed) & QUEUED != 0
    }

    #[test]
    fn a_release_past_the_limit_panics_and_leaves_the_count() {
        let permits = Permits::new(super::MAX_PERMITS);
        let overflow = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| permits.release(1)));
        assert!(overflow.is_err());
        assert_eq!(permits.available(), super::MAX_PERMITS);
    }

    #[test]
    fn the_fast_paths_come_back_once_the_last_waiter_leaves() {
        let permits = Permits::new(1);
        assert!(permits.try_acquire());
        let mut waiter = Box::pin(permits.acquire());
        assert!(poll_once(waiter.as_mut()).is_pending());
        assert!(queued(&permits) && permits.is_locked());
        drop(waiter);
        assert!(!queued(&permits), "the line is empty again");
        permits.release(1);
        assert_eq!(permits.available(), 1);
        assert!(permits.try_acquire(), "a newcomer takes a free permit without the mutex");
    }

    #[test]
    fn a_release_to_a_line_serves_it_in_order_and_frees_the_rest() {
        let permits = Permits::new(0);
        let mut first = pin!(permits.acquire());
        let mut second = pin!(permits.acquire());
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        permits.release(3);
        // Two went to the line, which is empty now; one is free.
        assert!(!queued(&permits));
        assert_eq!(permits.available(), 1);
        assert!(poll_once(second.as_mut()).is_ready());
        assert!(poll_once(first.as_mut()).is_ready());
    }

    #[test]
    fn a_newcomer_does_not_take_a_permit_released_to_a_line() {
        let permits = Permits::new(0);
        let mut first = pin!(permits.acquire());
        assert!(poll_once(first.as_mut()).is_pending());
        let mut newcomer = pin!(permits.acquire());
        assert!(poll_once(newcomer.as_mut()).is_pending());
        permits.release(1);
        assert!(!permits.try_acquire());
        assert!(poll_once(newcomer.as_mut()).is_pending());
        assert!(poll_once(first.as_mut()).is_ready());
    }

    #[test]
    fn a_bounded_release_counts_the_permits_granted_but_not_yet_taken() {
        let permits = Permits::new(0);
        let mut waiter = pin!(permits.acquire());
        assert!(poll_once(waiter.as_mut()).is_pending());
        assert!(permits.release_bounded(1), "the permit goes to the waiter");
        assert!(!permits.release_bounded(1), "granted, it still counts");
        assert!(poll_once(waiter.as_mut()).is_ready());
        assert!(permits.release_bounded(1));
        assert_eq!(permits.available(), 1);
    }

    /// Threads that take a permit on the fast path or by waiting in line,
    /// and give it back, never hold more than there are and lose none: a
    /// release that misses a waiter joining the line would leave it asleep
    /// (the test then hangs), and one that gave a permit to both would let
    /// two threads in.
    #[test]
    fn racing_releases_and_waiters_lose_no_permit() {
        use std::sync::atomic::AtomicUsize;
        const THREADS: usize = 4;
        const ROUNDS: usize = if cfg!(miri) { 20 } else { 5_000 };
        let permits = Permits::new(2);
        let holders = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for round in 0..ROUNDS {
                        let taken_at_once = round % 2 == 0 && permits.try_acquire();
                        if !taken_at_once {
                            futures_lite::future::block_on(permits.acquire());
                        }
                        assert!(holders.fetch_add(1, Ordering::SeqCst) < 2, "more holders than permits");
                        holders.fetch_sub(1, Ordering::SeqCst);
                        permits.release(1);
                    }
                });
            }
        });
        assert_eq!(permits.available(), 2);
        assert!(!queued(&permits));
    }
}
