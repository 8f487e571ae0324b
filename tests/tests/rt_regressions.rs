//! Regressions: each test is named after the failure it reproduces.

use loopwork::EventLoop;
use loopwork_tests::{current_thread_cpu_time, threads_cpu_time, with_watchdog, DropCounter};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[test]
fn a_task_spawned_while_a_worker_runs_a_slow_callback_starts_on_the_other_worker() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    std::thread::sleep(Duration::from_millis(100)); // both workers park
    let (running_tx, running_rx) = mpsc::channel();
    let (started_tx, started_rx) = mpsc::channel();
    let (verdict_tx, verdict_rx) = mpsc::channel();
    handle
        .call_soon(move || {
            running_tx.send(()).unwrap();
            // Holds its worker until the task has started elsewhere: a task
            // queued behind this callback would only start after the 10 s.
            verdict_tx.send(started_rx.recv_timeout(Duration::from_secs(10)).is_ok()).unwrap();
        })
        .unwrap();
    running_rx.recv().unwrap();
    let task = handle.spawn(async move { started_tx.send(()).unwrap() }).unwrap();
    assert!(verdict_rx.recv().unwrap(), "the task waited behind the callback");
    event_loop.block_on(task).unwrap();
}

#[test]
fn idle_workers_do_not_spin_while_another_drains_a_slow_callback() {
    let event_loop = EventLoop::builder().workers(2).thread_name("drain-spin").build().unwrap();
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
    // This loop's threads only (the sleeping callback uses none).
    let before = threads_cpu_time("drain-spin");
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let used = threads_cpu_time("drain-spin") - before;
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
    with_watchdog(Duration::from_secs(20), "drop after a timed-out shutdown", || {
        let event_loop = EventLoop::builder().workers(1).build().unwrap();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        event_loop
            .handle()
            .spawn(async move {
                started_tx.send(()).unwrap();
                // Stuck until the loop has been dropped: a drop that waited
                // for this poll would never return.
                let _ = release_rx.recv();
            })
            .unwrap();
        started_rx.recv().unwrap();
        assert!(event_loop.shutdown(Duration::from_millis(50)).is_err());
        drop(event_loop);
        release_tx.send(()).unwrap();
    });
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
    // `run_forever` runs on this thread: its CPU is this thread's.
    let before = current_thread_cpu_time();
    event_loop.run_forever();
    let used = current_thread_cpu_time() - before;
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
