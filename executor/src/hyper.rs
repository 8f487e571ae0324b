//! hyper on loopwork (feature `hyper`): what hyper-util's `TokioIo`,
//! `TokioExecutor` and `TokioTimer` are to tokio.
//!
//! - [`Io`] adapts any futures-io stream (a [`TcpStream`](crate::net::TcpStream),
//!   a TLS stream) to hyper's [`Read`](hyper::rt::Read) /
//!   [`Write`](hyper::rt::Write). A small read is copied into hyper's
//!   buffer from one the thread keeps; a large one lands there directly.
//! - [`Executor`] spawns hyper's background tasks (HTTP/2 streams,
//!   connection drivers) on a loop.
//! - [`Timer`] gives hyper loopwork's timers (`header_read_timeout`, HTTP/2
//!   keep-alive pings), on the loop's clock, so they follow a paused clock
//!   in tests too.
//!
//! # Examples
//!
//! ```
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::body::Bytes;
//! use hyper::{Request, Response};
//! use loopwork::hyper::{Executor, Io, Timer};
//! use loopwork::net::{TcpListener, TcpStream};
//!
//! loopwork::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     loopwork::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         let hello = hyper::service::service_fn(|_request| async {
//!             Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from("hello"))))
//!         });
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(Timer::current())
//!             .serve_connection(Io::new(stream), hello)
//!             .await
//!             .unwrap();
//!     });
//!
//!     let stream = TcpStream::connect(addr).await.unwrap();
//!     let (mut sender, connection) = hyper::client::conn::http1::handshake(Io::new(stream)).await.unwrap();
//!     Executor::current().spawn(connection);
//!     let response = sender.send_request(Request::new(Empty::<Bytes>::new())).await.unwrap();
//!     let body = response.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(body, "hello");
//! });
//! ```

use crate::{Handle, Sleep};
use ::hyper::rt::{ReadBufCursor, Sleep as HyperSleep};
use futures_io::{AsyncRead, AsyncWrite};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

/// The most of hyper's unfilled buffer one read offers the stream. hyper
/// hands over fresh, uninitialized capacity on every read, which must be
/// zeroed before a `&mut [u8]` can point at it; capping it bounds that cost,
/// while a large body still moves 64 KiB per read.
const MAX_READ: usize = 64 * 1024;

/// How much a read through the thread's scratch buffer takes at most.
///
/// Zeroing hyper's capacity (8 KiB and more, on every read) for a message
/// of a hundred bytes cost more than the message: `memset` was a tenth of
/// the workers' time in `compare`'s `http_hello`, where tokio's streams
/// read into uninitialized memory. So a read goes to a buffer each thread
/// keeps, already initialized, and only the bytes that came are copied
/// into hyper's. A read that fills it means more is waiting (a large
/// body): the next goes straight into hyper's buffer, zeroing up to
/// [`MAX_READ`], until a read comes back shorter than this again.
const SCRATCH_LEN: usize = 16 * 1024;

thread_local! {
    /// The buffer small reads go through (see [`SCRATCH_LEN`]), allocated
    /// at the thread's first read.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A futures-io stream as hyper's [`Read`](hyper::rt::Read) and
/// [`Write`](hyper::rt::Write): hyper-util's `TokioIo` for loopwork.
///
/// # Examples
///
/// ```
/// use loopwork::hyper::Io;
/// use loopwork::net::{TcpListener, TcpStream};
///
/// loopwork::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
///     let io = Io::new(stream);
///     assert_eq!(io.get_ref().peer_addr().unwrap(), listener.local_addr().unwrap());
/// });
/// ```
#[derive(Debug)]
pub struct Io<T> {
    inner: T,
    /// The last read filled the scratch buffer: read straight into hyper's
    /// next (see [`SCRATCH_LEN`]).
    direct: bool,
}

impl<T> Io<T> {
    /// Wraps `inner`.
    ///
    /// # Examples
    ///
    /// ```
    /// let io = loopwork::hyper::Io::new(futures_lite::io::Cursor::new(b"GET / HTTP/1.1\r\n\r\n".to_vec()));
    /// assert_eq!(io.into_inner().into_inner().len(), 18);
    /// ```
    pub fn new(inner: T) -> Io<T> {
        Io { inner, direct: false }
    }

    /// The stream inside.
    ///
    /// # Examples
    ///
    /// ```
    /// let io = loopwork::hyper::Io::new(futures_lite::io::Cursor::new(vec![1, 2]));
    /// assert_eq!(io.get_ref().get_ref(), &[1, 2]);
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The stream inside, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut io = loopwork::hyper::Io::new(futures_lite::io::Cursor::new(vec![1, 2]));
    /// io.get_mut().set_position(1);
    /// assert_eq!(io.get_ref().position(), 1);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The stream inside.
    ///
    /// # Examples
    ///
    /// ```
    /// let io = loopwork::hyper::Io::new(futures_lite::io::Cursor::new(vec![7]));
    /// assert_eq!(io.into_inner().into_inner(), [7]);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// `n`, the count a stream's `poll_read` returned for a buffer of `len`
/// bytes, after checking that it is no more.
fn checked(n: usize, len: usize) -> usize {
    assert!(n <= len, "AsyncRead::poll_read returned {n}, more than the {len} bytes it was given");
    n
}

impl<T: AsyncRead + Unpin> ::hyper::rt::Read for Io<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, mut buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.direct {
            // `None` if the scratch buffer is in use further up this thread's
            // stack (a stream whose read reads another `Io`), or gone (a
            // read from a thread-local destructor): then directly.
            let through_scratch = SCRATCH.try_with(|scratch| {
                let mut scratch = scratch.try_borrow_mut().ok()?;
                if scratch.is_empty() {
                    scratch.resize(SCRATCH_LEN, 0);
                }
                let len = buf.remaining().min(SCRATCH_LEN);
                Some(Pin::new(&mut this.inner).poll_read(cx, &mut scratch[..len]).map_ok(|n| {
                    buf.put_slice(&scratch[..checked(n, len)]);
                    n
                }))
            });
            let through_scratch = through_scratch.ok().flatten();
            if let Some(read) = through_scratch {
                this.direct = ready!(read)? == SCRATCH_LEN;
                return Poll::Ready(Ok(()));
            }
        }
        let len = buf.remaining().min(MAX_READ);
        let unfilled = buf.initialize_unfilled_to(len);
        let n = checked(ready!(Pin::new(&mut this.inner).poll_read(cx, unfilled))?, len);
        this.direct = n >= SCRATCH_LEN;
        // SAFETY: the first `len` unfilled bytes were initialized by
        // `initialize_unfilled_to`, and `n <= len` was checked above.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> ::hyper::rt::Write for Io<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }

    /// Vectored: hyper then writes headers and body with one `writev`
    /// instead of first copying them into one buffer. A stream without
    /// vectored writes of its own writes the first slice; hyper handles the
    /// short write.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

/// Spawns hyper's background tasks on a loop: hyper-util's
/// `TokioExecutor` for loopwork. HTTP/2 needs one, on the server and the
/// client side.
///
/// # Examples
///
/// ```
/// use hyper::rt::Executor as _;
///
/// let event_loop = loopwork::EventLoop::new();
/// let executor = loopwork::hyper::Executor::new(event_loop.handle());
/// let (tx, rx) = std::sync::mpsc::channel();
/// executor.execute(async move { tx.send("ran").unwrap() });
/// assert_eq!(rx.recv().unwrap(), "ran");
/// ```
#[derive(Clone, Debug)]
pub struct Executor {
    handle: Handle,
}

impl Executor {
    /// An executor spawning on the loop behind `handle`, from any thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let _executor = loopwork::hyper::Executor::new(event_loop.handle());
    /// ```
    pub fn new(handle: Handle) -> Executor {
        Executor { handle }
    }

    /// An executor spawning on the loop the caller runs on.
    ///
    /// # Panics
    ///
    /// Outside a loopwork loop: use [`Executor::new`] with a [`Handle`] there.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let _executor = loopwork::hyper::Executor::current();
    /// });
    /// ```
    pub fn current() -> Executor {
        let handle = crate::get_running_loop()
            .expect("loopwork::hyper::Executor::current called outside a loopwork loop; use Executor::new(handle)");
        Executor::new(handle)
    }

    /// Spawns `future` as a detached task; if the loop is closing, the future
    /// is dropped, as every unfinished task is when a loop closes.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     loopwork::hyper::Executor::current().spawn(async {});
    /// });
    /// ```
    pub fn spawn<F>(&self, future: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // Dropping the task detaches it; a loop that refuses it is closing.
        let _ = self.handle.spawn(future);
    }
}

impl<F> ::hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        self.spawn(future);
    }
}

/// loopwork's timers for hyper: hyper-util's `TokioTimer` for loopwork.
/// Deadlines are on the loop's clock ([`Handle::time`]), so under
/// [`Builder::paused_clock`](crate::Builder::paused_clock) hyper's timeouts
/// fire in virtual time as well.
///
/// # Examples
///
/// ```
/// use hyper::rt::Timer as _;
/// use std::time::Duration;
///
/// let event_loop = loopwork::EventLoop::builder().workers(1).paused_clock().build().unwrap();
/// let timer = loopwork::hyper::Timer::new(event_loop.handle());
/// let started = timer.now();
/// event_loop.block_on(timer.sleep(Duration::from_secs(3600)));
/// assert!(timer.now() - started >= Duration::from_secs(3600));
/// ```
#[derive(Clone, Debug)]
pub struct Timer {
    handle: Handle,
}

impl Timer {
    /// A timer on the clock of the loop behind `handle`.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = loopwork::EventLoop::new();
    /// let _timer = loopwork::hyper::Timer::new(event_loop.handle());
    /// ```
    pub fn new(handle: Handle) -> Timer {
        Timer { handle }
    }

    /// A timer on the clock of the loop the caller runs on.
    ///
    /// # Panics
    ///
    /// Outside a loopwork loop: use [`Timer::new`] with a [`Handle`] there.
    ///
    /// # Examples
    ///
    /// ```
    /// loopwork::run(async {
    ///     let _timer = loopwork::hyper::Timer::current();
    /// });
    /// ```
    pub fn current() -> Timer {
        let handle = crate::get_running_loop()
            .expect("loopwork::hyper::Timer::current called outside a loopwork loop; use Timer::new(handle)");
        Timer::new(handle)
    }
}

/// A loopwork [`Sleep`] as hyper's `Sleep` (a trait of hyper's on a type of
/// loopwork's needs a type of its own here).
struct TimerSleep(Sleep);

impl Future for TimerSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl HyperSleep for TimerSleep {}

impl ::hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn HyperSleep>> {
        match self.handle.time().checked_add(duration) {
            Some(deadline) => self.sleep_until(deadline),
            // Beyond what an `Instant` holds: never, in practice.
            None => Box::pin(TimerSleep(crate::sleep(duration))),
        }
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn HyperSleep>> {
        Box::pin(TimerSleep(crate::sleep_until(deadline)))
    }

    fn now(&self) -> Instant {
        self.handle.time()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn HyperSleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<TimerSleep>() {
            // Moves the timer in place instead of allocating a new one.
            Some(mut ours) => ours.0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
