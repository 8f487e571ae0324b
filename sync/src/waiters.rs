//! The FIFO waiter list every primitive in this crate is built on, and the
//! future that waits in it.
//!
//! # Hand-off
//!
//! Each primitive keeps its whole state (a queue's items, an event's flag)
//! together with one or more [`WaitList`]s behind a single
//! `parking_lot::Mutex`. (`Lock` and `Semaphore` keep their free permits in
//! an atomic word outside it, and only their line behind it, with the same
//! hand-off: see [`permits`](crate::permits).) A waiter that cannot proceed
//! appends a node to the list and sleeps. Whoever makes progress possible
//! (unlocking, releasing a permit, putting an item) does not merely wake the
//! first waiter: it *grants* it the resource, moving the permit or the item
//! into the waiter's node, and only then wakes it. The woken waiter finds the
//! grant in its node and owns the resource from that moment.
//!
//! Because the resource changes hands under the mutex, a newcomer arriving
//! between the wake-up and the waiter's next poll finds nothing to take:
//! there is no barging, and waiters are served strictly in arrival order.
//! The fast paths only take a resource when no node is waiting, which the
//! primitives keep as an invariant ("free resources exist only while nobody
//! waits").
//!
//! # Cancellation
//!
//! A waiting future can be dropped at any suspension point. Its `Drop` takes
//! the mutex and removes its node, and one of two things is true:
//!
//! - the node was still waiting: nothing was given to it, so removing it
//!   loses nothing;
//! - the node had been granted: the grant is handed back to the primitive
//!   ([`Handoff::pass_on`]), which gives it to the next waiter in line or
//!   returns it to the free pool, exactly as a release would.
//!
//! Both cases happen under the same mutex as grants, so a grant is never in
//! flight while a node disappears: every permit, value, item and
//! notification is owned by exactly one of the primitive, a node, or a
//! future that has returned it to the caller.
//!
//! Wakers are collected in a [`WakeList`] and woken after the mutex is
//! released, so a woken task never contends for the lock its waker holds.
//! Wakers are dropped after it too (a replaced or cancelled waiter's): a
//! waker's `Drop` is foreign code and may re-enter the primitive. A waker
//! that panics does not keep the other waiters asleep; see [`WakeList`].

use parking_lot::Mutex;
use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Marks the end of a chain in [`WaitList`]'s slot vector.
const NIL: usize = usize::MAX;

/// Identifies one node of a [`WaitList`]; held only by the future that
/// pushed the node, so a key is never used after its node is freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaiterKey(usize);

/// A FIFO list of waiters, each either waiting (with a waker) or granted
/// (holding what it was given).
///
/// Nodes live in a vector used as a slab, threaded into a doubly linked list
/// by index, so pushing, granting the first and removing any node are all
/// O(1) without pointers or `unsafe`.
pub(crate) struct WaitList<G> {
    slots: Vec<Slot<G>>,
    /// First free slot, chained through `Slot::Free::next`.
    free: usize,
    /// Oldest waiting node.
    head: usize,
    /// Newest waiting node.
    tail: usize,
    waiting: usize,
    granted: usize,
}

enum Slot<G> {
    Free { next: usize },
    Waiting { prev: usize, next: usize, waker: Waker },
    Granted(G),
}

impl<G> WaitList<G> {
    pub(crate) const fn new() -> WaitList<G> {
        WaitList { slots: Vec::new(), free: NIL, head: NIL, tail: NIL, waiting: 0, granted: 0 }
    }

    /// How many nodes are waiting (granted nodes are not counted).
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    /// Whether no node is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    /// How many nodes hold a grant their future has not taken yet.
    pub(crate) fn granted(&self) -> usize {
        self.granted
    }

    /// Appends a waiting node.
    pub(crate) fn push(&mut self, waker: Waker) -> WaiterKey {
        let node = Slot::Waiting { prev: self.tail, next: NIL, waker };
        let index = if self.free == NIL {
            self.slots.push(node);
            self.slots.len() - 1
        } else {
            let index = self.free;
            self.free = match self.slots[index] {
                Slot::Free { next } => next,
                _ => unreachable!("the free chain only links free slots"),
            };
            self.slots[index] = node;
            index
        };
        if self.tail == NIL {
            self.head = index;
        } else {
            self.set_next(self.tail, index);
        }
        self.tail = index;
        self.waiting += 1;
        WaiterKey(index)
    }

    /// Takes the node's grant if it has one (freeing the node); otherwise
    /// records `waker` as the one to wake, moving the waker it replaces to
    /// `retired` (for the caller to drop once the mutex is released: a
    /// waker's `Drop` may re-enter the primitive).
    pub(crate) fn poll(&mut self, key: WaiterKey, waker: &Waker, retired: &mut Option<Waker>) -> Option<G> {
        match &mut self.slots[key.0] {
            Slot::Waiting { waker: stored, .. } => {
                if !stored.will_wake(waker) {
                    *retired = Some(std::mem::replace(stored, waker.clone()));
                }
                None
            }
            Slot::Granted(_) => Some(self.take_granted(key.0)),
            Slot::Free { .. } => unreachable!("a waiter key outlived its node"),
        }
    }

    /// Removes the node whatever its state, returning the grant it held, if
    /// any, so the caller can pass it on. A waiting node's waker moves to
    /// `retired`, to be dropped once the mutex is released.
    pub(crate) fn cancel(&mut self, key: WaiterKey, retired: &mut Option<Waker>) -> Option<G> {
        match self.slots[key.0] {
            Slot::Waiting { .. } => {
                self.unlink(key.0);
                if let Slot::Waiting { waker, .. } = std::mem::replace(&mut self.slots[key.0], Slot::Free { next: NIL })
                {
                    *retired = Some(waker);
                }
                self.release_slot(key.0);
                None
            }
            Slot::Granted(_) => Some(self.take_granted(key.0)),
            Slot::Free { .. } => unreachable!("a waiter key outlived its node"),
        }
    }

    /// Grants `grant` to the oldest waiting node and queues its waker, or
    /// gives `grant` back when nobody waits.
    pub(crate) fn grant_first(&mut self, grant: G, wakers: &mut WakeList) -> Result<(), G> {
        if self.head == NIL {
            return Err(grant);
        }
        let index = self.head;
        self.unlink(index);
        let waiting = std::mem::replace(&mut self.slots[index], Slot::Granted(grant));
        self.granted += 1;
        match waiting {
            Slot::Waiting { waker, .. } => wakers.push(waker),
            _ => unreachable!("the waiting chain only links waiting slots"),
        }
        Ok(())
    }

    /// Grants every waiting node, oldest first, a value made by `grant`.
    /// Returns how many were granted.
    pub(crate) fn grant_all(&mut self, mut grant: impl FnMut() -> G, wakers: &mut WakeList) -> usize {
        let mut count = 0;
        while self.head != NIL {
            // `grant_first` cannot fail while `head` is set.
            let _ = self.grant_first(grant(), wakers);
            count += 1;
        }
        count
    }

    fn take_granted(&mut self, index: usize) -> G {
        let slot = std::mem::replace(&mut self.slots[index], Slot::Free { next: NIL });
        self.granted -= 1;
        self.release_slot(index);
        match slot {
            Slot::Granted(grant) => grant,
            _ => unreachable!("take_granted is only called on granted slots"),
        }
    }

    fn release_slot(&mut self, index: usize) {
        if self.waiting == 0 && self.granted == 0 {
            // Every node is free: forget the free chain instead of growing it,
            // so the common case of one waiter at a time reuses slot 0.
            self.slots.clear();
            self.free = NIL;
        } else {
            self.slots[index] = Slot::Free { next: self.free };
            self.free = index;
        }
    }

    fn unlink(&mut self, index: usize) {
        let (prev, next) = match self.slots[index] {
            Slot::Waiting { prev, next, .. } => (prev, next),
            _ => unreachable!("only waiting slots are linked"),
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.set_next(prev, next);
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.set_prev(next, prev);
        }
        self.waiting -= 1;
    }

    fn set_next(&mut self, index: usize, to: usize) {
        match &mut self.slots[index] {
            Slot::Waiting { next, .. } => *next = to,
            _ => unreachable!("only waiting slots are linked"),
        }
    }

    fn set_prev(&mut self, index: usize, to: usize) {
        match &mut self.slots[index] {
            Slot::Waiting { prev, .. } => *prev = to,
            _ => unreachable!("only waiting slots are linked"),
        }
    }
}

/// Wakers collected under a primitive's mutex, to be woken after it is
/// released.
///
/// The first waker is stored inline because most operations wake at most
/// one waiter and should not allocate for it.
///
/// Wakers are foreign code, and one may panic. A panicking waker never keeps
/// the others asleep (with several to wake, each wake is caught and the
/// first panic resumed after the last wake; a lone one's panic goes
/// straight to the caller), and a list dropped without
/// [`wake_all`](WakeList::wake_all), because the operation that filled it
/// unwound, still wakes what it holds: a waiter that was granted a permit,
/// a value or an item is always told.
///
/// Every primitive operation makes one, and most wake nobody, so the empty
/// list costs two tests, inlined: `wake_all` keeps its work out of line, and
/// `rest` is a `ManuallyDrop`, freed by `drop` itself when it ever
/// allocated, so the compiler's drop glue has no second field to unwind
/// into. Before, with a `catch_unwind` inlined in both, each call kept a
/// frame: 128 M instructions for `sync_loopwork` (lock, semaphore and mpsc
/// rounds), 80 M now (72 M with `Wait`'s drop inlined too).
#[derive(Default)]
pub(crate) struct WakeList {
    first: Option<Waker>,
    rest: ManuallyDrop<Vec<Waker>>,
}

impl WakeList {
    pub(crate) fn new() -> WakeList {
        WakeList { first: None, rest: ManuallyDrop::new(Vec::new()) }
    }

    pub(crate) fn push(&mut self, waker: Waker) {
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    /// Wakes everything collected. Call it with no lock held.
    ///
    /// # Panics
    ///
    /// If a waker panicked: once every other waker has been woken, the first
    /// such panic is resumed here, in the code that made the waiters ready
    /// (this crate has no exception handler to send it to). The later ones
    /// were printed by the panic hook when they happened. Not if this thread
    /// is unwinding already (a guard released during a panic): a second
    /// panic there would abort the process, so the payload is dropped.
    #[inline]
    pub(crate) fn wake_all(mut self) {
        // Most operations wake nobody: for them this is one test, inlined.
        if let Some(first) = self.first.take() {
            self.wake_all_from(first);
        }
    }

    /// `wake_all`'s work, out of line.
    #[inline(never)]
    fn wake_all_from(mut self, first: Waker) {
        if self.rest.is_empty() && !std::thread::panicking() {
            // One waker, the common case (a release, a send): woken without
            // `catch_unwind`. If it panics, the panic goes on to the caller,
            // as a caught one would be resumed, and nobody else is left to
            // wake.
            first.wake();
            return;
        }
        self.first = Some(first);
        if let Some(payload) = self.wake_collected() {
            if !std::thread::panicking() {
                resume_unwind(payload);
            }
        }
    }

    /// Wakes and removes every collected waker; returns the first panic.
    /// `first` is filled before `rest`, so an empty `first` means an empty
    /// list.
    fn wake_collected(&mut self) -> Option<Box<dyn Any + Send>> {
        let first = self.first.take()?;
        let mut first_panic = wake_caught(first).err();
        if !self.rest.is_empty() {
            for waker in self.rest.drain(..) {
                if let Err(payload) = wake_caught(waker) {
                    first_panic.get_or_insert(payload);
                }
            }
        }
        first_panic
    }

    /// `drop`'s rare path, out of line: wakes what is left, then frees
    /// `rest` (an empty `Vec` with no allocation stays behind, which needs
    /// no drop).
    #[cold]
    #[inline(never)]
    fn drop_slow(&mut self) {
        drop(self.wake_collected());
        drop(std::mem::take(&mut *self.rest));
    }
}

/// Wakes `waker`, catching a panic (free unless it happens).
fn wake_caught(waker: Waker) -> std::thread::Result<()> {
    catch_unwind(AssertUnwindSafe(|| waker.wake()))
}

impl Drop for WakeList {
    /// Reached with wakers left only when the operation that collected them
    /// unwound (a user's `Ord` panicked inside a `PriorityQueue`): the
    /// waiters it granted are woken all the same. A waker's panic is not
    /// resumed here, where the thread may be unwinding already.
    #[inline]
    fn drop(&mut self) {
        if self.first.is_some() || self.rest.capacity() != 0 {
            self.drop_slow();
        }
    }
}

/// A primitive's state seen as the owner of one of its wait lists.
///
/// `M` names which list, for states with several (a queue has getters,
/// putters and joiners); it is one of the empty marker enums below.
pub(crate) trait Handoff<M> {
    /// What a waiter on this list is given.
    type Grant;

    /// The list itself.
    fn waiters(&mut self) -> &mut WaitList<Self::Grant>;

    /// Runs when a waiter takes its grant out of its node, under the mutex.
    /// A queue uses it to free the capacity a handed-off item occupied.
    fn taken(&mut self, _grant: &Self::Grant, _wakers: &mut WakeList) {}

    /// A waiter went away without taking its grant: give the grant to the
    /// next waiter or back to the primitive, as a release would. Whatever
    /// is returned is dropped after the mutex is released (dropping user
    /// values under the lock could re-enter it).
    fn pass_on(&mut self, grant: Self::Grant, wakers: &mut WakeList) -> Option<Self::Grant>;
}

/// Marks the only wait list of a primitive that has one.
pub(crate) enum Waiters {}

/// Polls a wait in `state`'s list `M`, keeping the node's key in `key`.
///
/// With no node yet, `try_now` runs under the mutex first: `Some` completes
/// at once without queueing; `None` queues a node in the same critical
/// section, so nothing can be granted in between and missed.
pub(crate) fn poll_wait<St, M>(
    state: &Mutex<St>,
    key: &mut Option<WaiterKey>,
    cx: &mut Context<'_>,
    try_now: impl FnOnce(&mut St, &mut WakeList) -> Option<St::Grant>,
) -> Poll<St::Grant>
where
    St: Handoff<M>,
{
    let mut wakers = WakeList::new();
    let mut retired = None;
    let mut guard = state.lock();
    let st = &mut *guard;
    let poll = match *key {
        None => match try_now(st, &mut wakers) {
            Some(grant) => Poll::Ready(grant),
            None => {
                *key = Some(st.waiters().push(cx.waker().clone()));
                Poll::Pending
            }
        },
        Some(k) => match st.waiters().poll(k, cx.waker(), &mut retired) {
            Some(grant) => {
                *key = None;
                st.taken(&grant, &mut wakers);
                Poll::Ready(grant)
            }
            None => Poll::Pending,
        },
    };
    drop(guard);
    drop(retired);
    wakers.wake_all();
    poll
}

/// Abandons the wait whose node is `key`, passing on whatever it was granted.
pub(crate) fn cancel_wait<St, M>(state: &Mutex<St>, key: &mut Option<WaiterKey>)
where
    St: Handoff<M>,
{
    let Some(k) = key.take() else { return };
    let mut wakers = WakeList::new();
    let mut retired = None;
    let mut guard = state.lock();
    let leftover = match guard.waiters().cancel(k, &mut retired) {
        Some(grant) => guard.pass_on(grant, &mut wakers),
        None => None,
    };
    drop(guard);
    drop(retired);
    wakers.wake_all();
    drop(leftover);
}

/// The future of one wait: tries `try_now`, else queues and resolves to the
/// grant. Dropping it before it resolves passes any grant on.
pub(crate) struct Wait<'a, St: Handoff<M>, M, F> {
    state: &'a Mutex<St>,
    try_now: Option<F>,
    key: Option<WaiterKey>,
    _list: PhantomData<fn() -> M>,
}

impl<'a, St, M, F> Wait<'a, St, M, F>
where
    St: Handoff<M>,
    F: FnOnce(&mut St, &mut WakeList) -> Option<St::Grant> + Unpin,
{
    pub(crate) fn new(state: &'a Mutex<St>, try_now: F) -> Wait<'a, St, M, F> {
        Wait { state, try_now: Some(try_now), key: None, _list: PhantomData }
    }
}

impl<St, M, F> Future for Wait<'_, St, M, F>
where
    St: Handoff<M>,
    F: FnOnce(&mut St, &mut WakeList) -> Option<St::Grant> + Unpin,
{
    type Output = St::Grant;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<St::Grant> {
        let this = self.get_mut();
        if this.key.is_none() {
            // Only the first poll may try the fast path; after that the node
            // holds our place in line.
            let try_now = this.try_now.take().expect("a wait polled after it completed");
            poll_wait(this.state, &mut this.key, cx, try_now)
        } else {
            poll_wait(this.state, &mut this.key, cx, |_, _| unreachable!("the node is queued"))
        }
    }
}

impl<St: Handoff<M>, M, F> Drop for Wait<'_, St, M, F> {
    #[inline]
    fn drop(&mut self) {
        // Most waits are dropped resolved, with no node: one test, inlined.
        if self.key.is_some() {
            cancel_wait(self.state, &mut self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{WaitList, WakeList};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting_waker() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        (Arc::clone(&counter), Waker::from(counter))
    }

    #[test]
    fn grants_go_to_waiters_in_push_order() {
        let mut list = WaitList::new();
        let keys: Vec<_> = (0..4).map(|_| list.push(Waker::noop().clone())).collect();
        let mut wakers = WakeList::new();
        for n in 0..4 {
            list.grant_first(n, &mut wakers).unwrap();
        }
        assert_eq!(list.grant_first(9, &mut wakers), Err(9));
        for (n, key) in keys.into_iter().enumerate() {
            assert_eq!(list.poll(key, Waker::noop(), &mut None), Some(n));
        }
        assert_eq!((list.len(), list.granted()), (0, 0));
    }

    #[test]
    fn cancelling_a_middle_waiter_keeps_the_others_in_order() {
        let mut list = WaitList::new();
        let a = list.push(Waker::noop().clone());
        let b = list.push(Waker::noop().clone());
        let c = list.push(Waker::noop().clone());
        assert_eq!(list.cancel(b, &mut None), None);
        let d = list.push(Waker::noop().clone()); // reuses b's slot, queued last
        let mut wakers = WakeList::new();
        assert_eq!(list.grant_all(|| (), &mut wakers), 3);
        for key in [a, c, d] {
            assert_eq!(list.poll(key, Waker::noop(), &mut None), Some(()));
        }
    }

    #[test]
    fn cancelling_a_granted_waiter_returns_its_grant() {
        let mut list = WaitList::new();
        let a = list.push(Waker::noop().clone());
        let mut wakers = WakeList::new();
        list.grant_first("permit", &mut wakers).unwrap();
        assert_eq!(list.granted(), 1);
        assert_eq!(list.cancel(a, &mut None), Some("permit"));
        assert_eq!(list.granted(), 0);
    }

    #[test]
    fn the_latest_waker_is_the_one_woken() {
        let mut list = WaitList::new();
        let (old, old_waker) = counting_waker();
        let (new, new_waker) = counting_waker();
        let key = list.push(old_waker);
        assert_eq!(list.poll(key, &new_waker, &mut None), None);
        let mut wakers = WakeList::new();
        list.grant_first((), &mut wakers).unwrap();
        wakers.wake_all();
        assert_eq!((old.0.load(Ordering::SeqCst), new.0.load(Ordering::SeqCst)), (0, 1));
    }

    struct Panicking;

    impl Wake for Panicking {
        fn wake(self: Arc<Self>) {
            panic!("a waker that panics");
        }
    }

    #[test]
    fn a_lone_panicking_waker_panics_in_the_caller_of_wake_all() {
        let mut wakers = WakeList::new();
        wakers.push(Waker::from(Arc::new(Panicking)));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wakers.wake_all()));
        assert!(caught.is_err());
    }

    #[test]
    fn a_panicking_waker_keeps_no_other_asleep_and_its_panic_comes_after_them() {
        let (counter, waker) = counting_waker();
        let mut wakers = WakeList::new();
        wakers.push(waker.clone());
        wakers.push(Waker::from(Arc::new(Panicking)));
        wakers.push(waker);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wakers.wake_all()));
        assert!(caught.is_err());
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_wake_list_dropped_without_wake_all_wakes_what_it_holds() {
        let (counter, waker) = counting_waker();
        let mut wakers = WakeList::new();
        for _ in 0..3 {
            wakers.push(waker.clone());
        }
        drop(wakers);
        assert_eq!(counter.0.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_wake_list_wakes_everything_it_collected() {
        let (counter, waker) = counting_waker();
        let mut wakers = WakeList::new();
        for _ in 0..5 {
            wakers.push(waker.clone());
        }
        wakers.wake_all();
        assert_eq!(counter.0.load(Ordering::SeqCst), 5);
    }
}
