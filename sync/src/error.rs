//! The errors of every primitive, queue and channel in this crate.
//!
//! Errors that give back a value the caller handed in (an item that could
//! not be put, a message that could not be sent) carry it, so nothing is
//! lost on failure.

use std::error::Error;
use std::fmt;

macro_rules! unit_error {
    ($(#[$meta:meta])* $name:ident, $message:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name;

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($message)
            }
        }

        impl Error for $name {}
    };
}

unit_error!(
    /// [`Lock::try_lock`](crate::Lock::try_lock) found the lock held (or
    /// other tasks already waiting for it).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::{error::TryLockError, Lock};
    ///
    /// let lock = Lock::new(0);
    /// let _guard = lock.try_lock().unwrap();
    /// assert_eq!(lock.try_lock().unwrap_err(), TryLockError);
    /// ```
    TryLockError,
    "the lock is held"
);

unit_error!(
    /// [`Semaphore::try_acquire`](crate::Semaphore::try_acquire) found no
    /// free permit (or other tasks already waiting for one).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::{error::TryAcquireError, Semaphore};
    ///
    /// let semaphore = Semaphore::new(0);
    /// assert_eq!(semaphore.try_acquire().unwrap_err(), TryAcquireError);
    /// ```
    TryAcquireError,
    "no permit is available"
);

unit_error!(
    /// [`BoundedSemaphore::release`](crate::BoundedSemaphore::release) would
    /// raise the permit count above its initial value: asyncio's
    /// `ValueError("BoundedSemaphore released too many times")`.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::{error::ReleaseError, BoundedSemaphore};
    ///
    /// let semaphore = BoundedSemaphore::new(1);
    /// assert_eq!(semaphore.release(), Err(ReleaseError));
    /// ```
    ReleaseError,
    "the bounded semaphore was released too many times"
);

unit_error!(
    /// The [`Barrier`](crate::Barrier) was aborted or reset while this task
    /// waited, or was already broken: asyncio's `BrokenBarrierError`.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::{error::BrokenBarrier, Barrier};
    ///
    /// let barrier = Barrier::new(2);
    /// barrier.abort();
    /// assert_eq!(futures_lite::future::block_on(barrier.wait()), Err(BrokenBarrier));
    /// ```
    BrokenBarrier,
    "the barrier is broken"
);

unit_error!(
    /// The queue was shut down, and (unless it was shut down with
    /// `immediate = false` and still holds items) there is nothing to get:
    /// asyncio's `QueueShutDown`.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::{error::QueueShutDown, Queue};
    ///
    /// let queue = Queue::<u8>::new(0);
    /// queue.shutdown(false);
    /// assert_eq!(futures_lite::future::block_on(queue.get()), Err(QueueShutDown));
    /// ```
    QueueShutDown,
    "the queue is shut down"
);

unit_error!(
    /// `task_done` was called more times than items were put: asyncio's
    /// `ValueError("task_done() called too many times")`.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::{error::TaskDoneError, Queue};
    ///
    /// let queue = Queue::<u8>::new(0);
    /// assert_eq!(queue.task_done(), Err(TaskDoneError));
    /// ```
    TaskDoneError,
    "task_done() called more times than there were items"
);

unit_error!(
    /// Every sender is gone and the channel is drained (or the receiver
    /// closed it): nothing more will arrive.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::{error::RecvError, mpsc};
    ///
    /// let (tx, mut rx) = mpsc::unbounded::<u8>();
    /// drop(tx);
    /// assert_eq!(rx.recv_blocking(), Err(RecvError));
    /// ```
    RecvError,
    "the channel is closed"
);

/// Why a non-blocking receive returned nothing.
///
/// # Examples
///
/// ```
/// use loopwork_sync::{error::TryRecvError, mpsc};
///
/// let (tx, mut rx) = mpsc::unbounded::<u8>();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryRecvError {
    /// Nothing is there yet; senders remain.
    Empty,
    /// Nothing is there and nothing will come.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("the channel is empty"),
            TryRecvError::Closed => f.write_str("the channel is closed"),
        }
    }
}

impl Error for TryRecvError {}

/// Why [`try_get`](crate::Queue::try_get) returned nothing: asyncio's
/// `QueueEmpty` or `QueueShutDown`.
///
/// # Examples
///
/// ```
/// use loopwork_sync::{error::TryGetError, Queue};
///
/// let queue = Queue::<u8>::new(0);
/// assert_eq!(queue.try_get(), Err(TryGetError::Empty));
/// queue.shutdown(false);
/// assert_eq!(queue.try_get(), Err(TryGetError::ShutDown));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryGetError {
    /// No item is available; asyncio's `QueueEmpty`.
    Empty,
    /// The queue is shut down and holds nothing more.
    ShutDown,
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryGetError::Empty => f.write_str("the queue is empty"),
            TryGetError::ShutDown => f.write_str("the queue is shut down"),
        }
    }
}

impl Error for TryGetError {}

/// Defines an error that hands back the value that could not be delivered,
/// with a `Debug` that does not need `T: Debug`.
macro_rules! value_error {
    ($(#[$meta:meta])* $name:ident, $message:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name<T>(pub T);

        impl<T> $name<T> {
            /// The value that was not delivered.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let err = loopwork_sync::error::", stringify!($name), "(7);")]
            /// assert_eq!(err.into_inner(), 7);
            /// ```
            pub fn into_inner(self) -> T {
                self.0
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($message)
            }
        }

        impl<T> Error for $name<T> {}
    };
}

value_error!(
    /// `put` on a queue that is shut down; the item comes back.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::Queue;
    ///
    /// let queue = Queue::new(0);
    /// queue.shutdown(false);
    /// let err = futures_lite::future::block_on(queue.put("job")).unwrap_err();
    /// assert_eq!(err.into_inner(), "job");
    /// ```
    PutError,
    "the queue is shut down"
);

value_error!(
    /// A send on a closed channel (the receiver is gone or closed it); the
    /// value comes back.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::unbounded();
    /// drop(rx);
    /// assert_eq!(tx.send(5).unwrap_err().into_inner(), 5);
    /// ```
    SendError,
    "the channel is closed"
);

/// Why [`try_put`](crate::Queue::try_put) did not take the item, which
/// comes back either way.
///
/// # Examples
///
/// ```
/// use loopwork_sync::{error::TryPutError, Queue};
///
/// let queue = Queue::new(1);
/// queue.try_put(1).unwrap();
/// assert_eq!(queue.try_put(2), Err(TryPutError::Full(2)));
/// queue.shutdown(false);
/// assert_eq!(queue.try_put(3), Err(TryPutError::ShutDown(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryPutError<T> {
    /// The queue holds `maxsize` items (or putters are already waiting);
    /// asyncio's `QueueFull`.
    Full(T),
    /// The queue is shut down.
    ShutDown(T),
}

impl<T> TryPutError<T> {
    /// The item that was not put.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::error::TryPutError;
    ///
    /// assert_eq!(TryPutError::Full("item").into_inner(), "item");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(item) | TryPutError::ShutDown(item) => item,
        }
    }
}

impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("the queue is full"),
            TryPutError::ShutDown(_) => f.write_str("the queue is shut down"),
        }
    }
}

impl<T> Error for TryPutError<T> {}

/// Why a non-blocking send did not take the value, which comes back either
/// way.
///
/// # Examples
///
/// ```
/// use loopwork_sync::{error::TrySendError, mpsc};
///
/// let (tx, rx) = mpsc::channel(1);
/// tx.try_send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// drop(rx);
/// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrySendError<T> {
    /// The channel is at capacity (or senders are already waiting).
    Full(T),
    /// The receiver is gone or closed the channel.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::error::TrySendError;
    ///
    /// assert_eq!(TrySendError::Closed(9).into_inner(), 9);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(value) | TrySendError::Closed(value) => value,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the channel is full"),
            TrySendError::Closed(_) => f.write_str("the channel is closed"),
        }
    }
}

impl<T> Error for TrySendError<T> {}
