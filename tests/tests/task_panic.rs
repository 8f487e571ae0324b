//! Panics stay inside their task.

use loopwork::EventLoop;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn a_thousand_panicking_tasks_leave_the_loop_running() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let (panicking, fine): (Vec<_>, Vec<_>) = (0..2000)
        .map(|i| {
            handle
                .spawn(async move {
                    loopwork::yield_now().await;
                    if i % 2 == 0 {
                        panic!("task {i} failed");
                    }
                    i
                })
                .unwrap()
        })
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    event_loop.block_on(async move {
        for (i, task) in panicking {
            let err = task.await.unwrap_err();
            assert_eq!(err.panic_message(), Some(format!("task {i} failed").as_str()));
        }
        for (i, task) in fine {
            assert_eq!(task.await.unwrap(), i);
        }
    });
    // Still alive afterwards.
    assert_eq!(event_loop.block_on(handle.spawn(async { "alive" }).unwrap()).unwrap(), "alive");
}

#[test]
fn an_unobserved_panic_is_reported_once_with_the_task_name() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    let event_loop = EventLoop::builder()
        .workers(2)
        .on_unhandled_panic(move |report| {
            if !matches!(report.kind, loopwork::ExceptionKind::UnhandledPanic(_)) {
                return; // a slow poll (a debug build printing a backtrace)
            }
            sink.lock()
                .unwrap()
                .push((report.task_name().unwrap().to_owned(), report.panic_message().map(str::to_owned)))
        })
        .build()
        .unwrap();
    let handle = event_loop.handle();
    // Detached before it panics.
    drop(handle.spawn_named("detached", async { panic!("first") }).unwrap());
    // Dropped after it panicked, without being awaited.
    let late = handle.spawn_named("dropped-late", async { panic!("second") }).unwrap();
    while !late.is_done() {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(late);
    // Awaited: observed, not reported.
    let awaited = handle.spawn_named("awaited", async { panic!("third") }).unwrap();
    assert!(event_loop.block_on(awaited).is_err());
    event_loop.close();
    let mut reports = reports.lock().unwrap().clone();
    reports.sort();
    assert_eq!(
        reports,
        [("detached".to_owned(), Some("first".to_owned())), ("dropped-late".to_owned(), Some("second".to_owned()))]
    );
}

#[test]
fn a_panic_in_a_futures_drop_during_cancel_is_contained() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("drop failed");
        }
    }
    // Strict mode makes "the task has started" certain after one yield.
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let result = event_loop.block_on(async {
        let task = loopwork::spawn(async {
            let _guard = PanicOnDrop;
            std::future::pending::<()>().await;
        });
        loopwork::yield_now().await;
        task.cancel();
        task.await
    });
    assert_eq!(result.unwrap_err().panic_message(), Some("drop failed"));
    assert_eq!(event_loop.block_on(event_loop.handle().spawn(async { 1 }).unwrap()).unwrap(), 1);
}
