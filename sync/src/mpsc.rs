//! Multi-producer, single-consumer channels, bounded and unbounded.
//!
//! A channel is a FIFO [`Queue`](crate::Queue) underneath, closed by
//! shutting the queue down: the last sender to go shuts it down gently (the
//! receiver drains what is left, then gets [`RecvError`]), and a receiver
//! that goes shuts it down at once (queued values are dropped and sends fail,
//! handing the value back).
//!
//! Senders waiting for room are served in arrival order, as queue putters
//! are. The [`Receiver`] is a [`Stream`] and keeps its place in line between
//! polls, so a dropped `recv()` future never loses a value: a value handed
//! to the receiver is there for its next receive.
//!
//! # Examples
//!
//! ```
//! use loopwork_sync::mpsc;
//!
//! let (tx, mut rx) = mpsc::channel(8);
//! let producer = std::thread::spawn(move || {
//!     for i in 0..100 {
//!         tx.send_blocking(i).unwrap();
//!     }
//! });
//! let sum: u32 = futures_lite::future::block_on(async {
//!     let mut sum = 0;
//!     while let Ok(i) = rx.recv().await {
//!         sum += i;
//!     }
//!     sum
//! });
//! assert_eq!(sum, 4950);
//! producer.join().unwrap();
//! ```

use crate::block_on::block_on;
use crate::error::{QueueShutDown, RecvError, SendError, TryGetError, TryPutError, TryRecvError, TrySendError};
use crate::queue::core::QueueCore;
use crate::queue::store::Fifo;
use crate::waiters::WaiterKey;
use futures_core::Stream;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

struct Chan<T> {
    queue: QueueCore<T, Fifo<T>>,
    /// Live senders of either kind; the last one to go closes the channel.
    senders: AtomicUsize,
}

fn new_chan<T>(capacity: usize) -> (Arc<Chan<T>>, Receiver<T>) {
    let chan = Arc::new(Chan { queue: QueueCore::new(capacity), senders: AtomicUsize::new(1) });
    let receiver = Receiver { chan: Arc::clone(&chan), key: None };
    (chan, receiver)
}

fn add_sender<T>(chan: &Arc<Chan<T>>) -> Arc<Chan<T>> {
    // Relaxed is enough: the count only has to reach zero exactly once, and
    // the queue's mutex orders the close against every send.
    chan.senders.fetch_add(1, Ordering::Relaxed);
    Arc::clone(chan)
}

fn drop_sender<T>(chan: &Chan<T>) {
    // Relaxed for the same reason as in `add_sender`: the decrement that
    // reaches zero is unique whatever the ordering.
    if chan.senders.fetch_sub(1, Ordering::Relaxed) == 1 {
        chan.queue.shutdown(false);
    }
}

/// A channel holding at most `capacity` values; senders wait for room.
///
/// # Panics
///
/// If `capacity` is 0 (use [`unbounded`] for no limit).
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = loopwork_sync::mpsc::channel(1);
/// futures_lite::future::block_on(async {
///     tx.send("hello").await.unwrap();
///     assert_eq!(rx.recv().await, Ok("hello"));
/// });
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "mpsc::channel: capacity must be at least 1; use mpsc::unbounded() for no limit");
    let (chan, receiver) = new_chan(capacity);
    (Sender { chan }, receiver)
}

/// A channel with no limit; sending never waits.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = loopwork_sync::mpsc::unbounded();
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
pub fn unbounded<T>() -> (UnboundedSender<T>, Receiver<T>) {
    let (chan, receiver) = new_chan(0);
    (UnboundedSender { chan }, receiver)
}

fn try_send_error<T>(err: TryPutError<T>) -> TrySendError<T> {
    match err {
        TryPutError::Full(value) => TrySendError::Full(value),
        TryPutError::ShutDown(value) => TrySendError::Closed(value),
    }
}

/// The sending half of a [`channel`]; clone it for more producers.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = loopwork_sync::mpsc::channel(4);
/// let tx2 = tx.clone();
/// tx.try_send(1).unwrap();
/// tx2.try_send(2).unwrap();
/// drop((tx, tx2));
/// assert_eq!(rx.recv_blocking(), Ok(1));
/// assert_eq!(rx.recv_blocking(), Ok(2));
/// assert!(rx.recv_blocking().is_err());
/// ```
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends a value, waiting for room if the channel is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the channel is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = loopwork_sync::mpsc::channel(1);
    /// futures_lite::future::block_on(async {
    ///     tx.send(1).await.unwrap();
    ///     drop(rx);
    ///     assert_eq!(tx.send(2).await.unwrap_err().into_inner(), 2);
    /// });
    /// ```
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.queue.put(value).await.map_err(|err| SendError(err.into_inner()))
    }

    /// Sends a value if there is room right now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the channel is full (or other senders
    /// wait), [`TrySendError::Closed`] if it is closed; both give the value
    /// back.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::error::TrySendError;
    ///
    /// let (tx, _rx) = loopwork_sync::mpsc::channel(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.queue.try_put(value).map_err(try_send_error)
    }

    /// [`send`](Sender::send) for a thread outside any event loop: blocks
    /// the thread until there is room. Do not call it from inside a task.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the channel is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = loopwork_sync::mpsc::channel(1);
    /// std::thread::spawn(move || tx.send_blocking("from a thread").unwrap());
    /// assert_eq!(futures_lite::future::block_on(rx.recv()), Ok("from a thread"));
    /// ```
    pub fn send_blocking(&self, value: T) -> Result<(), SendError<T>> {
        block_on(self.send(value))
    }

    /// Whether the receiver is gone or closed the channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = loopwork_sync::mpsc::channel::<u8>(1);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.queue.is_shutdown()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        Sender { chan: add_sender(&self.chan) }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        drop_sender(&self.chan);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("queue", &self.chan.queue).finish()
    }
}

/// The sending half of an [`unbounded`] channel; clone it for more
/// producers. Sending never waits, so it works the same from tasks and
/// from any thread.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = loopwork_sync::mpsc::unbounded();
/// let tx2 = tx.clone();
/// std::thread::spawn(move || tx2.send("from a thread").unwrap()).join().unwrap();
/// assert_eq!(rx.try_recv(), Ok("from a thread"));
/// ```
pub struct UnboundedSender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> UnboundedSender<T> {
    /// Sends a value at once.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the channel is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = loopwork_sync::mpsc::unbounded();
    /// assert!(tx.send(1).is_ok());
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().into_inner(), 2);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.queue.try_put(value).map_err(|err| SendError(err.into_inner()))
    }

    /// Whether the receiver is gone or closed the channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = loopwork_sync::mpsc::unbounded::<u8>();
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.queue.is_shutdown()
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> UnboundedSender<T> {
        UnboundedSender { chan: add_sender(&self.chan) }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        drop_sender(&self.chan);
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender").field("queue", &self.chan.queue).finish()
    }
}

/// The receiving half of a [`channel`] or an [`unbounded`] channel; also a
/// [`Stream`] of the values, ending when the channel is closed and drained.
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt;
///
/// let (tx, rx) = loopwork_sync::mpsc::unbounded();
/// for i in 0..3 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// let all: Vec<i32> = futures_lite::future::block_on(rx.collect());
/// assert_eq!(all, [0, 1, 2]);
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// Our place in the getters' line while a receive is pending; kept
    /// across polls (and dropped `recv` futures) so a value handed to us is
    /// never lost.
    key: Option<WaiterKey>,
}

impl<T> Receiver<T> {
    /// Receives the next value, waiting for one.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once every sender is gone (or the channel was closed)
    /// and no value is left.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = loopwork_sync::mpsc::unbounded();
    /// tx.send(5).unwrap();
    /// drop(tx);
    /// futures_lite::future::block_on(async {
    ///     assert_eq!(rx.recv().await, Ok(5));
    ///     assert!(rx.recv().await.is_err());
    /// });
    /// ```
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next value: the building block of [`recv`] and of the
    /// [`Stream`] impl, for hand-written futures.
    ///
    /// [`recv`]: Receiver::recv
    ///
    /// # Errors
    ///
    /// `Ready(Err(RecvError))` once the channel is closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (tx, mut rx) = loopwork_sync::mpsc::unbounded();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(rx.poll_recv(&mut cx).is_pending());
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Ok(1)));
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        self.chan.queue.poll_get(&mut self.key, cx).map_err(|QueueShutDown| RecvError)
    }

    /// Receives a value if one is there right now. A value already handed
    /// to this receiver by a pending [`recv`](Receiver::recv) counts.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is there yet,
    /// [`TryRecvError::Closed`] if nothing will come.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::error::TryRecvError;
    ///
    /// let (tx, mut rx) = loopwork_sync::mpsc::unbounded();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        // Leaving the line of a pending receive returns any value already
        // handed to it to the front of the queue, where `try_get` finds it.
        self.chan.queue.cancel_get(&mut self.key);
        self.chan.queue.try_get().map_err(|err| match err {
            TryGetError::Empty => TryRecvError::Empty,
            TryGetError::ShutDown => TryRecvError::Closed,
        })
    }

    /// [`recv`](Receiver::recv) for a thread outside any event loop:
    /// blocks the thread until a value arrives. Do not call it from inside
    /// a task.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = loopwork_sync::mpsc::channel(1);
    /// std::thread::spawn(move || futures_lite::future::block_on(tx.send(3)).unwrap());
    /// assert_eq!(rx.recv_blocking(), Ok(3));
    /// ```
    pub fn recv_blocking(&mut self) -> Result<T, RecvError> {
        block_on(self.recv())
    }

    /// Closes the channel from the receiving side: sends fail from now on,
    /// and the values already queued can still be received.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = loopwork_sync::mpsc::unbounded();
    /// tx.send(1).unwrap();
    /// rx.close();
    /// assert!(tx.send(2).is_err());
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn close(&mut self) {
        self.chan.queue.shutdown(false);
    }

    /// Whether every sender is gone or the channel was closed (values may
    /// remain to be received).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = loopwork_sync::mpsc::unbounded::<u8>();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.queue.is_shutdown()
    }

    /// How many values are queued.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = loopwork_sync::mpsc::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.queue.len()
    }

    /// Whether no value is queued.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = loopwork_sync::mpsc::unbounded::<u8>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.queue.cancel_get(&mut self.key);
        self.chan.queue.shutdown(true);
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx).map(Result::ok)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), None)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("queue", &self.chan.queue).finish()
    }
}
