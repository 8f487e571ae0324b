//! Done callbacks on tasks, promises and concurrent futures: they run once,
//! on the loop, after completion, in registration order; one that panics is
//! reported to the exception handler and the loop goes on.

use loopwork::{EventLoop, ExceptionContext, ExceptionKind, Source};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// Receives `count` messages, driving the loop meanwhile (in strict mode
/// nothing runs unless a thread is inside `block_on`).
fn receive_on_the_loop<T: Send>(event_loop: &EventLoop, rx: &mpsc::Receiver<T>, count: usize) -> Vec<T> {
    event_loop.block_on(async {
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while got.len() < count {
            match rx.try_recv() {
                Ok(item) => got.push(item),
                Err(_) if std::time::Instant::now() < deadline => loopwork::sleep(Duration::from_millis(1)).await,
                Err(_) => panic!("only {} of {count} arrived", got.len()),
            }
        }
        got
    })
}

/// A loop whose exception handler forwards the message of every panic it is
/// told of.
fn loop_with_reports(workers: usize) -> (EventLoop, mpsc::Receiver<String>) {
    let event_loop = EventLoop::builder().workers(workers).build().unwrap();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    event_loop.handle().set_exception_handler(Some(move |report: ExceptionContext| {
        // A panic's backtrace can take long enough to capture (debug builds,
        // RUST_BACKTRACE set) that the poll is also reported as slow: only
        // the panics are under test.
        if !matches!(report.kind, ExceptionKind::UnhandledPanic(_)) {
            return;
        }
        let callback = matches!(report.source, Source::Callback);
        let _ = tx.lock().unwrap().send(format!("{} callback={callback}", report.message));
    }));
    (event_loop, rx)
}

#[test]
fn task_done_callbacks_run_once_in_registration_order_after_completion() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let (gate_tx, gate_rx) = loopwork::sync::oneshot::channel::<()>();
        let task = event_loop.handle().spawn(async move { gate_rx.await.unwrap() }).unwrap();
        for n in 0..5 {
            let order = order.clone();
            task.add_done_callback(move |_| order.lock().unwrap().push(n)).unwrap();
        }
        assert!(order.lock().unwrap().is_empty(), "workers={workers}: a callback ran before completion");
        gate_tx.send(()).unwrap();
        event_loop.block_on(async {
            while order.lock().unwrap().len() < 5 {
                loopwork::sleep(Duration::from_millis(1)).await;
            }
        });
        // Added after completion: still runs, once, after the others.
        let order_late = order.clone();
        task.add_done_callback(move |_| order_late.lock().unwrap().push(5)).unwrap();
        event_loop.block_on(async {
            while order.lock().unwrap().len() < 6 {
                loopwork::sleep(Duration::from_millis(1)).await;
            }
        });
        event_loop.close();
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 5], "workers={workers}");
    }
}

#[test]
fn a_panicking_done_callback_is_reported_and_the_loop_goes_on() {
    for workers in [0, 2] {
        let (event_loop, reports) = loop_with_reports(workers);
        let handle = event_loop.handle();
        let (ran_tx, ran_rx) = mpsc::channel();

        let task = handle.spawn(async { 1 }).unwrap();
        task.add_done_callback(|_| panic!("task callback failed")).unwrap();
        let after = ran_tx.clone();
        task.add_done_callback(move |_| after.send("after the task's panicking callback").unwrap()).unwrap();

        let promise = handle.create_future::<u8>();
        promise.add_done_callback(|_| panic!("promise callback failed")).unwrap();
        let after = ran_tx.clone();
        promise.add_done_callback(move |_| after.send("after the promise's panicking callback").unwrap()).unwrap();
        promise.set_result(7).unwrap();

        let mut ran = receive_on_the_loop(&event_loop, &ran_rx, 2);
        ran.sort_unstable();
        assert_eq!(ran, ["after the promise's panicking callback", "after the task's panicking callback"]);
        let mut messages = receive_on_the_loop(&event_loop, &reports, 2);
        messages.sort();
        assert!(
            messages[0].contains("promise callback failed") && messages[0].ends_with("callback=true"),
            "{messages:?}"
        );
        assert!(messages[1].contains("task callback failed") && messages[1].ends_with("callback=true"), "{messages:?}");
        // The loop still runs tasks.
        assert_eq!(event_loop.block_on(handle.spawn(async { 2 }).unwrap()).unwrap(), 2, "workers={workers}");
        event_loop.close();
    }
}

#[test]
fn a_concurrent_future_is_done_and_calls_back_once_its_task_completes() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let (gate_tx, gate_rx) = loopwork::sync::oneshot::channel::<()>();
    let future = handle.run_coroutine_threadsafe(async move { gate_rx.await.map(|()| "finished") }).unwrap();
    let (called_tx, called_rx) = mpsc::channel();
    future.add_done_callback(move |_| called_tx.send(()).unwrap()).unwrap();
    assert!(!future.is_done());
    assert!(called_rx.recv_timeout(Duration::from_millis(50)).is_err(), "called back before completion");
    gate_tx.send(()).unwrap();
    called_rx.recv_timeout(Duration::from_secs(10)).expect("called back after completion");
    assert!(future.is_done());
    assert_eq!(future.result().unwrap(), Ok("finished"));
    event_loop.close();
}
