//! The two halves of a split `TcpStream`, for two tasks (or threads) at once.

use std::error::Error;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::TcpStream;

/// Hands out the two halves of one shared stream.
pub(super) fn split(stream: Arc<TcpStream>) -> (ReadHalf, WriteHalf) {
    (ReadHalf { stream: stream.clone() }, WriteHalf { stream })
}

/// The read half of a [`TcpStream`], from [`TcpStream::split`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use loopwork_reactor::net::{ReadHalf, TcpListener, TcpStream};
/// use loopwork_reactor::Reactor;
///
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let (mut reader, _writer): (ReadHalf, _) = listener.accept().await?.0.split();
///     client.write_all(b"x").await?;
///     let mut buf = [0; 1];
///     reader.read_exact(&mut buf).await
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct ReadHalf {
    stream: Arc<TcpStream>,
}

impl ReadHalf {
    /// Joins the two halves of one stream again.
    ///
    /// # Errors
    ///
    /// Gives both halves back, in [`ReuniteError`], if they come from different streams.
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
    ///     let a = TcpStream::connect(listener.local_addr()?).await?;
    ///     let b = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (a_read, a_write) = a.split();
    ///     let (b_read, b_write) = b.split();
    ///     let mismatched = a_read.reunite(b_write).unwrap_err();
    ///     let (a_read, b_write) = (mismatched.0, mismatched.1);
    ///     assert!(a_read.reunite(a_write).is_ok());
    ///     assert!(b_read.reunite(b_write).is_ok());
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn reunite(self, write: WriteHalf) -> Result<TcpStream, ReuniteError> {
        if !Arc::ptr_eq(&self.stream, &write.stream) {
            return Err(ReuniteError(self, write));
        }
        drop(write);
        Ok(Arc::try_unwrap(self.stream).expect("a stream has exactly two halves"))
    }
}

impl AsRef<TcpStream> for ReadHalf {
    fn as_ref(&self) -> &TcpStream {
        &self.stream
    }
}

impl AsyncRead for ReadHalf {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_read_vectored(cx, bufs)
    }
}

/// The write half of a [`TcpStream`], from [`TcpStream::split`].
///
/// `close()` shuts down the write direction (the peer reads end-of-file). Dropping the half
/// does not: the socket closes when both halves are gone.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use loopwork_reactor::net::{TcpListener, TcpStream, WriteHalf};
/// use loopwork_reactor::Reactor;
///
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let (_reader, mut writer): (_, WriteHalf) = listener.accept().await?.0.split();
///     writer.write_all(b"bye").await?;
///     writer.close().await?;
///     let mut all = Vec::new();
///     client.read_to_end(&mut all).await?;
///     assert_eq!(all, b"bye");
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct WriteHalf {
    stream: Arc<TcpStream>,
}

impl AsRef<TcpStream> for WriteHalf {
    fn as_ref(&self) -> &TcpStream {
        &self.stream
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_close(cx)
    }
}

/// The halves given to [`ReadHalf::reunite`] came from different streams; here they are back.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use loopwork_reactor::net::{ReuniteError, TcpListener, TcpStream};
/// use loopwork_reactor::Reactor;
///
/// let reactor = Arc::new(Reactor::new()?);
/// reactor.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let (a, _) = TcpStream::connect(listener.local_addr()?).await?.split();
///     let (_, b) = TcpStream::connect(listener.local_addr()?).await?.split();
///     let err: ReuniteError = a.reunite(b).unwrap_err();
///     assert_eq!(err.to_string(), "tried to reunite halves of different TCP streams");
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct ReuniteError(pub ReadHalf, pub WriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different TCP streams")
    }
}

impl Error for ReuniteError {}
