//! The HTTP workload: a hyper HTTP/1.1 hello server and its keep-alive
//! clients, both on the runtime under test. Every runtime uses hyper's own
//! connection code; only the IO glue differs: `loopwork::hyper::Io` on
//! loopwork's sockets, hyper-util's `TokioIo` on tokio's, and the same
//! `loopwork::hyper::Io` (it takes any futures-io stream) on async-io's for
//! async-executor.

use crate::net::Net;
use crate::runtime::{Runtime, Spawner};
use crate::workloads::{timed, Timing};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Keep-alive client connections.
pub(crate) const HTTP_CLIENTS: usize = 64;
/// Requests each client sends per round, each after the previous answer.
pub(crate) const HTTP_REQUESTS: usize = 20;
/// The response body.
const HELLO: &[u8] = b"Hello, World!";

/// A hello server on a runtime and its connected clients.
struct Hello {
    clients: Vec<SendRequest<Empty<Bytes>>>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    server_done: mpsc::Receiver<()>,
}

impl Hello {
    fn open<R: Runtime>(runtime: &R) -> Hello {
        let spawner = runtime.spawner();
        let stop = Arc::new(AtomicBool::new(false));
        let (bound_tx, bound_rx) = mpsc::sync_channel(1);
        let (done_tx, server_done) = mpsc::sync_channel(1);
        let (inner, stopped) = (spawner.clone(), stop.clone());
        spawner.spawn_detached(async move {
            let (listener, addr) = R::Net::bind().expect("bind on loopback");
            bound_tx.send(addr).unwrap();
            loop {
                let accepted = R::Net::accept(&listener).await;
                // Acquire pairs with the Release store in `close`.
                if stopped.load(Acquire) {
                    break;
                }
                let io = R::Net::hyper_io(accepted.expect("accept on loopback"));
                inner.spawn_detached(async move {
                    let hello = hyper::service::service_fn(|_request| async {
                        Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(HELLO))))
                    });
                    // Ends when the client closes its connection.
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, hello).await;
                });
            }
            done_tx.send(()).unwrap();
        });
        let addr = bound_rx.recv().expect("the server task reports its address");
        let inner = spawner.clone();
        let connect = async move {
            let mut clients = Vec::with_capacity(HTTP_CLIENTS);
            for _ in 0..HTTP_CLIENTS {
                let stream = R::Net::connect(addr).await.expect("connect on loopback");
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(R::Net::hyper_io(stream)).await.expect("handshake");
                inner.spawn_detached(async move {
                    let _ = connection.await;
                });
                clients.push(sender);
            }
            clients
        };
        let clients = runtime.block_on(spawner.spawn(connect));
        Hello { clients, addr, stop, server_done }
    }

    /// One round: every client sends [`HTTP_REQUESTS`] requests in turn and
    /// reads each whole response.
    fn round<R: Runtime>(&mut self, runtime: &R) {
        let spawner = runtime.spawner();
        let (tx, rx) = mpsc::sync_channel(HTTP_CLIENTS);
        for mut sender in self.clients.drain(..) {
            let tx = tx.clone();
            spawner.spawn_detached(async move {
                for _ in 0..HTTP_REQUESTS {
                    // The connection task may not have taken in the previous
                    // response's end yet.
                    sender.ready().await.expect("the connection stays open");
                    let request = Request::get("/").header("host", "bench").body(Empty::new()).unwrap();
                    let response = sender.send_request(request).await.expect("a response");
                    let body = response.into_body().collect().await.expect("the body").to_bytes();
                    assert_eq!(body, HELLO);
                }
                tx.send(sender).unwrap();
            });
        }
        for _ in 0..HTTP_CLIENTS {
            self.clients.push(rx.recv().expect("every client finishes its round"));
        }
    }

    fn close(self) {
        drop(self.clients);
        // Release pairs with the Acquire load in the accept loop; the
        // connection wakes it to see the flag.
        self.stop.store(true, Release);
        drop(std::net::TcpStream::connect(self.addr));
        self.server_done.recv().expect("the accept loop ends");
    }
}

/// One iteration is one round of every client:
/// [`HTTP_CLIENTS`] × [`HTTP_REQUESTS`] requests.
pub(crate) fn http_hello<R: Runtime>(runtime: &R, budget: Duration) -> Timing {
    let mut hello = Hello::open(runtime);
    let timing = timed(budget, || hello.round(runtime));
    hello.close();
    timing
}
