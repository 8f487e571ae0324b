//! asyncio parity: `call_soon`, `call_soon_threadsafe`, `run_forever`,
//! `stop`, `is_running`, and the exception handler.

use loopwork::{EventLoop, Source};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn push(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

#[test]
fn strict_callbacks_and_tasks_interleave_in_fifo_order() {
    // asyncio: call_soon(cb1); create_task(t); call_soon(cb2) runs cb1, t, cb2.
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let handle = event_loop.handle();
    let order = log();
    event_loop.block_on({
        let order = order.clone();
        async move {
            let o = order.clone();
            handle.call_soon(move || push(&o, "cb1")).unwrap();
            let o = order.clone();
            let task = loopwork::spawn(async move { push(&o, "task") });
            let o = order.clone();
            handle.call_soon(move || push(&o, "cb2")).unwrap();
            task.await.unwrap();
            loopwork::yield_now().await;
        }
    });
    assert_eq!(*order.lock().unwrap(), ["cb1", "task", "cb2"]);
}

#[test]
fn a_cancelled_callback_never_runs_in_either_mode() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let ran = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..1000)
            .map(|_| {
                let ran = ran.clone();
                handle.call_soon(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect::<Result<_, _>>()
            .unwrap();
        // With workers some have run already; the rest race with cancel.
        let cancelled: Vec<bool> = handles.iter().step_by(2).map(|h| h.cancel()).collect();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        handle.call_soon(move || done_tx.send(()).unwrap()).unwrap();
        if workers == 0 {
            event_loop.block_on(loopwork::yield_now());
        }
        // FIFO: when this one runs, every earlier callback ran or was skipped.
        done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let won = cancelled.iter().filter(|&&c| c).count();
        assert_eq!(ran.load(Ordering::SeqCst), 1000 - won, "workers={workers}");
        for (h, c) in handles.iter().step_by(2).zip(&cancelled) {
            assert_eq!(h.cancelled(), *c);
        }
        if workers == 0 {
            assert_eq!(won, 500, "nothing runs before the driver does");
        }
    }
}

#[test]
fn a_million_threadsafe_callbacks_from_four_threads_run_once_in_per_thread_order() {
    let per_thread = loopwork_tests::env_count("LOOPWORK_CALLBACKS_PER_THREAD", 250_000);
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    // Callbacks never run two at a time, so plain per-thread "last seen"
    // slots are enough to check order; the Mutex is uncontended.
    let last_seen = Arc::new(Mutex::new([None::<usize>; 4]));
    let total = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let handle = handle.clone();
            let last_seen = last_seen.clone();
            let total = total.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let last_seen = last_seen.clone();
                    let total = total.clone();
                    handle
                        .call_soon_threadsafe(move || {
                            let mut last = last_seen.lock().unwrap();
                            assert!(last[t].is_none_or(|prev| prev + 1 == i), "thread {t}: {i} after {:?}", last[t]);
                            last[t] = Some(i);
                            total.fetch_add(1, Ordering::Relaxed);
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while total.load(Ordering::Relaxed) < 4 * per_thread {
        assert!(std::time::Instant::now() < deadline, "only {} callbacks ran", total.load(Ordering::Relaxed));
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(total.load(Ordering::Relaxed), 4 * per_thread);
    assert_eq!(*last_seen.lock().unwrap(), [Some(per_thread - 1); 4]);
}

#[test]
fn call_soon_threadsafe_wakes_a_parked_loop_at_once() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    std::thread::sleep(Duration::from_millis(50)); // let every worker park
    let (tx, rx) = std::sync::mpsc::channel();
    let sent = std::time::Instant::now();
    event_loop.handle().call_soon_threadsafe(move || tx.send(std::time::Instant::now()).unwrap()).unwrap();
    // A parked loop with no timer has no timeout: had the wake-up been lost,
    // the callback would never run. The bound only keeps a lost wake-up
    // from hanging the suite, and is generous for a loaded machine.
    let ran = rx.recv_timeout(Duration::from_secs(10)).expect("the parked loop woke up");
    assert!(ran >= sent);
}

#[test]
fn strict_stop_lets_the_current_iteration_finish_and_defers_what_it_scheduled() {
    // asyncio: a callback that calls stop() and then call_soon(later): the
    // rest of the current iteration runs, `later` runs on the next run_forever.
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let handle = event_loop.handle();
    let order = log();
    let (h, o) = (handle.clone(), order.clone());
    handle
        .call_soon(move || {
            push(&o, "first");
            h.stop();
            let o2 = o.clone();
            h.call_soon(move || push(&o2, "later")).unwrap();
        })
        .unwrap();
    let o = order.clone();
    handle.call_soon(move || push(&o, "same-iteration")).unwrap();
    event_loop.run_forever();
    assert_eq!(*order.lock().unwrap(), ["first", "same-iteration"]);
    handle.stop();
    event_loop.run_forever();
    assert_eq!(*order.lock().unwrap(), ["first", "same-iteration", "later"]);
}

#[test]
fn strict_stop_before_run_forever_runs_one_iteration() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let handle = event_loop.handle();
    let order = log();
    let o = order.clone();
    let h = handle.clone();
    handle
        .call_soon(move || {
            push(&o, "one");
            let o2 = o.clone();
            h.call_soon(move || push(&o2, "two")).unwrap();
        })
        .unwrap();
    handle.stop();
    event_loop.run_forever();
    assert_eq!(*order.lock().unwrap(), ["one"]);
}

#[test]
fn run_forever_with_workers_returns_when_stopped_from_another_thread() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    assert!(!handle.is_running());
    let stopper = {
        let handle = handle.clone();
        std::thread::spawn(move || {
            while !handle.is_running() {
                std::thread::sleep(Duration::from_millis(1));
            }
            handle.stop();
        })
    };
    event_loop.run_forever();
    stopper.join().unwrap();
    assert!(!handle.is_running());
}

#[test]
fn a_panicking_callback_goes_to_the_exception_handler_and_the_loop_goes_on() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let reports = Arc::new(Mutex::new(Vec::new()));
        let sink = reports.clone();
        handle.set_exception_handler(Some(move |report: loopwork::ExceptionContext| {
            // Only panics: a debug build printing the panic's backtrace may
            // also be reported as a slow poll.
            if let loopwork::ExceptionKind::UnhandledPanic(_) = report.kind {
                sink.lock().unwrap().push((report.source.clone(), report.panic_message().map(str::to_owned)));
            }
        }));
        let (tx, rx) = std::sync::mpsc::channel();
        handle.call_soon(|| panic!("bad callback")).unwrap();
        handle.call_soon(move || tx.send("after").unwrap()).unwrap();
        if workers == 0 {
            event_loop.block_on(loopwork::yield_now());
        }
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok("after"));
        assert_eq!(*reports.lock().unwrap(), [(Source::Callback, Some("bad callback".to_owned()))]);
    }
}

#[test]
fn call_soon_on_a_closed_loop_is_an_error() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        event_loop.close();
        assert_eq!(handle.call_soon(|| {}).unwrap_err(), loopwork::Closed);
        assert_eq!(handle.call_soon_threadsafe(|| {}).unwrap_err(), loopwork::Closed);
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn closing_a_running_loop_panics_with_advice_and_leaves_it_open() {
    // asyncio: "Cannot close a running event loop".
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let from_inside = event_loop.block_on(async {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| event_loop.close())).unwrap_err()
        });
        assert!(panic_text(from_inside).contains("Handle::stop"), "workers={workers}");
        assert!(!handle.is_closed(), "workers={workers}");

        // From another thread while this one is in run_forever.
        std::thread::scope(|scope| {
            let closer = scope.spawn(|| {
                while !handle.is_running() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| event_loop.close()));
                handle.stop();
                refused
            });
            event_loop.run_forever();
            assert!(panic_text(closer.join().unwrap().unwrap_err()).contains("running"), "workers={workers}");
        });
        assert!(!handle.is_closed(), "workers={workers}");
        // Once it has stopped running, close works, and again is a no-op.
        event_loop.close();
        event_loop.close();
        assert!(handle.is_closed());
    }
}

#[test]
fn close_discards_pending_callbacks_and_timers() {
    for workers in [0, 1] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let ran = Arc::new(AtomicUsize::new(0));
        // A worker that is busy until the close keeps the callbacks queued.
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        if workers > 0 {
            let (busy_tx, busy_rx) = std::sync::mpsc::channel();
            handle
                .call_soon_threadsafe(move || {
                    busy_tx.send(()).unwrap();
                    let _ = release_rx.recv_timeout(Duration::from_secs(10));
                })
                .unwrap();
            busy_rx.recv().unwrap();
        }
        let callbacks = Arc::new(());
        for _ in 0..100 {
            let (soon_ran, token) = (ran.clone(), callbacks.clone());
            handle
                .call_soon(move || {
                    let _token = token;
                    soon_ran.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            let (later_ran, token) = (ran.clone(), callbacks.clone());
            handle
                .call_later(Duration::from_secs(60), move || {
                    let _token = token;
                    later_ran.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
        // The busy callback returns once the close has begun.
        let closing = handle.clone();
        let releaser = std::thread::spawn(move || {
            while !closing.is_closed() {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(release_tx);
        });
        event_loop.close();
        releaser.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0, "workers={workers}: a discarded callback ran");
        // Every queued closure was dropped, not leaked.
        assert_eq!(Arc::strong_count(&callbacks), 1, "workers={workers}");
        assert!(handle.call_soon(|| {}).is_err());
    }
}
