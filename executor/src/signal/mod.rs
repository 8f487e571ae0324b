//! Unix signals on the loop: [`ctrl_c`], the [`Signals`] stream, and the
//! machinery behind asyncio's `loop.add_signal_handler`
//! ([`Handle::add_signal_handler`]).
//!
//! A signal handler may do almost nothing safely, so loopwork's does one
//! thing: it notes the signal and writes a byte to a process-wide self-pipe.
//! Every loop with a listener reads that pipe on its own reactor, like any
//! other descriptor, and whichever loop reads it first delivers the signal to
//! every listener in the process: streams are woken, handlers are scheduled
//! with `call_soon` on their loops. There is no signal thread and no task.
//!
//! A signal's handler is installed when its first listener appears (a
//! [`Signals`], a [`CtrlC`], or a handler added on any loop) and the
//! disposition it had before is restored when its last listener goes away,
//! so a program that stops listening for SIGTERM dies of it again.
//!
//! ```
//! use loopwork::signal::{Signals, SIGUSR1};
//!
//! loopwork::run(async {
//!     let mut signals = Signals::new([SIGUSR1])?;
//!     // Another process would normally send it.
//!     std::process::Command::new("kill").args(["-USR1", &std::process::id().to_string()]).status()?;
//!     assert_eq!(signals.recv().await, SIGUSR1);
//!     std::io::Result::Ok(())
//! })?;
//! # std::io::Result::Ok(())
//! ```
//!
//! A signal that arrives again before a listener has taken the previous one
//! is reported once, as the kernel does for a standard signal still pending.
//! A listener's loop counts as waiting for I/O, so a loop with a
//! [paused clock](crate::Builder::paused_clock) does not jump its clock
//! while it has one.
//!
//! # Graceful shutdown
//!
//! A server under a process manager gets SIGTERM (and SIGINT from a
//! terminal). On either: stop accepting, then close the loop with a
//! deadline: [`EventLoop::shutdown`](crate::EventLoop::shutdown) cancels
//! every task still running (the connections in flight) and waits at most
//! that long for the workers to let go of them.
//!
//! ```
//! use std::time::Duration;
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! use loopwork::net::TcpListener;
//! use loopwork::signal::{Signals, SIGINT, SIGTERM};
//! use loopwork::EventLoop;
//!
//! let event_loop = EventLoop::new();
//! event_loop.block_on(async {
//!     let mut signals = Signals::new([SIGINT, SIGTERM])?;
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let acceptor = loopwork::spawn(async move {
//!         while let Ok((mut stream, _)) = listener.accept().await {
//!             loopwork::spawn(async move {
//!                 let mut buf = [0; 1024];
//!                 while let Ok(n @ 1..) = stream.read(&mut buf).await {
//!                     let _ = stream.write_all(&buf[..n]).await;
//!                 }
//!             });
//!         }
//!     });
//!     // The process manager would send this.
//!     std::process::Command::new("kill").args(["-TERM", &std::process::id().to_string()]).status()?;
//!     let signal = signals.recv().await;
//!     println!("got signal {signal}, shutting down");
//!     // Stop accepting: the acceptor's task drops the listener.
//!     acceptor.cancel();
//!     std::io::Result::Ok(())
//! })?;
//! // Cancel the connections still open, waiting at most five seconds.
//! event_loop.shutdown(Duration::from_secs(5)).expect("every worker stopped in time");
//! # std::io::Result::Ok(())
//! ```

mod handler;
mod registry;

use crate::error::Closed;
use crate::handle::Handle;
use crate::scheduler::Shared;
use futures_core::Stream;
use loopwork_reactor::Reactor;
use parking_lot::Mutex;
use registry::{Kind, Listener, SignalSet};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::raw::c_int;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub use libc::{SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

/// A stream of the signals it was created for, each item a signal number.
///
/// The signals are listened for from [`Signals::new`] on, not from the first
/// poll: one that arrives in between is yielded by that poll. Dropping the
/// stream stops listening, and restores a signal's previous disposition if
/// this was its last listener.
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt;
/// use loopwork::signal::{Signals, SIGHUP, SIGUSR2};
///
/// loopwork::run(async {
///     let mut signals = Signals::new([SIGHUP, SIGUSR2])?;
///     std::process::Command::new("kill").args(["-USR2", &std::process::id().to_string()]).status()?;
///     assert_eq!(signals.next().await, Some(SIGUSR2));
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub struct Signals {
    key: usize,
    listener: Arc<Listener>,
}

impl Signals {
    /// Starts listening for `signals` on the calling code's loop.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if `signals` is empty or holds a
    /// number that is not a signal, or SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,
    /// SIGILL or SIGFPE (which cannot be caught or returned from); an error
    /// saying so outside a loopwork loop; the system's error if the
    /// self-pipe or a handler cannot be set up.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::signal::{Signals, SIGTERM};
    ///
    /// loopwork::run(async {
    ///     assert!(Signals::new([SIGTERM]).is_ok());
    ///     let refused = Signals::new([9]).unwrap_err(); // SIGKILL cannot be caught
    ///     assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
    /// });
    /// assert!(Signals::new([SIGTERM]).is_err()); // not in a loop
    /// ```
    pub fn new(signals: impl IntoIterator<Item = c_int>) -> io::Result<Signals> {
        let mut set: SignalSet = 0;
        for signal in signals {
            handler::validate(signal)?;
            set |= registry::bit(signal);
        }
        if set == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Signals::new was given no signal; pass at least one, such as [SIGINT, SIGTERM]",
            ));
        }
        let reactor = Reactor::current().ok_or_else(|| {
            io::Error::other(
                "Signals::new called outside a loopwork event loop; create it in a task or a block_on future",
            )
        })?;
        let listener = Arc::new(Listener { signals: set, reactor, kind: Kind::Stream(Mutex::default()) });
        let key = registry::add(listener.clone())?;
        Ok(Signals { key, listener })
    }

    /// Waits for the next signal and returns its number.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::signal::{Signals, SIGUSR1};
    ///
    /// loopwork::run(async {
    ///     let mut signals = Signals::new([SIGUSR1])?;
    ///     std::process::Command::new("kill").args(["-USR1", &std::process::id().to_string()]).status()?;
    ///     assert_eq!(signals.recv().await, SIGUSR1);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn recv(&mut self) -> c_int {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Signals::recv): the next signal, or
    /// `Pending` with `cx`'s waker kept to be woken when one arrives. Of
    /// several signals waiting, the lowest number comes first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    /// use loopwork::signal::{Signals, SIGUSR1};
    ///
    /// loopwork::run(async {
    ///     let mut signals = Signals::new([SIGUSR1])?;
    ///     let mut cx = Context::from_waker(Waker::noop());
    ///     assert_eq!(signals.poll_recv(&mut cx), Poll::Pending);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<c_int> {
        let Kind::Stream(state) = &self.listener.kind else { unreachable!("a Signals owns a stream listener") };
        let displaced;
        let mut state = state.lock();
        if let Some(signal) = registry::signals_in(state.pending).next() {
            state.pending &= !registry::bit(signal);
            return Poll::Ready(signal);
        }
        displaced = match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => None,
            _ => state.waker.replace(cx.waker().clone()),
        };
        drop(state);
        // Dropped unlocked: a waker's drop may run executor code.
        drop(displaced);
        Poll::Pending
    }
}

impl Stream for Signals {
    type Item = c_int;

    /// Never ends: `None` is never returned.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<c_int>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        let key = self.key;
        registry::remove_where(|listener, _| listener == key);
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signals: Vec<c_int> = registry::signals_in(self.listener.signals).collect();
        f.debug_struct("Signals").field("signals", &signals).finish_non_exhaustive()
    }
}

/// Completes at the next Ctrl-C (SIGINT). See [`CtrlC`].
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let ctrl_c = loopwork::signal::ctrl_c();
///     std::process::Command::new("kill").args(["-INT", &std::process::id().to_string()]).status()?;
///     ctrl_c.await?;
///     println!("interrupted; shutting down");
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub fn ctrl_c() -> CtrlC {
    CtrlC { signals: Signals::new([SIGINT]).map_err(Some) }
}

/// The future of [`ctrl_c`]: SIGINT is listened for from the call on, so a
/// Ctrl-C pressed before the first poll is not lost, and until the future is
/// dropped, when the previous disposition comes back (the program dies of
/// the next Ctrl-C again, unless something else listens).
///
/// Polled again after a Ctrl-C, it waits for the next one.
///
/// # Errors
///
/// Its output is the error of [`Signals::new`] if `ctrl_c` was called
/// outside a loopwork loop or the handler could not be installed.
///
/// # Panics
///
/// If polled again after it returned an error.
///
/// # Examples
///
/// ```
/// let event_loop = loopwork::EventLoop::new();
/// // Called outside the loop: the error comes out when it is awaited.
/// let outside = loopwork::signal::ctrl_c();
/// assert!(event_loop.block_on(outside).is_err());
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct CtrlC {
    /// `Err(None)` once the error was returned.
    signals: Result<Signals, Option<io::Error>>,
}

impl Future for CtrlC {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().signals {
            Ok(signals) => signals.poll_recv(cx).map(|_| Ok(())),
            Err(error) => Poll::Ready(Err(error.take().expect("CtrlC polled again after it returned an error"))),
        }
    }
}

impl fmt::Debug for CtrlC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CtrlC").field("signals", &self.signals).finish()
    }
}

/// [`Handle::add_signal_handler`]: `callback` runs on `handle`'s loop, as
/// with `call_soon`, at each arrival of `signal`, replacing the loop's
/// previous handler for it.
pub(crate) fn add_handler(handle: &Handle, signal: c_int, callback: Arc<dyn Fn() + Send + Sync>) -> io::Result<()> {
    handler::validate(signal)?;
    let closed = || io::Error::other(format!("cannot add a handler for signal {signal}: {Closed}"));
    if handle.is_closed() {
        return Err(closed());
    }
    let reactor = handle.shared().reactor.clone();
    let kind = Kind::Handler { handle: handle.clone(), callback };
    let key = registry::add(Arc::new(Listener { signals: registry::bit(signal), reactor, kind }))?;
    // Added before the old one goes, so the signal never falls back to its
    // previous disposition in between.
    let shared: &Shared = handle.shared();
    registry::remove_where(|other, listener| {
        other != key && registry::is_handler_of(listener, shared, registry::bit(signal))
    });
    // `close` marks the loop closed before it forgets the loop's handlers
    // under the registry lock; `add` took that lock too, so either
    // `forget_loop` saw this handler or this reads the loop as closed.
    if handle.is_closed() {
        registry::remove_where(|other, _| other == key);
        return Err(closed());
    }
    Ok(())
}

/// [`Handle::remove_signal_handler`].
pub(crate) fn remove_handler(handle: &Handle, signal: c_int) -> bool {
    if handler::validate(signal).is_err() {
        return false;
    }
    let shared: &Shared = handle.shared();
    registry::remove_where(|_, listener| registry::is_handler_of(listener, shared, registry::bit(signal))) > 0
}

/// Removes every signal handler of the loop `shared`, as asyncio's
/// `loop.close()` does; called when the loop closes.
pub(crate) fn forget_loop(shared: &Shared) {
    registry::remove_where(|_, listener| registry::is_handler_of(listener, shared, SignalSet::MAX));
}
