//! `block_on` misuse is a clear panic, never a deadlock.

use loopwork::EventLoop;
use loopwork_tests::with_watchdog;
use std::time::Duration;

fn panic_text(err: Box<dyn std::any::Any + Send>) -> String {
    match err.downcast::<String>() {
        Ok(s) => *s,
        Err(err) => err.downcast::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    }
}

#[test]
fn block_on_inside_a_task_panics_with_advice() {
    with_watchdog(Duration::from_secs(30), "block_on in a task", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let handle = event_loop.handle();
        let inner = handle.clone();
        let task = handle
            .spawn(async move {
                let other = EventLoop::builder().workers(0).build().unwrap();
                let _ = &inner;
                other.block_on(async {})
            })
            .unwrap();
        let err = event_loop.block_on(task).unwrap_err();
        let text = err.panic_message().unwrap_or_default().to_owned();
        assert!(text.contains("already running a loopwork loop"), "{text}");
        assert!(text.contains("Await the future instead"), "{text}");
    });
}

#[test]
fn nested_block_on_panics_instead_of_deadlocking() {
    with_watchdog(Duration::from_secs(30), "nested block_on", || {
        for workers in [0, 2] {
            let event_loop = EventLoop::builder().workers(workers).build().unwrap();
            let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                event_loop.block_on(async { event_loop.block_on(async {}) })
            }))
            .unwrap_err();
            assert!(panic_text(err).contains("spawn it with `loopwork::spawn`"));
            // The loop still works after the misuse.
            assert_eq!(event_loop.block_on(async { 3 }), 3);
        }
    });
}

#[test]
fn loopwork_run_inside_a_loop_panics() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let err = event_loop.block_on(event_loop.handle().spawn(async { loopwork::run(async {}) }).unwrap()).unwrap_err();
    assert!(err.panic_message().unwrap().contains("already running a loopwork loop"));
}

#[test]
fn closing_a_loop_from_its_own_worker_panics() {
    let event_loop = std::sync::Arc::new(EventLoop::builder().workers(1).build().unwrap());
    let inner = event_loop.clone();
    let task = event_loop.handle().spawn(async move { inner.close() }).unwrap();
    let err = event_loop.block_on(task).unwrap_err();
    assert!(err.panic_message().unwrap().contains("cannot be closed from one of its own worker threads"));
}

#[test]
fn spawn_outside_a_loop_panics_with_advice() {
    let err = std::panic::catch_unwind(|| loopwork::spawn(async {})).unwrap_err();
    assert!(panic_text(err).contains("use Handle::spawn"));
}
