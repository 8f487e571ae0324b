//! Unix-domain stream sockets.

use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use super::connect_started;
use crate::Async;

/// A Unix-domain socket listening for connections.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use loopwork_reactor::net::{UnixListener, UnixStream};
/// use loopwork_reactor::Reactor;
///
/// let dir = std::env::temp_dir().join(format!("loopwork-doc-listener-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("socket");
/// # let _ = std::fs::remove_file(&path);
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let _client = UnixStream::connect(&path).await?;
///     let (_server, _peer) = listener.accept().await?;
///     std::io::Result::Ok(())
/// })?;
/// std::fs::remove_dir_all(&dir)?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct UnixListener {
    inner: Async<net::UnixListener>,
}

impl UnixListener {
    /// Binds a listener to the socket file at `path`, which must not exist yet.
    ///
    /// # Errors
    ///
    /// Fails outside an event loop, and with the system's error, e.g. `AddrInUse` if the
    /// file exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UnixListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let path = std::env::temp_dir().join(format!("loopwork-doc-bind-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let listener = UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener { inner: Async::new(net::UnixListener::bind(path)?)? })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// As with TCP, running out of descriptors is returned to the caller, and the pending
    /// connection is accepted by a later call.
    ///
    /// # Errors
    ///
    /// Returns the error of `accept(2)` or of registering the new socket.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UnixListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let path = std::env::temp_dir().join(format!("loopwork-doc-accept-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let _client = std::os::unix::net::UnixStream::connect(&path)?;
    ///     let (_stream, _peer) = listener.accept().await?;
    ///     std::io::Result::Ok(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, peer) = self.inner.read_with(|listener| listener.accept()).await?;
        Ok((UnixStream { inner: Async::new(stream)? }, peer))
    }

    /// The poll form of [`accept`](UnixListener::accept); only the latest caller's task is woken.
    ///
    /// # Errors
    ///
    /// As for [`accept`](UnixListener::accept).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UnixListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let path = std::env::temp_dir().join(format!("loopwork-doc-poll-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let _client = std::os::unix::net::UnixStream::connect(&path)?;
    ///     poll_fn(|cx| listener.poll_accept(cx)).await.map(drop)
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.inner
            .poll_read_only_op(cx, |listener| listener.accept())
            .map(|accepted| accepted.and_then(|(stream, peer)| Ok((UnixStream { inner: Async::new(stream)? }, peer))))
    }

    /// A stream of incoming connections; errors are yielded as items and the stream goes on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use futures_lite::StreamExt;
    /// use loopwork_reactor::net::UnixListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let path = std::env::temp_dir().join(format!("loopwork-doc-incoming-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let _client = std::os::unix::net::UnixStream::connect(&path)?;
    ///     listener.incoming().next().await.unwrap().map(drop)
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
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
    /// use loopwork_reactor::net::UnixListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let path = std::env::temp_dir().join(format!("loopwork-doc-addr-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let listener = UnixListener::bind(&path)?;
    /// assert!(listener.local_addr()?.as_pathname().is_some());
    /// std::fs::remove_file(&path)?;
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
    /// use loopwork_reactor::net::UnixListener;
    /// use loopwork_reactor::Reactor;
    ///
    /// let path = std::env::temp_dir().join(format!("loopwork-doc-ref-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let listener = UnixListener::bind(&path)?;
    /// assert!(listener.get_ref().take_error()?.is_none());
    /// std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn get_ref(&self) -> &net::UnixListener {
        self.inner.get_ref()
    }
}

impl TryFrom<net::UnixListener> for UnixListener {
    type Error = io::Error;

    /// Registers a std listener with the current reactor (see [`Async::new`]).
    fn try_from(listener: net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener { inner: Async::new(listener)? })
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

/// The stream of [`UnixListener::incoming`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use futures_lite::StreamExt;
/// use loopwork_reactor::net::{UnixIncoming, UnixListener};
/// use loopwork_reactor::Reactor;
///
/// let path = std::env::temp_dir().join(format!("loopwork-doc-stream-{}", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let _client = std::os::unix::net::UnixStream::connect(&path)?;
///     let mut incoming: UnixIncoming<'_> = listener.incoming();
///     incoming.next().await.unwrap().map(drop)
/// })?;
/// std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl Stream for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener.poll_accept(cx).map(|accepted| Some(accepted.map(|(stream, _)| stream)))
    }
}

/// A Unix-domain stream connection, with futures-io reads and writes (also through `&`);
/// `close()` half-closes it, as for [`TcpStream`](super::TcpStream).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use loopwork_reactor::net::UnixStream;
/// use loopwork_reactor::Reactor;
///
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"over").await?;
///     a.close().await?;
///     let mut got = String::new();
///     b.read_to_string(&mut got).await?;
///     assert_eq!(got, "over");
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct UnixStream {
    inner: Async<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket file at `path`, without blocking the thread.
    ///
    /// # Errors
    ///
    /// Fails outside an event loop, with `NotFound` or `ConnectionRefused` when nobody
    /// listens there, and with `WouldBlock` when the listener's queue is full.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::{UnixListener, UnixStream};
    /// use loopwork_reactor::Reactor;
    ///
    /// let path = std::env::temp_dir().join(format!("loopwork-doc-connect-{}", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let _listener = UnixListener::bind(&path)?;
    ///     let stream = UnixStream::connect(&path).await?;
    ///     assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    ///     std::io::Result::Ok(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let addr = SocketAddrUnix::new(path.as_ref())?;
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        let connected = connect_started(rustix::net::connect(&fd, &addr))?;
        let stream = Async::new(net::UnixStream::from(fd))?;
        if !connected {
            stream.writable().await?;
            if let Some(err) = stream.get_ref().take_error()? {
                return Err(err);
            }
        }
        Ok(UnixStream { inner: stream })
    }

    /// A connected pair of streams.
    ///
    /// # Errors
    ///
    /// Fails outside an event loop, or with the error of `socketpair(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// use loopwork_reactor::net::UnixStream;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let (mut a, mut b) = UnixStream::pair()?;
    ///     a.write_all(b"x").await?;
    ///     let mut buf = [0; 1];
    ///     b.read_exact(&mut buf).await
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream { inner: Async::new(a)? }, UnixStream { inner: Async::new(b)? }))
    }

    /// The remote address.
    ///
    /// # Errors
    ///
    /// Returns the error of `getpeername(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UnixStream;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let (a, _b) = UnixStream::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed());
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
    /// use loopwork_reactor::net::UnixStream;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let (a, _b) = UnixStream::pair()?;
    /// assert!(a.local_addr()?.is_unnamed());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Shuts down the read half, the write half (the peer reads end-of-file), or both.
    ///
    /// # Errors
    ///
    /// Returns the error of `shutdown(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Shutdown;
    /// use std::sync::Arc;
    /// use futures_lite::AsyncReadExt;
    /// use loopwork_reactor::net::UnixStream;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let (a, mut b) = UnixStream::pair()?;
    ///     a.shutdown(Shutdown::Write)?;
    ///     assert_eq!(b.read(&mut [0; 4]).await?, 0);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// The std stream inside (in non-blocking mode).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UnixStream;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let _guard = reactor.enter();
    /// let (a, _b) = UnixStream::pair()?;
    /// assert!(a.get_ref().take_error()?.is_none());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn get_ref(&self) -> &net::UnixStream {
        self.inner.get_ref()
    }
}

impl TryFrom<net::UnixStream> for UnixStream {
    type Error = io::Error;

    /// Registers a connected std stream with the current reactor (see [`Async::new`]).
    fn try_from(stream: net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream { inner: Async::new(stream)? })
    }
}

stream_io!(UnixStream, short_read_drains: false);
