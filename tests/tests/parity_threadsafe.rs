//! asyncio parity: `run_coroutine_threadsafe`, `create_future`, and
//! `run_in_executor`.

use loopwork::{EventLoop, PromiseError, ThreadPool};
use loopwork_tests::{counted, with_watchdog, DropCounter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn run_coroutine_threadsafe_from_eight_threads_returns_every_result() {
    let per_thread = loopwork_tests::env_count("LOOPWORK_THREADSAFE_PER_THREAD", 10_000) as u64;
    for workers in [0, 2] {
        let event_loop = Arc::new(EventLoop::builder().workers(workers).build().unwrap());
        let handle = event_loop.handle();
        // Strict mode needs a thread driving the loop.
        let driver = (workers == 0).then(|| {
            let event_loop = event_loop.clone();
            std::thread::spawn(move || event_loop.run_forever())
        });
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let handle = handle.clone();
                std::thread::spawn(move || {
                    let futures: Vec<_> = (0..per_thread)
                        .map(|i| handle.run_coroutine_threadsafe(async move { t * 1_000_000 + i * 2 }).unwrap())
                        .collect();
                    for (i, future) in futures.into_iter().enumerate() {
                        assert_eq!(future.result().unwrap(), t * 1_000_000 + i as u64 * 2);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        if let Some(driver) = driver {
            handle.stop();
            driver.join().unwrap();
        }
    }
}

#[test]
fn result_timeout_times_out_and_a_later_result_still_returns_the_value() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let mut future = event_loop
        .handle()
        .run_coroutine_threadsafe(async move {
            loopwork::run_in_executor(move || release_rx.lock().unwrap().recv().unwrap()).await.unwrap();
            "slow value"
        })
        .unwrap();
    let started = Instant::now();
    assert!(matches!(future.result_timeout(Duration::from_millis(50)), Err(loopwork::Timeout)));
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(!future.is_done());
    release_tx.send(()).unwrap();
    assert_eq!(future.result().unwrap(), "slow value");
}

#[test]
fn cancelling_a_concurrent_future_cancels_the_task_and_drops_its_future() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let drops = DropCounter::new();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let future = event_loop
        .handle()
        .run_coroutine_threadsafe(counted(drops.token(), async move {
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await
        }))
        .unwrap();
    started_rx.recv().unwrap();
    assert!(future.cancel());
    assert!(future.result().unwrap_err().is_cancelled());
    assert_eq!(drops.dropped(), 1);
}

#[test]
fn a_tokio_task_awaits_a_concurrent_future_from_a_loopwork_loop() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let handle = event_loop.handle();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let value = runtime.block_on(async move {
        let future = handle
            .run_coroutine_threadsafe(async {
                loopwork::yield_now().await;
                "from loopwork"
            })
            .unwrap();
        tokio::spawn(future).await.unwrap().unwrap()
    });
    assert_eq!(value, "from loopwork");
}

#[test]
fn a_concurrent_future_can_be_awaited_on_another_loopwork_loop() {
    let producer = EventLoop::builder().workers(1).build().unwrap();
    let consumer = EventLoop::builder().workers(0).build().unwrap();
    let future = producer.handle().run_coroutine_threadsafe(async { 11 }).unwrap();
    assert_eq!(consumer.block_on(future).unwrap(), 11);
}

#[test]
fn result_on_a_loop_thread_panics_with_advice() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let handle = event_loop.handle();
    let inner = handle.clone();
    let err = event_loop
        .block_on(handle.spawn(async move { inner.run_coroutine_threadsafe(async {}).unwrap().result() }).unwrap())
        .unwrap_err();
    assert!(err.panic_message().unwrap().contains("Await the ConcurrentFuture instead"));
}

#[test]
fn a_promise_is_awaited_by_many_and_set_once() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let promise = handle.create_future::<String>();
        let waiters: Vec<_> = (0..10).map(|_| handle.spawn(promise.clone()).unwrap()).collect();
        let setter = promise.clone();
        handle.call_soon(move || setter.set_result("value".to_owned()).unwrap()).unwrap();
        for waiter in waiters {
            assert_eq!(event_loop.block_on(waiter).unwrap(), Ok("value".to_owned()));
        }
        assert_eq!(promise.set_result("again".to_owned()), Err(loopwork::InvalidState));
        assert!(promise.set_error("late").is_err());
        assert!(!promise.cancel());
        assert_eq!(promise.try_result(), Ok(Ok("value".to_owned())));
    }
}

#[test]
fn promise_done_callbacks_are_scheduled_in_registration_order() {
    for workers in [0, 2] {
        let event_loop = EventLoop::builder().workers(workers).build().unwrap();
        let handle = event_loop.handle();
        let promise = handle.create_future::<u32>();
        let order = Arc::new(Mutex::new(Vec::new()));
        for i in 0..5 {
            let order = order.clone();
            promise.add_done_callback(move |outcome| order.lock().unwrap().push((i, outcome))).unwrap();
        }
        promise.set_result(3).unwrap();
        let order_after = order.clone();
        let late = promise.clone();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        event_loop.block_on(async move {
            // Added after completion: scheduled at once, after the others.
            late.add_done_callback(move |_| done_tx.send(()).unwrap()).unwrap();
            loopwork::yield_now().await;
        });
        done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let expected: Vec<_> = (0..5).map(|i| (i, Ok(3))).collect();
        assert_eq!(*order_after.lock().unwrap(), expected);
    }
}

#[test]
fn a_cancelled_promise_wakes_its_awaiters_with_cancelled() {
    let event_loop = EventLoop::builder().workers(2).build().unwrap();
    let promise = event_loop.handle().create_future::<()>();
    let waiter = event_loop.handle().spawn(promise.clone()).unwrap();
    assert!(promise.cancel());
    assert_eq!(event_loop.block_on(waiter).unwrap(), Err(PromiseError::Cancelled));
}

#[test]
fn five_blocking_jobs_run_at_once_on_five_pool_threads() {
    with_watchdog(Duration::from_secs(20), "five blocking jobs", || {
        let event_loop = EventLoop::builder().workers(2).build().unwrap();
        let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
        // Each job waits for all five to be running: they can only finish if
        // the pool runs them at once (a pool that ran them in turn would
        // hang, and the watchdog would fail the test).
        let all_running = Arc::new(std::sync::Barrier::new(5));
        event_loop.block_on({
            let threads = threads.clone();
            async move {
                let jobs: Vec<_> = (0..5)
                    .map(|i| {
                        let (threads, all_running) = (threads.clone(), all_running.clone());
                        loopwork::run_in_executor(move || {
                            threads.lock().unwrap().insert(std::thread::current().id());
                            all_running.wait();
                            i
                        })
                    })
                    .collect();
                for (i, job) in jobs.into_iter().enumerate() {
                    assert_eq!(job.await.unwrap(), i);
                }
            }
        });
        assert_eq!(threads.lock().unwrap().len(), 5);
    });
}

#[test]
fn a_panic_in_a_blocking_job_is_captured() {
    let event_loop = EventLoop::builder().workers(1).build().unwrap();
    let err = event_loop.block_on(async { loopwork::run_in_executor(|| panic!("blocking failed")).await }).unwrap_err();
    assert_eq!(err.panic_message(), Some("blocking failed"));
}

#[test]
fn two_loops_on_two_threads_share_one_user_pool() {
    let pool = ThreadPool::new(2);
    let ran = Arc::new(AtomicUsize::new(0));
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            let ran = ran.clone();
            std::thread::spawn(move || {
                loopwork::run(async move {
                    for _ in 0..10 {
                        let ran = ran.clone();
                        loopwork::run_in_executor_on(&pool, move || ran.fetch_add(1, Ordering::SeqCst))
                            .unwrap()
                            .await
                            .unwrap();
                    }
                })
            })
        })
        .collect();
    for l in loops {
        l.join().unwrap();
    }
    assert_eq!(ran.load(Ordering::SeqCst), 20);
    assert!(pool.threads() <= 2);
    pool.shutdown(Duration::from_secs(5)).unwrap();
    let refused = loopwork::run(async move { loopwork::run_in_executor_on(&pool, || ()).map(drop) });
    assert_eq!(refused, Err(loopwork::Closed));
}
