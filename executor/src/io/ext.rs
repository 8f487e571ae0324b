//! `read_exact`, `write_all` and friends on any futures-io stream, and
//! `copy` between two.

use futures_io::{AsyncRead, AsyncWrite};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;

/// How much `read_to_end` asks for at a time, and `copy`'s buffer: a
/// typical socket receive buffer's worth, small enough to live in a future.
const CHUNK: usize = 8 * 1024;

/// Reading helpers for every [`AsyncRead`].
///
/// # Examples
///
/// ```
/// use loopwork::io::AsyncReadExt;
///
/// loopwork::run(async {
///     let mut reader: &[u8] = b"four and more";
///     let mut word = [0; 4];
///     reader.read_exact(&mut word).await.unwrap();
///     assert_eq!(&word, b"four");
/// });
/// ```
pub trait AsyncReadExt: AsyncRead {
    /// Reads what is available into `buf`, at least one byte unless at end
    /// of file; returns how many bytes were read (0 at end of file).
    ///
    /// # Errors
    ///
    /// The stream's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::io::AsyncReadExt;
    ///
    /// loopwork::run(async {
    ///     let mut reader: &[u8] = b"abc";
    ///     let mut buf = [0; 8];
    ///     assert_eq!(reader.read(&mut buf).await.unwrap(), 3);
    ///     assert_eq!(reader.read(&mut buf).await.unwrap(), 0);
    /// });
    /// ```
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_read(cx, buf))
    }

    /// Fills `buf` completely.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::UnexpectedEof`] if the stream ends first (what was
    /// read stays in `buf`), or the stream's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::io::AsyncReadExt;
    ///
    /// loopwork::run(async {
    ///     let mut reader: &[u8] = b"ab";
    ///     let mut buf = [0; 3];
    ///     let err = reader.read_exact(&mut buf).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    /// });
    /// ```
    fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<()>> + 'a
    where
        Self: Unpin,
    {
        async move {
            let mut filled = 0;
            while filled < buf.len() {
                match self.read(&mut buf[filled..]).await? {
                    0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                    n => filled += n,
                }
            }
            Ok(())
        }
    }

    /// Reads to end of file, appending to `buf`; returns how many bytes were
    /// appended.
    ///
    /// # Errors
    ///
    /// The stream's error (what was read before it stays in `buf`).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::io::AsyncReadExt;
    ///
    /// loopwork::run(async {
    ///     let mut reader: &[u8] = b"everything";
    ///     let mut all = b"<".to_vec();
    ///     assert_eq!(reader.read_to_end(&mut all).await.unwrap(), 10);
    ///     assert_eq!(all, b"<everything");
    /// });
    /// ```
    fn read_to_end<'a>(&'a mut self, buf: &'a mut Vec<u8>) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        async move {
            let start = buf.len();
            loop {
                let filled = buf.len();
                buf.resize(filled + CHUNK, 0);
                let read = self.read(&mut buf[filled..]).await;
                buf.truncate(filled + *read.as_ref().unwrap_or(&0));
                if read? == 0 {
                    return Ok(buf.len() - start);
                }
            }
        }
    }

    /// Reads to end of file, appending to `buf`; returns how many bytes were
    /// appended.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] if what was read is not UTF-8 (`buf`
    /// is then left as it was), or the stream's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::io::AsyncReadExt;
    ///
    /// loopwork::run(async {
    ///     let mut reader: &[u8] = "héllo".as_bytes();
    ///     let mut text = String::new();
    ///     reader.read_to_string(&mut text).await.unwrap();
    ///     assert_eq!(text, "héllo");
    /// });
    /// ```
    fn read_to_string<'a>(&'a mut self, buf: &'a mut String) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        async move {
            let mut bytes = Vec::new();
            self.read_to_end(&mut bytes).await?;
            let text = String::from_utf8(bytes).map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
            buf.push_str(&text);
            Ok(text.len())
        }
    }
}

impl<R: AsyncRead + ?Sized> AsyncReadExt for R {}

/// Writing helpers for every [`AsyncWrite`].
///
/// # Examples
///
/// ```
/// use loopwork::io::AsyncWriteExt;
///
/// loopwork::run(async {
///     let mut out = Vec::new();
///     out.write_all(b"hello").await.unwrap();
///     assert_eq!(out, b"hello");
/// });
/// ```
pub trait AsyncWriteExt: AsyncWrite {
    /// Writes some of `buf`; returns how many bytes were written.
    ///
    /// # Errors
    ///
    /// The stream's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::io::AsyncWriteExt;
    ///
    /// loopwork::run(async {
    ///     let mut out = Vec::new();
    ///     assert_eq!(out.write(b"abc").await.unwrap(), 3);
    /// });
    /// ```
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_write(cx, buf))
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::WriteZero`] if the stream accepts no more bytes, or
    /// the stream's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::io::AsyncWriteExt;
    ///
    /// loopwork::run(async {
    ///     let mut out = Vec::new();
    ///     out.write_all(b"every byte").await.unwrap();
    ///     assert_eq!(out, b"every byte");
    /// });
    /// ```
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + 'a
    where
        Self: Unpin,
    {
        async move {
            let mut written = 0;
            while written < buf.len() {
                match self.write(&buf[written..]).await? {
                    0 => return Err(io::ErrorKind::WriteZero.into()),
                    n => written += n,
                }
            }
            Ok(())
        }
    }

    /// Flushes what the stream buffers.
    ///
    /// # Errors
    ///
    /// The stream's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::io::AsyncWriteExt;
    ///
    /// loopwork::run(async {
    ///     let mut out = Vec::new();
    ///     out.write_all(b"x").await.unwrap();
    ///     out.flush().await.unwrap();
    /// });
    /// ```
    fn flush(&mut self) -> impl Future<Output = io::Result<()>> + '_
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_flush(cx))
    }

    /// Closes the writing side: for loopwork's sockets, a half-close that
    /// sends end of file to the peer (asyncio's `write_eof()`).
    ///
    /// # Errors
    ///
    /// The stream's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::io::{AsyncReadExt, AsyncWriteExt};
    /// use loopwork::net::{TcpListener, TcpStream};
    ///
    /// loopwork::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     client.close().await?;
    ///     assert_eq!(server.read(&mut [0; 8]).await?, 0);
    ///     std::io::Result::Ok(())
    /// })?;
    /// # std::io::Result::Ok(())
    /// ```
    fn close(&mut self) -> impl Future<Output = io::Result<()>> + '_
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_close(cx))
    }
}

impl<W: AsyncWrite + ?Sized> AsyncWriteExt for W {}

/// Copies everything `reader` yields into `writer` until end of file, then
/// flushes `writer`; returns how many bytes were copied.
///
/// # Errors
///
/// The first error of either stream.
///
/// # Examples
///
/// ```
/// loopwork::run(async {
///     let mut reader: &[u8] = b"copied";
///     let mut out = Vec::new();
///     assert_eq!(loopwork::io::copy(&mut reader, &mut out).await.unwrap(), 6);
///     assert_eq!(out, b"copied");
/// });
/// ```
pub async fn copy<R, W>(reader: &mut R, writer: &mut W) -> io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buf = vec![0; CHUNK];
    let mut copied = 0;
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            writer.flush().await?;
            return Ok(copied);
        }
        writer.write_all(&buf[..n]).await?;
        copied += n as u64;
    }
}
