//! The C10K case asyncio's `select()` loop could not handle: ten thousand
//! concurrent echo connections, both ends in this process, every byte
//! checked. Alone in its binary, since it needs nearly every descriptor the
//! process may open.

use loopwork::net::TcpListener;
use loopwork::EventLoop;
use loopwork_tests::echo::{client, serve};
use loopwork_tests::{raise_nofile_towards, with_watchdog};
use std::time::Duration;

#[test]
fn net_echo_ten_thousand_concurrent_connections_ten_messages_each() {
    let wanted = loopwork_tests::env_count("LOOPWORK_ECHO_CONNECTIONS", 10_000);
    // Both ends live in this process: two descriptors a connection, plus
    // headroom for the listener, the poller and the test harness.
    let limit = raise_nofile_towards(2 * wanted as u64 + 256) as usize;
    let connections = wanted.min(limit.saturating_sub(256) / 2);
    if connections < wanted {
        println!("RLIMIT_NOFILE allows {limit} descriptors: running {connections} connections, not {wanted}");
    }
    assert!(connections >= 1000, "RLIMIT_NOFILE ({limit}) is too low for a meaningful echo test");
    with_watchdog(Duration::from_secs(240), "C10K echo", move || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        event_loop.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = loopwork::spawn(serve(listener));
            let clients: Vec<_> = (0..connections).map(|id| loopwork::spawn(client(addr, id, 10))).collect();
            for client in clients {
                client.await.unwrap();
            }
            server.cancel();
        });
    });
}
