//! Each runtime's own TCP sockets, reduced to what the network workloads do
//! with them: `loopwork::net`, `tokio::net`, and async-io's
//! `Async<std::net::TcpStream>` (smol's sockets) for async-executor.
//!
//! Every call must run inside one of the runtime's tasks: tokio's sockets
//! register with the runtime the calling task runs on, loopwork's with the
//! reactor of the current loop.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};

/// A runtime's TCP listener and stream.
pub trait Net: 'static {
    /// A listening socket.
    type Listener: Send + Sync + 'static;
    /// A connected socket, with Nagle's algorithm off.
    type Stream: Send + Unpin + 'static;

    /// Listens on an ephemeral port of 127.0.0.1 and returns the address.
    ///
    /// # Errors
    ///
    /// If the socket cannot be bound.
    fn bind() -> io::Result<(Self::Listener, SocketAddr)>;

    /// The next incoming connection.
    fn accept(listener: &Self::Listener) -> impl Future<Output = io::Result<Self::Stream>> + Send + '_;

    /// Connects to `addr`.
    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Reads what is there (at least one byte, or 0 at end of file).
    fn read<'a>(stream: &'a mut Self::Stream, buf: &'a mut [u8])
        -> impl Future<Output = io::Result<usize>> + Send + 'a;

    /// Writes all of `buf`.
    fn write_all<'a>(stream: &'a mut Self::Stream, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + Send + 'a;

    /// A stream as hyper's IO.
    type HyperIo: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static;

    /// Wraps `stream` for hyper.
    fn hyper_io(stream: Self::Stream) -> Self::HyperIo;
}

/// Fills `buf` from `stream`, however the bytes arrive.
///
/// # Errors
///
/// If reading fails, or the peer closes the connection first
/// (`UnexpectedEof`).
pub(crate) async fn read_exact<N: Net>(stream: &mut N::Stream, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match N::read(stream, &mut buf[filled..]).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => filled += n,
        }
    }
    Ok(())
}

/// The loopback address with the port the OS picks.
fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// `loopwork::net`: futures-io `AsyncRead` / `AsyncWrite`.
#[derive(Debug)]
pub struct LoopworkNet;

impl Net for LoopworkNet {
    type Listener = loopwork::net::TcpListener;
    type Stream = loopwork::net::TcpStream;
    type HyperIo = loopwork::hyper::Io<Self::Stream>;

    fn hyper_io(stream: Self::Stream) -> Self::HyperIo {
        loopwork::hyper::Io::new(stream)
    }

    fn bind() -> io::Result<(Self::Listener, SocketAddr)> {
        let listener = loopwork::net::TcpListener::bind(loopback())?;
        let addr = listener.local_addr()?;
        Ok((listener, addr))
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Stream> {
        let stream = loopwork::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn read<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        futures_lite::AsyncReadExt::read(stream, buf)
    }

    fn write_all<'a>(stream: &'a mut Self::Stream, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + Send + 'a {
        futures_lite::AsyncWriteExt::write_all(stream, buf)
    }
}

/// `tokio::net`: tokio's own `AsyncRead` / `AsyncWrite`.
#[derive(Debug)]
pub struct TokioNet;

impl Net for TokioNet {
    type Listener = tokio::net::TcpListener;
    type Stream = tokio::net::TcpStream;
    type HyperIo = hyper_util::rt::TokioIo<Self::Stream>;

    fn hyper_io(stream: Self::Stream) -> Self::HyperIo {
        hyper_util::rt::TokioIo::new(stream)
    }

    fn bind() -> io::Result<(Self::Listener, SocketAddr)> {
        let std_listener = std::net::TcpListener::bind(loopback())?;
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let addr = listener.local_addr()?;
        Ok((listener, addr))
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Stream> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn read<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        tokio::io::AsyncReadExt::read(stream, buf)
    }

    async fn write_all<'a>(stream: &'a mut Self::Stream, buf: &'a [u8]) -> io::Result<()> {
        tokio::io::AsyncWriteExt::write_all(stream, buf).await
    }
}

/// async-io's `Async<TcpStream>`, smol's sockets, on async-io's reactor.
#[derive(Debug)]
pub struct AsyncIoNet;

impl Net for AsyncIoNet {
    type Listener = async_io::Async<std::net::TcpListener>;
    type Stream = async_io::Async<std::net::TcpStream>;
    /// loopwork's adapter takes any futures-io stream: the same glue.
    type HyperIo = loopwork::hyper::Io<Self::Stream>;

    fn hyper_io(stream: Self::Stream) -> Self::HyperIo {
        loopwork::hyper::Io::new(stream)
    }

    fn bind() -> io::Result<(Self::Listener, SocketAddr)> {
        let listener = async_io::Async::<std::net::TcpListener>::bind(loopback())?;
        let addr = listener.get_ref().local_addr()?;
        Ok((listener, addr))
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        let (stream, _) = listener.accept().await?;
        stream.get_ref().set_nodelay(true)?;
        Ok(stream)
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Stream> {
        let stream = async_io::Async::<std::net::TcpStream>::connect(addr).await?;
        stream.get_ref().set_nodelay(true)?;
        Ok(stream)
    }

    fn read<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        futures_lite::AsyncReadExt::read(stream, buf)
    }

    fn write_all<'a>(stream: &'a mut Self::Stream, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + Send + 'a {
        futures_lite::AsyncWriteExt::write_all(stream, buf)
    }
}
