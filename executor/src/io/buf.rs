//! Buffered reading: [`BufReader`], reading up to a delimiter, and a stream
//! of lines.

use futures_core::Stream;
use futures_io::{AsyncBufRead, AsyncRead};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The buffer's default capacity: std's `BufReader` default.
const DEFAULT_CAPACITY: usize = 8 * 1024;

/// Adds a buffer to a reader, so that small reads (a line, a header) do not
/// each cost a system call; implements [`AsyncBufRead`] for
/// [`AsyncBufReadExt`].
///
/// # Examples
///
/// ```
/// use loopwork::io::{AsyncBufReadExt, BufReader};
///
/// loopwork::run(async {
///     let mut reader = BufReader::new(&b"one\ntwo"[..]);
///     let mut line = String::new();
///     reader.read_line(&mut line).await.unwrap();
///     assert_eq!(line, "one\n");
/// });
/// ```
pub struct BufReader<R> {
    inner: R,
    buf: Box<[u8]>,
    /// `buf[pos..filled]` is read from `inner` and not yet consumed.
    pos: usize,
    filled: usize,
}

impl<R: AsyncRead> BufReader<R> {
    /// A reader with an 8 KiB buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// let reader = loopwork::io::BufReader::new(&b"bytes"[..]);
    /// assert_eq!(reader.capacity(), 8192);
    /// ```
    pub fn new(inner: R) -> BufReader<R> {
        BufReader::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// A reader with a buffer of `capacity` bytes.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0: a reader could never buffer a byte; use `inner`
    /// directly instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let reader = loopwork::io::BufReader::with_capacity(64, &b"bytes"[..]);
    /// assert_eq!(reader.capacity(), 64);
    /// ```
    pub fn with_capacity(capacity: usize, inner: R) -> BufReader<R> {
        assert!(capacity > 0, "BufReader::with_capacity(0): a buffer must hold at least one byte");
        BufReader { inner, buf: vec![0; capacity].into_boxed_slice(), pos: 0, filled: 0 }
    }
}

impl<R> BufReader<R> {
    /// The buffer's size.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(loopwork::io::BufReader::with_capacity(16, &b""[..]).capacity(), 16);
    /// ```
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The bytes read ahead and not yet consumed.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::io::{AsyncReadExt, BufReader};
    ///
    /// loopwork::run(async {
    ///     let mut reader = BufReader::new(&b"abcdef"[..]);
    ///     let mut first = [0; 2];
    ///     reader.read_exact(&mut first).await.unwrap();
    ///     assert_eq!(reader.buffer(), b"cdef");
    /// });
    /// ```
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    /// The reader inside.
    ///
    /// # Examples
    ///
    /// ```
    /// let reader = loopwork::io::BufReader::new(&b"abc"[..]);
    /// assert_eq!(*reader.get_ref(), b"abc");
    /// ```
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The reader inside, mutably: reading from it directly skips what is
    /// buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut reader = loopwork::io::BufReader::new(&b"abc"[..]);
    /// *reader.get_mut() = &b"xyz"[..];
    /// assert_eq!(reader.into_inner(), b"xyz");
    /// ```
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The reader inside; what was buffered is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// let reader = loopwork::io::BufReader::new(&b"abc"[..]);
    /// assert_eq!(reader.into_inner(), b"abc");
    /// ```
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BufReader<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // A read as large as the buffer gains nothing from a copy through it.
        if this.pos == this.filled && out.len() >= this.buf.len() {
            return Pin::new(&mut this.inner).poll_read(cx, out);
        }
        let available = ready!(Pin::new(&mut *this).poll_fill_buf(cx))?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        Pin::new(this).consume(n);
        Poll::Ready(Ok(n))
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for BufReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.pos == this.filled {
            this.filled = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut this.buf))?;
            this.pos = 0;
        }
        Poll::Ready(Ok(&this.buf[this.pos..this.filled]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = (this.pos + amt).min(this.filled);
    }
}

impl<R: fmt::Debug> fmt::Debug for BufReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufReader")
            .field("inner", &self.inner)
            .field("buffered", &(self.filled - self.pos))
            .field("capacity", &self.buf.len())
            .finish()
    }
}

/// Appends to `out` up to and including `delimiter`, or to end of file.
fn poll_read_until<R: AsyncBufRead + Unpin + ?Sized>(
    reader: &mut R,
    cx: &mut Context<'_>,
    delimiter: u8,
    out: &mut Vec<u8>,
) -> Poll<io::Result<()>> {
    loop {
        let available = ready!(Pin::new(&mut *reader).poll_fill_buf(cx))?;
        if available.is_empty() {
            return Poll::Ready(Ok(()));
        }
        match available.iter().position(|&byte| byte == delimiter) {
            Some(at) => {
                out.extend_from_slice(&available[..=at]);
                Pin::new(&mut *reader).consume(at + 1);
                return Poll::Ready(Ok(()));
            }
            None => {
                let n = available.len();
                out.extend_from_slice(available);
                Pin::new(&mut *reader).consume(n);
            }
        }
    }
}

fn not_utf8(error: std::string::FromUtf8Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// Helpers for every [`AsyncBufRead`] (a [`BufReader`], say).
///
/// # Examples
///
/// ```
/// use loopwork::io::{AsyncBufReadExt, BufReader};
///
/// loopwork::run(async {
///     let mut reader = BufReader::new(&b"key=value"[..]);
///     let mut key = Vec::new();
///     reader.read_until(b'=', &mut key).await.unwrap();
///     assert_eq!(key, b"key=");
/// });
/// ```
pub trait AsyncBufReadExt: AsyncBufRead {
    /// Appends to `buf` up to and including `delimiter`, or to end of file;
    /// returns how many bytes were appended (0 at end of file).
    ///
    /// # Errors
    ///
    /// The stream's error (what was read before it stays in `buf`).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::io::{AsyncBufReadExt, BufReader};
    ///
    /// loopwork::run(async {
    ///     let mut reader = BufReader::new(&b"a,b"[..]);
    ///     let mut field = Vec::new();
    ///     assert_eq!(reader.read_until(b',', &mut field).await.unwrap(), 2);
    ///     field.clear();
    ///     assert_eq!(reader.read_until(b',', &mut field).await.unwrap(), 1);
    ///     assert_eq!(field, b"b");
    /// });
    /// ```
    fn read_until<'a>(&'a mut self, delimiter: u8, buf: &'a mut Vec<u8>) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        let start = buf.len();
        async move {
            poll_fn(|cx| poll_read_until(&mut *self, cx, delimiter, &mut *buf)).await?;
            Ok(buf.len() - start)
        }
    }

    /// Appends one line to `buf`, its `\n` included; returns how many bytes
    /// were appended (0 at end of file).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] if the line is not UTF-8 (`buf` is
    /// then left as it was), or the stream's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwork::io::{AsyncBufReadExt, BufReader};
    ///
    /// loopwork::run(async {
    ///     let mut reader = BufReader::new(&b"GET / HTTP/1.1\r\nHost: x\r\n"[..]);
    ///     let mut line = String::new();
    ///     reader.read_line(&mut line).await.unwrap();
    ///     assert_eq!(line, "GET / HTTP/1.1\r\n");
    /// });
    /// ```
    fn read_line<'a>(&'a mut self, buf: &'a mut String) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        async move {
            let mut bytes = Vec::new();
            self.read_until(b'\n', &mut bytes).await?;
            let line = String::from_utf8(bytes).map_err(not_utf8)?;
            buf.push_str(&line);
            Ok(line.len())
        }
    }

    /// A stream of the reader's lines, without their `\n` or `\r\n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use loopwork::io::{AsyncBufReadExt, BufReader};
    ///
    /// loopwork::run(async {
    ///     let lines: Vec<String> = BufReader::new(&b"one\r\ntwo\nthree"[..])
    ///         .lines()
    ///         .map(Result::unwrap)
    ///         .collect()
    ///         .await;
    ///     assert_eq!(lines, ["one", "two", "three"]);
    /// });
    /// ```
    fn lines(self) -> Lines<Self>
    where
        Self: Unpin + Sized,
    {
        Lines { reader: self, line: Vec::new() }
    }
}

impl<R: AsyncBufRead + ?Sized> AsyncBufReadExt for R {}

/// The lines of a reader, from [`AsyncBufReadExt::lines`]; each item is a
/// line without its `\n` or `\r\n`, or the error that ended the stream
/// ([`io::ErrorKind::InvalidData`] for a line that is not UTF-8).
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt;
/// use loopwork::io::{AsyncBufReadExt, BufReader};
///
/// loopwork::run(async {
///     let mut lines = BufReader::new(&b"first\nsecond\n"[..]).lines();
///     assert_eq!(lines.next().await.unwrap().unwrap(), "first");
/// });
/// ```
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    /// The line read so far, kept across polls that return `Pending`.
    line: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> Stream for Lines<R> {
    type Item = io::Result<String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        ready!(poll_read_until(&mut this.reader, cx, b'\n', &mut this.line))?;
        if this.line.is_empty() {
            return Poll::Ready(None);
        }
        let mut line = std::mem::take(&mut this.line);
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        Poll::Ready(Some(String::from_utf8(line).map_err(not_utf8)))
    }
}
