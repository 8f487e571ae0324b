//! Regressions: each test is named after the failure it reproduces.

use loopwork::EventLoop;
use loopwork_tests::{process_cpu_time, with_watchdog, DropCounter};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[test]
fn a_task_spawned_while_a_worker_runs_a_slow_callback_starts_on_the_other_worker() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    std::thread::sleep(Duration::from_millis(100)); // both workers park
    handle.call_soon(|| std::thread::sleep(Duration::from_millis(600))).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let spawned = Instant::now();
    let started = event_loop.block_on(handle.spawn(async move { spawned.elapsed() }).unwrap()).unwrap();
    assert!(started < Duration::from_millis(300), "the task waited {started:?} behind the callback");
}

#[test]
fn idle_workers_do_not_spin_while_another_drains_a_slow_callback() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let (tx, rx) = mpsc::channel();
    let inner = handle.clone();
    handle
        .call_soon(move || {
            // Queue a second callback behind this slow one.
            inner.call_soon(move || tx.send(()).unwrap()).unwrap();
            std::thread::sleep(Duration::from_millis(600));
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let before = process_cpu_time();
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let used = process_cpu_time() - before;
    assert!(used < Duration::from_millis(250), "idle workers burned {used:?} of CPU");
}

#[test]
fn close_returns_while_the_exception_handler_blocks() {
    with_watchdog(Duration::from_secs(20), "close with a blocked handler", || {
        let (tx, _rx_never_read) = mpsc::sync_channel::<String>(0);
        let tx = Mutex::new(tx);
        let event_loop = EventLoop::builder()
            .workers(1)
            .slow_poll_threshold(Duration::from_millis(20))
            .on_unhandled_panic(move |report| {
                // Blocks forever: nobody receives.
                let _ = tx.lock().unwrap().send(report.message);
            })
            .build()
            .unwrap();
        event_loop.handle().spawn(async { std::thread::sleep(Duration::from_millis(300)) }).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        event_loop.close();
    });
}

#[test]
fn dropping_the_loop_after_a_timed_out_shutdown_does_not_wait_for_the_stuck_poll() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    event_loop
        .handle()
        .spawn(async move {
            started_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(1500));
        })
        .unwrap();
    started_rx.recv().unwrap();
    assert!(event_loop.shutdown(Duration::from_millis(50)).is_err());
    let dropped = Instant::now();
    drop(event_loop);
    assert!(dropped.elapsed() < Duration::from_millis(500), "drop waited {:?}", dropped.elapsed());
}

#[test]
fn run_forever_on_a_closed_strict_loop_sleeps_until_stopped() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let handle = event_loop.handle();
    event_loop.close();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        handle.stop();
    });
    let before = process_cpu_time();
    event_loop.run_forever();
    let used = process_cpu_time() - before;
    stopper.join().unwrap();
    assert!(used < Duration::from_millis(200), "run_forever burned {used:?} of CPU");
}

#[test]
fn dropping_the_loop_inside_its_own_task_still_drops_every_task() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let drops = DropCounter::new();
    handle.spawn(loopwork_tests::pending_counted(drops.token())).unwrap();
    drop(handle.spawn(async move { drop(event_loop) }).unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while drops.dropped() < 1 {
        assert!(Instant::now() < deadline, "the pending task was never dropped");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(handle.is_closed());
    assert_eq!(handle.num_tasks(), 0);
}

#[test]
fn stop_before_run_forever_does_not_keep_the_loop_alive() {
    let drops = DropCounter::new();
    let token = Mutex::new(drops.token());
    let event_loop = EventLoop::builder()
        .workers(1)
        .on_unhandled_panic(move |_| {
            let _ = &token;
        })
        .build()
        .unwrap();
    let handle = event_loop.handle();
    handle.stop();
    event_loop.run_forever();
    drop(event_loop);
    drop(handle);
    assert_eq!(drops.dropped(), 1, "the loop (and its handler) leaked");
}
