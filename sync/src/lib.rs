//! asyncio's synchronization primitives, queues and channels, for any async
//! runtime.
//!
//! Everything here is driven by std [`Waker`](std::task::Waker)s alone, so
//! it works the same under loopwork, tokio or smol, and threads outside any
//! event loop can join in through the `*_blocking` methods.
//!
//! ```
//! use loopwork_sync::Queue;
//! use std::sync::Arc;
//!
//! let queue = Arc::new(Queue::new(2));
//!
//! // A thread the event loop does not own feeds the queue...
//! let producer = {
//!     let queue = Arc::clone(&queue);
//!     std::thread::spawn(move || {
//!         for n in 1..=10 {
//!             queue.put_blocking(n).unwrap(); // waits while the queue is full
//!         }
//!         queue.shutdown(false); // getters drain what is left, then stop
//!     })
//! };
//!
//! // ...and an async consumer drains it.
//! let total = futures_lite::future::block_on(async {
//!     let mut total = 0;
//!     while let Ok(n) = queue.get().await {
//!         total += n;
//!     }
//!     total
//! });
//! assert_eq!(total, 55);
//! producer.join().unwrap();
//! ```
//!
//! # Map of the crate
//!
//! | asyncio | loopwork-sync |
//! |---|---|
//! | `Lock` (`async with lock`) | [`Lock<T>`](Lock): [`lock`](Lock::lock) → [`LockGuard`], [`lock_owned`](Lock::lock_owned), [`try_lock`](Lock::try_lock) |
//! | `Event` | [`Event`]: [`set`](Event::set), [`clear`](Event::clear), [`is_set`](Event::is_set), [`wait`](Event::wait) |
//! | `Condition` | [`Condition`]: [`wait`](Condition::wait), [`wait_for`](Condition::wait_for), [`notify`](Condition::notify), [`notify_all`](Condition::notify_all) |
//! | `Semaphore` | [`Semaphore`]: [`acquire`](Semaphore::acquire) → [`SemaphorePermit`], [`try_acquire`](Semaphore::try_acquire), [`add_permits`](Semaphore::add_permits) |
//! | `BoundedSemaphore` | [`BoundedSemaphore`]: [`release`](BoundedSemaphore::release) above the initial count is an error |
//! | `Barrier` | [`Barrier`]: [`wait`](Barrier::wait) → [`BarrierWaitResult`], [`abort`](Barrier::abort), [`reset`](Barrier::reset) |
//! | `Queue`, `PriorityQueue`, `LifoQueue` | [`Queue`], [`PriorityQueue`], [`LifoQueue`]: `put`, `get`, `try_put`, `try_get`, `task_done`, `join`, `shutdown`, `put_blocking`, `get_blocking` |
//! | `QueueEmpty`, `QueueFull`, `QueueShutDown`, ... | the [`error`] module |
//! | (`loop.create_future()` for one value) | [`oneshot`] |
//! | (a queue with a closing protocol) | [`mpsc`]: bounded and unbounded, the receiver is a `Stream` |
//!
//! # Fairness
//!
//! Every wait is first come, first served. A lock, a permit, a queue item or
//! a notification that becomes available goes to the task that has waited
//! longest, and nobody arriving later can take it first: not a `try_*`
//! call, not a task that happens to run sooner. This is stricter than
//! asyncio, whose `get_nowait()` can take an item a woken getter was about
//! to receive.
//!
//! # How waiting works
//!
//! Each primitive keeps its state and a FIFO list of waiters under one
//! `parking_lot` mutex. When a resource frees up, the releaser *hands it
//! off*: it moves the lock's value, the permit or the item into the oldest
//! waiter's list entry, then wakes that waiter, which finds it there on its
//! next poll. The resource never rests in the shared pool while someone
//! waits, which is what rules out barging.
//!
//! # Cancellation
//!
//! Any waiting future may be dropped at any time (a timeout, a `select!`,
//! a cancelled task), and nothing is lost:
//!
//! - dropped while still waiting, it just leaves the line;
//! - dropped after a hand-off but before it woke, it passes what it was
//!   handed to the next waiter, or back to the primitive, exactly as a
//!   release would: a lock goes to the next waiter, a permit likewise, an
//!   item to the next getter or back to the front of its queue, a condition
//!   notification to the next waiter.
//!
//! Both happen under the same mutex as the hand-off itself, so every
//! resource is at any moment owned by exactly one of: the primitive, one
//! waiter's entry, or the caller.
//!
//! # Threads outside the loop
//!
//! [`Queue::put_blocking`], [`Queue::get_blocking`],
//! [`mpsc::Sender::send_blocking`], [`mpsc::Receiver::recv_blocking`] and
//! [`oneshot::Receiver::recv_blocking`] park the calling thread and run the
//! same async code underneath, so a foreign thread waits in the same line,
//! under the same rules, as a task. They must not be called from inside a
//! task: they would block its worker thread.

#![doc(test(attr(deny(warnings))))]

mod barrier;
mod block_on;
mod condition;
mod event;
mod lock;
mod permits;
mod queue;
mod semaphore;
mod waiters;

/// What the unit tests share.
#[cfg(test)]
mod test_support {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    /// Polls `future` once with a waker that does nothing: a test steps a
    /// primitive's futures by hand and wakes them by polling again.
    pub(crate) fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }
}

pub mod error;
pub mod mpsc;
pub mod oneshot;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condition::Condition;
pub use event::Event;
pub use lock::{Lock, LockGuard, OwnedLockGuard};
pub use queue::{LifoQueue, PriorityQueue, Queue};
pub use semaphore::{BoundedSemaphore, OwnedSemaphorePermit, Semaphore, SemaphorePermit};

/// The crate README's example runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
