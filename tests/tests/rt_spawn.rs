//! Spawning from every kind of thread, in both modes.

use loopwork::{EventLoop, Handle};
use loopwork_tests::with_watchdog;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const THREADS: usize = 8;
const TOTAL: usize = 100_000;

/// Spawns `TOTAL` counting tasks from `THREADS` foreign threads and returns
/// their handles.
fn spawn_from_foreign_threads(handle: &Handle, runs: &Arc<Vec<AtomicUsize>>) -> Vec<loopwork::Task<()>> {
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let handle = handle.clone();
            let runs = runs.clone();
            std::thread::spawn(move || {
                (t * TOTAL / THREADS..(t + 1) * TOTAL / THREADS)
                    .map(|i| {
                        let runs = runs.clone();
                        handle
                            .spawn(async move {
                                runs[i].fetch_add(1, Ordering::Relaxed);
                            })
                            .expect("loop is open")
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
}

fn assert_each_ran_once(runs: &[AtomicUsize]) {
    for (i, count) in runs.iter().enumerate() {
        assert_eq!(count.load(Ordering::Relaxed), 1, "task {i} ran the wrong number of times");
    }
}

#[test]
fn hundred_thousand_tasks_from_eight_threads_run_once_with_two_workers() {
    with_watchdog(Duration::from_secs(120), "two workers", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let runs = Arc::new((0..TOTAL).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let tasks = spawn_from_foreign_threads(&event_loop.handle(), &runs);
        event_loop.block_on(async {
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert_each_ran_once(&runs);
    });
}

#[test]
fn hundred_thousand_tasks_from_eight_threads_run_once_in_strict_mode() {
    with_watchdog(Duration::from_secs(120), "strict mode", || {
        let event_loop = EventLoop::builder().workers(0).build().unwrap();
        let runs = Arc::new((0..TOTAL).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        let tasks = spawn_from_foreign_threads(&event_loop.handle(), &runs);
        // Nothing runs before a thread drives the loop.
        assert!(runs.iter().all(|c| c.load(Ordering::Relaxed) == 0));
        let caller = std::thread::current().id();
        event_loop.block_on(async {
            for task in tasks {
                task.await.unwrap();
            }
            assert_eq!(std::thread::current().id(), caller);
        });
        assert_each_ran_once(&runs);
    });
}

#[test]
fn strict_mode_runs_tasks_in_spawn_order_on_the_calling_thread() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let order = Arc::new(parking_lot_free_log());
    let caller = std::thread::current().id();
    event_loop.block_on({
        let order = order.clone();
        async move {
            let tasks: Vec<_> = (0..100)
                .map(|i| {
                    let order = order.clone();
                    loopwork::spawn(async move {
                        assert_eq!(std::thread::current().id(), caller);
                        order.lock().unwrap().push(i);
                        loopwork::yield_now().await;
                        order.lock().unwrap().push(100 + i);
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        }
    });
    let expected: Vec<_> = (0..200).collect();
    assert_eq!(*order.lock().unwrap(), expected);
}

#[test]
fn strict_mode_polls_the_main_future_in_its_turn() {
    // asyncio: tasks created before `await asyncio.sleep(0)` run before main
    // resumes; the ones they create run after.
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let log = Arc::new(parking_lot_free_log());
    event_loop.block_on({
        let log = log.clone();
        async move {
            for name in ["a", "b"] {
                let log = log.clone();
                loopwork::spawn(async move {
                    log.lock().unwrap().push(name);
                    let inner = log.clone();
                    loopwork::spawn(async move { inner.lock().unwrap().push("child") });
                });
            }
            loopwork::yield_now().await;
            log.lock().unwrap().push("main");
            loopwork::yield_now().await;
        }
    });
    assert_eq!(*log.lock().unwrap(), ["a", "b", "main", "child", "child"]);
}

fn parking_lot_free_log<T>() -> std::sync::Mutex<Vec<T>> {
    std::sync::Mutex::new(Vec::new())
}

#[test]
fn spawn_works_from_a_task_from_block_on_and_from_a_foreign_thread() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let foreign = {
        let handle = handle.clone();
        std::thread::spawn(move || handle.spawn(async { 1 }).unwrap()).join().unwrap()
    };
    let total = event_loop.block_on(async move {
        let from_block_on = loopwork::spawn(async { 10 });
        let from_task = loopwork::spawn(async { loopwork::spawn(async { 100 }).await.unwrap() });
        foreign.await.unwrap() + from_block_on.await.unwrap() + from_task.await.unwrap()
    });
    assert_eq!(total, 111);
}

#[test]
fn named_tasks_keep_their_names_and_others_are_numbered() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    let named = handle.spawn_named("worker-7", async {}).unwrap();
    let plain = handle.spawn(async {}).unwrap();
    assert_eq!(named.name(), "worker-7");
    assert_eq!(plain.name(), format!("Task-{}", plain.id()));
    assert!(plain.id() > named.id());
}

#[test]
fn dropping_a_task_handle_detaches_the_task() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let task = event_loop
        .handle()
        .spawn(async move {
            for _ in 0..10 {
                loopwork::yield_now().await;
            }
            tx.send("finished").unwrap();
        })
        .unwrap();
    drop(task);
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("finished"));
}

#[test]
fn get_running_loop_is_the_loop_the_task_runs_on() {
    assert!(loopwork::get_running_loop().is_none());
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let inside = event_loop.block_on(async {
        loopwork::spawn(async { loopwork::get_running_loop().map(|h| h.workers()) }).await.unwrap()
    });
    assert_eq!(inside, Some(1));
}
