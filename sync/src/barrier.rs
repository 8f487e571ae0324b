//! `Barrier`: asyncio's `Barrier`, a meeting point for a fixed number of
//! tasks.

use crate::error::BrokenBarrier;
use crate::waiters::{Handoff, Wait, WaitList, Waiters, WakeList};
use parking_lot::Mutex;
use std::fmt;

/// A barrier that `parties` tasks wait at until all have arrived, asyncio's
/// `Barrier`.
///
/// When the last party arrives every waiter is released; each learns its
/// arrival index (`0..parties`, in the order the tasks arrived) and exactly
/// one, the last to arrive, is the leader. The barrier then starts over for
/// the next round.
///
/// [`abort`](Barrier::abort) breaks the barrier: current and future waiters
/// get `Err(BrokenBarrier)` until [`reset`](Barrier::reset). A waiter dropped
/// before the barrier fills simply leaves (the barrier needs one more
/// arrival again).
///
/// # Examples
///
/// ```
/// use futures_lite::future;
/// use loopwork_sync::Barrier;
///
/// let barrier = Barrier::new(2);
/// let (a, b) = future::block_on(future::zip(barrier.wait(), barrier.wait()));
/// let (a, b) = (a.unwrap(), b.unwrap());
/// assert_eq!((a.index(), b.index()), (0, 1));
/// assert!(!a.is_leader() && b.is_leader());
/// ```
pub struct Barrier {
    state: Mutex<BarrierState>,
}

struct BarrierState {
    parties: usize,
    broken: bool,
    waiters: WaitList<Result<BarrierWaitResult, BrokenBarrier>>,
}

impl BarrierState {
    fn arrive(&mut self, wakers: &mut WakeList) -> Option<Result<BarrierWaitResult, BrokenBarrier>> {
        if self.broken {
            return Some(Err(BrokenBarrier));
        }
        if self.waiters.len() + 1 < self.parties {
            return None;
        }
        // Indexes are handed out on release rather than on arrival, in
        // line order, so a waiter that left early leaves no gap or duplicate.
        let mut index = 0;
        self.waiters.grant_all(
            || {
                index += 1;
                Ok(BarrierWaitResult { index: index - 1, leader: false })
            },
            wakers,
        );
        Some(Ok(BarrierWaitResult { index: self.parties - 1, leader: true }))
    }

    fn break_waiters(&mut self, wakers: &mut WakeList) {
        self.waiters.grant_all(|| Err(BrokenBarrier), wakers);
    }
}

impl Handoff<Waiters> for BarrierState {
    type Grant = Result<BarrierWaitResult, BrokenBarrier>;

    fn waiters(&mut self) -> &mut WaitList<Self::Grant> {
        &mut self.waiters
    }

    /// The round this waiter belonged to is over; its result concerns nobody
    /// else.
    fn pass_on(&mut self, _: Self::Grant, _: &mut WakeList) -> Option<Self::Grant> {
        None
    }
}

impl Barrier {
    /// A barrier for `parties` tasks.
    ///
    /// # Panics
    ///
    /// If `parties` is 0 (asyncio raises `ValueError`).
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = loopwork_sync::Barrier::new(3);
    /// assert_eq!(barrier.parties(), 3);
    /// ```
    pub const fn new(parties: usize) -> Barrier {
        assert!(parties > 0, "Barrier::new: parties must be at least 1 (asyncio raises ValueError for 0)");
        Barrier { state: Mutex::new(BarrierState { parties, broken: false, waiters: WaitList::new() }) }
    }

    /// Waits until `parties` tasks are waiting, then releases them all.
    ///
    /// # Errors
    ///
    /// [`BrokenBarrier`] if the barrier is broken, or is aborted or reset
    /// while this task waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = loopwork_sync::Barrier::new(1);
    /// let result = futures_lite::future::block_on(barrier.wait()).unwrap();
    /// assert_eq!(result.index(), 0);
    /// assert!(result.is_leader());
    /// ```
    pub async fn wait(&self) -> Result<BarrierWaitResult, BrokenBarrier> {
        Wait::<_, Waiters, _>::new(&self.state, |st: &mut BarrierState, wakers: &mut WakeList| st.arrive(wakers)).await
    }

    /// Breaks the barrier, asyncio's `abort()`: every waiter, now and until
    /// [`reset`](Barrier::reset), gets `Err(BrokenBarrier)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = loopwork_sync::Barrier::new(2);
    /// barrier.abort();
    /// assert!(barrier.is_broken());
    /// assert!(futures_lite::future::block_on(barrier.wait()).is_err());
    /// ```
    pub fn abort(&self) {
        let mut wakers = WakeList::new();
        let mut state = self.state.lock();
        state.broken = true;
        state.break_waiters(&mut wakers);
        drop(state);
        wakers.wake_all();
    }

    /// Returns the barrier to its empty, unbroken state, asyncio's
    /// `reset()`. Tasks waiting at that moment get `Err(BrokenBarrier)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = loopwork_sync::Barrier::new(1);
    /// barrier.abort();
    /// barrier.reset();
    /// assert!(futures_lite::future::block_on(barrier.wait()).is_ok());
    /// ```
    pub fn reset(&self) {
        let mut wakers = WakeList::new();
        let mut state = self.state.lock();
        state.break_waiters(&mut wakers);
        state.broken = false;
        drop(state);
        wakers.wake_all();
    }

    /// How many tasks the barrier waits for.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork_sync::Barrier::new(4).parties(), 4);
    /// ```
    pub fn parties(&self) -> usize {
        self.state.lock().parties
    }

    /// How many tasks are waiting now, asyncio's `n_waiting`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork_sync::Barrier::new(2).n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        self.state.lock().waiters.len()
    }

    /// Whether the barrier is broken, asyncio's `broken`.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = loopwork_sync::Barrier::new(2);
    /// assert!(!barrier.is_broken());
    /// barrier.abort();
    /// assert!(barrier.is_broken());
    /// ```
    pub fn is_broken(&self) -> bool {
        self.state.lock().broken
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Barrier")
            .field("parties", &state.parties)
            .field("waiting", &state.waiters.len())
            .field("broken", &state.broken)
            .finish()
    }
}

/// What [`Barrier::wait`] tells a task it released.
///
/// # Examples
///
/// ```
/// let barrier = loopwork_sync::Barrier::new(1);
/// let result: loopwork_sync::BarrierWaitResult = futures_lite::future::block_on(barrier.wait()).unwrap();
/// assert_eq!((result.index(), result.is_leader()), (0, true));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BarrierWaitResult {
    index: usize,
    leader: bool,
}

impl BarrierWaitResult {
    /// The task's arrival index in its round, `0..parties`: asyncio's return
    /// value of `wait()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = loopwork_sync::Barrier::new(1);
    /// assert_eq!(futures_lite::future::block_on(barrier.wait()).unwrap().index(), 0);
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether this task was the last to arrive and released the others;
    /// exactly one task per round is the leader.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = loopwork_sync::Barrier::new(1);
    /// assert!(futures_lite::future::block_on(barrier.wait()).unwrap().is_leader());
    /// ```
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

#[cfg(test)]
mod tests {
    use super::Barrier;
    use crate::error::BrokenBarrier;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    #[test]
    fn a_waiter_that_leaves_early_frees_its_place_and_its_index() {
        let barrier = Barrier::new(2);
        let mut cx = Context::from_waker(Waker::noop());
        let mut leaver = Box::pin(barrier.wait());
        assert!(leaver.as_mut().poll(&mut cx).is_pending());
        drop(leaver);
        assert_eq!(barrier.n_waiting(), 0);
        let mut first = pin!(barrier.wait());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        let mut second = pin!(barrier.wait());
        let Poll::Ready(Ok(leader)) = second.as_mut().poll(&mut cx) else { panic!("barrier did not fill") };
        let Poll::Ready(Ok(other)) = first.as_mut().poll(&mut cx) else { panic!("waiter not released") };
        assert_eq!((other.index(), leader.index()), (0, 1));
        assert!(leader.is_leader() && !other.is_leader());
    }

    #[test]
    fn reset_breaks_current_waiters_and_reopens_the_barrier() {
        let barrier = Barrier::new(2);
        let mut cx = Context::from_waker(Waker::noop());
        let mut waiter = pin!(barrier.wait());
        assert!(waiter.as_mut().poll(&mut cx).is_pending());
        barrier.reset();
        assert_eq!(waiter.as_mut().poll(&mut cx), Poll::Ready(Err(BrokenBarrier)));
        assert!(!barrier.is_broken());
        let mut again = pin!(barrier.wait());
        assert!(again.as_mut().poll(&mut cx).is_pending());
    }
}
