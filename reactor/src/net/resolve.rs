//! Turning addresses into socket addresses: literal addresses at once, host names through
//! the current reactor's resolver.
//!
//! A host name lookup (`getaddrinfo`) blocks for as long as DNS takes. The reactor knows no
//! executor, so it cannot move the lookup anywhere by itself; an executor installs a
//! [`Resolver`] with [`Reactor::set_resolver`] that runs it off its worker threads (loopwork
//! uses its blocking pool). Without one, the lookup runs on the calling thread.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::sync::Arc;

use crate::Reactor;

/// A lookup in progress: the addresses of one host and port.
pub type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// Resolves a host name and port; installed with [`Reactor::set_resolver`].
pub type Resolver = Arc<dyn Fn(&str, u16) -> Lookup + Send + Sync>;

/// What an address is before any lookup.
#[doc(hidden)]
#[derive(Debug)]
pub enum Addrs {
    /// Socket addresses already: no lookup.
    Literal(Vec<SocketAddr>),
    /// A host name to look up.
    Host(String, u16),
}

mod sealed {
    /// Keeps the set of address types closed, so that `to_addrs` can change freely.
    pub trait Sealed {
        fn to_addrs(&self) -> std::io::Result<super::Addrs>;
    }
}

/// Anything that names one or more socket addresses: the types std's
/// [`ToSocketAddrs`](std::net::ToSocketAddrs) takes (`SocketAddr`, `(IpAddr, u16)`,
/// `"host:port"`, `("host", port)`, `&[SocketAddr]`, ...). Literal addresses are used as
/// they are; host names are resolved by the current reactor's [`Resolver`], off the
/// calling thread when one is installed.
///
/// # Examples
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
/// use loopwork_reactor::net::ToSocketAddrs;
///
/// fn takes_any(_: impl ToSocketAddrs) {}
/// takes_any("127.0.0.1:80");
/// takes_any(("localhost", 80));
/// takes_any((Ipv4Addr::LOCALHOST, 80));
/// takes_any(SocketAddr::from(([127, 0, 0, 1], 80)));
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

impl<T: sealed::Sealed + ?Sized> ToSocketAddrs for T {}

macro_rules! literal {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {
            fn to_addrs(&self) -> io::Result<Addrs> {
                Ok(Addrs::Literal(vec![SocketAddr::from(*self)]))
            }
        }
    )*};
}

literal!(SocketAddr, SocketAddrV4, SocketAddrV6, (IpAddr, u16), (Ipv4Addr, u16), (Ipv6Addr, u16));

impl sealed::Sealed for [SocketAddr] {
    fn to_addrs(&self) -> io::Result<Addrs> {
        Ok(Addrs::Literal(self.to_vec()))
    }
}

impl sealed::Sealed for str {
    fn to_addrs(&self) -> io::Result<Addrs> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(Addrs::Literal(vec![addr]));
        }
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, format!("{self:?} is not `host:port`"));
        let (host, port) = self.rsplit_once(':').ok_or_else(invalid)?;
        let port = port.parse().map_err(|_| invalid())?;
        Ok(Addrs::Host(host.to_owned(), port))
    }
}

impl sealed::Sealed for String {
    fn to_addrs(&self) -> io::Result<Addrs> {
        self.as_str().to_addrs()
    }
}

impl sealed::Sealed for (&str, u16) {
    fn to_addrs(&self) -> io::Result<Addrs> {
        let (host, port) = *self;
        Ok(match host.parse::<IpAddr>() {
            Ok(ip) => Addrs::Literal(vec![SocketAddr::new(ip, port)]),
            Err(_) => Addrs::Host(host.to_owned(), port),
        })
    }
}

impl sealed::Sealed for (String, u16) {
    fn to_addrs(&self) -> io::Result<Addrs> {
        (self.0.as_str(), self.1).to_addrs()
    }
}

impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn to_addrs(&self) -> io::Result<Addrs> {
        (**self).to_addrs()
    }
}

/// Resolves `addr` to its socket addresses: literal addresses at once, a host name with the
/// current reactor's [`Resolver`] (with the system resolver on this thread if there is no
/// current reactor or it has no resolver). asyncio's `loop.getaddrinfo`.
///
/// # Errors
///
/// `InvalidInput` for a string that is not `host:port`, and the resolver's error (an unknown
/// host, ...).
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// use std::sync::Arc;
/// use loopwork_reactor::net::lookup_host;
/// use loopwork_reactor::Reactor;
///
/// let reactor = Arc::new(Reactor::new()?);
/// let addrs = reactor.block_on(lookup_host("127.0.0.1:8080"))?;
/// assert_eq!(addrs, ["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]);
/// # std::io::Result::Ok(())
/// ```
pub async fn lookup_host(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    match addr.to_addrs()? {
        Addrs::Literal(addrs) => Ok(addrs),
        Addrs::Host(host, port) => match Reactor::with_current(|reactor| reactor.and_then(|r| r.resolver())) {
            Some(resolver) => resolver(&host, port).await,
            None => system_lookup(&host, port),
        },
    }
}

/// The system resolver (`getaddrinfo`), blocking the calling thread until it answers.
///
/// # Errors
///
/// The system resolver's error, e.g. for an unknown host.
///
/// # Examples
///
/// ```
/// let addrs = loopwork_reactor::net::system_lookup("localhost", 80)?;
/// assert!(addrs.iter().all(|addr| addr.ip().is_loopback() && addr.port() == 80));
/// # std::io::Result::Ok(())
/// ```
pub fn system_lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).map(Iterator::collect)
}

#[cfg(test)]
mod test {
    use super::*;

    fn addrs(addr: impl ToSocketAddrs) -> io::Result<Addrs> {
        addr.to_addrs()
    }

    #[test]
    fn literal_addresses_need_no_lookup() {
        assert!(matches!(addrs("127.0.0.1:80").unwrap(), Addrs::Literal(list) if list.len() == 1));
        assert!(matches!(addrs("[::1]:80").unwrap(), Addrs::Literal(_)));
        assert!(matches!(addrs(("10.0.0.1", 80)).unwrap(), Addrs::Literal(_)));
        assert!(matches!(addrs(("::1".to_owned(), 80)).unwrap(), Addrs::Literal(_)));
    }

    #[test]
    fn host_names_are_looked_up() {
        assert!(matches!(addrs("example.com:443").unwrap(), Addrs::Host(host, 443) if host == "example.com"));
        assert!(matches!(addrs(("localhost", 80)).unwrap(), Addrs::Host(host, 80) if host == "localhost"));
    }

    #[test]
    fn a_string_without_a_port_is_invalid_input() {
        assert_eq!(addrs("localhost").unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(addrs("localhost:http").unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
