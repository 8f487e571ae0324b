//! UDP sockets.

use std::io;
use std::net::{self, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::{lookup_host, no_address, ToSocketAddrs};
use crate::Async;

/// A UDP socket.
///
/// All methods take `&self`, so one socket can send from one task while another receives.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use loopwork_reactor::net::UdpSocket;
/// use loopwork_reactor::Reactor;
///
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"hello", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr()?));
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    inner: Async<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr` (the first address it resolves to that can be bound). A host
    /// name is resolved by the reactor's resolver (on loopwork's blocking pool).
    ///
    /// # Errors
    ///
    /// Fails outside an event loop, and with the system's error when no address can be bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UdpSocket;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let socket = reactor.block_on(UdpSocket::bind("127.0.0.1:0"))?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let addrs = lookup_host(addr).await?;
        if addrs.is_empty() {
            return Err(no_address());
        }
        Ok(UdpSocket { inner: Async::new(net::UdpSocket::bind(&addrs[..])?)? })
    }

    /// Sends one datagram to `target`; returns the number of bytes sent.
    ///
    /// # Errors
    ///
    /// Returns the error of `sendto(2)`, e.g. a datagram too large.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UdpSocket;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert_eq!(socket.send_to(b"ping", socket.local_addr()?).await?, 4);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn send_to(&self, buf: &[u8], target: impl Into<SocketAddr>) -> io::Result<usize> {
        let target = target.into();
        self.inner.write_with(|socket| socket.send_to(buf, target)).await
    }

    /// Receives one datagram; returns its length and its sender. A datagram longer than
    /// `buf` is truncated.
    ///
    /// # Errors
    ///
    /// Returns the error of `recvfrom(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UdpSocket;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     socket.send_to(b"ping", socket.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let (n, from) = socket.recv_from(&mut buf).await?;
    ///     assert_eq!((n, from), (4, socket.local_addr()?));
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|socket| socket.recv_from(buf)).await
    }

    /// Receives one datagram without removing it from the queue.
    ///
    /// # Errors
    ///
    /// Returns the error of `recvfrom(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UdpSocket;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     socket.send_to(b"ping", socket.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(socket.peek_from(&mut buf).await?.0, 4);
    ///     assert_eq!(socket.recv_from(&mut buf).await?.0, 4);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|socket| socket.peek_from(buf)).await
    }

    /// Sets the default peer: [`send`](UdpSocket::send) goes there, and
    /// [`recv`](UdpSocket::recv) only accepts datagrams from there.
    ///
    /// # Errors
    ///
    /// Returns the error of `connect(2)`, or `InvalidInput` if `addr` resolves to nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UdpSocket;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addrs = lookup_host(addr).await?;
        if addrs.is_empty() {
            return Err(no_address());
        }
        self.inner.get_ref().connect(&addrs[..])
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// Returns the error of `send(2)`, e.g. `NotConnected` before [`connect`](UdpSocket::connect),
    /// or `ConnectionRefused` when an earlier datagram found no listener.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UdpSocket;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     a.send(b"hi").await?;
    ///     let mut buf = [0; 2];
    ///     assert_eq!(b.recv(&mut buf).await?, 2);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|socket| socket.send(buf)).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// Returns the error of `recv(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UdpSocket;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// reactor.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").await?;
    ///     socket.connect(socket.local_addr()?).await?;
    ///     socket.send(b"self").await?;
    ///     let mut buf = [0; 4];
    ///     assert_eq!(socket.recv(&mut buf).await?, 4);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|socket| socket.recv(buf)).await
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
    /// use loopwork_reactor::net::UdpSocket;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let socket = reactor.block_on(UdpSocket::bind("127.0.0.1:0"))?;
    /// assert!(socket.local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` before [`connect`](UdpSocket::connect).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UdpSocket;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let socket = reactor.block_on(UdpSocket::bind("127.0.0.1:0"))?;
    /// assert!(socket.peer_addr().is_err());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The std socket inside (in non-blocking mode).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use loopwork_reactor::net::UdpSocket;
    /// use loopwork_reactor::Reactor;
    ///
    /// let reactor = Arc::new(Reactor::new()?);
    /// let socket = reactor.block_on(UdpSocket::bind("127.0.0.1:0"))?;
    /// socket.get_ref().set_broadcast(true)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn get_ref(&self) -> &net::UdpSocket {
        self.inner.get_ref()
    }
}

impl TryFrom<net::UdpSocket> for UdpSocket {
    type Error = io::Error;

    /// Registers a std socket with the current reactor (see [`Async::new`]).
    fn try_from(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket { inner: Async::new(socket)? })
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}
