//! TCP on the loop: the C10K echo, a blocked worker that must not hold up
//! I/O or timers, and idle connections that cost no CPU.

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopwork::net::{TcpListener, TcpStream};
use loopwork::EventLoop;
use loopwork_tests::{process_cpu_time, raise_nofile, raise_nofile_towards, with_watchdog};
use std::time::{Duration, Instant};

const MESSAGE: usize = 1024;

/// Serves every connection on `listener`: echoes until end of file.
async fn serve(listener: TcpListener) {
    loop {
        let (mut stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => panic!("accept failed: {err}"),
        };
        loopwork::spawn(async move {
            let mut buf = vec![0; MESSAGE];
            loop {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                stream.write_all(&buf[..n]).await.unwrap();
            }
        });
    }
}

/// One client: `messages` messages of 1 KiB, every byte checked.
async fn client(addr: std::net::SocketAddr, id: usize, messages: usize) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut reply = vec![0; MESSAGE];
    for m in 0..messages {
        let message: Vec<u8> = (0..MESSAGE).map(|i| (i + id * 7 + m * 13) as u8).collect();
        stream.write_all(&message).await.unwrap();
        stream.read_exact(&mut reply).await.unwrap();
        assert_eq!(reply, message, "connection {id}, message {m}");
    }
}

#[test]
fn net_echo_ten_thousand_concurrent_connections_ten_messages_each() {
    let wanted: usize = std::env::var("LOOPWORK_ECHO_CONNECTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
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

#[test]
fn a_worker_blocked_for_500_ms_does_not_delay_timers_or_echo_replies_on_the_other() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let (timer_late, echo_time) = event_loop.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        loopwork::spawn(serve(listener));
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // Warm the connection up so its handler exists.
        stream.write_all(&[1; MESSAGE]).await.unwrap();
        stream.read_exact(&mut [0; MESSAGE]).await.unwrap();

        // One worker blocks (what a task must never do).
        let (blocked_tx, blocked_rx) = std::sync::mpsc::channel();
        let blocker = loopwork::spawn(async move {
            blocked_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(500));
        });
        while blocked_rx.try_recv().is_err() {
            loopwork::yield_now().await;
        }
        let timer = loopwork::spawn(async {
            let set = Instant::now();
            loopwork::sleep(Duration::from_millis(10)).await;
            set.elapsed()
        });
        let echo = loopwork::spawn(async move {
            let sent = Instant::now();
            stream.write_all(&[2; MESSAGE]).await.unwrap();
            stream.read_exact(&mut [0; MESSAGE]).await.unwrap();
            sent.elapsed()
        });
        let timer_took = timer.await.unwrap();
        let echo_took = echo.await.unwrap();
        blocker.await.unwrap();
        (timer_took.saturating_sub(Duration::from_millis(10)), echo_took)
    });
    assert!(timer_late < Duration::from_millis(100), "the 10 ms timer was {timer_late:?} late");
    assert!(echo_time < Duration::from_millis(100), "the echo took {echo_time:?}");
}

#[test]
fn a_thousand_idle_connections_cost_no_cpu() {
    if let Err(reason) = raise_nofile(2_300) {
        println!("skipped: {reason}");
        return;
    }
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let streams = event_loop.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        loopwork::spawn(serve(listener));
        let mut streams = Vec::new();
        for _ in 0..1000 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(&[3; MESSAGE]).await.unwrap();
            stream.read_exact(&mut [0; MESSAGE]).await.unwrap();
            streams.push(stream);
        }
        streams
    });
    std::thread::sleep(Duration::from_millis(100));
    let before = process_cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let used = process_cpu_time() - before;
    assert!(used < Duration::from_millis(20), "1,000 idle connections cost {used:?} of CPU in 2 s");
    drop(streams);
}
