//! TCP on the loop: the C10K echo, a blocked worker that must not hold up
//! I/O or timers, and idle connections that cost no CPU.

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopwork::net::{TcpListener, TcpStream};
use loopwork::EventLoop;
use loopwork_tests::echo::{serve, MESSAGE};
use loopwork_tests::{raise_nofile, threads_cpu_time};
use std::time::Duration;

/// The tests of this file measure time and CPU: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_blocked_worker_does_not_hold_up_timers_or_echo_replies_on_the_other() {
    let _serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let served_while_blocked = event_loop.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        loopwork::spawn(serve(listener));
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // Warm the connection up so its handler exists.
        stream.write_all(&[1; MESSAGE]).await.unwrap();
        stream.read_exact(&mut [0; MESSAGE]).await.unwrap();

        // One worker blocks (what a task must never do).
        // It stays blocked until the timer and the echo are done, which can
        // only happen on the other worker; held up behind it, they would
        // finish only after its 10 s.
        let (blocked_tx, blocked_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let blocker = loopwork::spawn(async move {
            blocked_tx.send(()).unwrap();
            done_rx.recv_timeout(Duration::from_secs(10)).is_ok()
        });
        while blocked_rx.try_recv().is_err() {
            loopwork::yield_now().await;
        }
        let timer = loopwork::spawn(loopwork::sleep(Duration::from_millis(10)));
        let echo = loopwork::spawn(async move {
            stream.write_all(&[2; MESSAGE]).await.unwrap();
            stream.read_exact(&mut [0; MESSAGE]).await.unwrap();
        });
        timer.await.unwrap();
        echo.await.unwrap();
        // The blocker may have given up already (then nobody receives).
        let _ = done_tx.send(());
        blocker.await.unwrap()
    });
    assert!(served_while_blocked, "the timer and the echo waited for the blocked worker");
}

#[test]
fn a_thousand_idle_connections_cost_no_cpu() {
    let _serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Err(reason) = raise_nofile(2_300) {
        println!("skipped: {reason}");
        return;
    }
    let event_loop = EventLoop::builder().workers(2).thread_name("idle-conns").build().unwrap();
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
    // This loop's threads only: what other processes do cannot count.
    let before = threads_cpu_time("idle-conns");
    std::thread::sleep(Duration::from_secs(2));
    let used = threads_cpu_time("idle-conns") - before;
    assert!(used < Duration::from_millis(20), "1,000 idle connections cost {used:?} of CPU in 2 s");
    drop(streams);
}
