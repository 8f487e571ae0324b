//! The runtime-generic suite: every primitive, queue and channel of
//! loopwork-sync exercised by real tasks on a real multi-threaded runtime.
//!
//! The suite is written once against the [`Runtime`] trait and instantiated
//! per runtime with [`sync_suite!`], which emits one `#[test]` per suite
//! function. `tests/sync_suite.rs` instantiates it for tokio and
//! async-executor. To run it on another runtime from another package:
//!
//! ```ignore
//! // in that package's tests/sync_on_myruntime.rs (it needs loopwork-sync,
//! // or `use loopwork::sync as loopwork_sync;` before the module):
//! #[path = "../../sync/tests/suite/mod.rs"]
//! mod suite; // must be mounted at the crate root under this name
//!
//! #[derive(Clone)]
//! struct MyRuntime(/* a handle */);
//! impl suite::Runtime for MyRuntime { /* block_on, spawn, sleep */ }
//!
//! suite::sync_suite!(MyRuntime::shared());
//! ```

#![allow(dead_code, unreachable_pub)]

pub mod support;

use loopwork_sync::{
    error::{QueueShutDown, TryGetError},
    mpsc, oneshot, Barrier, BoundedSemaphore, Condition, Event, LifoQueue, Lock, PriorityQueue, Queue, Semaphore,
};
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
pub use support::BoxFuture;
use support::{after_first_poll, run, timeout, yield_now, Latch, Rng};

/// What the suite needs from a runtime.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// Runs `future` to completion on the calling thread, while spawned
    /// tasks run on the runtime's worker threads.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// Spawns a task; the returned future resolves to its output (and
    /// panics if the task panicked).
    fn spawn<F>(&self, future: F) -> BoxFuture<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Resolves after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<()>;
}

/// Emits one `#[test]` per suite function, each calling it with the
/// runtime `$rt` evaluates to.
macro_rules! sync_suite {
    ($rt:expr) => {
        $crate::suite::sync_suite!(@tests $rt;
            lock_serializes_increments,
            lock_waiters_acquire_in_arrival_order,
            lock_owned_guard_moves_into_a_task,
            lock_waiter_cancelled_by_timeout_passes_the_lock_on,
            event_set_wakes_every_waiter_even_if_cleared_at_once,
            event_set_by_a_foreign_thread_releases_two_waiters,
            condition_producer_and_consumers,
            condition_notify_n_wakes_exactly_n,
            semaphore_bounds_concurrency,
            semaphore_waiters_acquire_in_arrival_order,
            semaphore_permits_survive_cancelled_acquires,
            bounded_semaphore_rejects_an_extra_release,
            barrier_rounds_give_distinct_indexes_and_one_leader,
            barrier_abort_breaks_waiters,
            queue_producers_and_consumers_with_join,
            queue_getters_served_in_arrival_order,
            queue_shutdown_releases_waiting_getters,
            queue_cancelled_getters_lose_no_items,
            priority_and_lifo_queues_order_items,
            queue_fed_by_a_foreign_thread,
            queue_drained_by_a_foreign_thread,
            mpsc_many_senders_keep_per_sender_order,
            mpsc_receiver_stream_ends_when_senders_drop,
            mpsc_foreign_threads_send_and_receive_blocking,
            oneshot_between_tasks,
        );
    };
    (@tests $rt:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::suite::$name($rt);
            }
        )*
    };
}

pub(crate) use sync_suite;

pub fn lock_serializes_increments<R: Runtime>(rt: R) {
    let lock = Arc::new(Lock::new(0u64));
    run(&rt, async {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let lock = Arc::clone(&lock);
                rt.spawn(async move {
                    for _ in 0..200 {
                        let mut guard = lock.lock().await;
                        let seen = *guard;
                        yield_now().await; // a lost update would show here
                        *guard = seen + 1;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
    assert_eq!(*lock.try_lock().unwrap(), 1600);
}

pub fn lock_waiters_acquire_in_arrival_order<R: Runtime>(rt: R) {
    let lock = Arc::new(Lock::new(Vec::new()));
    run(&rt, async {
        let holder = lock.lock().await;
        let queued = Latch::default();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let lock = Arc::clone(&lock);
            tasks.push(rt.spawn(after_first_poll(
                async move {
                    lock.lock().await.push(i);
                },
                &queued,
            )));
            queued.reached(i + 1).await;
        }
        drop(holder);
        for task in tasks {
            task.await;
        }
    });
    assert_eq!(*lock.try_lock().unwrap(), (0..16).collect::<Vec<_>>());
}

pub fn lock_owned_guard_moves_into_a_task<R: Runtime>(rt: R) {
    let lock = Arc::new(Lock::new(String::new()));
    run(&rt, async {
        let mut guard = Arc::clone(&lock).lock_owned().await;
        let task = rt.spawn(async move {
            guard.push_str("from a task");
        });
        task.await;
        assert_eq!(*lock.lock().await, "from a task");
    });
}

pub fn lock_waiter_cancelled_by_timeout_passes_the_lock_on<R: Runtime>(rt: R) {
    let lock = Arc::new(Lock::new(0));
    run(&rt, async {
        let holder = lock.lock().await;
        let queued = Latch::default();
        let impatient = {
            let (lock, rt2) = (Arc::clone(&lock), rt.clone());
            rt.spawn(after_first_poll(
                async move { timeout(&rt2, Duration::from_millis(20), lock.lock()).await.is_some() },
                &queued,
            ))
        };
        queued.reached(1).await;
        let patient = {
            let lock = Arc::clone(&lock);
            rt.spawn(after_first_poll(
                async move {
                    *lock.lock().await += 1;
                },
                &queued,
            ))
        };
        queued.reached(2).await;
        assert!(!impatient.await, "the first waiter should have timed out");
        drop(holder);
        patient.await;
        // Many more waiters with random timeouts, while the lock changes hands.
        let mut rng = Rng::new(7);
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (lock, rt2) = (Arc::clone(&lock), rt.clone());
                let wait = Duration::from_micros(rng.below(2000));
                rt.spawn(async move {
                    for _ in 0..10 {
                        if let Some(mut guard) = timeout(&rt2, wait, lock.lock()).await {
                            *guard += 1;
                            yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
    assert!(!lock.is_locked(), "a cancelled waiter kept the lock");
}

pub fn event_set_wakes_every_waiter_even_if_cleared_at_once<R: Runtime>(rt: R) {
    let event = Arc::new(Event::new());
    run(&rt, async {
        let queued = Latch::default();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let event = Arc::clone(&event);
                rt.spawn(after_first_poll(async move { event.wait().await }, &queued))
            })
            .collect();
        queued.reached(10).await;
        event.set();
        event.clear();
        for task in tasks {
            task.await;
        }
        assert!(!event.is_set());
    });
}

pub fn event_set_by_a_foreign_thread_releases_two_waiters<R: Runtime>(rt: R) {
    let event = Arc::new(Event::new());
    let log = Arc::new(Mutex::new(Vec::new()));
    run(&rt, async {
        assert!(!event.is_set());
        let setter = {
            let (event, log) = (Arc::clone(&event), Arc::clone(&log));
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                log.lock().unwrap().push("set");
                event.set();
            })
        };
        let coro = |name: &'static str| {
            let (event, log) = (Arc::clone(&event), Arc::clone(&log));
            rt.spawn(async move {
                event.wait().await;
                log.lock().unwrap().push(name);
            })
        };
        let (first, second) = (coro("coro1"), coro("coro2"));
        first.await;
        second.await;
        setter.join().unwrap();
        assert!(event.is_set());
    });
    let log = log.lock().unwrap();
    assert_eq!(log[0], "set");
    assert_eq!(log.len(), 3);
}

pub fn condition_producer_and_consumers<R: Runtime>(rt: R) {
    const ITEMS: usize = 400;
    let lock = Arc::new(Lock::new(VecDeque::new()));
    let not_empty = Arc::new(Condition::new());
    let got = Arc::new(Mutex::new(Vec::new()));
    run(&rt, async {
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let (lock, not_empty, got) = (Arc::clone(&lock), Arc::clone(&not_empty), Arc::clone(&got));
                rt.spawn(async move {
                    loop {
                        let guard = lock.lock().await;
                        let mut guard = not_empty.wait_for(guard, |items| !items.is_empty()).await;
                        match guard.pop_front().unwrap() {
                            Some(item) => got.lock().unwrap().push(item),
                            None => return, // each consumer takes one stop marker
                        }
                    }
                })
            })
            .collect();
        for item in 0..ITEMS {
            lock.lock().await.push_back(Some(item));
            not_empty.notify(1);
            if item % 16 == 0 {
                yield_now().await;
            }
        }
        for _ in 0..4 {
            lock.lock().await.push_back(None);
            not_empty.notify(1);
        }
        for consumer in consumers {
            consumer.await;
        }
    });
    let mut got = got.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, (0..ITEMS).collect::<Vec<_>>());
}

pub fn condition_notify_n_wakes_exactly_n<R: Runtime>(rt: R) {
    let lock = Arc::new(Lock::new(()));
    let condition = Arc::new(Condition::new());
    let woken = Latch::default();
    run(&rt, async {
        let queued = Latch::default();
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let (lock, condition, woken) = (Arc::clone(&lock), Arc::clone(&condition), woken.clone());
                rt.spawn(after_first_poll(
                    async move {
                        let guard = lock.lock().await;
                        drop(condition.wait(guard).await);
                        woken.arrive();
                    },
                    &queued,
                ))
            })
            .collect();
        queued.reached(5).await;
        // Every task has taken the lock or queued for it. The lock is FIFO,
        // so by the time we get it each of them has had it and released it,
        // which `wait` does only after queueing on the condition.
        drop(lock.lock().await);
        assert_eq!(condition.notify(2), 2);
        woken.reached(2).await;
        rt.sleep(Duration::from_millis(20)).await;
        assert_eq!(woken.count(), 2, "notify(2) woke more than two waiters");
        assert_eq!(condition.notify_all(), 3);
        for task in tasks {
            task.await;
        }
    });
}

pub fn semaphore_bounds_concurrency<R: Runtime>(rt: R) {
    let semaphore = Arc::new(Semaphore::new(3));
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    run(&rt, async {
        let tasks: Vec<_> = (0..30)
            .map(|_| {
                let (semaphore, running, peak) = (Arc::clone(&semaphore), Arc::clone(&running), Arc::clone(&peak));
                rt.spawn(async move {
                    for _ in 0..20 {
                        let _permit = semaphore.acquire().await;
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        yield_now().await;
                        running.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
    assert!(peak.load(Ordering::SeqCst) <= 3);
    assert_eq!(semaphore.available_permits(), 3);
}

pub fn semaphore_waiters_acquire_in_arrival_order<R: Runtime>(rt: R) {
    let semaphore = Arc::new(Semaphore::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    run(&rt, async {
        let queued = Latch::default();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (semaphore, order) = (Arc::clone(&semaphore), Arc::clone(&order));
            tasks.push(rt.spawn(after_first_poll(
                async move {
                    let permit = semaphore.acquire().await;
                    order.lock().unwrap().push(i);
                    permit.forget();
                },
                &queued,
            )));
            queued.reached(i + 1).await;
        }
        // One permit at a time: each waiter must be served before the next.
        for i in 0..16 {
            semaphore.add_permits(1);
            while order.lock().unwrap().len() <= i {
                rt.sleep(Duration::from_millis(1)).await;
            }
        }
        for task in tasks {
            task.await;
        }
    });
    assert_eq!(*order.lock().unwrap(), (0..16).collect::<Vec<_>>());
}

pub fn semaphore_permits_survive_cancelled_acquires<R: Runtime>(rt: R) {
    let semaphore = Arc::new(Semaphore::new(2));
    let running = Arc::new(AtomicUsize::new(0));
    run(&rt, async {
        let mut rng = Rng::new(11);
        let tasks: Vec<_> = (0..24)
            .map(|_| {
                let (semaphore, running, rt2) = (Arc::clone(&semaphore), Arc::clone(&running), rt.clone());
                let wait = Duration::from_micros(rng.below(1500));
                rt.spawn(async move {
                    for _ in 0..15 {
                        if let Some(_permit) = timeout(&rt2, wait, semaphore.acquire()).await {
                            assert!(running.fetch_add(1, Ordering::SeqCst) < 2, "more holders than permits");
                            yield_now().await;
                            running.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
    assert_eq!(semaphore.available_permits(), 2, "a cancelled acquire lost a permit");
}

pub fn bounded_semaphore_rejects_an_extra_release<R: Runtime>(rt: R) {
    let semaphore = Arc::new(BoundedSemaphore::new(2));
    run(&rt, async {
        let task = {
            let semaphore = Arc::clone(&semaphore);
            rt.spawn(async move {
                semaphore.acquire().await.forget();
                semaphore.release().is_ok()
            })
        };
        assert!(task.await);
        assert!(semaphore.release().is_err());
        assert_eq!(semaphore.available_permits(), 2);
    });
}

pub fn barrier_rounds_give_distinct_indexes_and_one_leader<R: Runtime>(rt: R) {
    const PARTIES: usize = 5;
    const ROUNDS: usize = 3;
    let barrier = Arc::new(Barrier::new(PARTIES));
    run(&rt, async {
        let tasks: Vec<_> = (0..PARTIES)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                rt.spawn(async move {
                    let mut results = Vec::new();
                    for _ in 0..ROUNDS {
                        results.push(barrier.wait().await.unwrap());
                    }
                    results
                })
            })
            .collect();
        let mut per_task = Vec::new();
        for task in tasks {
            per_task.push(task.await);
        }
        for round in 0..ROUNDS {
            let results: Vec<_> = per_task.iter().map(|results| results[round]).collect();
            let indexes: HashSet<_> = results.iter().map(|r| r.index()).collect();
            assert_eq!(indexes, (0..PARTIES).collect());
            assert_eq!(results.iter().filter(|r| r.is_leader()).count(), 1);
            assert!(results.iter().all(|r| r.is_leader() == (r.index() == PARTIES - 1)));
        }
    });
}

pub fn barrier_abort_breaks_waiters<R: Runtime>(rt: R) {
    let barrier = Arc::new(Barrier::new(3));
    run(&rt, async {
        let queued = Latch::default();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                rt.spawn(after_first_poll(async move { barrier.wait().await }, &queued))
            })
            .collect();
        queued.reached(2).await;
        barrier.abort();
        for task in tasks {
            assert!(task.await.is_err());
        }
        assert!(barrier.wait().await.is_err());
        barrier.reset();
        assert_eq!(barrier.n_waiting(), 0);
    });
}

pub fn queue_producers_and_consumers_with_join<R: Runtime>(rt: R) {
    let queue = Arc::new(Queue::new(8));
    let total = Arc::new(AtomicUsize::new(0));
    run(&rt, async {
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let queue = Arc::clone(&queue);
                rt.spawn(async move {
                    for i in 0..250 {
                        queue.put(p * 1000 + i).await.unwrap();
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let (queue, total) = (Arc::clone(&queue), Arc::clone(&total));
                rt.spawn(async move {
                    while let Ok(item) = queue.get().await {
                        total.fetch_add(item, Ordering::SeqCst);
                        queue.task_done().unwrap();
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.await;
        }
        queue.join().await;
        queue.shutdown(false);
        for consumer in consumers {
            consumer.await;
        }
    });
    let expected: usize = (0..4).map(|p| (0..250).map(|i| p * 1000 + i).sum::<usize>()).sum();
    assert_eq!(total.load(Ordering::SeqCst), expected);
    assert!(queue.task_done().is_err());
}

pub fn queue_getters_served_in_arrival_order<R: Runtime>(rt: R) {
    let queue = Arc::new(Queue::new(0));
    run(&rt, async {
        let queued = Latch::default();
        let mut getters = Vec::new();
        for i in 0..16 {
            let queue = Arc::clone(&queue);
            getters.push(rt.spawn(after_first_poll(async move { (i, queue.get().await.unwrap()) }, &queued)));
            queued.reached(i + 1).await;
        }
        for item in 0..16 {
            queue.put(item).await.unwrap();
        }
        for getter in getters {
            let (i, item) = getter.await;
            assert_eq!(i, item, "getter {i} was served out of turn");
        }
    });
}

pub fn queue_shutdown_releases_waiting_getters<R: Runtime>(rt: R) {
    let queue = Arc::new(Queue::<u32>::new(0));
    run(&rt, async {
        let queued = Latch::default();
        let getters: Vec<_> = (0..4)
            .map(|_| {
                let queue = Arc::clone(&queue);
                rt.spawn(after_first_poll(async move { queue.get().await }, &queued))
            })
            .collect();
        queued.reached(4).await;
        queue.shutdown(false);
        for getter in getters {
            assert_eq!(getter.await, Err(QueueShutDown));
        }
        assert!(queue.put(1).await.is_err());
    });
}

pub fn queue_cancelled_getters_lose_no_items<R: Runtime>(rt: R) {
    const ITEMS: usize = 2000;
    let queue = Arc::new(Queue::new(4));
    let got = Arc::new(AtomicUsize::new(0));
    run(&rt, async {
        let mut rng = Rng::new(5);
        let getters: Vec<_> = (0..8)
            .map(|_| {
                let (queue, got, rt2) = (Arc::clone(&queue), Arc::clone(&got), rt.clone());
                let wait = Duration::from_micros(200 + rng.below(800));
                rt.spawn(async move {
                    loop {
                        match timeout(&rt2, wait, queue.get()).await {
                            Some(Ok(_)) => {
                                got.fetch_add(1, Ordering::SeqCst);
                            }
                            Some(Err(QueueShutDown)) => return,
                            None => {} // cancelled; any item handed over must survive
                        }
                    }
                })
            })
            .collect();
        for item in 0..ITEMS {
            queue.put(item).await.unwrap();
        }
        queue.shutdown(false);
        for getter in getters {
            getter.await;
        }
    });
    assert_eq!(got.load(Ordering::SeqCst), ITEMS);
}

pub fn priority_and_lifo_queues_order_items<R: Runtime>(rt: R) {
    let priority = Arc::new(PriorityQueue::new(0));
    let lifo = Arc::new(LifoQueue::new(0));
    run(&rt, async {
        let task = {
            let (priority, lifo) = (Arc::clone(&priority), Arc::clone(&lifo));
            rt.spawn(async move {
                for n in [5, 1, 4, 2, 3] {
                    priority.put(n).await.unwrap();
                    lifo.put(n).await.unwrap();
                }
            })
        };
        task.await;
        let mut smallest_first = Vec::new();
        let mut newest_first = Vec::new();
        for _ in 0..5 {
            smallest_first.push(priority.get().await.unwrap());
            newest_first.push(lifo.get().await.unwrap());
        }
        assert_eq!(smallest_first, [1, 2, 3, 4, 5]);
        assert_eq!(newest_first, [3, 2, 4, 1, 5]);
        assert_eq!(priority.try_get(), Err(TryGetError::Empty));
    });
}

pub fn queue_fed_by_a_foreign_thread<R: Runtime>(rt: R) {
    let queue = Arc::new(Queue::new(4));
    let producer = {
        let queue = Arc::clone(&queue);
        thread::spawn(move || {
            for n in 1..=500u64 {
                queue.put_blocking(n).unwrap();
            }
            queue.shutdown(false);
        })
    };
    let sum = run(&rt, async {
        let consumer = {
            let queue = Arc::clone(&queue);
            rt.spawn(async move {
                let mut sum = 0;
                let mut last = 0;
                while let Ok(n) = queue.get().await {
                    assert!(n > last, "items arrived out of order");
                    last = n;
                    sum += n;
                }
                sum
            })
        };
        consumer.await
    });
    producer.join().unwrap();
    assert_eq!(sum, 500 * 501 / 2);
}

pub fn queue_drained_by_a_foreign_thread<R: Runtime>(rt: R) {
    let queue = Arc::new(Queue::new(2));
    let consumer = {
        let queue = Arc::clone(&queue);
        thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok(n) = queue.get_blocking() {
                got.push(n);
            }
            got
        })
    };
    run(&rt, async {
        let producer = {
            let queue = Arc::clone(&queue);
            rt.spawn(async move {
                for n in 0..300 {
                    queue.put(n).await.unwrap();
                }
            })
        };
        producer.await;
        queue.shutdown(false);
    });
    assert_eq!(consumer.join().unwrap(), (0..300).collect::<Vec<_>>());
}

pub fn mpsc_many_senders_keep_per_sender_order<R: Runtime>(rt: R) {
    let (tx, mut rx) = mpsc::channel(4);
    run(&rt, async {
        let senders: Vec<_> = (0..4)
            .map(|s| {
                let tx = tx.clone();
                rt.spawn(async move {
                    for i in 0..500 {
                        tx.send((s, i)).await.unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut next = [0; 4];
        while let Ok((s, i)) = rx.recv().await {
            assert_eq!(next[s], i, "sender {s} was reordered");
            next[s] += 1;
        }
        assert_eq!(next, [500; 4]);
        for sender in senders {
            sender.await;
        }
    });
}

pub fn mpsc_receiver_stream_ends_when_senders_drop<R: Runtime>(rt: R) {
    use futures_core::Stream;
    use std::pin::Pin;

    let (tx, mut rx) = mpsc::unbounded();
    run(&rt, async {
        let sender = rt.spawn(async move {
            for i in 0..100 {
                tx.send(i).unwrap();
                if i % 10 == 0 {
                    yield_now().await;
                }
            }
        });
        let mut got = Vec::new();
        while let Some(i) = std::future::poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await {
            got.push(i);
        }
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        sender.await;
    });
}

pub fn mpsc_foreign_threads_send_and_receive_blocking<R: Runtime>(rt: R) {
    let (to_loop, mut from_threads) = mpsc::channel(2);
    let (to_thread, mut from_loop) = mpsc::channel(2);
    let echo = thread::spawn(move || {
        while let Ok(n) = from_loop.recv_blocking() {
            to_loop.send_blocking(n * 2).unwrap();
        }
    });
    run(&rt, async {
        for n in 0..200u64 {
            to_thread.send(n).await.unwrap();
            assert_eq!(from_threads.recv().await, Ok(n * 2));
        }
        drop(to_thread);
        assert!(from_threads.recv().await.is_err());
    });
    echo.join().unwrap();
}

pub fn oneshot_between_tasks<R: Runtime>(rt: R) {
    run(&rt, async {
        let (tx, rx) = oneshot::channel();
        let task = rt.spawn(rx);
        tx.send("answer").unwrap();
        assert_eq!(task.await, Ok("answer"));

        let (tx, rx) = oneshot::channel::<u8>();
        let task = rt.spawn(rx);
        let rt2 = rt.clone();
        rt.spawn(async move {
            rt2.sleep(Duration::from_millis(5)).await;
            drop(tx);
        })
        .await;
        assert!(task.await.is_err());
    });
}
