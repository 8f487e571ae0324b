//! Name lookups off the workers: the resolver each loop installs in its
//! reactor, so that `TcpStream::connect("host:port")` and
//! `UdpSocket::bind` / `connect` with a host name run the blocking lookup
//! (`getaddrinfo`, or the function given to
//! [`Builder::resolver`](crate::Builder::resolver)) on the loop's blocking
//! pool, as asyncio's `loop.getaddrinfo` does. A worker that blocked in a
//! lookup would stall every task queued behind it for as long as DNS takes.
//! Literal addresses never reach the resolver.

use crate::blocking;
use crate::error::TaskError;
use loopwork_reactor::net::{system_lookup, Lookup};
use loopwork_reactor::Reactor;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// A blocking lookup of one host and port.
pub(crate) type LookupFn = Arc<dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync>;

/// Makes `reactor` resolve host names with `lookup` (the system resolver if
/// `None`) on the blocking pool of the loop that asks.
pub(crate) fn install(reactor: &Reactor, lookup: Option<LookupFn>) {
    let lookup = lookup.unwrap_or_else(|| Arc::new(system_lookup));
    reactor.set_resolver(move |host, port| -> Lookup {
        let (host, lookup) = (host.to_owned(), lookup.clone());
        let job = move || lookup(&host, port);
        // The loop is found through the calling thread, not captured: a
        // `Handle` in the resolver would make the reactor own the loop that
        // owns it. A thread that entered the reactor (`Reactor::current`)
        // without running the loop is no worker: it may block.
        let Some(handle) = crate::get_running_loop() else {
            return Box::pin(std::future::ready(job()));
        };
        match blocking::spawn_blocking(&handle, handle.shared().blocking_pool(), job) {
            Ok(task) => Box::pin(async move { task.await.map_err(lookup_failed)? }),
            Err(_closed) => Box::pin(std::future::ready(Err(io::Error::other(
                "the event loop is closing: no host name lookups are started",
            )))),
        }
    });
}

fn lookup_failed(error: TaskError) -> io::Error {
    match error {
        TaskError::Cancelled => io::Error::other("the host name lookup was cancelled: the event loop is closing"),
        TaskError::Panicked(_) => io::Error::other("the host name lookup panicked"),
    }
}
