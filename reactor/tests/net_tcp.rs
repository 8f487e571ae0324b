//! TCP on the reactor: many concurrent echo connections, half-close, refused connects,
//! wake-ups on a peer's close, split halves on two threads.

mod common;

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::{block_on, ensure_nofile, join_all, spawn, with_watchdog};
use futures_lite::{AsyncReadExt, AsyncWriteExt, StreamExt};
use loopwork_reactor::net::{ReadHalf, TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream, WriteHalf};
use loopwork_reactor::{sleep, Async, Interval, Reactor, Sleep, Trigger};

const MESSAGE: usize = 1024;

fn message(connection: usize, round: usize) -> Vec<u8> {
    (0..MESSAGE).map(|k| (connection.wrapping_mul(31) ^ round.wrapping_mul(7) ^ k) as u8).collect()
}

/// Echoes every connection until the client closes, then half-closes back.
async fn echo_server(listener: TcpListener, connections: usize) {
    let mut handlers = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (stream, _) = listener.accept().await.expect("accept");
        handlers.push(spawn(async move {
            futures_lite::io::copy(&stream, &mut &stream).await.expect("echo");
            (&stream).close().await.expect("half-close");
        }));
    }
    for handler in handlers {
        handler.await;
    }
}

/// `connections` clients at once, each sending `rounds` messages of 1 KiB and checking every
/// byte of every echo.
fn echo(trigger: Trigger, connections: usize, rounds: usize) {
    let reactor = Arc::new(Reactor::with_trigger(trigger).unwrap());
    block_on(&reactor, async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(echo_server(listener, connections));
        let clients = (0..connections).map(|connection| async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            let mut echoed = vec![0; MESSAGE];
            for round in 0..rounds {
                let sent = message(connection, round);
                stream.write_all(&sent).await.expect("write");
                stream.read_exact(&mut echoed).await.expect("read");
                assert!(echoed == sent, "connection {connection}, round {round}: the echo differs");
            }
            stream.close().await.expect("close");
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).await.expect("read to end");
            assert!(rest.is_empty());
        });
        join_all(clients).await;
        server.await;
    });
}

#[test]
fn net_tcp_echo_1000_connections_10_messages_of_1_kib_every_byte_checked() {
    let connections = 1000;
    // Two descriptors per connection (client and server side), plus some slack.
    if let Err(reason) = ensure_nofile(2 * connections as u64 + 64) {
        eprintln!("skipped: {reason}");
        return;
    }
    with_watchdog(Duration::from_secs(60), move || echo(Trigger::Edge, connections, 10));
}

#[test]
fn net_tcp_echo_in_oneshot_mode() {
    with_watchdog(Duration::from_secs(60), || echo(Trigger::Oneshot, 100, 10));
}

#[test]
fn net_tcp_half_close_reader_sees_eof_and_can_still_write_back() {
    let reactor = Arc::new(Reactor::new().unwrap());
    with_watchdog(Duration::from_secs(10), move || {
        block_on(&reactor, async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();

            client.write_all(b"request").await.unwrap();
            client.shutdown(Shutdown::Write).unwrap();

            let mut request = Vec::new();
            server.read_to_end(&mut request).await.unwrap();
            assert_eq!(request, b"request", "the reader got everything, then end-of-file");

            server.write_all(b"response").await.unwrap();
            server.close().await.unwrap();
            let mut response = Vec::new();
            client.read_to_end(&mut response).await.unwrap();
            assert_eq!(response, b"response", "the half-closed side still reads");
        });
    });
}

#[test]
fn net_tcp_connect_to_a_closed_port_is_connection_refused_not_a_hang() {
    let closed: SocketAddr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let reactor = Arc::new(Reactor::new().unwrap());
    let error = with_watchdog(Duration::from_secs(10), move || {
        block_on(&reactor, async move { TcpStream::connect(closed).await.map(drop).unwrap_err() })
    });
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
}

#[test]
fn net_tcp_peer_closing_wakes_a_task_waiting_for_readability() {
    let reactor = Arc::new(Reactor::new().unwrap());
    with_watchdog(Duration::from_secs(10), move || {
        block_on(&reactor, async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();

            let waiter = spawn(async move {
                let mut server = server;
                let mut buf = [0; 16];
                server.read(&mut buf).await
            });
            let closer = spawn(async move {
                sleep(Duration::from_millis(20)).await;
                assert!(Reactor::current().unwrap().has_pending_io(), "the reader is waiting");
                drop(client);
            });
            closer.await;
            assert_eq!(waiter.await.unwrap(), 0, "end-of-file, not a hang");
        });
    });
}

#[test]
fn net_tcp_peer_resetting_wakes_a_waiter_with_an_error_or_eof() {
    let reactor = Arc::new(Reactor::new().unwrap());
    with_watchdog(Duration::from_secs(10), move || {
        block_on(&reactor, async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let server = Arc::new(server);

            let waiting = server.clone();
            let waiter = spawn(async move {
                let mut buf = [0; 16];
                (&*waiting).read(&mut buf).await
            });
            let closer = spawn(async move {
                // Unread data in the client's buffer turns its close into a reset.
                (&*server).write_all(b"never read").await.unwrap();
                sleep(Duration::from_millis(20)).await;
                drop(client);
            });
            closer.await;
            match waiter.await {
                Ok(0) => {}
                Ok(n) => panic!("read {n} bytes from a reset connection"),
                Err(err) => assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}"),
            }
        });
    });
}

#[test]
fn net_tcp_split_halves_read_and_write_from_two_threads_at_once() {
    const TOTAL: usize = 4 << 20;
    let data: Arc<Vec<u8>> = Arc::new((0..TOTAL).map(|i| (i % 251) as u8).collect());
    let reactor = Arc::new(Reactor::new().unwrap());
    let expected = data.clone();
    with_watchdog(Duration::from_secs(30), move || {
        block_on(&reactor, async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = spawn(echo_server(listener, 1));
            let (mut reader, mut writer): (ReadHalf, WriteHalf) = TcpStream::connect(addr).await.unwrap().split();

            // The write half goes to another thread, which does not drive the reactor: its
            // waker is called by this thread's reactor whenever the socket drains.
            let writing = std::thread::spawn(move || {
                futures_lite::future::block_on(async {
                    for chunk in data.chunks(64 * 1024) {
                        writer.write_all(chunk).await.unwrap();
                    }
                    writer.close().await.unwrap();
                });
                writer
            });
            let mut echoed = Vec::with_capacity(TOTAL);
            reader.read_to_end(&mut echoed).await.unwrap();
            assert!(echoed == *expected, "{} bytes echoed of {TOTAL}", echoed.len());
            let writer = writing.join().unwrap();
            server.await;
            reader.reunite(writer).unwrap();
        });
    });
}

#[test]
fn net_tcp_incoming_yields_connections_and_async_new_outside_a_loop_is_an_error() {
    let outside = Async::new(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap_err();
    assert!(outside.to_string().contains("outside a loopwork event loop"), "{outside}");
    let outside = TcpListener::bind("127.0.0.1:0").unwrap_err();
    assert!(outside.to_string().contains("outside a loopwork event loop"), "{outside}");

    let reactor = Arc::new(Reactor::new().unwrap());
    block_on(&reactor, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients = spawn(async move {
            let mut streams = Vec::new();
            for _ in 0..5 {
                streams.push(TcpStream::connect(addr).await.unwrap());
            }
            streams
        });
        let accepted: Vec<TcpStream> = listener.incoming().take(5).try_collect().await.unwrap();
        let clients = clients.await;
        let mut peers: Vec<_> = accepted.iter().map(|s| s.peer_addr().unwrap()).collect();
        let mut locals: Vec<_> = clients.iter().map(|s| s.local_addr().unwrap()).collect();
        peers.sort();
        locals.sort();
        assert_eq!(peers, locals);
    });
}

#[test]
fn net_types_are_send_and_sync_and_their_futures_are_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Reactor>();
    send_sync::<Async<std::net::TcpStream>>();
    send_sync::<TcpListener>();
    send_sync::<TcpStream>();
    send_sync::<ReadHalf>();
    send_sync::<WriteHalf>();
    send_sync::<UdpSocket>();
    send_sync::<UnixListener>();
    send_sync::<UnixStream>();
    send_sync::<Sleep>();
    send_sync::<Interval>();

    let reactor = Arc::new(Reactor::new().unwrap());
    let _guard = reactor.enter();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = reactor.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
    let mut buf = [0; 4];
    send(&listener.accept());
    send(&TcpStream::connect("127.0.0.1:1"));
    send(&udp.recv_from(&mut buf));
    send(&sleep(Duration::from_millis(1)));
}
