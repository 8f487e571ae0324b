//! An HTTP/1.1 server on hyper and loopwork: `GET /` says hello, `POST
//! /echo` answers with the request's body, `GET /slow` answers after two
//! seconds. Ctrl-C stops accepting connections, lets the requests in flight
//! finish (try it during a `/slow`), then exits.
//!
//! Run it with
//! `cargo run --release -p loopwork --example http_server --features hyper [-- ADDR]`
//! (ADDR defaults to 127.0.0.1:3000), then
//! `curl http://127.0.0.1:3000/` or `curl -d 'some body' http://127.0.0.1:3000/echo`.

use futures_lite::future::or;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use loopwork::hyper::{Io, Timer};
use loopwork::net::{TcpListener, TcpStream};
use loopwork::sync::Event;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

async fn route(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => Response::new(Full::new(Bytes::from_static(b"hello, world\n"))),
        (&Method::POST, "/echo") => Response::new(Full::new(request.into_body().collect().await?.to_bytes())),
        (&Method::GET, "/slow") => {
            loopwork::sleep(Duration::from_secs(2)).await;
            Response::new(Full::new(Bytes::from_static(b"slow, but finished\n")))
        }
        _ => {
            let mut not_found = Response::new(Full::new(Bytes::from_static(b"not found\n")));
            *not_found.status_mut() = StatusCode::NOT_FOUND;
            not_found
        }
    };
    Ok(response)
}

/// Serves one connection until the client closes it or, after `shutdown`
/// is set, until its request in flight is answered.
async fn serve(stream: TcpStream, shutdown: Arc<Event>) {
    let connection = http1::Builder::new()
        .timer(Timer::current())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(Io::new(stream), service_fn(route));
    let mut connection = pin!(connection);
    let finished = or(async { Some(connection.as_mut().await) }, async {
        shutdown.wait().await;
        None
    })
    .await;
    let result = match finished {
        Some(result) => result,
        None => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        eprintln!("connection error: {error}");
    }
}

enum Next {
    Connection(io::Result<(TcpStream, std::net::SocketAddr)>),
    Interrupted(io::Result<()>),
}

#[loopwork::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let listener = TcpListener::bind(addr.as_str())?;
    println!("listening on http://{}", listener.local_addr()?);
    let shutdown = Arc::new(Event::new());
    let mut connections = Vec::new();
    // Ctrl-C (SIGINT), read on the loop's reactor through loopwork's one
    // process-wide signal pipe.
    let mut interrupted = pin!(loopwork::signal::ctrl_c());
    loop {
        let next = or(async { Next::Connection(listener.accept().await) }, async {
            Next::Interrupted(interrupted.as_mut().await)
        })
        .await;
        match next {
            Next::Connection(Ok((stream, _peer))) => {
                connections.retain(|connection: &loopwork::Task<()>| !connection.is_done());
                connections.push(loopwork::spawn(serve(stream, shutdown.clone())));
            }
            Next::Connection(Err(error)) => eprintln!("accept failed: {error}"),
            Next::Interrupted(result) => {
                result?;
                break;
            }
        }
    }
    drop(listener);
    connections.retain(|connection| !connection.is_done());
    println!("Ctrl-C: finishing the requests in flight on {} connection(s)", connections.len());
    shutdown.set();
    loopwork::try_gather(connections).await.expect("a connection task panicked");
    println!("stopped cleanly");
    Ok(())
}
