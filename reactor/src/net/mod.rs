//! TCP, UDP and Unix-domain sockets on the current reactor.
//!
//! Each type wraps the std socket in an [`Async`](crate::Async) and is created inside an
//! event loop: constructors return an error (never panic) on a thread with no current
//! reactor. Every type is `Send + Sync`, as its std counterpart is, and byte streams
//! implement futures-io's `AsyncRead`/`AsyncWrite` (also through `&`), so the adapters of
//! the futures ecosystem work unchanged.
//!
//! Host names given to [`TcpStream::connect`], [`UdpSocket::bind`] and
//! [`UdpSocket::connect`] are resolved by the reactor's resolver
//! ([`Reactor::set_resolver`](crate::Reactor::set_resolver)): loopwork's event loop installs
//! one that runs the lookup on its blocking pool, so a slow DNS answer never holds a worker.
//! Literal addresses skip the lookup. [`TcpListener::bind`] stays synchronous, as std's is:
//! a host name given to it is resolved on the calling thread.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! use loopwork_reactor::net::{TcpListener, TcpStream};
//! use loopwork_reactor::Reactor;
//!
//! let reactor = Arc::new(Reactor::new()?);
//! reactor.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (mut server, _) = listener.accept().await?;
//!     client.write_all(b"hello").await?;
//!     let mut buf = [0; 5];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"hello");
//!     std::io::Result::Ok(())
//! })?;
//! # std::io::Result::Ok(())
//! ```

/// futures-io for a byte-stream socket type with an `inner: Async<std type>` field, by value
/// and through `&`. `close` half-closes (`shutdown(Write)`), so that the futures ecosystem's
/// `close().await` sends end-of-file as asyncio's `write_eof()` does. `short_read_drains`
/// says whether a read that comes back short means the receive queue is empty
/// (`Async::poll_read_stream`): true for TCP, false for Unix streams, whose reads also stop
/// at a message that carries descriptors.
macro_rules! stream_io {
    ($stream:ty, short_read_drains: $short_read_drains:literal) => {
        stream_io!(@impl $stream, $short_read_drains);
        stream_io!(@impl &$stream, $short_read_drains);

        impl std::os::fd::AsFd for $stream {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.inner)
            }
        }

        impl std::os::fd::AsRawFd for $stream {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.inner)
            }
        }
    };
    (@impl $stream:ty, $short_read_drains:literal) => {
        impl futures_io::AsyncRead for $stream {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                if $short_read_drains {
                    self.inner.poll_read_stream(cx, buf)
                } else {
                    futures_io::AsyncRead::poll_read(std::pin::Pin::new(&mut &self.inner), cx, buf)
                }
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                futures_io::AsyncRead::poll_read_vectored(std::pin::Pin::new(&mut &self.inner), cx, bufs)
            }
        }

        impl futures_io::AsyncWrite for $stream {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                futures_io::AsyncWrite::poll_write(std::pin::Pin::new(&mut &self.inner), cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                futures_io::AsyncWrite::poll_write_vectored(std::pin::Pin::new(&mut &self.inner), cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                futures_io::AsyncWrite::poll_flush(std::pin::Pin::new(&mut &self.inner), cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.inner.get_ref().shutdown(std::net::Shutdown::Write))
            }
        }
    };
}

mod resolve;
mod split;
mod tcp;
mod udp;
mod unix;

pub use resolve::{lookup_host, system_lookup, Lookup, Resolver, ToSocketAddrs};
pub use split::{ReadHalf, ReuniteError, WriteHalf};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixIncoming, UnixListener, UnixStream};

use std::io;
use std::net::SocketAddr;

/// Tries `f` on each address `addr` resolves to, returning the first success or the last error.
fn each_addr<R>(addr: impl std::net::ToSocketAddrs, mut f: impl FnMut(SocketAddr) -> io::Result<R>) -> io::Result<R> {
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(err) => last = Some(err),
        }
    }
    Err(last.unwrap_or_else(no_address))
}

fn no_address() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "the address resolved to no socket address")
}

/// Finishes a non-blocking `connect`: `Ok` means connected at once, `INPROGRESS` means the
/// kernel completes it in the background (reported as writability), anything else failed.
fn connect_started(result: rustix::io::Result<()>) -> io::Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::INPROGRESS) => Ok(false),
        Err(err) => Err(err.into()),
    }
}
