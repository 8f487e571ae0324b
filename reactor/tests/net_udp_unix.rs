//! UDP ping-pong and Unix-domain streams on the reactor.

mod common;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use common::{block_on, join_all, spawn, with_watchdog};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopwork_reactor::net::{UdpSocket, UnixListener, UnixStream};
use loopwork_reactor::Reactor;

#[test]
fn net_udp_10000_datagrams_ping_ponged_none_lost() {
    const DATAGRAMS: u64 = 10_000;
    let reactor = Arc::new(Reactor::new().unwrap());
    with_watchdog(Duration::from_secs(30), move || {
        block_on(&reactor, async {
            let ping = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let pong = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let pong_addr = pong.local_addr().unwrap();
            let ponger = spawn(async move {
                let mut buf = [0; 64];
                for _ in 0..DATAGRAMS {
                    let (n, from) = pong.recv_from(&mut buf).await.unwrap();
                    pong.send_to(&buf[..n], from).await.unwrap();
                }
            });
            let mut buf = [0; 64];
            for i in 0..DATAGRAMS {
                ping.send_to(&i.to_le_bytes(), pong_addr).await.unwrap();
                let (n, from) = ping.recv_from(&mut buf).await.unwrap();
                assert_eq!((n, from), (8, pong_addr));
                assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), i, "datagram {i}");
            }
            ponger.await;
        });
    });
}

#[test]
fn net_udp_connected_send_and_recv_and_peek() {
    let reactor = Arc::new(Reactor::new().unwrap());
    block_on(&reactor, async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        for i in 0..100u32 {
            a.send(&i.to_be_bytes()).await.unwrap();
            let mut buf = [0; 4];
            assert_eq!(b.peek_from(&mut buf).await.unwrap(), (4, a.local_addr().unwrap()));
            assert_eq!(b.recv(&mut buf).await.unwrap(), 4);
            assert_eq!(u32::from_be_bytes(buf), i);
            b.send(&buf).await.unwrap();
            assert_eq!(a.recv(&mut buf).await.unwrap(), 4);
        }
    });
}

fn socket_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("loopwork-reactor-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn net_unix_echo_100_connections() {
    let dir = socket_dir("echo");
    let path = dir.join("socket");
    let reactor = Arc::new(Reactor::new().unwrap());
    let server_path = path.clone();
    with_watchdog(Duration::from_secs(30), move || {
        block_on(&reactor, async move {
            let listener = UnixListener::bind(&server_path).unwrap();
            let server = spawn(async move {
                for _ in 0..100 {
                    let (stream, _) = listener.accept().await.unwrap();
                    spawn(async move {
                        futures_lite::io::copy(&stream, &mut &stream).await.unwrap();
                        (&stream).close().await.unwrap();
                    });
                }
            });
            let clients = (0..100u8).map(|i| {
                let path = server_path.clone();
                async move {
                    let mut stream = UnixStream::connect(&path).await.unwrap();
                    let sent = vec![i; 4096];
                    stream.write_all(&sent).await.unwrap();
                    stream.close().await.unwrap();
                    let mut echoed = Vec::new();
                    stream.read_to_end(&mut echoed).await.unwrap();
                    assert!(echoed == sent, "client {i}");
                }
            });
            join_all(clients).await;
            server.await;
        });
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn net_unix_connect_to_a_missing_path_fails_and_pair_half_closes() {
    let dir = socket_dir("missing");
    let reactor = Arc::new(Reactor::new().unwrap());
    let missing = dir.join("nobody");
    block_on(&reactor, async move {
        let err = UnixStream::connect(&missing).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");

        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(b"ab").await.unwrap();
        a.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"ab");
        b.write_all(b"back").await.unwrap();
        drop(b);
        let mut back = Vec::new();
        a.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"back");
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
