//! Cancellation: delivered at the next suspension point, never lost, never
//! doubled.

use loopwork::EventLoop;
use loopwork_tests::{counted, DropCounter};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn a_task_cancelled_before_its_first_poll_never_runs() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let drops = DropCounter::new();
        let outcome = event_loop.block_on({
            let ran = ran.clone();
            let token = drops.token();
            async move {
                // In strict mode it cannot start before we yield; with
                // workers it may, which the match below allows for.
                let task = loopwork::spawn(counted(token, async move { ran.store(true, Ordering::SeqCst) }));
                let requested = task.cancel();
                (requested, task.await)
            }
        });
        match outcome {
            (true, Err(err)) => {
                assert!(err.is_cancelled(), "workers={workers}: {err:?}");
                assert!(!ran.load(Ordering::SeqCst), "workers={workers}: the body ran");
            }
            // With workers the task may have finished before (or while)
            // the cancellation arrived.
            (_, Ok(())) if workers > 0 => assert!(ran.load(Ordering::SeqCst)),
            other => panic!("workers={workers}: unexpected {other:?}"),
        }
        assert_eq!(drops.dropped(), 1, "workers={workers}");
    }
}

#[test]
fn a_task_cancelled_before_its_first_poll_in_strict_mode_never_runs() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let task = event_loop
        .handle()
        .spawn({
            let ran = ran.clone();
            async move { ran.store(true, Ordering::SeqCst) }
        })
        .unwrap();
    assert!(task.cancel());
    let result = event_loop.block_on(task);
    assert!(result.unwrap_err().is_cancelled());
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn a_pending_task_has_its_future_dropped_before_the_next_poll() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let drops = DropCounter::new();
        let polls = Arc::new(AtomicUsize::new(0));
        let outcome = event_loop.block_on({
            let polls = polls.clone();
            let token = drops.token();
            async move {
                let (started_tx, started_rx) = std::sync::mpsc::channel();
                let task = loopwork::spawn(counted(token, async move {
                    polls.fetch_add(1, Ordering::SeqCst);
                    started_tx.send(()).unwrap();
                    std::future::pending::<()>().await;
                    polls.fetch_add(1, Ordering::SeqCst);
                }));
                while started_rx.try_recv().is_err() {
                    loopwork::yield_now().await;
                }
                let requested = task.cancel();
                (requested, task.is_cancelled(), task.await)
            }
        });
        assert!(outcome.0, "workers={workers}");
        assert!(outcome.2.unwrap_err().is_cancelled(), "workers={workers}");
        assert_eq!(polls.load(Ordering::SeqCst), 1, "workers={workers}: polled after cancel");
        assert_eq!(drops.dropped(), 1, "workers={workers}");
    }
}

#[test]
fn cancel_on_a_finished_task_returns_false() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    event_loop.block_on(async {
        let task = loopwork::spawn(async { 5 });
        while !task.is_done() {
            loopwork::yield_now().await;
        }
        assert!(!task.cancel());
        assert!(!task.is_cancelled());
        assert_eq!(task.await.unwrap(), 5);
    });
}

#[test]
fn is_cancelled_reports_the_outcome_not_the_request() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    event_loop.block_on(async {
        let task = loopwork::spawn(std::future::pending::<()>());
        loopwork::yield_now().await;
        assert!(!task.is_cancelled());
        assert!(task.cancel());
        loopwork::yield_now().await;
        assert!(task.is_done());
        assert!(task.is_cancelled());
    });
}

#[test]
fn a_cancelled_detached_task_is_dropped_once() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let drops = DropCounter::new();
    let task = event_loop.handle().spawn(loopwork_tests::pending_counted(drops.token())).unwrap();
    task.cancel();
    drop(task);
    event_loop.close();
    assert_eq!(drops.dropped(), 1);
}
