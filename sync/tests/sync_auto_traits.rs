//! Everything is `Send + Sync` when the protected type allows it, and so is
//! every future the API returns, so all of it can cross threads and live in
//! tasks on multi-threaded runtimes. These are compile-time checks.

use loopwork_sync::{
    mpsc, oneshot, Barrier, BoundedSemaphore, Condition, Event, LifoQueue, Lock, LockGuard, OwnedLockGuard,
    OwnedSemaphorePermit, PriorityQueue, Queue, Semaphore, SemaphorePermit,
};
use std::sync::Arc;

fn send_sync<T: Send + Sync>(_: &T) {}
fn send<T: Send>(_: &T) {}

#[test]
fn primitives_and_guards_are_send_and_sync() {
    let lock = Arc::new(Lock::new(0u8));
    send_sync(&lock);
    send_sync(&lock.try_lock().unwrap());
    send_sync(&Event::new());
    send_sync(&Condition::new());
    let semaphore = Arc::new(Semaphore::new(1));
    send_sync(&semaphore);
    send_sync(&semaphore.try_acquire().unwrap());
    send_sync(&BoundedSemaphore::new(1));
    send_sync(&Barrier::new(1));
    send_sync(&Queue::<String>::new(0));
    send_sync(&PriorityQueue::<String>::new(0));
    send_sync(&LifoQueue::<String>::new(0));
    let (tx, rx) = mpsc::channel::<String>(1);
    send_sync(&tx);
    send_sync(&rx);
    let (tx, rx) = mpsc::unbounded::<String>();
    send_sync(&tx);
    send_sync(&rx);
    let (tx, rx) = oneshot::channel::<String>();
    send_sync(&tx);
    send_sync(&rx);
    // `Send` but not `Sync` values: the channel's ends are still both.
    let (tx, rx) = mpsc::channel::<std::cell::Cell<u8>>(1);
    send_sync(&tx);
    send_sync(&rx);
    let _: Option<(OwnedLockGuard<u8>, OwnedSemaphorePermit, LockGuard<'_, u8>, SemaphorePermit<'_>)> = None;
}

#[test]
fn futures_are_send() {
    let lock = Arc::new(Lock::new(String::new()));
    send(&lock.lock());
    send(&Arc::clone(&lock).lock_owned());
    let condition = Condition::new();
    let guard = lock.try_lock().unwrap();
    send(&condition.wait_for(guard, |value| value.is_empty()));
    send(&Event::new().wait());
    let semaphore = Arc::new(Semaphore::new(1));
    send(&semaphore.acquire());
    send(&Arc::clone(&semaphore).acquire_owned());
    send(&Barrier::new(1).wait());
    let queue = Queue::<String>::new(0);
    send(&queue.put(String::new()));
    send(&queue.get());
    send(&queue.join());
    let (tx, mut rx) = mpsc::channel::<String>(1);
    send(&tx.send(String::new()));
    send(&rx.recv());
}
