//! TCP on the loop: the C10K echo, a blocked worker that must not hold up
//! I/O or timers, and idle connections that cost no CPU.

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopwork::net::{TcpListener, TcpStream};
use loopwork::EventLoop;
use loopwork_tests::echo::{serve, MESSAGE};
use loopwork_tests::{process_cpu_time, raise_nofile};
use std::time::{Duration, Instant};

/// The tests of this file measure time and CPU: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_worker_blocked_for_500_ms_does_not_delay_timers_or_echo_replies_on_the_other() {
    let _serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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
    let _serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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
