//! The cooperative budget (`loopwork-coop`) as loopwork-sync sees it: with
//! the budget spent, every operation that would complete without waiting
//! wakes its task and returns `Pending` instead, and does nothing; with the
//! budget inactive (any thread outside a loopwork poll) nothing changes.

use loopwork_coop::{with_budget, Budget};
use loopwork_sync::{mpsc, Condition, Event, Lock, Queue, Semaphore};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct CountWakes(AtomicUsize);

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `future` once with a spent budget, then once with an inactive
/// one: the first poll must return `Pending` after one wake, the second
/// must complete.
fn yields_once_when_spent<F: Future>(future: F) -> F::Output {
    let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    assert!(with_budget(Budget::new(0), || future.as_mut().poll(&mut cx)).is_pending());
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "a spent budget wakes the task it sends back");
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an always-ready operation returned Pending with the budget inactive"),
    }
}

#[test]
fn a_spent_budget_makes_every_always_ready_operation_yield_first() {
    let lock = Lock::new(1);
    assert_eq!(*yields_once_when_spent(lock.lock()), 1);

    let semaphore = Semaphore::new(1);
    drop(yields_once_when_spent(semaphore.acquire()));
    assert_eq!(semaphore.available_permits(), 1);

    let event = Event::new();
    event.set();
    yields_once_when_spent(event.wait());

    let queue = Queue::new(2);
    yields_once_when_spent(queue.put(7)).unwrap();
    assert_eq!(yields_once_when_spent(queue.get()).unwrap(), 7);

    let (tx, mut rx) = mpsc::channel(2);
    yields_once_when_spent(tx.send(8)).unwrap();
    assert_eq!(yields_once_when_spent(rx.recv()).unwrap(), 8);
}

#[test]
fn a_yield_forced_by_the_budget_takes_nothing() {
    let queue = Queue::new(1);
    queue.try_put(1).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let mut get = pin!(queue.get());
    assert!(with_budget(Budget::new(0), || get.as_mut().poll(&mut cx)).is_pending());
    assert_eq!(queue.len(), 1, "the item is still in the queue");
}

#[test]
fn a_condition_wait_takes_its_unit_when_it_relocks() {
    let lock = Lock::new(0);
    let condition = Condition::new();
    let mut cx = Context::from_waker(Waker::noop());
    let guard = lock.try_lock().unwrap();
    let mut wait = pin!(condition.wait(guard));
    // Queued first, and only then is the lock released, whatever the
    // budget: no notification can be missed.
    assert!(with_budget(Budget::new(0), || wait.as_mut().poll(&mut cx)).is_pending());
    assert!(lock.try_lock().is_ok(), "the wait released the lock");
    assert_eq!(condition.notify(1), 1);
    assert!(with_budget(Budget::new(0), || wait.as_mut().poll(&mut cx)).is_pending());
    assert!(wait.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn an_inactive_budget_never_makes_an_operation_yield() {
    let lock = Lock::new(0);
    futures_lite::future::block_on(async {
        for _ in 0..10_000 {
            *lock.lock().await += 1;
        }
    });
    assert_eq!(*lock.try_lock().unwrap(), 10_000);
}

#[test]
fn the_blocking_methods_ignore_a_spent_budget() {
    let queue = Queue::new(1);
    with_budget(Budget::new(0), || {
        queue.put_blocking(5).unwrap();
        assert_eq!(queue.get_blocking().unwrap(), 5);
    });
}
