//! The I/O reactor and timer queue behind loopwork.
//!
//! One [`Reactor`] serves one event loop: a readiness poller (epoll, driven directly, on
//! Linux; a [`polling`] poller, kqueue on the BSDs and macOS, elsewhere), the table of
//! registered I/O sources, and the timer queue. There is no
//! reactor thread. Whichever idle thread wins [`Reactor::try_lock`] waits in
//! [`ReactorLock::react`] with the next timer as its timeout and wakes the tasks whose I/O
//! or timers are ready; [`Reactor::notify`] interrupts it. This crate knows nothing about
//! executors: it speaks only [`Waker`](std::task::Waker)s.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! use loopwork_reactor::net::{TcpListener, TcpStream};
//! use loopwork_reactor::{sleep, Reactor};
//!
//! let reactor = Arc::new(Reactor::new()?);
//! // `block_on` drives the reactor for one future; loopwork's EventLoop does it for many.
//! reactor.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (mut server, _) = listener.accept().await?;
//!
//!     sleep(Duration::from_millis(1)).await;
//!     client.write_all(b"hello").await?;
//!     let mut buf = [0; 5];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"hello");
//!     std::io::Result::Ok(())
//! })?;
//! # std::io::Result::Ok(())
//! ```
//!
//! # Contents
//!
//! - [`Reactor`]: the driver. [`Reactor::enter`] makes it the *current* reactor of a thread;
//!   [`Async::new`], the [`net`] constructors and [`sleep`] find their reactor that way.
//!   [`Reactor::block_on`] runs a single future without an executor.
//! - Timers: [`sleep`], [`sleep_until`], [`interval`], [`interval_at`], and the waker-based
//!   [`Reactor::insert_timer`] / [`Reactor::remove_timer`] behind `call_later`. A timer never
//!   fires before its deadline on [`Reactor::now`]; equal deadlines fire in the order set.
//!   [`deadline_after`] is how every one of them turns a delay into a deadline, saturating
//!   to "never" instead of overflowing.
//! - [`Async<T>`](Async): any file descriptor, non-blocking, with `read_with`/`write_with` and
//!   futures-io's `AsyncRead`/`AsyncWrite`.
//! - [`net`]: [`TcpListener`](net::TcpListener), [`TcpStream`](net::TcpStream),
//!   [`UdpSocket`](net::UdpSocket), [`UnixListener`](net::UnixListener),
//!   [`UnixStream`](net::UnixStream).
//!
//! The [`design`] page explains the readiness protocol (per-direction ticks), the timer
//! queue, the notification protocol, and the measurement behind the default [`Trigger`].
//!
//! # Platforms
//!
//! Linux and other Unix (macOS, the BSDs): sources are anything that implements
//! [`AsFd`](std::os::fd::AsFd), and the sockets are built on Unix system calls. Other targets,
//! Windows among them, stop the build with an error that says so.

#![doc(test(attr(deny(warnings))))]

// loopwork builds on this crate, so this one gate covers both.
#[cfg(not(unix))]
compile_error!(
    "loopwork and loopwork-reactor support Linux and other Unix (macOS, the BSDs) only: their I/O sources \
     are Unix file descriptors (std::os::fd)"
);

mod block_on;
mod current;
mod deadline;
mod interval;
mod io;
pub mod net;
mod poller;
mod reactor;
mod sleep;
mod source;
mod timer;

pub use current::{EnterGuard, WakeCause};
pub use deadline::deadline_after;
pub use interval::{interval, interval_at, Interval};
pub use io::Async;
pub use reactor::{Reactor, ReactorLock, Trigger};
pub use sleep::{sleep, sleep_until, Sleep};
pub use source::Direction;
pub use timer::TimerId;

#[doc = include_str!("../DESIGN.md")]
pub mod design {}

/// The crate README's example runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
