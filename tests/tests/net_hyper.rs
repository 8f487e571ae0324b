//! hyper on loopwork through `loopwork::hyper`: a server and a client on the
//! same loop, HTTP/1.1 with keep-alive and HTTP/2, every response checked;
//! hyper's timer closes a connection that sends no request.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use loopwork::hyper::{Executor, Io, Timer};
use loopwork::io::AsyncReadExt;
use loopwork::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Answers every request with its own body, prefixed by its path.
async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = request.uri().path().to_owned();
    let body = request.into_body().collect().await?.to_bytes();
    let mut answer = path.into_bytes();
    answer.extend_from_slice(&body);
    Ok(Response::new(Full::new(Bytes::from(answer))))
}

fn request(path: &str, body: String) -> Request<Full<Bytes>> {
    Request::post(path).header("host", "loopwork.test").body(Full::new(Bytes::from(body))).unwrap()
}

async fn body_of(response: Response<Incoming>) -> String {
    assert_eq!(response.status(), 200);
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// Listens on a free local port and accepts connections for ever, serving
/// each with HTTP/1.1 or HTTP/2; returns the address.
fn spawn_server(http2: bool) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    loopwork::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            loopwork::spawn(async move {
                let io = Io::new(stream);
                let served = if http2 {
                    hyper::server::conn::http2::Builder::new(Executor::current())
                        .timer(Timer::current())
                        .serve_connection(io, hyper::service::service_fn(echo))
                        .await
                } else {
                    hyper::server::conn::http1::Builder::new()
                        .timer(Timer::current())
                        .serve_connection(io, hyper::service::service_fn(echo))
                        .await
                };
                served.unwrap();
            });
        }
    });
    addr
}

#[loopwork::test(workers = 2)]
async fn http1_10000_requests_over_100_keep_alive_connections() {
    let addr = spawn_server(false);
    let clients: Vec<_> = (0..100)
        .map(|client| {
            loopwork::spawn(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                let (mut sender, connection) = hyper::client::conn::http1::handshake(Io::new(stream)).await.unwrap();
                let driver = loopwork::spawn(connection);
                for i in 0..100 {
                    let sent = format!("client {client} request {i}");
                    let response = sender.send_request(request("/echo/", sent.clone())).await.unwrap();
                    assert_eq!(body_of(response).await, format!("/echo/{sent}"));
                }
                drop(sender);
                driver.await.unwrap().unwrap();
                100
            })
        })
        .collect();
    let answered: u32 = loopwork::timeout(Duration::from_secs(120), loopwork::try_gather(clients))
        .await
        .expect("10,000 requests took over two minutes: something hangs")
        .unwrap()
        .into_iter()
        .sum();
    assert_eq!(answered, 10_000);
}

/// Bodies of every size, one after another on one keep-alive connection:
/// a read that fills the adapter's scratch buffer (16 KiB) sends the next
/// straight into hyper's buffer, and a short one sends it back; no byte
/// may be lost or reordered on the way.
#[loopwork::test(workers = 2)]
async fn http1_small_and_large_bodies_alternate_on_one_connection() {
    let addr = spawn_server(false);
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(Io::new(stream)).await.unwrap();
    let driver = loopwork::spawn(connection);
    let sizes = [10, 100_000, 5, 16 * 1024, 16 * 1024 - 1, 1 << 20, 3, 64 * 1024 + 7, 0, 300_000];
    let exchanges = async {
        for (round, size) in sizes.into_iter().enumerate() {
            let body: String = (0..size).map(|k| char::from(b'a' + ((k * 7 + round) % 26) as u8)).collect();
            // The connection takes the next request once it has finished
            // with the last response, which a large body can outlast.
            sender.ready().await.unwrap();
            let response = sender.send_request(request("/sized/", body.clone())).await.unwrap();
            assert!(body_of(response).await == format!("/sized/{body}"), "the body of {size} bytes came back altered");
        }
    };
    loopwork::timeout(Duration::from_secs(60), exchanges).await.expect("an exchange hangs");
    drop(sender);
    driver.await.unwrap().unwrap();
}

#[loopwork::test(workers = 2)]
async fn http2_1000_concurrent_requests_on_one_connection() {
    let addr = spawn_server(true);
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = hyper::client::conn::http2::Builder::new(Executor::current())
        .timer(Timer::current())
        .handshake(Io::new(stream))
        .await
        .unwrap();
    loopwork::spawn(connection);
    let requests: Vec<_> = (0..1000)
        .map(|i| {
            let mut sender = sender.clone();
            loopwork::spawn(async move {
                sender.ready().await.unwrap();
                let response = sender.send_request(request(&format!("/stream/{i}/"), "x".repeat(i))).await.unwrap();
                assert_eq!(response.version(), hyper::Version::HTTP_2);
                assert_eq!(body_of(response).await, format!("/stream/{i}/{}", "x".repeat(i)));
            })
        })
        .collect();
    loopwork::timeout(Duration::from_secs(120), loopwork::try_gather(requests))
        .await
        .expect("1,000 HTTP/2 requests took over two minutes: something hangs")
        .unwrap();
}

#[loopwork::test(workers = 2)]
async fn the_timer_closes_a_connection_that_sends_no_request() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    loopwork::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let served = hyper::server::conn::http1::Builder::new()
            .timer(Timer::current())
            .header_read_timeout(Duration::from_millis(50))
            .serve_connection(Io::new(stream), hyper::service::service_fn(echo))
            .await;
        assert!(served.is_err(), "a silent client times out");
    });
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut rest = Vec::new();
    let read = loopwork::timeout(Duration::from_secs(30), silent.read_to_end(&mut rest)).await;
    read.expect("hyper's header_read_timeout never fired").unwrap();
}
