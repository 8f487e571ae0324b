//! TCP: listener, stream, and the stream's two halves.

use std::io;
use std::net::{self, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use rustix::net::{sockopt, AddressFamily, SocketFlags, SocketType};

use super::split::{self, ReadHalf, WriteHalf};
use super::{connect_started, each_addr, no_address};
use crate::Async;

/// The accept queue length asked of `listen`: as long as the system allows, since the kernel
/// caps it at `net.core.somaxconn` (4096 by default since Linux 5.4), so that a burst of
/// connections arriving while the accept loop waits its turn on a busy worker is queued rather
/// than dropped or reset. 65535 rather than more: kernels before 5.4 keep the value in 16 bits.
const BACKLOG: i32 = 65535;

fn family(addr: &SocketAddr) -> AddressFamily {
    if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    }
}

/// A TCP socket listening for connections.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use loopwork_reactor::net::{TcpListener, TcpStream};
/// use loopwork_reactor::Reactor;
///
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let client = TcpStream::connect(listener.local_addr()?).await?;
///     let (server, peer) = listener.accept().await?;
///     assert_eq!(peer, client.local_addr()?);
///     assert_eq!(server.peer_addr()?, client.local_addr()?);
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct TcpListener {
    inner: Async<net::TcpListener>,
}

impl TcpListener {
    /// Binds a listener to `addr` (the first address it resolves to that can be bound), with
    /// `SO_REUSEADDR` set, as std does, and an accept queue as long as
    /// `net.core.somaxconn` allows.
    ///
    /// `bind` is synchronous, as std's is, so a host name in `addr` is looked up on the
    /// calling thread. Listeners are usually bound with a literal address, or at start-up
    /// before the loop is busy; a task that must bind to a name resolves it first with
    /// [`lookup_host`](super::lookup_host)`(name).await`, which runs the lookup on the loop's
    /// blocking pool, and binds to the address it returns.
    ///
    /// # Errors
    ///
    /// Fails outside an event loop, when `addr` resolves to nothing, and with the system's
    /// error when no address can be bound (`AddrInUse`, `PermissionDenied`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::TcpListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// assert_ne!(listener.local_addr()?.port(), 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let listener = each_addr(addr, |addr| {
            let fd = rustix::net::socket_with(
                family(&addr),
                SocketType::STREAM,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
                None,
            )?;
            // Without it a restarted server cannot bind while old connections sit in TIME_WAIT.
            sockopt::set_socket_reuseaddr(&fd, true)?;
            rustix::net::bind(&fd, &addr)?;
            rustix::net::listen(&fd, BACKLOG)?;
            Ok(net::TcpListener::from(fd))
        })?;
        Ok(TcpListener { inner: Async::new(listener)? })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Errors of `accept(2)` are returned as they come, in particular running out of
    /// descriptors (`EMFILE`, `ENFILE`): the pending connection stays queued, and the next
    /// call accepts it once descriptors are free again. What to do meanwhile (shed load,
    /// sleep a little) is the caller's decision; nothing here spins.
    ///
    /// # Errors
    ///
    /// Returns the error of `accept(2)` or of registering the new socket.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::TcpListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let client = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let (stream, _peer) = listener.accept().await?;
    ///     assert_eq!(stream.peer_addr()?, client.local_addr()?);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.inner.read_with(|listener| listener.accept()).await?;
        Ok((TcpStream { inner: Async::new(stream)? }, peer))
    }

    /// The poll form of [`accept`](TcpListener::accept); only the latest caller's task is woken.
    ///
    /// # Errors
    ///
    /// As for [`accept`](TcpListener::accept).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::TcpListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let _client = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let (_stream, _peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.inner
            .poll_read_only_op(cx, |listener| listener.accept())
            .map(|accepted| accepted.and_then(|(stream, peer)| Ok((TcpStream { inner: Async::new(stream)? }, peer))))
    }

    /// A stream of incoming connections: [`accept`](TcpListener::accept) in a loop.
    ///
    /// An error is yielded as an item and the stream goes on; polling it again retries.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use futures_lite::StreamExt;
    /// use loopwork_reactor::net::TcpListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let _a = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let _b = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let streams: Vec<_> = listener.incoming().take(2).try_collect().await?;
    ///     assert_eq!(streams.len(), 2);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to.
    ///
    /// # Errors
    ///
    /// Returns the error of `getsockname(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::TcpListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The std listener inside (in non-blocking mode).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::TcpListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// listener.get_ref().set_ttl(64)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn get_ref(&self) -> &net::TcpListener {
        self.inner.get_ref()
    }
}

impl TryFrom<net::TcpListener> for TcpListener {
    type Error = io::Error;

    /// Registers a std listener with the current reactor (see [`Async::new`]).
    fn try_from(listener: net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener { inner: Async::new(listener)? })
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

/// The stream of [`TcpListener::incoming`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use futures_lite::StreamExt;
/// use loopwork_reactor::net::{Incoming, TcpListener};
/// use loopwork_reactor::Reactor;
///
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let _client = std::net::TcpStream::connect(listener.local_addr()?)?;
///     let mut incoming: Incoming<'_> = listener.incoming();
///     let stream = incoming.next().await.unwrap()?;
///     assert!(stream.peer_addr()?.ip().is_loopback());
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener.poll_accept(cx).map(|accepted| Some(accepted.map(|(stream, _)| stream)))
    }
}

/// A TCP connection.
///
/// Reads and writes go through futures-io's [`AsyncRead`](futures_io::AsyncRead) and
/// [`AsyncWrite`](futures_io::AsyncWrite), implemented for `TcpStream` and for `&TcpStream`;
/// [`split`](TcpStream::split) gives two owned halves that two tasks can use at once. `close()` (from `AsyncWriteExt`) half-closes the connection:
/// the peer reads end-of-file, and this side can still read.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use loopwork_reactor::net::{TcpListener, TcpStream};
/// use loopwork_reactor::Reactor;
///
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let (mut server, _) = listener.accept().await?;
///     client.write_all(b"request").await?;
///     client.close().await?; // end-of-file for the server
///     let mut request = Vec::new();
///     server.read_to_end(&mut request).await?;
///     server.write_all(b"response").await?; // the client can still read
///     let mut response = [0; 8];
///     client.read_exact(&mut response).await?;
///     assert_eq!((&request[..], &response), (&b"request"[..], b"response"));
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct TcpStream {
    inner: Async<net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to in turn. A host name is
    /// resolved by the reactor's resolver (on loopwork's blocking pool), a literal address
    /// is used as it is.
    ///
    /// The connect is non-blocking: the socket is registered with the reactor while the
    /// handshake runs, and the result is read from `SO_ERROR` once it becomes writable, so a
    /// refused connection is reported as [`io::ErrorKind::ConnectionRefused`], never a hang.
    ///
    /// # Errors
    ///
    /// Fails outside an event loop, when `addr` resolves to nothing, and with the error of
    /// the last address tried (`ConnectionRefused`, `TimedOut`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::{TcpListener, TcpStream};
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn connect(addr: impl super::ToSocketAddrs) -> io::Result<TcpStream> {
        let addrs = super::lookup_host(addr).await?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_addr(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(no_address))
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let fd = rustix::net::socket_with(
            family(&addr),
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        let connected = connect_started(rustix::net::connect(&fd, &addr))?;
        let stream = Async::new(net::TcpStream::from(fd))?;
        if !connected {
            loop {
                stream.writable().await?;
                if let Some(err) = stream.get_ref().take_error()? {
                    return Err(err);
                }
                // Writability is a hint; only a known peer proves the handshake finished.
                match stream.get_ref().peer_addr() {
                    Ok(_) => break,
                    Err(err) if err.kind() == io::ErrorKind::NotConnected => continue,
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(TcpStream { inner: stream })
    }

    /// The remote address.
    ///
    /// # Errors
    ///
    /// Returns the error of `getpeername(2)`, e.g. `NotConnected`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::{TcpListener, TcpStream};
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// Returns the error of `getsockname(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::{TcpListener, TcpStream};
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert!(stream.local_addr()?.ip().is_loopback());
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY`: small writes are sent at once instead of being coalesced (Nagle).
    ///
    /// # Errors
    ///
    /// Returns the error of `setsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::{TcpListener, TcpStream};
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     stream.set_nodelay(true)?;
    ///     assert!(stream.nodelay()?);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// Returns the error of `getsockopt(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::{TcpListener, TcpStream};
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert!(!stream.nodelay()?);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }

    /// Shuts down the read half, the write half (half-close: the peer reads end-of-file), or
    /// both.
    ///
    /// # Errors
    ///
    /// Returns the error of `shutdown(2)`, e.g. `NotConnected`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Shutdown;
    /// use std::sync::Arc;
    /// use futures_lite::AsyncReadExt;
    /// use loopwork_reactor::net::{TcpListener, TcpStream};
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     client.shutdown(Shutdown::Write)?;
    ///     assert_eq!(server.read(&mut [0; 8]).await?, 0);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Reads without removing the data from the socket's queue.
    ///
    /// # Errors
    ///
    /// Returns the error of `recv(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use futures_lite::AsyncWriteExt;
    /// use loopwork_reactor::net::{TcpListener, TcpStream};
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.write_all(b"x").await?;
    ///     let mut buf = [0; 1];
    ///     assert_eq!(server.peek(&mut buf).await?, 1);
    ///     assert_eq!(server.peek(&mut buf).await?, 1);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|stream| stream.peek(buf)).await
    }

    /// Splits the stream into a read half and a write half that two tasks can own and use at
    /// the same time. [`ReadHalf::reunite`] puts them back together.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
    /// use loopwork_reactor::net::{TcpListener, TcpStream};
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let (mut reader, mut writer) = server.split();
    ///     let mut client = client;
    ///     // One side waits for data while the other writes (and the client echoes it back).
    ///     let read = async {
    ///         let mut buf = [0; 4];
    ///         reader.read_exact(&mut buf).await.map(|()| buf)
    ///     };
    ///     let echo = async {
    ///         writer.write_all(b"ping").await?;
    ///         let mut buf = [0; 4];
    ///         client.read_exact(&mut buf).await?;
    ///         client.write_all(&buf).await
    ///     };
    ///     let (read, echo) = future::zip(read, echo).await;
    ///     echo?;
    ///     assert_eq!(&read?, b"ping");
    ///     let _stream = reader.reunite(writer).expect("halves of one stream");
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn split(self) -> (ReadHalf, WriteHalf) {
        split::split(Arc::new(self))
    }

    /// The std stream inside (in non-blocking mode).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::{TcpListener, TcpStream};
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let stream = TcpStream::connect(listener.local_addr()?).await?;
    ///     stream.get_ref().set_ttl(32)?;
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn get_ref(&self) -> &net::TcpStream {
        self.inner.get_ref()
    }
}

impl TryFrom<net::TcpStream> for TcpStream {
    type Error = io::Error;

    /// Registers a connected std stream with the current reactor (see [`Async::new`]).
    fn try_from(stream: net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream { inner: Async::new(stream)? })
    }
}

stream_io!(TcpStream, short_read_drains: true);
