//! Host name lookups run on the blocking pool, never on a worker; literal
//! addresses skip the lookup.

use loopwork::net::{TcpListener, TcpStream, UdpSocket};
use loopwork::sync::Event;
use loopwork::EventLoop;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Fails the test instead of hanging if `f` does not finish in `limit`.
fn with_watchdog(limit: Duration, f: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => std::panic::resume_unwind(worker.join().unwrap_err()),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("no progress in {limit:?}: a lookup stalled the worker"),
    }
}

fn localhost(port: u16) -> Vec<SocketAddr> {
    vec![SocketAddr::from(([127, 0, 0, 1], port))]
}

#[test]
fn a_slow_lookup_does_not_stall_other_tasks_on_the_same_worker() {
    with_watchdog(Duration::from_secs(30), || {
        // The lookup, once started, blocks until a task spawned after it on
        // the loop's only worker lets it go: were the lookup on the worker,
        // that task could never run.
        let started = Arc::new(Event::new());
        let lookup_started = started.clone();
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let event_loop = EventLoop::builder()
            .workers(1)
            .resolver(move |host, port| {
                assert_eq!(host, "slow.test");
                lookup_started.set();
                released.lock().unwrap().recv().expect("the releasing task ran");
                Ok(localhost(port))
            })
            .build()
            .unwrap();
        let handle = event_loop.handle();
        let connected = event_loop.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let work = handle
                .spawn(async move {
                    let connect = loopwork::spawn(TcpStream::connect(("slow.test", port)));
                    started.wait().await;
                    let other = loopwork::spawn(async move {
                        assert!(std::thread::current().name().unwrap().starts_with("loopwork-worker"));
                        release.send(()).unwrap();
                    });
                    other.await.unwrap();
                    connect.await.unwrap()
                })
                .unwrap();
            let (_server, _) = listener.accept().await.unwrap();
            work.await.unwrap()
        });
        assert!(connected.is_ok(), "{connected:?}");
        event_loop.close();
    });
}

#[test]
fn lookups_run_on_the_blocking_pool_and_literal_addresses_skip_them() {
    let lookups = Arc::new(Mutex::new(Vec::new()));
    let seen = lookups.clone();
    let event_loop = EventLoop::builder()
        .workers(2)
        .resolver(move |host, port| {
            seen.lock().unwrap().push((host.to_owned(), std::thread::current().name().map(str::to_owned)));
            Ok(localhost(port))
        })
        .build()
        .unwrap();
    event_loop.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        TcpStream::connect(addr).await.unwrap();
        TcpStream::connect(format!("127.0.0.1:{}", addr.port())).await.unwrap();
        TcpStream::connect(("::1", 9)).await.unwrap_err(); // refused, or no IPv6: either way no lookup
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        udp.connect(addr).await.unwrap();
        assert!(lookups.lock().unwrap().is_empty(), "a literal address was looked up");

        TcpStream::connect(format!("tcp.test:{}", addr.port())).await.unwrap();
        let named = UdpSocket::bind("udp.test:0").await.unwrap();
        assert!(named.local_addr().unwrap().ip().is_loopback());
        named.connect(("peer.test", udp.local_addr().unwrap().port())).await.unwrap();
        assert_eq!(named.peer_addr().unwrap(), udp.local_addr().unwrap());
    });
    event_loop.close();
    let lookups = lookups.lock().unwrap();
    let hosts: Vec<_> = lookups.iter().map(|(host, _)| host.as_str()).collect();
    assert_eq!(hosts, ["tcp.test", "udp.test", "peer.test"]);
    for (host, thread) in lookups.iter() {
        let thread = thread.as_deref().unwrap_or("unnamed");
        assert!(thread.starts_with("loopwork-blocking"), "{host} was looked up on {thread}");
    }
}

#[test]
fn a_failed_lookup_is_the_connects_error() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let event_loop = EventLoop::builder()
        .workers(0)
        .resolver(move |host, _| {
            counted.fetch_add(1, Ordering::Relaxed);
            match host {
                "nowhere.test" => Err(io::Error::new(io::ErrorKind::NotFound, "no such host")),
                _ => Ok(Vec::new()),
            }
        })
        .build()
        .unwrap();
    event_loop.block_on(async {
        let missing = TcpStream::connect("nowhere.test:80").await.unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        let empty = UdpSocket::bind("empty.test:0").await.unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::InvalidInput);
        let malformed = TcpStream::connect("no-port.test").await.unwrap_err();
        assert_eq!(malformed.kind(), io::ErrorKind::InvalidInput);
    });
    event_loop.close();
    assert_eq!(calls.load(Ordering::Relaxed), 2, "the malformed address never reached the resolver");
}

#[test]
fn the_system_resolver_finds_localhost() {
    loopwork::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let addrs = loopwork::net::lookup_host(("localhost", port)).await.unwrap();
        assert!(addrs.iter().any(|addr| addr.ip().is_loopback() && addr.port() == port), "{addrs:?}");
        // localhost may resolve to ::1 first, where nothing listens: connect tries each.
        TcpStream::connect(("localhost", port)).await.unwrap();
    });
}
