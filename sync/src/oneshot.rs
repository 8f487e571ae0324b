//! A channel for exactly one value, from one task or thread to another.
//!
//! The [`Receiver`] is a future. Dropping the [`Sender`] without sending
//! resolves it to [`RecvError`]; dropping the receiver makes
//! [`Sender::send`] hand the value back.
//!
//! # Examples
//!
//! ```
//! let (tx, rx) = loopwork_sync::oneshot::channel();
//! std::thread::spawn(move || tx.send("computed elsewhere").unwrap());
//! assert_eq!(futures_lite::future::block_on(rx), Ok("computed elsewhere"));
//! ```

use crate::block_on::block_on;
use crate::error::{RecvError, SendError, TryRecvError};
use parking_lot::Mutex;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

struct Shared<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    value: Option<T>,
    sender_alive: bool,
    receiver_alive: bool,
    receiver_waker: Option<Waker>,
}

/// A new one-value channel.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = loopwork_sync::oneshot::channel();
/// tx.send(1).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State { value: None, sender_alive: true, receiver_alive: true, receiver_waker: None }),
    });
    (Sender { shared: Arc::clone(&shared) }, Receiver { shared })
}

/// The sending half of a [`oneshot::channel`](channel).
///
/// # Examples
///
/// ```
/// let (tx, rx) = loopwork_sync::oneshot::channel::<u8>();
/// drop(tx); // never sends
/// assert!(futures_lite::future::block_on(rx).is_err());
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends the value, waking the receiver.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = loopwork_sync::oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(4).unwrap_err().into_inner(), 4);
    /// ```
    pub fn send(self, value: T) -> Result<(), SendError<T>> {
        let mut state = self.shared.state.lock();
        if !state.receiver_alive {
            return Err(SendError(value));
        }
        state.value = Some(value);
        // `Drop` for `self` wakes the receiver, which now finds the value.
        Ok(())
    }

    /// Whether the receiver is gone, so a send would fail.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = loopwork_sync::oneshot::channel::<u8>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        !self.shared.state.lock().receiver_alive
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.shared.state.lock();
            state.sender_alive = false;
            state.receiver_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("closed", &self.is_closed()).finish()
    }
}

/// The receiving half of a [`oneshot::channel`](channel): a future of the
/// value.
///
/// # Examples
///
/// ```
/// let (tx, rx) = loopwork_sync::oneshot::channel();
/// tx.send('x').unwrap();
/// assert_eq!(futures_lite::future::block_on(rx), Ok('x'));
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// Takes the value if it has been sent.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if the sender has not sent yet,
    /// [`TryRecvError::Closed`] if it is gone without sending (or the value
    /// was already taken).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork_sync::error::TryRecvError;
    ///
    /// let (tx, mut rx) = loopwork_sync::oneshot::channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = self.shared.state.lock();
        match state.value.take() {
            Some(value) => Ok(value),
            None if state.sender_alive => Err(TryRecvError::Empty),
            None => Err(TryRecvError::Closed),
        }
    }

    /// Waits for the value on a thread outside any event loop. Do not call
    /// it from inside a task, whose thread it would block.
    ///
    /// # Errors
    ///
    /// [`RecvError`] if the sender is gone without sending.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = loopwork_sync::oneshot::channel();
    /// std::thread::spawn(move || tx.send(2).unwrap());
    /// assert_eq!(rx.recv_blocking(), Ok(2));
    /// ```
    pub fn recv_blocking(self) -> Result<T, RecvError> {
        block_on(self)
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let mut state = self.shared.state.lock();
        if let Some(value) = state.value.take() {
            return Poll::Ready(Ok(value));
        }
        if !state.sender_alive {
            return Poll::Ready(Err(RecvError));
        }
        let replaced = match &mut state.receiver_waker {
            Some(waker) if waker.will_wake(cx.waker()) => None,
            slot => slot.replace(cx.waker().clone()),
        };
        drop(state);
        // Dropped outside the lock: a waker's `Drop` may re-enter this channel.
        drop(replaced);
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let value = {
            let mut state = self.shared.state.lock();
            state.receiver_alive = false;
            state.value.take()
        };
        // Dropped outside the lock: the value's `Drop` may do anything.
        drop(value);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("Receiver").field("sent", &state.value.is_some()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::channel;
    use crate::error::RecvError;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    #[test]
    fn dropping_the_sender_without_sending_wakes_the_receiver_with_an_error() {
        let (tx, rx) = channel::<u8>();
        let mut rx = pin!(rx);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(rx.as_mut().poll(&mut cx).is_pending());
        drop(tx);
        assert_eq!(rx.as_mut().poll(&mut cx), Poll::Ready(Err(RecvError)));
    }
}
