//! A child's standard streams as non-blocking pipes on the loop's reactor.

use futures_io::{AsyncRead, AsyncWrite};
use loopwork_reactor::Async;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The write end of a child's stdin, from [`Child::stdin`](super::Child::stdin):
/// futures-io's [`AsyncWrite`] on the loop's reactor. Dropping it closes the
/// pipe, which the child reads as end of input.
///
/// # Examples
///
/// ```
/// use futures_lite::AsyncWriteExt;
/// use loopwork::process::Command;
/// use std::process::Stdio;
///
/// loopwork::run(async {
///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null()).spawn()?;
///     let mut stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"to cat\n").await?;
///     drop(stdin); // end of input: cat exits
///     assert!(child.wait().await?.success());
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct ChildStdin(pub(super) Async<std::process::ChildStdin>);

/// The read end of a child's stdout, from [`Child::stdout`](super::Child::stdout):
/// futures-io's [`AsyncRead`] on the loop's reactor.
///
/// # Examples
///
/// ```
/// use futures_lite::AsyncReadExt;
/// use loopwork::process::Command;
/// use std::process::Stdio;
///
/// loopwork::run(async {
///     let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
///     let mut text = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut text).await?;
///     assert_eq!(text, "hi\n");
///     child.wait().await?;
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct ChildStdout(pub(super) Async<std::process::ChildStdout>);

/// The read end of a child's stderr, from [`Child::stderr`](super::Child::stderr):
/// futures-io's [`AsyncRead`] on the loop's reactor.
///
/// # Examples
///
/// ```
/// use futures_lite::AsyncReadExt;
/// use loopwork::process::Command;
/// use std::process::Stdio;
///
/// loopwork::run(async {
///     let mut child = Command::new("sh").args(["-c", "echo oops >&2"]).stderr(Stdio::piped()).spawn()?;
///     let mut text = String::new();
///     child.stderr.take().unwrap().read_to_string(&mut text).await?;
///     assert_eq!(text, "oops\n");
///     child.wait().await?;
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct ChildStderr(pub(super) Async<std::process::ChildStderr>);

impl AsyncWrite for ChildStdin {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    /// Flushes; the pipe itself closes when the `ChildStdin` is dropped.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }
}

/// `AsyncRead` for an output pipe: every call goes to the registered pipe.
macro_rules! impl_async_read_for_output_pipe {
    ($($pipe:ty),*) => {$(
        impl AsyncRead for $pipe {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [io::IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.get_mut().0).poll_read_vectored(cx, bufs)
            }
        }
    )*};
}

impl_async_read_for_output_pipe!(ChildStdout, ChildStderr);

/// Reads `pipe` to its end into `buf`, then sets it to `None`; ready at once
/// for a pipe that is already `None`.
pub(super) fn poll_read_to_end<R: AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut Vec<u8>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let Some(reader) = pipe else { return Poll::Ready(Ok(())) };
    let mut chunk = [0u8; 8192];
    loop {
        match Pin::new(&mut *reader).poll_read(cx, &mut chunk) {
            Poll::Ready(Ok(0)) => {
                *pipe = None;
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => return Poll::Pending,
        }
    }
}
