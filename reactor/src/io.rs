//! `Async<T>`: any non-blocking file descriptor, registered with the current reactor.

use std::fmt;
use std::future::Future;
use std::io::{self, Read, Write};
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::poller::Poller;
use futures_io::{AsyncRead, AsyncWrite};

use crate::source::{Direction, Source, Waiter};
use crate::Reactor;

/// An I/O handle driven by a loopwork reactor.
///
/// `Async::new` puts the descriptor in non-blocking mode and registers it with the current
/// reactor; the `*_with` methods then retry an operation whenever it would block, after the
/// reactor reports the descriptor ready. The descriptor is deleted from the poller before `T`
/// is dropped (or returned by [`into_inner`](Async::into_inner)).
///
/// `Async<T>` implements futures-io's [`AsyncRead`] and [`AsyncWrite`] when `T` implements
/// [`Read`] and [`Write`], and so does `&Async<T>` when `&T` does (sockets), which lets two
/// tasks read and write one socket at the same time.
///
/// # Examples
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use std::sync::Arc;
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use loopwork_reactor::{Async, Reactor};
///
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let (a, b) = UnixStream::pair()?;
///     let (mut a, mut b) = (Async::new(a)?, Async::new(b)?);
///     a.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub struct Async<T: AsFd> {
    source: Arc<Source>,
    reactor: Arc<Reactor>,
    /// `None` only while being dropped or taken apart by `into_inner`.
    io: Option<T>,
}

impl<T: AsFd> Async<T> {
    /// Puts `io` in non-blocking mode and registers it with the current reactor.
    ///
    /// # Errors
    ///
    /// Fails with [`io::ErrorKind::Other`] and a message saying so when this thread is not in
    /// a loopwork event loop (no [`Reactor::enter`]), and with the system's error if the
    /// descriptor cannot be made non-blocking or registered (for instance, a regular file on
    /// Linux, which epoll refuses).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(Async::new(socket.try_clone()?).is_err()); // not in a loop
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let socket = Async::new(socket)?;
    /// assert!(socket.get_ref().local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn new(io: T) -> io::Result<Async<T>> {
        let reactor = Reactor::current().ok_or_else(|| {
            io::Error::other(
                "Async::new called outside a loopwork event loop; create I/O objects in a task \
                 of an EventLoop, or enter a Reactor on this thread first (Reactor::enter)",
            )
        })?;
        rustix::io::ioctl_fionbio(&io, true)?;
        let source = reactor.insert_source();
        let (interest, mode) = source.initial_interest();
        // SAFETY: the poller (`poller::Poller::add_with_mode`, `polling`'s contract on every
        // backend) requires the descriptor to be deleted from it before it is closed. `io` owns (or borrows, for at least the lifetime of this `Async`) the
        // descriptor, and this `Async` keeps it until `Drop` or `into_inner`, both of which
        // delete it from the poller first. Should a caller leak the `Async`, or close the
        // descriptor behind our back (`get_mut`), the Unix backends stay sound all the same:
        // the kernel drops a closed descriptor from an epoll or kqueue set by itself, and
        // `poll` reports it as invalid; what remains is a source that no longer wakes anyone.
        let added = unsafe { reactor.poller().add_with_mode(io.as_fd().as_raw_fd(), interest, mode) };
        if let Err(err) = added {
            // Never added: there is nothing to delete, only the reserved key to give back.
            let _ = reactor.remove_source(&source, None);
            return Err(err);
        }
        Ok(Async { source, reactor, io: Some(io) })
    }

    /// The inner I/O handle.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let socket = Async::new(UdpSocket::bind("127.0.0.1:0")?)?;
    /// assert!(socket.get_ref().local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("the I/O handle is present until Async is dropped")
    }

    /// The inner I/O handle, mutably.
    ///
    /// Do not replace or close the handle through this reference: the reactor would keep
    /// waiting on the old descriptor, and waiters would never be woken.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let mut stream = Async::new(UnixStream::pair()?.0)?;
    /// stream.get_mut().set_read_timeout(None)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.io.as_mut().expect("the I/O handle is present until Async is dropped")
    }

    /// Deletes the descriptor from the reactor and returns the I/O handle, which is left in
    /// non-blocking mode.
    ///
    /// # Errors
    ///
    /// Returns the poller's error if deleting the descriptor fails; the handle is then
    /// dropped (and closed), since it can no longer be released safely.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let socket = Async::new(UdpSocket::bind("127.0.0.1:0")?)?;
    /// let socket: UdpSocket = socket.into_inner()?;
    /// socket.set_nonblocking(false)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn into_inner(mut self) -> io::Result<T> {
        let io = self.io.take().expect("the I/O handle is present until Async is dropped");
        self.reactor.remove_source(&self.source, Some(io.as_fd()))?;
        Ok(io)
    }

    /// Waits until the handle is readable: completes once the reactor reports read readiness
    /// that is current at, or newer than, the first poll.
    ///
    /// Readiness is a hint, as with `poll(2)`: another reader may take the data first, so the
    /// read that follows can still return [`io::ErrorKind::WouldBlock`]. Prefer
    /// [`read_with`](Async::read_with), which handles that.
    ///
    /// # Errors
    ///
    /// Fails if the poller refuses to re-check the descriptor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let (a, mut b) = UnixStream::pair()?;
    ///     let a = Async::new(a)?;
    ///     b.write_all(b"x")?;
    ///     a.readable().await
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        // May complete without waiting: takes a unit of the cooperative budget first (inactive
        // outside a loopwork loop; see `loopwork_coop`).
        loopwork_coop::consume_budget().await;
        self.wait(Direction::Read, self.source.tick(Direction::Read), true).await
    }

    /// Waits until the handle is writable; see [`readable`](Async::readable).
    ///
    /// # Errors
    ///
    /// Fails if the poller refuses to re-check the descriptor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async { Async::new(UnixStream::pair()?.0)?.writable().await })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        // May complete without waiting: takes a unit of the cooperative budget first (inactive
        // outside a loopwork loop; see `loopwork_coop`).
        loopwork_coop::consume_budget().await;
        self.wait(Direction::Write, self.source.tick(Direction::Write), true).await
    }

    /// The poll form of [`readable`](Async::readable), for `poll`-based code: ready once read
    /// readiness newer than the first call of a waiting streak is reported. Only the task of
    /// the latest call is woken.
    ///
    /// # Errors
    ///
    /// Fails if the poller refuses to re-check the descriptor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let (a, mut b) = UnixStream::pair()?;
    ///     let a = Async::new(a)?;
    ///     b.write_all(b"x")?;
    ///     poll_fn(|cx| a.poll_readable(cx)).await
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // As in `readable` (see `loopwork_coop`); waiting costs nothing.
        std::task::ready!(loopwork_coop::poll_proceed(cx));
        refund_if_pending(self.source.poll_ready(self.reactor.poller(), self.fd(), Direction::Read, cx))
    }

    /// The poll form of [`writable`](Async::writable); see [`poll_readable`](Async::poll_readable).
    ///
    /// # Errors
    ///
    /// Fails if the poller refuses to re-check the descriptor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::os::unix::net::UnixStream;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let a = Async::new(UnixStream::pair()?.0)?;
    ///     poll_fn(|cx| a.poll_writable(cx)).await
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // As in `readable` (see `loopwork_coop`); waiting costs nothing.
        std::task::ready!(loopwork_coop::poll_proceed(cx));
        refund_if_pending(self.source.poll_ready(self.reactor.poller(), self.fd(), Direction::Write, cx))
    }

    /// Runs a read-like operation until it stops returning [`io::ErrorKind::WouldBlock`],
    /// waiting for read readiness in between.
    ///
    /// `op` is tried first, without waiting, so readiness that is already there costs nothing.
    ///
    /// # Errors
    ///
    /// Returns `op`'s first error other than `WouldBlock`, or a poller error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = Async::new(TcpListener::bind("127.0.0.1:0")?)?;
    ///     let _client = TcpStream::connect(listener.get_ref().local_addr()?)?;
    ///     let (_stream, peer) = listener.read_with(|l| l.accept()).await?;
    ///     assert!(peer.ip().is_loopback());
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn read_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut op = op;
        retry_until_ready(self, Direction::Read, |this| op(this.get_ref())).await
    }

    /// Like [`read_with`](Async::read_with), with mutable access to the handle.
    ///
    /// # Errors
    ///
    /// Returns `op`'s first error other than `WouldBlock`, or a poller error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::unix::net::UnixStream;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let (a, mut b) = UnixStream::pair()?;
    ///     let mut a = Async::new(a)?;
    ///     b.write_all(b"hi")?;
    ///     let mut buf = [0; 2];
    ///     a.read_with_mut(|s| s.read_exact(&mut buf)).await?;
    ///     assert_eq!(&buf, b"hi");
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn read_with_mut<R>(&mut self, op: impl FnMut(&mut T) -> io::Result<R>) -> io::Result<R> {
        let mut op = op;
        retry_until_ready(self, Direction::Read, |this| op(this.get_mut())).await
    }

    /// Runs a write-like operation until it stops returning [`io::ErrorKind::WouldBlock`],
    /// waiting for write readiness in between.
    ///
    /// # Errors
    ///
    /// Returns `op`'s first error other than `WouldBlock`, or a poller error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let socket = Async::new(UdpSocket::bind("127.0.0.1:0")?)?;
    ///     let to = socket.get_ref().local_addr()?;
    ///     let sent = socket.write_with(|s| s.send_to(b"hello", to)).await?;
    ///     assert_eq!(sent, 5);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn write_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut op = op;
        retry_until_ready(self, Direction::Write, |this| op(this.get_ref())).await
    }

    /// Like [`write_with`](Async::write_with), with mutable access to the handle.
    ///
    /// # Errors
    ///
    /// Returns `op`'s first error other than `WouldBlock`, or a poller error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let (a, _b) = UnixStream::pair()?;
    ///     let mut a = Async::new(a)?;
    ///     a.write_with_mut(|s| s.write(b"hi")).await
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn write_with_mut<R>(&mut self, op: impl FnMut(&mut T) -> io::Result<R>) -> io::Result<R> {
        let mut op = op;
        retry_until_ready(self, Direction::Write, |this| op(this.get_mut())).await
    }

    /// The poll form of [`read_with`](Async::read_with), for `Stream` and `AsyncRead`
    /// implementations: tries `op`, and if it would block, registers the task (only the
    /// latest caller's task is woken) and returns `Pending`. `op` is tried on every poll:
    /// it may be another operation than the last one on this direction (a read of the error
    /// queue, then of the data), and one of them blocking says nothing of the other.
    ///
    /// # Errors
    ///
    /// Returns `op`'s first error other than `WouldBlock`, or a poller error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::net::UdpSocket;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let socket = Async::new(UdpSocket::bind("127.0.0.1:0")?)?;
    ///     socket.get_ref().send_to(b"x", socket.get_ref().local_addr()?)?;
    ///     let mut buf = [0; 1];
    ///     let (n, _) = poll_fn(|cx| socket.poll_read_with(cx, |s| s.recv_from(&mut buf))).await?;
    ///     assert_eq!(n, 1);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = &mut self.get_ref();
        poll_io(&self.source, self.reactor.poller(), io, Direction::Read, Retry::Always, cx, |io| op(io))
    }

    /// The poll form of [`write_with`](Async::write_with); see
    /// [`poll_read_with`](Async::poll_read_with).
    ///
    /// # Errors
    ///
    /// Returns `op`'s first error other than `WouldBlock`, or a poller error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::net::UdpSocket;
    /// use std::sync::Arc;
    /// use loopwork_reactor::{Async, Reactor};
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let socket = Async::new(UdpSocket::bind("127.0.0.1:0")?)?;
    ///     let to = socket.get_ref().local_addr()?;
    ///     poll_fn(|cx| socket.poll_write_with(cx, |s| s.send_to(b"x", to))).await
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = &mut self.get_ref();
        poll_io(&self.source, self.reactor.poller(), io, Direction::Write, Retry::Always, cx, |io| op(io))
    }

    /// [`poll_read_with`](Async::poll_read_with) for an operation that is the only one ever
    /// made on the read direction (a listener's accept): one that would block is not tried
    /// again before the next event (`Retry::AfterEvent`).
    pub(crate) fn poll_read_only_op<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = &mut self.get_ref();
        poll_io(&self.source, self.reactor.poller(), io, Direction::Read, Retry::AfterEvent, cx, |io| op(io))
    }

    /// `AsyncRead::poll_read` for a TCP stream: a read that
    /// comes back short while the peer has not closed means the receive queue is empty, so
    /// the next read waits for an event instead of trying a `recv` that could only fail
    /// (`Source::read_came_back_short`). A request/response protocol reads short after every
    /// message; tokio's streams skip that `recv` the same way.
    pub(crate) fn poll_read_stream(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>
    where
        for<'a> &'a T: Read,
    {
        let source = &self.source;
        poll_io(source, self.reactor.poller(), &mut self.get_ref(), Direction::Read, Retry::AfterEvent, cx, |io| {
            let since = source.tick(Direction::Read);
            let read = io.read(buf)?;
            if read > 0 && read < buf.len() {
                source.read_came_back_short(since);
            }
            Ok(read)
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }

    /// A future that completes when `dir`'s tick moves past `since`.
    fn wait(&self, dir: Direction, since: u64, recheck: bool) -> Wait<'_> {
        Wait {
            source: &self.source,
            poller: self.reactor.poller(),
            fd: self.fd(),
            waiter: Waiter::new(dir, since, recheck),
        }
    }
}

/// The loop behind `read_with`, `write_with` and their `_mut` forms: `attempt` until it stops
/// returning `WouldBlock`, waiting for `dir`'s tick to move in between. `this` is the `Async`
/// by shared or by exclusive reference, as the caller's `op` needs the handle.
async fn retry_until_ready<T: AsFd, A: Deref<Target = Async<T>>, R>(
    mut this: A,
    dir: Direction,
    mut attempt: impl FnMut(&mut A) -> io::Result<R>,
) -> io::Result<R> {
    // May complete without waiting: takes a unit of the cooperative budget first (inactive
    // outside a loopwork loop; see `loopwork_coop`).
    loopwork_coop::consume_budget().await;
    loop {
        let since = this.source.tick(dir);
        match attempt(&mut this) {
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            result => return result,
        }
        this.wait(dir, since, false).await?;
    }
}

/// Gives back the budget unit a readiness poll took if it has to wait.
fn refund_if_pending<T>(poll: Poll<T>) -> Poll<T> {
    if poll.is_pending() {
        loopwork_coop::refund();
    }
    poll
}

/// The one loop behind every poll-based operation: sample the tick, try, and on `WouldBlock`
/// register unless an event arrived meanwhile (in which case, try again). With
/// `Retry::AfterEvent`, an operation that already failed with `WouldBlock` at the sampled
/// tick is not tried again until an event moves the tick (`Source::blocked_at`): polled again
/// for another reason, the task goes back to sleep without a system call.
fn poll_io<I: AsFd, R>(
    source: &Source,
    poller: &Poller,
    io: &mut I,
    dir: Direction,
    retry: Retry,
    cx: &mut Context<'_>,
    op: impl FnMut(&mut I) -> io::Result<R>,
) -> Poll<io::Result<R>> {
    // Every poll-based read and write comes through here: one unit of the cooperative budget
    // each, given back if it has to wait (see `loopwork_coop`).
    std::task::ready!(loopwork_coop::poll_proceed(cx));
    refund_if_pending(try_or_register(source, poller, io, dir, retry, cx, op))
}

/// Whether `poll_io` may skip an operation that would block again (`Source::blocked_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// The operation is the only one made on its direction (a stream's reads or writes, a
    /// listener's accepts): one that would block blocks again until an event, so it is not
    /// tried before one.
    AfterEvent,
    /// The caller's operation (`poll_read_with`), or a flush: another operation on the same
    /// direction may have blocked where this one would not, so it is always tried.
    Always,
}

/// `poll_io`'s loop, outside the budget.
fn try_or_register<I: AsFd, R>(
    source: &Source,
    poller: &Poller,
    io: &mut I,
    dir: Direction,
    retry: Retry,
    cx: &mut Context<'_>,
    mut op: impl FnMut(&mut I) -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        let since = source.tick(dir);
        let remembered = retry == Retry::AfterEvent;
        if !(remembered && source.blocked_at(dir, since)) {
            match op(io) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    if remembered {
                        source.set_blocked(dir, since);
                    }
                }
                result => return Poll::Ready(result),
            }
        }
        match source.register_slot(poller, io.as_fd(), dir, since, cx.waker()) {
            Ok(true) => return Poll::Pending,
            Ok(false) => continue,
            Err(err) => return Poll::Ready(Err(err)),
        }
    }
}

/// Waits for one direction's tick to move; owns a waiter entry while pending.
struct Wait<'a> {
    source: &'a Source,
    poller: &'a Poller,
    fd: BorrowedFd<'a>,
    waiter: Waiter,
}

impl Future for Wait<'_> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.source.poll_wait(this.poller, this.fd, &mut this.waiter, cx)
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        self.source.remove_wait(&mut self.waiter);
    }
}

// `Async` never pins `T` (it only lends `&T` and `&mut T`), so moving it is always fine, and
// the I/O traits can take `Pin<&mut Self>` without asking `T: Unpin`.
impl<T: AsFd> Unpin for Async<T> {}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            // Deleted from the poller while the descriptor is still open; closed just below.
            let _ = self.reactor.remove_source(&self.source, Some(io.as_fd()));
            drop(io);
        }
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}

impl<T: AsFd> AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd().as_raw_fd()
    }
}

impl<T: AsFd + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async").field("io", &self.io).field("key", &self.source.key).finish_non_exhaustive()
    }
}

impl<T: AsFd + Read> AsyncRead for Async<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let io = this.io.as_mut().expect("the I/O handle is present until Async is dropped");
        poll_io(&this.source, this.reactor.poller(), io, Direction::Read, Retry::AfterEvent, cx, |io| io.read(buf))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let io = this.io.as_mut().expect("the I/O handle is present until Async is dropped");
        poll_io(&this.source, this.reactor.poller(), io, Direction::Read, Retry::AfterEvent, cx, |io| {
            io.read_vectored(bufs)
        })
    }
}

impl<T: AsFd> AsyncRead for &Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = *self;
        poll_io(
            &this.source,
            this.reactor.poller(),
            &mut this.get_ref(),
            Direction::Read,
            Retry::AfterEvent,
            cx,
            |io| io.read(buf),
        )
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = *self;
        let poller = this.reactor.poller();
        poll_io(&this.source, poller, &mut this.get_ref(), Direction::Read, Retry::AfterEvent, cx, |io| {
            io.read_vectored(bufs)
        })
    }
}

impl<T: AsFd + Write> AsyncWrite for Async<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let io = this.io.as_mut().expect("the I/O handle is present until Async is dropped");
        poll_io(&this.source, this.reactor.poller(), io, Direction::Write, Retry::AfterEvent, cx, |io| io.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let io = this.io.as_mut().expect("the I/O handle is present until Async is dropped");
        poll_io(&this.source, this.reactor.poller(), io, Direction::Write, Retry::AfterEvent, cx, |io| {
            io.write_vectored(bufs)
        })
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let io = this.io.as_mut().expect("the I/O handle is present until Async is dropped");
        poll_io(&this.source, this.reactor.poller(), io, Direction::Write, Retry::Always, cx, |io| io.flush())
    }

    /// Flushes; the descriptor itself is closed when the `Async` is dropped.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl<T: AsFd> AsyncWrite for &Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = *self;
        poll_io(
            &this.source,
            this.reactor.poller(),
            &mut this.get_ref(),
            Direction::Write,
            Retry::AfterEvent,
            cx,
            |io| io.write(buf),
        )
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = *self;
        let poller = this.reactor.poller();
        poll_io(&this.source, poller, &mut this.get_ref(), Direction::Write, Retry::AfterEvent, cx, |io| {
            io.write_vectored(bufs)
        })
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = *self;
        poll_io(&this.source, this.reactor.poller(), &mut this.get_ref(), Direction::Write, Retry::Always, cx, |io| {
            io.flush()
        })
    }

    /// Flushes; the descriptor itself is closed when the `Async` is dropped.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poller::Readiness;
    use crate::Trigger;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};
    use std::time::Duration;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counter() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    fn react(reactor: &Reactor, timeout: Duration) {
        reactor.try_lock().unwrap().react(Some(timeout)).unwrap();
    }

    #[test]
    fn readiness_seen_by_the_attempt_is_not_fresh_and_readiness_after_it_is_never_lost() {
        for trigger in [Trigger::Edge, Trigger::Oneshot] {
            let reactor = Arc::new(Reactor::with_trigger(trigger).unwrap());
            let _guard = reactor.enter();
            let (a, mut b) = UnixStream::pair().unwrap();
            let a = Async::new(a).unwrap();
            let (count, waker) = counter();
            let poller = reactor.poller();
            let mut buf = [0; 8];
            let mut reader = a.get_ref();

            // Data arrives (and, in edge mode, its event is delivered) before the sample; the
            // attempt after the sample reads it, and the next attempt would block.
            b.write_all(b"x").unwrap();
            react(&reactor, Duration::ZERO);
            let stale = a.source.tick(Direction::Read);
            assert_eq!(reader.read(&mut buf).unwrap(), 1);
            let since = a.source.tick(Direction::Read);
            assert_eq!(reader.read(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);

            // The waiter is not woken by readiness the attempt already consumed ...
            assert!(a.source.register_slot(poller, a.fd(), Direction::Read, since, &waker).unwrap());
            assert!(reactor.has_pending_io());
            react(&reactor, Duration::from_millis(20));
            assert_eq!(count.0.load(Ordering::Relaxed), 0, "{trigger:?}");

            // ... but new data after the sample always wakes it.
            b.write_all(b"y").unwrap();
            react(&reactor, Duration::from_secs(5));
            assert_eq!(count.0.load(Ordering::Relaxed), 1, "{trigger:?}");
            assert!(!reactor.has_pending_io());

            // A registration with a sample older than an event is refused: the caller retries.
            assert!(!a.source.register_slot(poller, a.fd(), Direction::Read, stale, &waker).unwrap());
        }
    }

    #[test]
    fn an_attempt_that_would_block_is_not_repeated_before_an_event() {
        for trigger in [Trigger::Edge, Trigger::Oneshot] {
            let reactor = Arc::new(Reactor::with_trigger(trigger).unwrap());
            let _guard = reactor.enter();
            let (a, mut b) = UnixStream::pair().unwrap();
            let a = Async::new(a).unwrap();
            let (count, waker) = counter();
            let mut cx = Context::from_waker(&waker);
            let mut attempts = 0;
            let mut buf = [0; 8];
            let mut poll_read = |cx: &mut Context<'_>| {
                a.poll_read_only_op(cx, |mut stream| {
                    attempts += 1;
                    stream.read(&mut buf)
                })
            };

            assert!(poll_read(&mut cx).is_pending());
            // Polled again for some other reason, with no event since: no second `recv`.
            assert!(poll_read(&mut cx).is_pending());
            react(&reactor, Duration::from_millis(20));
            assert!(poll_read(&mut cx).is_pending());
            assert_eq!(count.0.load(Ordering::Relaxed), 0, "{trigger:?}");

            // Data arrives: the event moves the tick and the next poll reads it.
            b.write_all(b"x").unwrap();
            react(&reactor, Duration::from_secs(5));
            assert_eq!(count.0.load(Ordering::Relaxed), 1, "{trigger:?}");
            assert!(matches!(poll_read(&mut cx), Poll::Ready(Ok(1))), "{trigger:?}");
            assert_eq!(attempts, 2, "{trigger:?}");
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_short_stream_read_waits_for_an_event_unless_the_peer_closed() {
        for trigger in [Trigger::Edge, Trigger::Oneshot] {
            let reactor = Arc::new(Reactor::with_trigger(trigger).unwrap());
            let _guard = reactor.enter();
            let (a, mut b) = UnixStream::pair().unwrap();
            let a = Async::new(a).unwrap();
            let (_, waker) = counter();
            let mut cx = Context::from_waker(&waker);
            let mut buf = [0; 8];

            // A short read: the next one registers without trying, until an event.
            b.write_all(b"ab").unwrap();
            assert!(matches!(a.poll_read_stream(&mut cx, &mut buf), Poll::Ready(Ok(2))), "{trigger:?}");
            assert!(a.source.blocked_at(Direction::Read, a.source.tick(Direction::Read)), "{trigger:?}");
            assert!(a.poll_read_stream(&mut cx, &mut buf).is_pending(), "{trigger:?}");
            b.write_all(b"c").unwrap();
            react(&reactor, Duration::from_secs(5));
            assert!(matches!(a.poll_read_stream(&mut cx, &mut buf), Poll::Ready(Ok(1))), "{trigger:?}");

            // The last data and the end-of-file arrive together, reported by one event: the
            // short read does not hide the end-of-file behind a wait no event would end.
            assert!(a.poll_read_stream(&mut cx, &mut buf).is_pending(), "{trigger:?}");
            b.write_all(b"de").unwrap();
            b.shutdown(std::net::Shutdown::Write).unwrap();
            react(&reactor, Duration::from_secs(5));
            assert!(matches!(a.poll_read_stream(&mut cx, &mut buf), Poll::Ready(Ok(2))), "{trigger:?}");
            assert!(matches!(a.poll_read_stream(&mut cx, &mut buf), Poll::Ready(Ok(0))), "{trigger:?}");
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_short_read_made_before_the_end_of_file_is_reported_still_sees_the_end_of_file() {
        for trigger in [Trigger::Edge, Trigger::Oneshot] {
            let reactor = Arc::new(Reactor::with_trigger(trigger).unwrap());
            let _guard = reactor.enter();
            let (a, mut b) = UnixStream::pair().unwrap();
            let a = Async::new(a).unwrap();
            react(&reactor, Duration::ZERO);
            let (count, waker) = counter();
            let mut cx = Context::from_waker(&waker);
            let mut buf = [0; 8];
            // Data and end-of-file are queued, their event not yet delivered: the short read
            // cannot know the peer closed.
            b.write_all(b"de").unwrap();
            b.shutdown(std::net::Shutdown::Write).unwrap();
            assert!(matches!(a.poll_read_stream(&mut cx, &mut buf), Poll::Ready(Ok(2))), "{trigger:?}");
            assert!(a.poll_read_stream(&mut cx, &mut buf).is_pending(), "{trigger:?}");
            react(&reactor, Duration::from_secs(5));
            assert_eq!(count.0.load(Ordering::Relaxed), 1, "{trigger:?}");
            assert!(matches!(a.poll_read_stream(&mut cx, &mut buf), Poll::Ready(Ok(0))), "{trigger:?}");
        }
    }

    #[test]
    fn oneshot_wakes_the_other_direction_to_re_arm_and_edge_does_not() {
        for (trigger, spurious) in [(Trigger::Oneshot, 1), (Trigger::Edge, 0)] {
            let reactor = Arc::new(Reactor::with_trigger(trigger).unwrap());
            let _guard = reactor.enter();
            let (a, _b) = UnixStream::pair().unwrap();
            let a = Async::new(a).unwrap();
            let (count, waker) = counter();
            let since = a.source.tick(Direction::Write);
            let read_event =
                Readiness { key: a.source.key, readable: true, writable: false, read_closed: false, priority: false };
            let mut wakers = Vec::new();
            a.source.dispatch(read_event, &mut wakers);
            assert!(wakers.is_empty());
            // Registered after the sample; a read event for the same descriptor follows.
            a.source.register_slot(reactor.poller(), a.fd(), Direction::Write, since, &waker).unwrap();
            a.source.dispatch(read_event, &mut wakers);
            wakers.drain(..).for_each(Waker::wake);
            assert_eq!(count.0.load(Ordering::Relaxed), spurious, "{trigger:?}");
            assert_eq!(a.source.tick(Direction::Write), since, "no write event was delivered");
        }
    }

    #[test]
    fn into_inner_deletes_the_source_and_returns_the_handle() {
        let reactor = Arc::new(Reactor::new().unwrap());
        let _guard = reactor.enter();
        let (a, _b) = UnixStream::pair().unwrap();
        let a = Async::new(a).unwrap();
        let key = a.source.key;
        let a = a.into_inner().unwrap();
        assert!(!reactor.has_source(key));
        // The descriptor is free to register again.
        let _again = Async::new(a).unwrap();
    }
}
