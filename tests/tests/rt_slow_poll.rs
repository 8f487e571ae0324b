//! Slow-poll detection: a poll that blocks its worker is reported while it
//! is still stuck, with the task's name, and again when it returns.

use loopwork::{EventLoop, ExceptionKind, Source};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn a_stuck_worker_is_reported_by_task_name_while_stuck_and_when_its_poll_finishes_the_task() {
    for workers in [0, 2] {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let event_loop = EventLoop::builder()
            .workers(workers)
            .slow_poll_threshold(Duration::from_millis(50))
            .on_unhandled_panic(move |report| {
                if let ExceptionKind::SlowPoll { duration, finished } = report.kind {
                    let _ = tx.lock().unwrap().send((report.source.clone(), duration, finished));
                }
            })
            .build()
            .unwrap();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let task = event_loop
            .handle()
            .spawn_named("stuck-on-purpose", async move {
                // Blocks its worker until the test has seen the first report.
                release_rx.lock().unwrap().recv_timeout(Duration::from_secs(10)).unwrap();
            })
            .unwrap();
        // In strict mode a thread must drive the loop; with workers the task
        // is already running.
        let driver = std::thread::spawn(move || {
            event_loop.block_on(task).unwrap();
            event_loop
        });
        let (source, duration, finished) = rx.recv_timeout(Duration::from_secs(10)).expect("reported while stuck");
        assert!(!finished, "workers={workers}");
        assert!(duration >= Duration::from_millis(50), "workers={workers}: {duration:?}");
        assert!(matches!(source, Source::Task { ref name, .. } if name == "stuck-on-purpose"), "{source:?}");
        release_tx.send(()).unwrap();
        let (source, total, finished) = rx.recv_timeout(Duration::from_secs(10)).expect("reported when it returned");
        assert!(finished && total >= duration, "workers={workers}");
        // That poll finished the task, which left the registry: the name
        // was read while it was still running.
        assert!(matches!(source, Source::Task { ref name, .. } if name == "stuck-on-purpose"), "{source:?}");
        drop(driver.join().unwrap());
    }
}

#[test]
fn quick_polls_are_not_reported() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let event_loop = EventLoop::builder()
        .workers(2)
        .slow_poll_threshold(Duration::from_millis(200))
        .on_unhandled_panic(move |report| tx.lock().unwrap().send(report.message).unwrap())
        .build()
        .unwrap();
    event_loop.block_on(async {
        for _ in 0..1000 {
            loopwork::spawn(async { loopwork::yield_now().await }).await.unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(event_loop);
    assert_eq!(rx.try_recv().ok(), None);
}

#[test]
fn debug_mode_reports_a_slow_callback_with_its_duration() {
    for workers in [0, 1] {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = reports.clone();
        let event_loop = EventLoop::builder()
            .workers(workers)
            .debug(true)
            .slow_poll_threshold(Duration::from_millis(10))
            .on_unhandled_panic(move |report| seen.lock().unwrap().push(report))
            .build()
            .unwrap();
        let handle = event_loop.handle();
        let (done, ran) = std::sync::mpsc::channel();
        let quick = done.clone();
        handle.call_soon(move || quick.send(Duration::ZERO).unwrap()).unwrap();
        handle
            .call_soon(move || {
                let started = Instant::now();
                std::thread::sleep(Duration::from_millis(30));
                done.send(started.elapsed()).unwrap();
            })
            .unwrap();
        // Strict mode runs the callbacks inside `block_on`.
        event_loop.block_on(loopwork::sleep(Duration::from_millis(1)));
        let first = ran.recv_timeout(Duration::from_secs(30)).unwrap();
        let slept = first.max(ran.recv_timeout(Duration::from_secs(30)).unwrap());
        // Closing joins the worker, which reports after the callback returned.
        event_loop.close();
        let reports = reports.lock().unwrap();
        let slow: Vec<_> = reports
            .iter()
            .filter_map(|report| match report.kind {
                ExceptionKind::SlowCallback { duration } => Some((duration, &report.source, &report.message)),
                _ => None,
            })
            .collect();
        // Only the slow one, once, timed exactly: at least what it slept.
        let [(duration, source, message)] = slow[..] else { panic!("one slow-callback report expected: {reports:?}") };
        assert!(duration >= slept, "reported {duration:?}, slept {slept:?}");
        assert!(matches!(source, Source::Callback), "{source:?}");
        assert!(message.contains("callback took"), "{message}");
    }
}
