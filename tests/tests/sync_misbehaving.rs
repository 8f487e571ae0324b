//! The sync primitives against misbehaving user code: wakers that panic or
//! re-enter the primitive from their `Drop`, and an `Ord` that panics inside
//! a `PriorityQueue`. Each test is named after the failure it reproduces; a
//! deadlock fails through the watchdog instead of hanging the suite.

use loopwork_sync::{oneshot, PriorityQueue, Semaphore};
use loopwork_tests::with_watchdog;
use std::cmp::Ordering as CmpOrdering;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// How long a test may take before it counts as hung. Generous: these tests
/// panic on purpose, and with `RUST_BACKTRACE` set the first panic's
/// backtrace is symbolized from the test binary's debug info, which took 6 s
/// with a cold page cache on the 2-core machine (and longer on a busy one).
const LIMIT: Duration = Duration::from_secs(60);

struct Counts(AtomicUsize);

impl Wake for Counts {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that unwinds. `resume_unwind` rather than `panic!`: it skips the
/// panic hook, and the hook prints a full backtrace for a panic raised while
/// the thread is already unwinding (as in the guard-dropped-during-a-panic
/// test), which under ThreadSanitizer takes longer to symbolize than the
/// watchdog allows, and holds std's backtrace lock meanwhile, so that the
/// other tests' panics wait behind it. What loopwork sees is the same.
struct Panics;

impl Wake for Panics {
    fn wake(self: Arc<Self>) {
        std::panic::resume_unwind(Box::new("a misbehaving waker"));
    }
}

fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

#[test]
fn a_panicking_waker_left_the_later_waiters_asleep_with_their_permits_stranded() {
    with_watchdog(LIMIT, "semaphore waiters", || {
        let semaphore = Semaphore::new(0);
        let counts = Arc::new(Counts(AtomicUsize::new(0)));
        let counting = Waker::from(counts.clone());
        let panicking = Waker::from(Arc::new(Panics));
        let mut waiters: Vec<_> = (0..3).map(|_| Box::pin(semaphore.acquire())).collect();
        for (waiter, waker) in waiters.iter_mut().zip([&counting, &panicking, &counting]) {
            assert!(poll_once(waiter.as_mut(), waker).is_pending());
        }
        let released = catch_unwind(AssertUnwindSafe(|| semaphore.add_permits(3)));
        let payload = released.expect_err("the waker's panic reaches the releasing caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"a misbehaving waker"));
        assert_eq!(counts.0.load(Ordering::SeqCst), 2, "every other waiter was woken");
        for waiter in &mut waiters {
            assert!(poll_once(waiter.as_mut(), Waker::noop()).is_ready(), "every waiter got its permit");
        }
    });
}

/// A waker whose `Drop` uses the primitive it waits on.
struct ReentersOnDrop<F: Fn() + Send + Sync>(F);

impl<F: Fn() + Send + Sync> Wake for ReentersOnDrop<F> {
    fn wake(self: Arc<Self>) {}
}

impl<F: Fn() + Send + Sync> Drop for ReentersOnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

fn reentrant_waker(f: impl Fn() + Send + Sync + 'static) -> Waker {
    Waker::from(Arc::new(ReentersOnDrop(f)))
}

#[test]
fn a_waker_whose_drop_reenters_the_semaphore_deadlocked_it() {
    with_watchdog(LIMIT, "re-entrant waker drop", || {
        let semaphore = Arc::new(Semaphore::new(0));
        // Replaced by a later poll's waker.
        let mut acquire = Box::pin(semaphore.acquire());
        let inner = semaphore.clone();
        assert!(poll_once(acquire.as_mut(), &reentrant_waker(move || assert_eq!(inner.available_permits(), 0)))
            .is_pending());
        assert!(poll_once(acquire.as_mut(), Waker::noop()).is_pending());
        // Dropped with the cancelled wait.
        let inner = semaphore.clone();
        assert!(poll_once(acquire.as_mut(), &reentrant_waker(move || assert_eq!(inner.available_permits(), 0)))
            .is_pending());
        drop(acquire);
        assert_eq!(semaphore.available_permits(), 0);
    });
}

#[test]
fn a_waker_whose_drop_reenters_the_oneshot_channel_deadlocked_it() {
    with_watchdog(LIMIT, "re-entrant waker drop", || {
        let (tx, mut rx) = oneshot::channel::<u32>();
        let tx = Arc::new(tx);
        let inner = tx.clone();
        let waker = reentrant_waker(move || assert!(!inner.is_closed()));
        assert!(poll_once(Pin::new(&mut rx), &waker).is_pending());
        drop(waker);
        assert!(poll_once(Pin::new(&mut rx), Waker::noop()).is_pending());
        assert!(!tx.is_closed());
    });
}

/// An item whose comparison panics while `explode` is set.
#[derive(Debug)]
struct Touchy {
    key: u32,
    explode: Arc<AtomicBool>,
}

impl Ord for Touchy {
    fn cmp(&self, other: &Touchy) -> CmpOrdering {
        assert!(!self.explode.load(Ordering::SeqCst), "a misbehaving Ord");
        self.key.cmp(&other.key)
    }
}

impl PartialOrd for Touchy {
    fn partial_cmp(&self, other: &Touchy) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Touchy {
    fn eq(&self, other: &Touchy) -> bool {
        self.key == other.key
    }
}

impl Eq for Touchy {}

#[test]
fn a_priority_queue_whose_ord_panicked_left_join_waiting_forever() {
    with_watchdog(LIMIT, "priority queue join", || {
        let explode = Arc::new(AtomicBool::new(false));
        let item = |key| Touchy { key, explode: explode.clone() };
        let queue = PriorityQueue::new(0);
        queue.try_put(item(1)).unwrap();
        queue.try_put(item(2)).unwrap();
        explode.store(true, Ordering::SeqCst);
        // A put whose comparison panics: the heap keeps the item.
        assert!(catch_unwind(AssertUnwindSafe(|| queue.try_put(item(3)))).is_err());
        // A get whose comparison panics: the item being taken out is lost.
        assert!(catch_unwind(AssertUnwindSafe(|| queue.try_get())).is_err());
        explode.store(false, Ordering::SeqCst);
        let mut left = 0;
        while queue.try_get().is_ok() {
            queue.task_done().unwrap();
            left += 1;
        }
        assert_eq!(left, 2, "what the heap still holds comes out");
        assert!(queue.task_done().is_err(), "nothing is left unfinished");
        futures_lite::future::block_on(queue.join());
    });
}

#[test]
fn a_panicking_waker_woken_by_a_guard_dropped_during_a_panic_aborted_the_process() {
    with_watchdog(LIMIT, "guard dropped while unwinding", || {
        let semaphore = Semaphore::new(1);
        let mut waiter = Box::pin(semaphore.acquire());
        let unwound = catch_unwind(AssertUnwindSafe(|| {
            let _permit = semaphore.try_acquire().unwrap();
            assert!(poll_once(waiter.as_mut(), &Waker::from(Arc::new(Panics))).is_pending());
            panic!("the holder's own panic");
            // `_permit` is released while unwinding; its waiter's waker panics.
        }));
        let payload = unwound.expect_err("the holder's panic carries on");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"the holder's own panic"));
        assert!(poll_once(waiter.as_mut(), Waker::noop()).is_ready(), "the waiter got the permit");
    });
}
