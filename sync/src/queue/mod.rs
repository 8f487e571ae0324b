//! asyncio's queues: `Queue` (FIFO), `PriorityQueue` (smallest first) and
//! `LifoQueue` (newest first).
//!
//! The three types share one implementation, [`core::QueueCore`], generic
//! over the [`store::Store`] that orders the items; the public types are
//! written out by a macro so each has its own name, docs and examples.

pub(crate) mod core;
pub(crate) mod store;
#[cfg(test)]
mod test;

use self::core::QueueCore;
use self::store::{Fifo, Lifo, Priority};
use crate::block_on::block_on;
use crate::error::{PutError, QueueShutDown, TaskDoneError, TryGetError, TryPutError};
use std::fmt;

macro_rules! queue_type {
    (
        $(#[$meta:meta])*
        $name:ident, $store:ident, [$($bound:tt)*]
    ) => {
        $(#[$meta])*
        pub struct $name<T> {
            core: QueueCore<T, $store<T>>,
        }

        impl<T: $($bound)*> $name<T> {
            /// A new queue holding at most `maxsize` items; 0 means unbounded.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::<u32>::new(10);")]
            /// assert_eq!(queue.maxsize(), 10);
            /// ```
            pub fn new(maxsize: usize) -> $name<T> {
                $name { core: QueueCore::new(maxsize) }
            }

            /// The most items the queue holds (0: unbounded).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::<u32>::new(0);")]
            /// assert_eq!(queue.maxsize(), 0);
            /// ```
            pub fn maxsize(&self) -> usize {
                self.core.maxsize()
            }

            /// How many items are queued, asyncio's `qsize()`. An item
            /// handed to a waiting getter counts until that getter resumes.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::new(0);")]
            /// queue.try_put(1).unwrap();
            /// assert_eq!(queue.len(), 1);
            /// ```
            pub fn len(&self) -> usize {
                self.core.len()
            }

            /// Whether no item is queued, asyncio's `empty()`.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::<u32>::new(0);")]
            /// assert!(queue.is_empty());
            /// ```
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Whether a put would have to wait, asyncio's `full()`: the
            /// queue is bounded and its room is taken (by items, or by
            /// putters that were given room and have not put yet).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::new(1);")]
            /// assert!(!queue.is_full());
            /// queue.try_put(1).unwrap();
            /// assert!(queue.is_full());
            /// ```
            pub fn is_full(&self) -> bool {
                self.core.is_full()
            }

            /// Puts an item, waiting for room if the queue is full. Room goes
            /// to waiting putters in arrival order (each puts its item when it
            /// resumes), and an item put while getters wait goes to the one
            /// that has waited longest. Dropping a waiting put leaves the
            /// queue as if it had never been called.
            ///
            /// # Errors
            ///
            /// [`PutError`] carrying the item back if the queue is shut down,
            /// or is shut down while this put waits.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::new(1);")]
            /// futures_lite::future::block_on(async {
            ///     queue.put("a").await.unwrap();
            ///     assert_eq!(queue.get().await, Ok("a"));
            /// });
            /// ```
            pub async fn put(&self, item: T) -> Result<(), PutError<T>> {
                self.core.put(item).await
            }

            /// Puts an item if there is room right now, asyncio's
            /// `put_nowait()`.
            ///
            /// # Errors
            ///
            /// [`TryPutError::Full`] if the queue is full (or putters are
            /// waiting), [`TryPutError::ShutDown`] if it is shut down; both
            /// give the item back.
            ///
            /// # Examples
            ///
            /// ```
            /// use loopwork_sync::error::TryPutError;
            ///
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::new(1);")]
            /// assert_eq!(queue.try_put(1), Ok(()));
            /// assert_eq!(queue.try_put(2), Err(TryPutError::Full(2)));
            /// ```
            pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
                self.core.try_put(item)
            }

            /// [`put`](Self::put) for a thread outside any event loop:
            /// blocks the thread until the item is in. Do not call it from
            /// inside a task, whose thread it would block.
            ///
            /// # Errors
            ///
            /// [`PutError`] carrying the item back if the queue is shut down.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::sync::Arc;
            ///
            #[doc = concat!("let queue = Arc::new(loopwork_sync::", stringify!($name), "::new(1));")]
            /// let producer = Arc::clone(&queue);
            /// let thread = std::thread::spawn(move || {
            ///     for i in 0..3 {
            ///         producer.put_blocking(i).unwrap(); // waits for room
            ///     }
            /// });
            /// let mut got: Vec<i32> = (0..3).map(|_| queue.get_blocking().unwrap()).collect();
            /// got.sort();
            /// assert_eq!(got, [0, 1, 2]);
            /// thread.join().unwrap();
            /// ```
            pub fn put_blocking(&self, item: T) -> Result<(), PutError<T>> {
                block_on(self.put(item))
            }

            /// Takes the next item, waiting for one if the queue is empty.
            /// Getters are served in arrival order.
            ///
            /// # Errors
            ///
            /// [`QueueShutDown`] once the queue is shut down and (for
            /// `shutdown(false)`) drained.
            ///
            /// # Examples
            ///
            /// ```
            /// use futures_lite::future;
            ///
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::new(0);")]
            /// // The getter waits until the second future puts an item.
            /// let (got, _) = future::block_on(future::zip(queue.get(), queue.put(7)));
            /// assert_eq!(got, Ok(7));
            /// ```
            pub async fn get(&self) -> Result<T, QueueShutDown> {
                self.core.get().await
            }

            /// Takes the next item if there is one right now, asyncio's
            /// `get_nowait()`.
            ///
            /// # Errors
            ///
            /// [`TryGetError::Empty`] if no item is available (items handed
            /// to waiting getters are theirs), [`TryGetError::ShutDown`] if
            /// the queue is shut down and drained.
            ///
            /// # Examples
            ///
            /// ```
            /// use loopwork_sync::error::TryGetError;
            ///
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::new(0);")]
            /// queue.try_put(1).unwrap();
            /// assert_eq!(queue.try_get(), Ok(1));
            /// assert_eq!(queue.try_get(), Err(TryGetError::Empty));
            /// ```
            pub fn try_get(&self) -> Result<T, TryGetError> {
                self.core.try_get()
            }

            /// [`get`](Self::get) for a thread outside any event loop:
            /// blocks the thread until an item arrives. Do not call it from
            /// inside a task.
            ///
            /// # Errors
            ///
            /// [`QueueShutDown`] once the queue is shut down and drained.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::sync::Arc;
            ///
            #[doc = concat!("let queue = Arc::new(loopwork_sync::", stringify!($name), "::new(0));")]
            /// let producer = Arc::clone(&queue);
            /// std::thread::spawn(move || producer.try_put("from a thread").unwrap());
            /// assert_eq!(queue.get_blocking(), Ok("from a thread"));
            /// ```
            pub fn get_blocking(&self) -> Result<T, QueueShutDown> {
                block_on(self.get())
            }

            /// Marks one item taken from the queue as processed, for
            /// [`join`](Self::join).
            ///
            /// # Errors
            ///
            /// [`TaskDoneError`] if called more times than items were put.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::new(0);")]
            /// queue.try_put(1).unwrap();
            /// queue.try_get().unwrap();
            /// assert!(queue.task_done().is_ok());
            /// assert!(queue.task_done().is_err());
            /// ```
            pub fn task_done(&self) -> Result<(), TaskDoneError> {
                self.core.task_done()
            }

            /// Waits until every item ever put has been marked done with
            /// [`task_done`](Self::task_done) (or discarded by an immediate
            /// shutdown).
            ///
            /// # Examples
            ///
            /// ```
            /// use futures_lite::future;
            ///
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::new(0);")]
            /// queue.try_put("job").unwrap();
            /// future::block_on(future::zip(queue.join(), async {
            ///     let _job = queue.get().await.unwrap();
            ///     queue.task_done().unwrap();
            /// }));
            /// ```
            pub async fn join(&self) {
                self.core.join().await
            }

            /// Shuts the queue down, asyncio's `shutdown(immediate)`. Puts
            /// fail from now on, and waiting putters get their item back in
            /// an error. With `immediate == false` getters can still take
            /// what is queued and then get `Err(QueueShutDown)`; with
            /// `immediate == true` the queued items are dropped (counted as
            /// done for [`join`](Self::join)) and every getter gets the error.
            ///
            /// # Examples
            ///
            /// ```
            /// use loopwork_sync::error::TryGetError;
            ///
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::new(0);")]
            /// queue.try_put(1).unwrap();
            /// queue.shutdown(false);
            /// assert!(queue.try_put(2).is_err());
            /// assert_eq!(queue.try_get(), Ok(1));
            /// assert_eq!(queue.try_get(), Err(TryGetError::ShutDown));
            /// ```
            pub fn shutdown(&self, immediate: bool) {
                self.core.shutdown(immediate)
            }

            /// Whether [`shutdown`](Self::shutdown) was called.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = loopwork_sync::", stringify!($name), "::<u32>::new(0);")]
            /// queue.shutdown(true);
            /// assert!(queue.is_shutdown());
            /// ```
            pub fn is_shutdown(&self) -> bool {
                self.core.is_shutdown()
            }
        }

        impl<T: $($bound)*> Default for $name<T> {
            /// An unbounded queue.
            fn default() -> $name<T> {
                $name::new(0)
            }
        }

        impl<T: $($bound)*> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.core.debug_as(stringify!($name), f)
            }
        }
    };
}

queue_type!(
    /// A first-in, first-out queue for tasks, asyncio's `Queue`.
    ///
    /// Bounded by `maxsize` (0 for unbounded). Getters and putters that
    /// have to wait are served in arrival order, and a waiting
    /// [`get`](Queue::get) or [`put`](Queue::put) may be dropped at any time
    /// without losing an item: an item already handed to a dropped getter
    /// goes to the next getter or back to the front of the queue.
    ///
    /// [`put_blocking`](Queue::put_blocking) and
    /// [`get_blocking`](Queue::get_blocking) let threads outside the event
    /// loop feed it or drain it.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::Queue;
    ///
    /// let queue = Queue::new(0);
    /// for word in ["first", "second", "third"] {
    ///     queue.try_put(word).unwrap();
    /// }
    /// assert_eq!(queue.try_get(), Ok("first"));
    /// assert_eq!(queue.try_get(), Ok("second"));
    /// ```
    Queue, Fifo, []
);

queue_type!(
    /// A queue that hands out its smallest item first, asyncio's
    /// `PriorityQueue`; otherwise like [`Queue`]. Put `(priority, item)`
    /// tuples to order by priority. Equal items come out in no particular
    /// order.
    ///
    /// The items' `Ord` runs while the queue's internal lock is held: it must
    /// not use this queue (any method would deadlock). If it panics, the
    /// panic reaches the caller of the put or get that compared, and the
    /// queue stays consistent: an item the heap kept is counted as put, and
    /// an item lost while being taken out counts as done, so
    /// [`join`](Self::join) still returns once the others are done.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::PriorityQueue;
    ///
    /// let queue = PriorityQueue::new(0);
    /// for job in [(2, "low"), (0, "urgent"), (1, "normal")] {
    ///     queue.try_put(job).unwrap();
    /// }
    /// assert_eq!(queue.try_get(), Ok((0, "urgent")));
    /// assert_eq!(queue.try_get(), Ok((1, "normal")));
    /// ```
    PriorityQueue, Priority, [Ord]
);

queue_type!(
    /// A last-in, first-out queue (a stack), asyncio's `LifoQueue`;
    /// otherwise like [`Queue`].
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::LifoQueue;
    ///
    /// let queue = LifoQueue::new(0);
    /// for n in 1..=3 {
    ///     queue.try_put(n).unwrap();
    /// }
    /// assert_eq!(queue.try_get(), Ok(3));
    /// assert_eq!(queue.try_get(), Ok(2));
    /// ```
    LifoQueue, Lifo, []
);
