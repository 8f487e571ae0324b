//! The network workloads, written once against [`Net`]: a TCP echo over
//! loopback (throughput, and the round trips of the latency rows), and idle
//! connections for the idle CPU row.
//!
//! Both ends of an echo run on the runtime under test: a server task that
//! accepts and spawns one echo task per connection, and one client task per
//! connection. Connections are opened before a sample is timed and closed
//! after it.

use crate::net::{read_exact, Net};
use crate::runtime::{Runtime, Spawner};
use crate::workloads::{timed, Timing};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Clients of the echo workloads.
pub(crate) const ECHO_CLIENTS: usize = 32;
/// Messages each client sends per round.
pub(crate) const ECHO_MESSAGES: usize = 100;
/// The message size.
const MESSAGE: usize = 1024;
/// Connections of the idle CPU row.
pub(crate) const IDLE_CONNECTIONS: usize = 1_000;

/// Client streams of runtime `R`.
type Stream<R> = <<R as Runtime>::Net as Net>::Stream;

/// An echo server on a runtime and its connected clients.
struct Echo<R: Runtime> {
    /// The client ends, each taken by its client task for a round and
    /// handed back at the end of it.
    clients: Vec<Stream<R>>,
    addr: SocketAddr,
    /// Tells the accept loop to end at its next connection.
    stop: Arc<AtomicBool>,
    /// Signalled when the accept loop has ended.
    server_done: mpsc::Receiver<()>,
}

impl<R: Runtime> Echo<R> {
    /// Starts the server and connects [`ECHO_CLIENTS`] clients.
    fn open(runtime: &R) -> io::Result<Echo<R>> {
        let spawner = runtime.spawner();
        let stop = Arc::new(AtomicBool::new(false));
        let (bound_tx, bound_rx) = mpsc::sync_channel(1);
        let (done_tx, server_done) = mpsc::sync_channel(1);
        let (inner, stopped) = (spawner.clone(), stop.clone());
        spawner.spawn_detached(async move {
            let (listener, addr) = match R::Net::bind() {
                Ok(bound) => bound,
                Err(err) => return bound_tx.send(Err(err)).unwrap(),
            };
            bound_tx.send(Ok(addr)).unwrap();
            loop {
                let accepted = R::Net::accept(&listener).await;
                // Acquire pairs with the Release store in `close`.
                if stopped.load(Acquire) {
                    break;
                }
                let mut stream = accepted.expect("accept on loopback");
                inner.spawn_detached(async move {
                    let mut buf = vec![0; MESSAGE];
                    // Until the client closes its end (0) or resets it.
                    while let Ok(n @ 1..) = R::Net::read(&mut stream, &mut buf).await {
                        if R::Net::write_all(&mut stream, &buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
            done_tx.send(()).unwrap();
        });
        let addr = bound_rx.recv().expect("the server task reports its address")?;
        let connect = async move {
            let mut clients = Vec::with_capacity(ECHO_CLIENTS);
            for _ in 0..ECHO_CLIENTS {
                clients.push(R::Net::connect(addr).await?);
            }
            io::Result::Ok(clients)
        };
        let clients = runtime.block_on(spawner.spawn(connect))?;
        Ok(Echo { clients, addr, stop, server_done })
    }

    /// One round: every client sends [`ECHO_MESSAGES`] messages, each after
    /// the echo of the one before. With `record`, returns every round trip's
    /// duration.
    fn round(&mut self, runtime: &R, record: bool) -> Vec<Duration> {
        let spawner = runtime.spawner();
        let (tx, rx) = mpsc::sync_channel(ECHO_CLIENTS);
        for mut stream in self.clients.drain(..) {
            let tx = tx.clone();
            spawner.spawn_detached(async move {
                let mut round_trips = Vec::with_capacity(if record { ECHO_MESSAGES } else { 0 });
                let message = vec![7; MESSAGE];
                let mut echo = vec![0; MESSAGE];
                for _ in 0..ECHO_MESSAGES {
                    let sent = Instant::now();
                    R::Net::write_all(&mut stream, &message).await.expect("write to the echo server");
                    read_exact::<R::Net>(&mut stream, &mut echo).await.expect("read the echo");
                    if record {
                        round_trips.push(sent.elapsed());
                    }
                }
                tx.send((stream, round_trips)).unwrap();
            });
        }
        let mut all = Vec::with_capacity(if record { ECHO_CLIENTS * ECHO_MESSAGES } else { 0 });
        for _ in 0..ECHO_CLIENTS {
            let (stream, round_trips) = rx.recv().expect("every client finishes its round");
            self.clients.push(stream);
            all.extend(round_trips);
        }
        all
    }

    /// Closes the clients (their echo tasks end at end of file) and ends
    /// the accept loop.
    fn close(self) {
        drop(self.clients);
        // Release pairs with the Acquire load in the accept loop; the
        // connection wakes it to see the flag.
        self.stop.store(true, Release);
        drop(std::net::TcpStream::connect(self.addr));
        self.server_done.recv().expect("the accept loop ends");
    }
}

/// The throughput workload: one iteration is one round of every client.
pub(crate) fn tcp_echo<R: Runtime>(runtime: &R, budget: Duration) -> Timing {
    let mut echo = Echo::open(runtime).expect("an echo server and its clients on loopback");
    let timing = timed(budget, || {
        echo.round(runtime, false);
    });
    echo.close();
    timing
}

/// The latency workload: rounds until `budget` is spent (at least one), and
/// the duration of every round trip in them.
pub(crate) fn echo_round_trips<R: Runtime>(runtime: &R, budget: Duration) -> io::Result<Vec<Duration>> {
    let mut echo = Echo::open(runtime)?;
    let mut round_trips = Vec::new();
    let start = Instant::now();
    while round_trips.is_empty() || start.elapsed() < budget {
        round_trips.extend(echo.round(runtime, true));
    }
    echo.close();
    Ok(round_trips)
}

/// Connections registered with a runtime and idle: a task per connection
/// waits to read from it, and the other ends are blocking sockets held by
/// the benchmark thread, outside every runtime.
#[derive(Debug)]
pub(crate) struct IdleConnections {
    clients: Vec<std::net::TcpStream>,
    /// One message per reading task when it ends.
    readers_done: mpsc::Receiver<()>,
}

impl IdleConnections {
    /// Opens `count` connections to a listener on `runtime` and returns once
    /// every reading task has started.
    ///
    /// # Errors
    ///
    /// If the listener cannot be bound or a client cannot connect.
    pub(crate) fn open<R: Runtime>(runtime: &R, count: usize) -> io::Result<IdleConnections> {
        let spawner = runtime.spawner();
        let (bound_tx, bound_rx) = mpsc::sync_channel(1);
        let (done_tx, readers_done) = mpsc::sync_channel(count);
        let reading = Arc::new(AtomicUsize::new(0));
        let (inner, started) = (spawner.clone(), reading.clone());
        spawner.spawn_detached(async move {
            let (listener, addr) = match R::Net::bind() {
                Ok(bound) => bound,
                Err(err) => return bound_tx.send(Err(err)).unwrap(),
            };
            bound_tx.send(Ok(addr)).unwrap();
            for _ in 0..count {
                let mut stream = R::Net::accept(&listener).await.expect("accept on loopback");
                let (done, started) = (done_tx.clone(), started.clone());
                inner.spawn_detached(async move {
                    // Relaxed is enough: only the count is read.
                    started.fetch_add(1, Relaxed);
                    let mut buf = [0; 1];
                    // Nothing is ever sent: this ends when the client closes.
                    let _ = R::Net::read(&mut stream, &mut buf).await;
                    done.send(()).unwrap();
                });
            }
        });
        let addr = bound_rx.recv().expect("the server task reports its address")?;
        let clients = (0..count).map(|_| std::net::TcpStream::connect(addr)).collect::<io::Result<Vec<_>>>()?;
        while reading.load(Relaxed) < count {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Let the last readers reach their first read and register.
        std::thread::sleep(Duration::from_millis(50));
        Ok(IdleConnections { clients, readers_done })
    }

    /// Closes the client ends and waits until every reading task has ended.
    pub(crate) fn close(self) {
        let count = self.clients.len();
        drop(self.clients);
        for _ in 0..count {
            self.readers_done.recv().expect("every reader sees its connection close");
        }
    }
}
