//! Closing a loop: fast, complete, and final.

use loopwork::{Closed, EventLoop};
use loopwork_tests::{pending_counted, DropCounter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[test]
fn shutdown_with_a_hundred_thousand_pending_tasks_drops_each_once_and_is_quick() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let drops = DropCounter::new();
    let tasks: Vec<_> = (0..100_000).map(|_| handle.spawn(pending_counted(drops.token())).unwrap()).collect();
    // Let some of them get polled and park, the rest stay queued.
    std::thread::sleep(Duration::from_millis(20));
    let started = Instant::now();
    // Tens of milliseconds on an idle machine; the bound is generous for a
    // loaded one and still fails a shutdown that waits out a timer or
    // handles each task more than once.
    event_loop.shutdown(Duration::from_secs(10)).expect("workers stop in time");
    let took = started.elapsed();
    assert_eq!(drops.dropped(), 100_000);
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    for task in &tasks {
        assert!(task.is_done() && task.is_cancelled());
    }
    drop(tasks);
    assert_eq!(drops.dropped(), 100_000, "a future was dropped twice");
}

#[test]
fn futures_are_dropped_on_a_loop_thread_or_the_closing_thread() {
    let event_loop = EventLoop::builder().workers(2).thread_name("lw").build().unwrap();
    let threads = Arc::new(Mutex::new(Vec::new()));
    struct RecordThread(Arc<Mutex<Vec<String>>>);
    impl Drop for RecordThread {
        fn drop(&mut self) {
            self.0.lock().unwrap().push(std::thread::current().name().unwrap_or("?").to_owned());
        }
    }
    for _ in 0..1000 {
        let record = RecordThread(threads.clone());
        event_loop
            .handle()
            .spawn(async move {
                let _record = record;
                std::future::pending::<()>().await
            })
            .unwrap();
    }
    let me = std::thread::current().name().unwrap_or("?").to_owned();
    event_loop.close();
    let threads = threads.lock().unwrap();
    assert_eq!(threads.len(), 1000);
    assert!(threads.iter().all(|name| *name == me || name.starts_with("lw-")), "{threads:?}");
}

#[test]
fn after_close_every_spawn_returns_closed() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        event_loop.close();
        event_loop.close(); // idempotent
        assert!(handle.is_closed());
        let drops = DropCounter::new();
        assert_eq!(handle.spawn(pending_counted(drops.token())).unwrap_err(), Closed);
        assert_eq!(handle.spawn_named("late", async {}).unwrap_err(), Closed);
        assert_eq!(drops.dropped(), 1, "the refused future is dropped at once");
    }
}

#[test]
fn a_stored_waker_woken_after_the_loop_is_gone_does_nothing() {
    let stash: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
    let drops = DropCounter::new();
    {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let task_stash = stash.clone();
        let token = drops.token();
        let task = event_loop
            .handle()
            .spawn(async move {
                let _token = token;
                std::future::poll_fn(|cx: &mut Context<'_>| {
                    *task_stash.lock().unwrap() = Some(cx.waker().clone());
                    Poll::<()>::Pending
                })
                .await
            })
            .unwrap();
        while stash.lock().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(task);
        // The loop is dropped (closed) here, with the waker still stashed.
    }
    assert_eq!(drops.dropped(), 1);
    let waker = stash.lock().unwrap().take().unwrap();
    waker.wake_by_ref();
    let clone = waker.clone();
    clone.wake();
    waker.wake();
    assert_eq!(drops.dropped(), 1);
}

#[test]
fn shutdown_reports_a_worker_stuck_in_a_poll() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    event_loop
        .handle()
        .spawn_named("stuck", async move {
            started_tx.send(()).unwrap();
            // Blocks its worker: the very thing not to do in a task.
            let _ = release_rx.recv();
        })
        .unwrap();
    started_rx.recv().unwrap();
    let err = event_loop.shutdown(Duration::from_millis(50)).unwrap_err();
    assert_eq!(err.workers, 1);
    assert_eq!(err.tasks.len(), 1);
    assert_eq!(err.tasks[0].1, "stuck");
    release_tx.send(()).unwrap();
    // Dropping the loop now waits for the worker, which has left.
    drop(event_loop);
}

#[test]
fn spawning_while_another_thread_closes_loses_nothing() {
    for _ in 0..20 {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let handle = event_loop.handle();
        let drops = DropCounter::new();
        let spawners: Vec<_> = (0..4)
            .map(|_| {
                let handle = handle.clone();
                let drops = drops.clone();
                std::thread::spawn(move || {
                    (0..2_000).filter(|_| handle.spawn(pending_counted(drops.token())).is_ok()).count()
                })
            })
            .collect();
        std::thread::sleep(Duration::from_micros(300));
        event_loop.close();
        let accepted: usize = spawners.into_iter().map(|s| s.join().unwrap()).sum();
        assert!(accepted <= 8_000);
        // Accepted or refused, every future is dropped exactly once.
        assert_eq!(drops.dropped(), 8_000);
    }
}

#[test]
fn threadsafe_submissions_while_another_thread_closes_run_or_are_refused() {
    // asyncio's call_soon_threadsafe / run_coroutine_threadsafe from 4
    // foreign threads racing a close: each submission is refused with
    // Err(Closed) or accepted, and an accepted one either runs or is
    // discarded by the close. Every closure and future is dropped once.
    for _ in 0..20 {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let handle = event_loop.handle();
        let drops = DropCounter::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let submitters: Vec<_> = (0..4)
            .map(|_| {
                let (handle, drops, ran) = (handle.clone(), drops.clone(), ran.clone());
                std::thread::spawn(move || {
                    let mut accepted = 0;
                    for i in 0..2_000 {
                        let token = drops.token();
                        let ran = ran.clone();
                        let submitted = if i % 2 == 0 {
                            handle
                                .call_soon_threadsafe(move || {
                                    let _token = token;
                                    ran.fetch_add(1, Ordering::SeqCst);
                                })
                                .is_ok()
                        } else {
                            handle
                                .run_coroutine_threadsafe(async move {
                                    let _token = token;
                                    ran.fetch_add(1, Ordering::SeqCst);
                                })
                                .is_ok()
                        };
                        accepted += usize::from(submitted);
                    }
                    accepted
                })
            })
            .collect();
        std::thread::sleep(Duration::from_micros(300));
        event_loop.close();
        let accepted: usize = submitters.into_iter().map(|s| s.join().unwrap()).sum();
        assert!(ran.load(Ordering::SeqCst) <= accepted);
        assert_eq!(drops.dropped(), 8_000, "a submission vanished or was dropped twice");
    }
}
