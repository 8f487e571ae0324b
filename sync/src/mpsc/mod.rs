//! Multi-producer, single-consumer channels, bounded and unbounded.
//!
//! Senders queue values behind a mutex; the receiver takes the whole queue
//! at once and receives from its own batch without a lock until the batch
//! runs dry (`chan.rs`). The last sender to go closes the channel gently (the
//! receiver drains what is left, then gets [`RecvError`]), and a receiver
//! that goes closes it at once (queued values are dropped and sends fail,
//! handing the value back).
//!
//! Senders waiting for room are served in arrival order, as queue putters
//! are. The [`Receiver`] is a [`Stream`]; a value leaves the channel only
//! when a receive returns it, so a dropped `recv()` future never loses one.
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

mod chan;

use crate::block_on::block_on;
use crate::error::{RecvError, SendError, TryPutError, TryRecvError, TrySendError};
use chan::{Chan, Closed};
use futures_core::Stream;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

fn new_chan<T>(capacity: usize) -> (Arc<Chan<T>>, Receiver<T>) {
    let chan = Arc::new(Chan::new(capacity));
    let receiver = Receiver { chan: Arc::clone(&chan), batch: VecDeque::new() };
    (chan, receiver)
}

fn add_sender<T>(chan: &Arc<Chan<T>>) -> Arc<Chan<T>> {
    // Relaxed is enough: the count only has to reach zero exactly once, and
    // the channel's mutex orders the close against every send.
    chan.senders.fetch_add(1, Ordering::Relaxed);
    Arc::clone(chan)
}

fn drop_sender<T>(chan: &Chan<T>) {
    // Relaxed for the same reason as in `add_sender`: the decrement that
    // reaches zero is unique whatever the ordering.
    if chan.senders.fetch_sub(1, Ordering::Relaxed) == 1 {
        chan.close(false);
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
        self.chan.send(value).await.map_err(SendError)
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
        self.chan.try_send(value).map_err(try_send_error)
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
        self.chan.is_closed()
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
        f.debug_struct("Sender").field("len", &self.chan.len()).finish_non_exhaustive()
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
        self.chan.try_send(value).map_err(|err| SendError(err.into_inner()))
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
        self.chan.is_closed()
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
        f.debug_struct("UnboundedSender").field("len", &self.chan.len()).finish_non_exhaustive()
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
    /// Values taken from the channel's queue all at once, received from
    /// here without a lock; they still count in the channel's length.
    batch: VecDeque<T>,
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
        // May complete without waiting: takes a unit of the cooperative
        // budget first (inactive outside a loopwork loop; see
        // `loopwork_coop`), and gives it back if it waits.
        std::task::ready!(loopwork_coop::poll_proceed(cx));
        let poll = self.chan.poll_recv(&mut self.batch, cx);
        if poll.is_pending() {
            loopwork_coop::refund();
        }
        poll.map_err(|Closed| RecvError)
    }

    /// Receives a value if one is there right now.
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
        self.chan.try_recv(&mut self.batch)
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
        self.chan.close(false);
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
        self.chan.is_closed()
    }

    /// How many values are queued (counting those taken into this
    /// receiver's batch and not received yet).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = loopwork_sync::mpsc::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
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
        // The queued values are dropped here, after the channel's mutex is
        // released (a value's `Drop` may use the channel); the batch with
        // the receiver.
        drop(self.chan.close(true));
    }
}

// The values are never pinned: a receive moves them out.
impl<T> Unpin for Receiver<T> {}

// SAFETY: the batch, the only field that holds values, is reached only
// through `&mut self` (receives, `close`, `Drop`); through `&self` a
// receiver reads the channel's count and mode only. So sharing `&Receiver`
// between threads never shares a `T`, and the receiver is `Sync` whenever
// it is `Send`, as it was when its values sat behind the channel's mutex.
unsafe impl<T: Send> Sync for Receiver<T> {}

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
        f.debug_struct("Receiver").field("len", &self.len()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::channel;
    use crate::error::TrySendError;
    use crate::test_support::poll_once;
    use std::pin::pin;
    use std::task::Poll;

    #[test]
    fn room_goes_to_the_waiting_senders_in_order_before_any_newcomer() {
        let (tx, mut rx) = channel(1);
        tx.try_send(0).unwrap();
        let mut first = pin!(tx.send(1));
        let mut second = pin!(tx.send(2));
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        assert_eq!(rx.try_recv(), Ok(0));
        // The room is reserved for `first`: neither a newcomer nor `second`
        // takes it.
        assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
        assert!(poll_once(second.as_mut()).is_pending());
        assert_eq!(poll_once(first.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(poll_once(second.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(2));
    }

    #[test]
    fn a_sender_dropped_with_room_reserved_passes_it_on() {
        let (tx, mut rx) = channel(1);
        tx.try_send(0).unwrap();
        let mut first = Box::pin(tx.send(1));
        let mut second = pin!(tx.send(2));
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        assert_eq!(rx.try_recv(), Ok(0));
        drop(first);
        assert_eq!(poll_once(second.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(2));
    }

    #[test]
    fn values_taken_into_the_receivers_batch_still_count_and_take_room() {
        let (tx, mut rx) = channel(3);
        for value in 0..3 {
            tx.try_send(value).unwrap();
        }
        // The first receive takes all three into the batch.
        assert_eq!(rx.try_recv(), Ok(0));
        assert_eq!(rx.len(), 2);
        tx.try_send(3).unwrap();
        assert_eq!(tx.try_send(4), Err(TrySendError::Full(4)));
        assert_eq!((rx.try_recv(), rx.try_recv(), rx.try_recv()), (Ok(1), Ok(2), Ok(3)));
        assert!(rx.is_empty());
    }

    #[test]
    fn closing_refuses_the_waiting_senders_and_leaves_the_rest_to_drain() {
        let (tx, mut rx) = channel(1);
        tx.try_send(0).unwrap();
        let mut waiting = pin!(tx.send(1));
        assert!(poll_once(waiting.as_mut()).is_pending());
        rx.close();
        let Poll::Ready(Err(refused)) = poll_once(waiting.as_mut()) else { panic!("a waiting sender is refused") };
        assert_eq!(refused.into_inner(), 1);
        assert_eq!(rx.try_recv(), Ok(0));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn dropping_the_receiver_drops_the_queued_and_batched_values() {
        let value = std::sync::Arc::new(());
        let (tx, mut rx) = channel(4);
        for _ in 0..3 {
            tx.try_send(value.clone()).unwrap();
        }
        drop(rx.try_recv().unwrap()); // the other two wait in the batch
        tx.try_send(value.clone()).unwrap(); // and one in the queue
        drop(rx);
        assert_eq!(std::sync::Arc::strong_count(&value), 1);
        assert!(tx.is_closed());
        assert!(tx.try_send(value.clone()).is_err());
    }
}
