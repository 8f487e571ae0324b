//! `spawn_local`: `!Send` futures run on the thread that spawned them, in
//! strict mode, inside `block_on` with workers, and pinned to a worker.

use loopwork::{EventLoop, Handle, TaskState};
use loopwork_tests::{panic_message, with_watchdog};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(60);

/// Records the thread it is dropped on.
struct DropProbe {
    dropped_on: Arc<Mutex<Vec<ThreadId>>>,
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.dropped_on.lock().unwrap().push(thread::current().id());
    }
}

/// 1,000 local tasks share one `Rc<RefCell<_>>`, each yielding in between,
/// on `event_loop`; returns the threads they ran on.
fn thousand_tasks_share_an_rc(event_loop: &EventLoop) -> Vec<ThreadId> {
    event_loop.block_on(async {
        let shared = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let shared = shared.clone();
                loopwork::spawn_local(async move {
                    shared.borrow_mut().push((i, thread::current().id()));
                    loopwork::yield_now().await;
                    let borrowed = shared.borrow();
                    assert!(borrowed.iter().any(|&(j, _)| j == i));
                    thread::current().id()
                })
            })
            .collect();
        let mut threads = Vec::new();
        for task in tasks {
            threads.push(task.await.unwrap());
        }
        assert_eq!(shared.borrow().len(), 1000);
        threads.extend(shared.borrow().iter().map(|&(_, thread)| thread));
        threads
    })
}

#[test]
fn rc_refcell_shared_by_a_thousand_local_tasks_in_strict_mode() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let threads = thousand_tasks_share_an_rc(&event_loop);
    assert_eq!(threads.len(), 2000);
    assert!(threads.iter().all(|&t| t == thread::current().id()));
}

#[test]
fn rc_refcell_shared_by_a_thousand_local_tasks_inside_block_on_with_two_workers() {
    with_watchdog(WATCHDOG, "block_on_two_workers", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let threads = thousand_tasks_share_an_rc(&event_loop);
        assert_eq!(threads.len(), 2000);
        // The block_on thread, never a worker.
        assert!(threads.iter().all(|&t| t == thread::current().id()));
    });
}

/// A task on a worker spawns local tasks that yield many times; each must
/// run only on the thread that spawned it. Returns how many ran.
fn local_tasks_from_worker_tasks(handle: &Handle, event_loop: &EventLoop) -> usize {
    let spawners: Vec<_> = (0..8)
        .map(|_| {
            handle
                .spawn(async {
                    // Where the spawn happened: the local tasks' home.
                    let home = thread::current().id();
                    let locals: Vec<_> = (0..50)
                        .map(|_| {
                            let marker = Rc::new(()); // not Send
                            loopwork::spawn_local(async move {
                                let mut seen = Vec::new();
                                for _ in 0..10 {
                                    seen.push(thread::current().id());
                                    loopwork::yield_now().await;
                                }
                                drop(marker);
                                seen
                            })
                        })
                        .collect();
                    let mut ran = 0;
                    for local in locals {
                        let seen = local.await.unwrap();
                        assert!(seen.iter().all(|&t| t == home), "a local task left its worker");
                        ran += 1;
                    }
                    ran
                })
                .unwrap()
        })
        .collect();
    event_loop.block_on(async {
        let mut ran = 0;
        for spawner in spawners {
            ran += spawner.await.unwrap();
        }
        ran
    })
}

#[test]
fn local_tasks_spawned_from_a_worker_task_stay_on_that_worker() {
    with_watchdog(WATCHDOG, "worker_pinned", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        assert_eq!(local_tasks_from_worker_tasks(&event_loop.handle(), &event_loop), 400);
    });
}

#[test]
fn local_tasks_stay_on_their_worker_under_chaos() {
    with_watchdog(WATCHDOG, "worker_pinned_chaos", || {
        for seed in 1..=4 {
            let event_loop = EventLoop::builder().workers(2).chaos_seed(seed).build().unwrap();
            let handle = event_loop.handle();
            // Ordinary tasks that keep yielding, so that the workers keep
            // stealing from each other's deques while chaos mode requeues
            // the local tasks: none may be among what is stolen.
            let churn: Vec<_> = (0..4)
                .map(|_| {
                    handle
                        .spawn(async {
                            for _ in 0..2000 {
                                loopwork::yield_now().await;
                            }
                        })
                        .unwrap()
                })
                .collect();
            assert_eq!(local_tasks_from_worker_tasks(&handle, &event_loop), 400);
            for task in churn {
                event_loop.block_on(task).unwrap();
            }
        }
    });
}

#[test]
fn a_local_task_on_the_block_on_thread_is_woken_from_a_foreign_thread() {
    with_watchdog(WATCHDOG, "foreign_wake_block_on", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let (tx, mut rx) = loopwork::sync::mpsc::unbounded::<u32>();
        let (ran_on, sum) = event_loop.block_on(async move {
            let local = loopwork::spawn_local(async move {
                let not_send = Rc::new(RefCell::new(0));
                while let Ok(value) = rx.recv().await {
                    *not_send.borrow_mut() += value;
                }
                let sum = *not_send.borrow();
                (thread::current().id(), sum)
            });
            let sender = thread::spawn(move || {
                for value in 1..=100 {
                    tx.send(value).unwrap();
                    if value % 10 == 0 {
                        // Let the owner go back to sleep in between.
                        thread::sleep(Duration::from_millis(1));
                    }
                }
            });
            let outcome = local.await.unwrap();
            sender.join().unwrap();
            outcome
        });
        assert_eq!(ran_on, thread::current().id());
        assert_eq!(sum, 5050);
    });
}

#[test]
fn a_local_task_on_a_worker_is_woken_from_a_foreign_thread() {
    with_watchdog(WATCHDOG, "foreign_wake_worker", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        for _ in 0..20 {
            let (tx, mut rx) = loopwork::sync::mpsc::unbounded::<u32>();
            let outer = event_loop
                .handle()
                .spawn(async move {
                    let home = thread::current().id();
                    let local = loopwork::spawn_local(async move {
                        let not_send = Rc::new(RefCell::new(Vec::new()));
                        while let Ok(value) = rx.recv().await {
                            not_send.borrow_mut().push(thread::current().id());
                            let _ = value;
                        }
                        let seen = not_send.borrow().clone();
                        seen
                    });
                    (home, local.await.unwrap())
                })
                .unwrap();
            // The workers are idle by now (the local task waits), so every
            // send must unpark the one worker that owns it.
            thread::sleep(Duration::from_millis(2));
            for value in 0..10 {
                tx.send(value).unwrap();
                thread::sleep(Duration::from_micros(200));
            }
            drop(tx);
            let (home, seen) = event_loop.block_on(outer).unwrap();
            assert_eq!(seen.len(), 10);
            assert!(seen.iter().all(|&t| t == home));
        }
    });
}

#[test]
fn cancel_and_await_semantics_match_task() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    event_loop.block_on(async {
        let pending = loopwork::spawn_local(std::future::pending::<()>());
        assert!(!pending.is_done());
        assert!(pending.cancel());
        loopwork::yield_now().await;
        assert!(pending.is_done() && pending.is_cancelled());
        assert!(!pending.cancel(), "cancelling a finished task reports false");
        assert!(pending.await.unwrap_err().is_cancelled());

        // Cancelled before its first poll: it never runs.
        let ran = Rc::new(RefCell::new(false));
        let flag = ran.clone();
        let never = loopwork::spawn_local(async move { *flag.borrow_mut() = true });
        never.cancel();
        assert!(never.await.unwrap_err().is_cancelled());
        assert!(!*ran.borrow());

        let value = loopwork::spawn_local(async { Rc::new(7) }); // a !Send output
        loopwork::yield_now().await;
        assert_eq!(*value.await.unwrap(), 7);

        let copy = loopwork::spawn_local(async { 5 });
        while !copy.is_done() {
            loopwork::yield_now().await;
        }
        assert_eq!(copy.try_result().unwrap().unwrap(), 5);

        let panicked = loopwork::spawn_local(async { panic!("local boom") });
        assert_eq!(panicked.await.unwrap_err().panic_message(), Some("local boom"));
    });
}

#[test]
fn a_local_task_cancelled_from_another_thread_drops_its_future_on_its_own() {
    with_watchdog(WATCHDOG, "cancel_from_foreign", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let dropped_on = Arc::new(Mutex::new(Vec::new()));
        let probe = DropProbe { dropped_on: dropped_on.clone() };
        let cancelled = event_loop.block_on(async move {
            let task = loopwork::spawn_local(async move {
                let _probe = probe;
                std::future::pending::<()>().await
            });
            loopwork::yield_now().await;
            // `LocalTask<()>` is Send: cancel it from a plain thread.
            let canceller = thread::spawn(move || {
                assert!(task.cancel());
                task
            });
            let task = canceller.join().unwrap();
            task.await.unwrap_err().is_cancelled()
        });
        assert!(cancelled);
        assert_eq!(*dropped_on.lock().unwrap(), [thread::current().id()]);
    });
}

#[test]
fn local_tasks_cancelled_at_close_drop_their_futures_on_their_own_thread() {
    with_watchdog(WATCHDOG, "close_drops_on_owner", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let dropped_on = Arc::new(Mutex::new(Vec::new()));
        let spawners: Vec<_> = (0..4)
            .map(|_| {
                let dropped_on = dropped_on.clone();
                event_loop
                    .handle()
                    .spawn(async move {
                        let home = thread::current().id();
                        for _ in 0..25 {
                            let probe = DropProbe { dropped_on: dropped_on.clone() };
                            let not_send = Rc::new(probe);
                            drop(loopwork::spawn_local(async move {
                                let _held = not_send;
                                std::future::pending::<()>().await
                            }));
                        }
                        home
                    })
                    .unwrap()
            })
            .collect();
        let homes: Vec<ThreadId> = spawners.into_iter().map(|s| event_loop.block_on(s).unwrap()).collect();
        assert_eq!(event_loop.handle().num_tasks(), 100, "the local tasks are still pending");
        event_loop.close();
        let dropped_on = dropped_on.lock().unwrap();
        assert_eq!(dropped_on.len(), 100, "every local future was dropped by close");
        let mut expected: Vec<ThreadId> = homes.iter().flat_map(|&home| [home; 25]).collect();
        let mut actual = dropped_on.clone();
        let key = |t: &ThreadId| format!("{t:?}");
        expected.sort_by_key(key);
        actual.sort_by_key(key);
        assert_eq!(actual, expected, "each future was dropped on the worker that spawned it");
        assert!(!actual.contains(&thread::current().id()));
    });
}

#[test]
fn a_shutdown_that_gives_up_on_a_stuck_worker_leaves_its_local_futures_to_it() {
    with_watchdog(WATCHDOG, "shutdown_timeout", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let dropped_on = Arc::new(Mutex::new(Vec::new()));
        let probe = DropProbe { dropped_on: dropped_on.clone() };
        let (home_tx, home_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        drop(
            event_loop
                .handle()
                .spawn(async move {
                    drop(loopwork::spawn_local(async move {
                        let _probe = Rc::new(probe);
                        std::future::pending::<()>().await
                    }));
                    home_tx.send(thread::current().id()).unwrap();
                    // Blocks this worker on purpose, so that the shutdown
                    // below gives up waiting for it.
                    release_rx.recv().unwrap();
                })
                .unwrap(),
        );
        let home = home_rx.recv().unwrap();
        assert!(event_loop.shutdown(Duration::from_millis(20)).is_err());
        // The closing thread cancelled the local task but could not drop
        // its future: only its worker may, and that worker is still stuck.
        assert!(dropped_on.lock().unwrap().is_empty());
        release_tx.send(()).unwrap();
        while dropped_on.lock().unwrap().is_empty() {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(*dropped_on.lock().unwrap(), [home]);
    });
}

#[test]
fn local_tasks_of_a_block_on_are_cancelled_on_its_thread_when_it_returns() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let dropped_on = Arc::new(Mutex::new(Vec::new()));
        let probe = DropProbe { dropped_on: dropped_on.clone() };
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        // In a tuple: a future that returns a future reads as a mistake.
        let (task, _) = event_loop.block_on(async move {
            let task = loopwork::spawn_local(async move {
                let _probe = Rc::new(probe);
                std::future::poll_fn(|cx| {
                    tx.send(cx.waker().clone()).unwrap();
                    Poll::<()>::Pending
                })
                .await
            });
            loopwork::yield_now().await;
            loopwork::yield_now().await;
            (task, ())
        });
        assert_eq!(*dropped_on.lock().unwrap(), [thread::current().id()]);
        assert!(task.is_cancelled());
        assert_eq!(event_loop.handle().num_tasks(), 0);
        // A wake after the owner is gone, from another thread, finds the
        // task finished and does nothing.
        let waker = rx.recv().unwrap();
        thread::spawn(move || waker.wake()).join().unwrap();
        assert!(event_loop.block_on(task).unwrap_err().is_cancelled());
    }
}

#[test]
fn block_on_after_block_on_on_one_thread_starts_clean_whichever_loop() {
    // A thread keeps the emptied queue and task list of its last `block_on`
    // for the next one: nothing of the first may reach the second, whether
    // it runs the same loop or another one. One watched thread runs it all.
    with_watchdog(WATCHDOG, "block-on-after-block-on", || {
        let first = EventLoop::builder().workers(2).build().unwrap();
        let second = EventLoop::builder().workers(2).build().unwrap();
        for next in [&first, &second] {
            let (tx, rx) = std::sync::mpsc::channel::<Waker>();
            let stuck: Vec<_> = first.block_on(async move {
                let stuck: Vec<_> = (0..1000)
                    .map(|_| {
                        let tx = tx.clone();
                        loopwork::spawn_local(std::future::poll_fn(move |cx| {
                            tx.send(cx.waker().clone()).unwrap();
                            Poll::<()>::Pending
                        }))
                    })
                    .collect();
                let done: Vec<_> = (0..1000).map(|i| loopwork::spawn_local(async move { Rc::new(i) })).collect();
                for (i, task) in done.into_iter().enumerate() {
                    assert_eq!(*task.await.unwrap(), i);
                }
                stuck
            });
            assert!(stuck.iter().all(|task| task.is_cancelled()));
            let stale: Vec<Waker> = rx.try_iter().collect();
            assert_eq!(stale.len(), 1000);

            let count = next.block_on(async {
                let count = Rc::new(RefCell::new(0));
                // Wakes of the first owner's tasks, during the second one's
                // round, find their tasks finished.
                stale.iter().for_each(Waker::wake_by_ref);
                let tasks: Vec<_> = (0..2000)
                    .map(|_| {
                        let count = count.clone();
                        loopwork::spawn_local(async move {
                            loopwork::yield_now().await;
                            *count.borrow_mut() += 1;
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                let count = *count.borrow();
                count
            });
            assert_eq!(count, 2000);
            assert_eq!((first.handle().num_tasks(), second.handle().num_tasks()), (0, 0));
        }
    });
}

#[test]
fn strict_mode_keeps_fifo_order_across_local_and_ordinary_tasks() {
    let event_loop = EventLoop::builder().workers(0).build().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    event_loop.block_on({
        let order = order.clone();
        async move {
            let mut tasks = Vec::new();
            for name in ["a", "b", "c", "d", "e", "f"] {
                let order = order.clone();
                let step = async move {
                    order.lock().unwrap().push(format!("{name}1"));
                    loopwork::yield_now().await;
                    order.lock().unwrap().push(format!("{name}2"));
                };
                if name.as_bytes()[0] % 2 == 0 {
                    tasks.push(loopwork::spawn_local(step).into_task());
                } else {
                    tasks.push(loopwork::spawn(step));
                }
            }
            for task in tasks {
                task.await.unwrap();
            }
        }
    });
    let expected: Vec<String> =
        ["1", "2"].iter().flat_map(|step| ["a", "b", "c", "d", "e", "f"].map(|name| format!("{name}{step}"))).collect();
    assert_eq!(*order.lock().unwrap(), expected);
}

#[test]
fn local_tasks_appear_in_all_tasks_and_current_task() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        event_loop.block_on(async move {
            let task = loopwork::spawn_local(async { loopwork::current_task().unwrap().id });
            let listed = handle.all_tasks().into_iter().find(|info| info.id == task.id()).expect("listed");
            assert_eq!(listed.state, TaskState::Scheduled);
            assert_eq!(listed.name, format!("Task-{}", task.id()));
            let id = task.id();
            assert_eq!(task.await.unwrap(), id);
            assert!(handle.all_tasks().iter().all(|info| info.id != id));

            let waiting = loopwork::spawn_local(std::future::pending::<()>());
            loopwork::yield_now().await;
            while handle.all_tasks().iter().any(|info| info.id == waiting.id() && info.state != TaskState::Waiting) {
                loopwork::yield_now().await;
            }
            waiting.cancel();
        });
    }
}

/// Local tasks are listed by their owner, not the loop's registry: the
/// loop's count, metrics and listing must find them there, from any thread,
/// and stop counting them once their owner has left.
#[test]
fn local_tasks_are_counted_and_listed_from_another_thread() {
    with_watchdog(WATCHDOG, "counted_from_another_thread", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let handle = event_loop.handle();
        let observer = handle.clone();
        let (pending_ids, (counted, alive, listed)) = event_loop.block_on(async move {
            let pending: Vec<_> = (0..30).map(|_| loopwork::spawn_local(std::future::pending::<()>())).collect();
            for value in 0..10 {
                assert_eq!(loopwork::spawn_local(async move { value }).await.unwrap(), value);
            }
            let pending_ids: Vec<u64> = pending.iter().map(|task| task.id()).collect();
            let seen = thread::spawn(move || {
                let listed: Vec<u64> = observer.all_tasks().into_iter().map(|info| info.id).collect();
                (observer.num_tasks(), observer.metrics().alive_tasks(), listed)
            })
            .join()
            .unwrap();
            (pending_ids, seen)
        });
        // The 30 pending local tasks and `block_on`'s own task; the 10 that
        // finished are gone.
        assert_eq!((counted, alive, listed.len()), (31, 31, 31));
        assert!(pending_ids.iter().all(|id| listed.contains(id)), "every pending local task is listed");
        // Leaving `block_on` cancelled them.
        assert_eq!((handle.num_tasks(), handle.metrics().alive_tasks()), (0, 0));
        assert!(handle.all_tasks().is_empty());
    });
}

/// The loop's introspection walks the owners' lists while workers and the
/// `block_on` thread spawn and finish local tasks in them: every snapshot
/// is consistent (no task listed twice, never more than could be alive),
/// and nothing is left once they are done.
#[test]
fn introspection_from_another_thread_while_local_tasks_come_and_go() {
    with_watchdog(WATCHDOG, "introspection_while_spawning", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let handle = event_loop.handle();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let observer = {
            let (handle, done) = (handle.clone(), done.clone());
            thread::spawn(move || loop {
                let finished = done.load(std::sync::atomic::Ordering::Acquire);
                {
                    let mut ids: Vec<u64> = handle.all_tasks().into_iter().map(|info| info.id).collect();
                    let listed = ids.len();
                    ids.sort_unstable();
                    ids.dedup();
                    assert_eq!(ids.len(), listed, "a task listed twice");
                    // 8 spawners with 50 local tasks each, those of the
                    // `block_on` thread, and `block_on`'s own task.
                    assert!(listed <= 8 + 8 * 50 + 50 + 1, "{listed} tasks listed");
                    assert!(handle.num_tasks() <= 8 + 8 * 50 + 50 + 1);
                    let _ = handle.dump();
                }
                if finished {
                    return;
                }
            })
        };
        for _ in 0..20 {
            let on_workers = local_tasks_from_worker_tasks(&handle, &event_loop);
            let on_block_on = event_loop.block_on(async {
                let locals: Vec<_> = (0..50).map(|value| loopwork::spawn_local(async move { value })).collect();
                let mut sum = 0;
                for local in locals {
                    sum += local.await.unwrap();
                }
                sum
            });
            assert_eq!((on_workers, on_block_on), (8 * 50, (0..50).sum()));
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        observer.join().unwrap();
        assert_eq!(handle.num_tasks(), 0);
        assert!(handle.all_tasks().is_empty());
    });
}

/// A worker task blocked while the loop closes, then spawning a local task:
/// the spawn must come back cancelled, its future dropped at once on the
/// worker, not left to run on a closed loop.
#[test]
fn a_local_task_spawned_after_the_loop_closed_comes_back_cancelled() {
    with_watchdog(WATCHDOG, "spawn_after_close", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let dropped_on = Arc::new(Mutex::new(Vec::new()));
        let probe = DropProbe { dropped_on: dropped_on.clone() };
        let (home_tx, home_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (cancelled_tx, cancelled_rx) = std::sync::mpsc::channel();
        let spawner = {
            let dropped_on = dropped_on.clone();
            async move {
                home_tx.send(thread::current().id()).unwrap();
                // Blocks this worker on purpose, until the loop is closed.
                go_rx.recv().unwrap();
                let task = loopwork::spawn_local(async move {
                    let _probe = Rc::new(probe);
                });
                let dropped_already = dropped_on.lock().unwrap().len() == 1;
                cancelled_tx.send((task.is_cancelled(), dropped_already)).unwrap();
            }
        };
        drop(event_loop.handle().spawn(spawner).unwrap());
        let home = home_rx.recv().unwrap();
        assert!(event_loop.shutdown(Duration::from_millis(20)).is_err(), "the worker is still stuck");
        go_tx.send(()).unwrap();
        assert_eq!(cancelled_rx.recv().unwrap(), (true, true), "cancelled, and its future dropped, at the spawn");
        assert_eq!(*dropped_on.lock().unwrap(), [home]);
    });
}

#[test]
fn spawn_local_outside_a_loop_panics_saying_what_to_do() {
    let message = panic_message(|| {
        drop(loopwork::spawn_local(async {}));
    });
    assert!(message.contains("outside a loopwork event loop"), "{message}");
    assert!(message.contains("Handle::spawn"), "{message}");
}

#[test]
fn local_timers_run_on_a_virtual_clock() {
    with_watchdog(WATCHDOG, "virtual_clock", || {
        for workers in [0, 2] {
            let event_loop = EventLoop::builder().workers(workers).paused_clock().build().unwrap();
            let handle = event_loop.handle();
            let started = handle.time();
            let elapsed = event_loop.block_on(async move {
                let timers: Vec<_> = (1..=3)
                    .map(|hours| {
                        let handle = handle.clone();
                        loopwork::spawn_local(async move {
                            let not_send = Rc::new(hours);
                            loopwork::sleep(Duration::from_secs(3600 * *not_send)).await;
                            handle.time()
                        })
                    })
                    .collect();
                let mut last = started;
                for timer in timers {
                    let fired = timer.await.unwrap();
                    assert!(fired >= last);
                    last = fired;
                }
                last - started
            });
            assert!(elapsed >= Duration::from_secs(3 * 3600));
        }
    });
}

#[test]
fn local_timers_on_a_worker_run_on_a_virtual_clock() {
    with_watchdog(WATCHDOG, "virtual_clock_worker", || {
        let event_loop = EventLoop::builder().workers(2).paused_clock().build().unwrap();
        let handle = event_loop.handle();
        let started = handle.time();
        let task = handle
            .spawn({
                let handle = handle.clone();
                async move {
                    let local = loopwork::spawn_local(async move {
                        let not_send = Rc::new(Duration::from_secs(86_400));
                        loopwork::sleep(*not_send).await;
                        handle.time()
                    });
                    local.await.unwrap()
                }
            })
            .unwrap();
        let fired = event_loop.block_on(task).unwrap();
        assert!(fired - started >= Duration::from_secs(86_400));
    });
}

/// A loop with workers whose slow-poll threshold is 20 ms, and the
/// messages its exception handler receives.
fn loop_reporting_slow_polls() -> (EventLoop, std::sync::mpsc::Receiver<String>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = Mutex::new(tx);
    let event_loop = EventLoop::builder()
        .workers(2)
        .slow_poll_threshold(Duration::from_millis(20))
        .on_unhandled_panic(move |report| {
            let _ = tx.lock().unwrap().send(report.message);
        })
        .build()
        .unwrap();
    (event_loop, rx)
}

#[test]
fn a_slow_local_poll_on_the_block_on_thread_is_reported() {
    let (event_loop, rx) = loop_reporting_slow_polls();
    let id = event_loop.block_on(async {
        let task = loopwork::spawn_local(async { thread::sleep(Duration::from_millis(200)) });
        let id = task.id();
        task.await.unwrap();
        id
    });
    // Reported while it ran, then as over: the second report comes though
    // the thread has left `block_on` and every worker is parked.
    let message = rx.recv_timeout(WATCHDOG).unwrap();
    assert!(message.contains(&format!("Task-{id}")) && message.contains("has been running for"), "{message}");
    let message = rx.recv_timeout(WATCHDOG).unwrap();
    assert!(message.contains(&format!("Task-{id}")) && message.contains(" took "), "{message}");
}

#[test]
fn a_stuck_local_poll_on_the_block_on_thread_is_reported_while_it_is_stuck() {
    let (event_loop, rx) = loop_reporting_slow_polls();
    // The poll blocks its thread until the report comes: only the monitor,
    // sampling the thread's slot from its own thread, can send it.
    let report = event_loop.block_on(async { loopwork::spawn_local(async move { rx.recv_timeout(WATCHDOG) }).await });
    let message = report.unwrap().expect("reported while the poll still ran");
    assert!(message.contains("has been running for"), "{message}");
}

/// A future that is not `Send` may still be the loop's main future and
/// spawn local tasks that outlive nothing: `loopwork::run` closes the loop
/// after `block_on`, and the local tasks are gone by then.
#[test]
fn run_drops_unfinished_local_tasks_before_it_returns() {
    let dropped_on = Arc::new(Mutex::new(Vec::new()));
    let probe = DropProbe { dropped_on: dropped_on.clone() };
    loopwork::run(async move {
        drop(loopwork::spawn_local(async move {
            let _probe = Rc::new(probe);
            std::future::pending::<()>().await
        }));
        loopwork::yield_now().await;
    });
    assert_eq!(*dropped_on.lock().unwrap(), [thread::current().id()]);
}
