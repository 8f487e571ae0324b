//! Non-blocking I/O on the loop's reactor, and the helpers that make byte
//! streams pleasant to use.
//!
//! - [`Async`] wraps any file descriptor to await its readiness.
//! - [`AsyncReadExt`] ([`read`](AsyncReadExt::read),
//!   [`read_exact`](AsyncReadExt::read_exact),
//!   [`read_to_end`](AsyncReadExt::read_to_end),
//!   [`read_to_string`](AsyncReadExt::read_to_string)),
//!   [`AsyncWriteExt`] ([`write`](AsyncWriteExt::write),
//!   [`write_all`](AsyncWriteExt::write_all),
//!   [`flush`](AsyncWriteExt::flush), [`close`](AsyncWriteExt::close)) and
//!   [`copy`] work on every futures-io stream: loopwork's sockets, TLS
//!   streams, pipes.
//! - [`BufReader`] buffers a reader; [`AsyncBufReadExt`] reads up to a
//!   delimiter ([`read_until`](AsyncBufReadExt::read_until),
//!   [`read_line`](AsyncBufReadExt::read_line)) or turns it into a stream of
//!   [`lines`](AsyncBufReadExt::lines).
//!
//! These are loopwork's own thin traits over futures-io's [`AsyncRead`],
//! [`AsyncWrite`] and [`AsyncBufRead`] (re-exported here), not a re-export
//! of futures-util's or futures-lite's: a server that depends on loopwork
//! gets them without a second crate, and loopwork's own dependency list does
//! not grow by a crate of combinators whose other 90% it does not use.
//! Projects that already use futures-util or futures-lite keep using them:
//! their extension traits work on the same types, since all of them are
//! built on futures-io. (Import one set per module: the method names are the
//! same.)
//!
//! # Examples
//!
//! ```
//! use loopwork::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
//! use loopwork::net::{TcpListener, TcpStream};
//!
//! loopwork::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (server, _) = listener.accept().await?;
//!
//!     client.write_all(b"HELLO world\nsecond line\n").await?;
//!     client.close().await?; // end of file for the server
//!     let mut lines = BufReader::new(server);
//!     let mut first = String::new();
//!     lines.read_line(&mut first).await?;
//!     assert_eq!(first, "HELLO world\n");
//!     let mut rest = String::new();
//!     lines.read_to_string(&mut rest).await?;
//!     assert_eq!(rest, "second line\n");
//!     std::io::Result::Ok(())
//! })?;
//! # std::io::Result::Ok(())
//! ```

mod buf;
mod ext;

pub use buf::{AsyncBufReadExt, BufReader, Lines};
pub use ext::{copy, AsyncReadExt, AsyncWriteExt};
pub use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
pub use loopwork_reactor::Async;
